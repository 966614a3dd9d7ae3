//! Packetization-layer path MTU discovery for the DTLS/SCTP stack
//! (RFC 8899, as RFC 8261 §5 asks): which datagram size to probe next, and
//! which size is in effect. Sans-IO and clock-free; the PeerConnection
//! sends the probes through its ICE agent and applies the sizes to DTLS and
//! SCTP.
//!
//! * Start at [`BASE_DATAGRAM`] (1200 bytes, the DTLS default, RFC 8899's
//!   BASE_PLPMTU for UDP-encapsulated stacks). Once SCTP is up, climb a
//!   ladder of common path sizes (UDP payloads): 1472 (1500-byte Ethernet),
//!   8972 (9000-byte jumbo frames) and [`MAX_DATAGRAM`] (one full DTLS
//!   record), 20 bytes less each over IPv6. Every acknowledged rung is
//!   applied at once; the first lost rung ends the search.
//! * SCTP cuts DATA chunks for the base size for the whole association
//!   (see `SctpConfig::mtu`); a larger size bundles several chunks per
//!   packet. So falling back after a black hole never strands a chunk that
//!   only a larger datagram could carry, at the price that sizes below two
//!   chunks (about 2300 bytes) carry no more data than the base size.
//! * Sizes above the Ethernet rung are used only once the peer has sent us
//!   probes that large: other stacks may read no more than about 1500
//!   bytes per record (aiortc reads 1500), while a stack that discovers
//!   large sizes for itself reads them. Probing them is harmless either way.
//! * Every [`PathMtuConfig::raise_interval`] (RFC 8899's PMTU_RAISE_TIMER,
//!   10 min) the next rung above the probed size is tried again.
//! * Black holes: while above the base size, the size in effect is
//!   confirmed every [`CONFIRM_INTERVAL`], and at once when data stalls
//!   (large datagrams sent and nothing heard back for [`STALL`]). A lost
//!   confirmation drops to the base size and starts the search again after
//!   [`SEARCH_HOLDOFF`]. A stall whose confirmation is answered means the
//!   path carries the size but the peer does not take our records: the size
//!   drops to the Ethernet rung (the base if already there) for the rest of
//!   the connection.

use std::time::{Duration, Instant};

/// The datagram size before and without discovery.
pub const BASE_DATAGRAM: usize = crate::dtls::DEFAULT_MTU;
/// The largest datagram probed: one DTLS record with the full 2^14 bytes
/// of plaintext and the largest record overhead of the offered suites
/// (13-byte header, 8-byte explicit nonce, 16-byte tag), rounded up to a
/// multiple of 4 (STUN probes come in 4-byte steps). One SCTP packet must
/// fit one record, so larger datagrams would not carry larger packets.
pub const MAX_DATAGRAM: usize = 16_424;
/// Between confirmations of a size above the base.
pub const CONFIRM_INTERVAL: Duration = Duration::from_secs(30);
/// Large datagrams unanswered for this long make the current size suspect.
pub const STALL: Duration = Duration::from_secs(1);
/// After a black hole, the search restarts this much later.
pub const SEARCH_HOLDOFF: Duration = Duration::from_secs(5);

const LADDER_V4: [usize; 2] = [1472, 8972];
const LADDER_V6: [usize; 2] = [1452, 8952];

/// Path MTU discovery settings of a PeerConnection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMtuConfig {
    /// Probe and use larger datagrams than 1200 bytes (default true).
    pub enabled: bool,
    /// The largest UDP payload tried, between 1200 and [`MAX_DATAGRAM`]
    /// (default [`MAX_DATAGRAM`]).
    pub max_datagram: usize,
    /// How often a size above the current one is tried again (default
    /// 10 min).
    pub raise_interval: Duration,
}

impl Default for PathMtuConfig {
    fn default() -> Self {
        PathMtuConfig {
            enabled: true,
            max_datagram: MAX_DATAGRAM,
            raise_interval: Duration::from_secs(600),
        }
    }
}

/// Why a probe is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A rung above the probed size.
    Search,
    /// The size in effect again, on the confirmation timer.
    Confirm,
    /// The size in effect again, because data stalled.
    Stall,
}

/// Counters, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathMtuStats {
    pub probes_sent: u64,
    pub probes_lost: u64,
    /// Falls back to the base size after a lost confirmation (the path
    /// stopped carrying the size).
    pub black_holes: u64,
    /// Falls back after data stalled while probes still passed (the peer
    /// does not take such records); sizes above the Ethernet rung are not
    /// used again on this connection.
    pub data_stalls: u64,
}

