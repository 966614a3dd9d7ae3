//! Two PeerConnections over a seeded, lossy in-memory link: loss,
//! duplication, reordering and a small delay with jitter. DTLS and usrsctp
//! read the real clock, so the pair runs on real time in loops bounded by
//! deadlines.
//!
//! The link draws every decision from seeded RNGs, one per direction and
//! kind of datagram (STUN or DTLS), so the DTLS loss pattern does not shift
//! with the number of STUN packets real time happens to produce.

mod peer_support;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use openssl::sha::Sha256;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use peer_support::{fire_timers, now, trickle, Drive, Inbox};
use xp2p::channel::{ChannelConfig, ChannelError, ChannelId, MessageKind};
use xp2p::dcep::Reliability;
use xp2p::peer::{PeerConfig, PeerError, PeerEvent, PeerState};

const A_ADDR: &str = "10.0.0.1:40000";
const B_ADDR: &str = "10.0.0.2:40000";

// ---------------------------------------------------------------------------
// The link model
// ---------------------------------------------------------------------------

/// Impairments of the link, applied to each datagram in both directions.
#[derive(Debug, Clone, Copy)]
struct LinkParams {
    /// Probability a datagram is lost.
    loss: f64,
    /// Probability a datagram is delivered twice (each copy delayed on its
    /// own).
    dup: f64,
    /// Probability a datagram is held back by `reorder_extra`, so later
    /// ones overtake it.
    reorder: f64,
    reorder_extra: Duration,
    /// One-way delay, plus a uniform extra of up to `jitter`.
    delay: Duration,
    jitter: Duration,
}

impl LinkParams {
    /// No loss, no reordering, the same small delay.
    fn clean() -> LinkParams {
        LinkParams {
            loss: 0.0,
            dup: 0.0,
            reorder: 0.0,
            reorder_extra: Duration::ZERO,
            delay: Duration::from_millis(1),
            jitter: Duration::ZERO,
        }
    }

    /// `loss` with 1 % duplication, 5 % reordering by 4 ms, 1–2 ms delay.
    fn lossy(loss: f64) -> LinkParams {
        LinkParams {
            loss,
            dup: 0.01,
            reorder: 0.05,
            reorder_extra: Duration::from_millis(4),
            delay: Duration::from_millis(1),
            jitter: Duration::from_millis(1),
        }
    }
}

impl LinkParams {
    /// `lossy` with 0–0.2 ms delay: a fast local path.
    fn lan(loss: f64) -> LinkParams {
        LinkParams {
            delay: Duration::ZERO,
            jitter: Duration::from_micros(200),
            ..LinkParams::lossy(loss)
        }
    }
}

/// What the link did.
#[derive(Debug, Clone, Copy, Default)]
struct LinkStats {
    sent: u64,
    dropped: u64,
    duplicated: u64,
    reordered: u64,
    delivered: u64,
}

/// A datagram in flight: due time, a tie-breaking sequence number, its
/// direction (`true`: a → b) and its bytes.
type InFlight = Reverse<(Instant, u64, bool, Vec<u8>)>;

struct Link {
    params: LinkParams,
    /// Indexed by `2 * (a → b) + is_dtls`.
    rngs: [StdRng; 4],
    queue: BinaryHeap<InFlight>,
    seq: u64,
    stats: LinkStats,
}

impl Link {
    fn new(seed: u64, params: LinkParams) -> Link {
        let rng = |i: u64| StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i);
        Link {
            params,
            rngs: [rng(0), rng(1), rng(2), rng(3)],
            queue: BinaryHeap::new(),
            seq: 0,
            stats: LinkStats::default(),
        }
    }

    fn send(&mut self, t: Instant, to_b: bool, data: Vec<u8>) {
        let p = self.params;
        // RFC 7983 demultiplexing: DTLS records start with 20..=63.
        let dtls = data.first().is_some_and(|b| (20..=63).contains(b));
        let rng = &mut self.rngs[usize::from(to_b) * 2 + usize::from(dtls)];
        self.stats.sent += 1;
        if rng.gen_bool(p.loss) {
            self.stats.dropped += 1;
            return;
        }
        let copies = if rng.gen_bool(p.dup) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut d = p.delay + p.jitter.mul_f64(rng.gen::<f64>());
            if rng.gen_bool(p.reorder) {
                self.stats.reordered += 1;
                d += p.reorder_extra;
            }
            self.seq += 1;
            self.queue
                .push(Reverse((t + d, self.seq, to_b, data.clone())));
        }
    }

    /// The next datagram due at `t`.
    fn pop_due(&mut self, t: Instant) -> Option<(bool, Vec<u8>)> {
        if self.queue.peek().is_some_and(|Reverse(f)| f.0 <= t) {
            let Reverse((_, _, to_b, data)) = self.queue.pop()?;
            self.stats.delivered += 1;
            return Some((to_b, data));
        }
        None
    }

    fn next_due(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(f)| f.0)
    }
}

