//! Real-time tests of the usrsctp association: two associations wired back
//! to back in memory, with optional seeded loss or a black hole. usrsctp
//! reads the real clock, so every scenario runs on real time, bounded by a
//! deadline, and asserts only outcomes that do not depend on timing.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use xp2p::sctp::{
    Reliability, ResetDirection, SctpAssociation, SctpConfig, SctpError, SctpEvent,
    DEFAULT_MAX_MESSAGE_SIZE,
};

#[allow(clippy::disallowed_methods)] // real-time tests: usrsctp reads the real clock
fn now() -> Instant {
    Instant::now()
}

/// One direction of the in-memory link.
struct Link {
    loss: f64,
    rng: StdRng,
    /// Drop everything (the peer vanished).
    blackhole: bool,
    delivered: usize,
    dropped: usize,
}

impl Link {
    fn new(loss: f64, seed: u64) -> Self {
        Link {
            loss,
            rng: StdRng::seed_from_u64(seed),
            blackhole: false,
            delivered: 0,
            dropped: 0,
        }
    }

    fn passes(&mut self) -> bool {
        let lost = self.loss > 0.0 && self.rng.gen_bool(self.loss);
        let keep = !self.blackhole && !lost;
        if keep {
            self.delivered += 1;
        } else {
            self.dropped += 1;
        }
        keep
    }
}

/// What one side observed.
#[derive(Default)]
struct Seen {
    events: Vec<SctpEvent>,
    messages: Vec<(u16, u32, Vec<u8>)>,
}

impl Seen {
    fn connected(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, SctpEvent::Connected { .. }))
    }
    fn has(&self, ev: SctpEvent) -> bool {
        self.events.contains(&ev)
    }
}

/// A message the test wants sent, retried on `WouldBlock`.
struct Outgoing {
    stream: u16,
    ppid: u32,
    data: Vec<u8>,
    ordered: bool,
    reliability: Reliability,
}

struct Pair {
    a: SctpAssociation,
    b: SctpAssociation,
    ab: Link,
    ba: Link,
    seen_a: Seen,
    seen_b: Seen,
    queue_a: Vec<Outgoing>,
    queue_b: Vec<Outgoing>,
}

fn config() -> SctpConfig {
    SctpConfig {
        rto_initial: Duration::from_millis(100),
        rto_min: Duration::from_millis(50),
        rto_max: Duration::from_millis(400),
        ..SctpConfig::default()
    }
}

impl Pair {
    fn new(cfg_a: SctpConfig, cfg_b: SctpConfig, loss: f64, seed: u64) -> Pair {
        let mut a = SctpAssociation::new(cfg_a).expect("association a");
        let mut b = SctpAssociation::new(cfg_b).expect("association b");
        let t = now();
        a.start(t).expect("start a");
        b.start(t).expect("start b");
        Pair {
            a,
            b,
            ab: Link::new(loss, seed),
            ba: Link::new(loss, seed ^ 0x5eed),
            seen_a: Seen::default(),
            seen_b: Seen::default(),
            queue_a: Vec::new(),
            queue_b: Vec::new(),
        }
    }

    fn connected(cfg: SctpConfig, loss: f64, seed: u64) -> Pair {
        let mut p = Pair::new(cfg.clone(), cfg, loss, seed);
        assert!(
            p.run_until(Duration::from_secs(10), |p| p.seen_a.connected()
                && p.seen_b.connected()),
            "association did not come up: a={:?} b={:?}",
            p.seen_a.events,
            p.seen_b.events
        );
        p
    }