/// The discovery state of one PeerConnection.
#[derive(Debug, Clone)]
pub(crate) struct PathMtu {
    cfg: PathMtuConfig,
    ladder: Vec<usize>,
    /// The largest size the path acknowledged (the ladder position).
    probed: usize,
    /// The size in effect: `probed` within what the peer is known to read.
    current: usize,
    /// The largest probe the peer sent us (it reads records that large).
    peer_limit: usize,
    /// No size above this after data stalled.
    ceiling: usize,
    started: bool,
    /// When the next rung above `probed` is tried.
    raise_at: Option<Instant>,
    /// When `current` (above the base) is confirmed.
    confirm_at: Option<Instant>,
    out: Option<(usize, Purpose)>,
    /// Datagrams above the base size went out since the peer was last
    /// heard, and since when that is known.
    large_unanswered: bool,
    large_since: Option<Instant>,
    stats: PathMtuStats,
}

impl PathMtu {
    pub fn new(mut cfg: PathMtuConfig) -> PathMtu {
        // Built without the `pmtu` feature: never probes, stays at the base.
        cfg.enabled &= cfg!(feature = "pmtu");
        cfg.max_datagram = cfg.max_datagram.clamp(BASE_DATAGRAM, MAX_DATAGRAM) / 4 * 4;
        PathMtu {
            cfg,
            ladder: Vec::new(),
            probed: BASE_DATAGRAM,
            current: BASE_DATAGRAM,
            peer_limit: 0,
            ceiling: usize::MAX,
            started: false,
            raise_at: None,
            confirm_at: None,
            out: None,
            large_unanswered: false,
            large_since: None,
            stats: PathMtuStats::default(),
        }
    }

    /// Whether a search was started (a path is selected).
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The datagram size in effect.
    pub fn current(&self) -> usize {
        self.current
    }

    pub fn stats(&self) -> PathMtuStats {
        self.stats
    }

    /// The first rung: the Ethernet size, which every stack reads.
    fn ethernet(&self) -> usize {
        self.ladder.first().copied().unwrap_or(BASE_DATAGRAM)
    }

    /// The largest size the peer is known to read.
    fn allowed(&self) -> usize {
        self.peer_limit.max(self.ethernet()).min(self.ceiling)
    }

    /// Recomputes the size in effect; returns it when it changed.
    fn update(&mut self) -> Option<usize> {
        let before = self.current;
        self.current = self.probed.min(self.allowed()).max(BASE_DATAGRAM);
        if self.current != before {
            log::debug!(target: "pc", "path MTU {before} -> {} bytes", self.current);
        }
        (self.current != before).then_some(self.current)
    }

    /// Starts (or restarts, on a newly selected path) the search from the
    /// base size. Returns the base size when the size in effect was
    /// another (to be applied).
    pub fn start(&mut self, now: Instant, ipv6: bool) -> Option<usize> {
        if !cfg!(feature = "pmtu") || !self.cfg.enabled {
            return None;
        }
        let max = self.cfg.max_datagram;
        let rungs = if ipv6 { LADDER_V6 } else { LADDER_V4 };
        self.ladder = rungs.iter().copied().filter(|&r| r < max).collect();
        if max > BASE_DATAGRAM {
            self.ladder.push(max);
        }
        self.started = true;
        self.raise_at = Some(now);
        self.confirm_at = None;
        self.out = None;
        self.large_unanswered = false;
        self.large_since = None;
        self.probed = BASE_DATAGRAM;
        self.update()
    }

    /// The peer sent us a probe of `size` bytes: sizes up to it may be
    /// used. Returns the new size in effect if it changed.
    pub fn peer_probed(&mut self, size: usize) -> Option<usize> {
        if !cfg!(feature = "pmtu") || size <= self.peer_limit {
            return None;
        }
        self.peer_limit = size;
        if !self.started {
            return None;
        }
        self.update()
    }

    /// The next rung above the probed size.
    fn next_rung(&self) -> Option<usize> {
        let ceiling = self.ceiling;
        self.ladder
            .iter()
            .copied()
            .find(|&r| r > self.probed && r <= ceiling)
    }

    fn raise_due(&self) -> Option<Instant> {
        self.raise_at.filter(|_| self.next_rung().is_some())
    }

    fn stall_due(&self) -> Option<Instant> {
        self.large_since
            .filter(|_| self.current > BASE_DATAGRAM)
            .map(|t| t + STALL)
    }

    fn confirm_due(&self) -> Option<Instant> {
        self.confirm_at.filter(|_| self.current > BASE_DATAGRAM)
    }

