//! Plumbing shared by the C transports that run on the caller's loop
//! (`dtls_transport`, `sctp_transport`): their handle registry, in which a
//! handle names either an object of the module or the view of a
//! PeerConnection's layer, callbacks posted only while the handle is live,
//! and the one loop timer each object re-arms for its next deadline.

use crate::driver::clock;
use crate::driver::loop_queue::LoopQueue;
use crate::driver::registry::Registry;
use libc::c_void;
use std::sync::Arc;
use std::time::Instant;
use xbase::sys::{xEventLoopTimerAfter, xEventLoopTimerCancel};
use xbase::types::{xEventLoop, xEventTimer};

/// What a transport handle names.
pub(crate) enum Handle<T> {
    /// An object created by the module's `Create`.
    Own(Box<T>),
    /// The layer of the PeerConnection with this handle token.
    Pc(usize),
}

/// The registry of one transport kind.
pub(crate) struct Handles<T> {
    reg: Registry<Handle<T>>,
}

impl<T> Handles<T> {
    pub(crate) const fn new() -> Self {
        Handles {
            reg: Registry::new(),
        }
    }

    /// Registers an object of the module and returns its handle.
    pub(crate) fn insert_own(&self, obj: T) -> *mut c_void {
        self.reg.insert(Arc::new(Handle::Own(Box::new(obj))))
    }

    /// Registers the view of a PeerConnection's layer.
    pub(crate) fn register_pc_view(&self, pc: usize) -> usize {
        self.reg.insert(Arc::new(Handle::Pc(pc))) as usize
    }

    /// Makes a handle stale (a view, or an object whose creation failed).
    pub(crate) fn unregister(&self, handle: usize) {
        self.reg.remove(handle as *const c_void);
    }

    pub(crate) fn is_live(&self, handle: usize) -> bool {
        self.reg.get(handle as *const c_void).is_some()
    }

    /// What `handle` names; `None` for NULL, stale and foreign handles.
    pub(crate) fn get(&self, handle: *const c_void) -> Option<Arc<Handle<T>>> {
        self.reg.get(handle)
    }

    /// Runs `f` on an object of the module; `view` is returned for the view
    /// of a PeerConnection's layer, `dead` for NULL, stale and foreign
    /// handles.
    pub(crate) fn with_own<R>(
        &self,
        handle: *const c_void,
        dead: R,
        view: R,
        f: impl FnOnce(&T) -> R,
    ) -> R {
        match self.reg.get(handle).as_deref() {
            Some(Handle::Own(obj)) => f(obj),
            Some(Handle::Pc(_)) => view,
            None => dead,
        }
    }

    /// Unregisters an object of the module and runs `f` on it; views and
    /// NULL, stale and foreign handles are left as they are.
    pub(crate) fn destroy_own(&self, handle: *const c_void, f: impl FnOnce(&T)) {
        if !matches!(self.reg.get(handle).as_deref(), Some(Handle::Own(_))) {
            return;
        }
        if let Some(Handle::Own(obj)) = self.reg.remove(handle).as_deref() {
            f(obj);
        }
    }
}

impl<T: Send + Sync + 'static> Handles<T> {
    /// Posts `call` to `queue`; it runs on the loop thread only if `handle`
    /// is still live then.
    pub(crate) fn post_if_live(
        &'static self,
        queue: &LoopQueue,
        handle: usize,
        call: impl FnOnce() + Send + 'static,
    ) {
        queue.post(Box::new(move || {
            if self.is_live(handle) {
                call();
            }
        }));
    }
}

/// Milliseconds from now until `deadline` (0 if it has passed), truncated.
pub(crate) fn ms_until(deadline: Instant) -> u64 {
    let wait = deadline.saturating_duration_since(clock::now());
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
}

/// The one-shot timer of the caller's loop that an object keeps armed for
/// its next deadline. The argument of its callback is the object's handle
/// token, looked up when it fires.
pub(crate) struct LoopTimer {
    lp: usize,
    /// The armed timer (0: none).
    armed: usize,
}

impl LoopTimer {
    /// No timer armed yet on `lp`, which must stay live while the object
    /// owning this timer is.
    pub(crate) fn new(lp: xEventLoop) -> Self {
        LoopTimer {
            lp: lp as usize,
            armed: 0,
        }
    }

    /// Cancels the armed timer, if any.
    pub(crate) fn cancel(&mut self) {
        if self.armed != 0 {
            // SAFETY: a timer we armed on this loop and have not seen fire;
            // the loop is live while the object owning the timer is.
            unsafe { xEventLoopTimerCancel(self.lp as xEventLoop, self.armed as xEventTimer) };
            self.armed = 0;
        }
    }

    /// The timer fired: the loop forgets it.
    pub(crate) fn fired(&mut self) {
        self.armed = 0;
    }

    /// Cancels the armed timer, then arms one calling `on_timer(handle)`
    /// after `ms` milliseconds (none for `None`).
    pub(crate) fn rearm(
        &mut self,
        ms: Option<u64>,
        on_timer: unsafe extern "C" fn(*mut c_void),
        handle: usize,
    ) {
        self.cancel();
        let Some(ms) = ms else { return };
        // SAFETY: the loop is live while the object owning the timer is;
        // the argument is a handle token, looked up when the timer fires.
        let t = unsafe {
            xEventLoopTimerAfter(
                self.lp as xEventLoop,
                Some(on_timer),
                handle as *mut c_void,
                ms,
            )
        };
        self.armed = t as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_view_and_dead_handles() {
        static H: Handles<u32> = Handles::new();
        let own = H.insert_own(7);
        let view = H.register_pc_view(42);
        let with = |h: *const c_void| H.with_own(h, -1, -2, |v| i64::from(*v));
        assert_eq!(with(own), 7);
        assert_eq!(with(view as *const c_void), -2);
        assert_eq!(with(std::ptr::null()), -1);
        // Destroy ignores views and unknown handles, and runs once on its own.
        let mut seen = Vec::new();
        H.destroy_own(view as *const c_void, |v| seen.push(*v));
        H.destroy_own(std::ptr::null(), |v| seen.push(*v));
        assert!(H.is_live(view));
        H.destroy_own(own, |v| seen.push(*v));
        H.destroy_own(own, |v| seen.push(*v));
        assert_eq!(seen, [7]);
        assert!(!H.is_live(own as usize));
        assert_eq!(with(own), -1);
        H.unregister(view);
        assert!(!H.is_live(view));
    }

    #[test]
    fn wait_until_a_deadline() {
        let now = clock::now();
        assert_eq!(ms_until(now), 0);
        assert!(ms_until(now + std::time::Duration::from_secs(2)) <= 2000);
        assert!(ms_until(now + std::time::Duration::from_secs(2)) >= 1900);
    }
}
