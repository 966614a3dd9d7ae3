//! Plumbing shared by the objects that run on the caller's loop: callbacks
//! posted only while their handle is live, and the one loop timer each
//! caller-driven object re-arms for its next deadline.

use super::handle::{self, Handle};
use crate::driver::clock;
use crate::driver::loop_queue::LoopQueue;
use libc::c_void;
use std::any::Any;
use std::time::Instant;
use xbase::sys::{xEventLoopTimerAfter, xEventLoopTimerCancel};
use xbase::types::{xEventLoop, xEventTimer};

/// Posts `call` to `queue`; it runs on the loop thread only if `h` is
/// still live then.
pub fn post_if_live<T: Any + Send + Sync>(
    queue: &LoopQueue,
    h: Handle<T>,
    call: impl FnOnce() + Send + 'static,
) {
    queue.post(Box::new(move || {
        if handle::is_live(h) {
            call();
        }
    }));
}

/// Milliseconds from now until `deadline` (0 if it has passed), truncated.
pub fn ms_until(deadline: Instant) -> u64 {
    let wait = deadline.saturating_duration_since(clock::now());
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
}

/// The one-shot timer of the caller's loop that an object keeps armed for
/// its next deadline. The argument of its callback is the object's handle,
/// looked up when it fires.
pub struct LoopTimer {
    lp: usize,
    /// The armed timer (0: none).
    armed: usize,
}

impl LoopTimer {
    /// No timer armed yet on `lp`, which must stay live while the object
    /// owning this timer is.
    pub fn new(lp: xEventLoop) -> Self {
        LoopTimer {
            lp: lp as usize,
            armed: 0,
        }
    }

    /// Cancels the armed timer, if any.
    pub fn cancel(&mut self) {
        if self.armed != 0 {
            // SAFETY: a timer we armed on this loop and have not seen fire;
            // the loop is live while the object owning the timer is.
            unsafe { xEventLoopTimerCancel(self.lp as xEventLoop, self.armed as xEventTimer) };
            self.armed = 0;
        }
    }

    /// The timer fired: the loop forgets it.
    pub fn fired(&mut self) {
        self.armed = 0;
    }

    /// Cancels the armed timer, then arms one calling `on_timer(arg)` after
    /// `ms` milliseconds (none for `None`).
    pub fn rearm<T>(
        &mut self,
        ms: Option<u64>,
        on_timer: unsafe extern "C" fn(*mut c_void),
        arg: Handle<T>,
    ) {
        self.cancel();
        let Some(ms) = ms else { return };
        // SAFETY: the loop is live while the object owning the timer is;
        // the argument is a handle, looked up when the timer fires.
        let t = unsafe {
            xEventLoopTimerAfter(self.lp as xEventLoop, Some(on_timer), arg.as_ptr(), ms)
        };
        self.armed = t as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_a_deadline() {
        let now = clock::now();
        assert_eq!(ms_until(now), 0);
        assert!(ms_until(now + std::time::Duration::from_secs(2)) <= 2000);
        assert!(ms_until(now + std::time::Duration::from_secs(2)) >= 1900);
    }
}