    /// One turn: timers, queued sends, packets both ways, outputs.
    /// Returns whether any packet moved.
    fn step(&mut self) -> bool {
        let t = now();
        for assoc in [&mut self.a, &mut self.b] {
            if assoc.poll_timeout().is_some_and(|d| d <= t) {
                assoc.handle_timeout(t);
            }
        }
        flush_queue(&mut self.a, &mut self.queue_a);
        flush_queue(&mut self.b, &mut self.queue_b);
        let mut moved = false;
        while let Some(pkt) = self.a.poll_transmit() {
            moved = true;
            if self.ab.passes() {
                self.b.handle_packet(now(), &pkt);
            }
        }
        while let Some(pkt) = self.b.poll_transmit() {
            moved = true;
            if self.ba.passes() {
                self.a.handle_packet(now(), &pkt);
            }
        }
        collect(&mut self.a, &mut self.seen_a);
        collect(&mut self.b, &mut self.seen_b);
        moved
    }

    /// Runs until `done` holds or `limit` passes, stretched by 4: a busy
    /// machine slows usrsctp's real-time steps, and the wait ends as soon as
    /// `done` holds, so only a failure takes longer to show.
    fn run_until(&mut self, limit: Duration, done: impl FnMut(&Pair) -> bool) -> bool {
        self.run_exactly_until(limit * 4, done)
    }

    /// Runs for `d`, whatever happens.
    fn run_for(&mut self, d: Duration) {
        self.run_exactly_until(d, |_| false);
    }

    fn run_exactly_until(&mut self, limit: Duration, mut done: impl FnMut(&Pair) -> bool) -> bool {
        let end = now() + limit;
        while now() < end {
            if done(self) {
                return true;
            }
            if !self.step() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        done(self)
    }
}

fn flush_queue(assoc: &mut SctpAssociation, queue: &mut Vec<Outgoing>) {
    while let Some(m) = queue.first() {
        match assoc.send(m.stream, m.ppid, &m.data, m.ordered, m.reliability) {
            Ok(()) => {
                queue.remove(0);
            }
            Err(SctpError::WouldBlock) => break,
            Err(e) => panic!("send failed: {e}"),
        }
    }
}

fn collect(assoc: &mut SctpAssociation, seen: &mut Seen) {
    while let Some(ev) = assoc.poll_event() {
        seen.events.push(ev);
    }
    while let Some(m) = assoc.recv() {
        seen.messages.push(m);
    }
}

/// A payload whose bytes depend on its size and a tag, so misplaced or
/// truncated bytes show.
fn payload(len: usize, tag: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ tag)
        .collect()
}

const SIZES: [usize; 4] = [1, 1200, 65536, DEFAULT_MAX_MESSAGE_SIZE];

#[test]
fn comes_up_and_delivers_whole_messages_both_ways() {
    let mut p = Pair::connected(config(), 0.0, 1);
    for ev in [&p.seen_a.events, &p.seen_b.events] {
        assert!(ev.contains(&SctpEvent::Connected {
            outbound_streams: 256,
            inbound_streams: 256
        }));
    }
    assert!(p.a.is_connected() && p.b.is_connected());
    for (i, &len) in SIZES.iter().enumerate() {
        // a → b ordered on stream 1 with the binary PPID; b → a unordered
        // on stream 2 with the string PPID.
        p.queue_a.push(Outgoing {
            stream: 1,
            ppid: 53,
            data: payload(len, i as u8),
            ordered: true,
            reliability: Reliability::Reliable,
        });
        p.queue_b.push(Outgoing {
            stream: 2,
            ppid: 51,
            data: payload(len, 0x80 | i as u8),
            ordered: false,
            reliability: Reliability::Reliable,
        });
    }
    assert!(
        p.run_until(Duration::from_secs(20), |p| p.seen_a.messages.len() == 4
            && p.seen_b.messages.len() == 4),
        "b got {} messages, a got {}",
        p.seen_b.messages.len(),
        p.seen_a.messages.len()
    );
    // Ordered: in send order.
    for (i, (stream, ppid, data)) in p.seen_b.messages.iter().enumerate() {
        assert_eq!((*stream, *ppid), (1, 53));
        assert_eq!(data.len(), SIZES[i]);
        assert!(*data == payload(SIZES[i], i as u8), "message {i} corrupted");
    }
    // Unordered: any order, each whole.
    let mut got: Vec<_> = p.seen_a.messages.clone();
    got.sort_by_key(|m| m.2.len());
    for (i, (stream, ppid, data)) in got.iter().enumerate() {
        assert_eq!((*stream, *ppid), (2, 51));
        assert!(
            *data == payload(SIZES[i], 0x80 | i as u8),
            "message {i} corrupted"
        );
    }
    // Every message was announced with its size.
    let announced: Vec<usize> = p
        .seen_b
        .events
        .iter()
        .filter_map(|e| match e {
            SctpEvent::Message { len, .. } => Some(*len),
            _ => None,
        })
        .collect();
    assert_eq!(announced, SIZES);
    // Everything acknowledged: the sender runs dry.
    assert!(p.run_until(Duration::from_secs(5), |p| p.a.buffered_amount() == 0));
}

