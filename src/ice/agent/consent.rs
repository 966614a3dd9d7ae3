//! Consent freshness (RFC 7675) on the selected pair.
//!
//! * A consent check (a Binding request like a connectivity check) goes out
//!   every `interval` ±20 % (RFC 7675 §5.1 recommends 5 s, randomized
//!   between 0.8 and 1.2 times). When nothing authenticated has been heard
//!   from the remote for half the stale time, checks go out at that faster
//!   cadence, so a dead path is noticed quickly and a revived one at once.
//! * *Stale* (an internal signal, the PeerConnection's "disconnected"): no
//!   authenticated STUN from the remote on the selected pair — neither a
//!   response to our checks nor a request of its own — for `stale_after`.
//! * *Expired*: no success response to our checks for `timeout` (RFC 7675:
//!   30 s). The agent then stops sending and fails.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::stun::TransactionId;

/// How many recent consent transaction ids are remembered for matching
/// late responses.
const REMEMBERED_TXNS: usize = 8;

#[derive(Debug, Clone)]
pub(crate) struct Consent {
    /// When the regular check is due.
    next_check: Instant,
    last_sent: Option<Instant>,
    /// Last authenticated STUN heard from the remote on the selected pair.
    last_rx: Instant,
    /// Consent lapses at this time unless a response arrives before.
    expires: Instant,
    stale: bool,
    /// Recent checks: id and when sent.
    txns: VecDeque<(TransactionId, Instant)>,
}

impl Consent {
    /// Consent for a pair selected at `now` (the check that selected it
    /// was answered, which counts as consent).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(now: Instant, first_interval: Duration, timeout: Duration) -> Consent {
        Consent {
            next_check: now + first_interval,
            last_sent: None,
            last_rx: now,
            expires: now + timeout,
            stale: false,
            txns: VecDeque::new(),
        }
    }

    /// When the next consent check should go out.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn due(&self, stale_after: Duration) -> Instant {
        let quiet_since = self.last_sent.map_or(self.last_rx, |s| s.max(self.last_rx));
        self.next_check.min(quiet_since + stale_after / 2)
    }

    /// When the stale signal fires, unless already stale.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn stale_deadline(&self, stale_after: Duration) -> Option<Instant> {
        (!self.stale).then_some(self.last_rx + stale_after)
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn expires(&self) -> Instant {
        self.expires
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Marks the stale signal as raised.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn set_stale(&mut self) {
        self.stale = true;
    }

    /// A check with id `id` went out at `now`; the next regular one is due
    /// `next_interval` later.
    pub fn on_sent(&mut self, now: Instant, id: TransactionId, next_interval: Duration) {
        self.last_sent = Some(now);
        self.next_check = now + next_interval;
        if self.txns.len() == REMEMBERED_TXNS {
            self.txns.pop_front();
        }
        self.txns.push_back((id, now));
    }

    /// Whether `id` is one of our consent checks.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn owns(&self, id: &TransactionId) -> bool {
        self.txns.iter().any(|(t, _)| t == id)
    }

    /// The round-trip time of check `id` answered at `now`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn rtt_of(&self, id: &TransactionId, now: Instant) -> Option<Duration> {
        self.txns
            .iter()
            .find(|(t, _)| t == id)
            .map(|&(_, sent)| now.saturating_duration_since(sent))
    }

    /// Authenticated STUN heard from the remote. Returns true when this
    /// ends a stale period.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn on_alive(&mut self, now: Instant) -> bool {
        self.last_rx = self.last_rx.max(now);
        std::mem::replace(&mut self.stale, false)
    }

    /// A success response to one of our checks: consent renewed.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn on_granted(&mut self, now: Instant, timeout: Duration) {
        self.expires = self.expires.max(now + timeout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_and_expiry_follow_what_is_heard() {
        // One instant as the origin of a virtual timeline.
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let s = Duration::from_secs(5);
        let mut c = Consent::new(t0, Duration::from_secs(5), Duration::from_secs(30));
        assert_eq!(c.due(s), t0 + Duration::from_millis(2500));
        assert_eq!(c.stale_deadline(s), Some(t0 + s));
        c.on_sent(t0 + Duration::from_secs(1), [1; 12], Duration::from_secs(4));
        assert!(c.owns(&[1; 12]));
        assert_eq!(c.due(s), t0 + Duration::from_millis(3500));
        c.set_stale();
        assert_eq!(c.stale_deadline(s), None);
        assert!(c.on_alive(t0 + Duration::from_secs(6)));
        assert!(!c.on_alive(t0 + Duration::from_secs(6)));
        c.on_granted(t0 + Duration::from_secs(6), Duration::from_secs(30));
        assert_eq!(c.expires(), t0 + Duration::from_secs(36));
    }
}