// ---------------------------------------------------------------------------
// The two peers
// ---------------------------------------------------------------------------

/// What arrived on one channel.
#[derive(Default)]
struct Rx {
    messages: u64,
    bytes: u64,
    /// SHA-256 of the concatenated payloads.
    hash: Sha256,
    /// Arrival time and payload of messages up to `KEEP_LEN` bytes.
    kept: Vec<(Instant, Vec<u8>)>,
}

/// Messages up to this size are kept whole for inspection.
const KEEP_LEN: usize = 2048;

impl Inbox for HashMap<ChannelId, Rx> {
    /// Only the tallies: bulk transfers signal too many messages to keep
    /// their events.
    const KEEPS_MESSAGE_EVENTS: bool = false;

    fn message(&mut self, id: ChannelId, _: MessageKind, data: Vec<u8>) {
        let rx = self.entry(id).or_default();
        rx.messages += 1;
        rx.bytes += data.len() as u64;
        rx.hash.update(&data);
        if data.len() <= KEEP_LEN {
            rx.kept.push((now(), data));
        }
    }
}

/// One peer; its events are every event except `ChannelMessage`.
type Side = peer_support::Side<HashMap<ChannelId, Rx>>;

impl Side {
    fn errors(&self) -> Vec<&PeerEvent> {
        self.events
            .iter()
            .filter(|e| matches!(e, PeerEvent::ChannelError(..)))
            .collect()
    }

    fn received(&self, id: ChannelId) -> u64 {
        self.rx.get(&id).map_or(0, |r| r.messages)
    }

    fn kept(&self, id: ChannelId) -> &[(Instant, Vec<u8>)] {
        self.rx.get(&id).map_or(&[], |r| r.kept.as_slice())
    }
}

struct Pair {
    a: Side,
    b: Side,
    link: Link,
}

impl Drive for Pair {
    /// One turn: trickle, datagrams onto the link, due datagrams off it,
    /// due timers, events.
    fn step(&mut self) -> bool {
        let mut any = self.a.drain() | self.b.drain();
        let t = now();
        any |= trickle(&mut self.a, &mut self.b, t);
        let (a_addr, b_addr) = (self.a.addr, self.b.addr);
        for (side, to_b, peer) in [(&mut self.a, true, b_addr), (&mut self.b, false, a_addr)] {
            while let Some(tx) = side.pc.poll_transmit() {
                any = true;
                if tx.dest == peer {
                    self.link.send(t, to_b, tx.data);
                }
            }
        }
        let t = now();
        while let Some((to_b, data)) = self.link.pop_due(t) {
            any = true;
            let (from, to) = if to_b {
                (a_addr, &mut self.b)
            } else {
                (b_addr, &mut self.a)
            };
            to.pc.handle_datagram(t, to.addr, from, &data);
        }
        any |= fire_timers(&mut self.a, &mut self.b, now());
        any | self.a.drain() | self.b.drain()
    }

    /// Sleeps until the next due datagram or timer, at most 1 ms.
    fn idle(&mut self) {
        let t = now();
        let mut next = t + Duration::from_millis(1);
        for due in [
            self.link.next_due(),
            self.a.pc.poll_timeout(),
            self.b.pc.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        {
            next = next.min(due);
        }
        if next > t {
            std::thread::sleep(next - t);
        }
    }
}

impl Pair {
    fn new(seed: u64, params: LinkParams) -> Pair {
        Pair {
            a: Side::new(seed, A_ADDR, PeerConfig::default()),
            b: Side::new(seed + 1, B_ADDR, PeerConfig::default()),
            link: Link::new(seed, params),
        }
    }