#[test]
fn buffered_amount_back_pressure_and_writable() {
    let mut p = Pair::connected(config(), 0.0, 9);
    assert_eq!(p.a.buffered_amount(), 0);
    // Fill the 1 MiB send buffer without letting packets through.
    let msg = payload(200_000, 9);
    let mut accepted = 0;
    loop {
        match p.a.send(2, 53, &msg, true, Reliability::Reliable) {
            Ok(()) => accepted += 1,
            Err(SctpError::WouldBlock) => break,
            Err(e) => panic!("send failed: {e}"),
        }
        assert!(accepted < 100, "send never blocked");
    }
    assert!(accepted >= 2, "only {accepted} messages fit");
    assert_eq!(p.a.buffered_amount(), accepted * msg.len());
    // Drain: the amount falls, the sender reports room, then runs dry.
    assert!(
        p.run_until(Duration::from_secs(10), |p| p.seen_b.messages.len()
            == accepted
            && p.a.buffered_amount() == 0),
        "delivered {} of {accepted}, buffered {}",
        p.seen_b.messages.len(),
        p.a.buffered_amount()
    );
    assert!(p.seen_a.has(SctpEvent::Writable));
    assert!(p.seen_a.has(SctpEvent::SenderDry));
    assert!(p.seen_b.messages.iter().all(|m| m.2 == msg));
}

#[test]
fn usrsctp_chunk_cap_follows_the_send_and_receive_spaces() {
    // usrsctp keeps at most `sctp_max_chunks_on_queue` chunks (512 by
    // default) queued and in flight, and treats its receive window as full
    // at that many unread chunks, whatever room the spaces have: with
    // ~1370-byte chunks on a 1500-byte path that capped a 50 ms path at
    // ~14 MB/s (scripts/bench.sh, rtt50). Associations raise the cap with
    // their spaces.
    let cfg = config();
    let want = cfg.send_space.max(cfg.recv_space) / 256;
    let _p = Pair::connected(cfg, 0.0, 12);
    // SAFETY: a plain read of a usrsctp setting, after initialisation.
    let cap = unsafe { usrsctp_sys::usrsctp_sysctl_get_sctp_max_chunks_on_queue() };
    assert!(
        cap as usize >= want,
        "chunk cap {cap}, want at least {want}"
    );
    assert!(cap > 512, "chunk cap {cap} is usrsctp's default");
}

