//! Real-time DTLS tests: OpenSSL's handshake retransmission timer reads the
//! real clock, so these drive two sessions with real time and short
//! timeouts. Every test here is named `realtime_*`; they take a couple of
//! seconds, and assert no upper bound on time (only hang guards).

use std::thread::sleep;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use xp2p::dtls::{
    Certificate, DtlsConfig, DtlsEvent, DtlsFailure, DtlsRole, DtlsSession, DtlsState,
};

/// The real clock, for these real-time tests only.
#[allow(clippy::disallowed_methods)]
fn real_now() -> Instant {
    Instant::now()
}

fn session(role: DtlsRole, own: &Certificate, peer: &Certificate) -> DtlsSession {
    let mut cfg = DtlsConfig::new(role, own.clone());
    cfg.remote_fingerprint = Some(peer.fingerprint());
    cfg.retransmit_initial = Duration::from_millis(40);
    // Generous: a busy machine slows the shuttle loop, and the test is
    // about retransmission, not speed.
    cfg.handshake_timeout = Duration::from_secs(60);
    DtlsSession::new(cfg).unwrap()
}

fn drain_events(s: &mut DtlsSession, log: &mut Vec<DtlsEvent>) {
    while let Some(e) = s.poll_event() {
        log.push(e);
    }
}

/// Moves datagrams from `from` to `to`, losing each with probability
/// `loss`; returns how many were sent.
fn shuttle(
    now: Instant,
    from: &mut DtlsSession,
    to: &mut DtlsSession,
    rng: &mut StdRng,
    loss: f64,
) -> usize {
    let mut n = 0;
    while let Some(d) = from.poll_transmit() {
        n += 1;
        assert!(d.len() <= from.mtu());
        if !rng.gen_bool(loss) {
            to.handle_datagram(now, &d);
        }
    }
    n
}

fn fire_timer(now: Instant, s: &mut DtlsSession) {
    if s.poll_timeout().is_some_and(|t| t <= now) {
        s.handle_timeout(now);
    }
}

/// Handshake over a link losing `loss` of the datagrams each way; returns
/// the time it took.
fn lossy_handshake(seed: u64, loss: f64) -> Duration {
    let ca = Certificate::generate().unwrap();
    let cb = Certificate::generate().unwrap();
    let mut c = session(DtlsRole::Client, &ca, &cb);
    let mut s = session(DtlsRole::Server, &cb, &ca);
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut ce, mut se) = (Vec::new(), Vec::new());
    let t0 = real_now();
    s.start(t0).unwrap();
    c.start(t0).unwrap();
    loop {
        let now = real_now();
        shuttle(now, &mut c, &mut s, &mut rng, loss);
        shuttle(now, &mut s, &mut c, &mut rng, loss);
        fire_timer(now, &mut c);
        fire_timer(now, &mut s);
        drain_events(&mut c, &mut ce);
        drain_events(&mut s, &mut se);
        if c.state() == DtlsState::Connected && s.state() == DtlsState::Connected {
            break;
        }
        assert!(
            c.state() != DtlsState::Failed && s.state() != DtlsState::Failed,
            "seed {seed}: client {ce:?} server {se:?}"
        );
        assert!(now - t0 < Duration::from_secs(90), "seed {seed}: hung");
        sleep(Duration::from_millis(2));
    }
    let took = real_now() - t0;

    // Data flows afterwards over the same lossy link: some messages arrive,
    // none corrupted.
    let mut sent = Vec::new();
    for i in 0..40u32 {
        let m = i.to_be_bytes().repeat(50);
        c.send(&m).unwrap();
        sent.push(m);
    }
    let now = real_now();
    shuttle(now, &mut c, &mut s, &mut rng, loss);
    let mut got = Vec::new();
    while let Some(m) = s.recv_vec() {
        got.push(m);
    }
    assert!(!got.is_empty());
    assert!(got.iter().all(|m| sent.contains(m)));
    assert_eq!(c.remote_fingerprint(), Some(cb.fingerprint()));
    assert_eq!(s.remote_fingerprint(), Some(ca.fingerprint()));
    took
}

#[test]
fn realtime_handshake_under_loss() {
    let mut retransmitted = false;
    for seed in 1..=4 {
        let took = lossy_handshake(seed, 0.25);
        retransmitted |= took >= Duration::from_millis(40);
    }
    assert!(retransmitted, "25% loss never needed a retransmission");
}

#[test]
fn realtime_handshake_timeout_when_peer_silent() {
    let ca = Certificate::generate().unwrap();
    let mut cfg = DtlsConfig::new(DtlsRole::Client, ca);
    cfg.handshake_timeout = Duration::from_millis(300);
    cfg.retransmit_initial = Duration::from_millis(50);
    let mut c = DtlsSession::new(cfg).unwrap();
    let t0 = real_now();
    c.start(t0).unwrap();
    let mut hellos = 0u64;
    let mut events = Vec::new();
    let failed_at = loop {
        let now = real_now();
        while let Some(d) = c.poll_transmit() {
            assert_eq!(d[0], 22, "only handshake records");
            hellos += 1;
        }
        fire_timer(now, &mut c);
        drain_events(&mut c, &mut events);
        if c.state() == DtlsState::Failed {
            break now;
        }
        assert!(now - t0 < Duration::from_secs(60), "no timeout");
        // Sleep up to the session's next deadline, in small steps.
        let next = c.poll_timeout().expect("a deadline while connecting");
        sleep(
            next.saturating_duration_since(now)
                .min(Duration::from_millis(5)),
        );
    };
    assert_eq!(
        events,
        vec![DtlsEvent::Failed(DtlsFailure::HandshakeTimeout)]
    );
    let took = failed_at - t0;
    // Not before the configured timeout (how soon after is for benchmarks).
    assert!(took >= Duration::from_millis(300), "{took:?}");
    // Retransmissions at about 50 and 150 ms (the timer doubles).
    assert!(hellos >= 3, "ClientHello sent {hellos} times");
    assert_eq!(c.stats().retransmits, hellos - 1);
    assert!(c.poll_timeout().is_none());
    assert!(c.poll_transmit().is_none());
}
