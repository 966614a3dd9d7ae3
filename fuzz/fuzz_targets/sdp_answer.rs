//! Arbitrary text as the answer to an offer: `set_remote_description` on
//! an offerer never panics, and whatever it accepts has credentials of
//! legal length and a usable sctp-port; whatever it refuses leaves the
//! offerer able to take a good answer.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use xbase as _;
use xp2p::peer::{PeerConfig, PeerConnection};
use xp2p::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    #[allow(clippy::disallowed_methods)] // no timing depends on it
    let now = Instant::now();
    let cfg = PeerConfig {
        rng_seed: Some(1),
        ..PeerConfig::default()
    };
    let mut pc = PeerConnection::new(cfg, now).unwrap();
    let local: SocketAddr = "10.0.0.1:4000".parse().unwrap();
    pc.add_host_candidate(local);
    pc.create_offer(now).unwrap();
    if pc.set_remote_description(now, &text).is_ok() {
        let d = SessionDescription::decode(&text).unwrap();
        assert!((4..=256).contains(&d.ufrag.len()), "{}", d.ufrag);
        assert!((22..=256).contains(&d.pwd.len()), "{}", d.pwd);
        assert!(d.sctp_port != Some(0));
        assert!(pc.ice().remote_candidates().count() <= 100);
    }
    while pc.poll_transmit().is_some() {}
    while pc.poll_event().is_some() {}
});