#[test]
fn send_checks_size_stream_and_state() {
    let mut lone = SctpAssociation::new(config()).unwrap();
    assert_eq!(
        lone.send(0, 53, b"x", true, Reliability::Reliable),
        Err(SctpError::NotConnected)
    );
    assert_eq!(lone.poll_timeout(), None);
    let mut p = Pair::connected(config(), 0.0, 2);
    let too_big = vec![0u8; DEFAULT_MAX_MESSAGE_SIZE + 1];
    assert_eq!(
        p.a.send(1, 53, &too_big, true, Reliability::Reliable),
        Err(SctpError::MessageTooLarge {
            size: DEFAULT_MAX_MESSAGE_SIZE + 1,
            max: DEFAULT_MAX_MESSAGE_SIZE
        })
    );
    assert_eq!(
        p.a.send(1, 53, &[], true, Reliability::Reliable),
        Err(SctpError::EmptyMessage)
    );
    assert_eq!(
        p.a.send(256, 53, b"x", true, Reliability::Reliable),
        Err(SctpError::InvalidStream(256))
    );
    p.a.set_max_message_size(1000);
    assert!(matches!(
        p.a.send(1, 53, &[0; 1001], true, Reliability::Reliable),
        Err(SctpError::MessageTooLarge { max: 1000, .. })
    ));
    p.a.send(1, 53, &[7; 1000], true, Reliability::MaxLifetime(5000))
        .unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| p.seen_b.messages.len() == 1));
    assert_eq!(p.seen_b.messages[0], (1, 53, vec![7; 1000]));
}

#[test]
fn stream_reset_is_seen_on_both_sides() {
    let mut p = Pair::connected(config(), 0.0, 3);
    p.a.send(4, 51, b"before reset", true, Reliability::Reliable)
        .unwrap();
    p.a.reset_stream(4).unwrap();
    assert!(
        p.run_until(Duration::from_secs(5), |p| {
            p.seen_b.has(SctpEvent::StreamReset {
                stream: 4,
                direction: ResetDirection::Incoming,
            }) && p.seen_a.has(SctpEvent::StreamReset {
                stream: 4,
                direction: ResetDirection::Outgoing,
            })
        }),
        "a={:?} b={:?}",
        p.seen_a.events,
        p.seen_b.events
    );
    // The data queued before the reset arrived first.
    assert_eq!(p.seen_b.messages, vec![(4, 51, b"before reset".to_vec())]);
    // Closing the other direction too (what a DataChannel close does), and
    // two resets back to back: the second waits for the first.
    p.b.reset_stream(4).unwrap();
    p.b.reset_stream(6).unwrap();
    assert!(
        p.run_until(Duration::from_secs(5), |p| {
            [4, 6].iter().all(|&stream| {
                p.seen_a.has(SctpEvent::StreamReset {
                    stream,
                    direction: ResetDirection::Incoming,
                })
            })
        }),
        "a={:?}",
        p.seen_a.events
    );
    // The stream is usable again after the reset.
    p.a.send(4, 53, b"after", true, Reliability::Reliable)
        .unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| p.seen_b.messages.len() == 2));
    assert_eq!(p.seen_b.messages[1], (4, 53, b"after".to_vec()));
}