    /// When [`due`](Self::due) next has a probe.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.started || self.out.is_some() {
            return None;
        }
        [self.stall_due(), self.confirm_due(), self.raise_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The size to probe now, if one is due. The caller reports with
    /// [`sent`](Self::sent) whether the probe went out.
    pub fn due(&mut self, now: Instant) -> Option<usize> {
        if !self.started || self.out.is_some() {
            return None;
        }
        if self.stall_due().is_some_and(|t| now >= t) {
            self.large_since = None;
            self.large_unanswered = false;
            self.out = Some((self.current, Purpose::Stall));
            return Some(self.current);
        }
        if self.confirm_due().is_some_and(|t| now >= t) {
            self.out = Some((self.current, Purpose::Confirm));
            return Some(self.current);
        }
        if self.raise_due().is_some_and(|t| now >= t) {
            let rung = self.next_rung()?;
            self.out = Some((rung, Purpose::Search));
            return Some(rung);
        }
        None
    }

    /// Whether the probe [`due`](Self::due) returned went out (false: no
    /// usable pair, such as a relayed one; tried again later).
    pub fn sent(&mut self, now: Instant, ok: bool) {
        if ok {
            self.stats.probes_sent += 1;
            return;
        }
        match self.out.take() {
            Some((_, Purpose::Confirm | Purpose::Stall)) => {
                self.confirm_at = Some(now + CONFIRM_INTERVAL);
            }
            Some((_, Purpose::Search)) => self.raise_at = Some(now + self.cfg.raise_interval),
            None => {}
        }
    }

    /// A probe finished. Returns the new size to apply, if it changed.
    pub fn on_result(&mut self, now: Instant, size: usize, acked: bool) -> Option<usize> {
        let (out, purpose) = self.out?;
        if out != size {
            return None;
        }
        self.out = None;
        if !acked {
            self.stats.probes_lost += 1;
        }
        match (purpose, acked) {
            (Purpose::Search, true) => {
                // Keep climbing at once.
                self.probed = size;
                self.raise_at = Some(now);
                self.confirm_at = Some(now + CONFIRM_INTERVAL);
                self.update()
            }
            (Purpose::Search, false) => {
                self.raise_at = Some(now + self.cfg.raise_interval);
                None
            }
            (Purpose::Confirm, true) => {
                self.confirm_at = Some(now + CONFIRM_INTERVAL);
                None
            }
            (Purpose::Stall, true) => {
                // The path carries the size but the peer did not answer our
                // data: it does not take such records. Back to what every
                // stack reads, for good.
                log::info!(target: "pc", "the peer does not read {}-byte records: capped", self.current);
                self.stats.data_stalls += 1;
                self.ceiling = if self.current > self.ethernet() {
                    self.ethernet()
                } else {
                    BASE_DATAGRAM
                };
                self.confirm_at = Some(now + CONFIRM_INTERVAL);
                self.update()
            }
            (Purpose::Confirm | Purpose::Stall, false) => {
                // A black hole: the path no longer carries the size.
                log::info!(target: "pc", "path MTU black hole: {size}-byte probes no longer pass");
                self.stats.black_holes += 1;
                self.probed = BASE_DATAGRAM;
                self.confirm_at = None;
                self.raise_at = Some(now + SEARCH_HOLDOFF);
                self.large_unanswered = false;
                self.large_since = None;
                self.update()
            }
        }
    }

    /// A DTLS datagram of `len` bytes went to the peer.
    pub fn on_sent(&mut self, len: usize) {
        if len > BASE_DATAGRAM {
            self.large_unanswered = true;
        }
    }

    /// A DTLS datagram arrived from the peer.
    pub fn on_received(&mut self) {
        self.large_unanswered = false;
        self.large_since = None;
    }

    /// Starts the stall clock for large datagrams sent since the peer was
    /// last heard.
    pub fn tick(&mut self, now: Instant) {
        if self.large_unanswered && self.large_since.is_none() && self.current > BASE_DATAGRAM {
            self.large_since = Some(now);
        }
    }
}

#[cfg(all(test, feature = "pmtu"))]
mod tests {
    use super::*;

    fn t0() -> Instant {
        #[allow(clippy::disallowed_methods)]
        Instant::now()
    }

    /// Runs the search against a path carrying datagrams up to `path`.
    fn settle(p: &mut PathMtu, now: Instant, path: usize) -> Vec<usize> {
        let mut probed = Vec::new();
        while let Some(size) = p.due(now) {
            p.sent(now, true);
            probed.push(size);
            p.on_result(now, size, size <= path);
        }
        probed
    }

