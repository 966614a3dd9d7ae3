//! Malformed and hostile input into DTLS sessions: garbage, truncated and
//! replayed records, and proptest-generated datagrams, into sessions that
//! are waiting, mid-handshake and connected. Nothing panics; a connected
//! session stays connected and keeps working; a connecting one stays
//! connecting or fails.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use xp2p::dtls::{Certificate, DtlsConfig, DtlsRole, DtlsSession, DtlsState};

/// The one real instant the virtual time here starts from.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    #[allow(clippy::disallowed_methods)]
    *BASE.get_or_init(Instant::now)
}

fn certs() -> &'static (Certificate, Certificate) {
    static CERTS: OnceLock<(Certificate, Certificate)> = OnceLock::new();
    CERTS.get_or_init(|| {
        (
            Certificate::generate().unwrap(),
            Certificate::generate().unwrap(),
        )
    })
}

fn pair() -> (DtlsSession, DtlsSession) {
    let (ca, cb) = certs();
    let mut c = DtlsConfig::new(DtlsRole::Client, ca.clone());
    c.remote_fingerprint = Some(cb.fingerprint());
    let mut s = DtlsConfig::new(DtlsRole::Server, cb.clone());
    s.remote_fingerprint = Some(ca.fingerprint());
    (DtlsSession::new(c).unwrap(), DtlsSession::new(s).unwrap())
}

/// Moves every queued datagram from `from` into `to`; returns them.
fn shuttle(now: Instant, from: &mut DtlsSession, to: &mut DtlsSession) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    while let Some(d) = from.poll_transmit() {
        to.handle_datagram(now, &d);
        all.push(d);
    }
    all
}

/// A connected client/server pair and every handshake datagram (client's,
/// then server's).
fn connected() -> (DtlsSession, DtlsSession, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut c, mut s) = pair();
    let now = base();
    s.start(now).unwrap();
    c.start(now).unwrap();
    let (mut from_c, mut from_s) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        from_c.extend(shuttle(now, &mut c, &mut s));
        from_s.extend(shuttle(now, &mut s, &mut c));
    }
    assert_eq!(c.state(), DtlsState::Connected);
    assert_eq!(s.state(), DtlsState::Connected);
    while c.poll_event().is_some() {}
    while s.poll_event().is_some() {}
    (c, s, from_c, from_s)
}

/// Data still flows both ways.
fn assert_works(c: &mut DtlsSession, s: &mut DtlsSession) {
    let now = base() + Duration::from_millis(5);
    assert_eq!(c.state(), DtlsState::Connected);
    assert_eq!(s.state(), DtlsState::Connected);
    while c.recv_vec().is_some() {}
    while s.recv_vec().is_some() {}
    c.send(b"ping").unwrap();
    shuttle(now, c, s);
    assert_eq!(s.recv_vec().as_deref(), Some(&b"ping"[..]));
    s.send(b"pong").unwrap();
    shuttle(now, s, c);
    assert_eq!(c.recv_vec().as_deref(), Some(&b"pong"[..]));
}

fn record(ct: u8, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ct, 0xfe, 0xfd];
    v.extend_from_slice(&epoch.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes()[2..]);
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn garbage_set(handshake: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut g: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![22],
        vec![0xff; 1200],
        vec![0x16; 13],
        b"\x00\x01\x00\x00STUN-ish".to_vec(),
        // Header claims more than is there.
        {
            let mut r = record(22, 0, 9, &[1, 2, 3]);
            r[12] = 200;
            r
        },
        // Well framed, nonsense bodies, each content type and epoch.
        record(22, 0, 100, &[1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, 9, 9, 9]),
        record(22, 0, 101, &[0xff; 40]),
        record(20, 0, 102, &[1]),
        record(20, 1, 103, &[7, 7]),
        record(21, 0, 104, &[2, 40]),
        record(21, 1, 105, &[2, 40, 1, 2, 3, 4, 5, 6, 7, 8]),
        record(23, 0, 106, b"plaintext is not accepted"),
        record(23, 1, 107, &[0u8; 64]),
        record(23, 1, 108, &[]),
        record(22, 1, 109, &[0x33; 100]),
        record(23, 2, 1, &[0x44; 100]),
        // Maximum declared length.
        record(23, 1, 110, &vec![0x55; 18_432]),
    ];
    for h in handshake {
        // Truncations, bit flips and replays of real handshake datagrams.
        g.push(h[..h.len() / 2].to_vec());
        let mut flipped = h.clone();
        let i = flipped.len() - 1;
        flipped[i] ^= 0x80;
        g.push(flipped);
        g.push(h.clone());
    }
    g
}

#[test]
fn garbage_into_connected_sessions() {
    let (mut c, mut s, from_c, from_s) = connected();
    let now = base() + Duration::from_millis(1);
    for g in garbage_set(&from_s) {
        c.handle_datagram(now, &g);
        // Anything the client answers (e.g. its last flight again on a
        // replayed server Finished) goes to the server.
        shuttle(now, &mut c, &mut s);
    }
    for g in garbage_set(&from_c) {
        s.handle_datagram(now, &g);
        shuttle(now, &mut s, &mut c);
    }
    assert!(c.stats().malformed >= 4);
    assert!(s.stats().malformed >= 4);
    assert_eq!(c.stats().messages_received, 0);
    assert_eq!(s.stats().messages_received, 0);
    assert_works(&mut c, &mut s);
}