    /// Offer from `a`, answer from `b`; candidates trickle out of band
    /// (signalling is not subject to the link).
    fn negotiate(&mut self) {
        let t = now();
        let offer = self.a.pc.create_offer(t).unwrap();
        self.b.pc.set_remote_description(t, &offer).unwrap();
        let answer = self.b.pc.create_answer(t).unwrap();
        self.a.pc.set_remote_description(t, &answer).unwrap();
    }

    fn connected(&self) -> bool {
        self.a.pc.state() == PeerState::Connected && self.b.pc.state() == PeerState::Connected
    }

    /// Negotiates and waits (at most `limit`) for both sides to be
    /// Connected; returns the time it took.
    fn connect(&mut self, limit: Duration) -> Duration {
        let start = now();
        self.negotiate();
        let ok = self.run_until(limit, Pair::connected);
        assert!(ok, "not connected within {limit:?}: {}", self.report());
        now() - start
    }

    /// Creates channels on `a` and waits until they are open on both sides;
    /// returns the pairs (a's id, b's id).
    fn open(&mut self, cfgs: &[ChannelConfig]) -> Vec<(ChannelId, ChannelId)> {
        let ids: Vec<ChannelId> = cfgs
            .iter()
            .map(|c| self.a.pc.create_data_channel(c.clone()).unwrap())
            .collect();
        let labels: Vec<&str> = cfgs.iter().map(|c| c.label.as_str()).collect();
        let ok = self.run_until(Duration::from_secs(10), |p| {
            ids.iter().all(|&id| p.a.opened(id))
                && labels.iter().all(|l| p.b.remote_channel(l).is_some())
        });
        assert!(ok, "channels did not open: {}", self.report());
        ids.iter()
            .zip(&labels)
            .map(|(&id, l)| (id, self.b.remote_channel(l).unwrap()))
            .collect()
    }

    /// Sends on `a`, driving the pair while the channel reports
    /// back-pressure, for at most `limit`.
    fn send_a(&mut self, id: ChannelId, data: &[u8], limit: Duration) {
        let end = now() + limit;
        loop {
            match self.a.pc.send(id, MessageKind::Binary, data) {
                Ok(()) => return,
                Err(PeerError::Channel(ChannelError::QueueFull)) if now() < end => {
                    if !self.step() {
                        self.idle();
                    }
                }
                Err(e) => panic!(
                    "send of {} bytes failed: {e}; {}",
                    data.len(),
                    self.report()
                ),
            }
        }
    }

    /// Sends [`numbered`] message `index` of `len` bytes with `tag` on
    /// `a`; it must be accepted within a second.
    fn send_numbered(&mut self, id: ChannelId, tag: u8, index: u32, len: usize) {
        self.send_a(id, &numbered(tag, index, len), Duration::from_secs(1));
    }