#[test]
fn partial_reliability_over_a_lossy_link() {
    const COUNT: usize = 150;
    const LEN: usize = 1000;
    let mut p = Pair::connected(config(), 0.2, 4);
    for i in 0..COUNT {
        let mut unreliable = payload(LEN, 1);
        unreliable[..4].copy_from_slice(&(i as u32).to_be_bytes());
        p.queue_a.push(Outgoing {
            stream: 1,
            ppid: 53,
            data: unreliable,
            ordered: false,
            reliability: Reliability::MaxRetransmits(0),
        });
        let mut reliable = payload(LEN, 2);
        reliable[..4].copy_from_slice(&(i as u32).to_be_bytes());
        p.queue_a.push(Outgoing {
            stream: 3,
            ppid: 53,
            data: reliable,
            ordered: true,
            reliability: Reliability::Reliable,
        });
    }
    let reliable_count = |p: &Pair| p.seen_b.messages.iter().filter(|m| m.0 == 3).count();
    assert!(
        p.run_until(Duration::from_secs(30), |p| reliable_count(p) == COUNT
            && p.queue_a.is_empty()),
        "reliable stream delivered {} of {COUNT}",
        reliable_count(&p)
    );
    // Let stragglers of the unreliable stream arrive, then look.
    p.run_for(Duration::from_millis(300));
    let mut reliable_seq = Vec::new();
    let mut unreliable_seq = Vec::new();
    for (stream, ppid, data) in &p.seen_b.messages {
        assert_eq!(*ppid, 53);
        assert_eq!(data.len(), LEN);
        let seq = u32::from_be_bytes(data[..4].try_into().unwrap());
        let tag = if *stream == 3 { 2 } else { 1 };
        assert_eq!(data[4..], payload(LEN, tag)[4..], "message body corrupted");
        match stream {
            3 => reliable_seq.push(seq),
            1 => unreliable_seq.push(seq),
            s => panic!("unexpected stream {s}"),
        }
    }
    assert_eq!(reliable_seq, (0..COUNT as u32).collect::<Vec<_>>());
    let mut unique = unreliable_seq.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), unreliable_seq.len(), "duplicate delivery");
    assert!(
        !unreliable_seq.is_empty() && unreliable_seq.len() < COUNT,
        "unreliable stream delivered {} of {COUNT} over a 20% lossy link",
        unreliable_seq.len()
    );
    assert!(p.ab.dropped > 0 && p.ba.dropped > 0);
    // Abandoned messages are reported to the sender; reliable ones never.
    let failed: Vec<u16> = p
        .seen_a
        .events
        .iter()
        .filter_map(|e| match e {
            SctpEvent::SendFailed { stream, ppid: 53 } => Some(*stream),
            _ => None,
        })
        .collect();
    assert!(failed.iter().all(|&s| s == 1), "reliable message abandoned");
    eprintln!(
        "lossy link: unreliable delivered {}/{COUNT}, {} reported abandoned, packets dropped {}+{}",
        unreliable_seq.len(),
        failed.len(),
        p.ab.dropped,
        p.ba.dropped
    );
}

#[test]
fn association_loss_is_reported_when_the_peer_vanishes() {
    let cfg = SctpConfig {
        rto_initial: Duration::from_millis(100),
        rto_min: Duration::from_millis(50),
        rto_max: Duration::from_millis(200),
        max_retransmits: 3,
        heartbeat_interval: Some(Duration::from_millis(200)),
        ..SctpConfig::default()
    };
    let mut p = Pair::connected(cfg, 0.0, 5);
    p.ab.blackhole = true;
    p.ba.blackhole = true;
    p.a.send(1, 53, b"into the void", true, Reliability::Reliable)
        .unwrap();
    assert!(
        p.run_until(Duration::from_secs(8), |p| p.seen_a.has(SctpEvent::Lost)
            && p.seen_b.has(SctpEvent::Lost)),
        "a={:?} b={:?}",
        p.seen_a.events,
        p.seen_b.events
    );
    assert!(
        !p.seen_a.has(SctpEvent::Aborted) && !p.seen_b.has(SctpEvent::Aborted),
        "a timeout is a loss, not an abort"
    );
    assert!(!p.a.is_connected());
    assert_eq!(p.a.poll_timeout(), None);
    assert_eq!(
        p.a.send(1, 53, b"x", true, Reliability::Reliable),
        Err(SctpError::NotConnected)
    );
}

#[test]
fn closing_one_side_aborts_the_other() {
    let mut p = Pair::connected(config(), 0.0, 6);
    p.a.close();
    assert!(
        p.run_until(Duration::from_secs(5), |p| p.seen_b.has(SctpEvent::Aborted)),
        "b={:?}",
        p.seen_b.events
    );
    assert!(
        !p.seen_b.has(SctpEvent::Lost),
        "a peer's ABORT is not a loss"
    );
}