/// A protected record shorter than the AEAD nonce and tag makes OpenSSL
/// raise a fatal error instead of discarding it; the session must drop it
/// first, or one forged datagram would end the connection.
#[test]
fn short_protected_records_do_not_kill_the_connection() {
    let (mut c, mut s, _, _) = connected();
    let now = base() + Duration::from_millis(1);
    for ct in 20..=23u8 {
        for len in 1..24 {
            let r = record(
                ct,
                1,
                1000 + u64::from(ct) * 100 + len as u64,
                &vec![0x5c; len],
            );
            c.handle_datagram(now, &r);
            s.handle_datagram(now, &r);
        }
    }
    assert_eq!(c.stats().malformed, 4 * 23);
    assert_works(&mut c, &mut s);
}

#[test]
fn garbage_into_waiting_server() {
    let (_, handshake_c, _) = {
        let (c, _, from_c, from_s) = connected();
        (c, from_c, from_s)
    };
    for g in garbage_set(&handshake_c) {
        let (_, mut s) = pair();
        s.start(base()).unwrap();
        s.handle_datagram(base(), &g);
        assert!(
            matches!(s.state(), DtlsState::Connecting | DtlsState::Failed),
            "{:?}",
            s.state()
        );
        while s.poll_transmit().is_some() {}
        assert!(s.recv_vec().is_none());
    }
}

#[test]
fn garbage_into_client_mid_handshake_then_connects() {
    // Framing garbage (dropped before OpenSSL) leaves the handshake intact.
    let (mut c, mut s) = pair();
    let now = base();
    s.start(now).unwrap();
    c.start(now).unwrap();
    for g in [
        vec![],
        vec![0x42; 50],
        vec![0x16; 12],
        vec![0x17, 0x03, 0x03, 0, 1, 0],
    ] {
        c.handle_datagram(now, &g);
        s.handle_datagram(now, &g);
    }
    assert_eq!(c.stats().malformed, 4);
    assert_eq!(s.stats().malformed, 4);
    for _ in 0..10 {
        shuttle(now, &mut c, &mut s);
        shuttle(now, &mut s, &mut c);
    }
    assert_works(&mut c, &mut s);
}

#[test]
fn input_after_failure_or_close_is_ignored() {
    let (mut c, mut s, _, from_s) = connected();
    c.close();
    let now = base() + Duration::from_millis(1);
    for d in &from_s {
        c.handle_datagram(now, d);
    }
    assert_eq!(c.state(), DtlsState::Closed);
    assert_eq!(c.stats().ignored, from_s.len() as u64);
    shuttle(now, &mut c, &mut s);
    assert_eq!(s.state(), DtlsState::Closed);
}

/// Random bytes, or random bodies inside a valid record header.
fn datagram() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1400),
        (
            20u8..=23,
            0u16..3,
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..600)
        )
            .prop_map(|(ct, epoch, seq, body)| record(
                ct,
                epoch,
                seq & 0xffff_ffff_ffff,
                &body
            )),
        // Handshake-looking bodies: msg type, length, seq, fragment fields.
        (
            0u8..=20,
            0u16..2,
            proptest::collection::vec(any::<u8>(), 12..300)
        )
            .prop_map(|(ty, epoch, mut body)| {
                body[0] = ty;
                record(22, epoch, 5, &body)
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_datagrams_into_connected(dgrams in proptest::collection::vec(datagram(), 1..6)) {
        let (mut c, mut s, _, _) = connected();
        let now = base() + Duration::from_millis(1);
        for d in &dgrams {
            c.handle_datagram(now, d);
            s.handle_datagram(now, d);
            while c.poll_transmit().is_some() {}
            while s.poll_transmit().is_some() {}
        }
        prop_assert_eq!(c.stats().messages_received, 0);
        prop_assert_eq!(s.stats().messages_received, 0);
        assert_works(&mut c, &mut s);
    }

    #[test]
    fn random_datagrams_into_connecting(dgrams in proptest::collection::vec(datagram(), 1..6)) {
        let (mut c, mut s) = pair();
        let now = base();
        s.start(now).unwrap();
        c.start(now).unwrap();
        // The server has the ClientHello; the client waits for its answer.
        shuttle(now, &mut c, &mut s);
        for d in &dgrams {
            c.handle_datagram(now, d);
            s.handle_datagram(now, d);
            for x in [&c, &s] {
                prop_assert!(matches!(x.state(), DtlsState::Connecting | DtlsState::Failed));
                prop_assert_eq!(x.stats().messages_received, 0);
            }
        }
        c.handle_timeout(now + Duration::from_secs(20));
        s.handle_timeout(now + Duration::from_secs(20));
        prop_assert_eq!(c.state(), DtlsState::Failed);
        prop_assert_eq!(s.state(), DtlsState::Failed);
    }
}
