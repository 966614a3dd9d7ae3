//! The STUN request retransmission schedule (RFC 5389 §7.2.1), sans-IO.
//!
//! [`Backoff`] is the bare step machine: it says how long to wait after the
//! first send and, each time that wait elapses, whether to retransmit (and
//! how long to wait next) or to give up. The C transaction manager drives it
//! with relative timers on the caller's loop. [`RetransmitTimer`] adds
//! absolute deadlines on any clock (`Instant`, or a virtual `Duration`
//! clock in tests), for sans-IO users with `poll_timeout`/`handle_timeout`.

use std::ops::Add;
use std::time::Duration;

/// Retransmission parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetransmitConfig {
    /// Wait after the first send (RTO); doubled after each retransmission.
    pub initial_rto: Duration,
    /// Retransmissions after the first send before giving up.
    pub max_retransmits: u32,
    /// Wait after the last retransmission, as a multiple of `initial_rto`
    /// (RFC 5389's Rm).
    pub final_wait_factor: u32,
}

impl RetransmitConfig {
    /// The xKit schedule of the C API: 500 ms doubling, 7 retransmissions
    /// (at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5, 63.5 s), timeout at 127.5 s.
    pub const XKIT: RetransmitConfig = RetransmitConfig {
        initial_rto: Duration::from_millis(500),
        max_retransmits: 7,
        final_wait_factor: 128,
    };

    /// RFC 5389 defaults: Rc = 7 sends in all (6 retransmissions), Rm = 16,
    /// so the transaction times out 39.5 s after the first send.
    pub const RFC5389: RetransmitConfig = RetransmitConfig {
        initial_rto: Duration::from_millis(500),
        max_retransmits: 6,
        final_wait_factor: 16,
    };
}

impl Default for RetransmitConfig {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn default() -> Self {
        RetransmitConfig::XKIT
    }
}

/// What to do when the current wait has elapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send the request again, then wait this long.
    Retransmit(Duration),
    /// No response in time: the transaction failed.
    TimedOut,
}

/// The retransmission step machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    cfg: RetransmitConfig,
    retransmits: u32,
    rto: Duration,
    finished: bool,
}

impl Backoff {
    /// The schedule of a request that has just been sent for the first time.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(cfg: RetransmitConfig) -> Backoff {
        Backoff {
            cfg,
            retransmits: 0,
            rto: cfg.initial_rto,
            finished: false,
        }
    }

    /// The current wait: the initial RTO until the first step.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn current_wait(&self) -> Duration {
        self.rto
    }

    /// Retransmissions done so far.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn retransmits(&self) -> u32 {
        self.retransmits
    }

    /// Whether the schedule has timed out.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Called when the current wait has elapsed. After [`Step::TimedOut`]
    /// it keeps answering `TimedOut`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn on_elapsed(&mut self) -> Step {
        if self.finished || self.retransmits >= self.cfg.max_retransmits {
            self.finished = true;
            return Step::TimedOut;
        }
        self.retransmits += 1;
        self.rto = if self.retransmits == self.cfg.max_retransmits {
            self.cfg
                .initial_rto
                .saturating_mul(self.cfg.final_wait_factor)
        } else {
            self.rto.saturating_mul(2)
        };
        Step::Retransmit(self.rto)
    }
}

/// What [`RetransmitTimer::handle_timeout`] asks the caller to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerAction {
    /// Nothing is due yet.
    Wait,
    /// Send the request again now.
    Retransmit,
    /// The transaction failed.
    TimedOut,
}

/// A [`Backoff`] with absolute deadlines on clock `T` (`Instant` by default;
/// any `Copy + Ord` type that adds a `Duration`, such as `Duration` itself
/// for a virtual clock). Deadlines are counted from the previous deadline,
/// not from when the caller got round to handling it, so late handling does
/// not stretch the schedule.
#[derive(Debug, Clone)]
pub struct RetransmitTimer<T = std::time::Instant> {
    backoff: Backoff,
    deadline: Option<T>,
}