#[test]
fn garbage_packets_are_dropped() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut junk: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0; 11], vec![0xff; 12]];
    for len in [12, 16, 28, 100, 1200, 5000] {
        junk.push((0..len).map(|_| rng.gen()).collect());
    }
    // A common header for our port with a wrong checksum, then chunks.
    let mut hdr = vec![0x13, 0x88, 0x13, 0x88, 0, 0, 0, 0, 1, 2, 3, 4];
    hdr.extend_from_slice(&[1, 0, 0, 20, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0]);
    junk.push(hdr);

    // Before start, while connecting, and once connected.
    let mut lone = SctpAssociation::new(config()).unwrap();
    for j in &junk {
        lone.handle_packet(now(), j);
    }
    assert!(lone.poll_transmit().is_none());
    let mut p = Pair::new(config(), config(), 0.0, 8);
    for j in &junk {
        p.a.handle_packet(now(), j);
    }
    assert!(
        p.run_until(Duration::from_secs(10), |p| p.seen_a.connected()
            && p.seen_b.connected())
    );
    let dropped_before = p.b.dropped_bad_checksum();
    for j in &junk {
        p.b.handle_packet(now(), j);
    }
    // Every junk packet but the empty one (ignored outright) fails the
    // CRC32c check (a random 4-byte checksum matching is a 2^-32 event).
    assert_eq!(
        p.b.dropped_bad_checksum() - dropped_before,
        (junk.len() - 1) as u64
    );
    // A genuine packet with one bit flipped is dropped too.
    p.a.send(0, 51, b"corrupted copy", true, Reliability::Reliable)
        .unwrap();
    let mut genuine = p.a.poll_transmit().expect("a DATA packet");
    let last = genuine.len() - 1;
    genuine[last] ^= 0x40;
    p.b.handle_packet(now(), &genuine);
    assert_eq!(
        p.b.dropped_bad_checksum() - dropped_before,
        junk.len() as u64
    );
    p.a.send(0, 51, b"still alive", true, Reliability::Reliable)
        .unwrap();
    // The corrupted packet was retransmitted intact: both arrive, in order.
    assert!(p.run_until(Duration::from_secs(5), |p| p.seen_b.messages.len() >= 2));
    assert_eq!(p.seen_b.messages[0], (0, 51, b"corrupted copy".to_vec()));
    assert_eq!(p.seen_b.messages[1], (0, 51, b"still alive".to_vec()));
    assert!(!p.seen_a.has(SctpEvent::Lost) && !p.seen_b.has(SctpEvent::Lost));
}

/// Associations whose timers a driver advances for the whole process
/// (`xp2p::sctp::tick`) ask for no periodic wake of their own, and are
/// named by `take_woken` only when usrsctp has something for them: here
/// the retransmission of a lost DATA chunk, which reaches the peer only
/// through that path.
#[test]
fn ticked_associations_sleep_until_usrsctp_has_something_for_them() {
    const OWNER_A: u64 = 0x000A_11CE_0001;
    const OWNER_B: u64 = 0x0000_0B0B_0002;
    let mut p = Pair::connected(config(), 0.0, 41);
    p.a.set_ticked_by(OWNER_A);
    p.b.set_ticked_by(OWNER_B);
    assert!(xp2p::sctp::has_ticked());
    assert_eq!(
        p.a.poll_timeout(),
        None,
        "an idle ticked association sleeps"
    );
    assert_eq!(
        p.b.poll_timeout(),
        None,
        "an idle ticked association sleeps"
    );

    let msg = payload(500, 9);
    p.a.send(1, 53, &msg, true, Reliability::Reliable).unwrap();
    let mut lost = 0;
    while p.a.poll_transmit().is_some() {
        lost += 1;
    }
    assert!(lost > 0, "the send produced no packet");

    let end = now() + Duration::from_secs(30);
    let mut retransmitted = 0;
    while p.seen_b.messages.is_empty() && now() < end {
        std::thread::sleep(Duration::from_millis(5));
        let t = now();
        xp2p::sctp::tick(t);
        let woken = xp2p::sctp::take_woken();
        if woken.contains(&OWNER_A) {
            p.a.handle_timeout(t);
            while let Some(pkt) = p.a.poll_transmit() {
                retransmitted += 1;
                p.b.handle_packet(t, &pkt);
            }
        }
        if woken.contains(&OWNER_B) {
            p.b.handle_timeout(t);
        }
        collect(&mut p.b, &mut p.seen_b);
        while let Some(pkt) = p.b.poll_transmit() {
            p.a.handle_packet(t, &pkt);
        }
        collect(&mut p.a, &mut p.seen_a);
    }
    assert!(retransmitted > 0);
    assert_eq!(p.seen_b.messages, vec![(1, 53, msg)]);
}

