//! The logging facade (`xp2p::logging`) with a capturing sink, and the
//! counters behind the statistics, on two PeerConnections back to back in
//! memory (real time: DTLS and usrsctp read the real clock; outcomes are
//! asserted, not timings). One test: the sink and filter are process-wide.

mod peer_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{Level, LevelFilter};
use peer_support::{fire_timers, now, trickle, Drive, Inbox};
use xp2p::channel::{ChannelId, MessageKind};
use xp2p::logging;
use xp2p::peer::{PeerConfig, PeerState};

type Records = Arc<Mutex<Vec<(Level, String, String)>>>;

#[derive(Default)]
struct Count(usize, usize);

impl Inbox for Count {
    const KEEPS_MESSAGE_EVENTS: bool = false;

    fn message(&mut self, _id: ChannelId, _kind: MessageKind, data: Vec<u8>) {
        self.0 += 1;
        self.1 += data.len();
    }
}

type Side = peer_support::Side<Count>;

struct Pair {
    a: Side,
    b: Side,
}

impl Drive for Pair {
    fn step(&mut self) -> bool {
        let mut any = self.a.drain() | self.b.drain();
        let t = now();
        any |= trickle(&mut self.a, &mut self.b, t);
        any |= shuttle(&mut self.a, &mut self.b, t);
        any |= shuttle(&mut self.b, &mut self.a, t);
        any |= fire_timers(&mut self.a, &mut self.b, now());
        any | self.a.drain() | self.b.drain()
    }
}

fn shuttle(from: &mut Side, to: &mut Side, t: Instant) -> bool {
    let mut any = false;
    while let Some(tx) = from.pc.poll_transmit() {
        any = true;
        if tx.dest == to.addr {
            to.pc.handle_datagram(t, to.addr, from.addr, &tx.data);
        }
    }
    any
}

impl Pair {
    fn new(seed: u64) -> Pair {
        Pair {
            a: Side::new(seed, "10.0.0.1:40000", PeerConfig::default()),
            b: Side::new(seed + 1, "10.0.0.2:40000", PeerConfig::default()),
        }
    }

    fn negotiate_with(&mut self, tamper: impl Fn(String) -> String) {
        let t = now();
        let offer = self.a.pc.create_offer(t).unwrap();
        self.b.pc.set_remote_description(t, &tamper(offer)).unwrap();
        let answer = self.b.pc.create_answer(t).unwrap();
        self.a.pc.set_remote_description(t, &answer).unwrap();
    }
}

fn take(records: &Records) -> Vec<(Level, String, String)> {
    std::mem::take(&mut *records.lock().unwrap())
}

fn any(recs: &[(Level, String, String)], level: Level, comp: &str, needle: &str) -> bool {
    recs.iter()
        .any(|(l, c, m)| *l == level && c == comp && m.contains(needle))
}

#[test]
fn records_reach_the_sink_filtered_and_counters_match_a_transfer() {
    let records: Records = Arc::default();
    let r = records.clone();
    logging::set_sink(Some(Arc::new(move |l: Level, c: &str, m: &str| {
        r.lock().unwrap().push((l, c.to_string(), m.to_string()));
    })));

    // Off: nothing, not even for a whole connection.
    logging::set_level(LevelFilter::Off);
    let mut p = Pair::new(70);
    let ch = p.a.channel("log");
    p.negotiate_with(|s| s);
    assert!(p.run_until(Duration::from_secs(20), |p| p.a.opened(ch)
        && p.b.pc.state() == PeerState::Connected));
    assert!(take(&records).is_empty());

    // Debug: a known transfer; the counters against the truth.
    logging::set_filter("debug").unwrap();
    let msg = vec![7u8; 1000];
    for _ in 0..100 {
        p.a.pc.send(ch, MessageKind::Binary, &msg).unwrap();
        p.step();
    }
    assert!(p.run_until(Duration::from_secs(20), |p| p.b.rx.0 == 100));
    assert_eq!(p.b.rx.1, 100_000);
    let a_ice = p.a.pc.ice().stats();
    let b_ice = p.b.pc.ice().stats();
    // Everything A sent went straight to B (nothing is lost in memory).
    assert_eq!(a_ice.datagrams_sent, b_ice.datagrams_received);
    assert_eq!(a_ice.bytes_sent, b_ice.bytes_received);
    assert!(a_ice.bytes_sent > 100_000);
    let t = p.a.pc.channels().traffic(ch).unwrap();
    assert_eq!((t.messages_sent, t.bytes_sent), (100, 100_000));
    assert!(p.a.pc.ice().selected_rtt().is_some());
    assert!(p.a.pc.ice().selected_relay().is_none());
    let sctp = p.a.pc.sctp().unwrap().stats();
    assert!(sctp.cwnd > 0 && sctp.mtu > 0 && sctp.peer_rwnd > 0);
    assert_eq!(p.a.pc.channels().open_channels(), 1);

    // Input from nowhere is dropped, counted and logged at debug.
    let before = p.b.pc.ice().stats().dropped_unknown_source;
    let stranger = "10.9.9.9:9".parse().unwrap();
    p.b.pc
        .handle_datagram(now(), p.b.addr, stranger, &[23, 0xfe, 0xfd, 0, 0]);
    assert_eq!(p.b.pc.ice().stats().dropped_unknown_source, before + 1);
    let recs = take(&records);
    assert!(
        any(&recs, Level::Debug, "ice", "from 10.9.9.9:9"),
        "{recs:?}"
    );
    // Nothing per packet at info or above while data flowed.
    assert!(!recs.iter().any(|(l, _, _)| *l <= Level::Info), "{recs:?}");

    // Component filter: only dtls, at info, for a failing handshake whose
    // record carries both fingerprints.
    logging::set_filter("dtls=info").unwrap();
    let mut q = Pair::new(80);
    q.a.channel("x");
    let real = q.a.pc.local_fingerprint();
    let swapped = if real.as_bytes()[8] == b'0' { "1" } else { "0" };
    let fake = format!("sha-256 {swapped}{}", &real[9..]);
    q.negotiate_with(|offer| offer.replace(&real, &fake));
    assert!(q.run_until(Duration::from_secs(20), |q| q.b.pc.state()
        == PeerState::Failed));
    q.run_until(Duration::from_millis(200), |_| false);
    let recs = take(&records);
    assert!(
        recs.iter()
            .all(|(l, c, _)| c == "dtls" && *l <= Level::Info),
        "{recs:?}"
    );
    let mismatch = recs
        .iter()
        .find(|(l, _, m)| *l == Level::Error && m.contains("does not match"))
        .expect("mismatch logged");
    assert!(
        mismatch.2.contains(&real) && mismatch.2.contains(&fake),
        "{mismatch:?}"
    );

    // Info everywhere: the state changes with their cause.
    logging::set_filter("info").unwrap();
    p.a.pc.close();
    p.run_until(Duration::from_millis(300), |p| {
        p.b.pc.state() == PeerState::Closed
    });
    let recs = take(&records);
    assert!(
        any(&recs, Level::Info, "pc", "Connected -> Closed"),
        "{recs:?}"
    );
    assert!(!recs.iter().any(|(l, _, _)| *l > Level::Info), "{recs:?}");

    logging::set_level(LevelFilter::Off);
    logging::set_sink(None);
}
