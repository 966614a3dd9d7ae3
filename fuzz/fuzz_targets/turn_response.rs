//! TURN server answers into a TURN client that is allocating: the input is
//! up to four datagrams ([len hi, len lo, bytes…] each); STUN ones get the
//! transaction id of the client's latest request, so 401 challenges,
//! error and success responses, indications and ChannelData all reach the
//! client's logic. Never a panic; the client's books stay sane.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use xp2p::turn::client::{TurnClient, TurnConfig};

fuzz_target!(|data: &[u8]| {
    let server: SocketAddr = "198.51.100.1:3478".parse().unwrap();
    #[allow(clippy::disallowed_methods)] // only a base for the virtual clock
    let mut now = Instant::now();
    let mut cfg = TurnConfig::new(server, "user", "pass");
    cfg.rng_seed = Some(7);
    let mut c = TurnClient::new(cfg);
    c.allocate(now).unwrap();
    let mut txn = [0u8; 12];
    let mut rest = data;
    for _ in 0..4 {
        while let Some(req) = c.poll_transmit() {
            if req.len() >= 20 {
                txn.copy_from_slice(&req[8..20]);
            }
        }
        if rest.len() < 2 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let mut msg = rest[2..2 + len].to_vec();
        rest = &rest[2 + len..];
        if msg.len() >= 20 && msg[0] < 0x40 {
            msg[8..20].copy_from_slice(&txn);
        }
        let _ = c.handle_datagram(now, server, &msg);
        let peer: SocketAddr = "203.0.113.5:5000".parse().unwrap();
        let _ = c.create_permission(now, peer.ip());
        let _ = c.bind_channel(now, peer);
        let _ = c.send_to(now, peer, b"data");
        while c.poll_event().is_some() {}
        now += Duration::from_millis(300);
        c.handle_timeout(now);
    }
    while c.poll_transmit().is_some() {}
    assert!(c.permission_ips().count() <= 64);
});