/// `Writable` means the refused message now fits: usrsctp calls its socket
/// writable as soon as any room is free, which a large message may not
/// fit, and a sender retrying on that looped through refused sends (over
/// a thousand per 64 KiB message on a 1500-byte path). The association
/// stays blocked until the whole message fits, and the retry succeeds.
#[test]
fn writable_comes_when_the_refused_message_fits() {
    let mut p = Pair::connected(config(), 0.0, 21);
    let msg = payload(200_000, 21);
    let mut accepted = 0;
    while p.a.send(3, 53, &msg, true, Reliability::Reliable).is_ok() {
        accepted += 1;
        assert!(accepted < 100, "send never blocked");
    }
    assert_eq!(p.a.stats().sends_refused, 1);
    let mut blocked_checks = 0;
    let writable = p.run_until(Duration::from_secs(20), |p| {
        if p.seen_a.has(SctpEvent::Writable) {
            return true;
        }
        assert!(p.a.is_blocked(), "unblocked without a Writable event");
        blocked_checks += 1;
        false
    });
    assert!(writable, "Writable never came");
    assert!(blocked_checks >= 1);
    assert!(!p.a.is_blocked());
    p.a.send(3, 53, &msg, true, Reliability::Reliable)
        .expect("the refused message fits once Writable is reported");
    assert_eq!(p.a.stats().sends_refused, 1);
    assert!(
        p.run_until(Duration::from_secs(20), |p| p.seen_b.messages.len()
            == accepted + 1),
        "delivered {} of {}",
        p.seen_b.messages.len(),
        accepted + 1
    );
    assert!(p.seen_b.messages.iter().all(|m| m.2 == msg));
}

/// A message read from usrsctp in one piece takes the read buffer itself
/// from 4 KiB on: 64 KiB messages arrive with no payload byte copied out
/// of it, small ones are copied (a 64 KiB buffer each would waste memory).
#[test]
fn whole_large_messages_are_not_copied_out_of_the_read_buffer() {
    let mut p = Pair::connected(config(), 0.0, 23);
    for i in 0..8u8 {
        p.queue_a.push(Outgoing {
            stream: 4,
            ppid: 53,
            data: payload(65536, i),
            ordered: true,
            reliability: Reliability::Reliable,
        });
    }
    assert!(
        p.run_until(Duration::from_secs(20), |p| p.seen_b.messages.len() == 8),
        "delivered {} of 8",
        p.seen_b.messages.len()
    );
    for (i, m) in p.seen_b.messages.iter().enumerate() {
        assert!(m.2 == payload(65536, i as u8), "message {i} corrupted");
    }
    assert_eq!(p.b.stats().payload_bytes_copied, 0);
    for i in 0..10u8 {
        p.queue_a.push(Outgoing {
            stream: 4,
            ppid: 53,
            data: payload(100, i),
            ordered: true,
            reliability: Reliability::Reliable,
        });
    }
    assert!(p.run_until(Duration::from_secs(20), |p| p.seen_b.messages.len() == 18));
    assert_eq!(p.b.stats().payload_bytes_copied, 1000);
    assert!(p.seen_b.messages[8..]
        .iter()
        .enumerate()
        .all(|(i, m)| m.2 == payload(100, i as u8)));
}
