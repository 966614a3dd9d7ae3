//! A whole datagram into a connected sans-IO PeerConnection, as the peer
//! (authenticated source) or as a stranger: STUN, DTLS records, TURN
//! framing, garbage. Never a panic; the connection may fail or close (the
//! pair is rebuilt), and a datagram from a stranger changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xbase as _;

#[path = "../common/pair.rs"]
mod pair;

use pair::{addr, with_pair, A, B};

fuzz_target!(|data: &[u8]| {
    let Some((&how, datagram)) = data.split_first() else {
        return;
    };
    with_pair(|p| {
        let now = p.now;
        match how % 3 {
            0 => p.a.handle_datagram(now, addr(A), addr(B), datagram),
            1 => p.b.handle_datagram(now, addr(B), addr(A), datagram),
            _ => {
                p.a.handle_datagram(now, addr(A), addr("192.0.2.66:9"), datagram);
                p.settle();
                assert_eq!(p.a.state(), xp2p::peer::PeerState::Connected);
            }
        }
        p.settle();
        p.ping();
    });
});
