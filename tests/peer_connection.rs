//! Real-time tests of two PeerConnections back to back in memory: offer,
//! answer and trickle, DTLS with pinned fingerprints, SCTP and data
//! channels. DTLS and usrsctp read the real clock, so the pair runs on real
//! time in a loop bounded by a deadline, and the tests assert outcomes, not
//! timings.

mod peer_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use peer_support::{fire_timers, now, trickle, Drive, Inbox};
use xp2p::channel::{ChannelError, ChannelId, ChannelState, MessageKind};
use xp2p::peer::{PeerConfig, PeerError, PeerEvent, PeerState};

const A_ADDR: &str = "10.0.0.1:40000";
const B_ADDR: &str = "10.0.0.2:40000";

/// Every message each channel received, in order.
type Messages = HashMap<ChannelId, Vec<(MessageKind, Vec<u8>)>>;

impl Inbox for Messages {
    const KEEPS_MESSAGE_EVENTS: bool = true;

    fn message(&mut self, id: ChannelId, kind: MessageKind, data: Vec<u8>) {
        self.entry(id).or_default().push((kind, data));
    }
}

type Side = peer_support::Side<Messages>;

struct Pair {
    a: Side,
    b: Side,
    /// Drop every datagram (the path died).
    cut: bool,
}

/// Removes candidate lines, so candidates travel by trickle only.
fn strip_candidates(sdp: &str) -> String {
    sdp.split_inclusive("\r\n")
        .filter(|l| !l.starts_with("a=candidate:"))
        .collect()
}

impl Drive for Pair {
    /// One turn: trickle, datagrams both ways, due timers, events.
    fn step(&mut self) -> bool {
        let mut any = self.a.drain() | self.b.drain();
        let t = now();
        any |= trickle(&mut self.a, &mut self.b, t);
        any |= shuttle(&mut self.a, &mut self.b, t, self.cut);
        any |= shuttle(&mut self.b, &mut self.a, t, self.cut);
        any |= fire_timers(&mut self.a, &mut self.b, now());
        any | self.a.drain() | self.b.drain()
    }
}

impl Pair {
    fn new(seed: u64) -> Pair {
        Pair {
            a: Side::new(seed, A_ADDR, PeerConfig::default()),
            b: Side::new(seed + 1, B_ADDR, PeerConfig::default()),
            cut: false,
        }
    }

    /// Offer from `a`, answer from `b`, candidates trickled only (the SDPs
    /// carry none). `tamper` may edit the offer before `b` applies it.
    fn negotiate_with(&mut self, tamper: impl Fn(String) -> String) {
        let t = now();
        let offer = strip_candidates(&self.a.pc.create_offer(t).unwrap());
        self.b.pc.set_remote_description(t, &tamper(offer)).unwrap();
        let answer = strip_candidates(&self.b.pc.create_answer(t).unwrap());
        self.a.pc.set_remote_description(t, &answer).unwrap();
    }

    fn negotiate(&mut self) {
        self.negotiate_with(|s| s);
    }

    /// Runs (at most 10 s) until `a`'s channel `ch` is open and `b` has
    /// announced it as its only channel; returns `b`'s id of it.
    fn wait_open(&mut self, ch: ChannelId) -> ChannelId {
        assert!(self.run_until(Duration::from_secs(10), |p| {
            p.a.opened(ch) && p.b.remote_channels().len() == 1
        }));
        self.b.remote_channels()[0]
    }

    /// Both sides and their state changes, for failure messages.
    fn states(&self) -> String {
        format!(
            "a {:?} {:?}; b {:?} {:?}",
            self.a.pc,
            self.a.state_changes(),
            self.b.pc,
            self.b.state_changes()
        )
    }

    /// Whether both sides are in `state`.
    fn both(&self, state: PeerState) -> bool {
        self.a.pc.state() == state && self.b.pc.state() == state
    }

    fn connect(&mut self) {
        self.negotiate();
        let ok = self.run_until(Duration::from_secs(20), |p| p.both(PeerState::Connected));
        assert!(ok, "not connected: {}", self.states());
    }

    /// Sends on `from`'s side, retrying while the channel reports
    /// back-pressure.
    fn send(&mut self, from_a: bool, id: ChannelId, kind: MessageKind, data: &[u8]) {
        let end = now() + Duration::from_secs(20);
        loop {
            let side = if from_a { &mut self.a } else { &mut self.b };
            match side.pc.send(id, kind, data) {
                Ok(()) => return,
                Err(PeerError::Channel(ChannelError::QueueFull)) if now() < end => {
                    self.step();
                }
                Err(e) => panic!("send of {} bytes failed: {e}", data.len()),
            }
        }
    }
}