    /// States, counters and link statistics, for failure messages.
    fn report(&self) -> String {
        let side = |s: &Side| {
            let ch = s.pc.channels();
            let chans: Vec<String> = ch
                .channel_ids()
                .map(|id| {
                    format!(
                        "{}:{:?} buffered {} rx {}",
                        ch.label(id).unwrap_or("?"),
                        ch.state(id),
                        ch.buffered_amount(id),
                        s.received(id)
                    )
                })
                .collect();
            format!(
                "{:?} states {:?} stats {:?} dtls {:?} channel stats {:?} channels [{}] errors {:?}",
                s.pc,
                s.state_changes(),
                s.pc.stats(),
                s.pc.dtls().map(|d| d.stats()),
                ch.stats(),
                chans.join(", "),
                s.errors()
            )
        };
        format!(
            "\n  a: {}\n  b: {}\n  link: {:?}",
            side(&self.a),
            side(&self.b),
            self.link.stats
        )
    }
}

// ---------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------

/// Fills `buf` with a pseudo-random stream (xorshift64*) from `state`.
fn fill(buf: &mut [u8], state: &mut u64) {
    for chunk in buf.chunks_mut(8) {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// A numbered message: the index, then bytes derived from it.
fn numbered(tag: u8, index: u32, len: usize) -> Vec<u8> {
    let mut m = vec![0u8; len.max(5)];
    m[0] = tag;
    m[1..5].copy_from_slice(&index.to_be_bytes());
    let mut state = u64::from(index) << 8 | u64::from(tag) | 1;
    fill(&mut m[5..], &mut state);
    m
}

/// The index of a numbered message, checking its tag and contents.
fn index_of(tag: u8, msg: &[u8]) -> u32 {
    assert!(msg.len() >= 5 && msg[0] == tag, "foreign message");
    let index = u32::from_be_bytes(msg[1..5].try_into().unwrap());
    assert!(
        msg == numbered(tag, index, msg.len()).as_slice(),
        "message {index} (tag {tag}) corrupted"
    );
    index
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// 1. Connection setup under 20 % loss
// ---------------------------------------------------------------------------

/// Both sides reach Connected under 20 % loss, and a channel created
/// before the connection opens.
fn connect_under_loss(seed: u64) {
    let mut p = Pair::new(seed, LinkParams::lossy(0.20));
    let ch =
        p.a.pc
            .create_data_channel(ChannelConfig::new("setup"))
            .unwrap();
    let took = p.connect(Duration::from_secs(12));
    let opened = p.run_until(Duration::from_secs(8), |p| {
        p.a.opened(ch) && p.b.remote_channel("setup").is_some()
    });
    assert!(opened, "channel did not open: {}", p.report());
    let remote = p.b.remote_channel("setup").unwrap();
    p.send_a(ch, b"through the loss", Duration::from_secs(5));
    assert!(
        p.run_until(Duration::from_secs(8), |p| p.b.received(remote) == 1),
        "message lost on a reliable channel: {}",
        p.report()
    );
    for s in [&p.a, &p.b] {
        assert_eq!(
            &s.state_changes()[..2],
            &[PeerState::Connecting, PeerState::Connected],
            "{}",
            p.report()
        );
        assert!(s.errors().is_empty(), "{}", p.report());
    }
    eprintln!(
        "seed {seed}: connected in {took:?}; dtls a {:?} b {:?}; link {:?}",
        p.a.pc.dtls().map(|d| d.stats()),
        p.b.pc.dtls().map(|d| d.stats()),
        p.link.stats
    );
}

#[test]
fn dtls_handshake_survives_20_percent_loss_seed_1() {
    connect_under_loss(1);
}

#[test]
fn dtls_handshake_survives_20_percent_loss_seed_3() {
    connect_under_loss(3);
}

#[test]
fn dtls_handshake_survives_20_percent_loss_seed_7() {
    connect_under_loss(7);
}

// ---------------------------------------------------------------------------
// 2. Bulk transfer at 5 % loss with reordering
// ---------------------------------------------------------------------------

const BULK_MESSAGE: usize = 64 * 1024;

/// Sends `total` bytes in 64 KiB messages over one reliable ordered
/// channel, the link impaired from the start, and compares the SHA-256 of
/// the sent and the received stream.
fn bulk(seed: u64, total: usize, limit: Duration, params: LinkParams) {
    let mut p = Pair::new(seed, params);
    p.connect(Duration::from_secs(15));
    let [(tx, rx)] = p.open(&[ChannelConfig::new("bulk")])[..] else {
        unreachable!()
    };
    let start = now();
    let end = start + limit;
    let mut sent_hash = Sha256::new();
    let mut sent = 0usize;
    let mut state = seed | 1;
    let mut msg = vec![0u8; BULK_MESSAGE.min(total)];
    fill(&mut msg, &mut state);
    let mut queue_full = 0u64;
    while sent < total {
        assert!(
            now() < end,
            "sent {sent} of {total} bytes in {limit:?}: {}",
            p.report()
        );
        // Fill the channel up to back-pressure, then let the link run.
        loop {
            match p.a.pc.send(tx, MessageKind::Binary, &msg) {
                Ok(()) => {
                    sent_hash.update(&msg);
                    sent += msg.len();
                    if sent == total {
                        break;
                    }
                    msg.truncate(BULK_MESSAGE.min(total - sent));
                    fill(&mut msg, &mut state);
                }
                Err(PeerError::Channel(ChannelError::QueueFull)) => {
                    queue_full += 1;
                    break;
                }
                Err(e) => panic!("send failed after {sent} bytes: {e}; {}", p.report()),
            }
        }
        if !p.step() {
            p.idle();
        }
    }
    let all_sent = now() - start;
    let rest = end.saturating_duration_since(now());
    let done = p.run_until(rest, |p| {
        p.b.rx.get(&rx).map_or(0, |r| r.bytes) >= total as u64
    });
    let took = now() - start;
    assert!(
        done,
        "received {} of {total} bytes in {limit:?}: {}",
        p.b.rx.get(&rx).map_or(0, |r| r.bytes),
        p.report()
    );
    let got = p.b.rx.remove(&rx).unwrap();
    assert_eq!(got.bytes, total as u64, "{}", p.report());
    let (want, got_hash) = (sent_hash.finish(), got.hash.finish());
    assert!(
        want == got_hash,
        "stream differs: sent sha-256 {} received {}; {}",
        hex(&want),
        hex(&got_hash),
        p.report()
    );
    assert_eq!(p.a.pc.state(), PeerState::Connected);
    assert!(
        p.a.errors().is_empty() && p.b.errors().is_empty(),
        "{}",
        p.report()
    );
    eprintln!(
        "bulk seed {seed}: {total} bytes in {} messages, all queued after {all_sent:?}, \
         delivered after {took:?} ({:.1} MB/s); {queue_full} QueueFull; link {:?}",
        got.messages,
        total as f64 / took.as_secs_f64() / 1e6,
        p.link.stats
    );
}

/// 50 MiB over a LAN-like link (5 % loss, reordering, duplication, 0–0.2 ms
/// delay). Congestion control makes throughput scale with the round trip:
/// at 1–2 ms one way this volume takes about 50 s, hence the smaller
/// transfer below for that link.
#[test]
fn bulk_50_mib_at_5_percent_loss_arrives_identical() {
    bulk(
        7,
        50 * 1024 * 1024,
        Duration::from_secs(30),
        LinkParams::lan(0.05),
    );
}

/// 4 MiB over the 1–2 ms link at 5 % loss.
#[test]
fn bulk_4_mib_at_5_percent_loss_with_millisecond_delay_arrives_identical() {
    bulk(
        8,
        4 * 1024 * 1024,
        Duration::from_secs(20),
        LinkParams::lossy(0.05),
    );
}

// ---------------------------------------------------------------------------
// 3. Unordered MaxRetransmits(0) next to a reliable ordered channel
// ---------------------------------------------------------------------------

const LOSSY_TAG: u8 = 0x4c;
const RELIABLE_TAG: u8 = 0x52;

/// Asserts the channel got an intact, duplicate-free subset of the
/// numbered messages `0..sent`; `ordered` also wants increasing indices.
/// Returns how many arrived.
fn check_subset(p: &Pair, id: ChannelId, tag: u8, sent: u32, ordered: bool) -> usize {
    let mut seen = vec![false; sent as usize];
    let mut last = None;
    for (_, m) in p.b.kept(id) {
        let i = index_of(tag, m);
        assert!(i < sent, "message {i} was never sent");
        assert!(!seen[i as usize], "message {i} delivered twice");
        seen[i as usize] = true;
        if ordered {
            assert!(
                last < Some(i),
                "message {i} after {last:?} on an ordered channel"
            );
        }
        last = Some(i);
    }
    p.b.kept(id).len()
}

/// Drives the pair until `t`.
fn wait_until(p: &mut Pair, t: Instant) {
    while now() < t {
        if !p.step() {
            p.idle();
        }
    }
}

/// Whether `b` received every numbered message of `range` on `id` (by
/// index only; contents are checked by [`check_subset`]).
fn has_all(p: &Pair, id: ChannelId, range: std::ops::Range<u32>) -> bool {
    let mut seen = vec![false; range.len()];
    for (_, m) in p.b.kept(id) {
        if let Some(i) = m
            .get(1..5)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
        {
            if range.contains(&i) {
                seen[(i - range.start) as usize] = true;
            }
        }
    }
    seen.iter().all(|&s| s)
}

/// The longest time between sending and delivery of a numbered message on
/// `id`, given the send time of each index.
fn max_age(p: &Pair, id: ChannelId, sent_at: &[Instant]) -> Duration {
    p.b.kept(id)
        .iter()
        .map(|(at, m)| {
            let i = u32::from_be_bytes(m[1..5].try_into().unwrap()) as usize;
            *at - sent_at[i]
        })
        .max()
        .unwrap_or_default()
}

#[test]
fn unordered_no_retransmit_channel_loses_some_and_never_stalls_the_reliable_one() {
    const LOSSY: u32 = 1500;
    const AFTER: u32 = 40;
    let mut p = Pair::new(31, LinkParams::clean());
    p.connect(Duration::from_secs(10));
    let lossy_cfg = ChannelConfig {
        ordered: false,
        reliability: Reliability::MaxRetransmits(0),
        ..ChannelConfig::new("lossy")
    };
    let chans = p.open(&[lossy_cfg, ChannelConfig::new("reliable")]);
    let [(lossy_a, lossy_b), (rel_a, rel_b)] = chans[..] else {
        unreachable!()
    };
    p.link.params = LinkParams::lossy(0.15);
    let start = now();
    let mut lossy_sent = Vec::new();
    let mut rel_sent = Vec::new();
    // The lossy burst: 1000-byte messages offered at 500 kB/s, more than
    // the association carries at this loss, with a reliable message after
    // every 25th.
    let mut next = now();
    for i in 0..LOSSY {
        wait_until(&mut p, next);
        next += Duration::from_millis(2);
        lossy_sent.push(now());
        p.send_numbered(lossy_a, LOSSY_TAG, i, 1000);
        if i % 25 == 24 {
            let k = rel_sent.len() as u32;
            rel_sent.push(now());
            p.send_numbered(rel_a, RELIABLE_TAG, k, 200);
        }
    }
    let burst = now() - start;
    // After the burst, still at 15 % loss: reliable messages only.
    for _ in 0..AFTER {
        wait_until(&mut p, next);
        next += Duration::from_millis(20);
        let k = rel_sent.len() as u32;
        rel_sent.push(now());
        p.send_numbered(rel_a, RELIABLE_TAG, k, 200);
    }
    let total_rel = rel_sent.len();
    let ok = p.run_until(Duration::from_secs(10), |p| {
        p.b.received(rel_b) as usize == total_rel
    });
    assert!(
        ok,
        "reliable channel stalled: {} of {total_rel} arrived; lossy got {}; {}",
        p.b.received(rel_b),
        p.b.received(lossy_b),
        p.report()
    );
    // In order, intact, and each within a bound of its sending.
    for (k, (_, m)) in p.b.kept(rel_b).iter().enumerate() {
        assert_eq!(
            index_of(RELIABLE_TAG, m) as usize,
            k,
            "reliable channel out of order"
        );
    }
    let worst = max_age(&p, rel_b, &rel_sent);
    assert!(
        worst < Duration::from_secs(8),
        "a reliable message took {worst:?}; {}",
        p.report()
    );
    let lossy_got = check_subset(&p, lossy_b, LOSSY_TAG, LOSSY, false);
    let lossy_age = max_age(&p, lossy_b, &lossy_sent);
    assert!(
        lossy_got > 0 && lossy_got < LOSSY as usize,
        "MaxRetransmits(0) at 15 % loss delivered {lossy_got} of {LOSSY}; {}",
        p.report()
    );

    // The lossy channel itself keeps going: on a clean link, everything
    // sent now arrives.
    p.link.params = LinkParams::clean();
    for i in LOSSY..LOSSY + 20 {
        p.send_numbered(lossy_a, LOSSY_TAG, i, 1000);
    }
    let ok = p.run_until(Duration::from_secs(5), |p| {
        has_all(p, lossy_b, LOSSY..LOSSY + 20)
            && p.a.pc.channels().buffered_amount(lossy_a) == 0
            && p.a.pc.channels().buffered_amount(rel_a) == 0
    });
    assert!(
        ok,
        "lossy channel stalled after the loss ({lossy_got} of {LOSSY} delivered before): {}",
        p.report()
    );
    check_subset(&p, lossy_b, LOSSY_TAG, LOSSY + 20, false);
    assert!(
        p.a.errors().is_empty() && p.b.errors().is_empty(),
        "{}",
        p.report()
    );
    eprintln!(
        "max-retransmits 0: burst {burst:?}; lossy delivered {lossy_got}/{LOSSY}, oldest \
         {lossy_age:?}; {total_rel} reliable in order, slowest {worst:?}; link {:?}",
        p.link.stats
    );
}

// ---------------------------------------------------------------------------
// 4. MaxLifetime under loss
// ---------------------------------------------------------------------------

#[test]
fn max_lifetime_channels_deliver_a_subset_and_never_block() {
    const COUNT: u32 = 600;
    const ORDERED_TAG: u8 = 0x4f;
    const UNORDERED_TAG: u8 = 0x55;
    let mut p = Pair::new(41, LinkParams::clean());
    p.connect(Duration::from_secs(10));
    let cfg = |label: &str, ordered: bool| ChannelConfig {
        ordered,
        reliability: Reliability::MaxLifetime(100),
        ..ChannelConfig::new(label)
    };
    let chans = p.open(&[cfg("ttl-ordered", true), cfg("ttl-unordered", false)]);
    let [(ord_a, ord_b), (unord_a, unord_b)] = chans[..] else {
        unreachable!()
    };
    p.link.params = LinkParams::lossy(0.15);
    let start = now();
    let mut sent_at = Vec::new();
    let mut next = now();
    for i in 0..COUNT {
        wait_until(&mut p, next);
        next += Duration::from_millis(3);
        sent_at.push(now());
        // Never blocked: each send is accepted within a second.
        p.send_numbered(ord_a, ORDERED_TAG, i, 1000);
        p.send_numbered(unord_a, UNORDERED_TAG, i, 1000);
    }
    let burst = now() - start;
    // Everything is handed to SCTP.
    let ok = p.run_until(Duration::from_secs(5), |p| {
        p.a.pc.channels().buffered_amount(ord_a) == 0
            && p.a.pc.channels().buffered_amount(unord_a) == 0
    });
    assert!(ok, "lifetime channels did not drain: {}", p.report());

    // Neither stream is stuck on what was abandoned: on a clean link the
    // next messages arrive, after all earlier ones on the ordered channel.
    p.link.params = LinkParams::clean();
    for i in COUNT..COUNT + 20 {
        sent_at.push(now());
        p.send_numbered(ord_a, ORDERED_TAG, i, 1000);
        p.send_numbered(unord_a, UNORDERED_TAG, i, 1000);
    }
    let ok = p.run_until(Duration::from_secs(8), |p| {
        has_all(p, ord_b, COUNT..COUNT + 20) && has_all(p, unord_b, COUNT..COUNT + 20)
    });
    let ord_got = check_subset(&p, ord_b, ORDERED_TAG, COUNT + 20, true);
    let unord_got = check_subset(&p, unord_b, UNORDERED_TAG, COUNT + 20, false);
    let (ord_age, unord_age) = (max_age(&p, ord_b, &sent_at), max_age(&p, unord_b, &sent_at));
    assert!(
        ok,
        "lifetime channel stalled after the loss: burst {burst:?}, delivered \
         {ord_got}/{unord_got} of {COUNT} + 20, oldest {ord_age:?}/{unord_age:?}; {}",
        p.report()
    );
    for (got, what) in [(ord_got, "ordered"), (unord_got, "unordered")] {
        assert!(
            got > 20 && got <= COUNT as usize + 20,
            "{what} MaxLifetime(100) delivered {got} of {COUNT} + 20; {}",
            p.report()
        );
    }
    assert!(
        p.a.errors().is_empty() && p.b.errors().is_empty(),
        "{}",
        p.report()
    );
    eprintln!(
        "max-lifetime 100 ms: burst {burst:?}; delivered ordered {ord_got}, unordered \
         {unord_got} of {COUNT} + 20; oldest delivered {ord_age:?} / {unord_age:?}; link {:?}",
        p.link.stats
    );
}