    #[test]
    fn climbs_the_ladder_and_stops_at_the_first_loss() {
        let now = t0();
        let mut p = PathMtu::new(PathMtuConfig::default());
        assert_eq!(p.due(now), None, "nothing before start");
        assert_eq!(p.start(now, false), None);
        assert_eq!(settle(&mut p, now, 1500), vec![1472, 8972]);
        assert_eq!(p.current(), 1472);
        let mut r = PathMtu::new(PathMtuConfig::default());
        r.start(now, false);
        assert_eq!(settle(&mut r, now, 1300), vec![1472]);
        assert_eq!(r.current(), BASE_DATAGRAM);
        assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(600)));
    }

    #[test]
    fn sizes_above_ethernet_wait_for_the_peers_own_probes() {
        let now = t0();
        let mut q = PathMtu::new(PathMtuConfig::default());
        q.start(now, true);
        assert_eq!(settle(&mut q, now, 65535), vec![1452, 8952, MAX_DATAGRAM]);
        assert_eq!(q.current(), 1452, "the peer never probed: Ethernet size");
        assert_eq!(q.peer_probed(8952), Some(8952));
        assert_eq!(q.peer_probed(MAX_DATAGRAM), Some(MAX_DATAGRAM));
        assert_eq!(q.peer_probed(1000), None);
        assert_eq!(q.poll_timeout(), Some(now + CONFIRM_INTERVAL));
    }

    #[test]
    fn disabled_or_capped() {
        let now = t0();
        let mut p = PathMtu::new(PathMtuConfig {
            enabled: false,
            ..PathMtuConfig::default()
        });
        p.start(now, false);
        assert_eq!(p.due(now), None);
        assert_eq!(p.poll_timeout(), None);
        let mut q = PathMtu::new(PathMtuConfig {
            max_datagram: 4001,
            ..PathMtuConfig::default()
        });
        q.peer_probed(MAX_DATAGRAM);
        q.start(now, false);
        assert_eq!(settle(&mut q, now, 65535), vec![1472, 4000]);
        assert_eq!(q.current(), 4000);
    }

    #[test]
    fn lost_confirmation_falls_back_and_searches_again() {
        let now = t0();
        let mut p = PathMtu::new(PathMtuConfig::default());
        p.peer_probed(MAX_DATAGRAM);
        p.start(now, false);
        settle(&mut p, now, 9000);
        assert_eq!(p.current(), 8972);
        // Large datagrams go unanswered: a probe goes out after STALL.
        p.on_sent(8000);
        let t = now + Duration::from_millis(10);
        p.tick(t);
        assert_eq!(p.due(t), None);
        assert_eq!(p.poll_timeout(), Some(t + STALL));
        let t = t + STALL;
        assert_eq!(p.due(t), Some(8972));
        p.sent(t, true);
        assert_eq!(p.on_result(t, 8972, false), Some(BASE_DATAGRAM));
        assert_eq!(p.stats().black_holes, 1);
        assert_eq!(p.poll_timeout(), Some(t + SEARCH_HOLDOFF));
        let t = t + SEARCH_HOLDOFF;
        assert_eq!(settle(&mut p, t, 1500), vec![1472, 8972]);
        assert_eq!(p.current(), 1472);
        // An answer clears the stall clock.
        p.on_sent(1400);
        p.tick(t);
        p.on_received();
        assert_eq!(p.poll_timeout(), Some(t + CONFIRM_INTERVAL));
    }

    #[test]
    fn data_stall_with_the_path_intact_caps_at_ethernet_for_good() {
        let now = t0();
        let mut p = PathMtu::new(PathMtuConfig::default());
        p.peer_probed(MAX_DATAGRAM);
        p.start(now, false);
        settle(&mut p, now, 65535);
        assert_eq!(p.current(), MAX_DATAGRAM);
        p.on_sent(MAX_DATAGRAM);
        p.tick(now);
        let t = now + STALL;
        assert_eq!(p.due(t), Some(MAX_DATAGRAM));
        p.sent(t, true);
        assert_eq!(p.on_result(t, MAX_DATAGRAM, true), Some(1472));
        assert_eq!(p.stats().data_stalls, 1);
        // Nothing above the cap is searched again, even after the raise
        // timer; confirmations continue.
        let later = t + Duration::from_secs(3600);
        assert_eq!(settle(&mut p, later, 65535), vec![1472]);
        assert_eq!(p.current(), 1472);
        assert_eq!(p.peer_probed(MAX_DATAGRAM + 4), None);
    }
}