/// Every datagram `from` wants sent to `to`'s address.
fn shuttle(from: &mut Side, to: &mut Side, t: Instant, cut: bool) -> bool {
    let mut any = false;
    while let Some(tx) = from.pc.poll_transmit() {
        any = true;
        assert_eq!(tx.local, from.addr);
        if tx.dest == to.addr && !cut {
            to.pc.handle_datagram(t, to.addr, from.addr, &tx.data);
        }
    }
    any
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn text(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i + seed as usize) % 26) as u8)
        .collect()
}

#[test]
fn channel_created_before_connect_opens_and_carries_every_size() {
    let mut p = Pair::new(10);
    let ch_a = p.a.channel("chat");
    assert_eq!(
        p.a.pc.channels().state(ch_a),
        Some(ChannelState::Connecting)
    );
    p.connect();
    assert_eq!(
        p.a.state_changes(),
        vec![PeerState::Connecting, PeerState::Connected]
    );
    assert_eq!(
        p.b.state_changes(),
        vec![PeerState::Connecting, PeerState::Connected]
    );
    assert_eq!(
        p.a.pc
            .dtls()
            .unwrap()
            .remote_fingerprint()
            .unwrap()
            .to_sdp(),
        p.b.pc.local_fingerprint()
    );

    let ch_b = p.wait_open(ch_a);
    let announced = p.b.position(&PeerEvent::DataChannel(ch_b)).unwrap();
    let opened = p.b.position(&PeerEvent::ChannelOpen(ch_b)).unwrap();
    assert!(announced < opened, "DataChannel must precede ChannelOpen");
    assert_eq!(p.b.pc.channels().label(ch_b), Some("chat"));
    // The answerer is the DTLS client (even ids); the offerer's channel
    // took an odd id and the answerer sees the same stream.
    let stream = p.a.pc.channels().stream_id(ch_a).unwrap();
    assert_eq!(stream % 2, 1);
    assert_eq!(p.b.pc.channels().stream_id(ch_b), Some(stream));

    let sizes = [0usize, 1, 1200, 65536, 262_144];
    let mut sent_a = Vec::new();
    let mut sent_b = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        for kind in [MessageKind::Text, MessageKind::Binary] {
            let seed = i as u8;
            let data = match kind {
                MessageKind::Text => text(len, seed),
                MessageKind::Binary => payload(len, seed),
            };
            p.send(true, ch_a, kind, &data);
            sent_a.push((kind, data.clone()));
            let back = data.iter().rev().copied().collect::<Vec<u8>>();
            p.send(false, ch_b, kind, &back);
            sent_b.push((kind, back));
        }
    }
    let n = sent_a.len();
    let done = p.run_until(Duration::from_secs(30), |p| {
        p.b.rx.get(&ch_b).map_or(0, Vec::len) >= n && p.a.rx.get(&ch_a).map_or(0, Vec::len) >= n
    });
    assert!(
        done,
        "not all messages arrived: b got {:?}, a got {:?}; stats a {:?} b {:?}; a {:?}",
        p.b.rx
            .get(&ch_b)
            .map(|m| m.iter().map(|x| x.1.len()).collect::<Vec<_>>()),
        p.a.rx
            .get(&ch_a)
            .map(|m| m.iter().map(|x| x.1.len()).collect::<Vec<_>>()),
        p.a.pc.stats(),
        p.b.pc.stats(),
        p.a.events,
    );
    let got_b = &p.b.rx[&ch_b];
    let got_a = &p.a.rx[&ch_a];
    assert_eq!(got_b.len(), n);
    assert_eq!(got_a.len(), n);
    for (way, got, sent) in [("a→b", got_b, &sent_a), ("b→a", got_a, &sent_b)] {
        for (got, want) in got.iter().zip(sent) {
            assert_eq!(got.0, want.0);
            assert!(
                got.1 == want.1,
                "{way} message of {} bytes differs",
                want.1.len()
            );
        }
    }
    assert!(p.run_until(Duration::from_secs(10), |p| {
        p.a.pc.channels().buffered_amount(ch_a) == 0
    }));

    // Above the peer's a=max-message-size: a clear error, nothing queued.
    let too_big = vec![0u8; 262_145];
    match p.a.pc.send(ch_a, MessageKind::Binary, &too_big) {
        Err(PeerError::Channel(ChannelError::TooLarge { size, max })) => {
            assert_eq!((size, max), (262_145, 262_144));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let stats = p.a.pc.stats();
    assert_eq!(stats.dtls_send_errors, 0, "{stats:?}");
    assert_eq!(stats.ice_send_errors, 0, "{stats:?}");
    assert_eq!(stats.sctp_send_errors, 0, "{stats:?}");
    assert_eq!(p.b.pc.stats(), stats);
}

#[test]
fn both_sides_open_many_channels_at_once() {
    const PER_SIDE: usize = 16;
    let mut p = Pair::new(20);
    // A few before the connection exists, the rest right after it.
    let mut mine_a: Vec<ChannelId> = (0..4).map(|i| p.a.channel(format!("a{i}"))).collect();
    let mut mine_b: Vec<ChannelId> = (0..4).map(|i| p.b.channel(format!("b{i}"))).collect();
    p.connect();
    for i in 4..PER_SIDE {
        mine_a.push(p.a.channel(format!("a{i}")));
        mine_b.push(p.b.channel(format!("b{i}")));
    }
    let ok = p.run_until(Duration::from_secs(15), |p| {
        mine_a.iter().all(|&id| p.a.opened(id))
            && mine_b.iter().all(|&id| p.b.opened(id))
            && p.a.remote_channels().len() == PER_SIDE
            && p.b.remote_channels().len() == PER_SIDE
    });
    assert!(ok, "not every channel opened");
    for (side, mine, parity) in [(&p.a, &mine_a, 1u16), (&p.b, &mine_b, 0u16)] {
        let ch = side.pc.channels();
        let mut streams: Vec<u16> = ch
            .channel_ids()
            .map(|id| ch.stream_id(id).unwrap())
            .collect();
        streams.sort_unstable();
        streams.dedup();
        assert_eq!(streams.len(), 2 * PER_SIDE, "stream id collision");
        for &id in mine {
            assert_eq!(ch.stream_id(id).unwrap() % 2, parity);
            assert_eq!(ch.state(id), Some(ChannelState::Open));
        }
        for id in side.remote_channels() {
            assert!(side.opened(id));
            assert_eq!(ch.state(id), Some(ChannelState::Open));
        }
    }
    // Same stream → same label on both sides; a message on each channel
    // reaches the channel of that label.
    for &id in &mine_a {
        let label = p.a.pc.channels().label(id).unwrap().to_string();
        p.send(true, id, MessageKind::Text, label.as_bytes());
    }
    for &id in &mine_b {
        let label = p.b.pc.channels().label(id).unwrap().to_string();
        p.send(false, id, MessageKind::Text, label.as_bytes());
    }
    let ok = p.run_until(Duration::from_secs(15), |p| {
        p.a.rx.len() == PER_SIDE && p.b.rx.len() == PER_SIDE
    });
    assert!(ok, "not every channel delivered");
    for side in [&p.a, &p.b] {
        for (id, msgs) in &side.rx {
            let label = side.pc.channels().label(*id).unwrap();
            assert_eq!(msgs, &vec![(MessageKind::Text, label.as_bytes().to_vec())]);
        }
    }
}

#[test]
fn channel_close_from_either_side_reaches_both() {
    let mut p = Pair::new(30);
    p.connect();
    let x = p.a.channel("x");
    let y = p.a.channel("y");
    assert!(p.run_until(Duration::from_secs(10), |p| {
        p.a.opened(x) && p.a.opened(y) && p.b.remote_channels().len() == 2
    }));
    let remote = p.b.remote_channels();
    let by_label = |label: &str| {
        *remote
            .iter()
            .find(|&&id| p.b.pc.channels().label(id) == Some(label))
            .unwrap()
    };
    let (bx, by) = (by_label("x"), by_label("y"));

    // x: a message then close by its creator; the message is not lost.
    p.a.pc.send(x, MessageKind::Text, b"last words").unwrap();
    p.a.pc.close_channel(x);
    // y: closed by the side that did not create it.
    p.b.pc.close_channel(by);
    let ok = p.run_until(Duration::from_secs(10), |p| {
        p.a.has(&PeerEvent::ChannelClosed(x))
            && p.b.has(&PeerEvent::ChannelClosed(bx))
            && p.a.has(&PeerEvent::ChannelClosed(y))
            && p.b.has(&PeerEvent::ChannelClosed(by))
    });
    assert!(ok, "a: {:?}\nb: {:?}", p.a.events, p.b.events);
    assert_eq!(
        p.b.rx.get(&bx),
        Some(&vec![(MessageKind::Text, b"last words".to_vec())])
    );
    assert!(matches!(
        p.a.pc.send(x, MessageKind::Text, b"late"),
        Err(PeerError::Channel(ChannelError::NotOpen(_)))
    ));
    // The connection itself stays up, and a new channel reuses nothing.
    assert_eq!(p.a.pc.state(), PeerState::Connected);
    let z = p.b.channel("z");
    assert!(p.run_until(Duration::from_secs(10), |p| p.b.opened(z)));
}

#[test]
fn a_peer_aborting_its_association_is_closed_not_failed() {
    let mut p = Pair::new(44);
    let ch = p.a.channel("c");
    p.connect();
    assert!(p.run_until(Duration::from_secs(10), |p| p.a.opened(ch)));
    p.b.pc.close();
    // Deliver what b sent except its DTLS alert (close_notify, record type
    // 21): a learns of the end from the SCTP ABORT alone, as with peers
    // that abort SCTP and never send close_notify.
    let mut delivered = 0;
    while let Some(tx) = p.b.pc.poll_transmit() {
        if tx.data.first() != Some(&21) {
            delivered += 1;
            p.a.pc.handle_datagram(now(), p.a.addr, p.b.addr, &tx.data);
        }
    }
    assert!(delivered > 0, "b sent its ABORT");
    let ok = p.run_until(Duration::from_secs(10), |p| {
        p.a.pc.state() == PeerState::Closed && p.a.has(&PeerEvent::ChannelClosed(ch))
    });
    assert!(ok, "a: {:?} {:?}", p.a.pc, p.a.events);
    assert_eq!(
        p.a.state_changes(),
        vec![
            PeerState::Connecting,
            PeerState::Connected,
            PeerState::Closed
        ]
    );
    assert!(
        !p.a.events
            .iter()
            .any(|e| matches!(e, PeerEvent::ChannelError(..))),
        "{:?}",
        p.a.events
    );
}

#[test]
fn closing_the_connection_closes_both_sides() {
    let mut p = Pair::new(40);
    let ch = p.a.channel("c");
    p.connect();
    let remote = p.wait_open(ch);
    p.b.pc.close();
    assert_eq!(p.b.pc.state(), PeerState::Closed);
    let ok = p.run_until(Duration::from_secs(10), |p| {
        p.a.pc.state() == PeerState::Closed
            && p.a.has(&PeerEvent::ChannelClosed(ch))
            && p.b.has(&PeerEvent::ChannelClosed(remote))
    });
    assert!(ok, "a: {:?}\nb: {:?}", p.a.events, p.b.events);
    for side in [&p.a, &p.b] {
        assert_eq!(
            side.state_changes(),
            vec![
                PeerState::Connecting,
                PeerState::Connected,
                PeerState::Closed
            ]
        );
        assert!(
            !side
                .events
                .iter()
                .any(|e| matches!(e, PeerEvent::ChannelError(..))),
            "{:?}",
            side.events
        );
    }
    assert!(p.a.pc.send(ch, MessageKind::Text, b"x").is_err());
}

#[test]
fn wrong_fingerprint_fails_and_nothing_passes() {
    let mut p = Pair::new(50);
    let ch = p.a.channel("secret");
    // The answerer pins a fingerprint that is not the offerer's.
    let real = p.a.pc.local_fingerprint();
    let first_hex = real.as_bytes()["sha-256 ".len()];
    let swapped = if first_hex == b'0' { "1" } else { "0" };
    let fake = format!("sha-256 {swapped}{}", &real["sha-256 ".len() + 1..]);
    assert_ne!(fake, real);
    p.negotiate_with(|offer| offer.replace(&real, &fake));
    let failed = p.run_until(Duration::from_secs(20), |p| {
        p.a.pc.state().is_terminal() && p.b.pc.state().is_terminal()
    });
    let any_failed = p.a.pc.state() == PeerState::Failed || p.b.pc.state() == PeerState::Failed;
    assert!(any_failed, "terminal both: {failed}; {}", p.states());
    // Let anything still in flight settle; nothing may open or arrive.
    p.run_for(Duration::from_millis(300));
    for side in [&p.a, &p.b] {
        assert!(
            !side.state_changes().contains(&PeerState::Connected),
            "{:?}",
            side.events
        );
        for e in &side.events {
            assert!(
                !matches!(
                    e,
                    PeerEvent::ChannelOpen(_)
                        | PeerEvent::DataChannel(_)
                        | PeerEvent::ChannelMessage(_)
                ),
                "{e:?}"
            );
        }
        assert!(side.rx.is_empty());
    }
    assert!(p.a.pc.send(ch, MessageKind::Text, b"x").is_err());
    assert!(p.b.pc.state() == PeerState::Failed);
}

#[test]
fn consent_loss_disconnects_then_fails() {
    // Short consent timings so the test takes about two seconds.
    let mut base = PeerConfig::default();
    base.ice.consent_interval = Duration::from_millis(100);
    base.ice.consent_stale = Duration::from_millis(300);
    base.ice.consent_timeout = Duration::from_millis(1500);
    let mut p = Pair {
        a: Side::new(60, A_ADDR, base.clone()),
        b: Side::new(61, B_ADDR, base),
        cut: false,
    };
    let ch = p.a.channel("c");
    p.connect();
    assert!(p.run_until(Duration::from_secs(10), |p| p.a.opened(ch)));

    p.cut = true;
    assert!(p.run_until(Duration::from_secs(5), |p| {
        p.both(PeerState::Disconnected)
    }));
    p.cut = false;
    assert!(p.run_until(Duration::from_secs(5), |p| p.both(PeerState::Connected)));
    // The channel survived the outage.
    p.send(true, ch, MessageKind::Text, b"still here");
    assert!(p.run_until(Duration::from_secs(5), |p| !p.b.rx.is_empty()));

    p.cut = true;
    assert!(p.run_until(Duration::from_secs(10), |p| p.both(PeerState::Failed)));
    for side in [&p.a, &p.b] {
        assert_eq!(
            side.state_changes(),
            vec![
                PeerState::Connecting,
                PeerState::Connected,
                PeerState::Disconnected,
                PeerState::Connected,
                PeerState::Disconnected,
                PeerState::Failed
            ]
        );
    }
    assert!(p.a.has(&PeerEvent::ChannelClosed(ch)));
    assert!(p
        .a
        .has(&PeerEvent::ChannelError(ch, ChannelError::AssociationLost)));
}

#[test]
fn a_burst_of_small_messages_leaves_in_bundled_packets() {
    let mut p = Pair::new(40);
    let ch_a = p.a.channel("burst");
    p.connect();
    let ch_b = p.wait_open(ch_a);
    // Let the opening exchange settle, then count what a burst costs.
    p.run_for(Duration::from_millis(300));
    const COUNT: usize = 200;
    for i in 0..COUNT {
        p.send(true, ch_a, MessageKind::Binary, &payload(100, i as u8));
    }
    // Queued sends wait for no timer: the next drain of transmits takes
    // them, all together.
    let mut datagrams = 0;
    let t = now();
    while let Some(tx) = p.a.pc.poll_transmit() {
        datagrams += 1;
        p.b.pc.handle_datagram(t, p.b.addr, p.a.addr, &tx.data);
    }
    assert!(datagrams > 0, "queued small sends wait for a timer");
    let end = now() + Duration::from_secs(10);
    while p.b.rx.get(&ch_b).map_or(0, Vec::len) < COUNT && now() < end {
        let t = now();
        if p.a.pc.poll_timeout().is_some_and(|d| d <= t) {
            p.a.pc.handle_timeout(t);
        }
        while let Some(tx) = p.a.pc.poll_transmit() {
            datagrams += 1;
            p.b.pc.handle_datagram(t, p.b.addr, p.a.addr, &tx.data);
        }
        shuttle(&mut p.b, &mut p.a, t, false);
        if p.b.pc.poll_timeout().is_some_and(|d| d <= t) {
            p.b.pc.handle_timeout(t);
        }
        p.a.drain();
        p.b.drain();
    }
    let got = &p.b.rx[&ch_b];
    assert_eq!(got.len(), COUNT);
    for (i, (kind, data)) in got.iter().enumerate() {
        assert_eq!(*kind, MessageKind::Binary);
        assert_eq!(*data, payload(100, i as u8), "message {i}");
    }
    // About ten 100-byte messages fit a 1200-byte datagram; one datagram
    // per message would be 200.
    assert!(
        datagrams <= COUNT / 4,
        "{datagrams} datagrams carried {COUNT} small messages"
    );
}
