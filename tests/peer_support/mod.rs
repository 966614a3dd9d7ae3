//! Helpers shared by the real-time PeerConnection tests.

use std::net::SocketAddr;
use std::time::Instant;

use xp2p::peer::{PeerConfig, PeerConnection};

#[allow(clippy::disallowed_methods)] // real-time tests: DTLS and usrsctp read the real clock
pub fn now() -> Instant {
    Instant::now()
}

/// A PeerConnection with a fixed RNG seed and one host candidate at `addr`.
pub fn host_pc(seed: u64, addr: &str) -> (PeerConnection, SocketAddr) {
    let addr: SocketAddr = addr.parse().unwrap();
    let cfg = PeerConfig {
        rng_seed: Some(seed),
        ..PeerConfig::default()
    };
    let mut pc = PeerConnection::new(cfg, now()).unwrap();
    pc.add_host_candidate(addr);
    (pc, addr)
}