impl<T> RetransmitTimer<T>
where
    T: Copy + Ord + Add<Duration, Output = T>,
{
    /// Starts the schedule for a request first sent at `now`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(cfg: RetransmitConfig, now: T) -> Self {
        let backoff = Backoff::new(cfg);
        let deadline = Some(now + backoff.current_wait());
        RetransmitTimer { backoff, deadline }
    }

    /// When [`RetransmitTimer::handle_timeout`] next has something to do;
    /// `None` once timed out.
    pub fn poll_timeout(&self) -> Option<T> {
        self.deadline
    }

    /// Advances the schedule to `now`. Handles at most one deadline per
    /// call: call again while `poll_timeout() <= now`.
    pub fn handle_timeout(&mut self, now: T) -> TimerAction {
        match self.deadline {
            Some(d) if now >= d => match self.backoff.on_elapsed() {
                Step::Retransmit(wait) => {
                    self.deadline = Some(d + wait);
                    TimerAction::Retransmit
                }
                Step::TimedOut => {
                    self.deadline = None;
                    TimerAction::TimedOut
                }
            },
            _ => TimerAction::Wait,
        }
    }

    /// Retransmissions done so far.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn retransmits(&self) -> u32 {
        self.backoff.retransmits()
    }

    /// Whether the transaction has timed out.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_timed_out(&self) -> bool {
        self.backoff.is_finished()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Runs the timer on a virtual clock, jumping from deadline to deadline,
    /// and returns the retransmission times and the timeout time.
    fn timeline(cfg: RetransmitConfig) -> (Vec<Duration>, Duration) {
        let mut t = RetransmitTimer::new(cfg, Duration::ZERO);
        let mut sends = Vec::new();
        loop {
            let now = t.poll_timeout().expect("a deadline until timeout");
            // Just before the deadline nothing happens.
            assert_eq!(t.handle_timeout(now - ms(1)), TimerAction::Wait);
            match t.handle_timeout(now) {
                TimerAction::Retransmit => sends.push(now),
                TimerAction::TimedOut => return (sends, now),
                TimerAction::Wait => unreachable!("deadline reached"),
            }
        }
    }

    #[test]
    fn xkit_schedule_matches_the_spec_timeline() {
        let (sends, timeout) = timeline(RetransmitConfig::XKIT);
        let expect: Vec<Duration> = [500, 1500, 3500, 7500, 15500, 31500, 63500]
            .into_iter()
            .map(ms)
            .collect();
        assert_eq!(sends, expect);
        assert_eq!(timeout, ms(127_500));
    }

    #[test]
    fn rfc5389_schedule_times_out_at_39_5_s() {
        let (sends, timeout) = timeline(RetransmitConfig::RFC5389);
        assert_eq!(sends.len(), 6);
        assert_eq!(sends.last(), Some(&ms(31_500)));
        assert_eq!(timeout, ms(39_500));
    }

    #[test]
    fn parameters_are_honoured() {
        let cfg = RetransmitConfig {
            initial_rto: ms(100),
            max_retransmits: 2,
            final_wait_factor: 1,
        };
        let (sends, timeout) = timeline(cfg);
        assert_eq!(sends, [ms(100), ms(300)]);
        assert_eq!(timeout, ms(400));
        let none = RetransmitConfig {
            max_retransmits: 0,
            ..cfg
        };
        assert_eq!(timeline(none), (vec![], ms(100)));
    }

    #[test]
    fn late_handling_does_not_stretch_the_schedule() {
        let mut t = RetransmitTimer::new(RetransmitConfig::XKIT, Duration::ZERO);
        // Handled 2.2 s late: two deadlines (0.5 s and 1.5 s) are due.
        assert_eq!(t.handle_timeout(ms(2200)), TimerAction::Retransmit);
        assert_eq!(t.poll_timeout(), Some(ms(1500)));
        assert_eq!(t.handle_timeout(ms(2200)), TimerAction::Retransmit);
        assert_eq!(t.poll_timeout(), Some(ms(3500)));
        assert_eq!(t.handle_timeout(ms(2200)), TimerAction::Wait);
        assert_eq!(t.retransmits(), 2);
        assert!(!t.is_timed_out());
    }

    #[test]
    fn backoff_steps_then_stays_timed_out() {
        let mut b = Backoff::new(RetransmitConfig::XKIT);
        assert_eq!(b.current_wait(), ms(500));
        let waits: Vec<Step> = (0..8).map(|_| b.on_elapsed()).collect();
        assert_eq!(waits[0], Step::Retransmit(ms(1000)));
        assert_eq!(waits[6], Step::Retransmit(ms(64_000)));
        assert_eq!(waits[7], Step::TimedOut);
        assert_eq!(b.on_elapsed(), Step::TimedOut);
        assert!(b.is_finished());
        assert_eq!(b.retransmits(), 7);
    }
}
