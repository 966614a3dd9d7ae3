//! Per-`xEventLoop` event queues: how work reaches the caller's loop thread.
//!
//! Any thread (in practice the I/O thread) posts tasks; the loop thread runs
//! them in a batch when the queue's eventfd, registered once per loop with
//! `xEventAdd`, becomes readable. User callbacks therefore always run on the
//! loop thread, never inside an API call and never on the I/O thread.
//!
//! Tasks are small events (a state change, a candidate, a channel opened);
//! payloads are not queued here: a channel with received messages has one
//! delivery task, which pulls them from its PeerConnection's bounded queue
//! (README, "Receive flow control"). So the queue stays short even when the loop
//! stalls.

use crate::idhash::IdMap;
use parking_lot::Mutex;
use std::ffi::c_void;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use xbase::ffi_boundary;
use xbase::types::{xEventLoop, xEventMask, xEventSource, xEvent_Read};

/// A unit of work for the loop thread.
pub type Task = Box<dyn FnOnce() + Send>;

struct State {
    tasks: Vec<Task>,
    /// Objects bound to this loop; the queue is torn down at zero.
    users: usize,
    /// Set when torn down: the eventfd is closed and must not be written.
    closed: bool,
    source: usize,
}

/// The queue of one caller loop.
pub struct LoopQueue {
    lp: usize,
    efd: RawFd,
    state: Mutex<State>,
}

/// Live queues by loop handle.
static QUEUES: Mutex<Option<IdMap<usize, Arc<LoopQueue>>>> = Mutex::new(None);

impl LoopQueue {
    /// Binds one more object to `lp` and returns the loop's queue, creating
    /// and registering it with `xEventAdd` on first use. Call on the loop
    /// thread (the API contract of every create function).
    ///
    /// # Safety
    /// `lp` must be a live event loop of the linked libxbase.
    pub unsafe fn attach(lp: xEventLoop) -> io::Result<Arc<LoopQueue>> {
        if lp.is_null() {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let mut queues = QUEUES.lock();
        let map = queues.get_or_insert_with(IdMap::default);
        if let Some(q) = map.get(&(lp as usize)) {
            q.state.lock().users += 1;
            return Ok(q.clone());
        }
        // SAFETY: plain syscall; the fd is owned by the queue from here on.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `lp` is live (caller contract); `on_wake` only uses `arg`
        // as a lookup key.
        let source = unsafe { xbase::sys::xEventAdd(lp, efd, xEvent_Read, Some(on_wake), lp) };
        if source.is_null() {
            // SAFETY: efd is ours and not registered anywhere.
            unsafe { libc::close(efd) };
            return Err(io::Error::other("xEventAdd failed"));
        }
        let q = Arc::new(LoopQueue {
            lp: lp as usize,
            efd,
            state: Mutex::new(State {
                tasks: Vec::new(),
                users: 1,
                closed: false,
                source: source as usize,
            }),
        });
        map.insert(lp as usize, q.clone());
        Ok(q)
    }

    /// Unbinds one object. The last one unregisters the eventfd from the loop
    /// and closes it; tasks still queued are dropped (their objects are gone).
    /// Call on the loop thread; safe from inside a task.
    pub fn detach(&self) {
        let mut queues = QUEUES.lock();
        let mut st = self.state.lock();
        st.users = st.users.saturating_sub(1);
        if st.users > 0 || st.closed {
            return;
        }
        st.closed = true;
        let dropped = std::mem::take(&mut st.tasks);
        let source = st.source as xEventSource;
        drop(st);
        if let Some(map) = queues.as_mut() {
            map.remove(&self.lp);
        }
        drop(queues);
        // SAFETY: the source was returned by xEventAdd for this loop and is
        // deleted once; the fd is ours.
        unsafe {
            xbase::sys::xEventDel(self.lp as xEventLoop, source);
            libc::close(self.efd);
        }
        drop(dropped);
    }

    /// Queues `task` for the loop thread and wakes the loop if needed.
    /// Callable from any thread. Returns false if the queue is torn down.
    pub fn post(&self, task: Task) -> bool {
        let mut st = self.state.lock();
        if st.closed {
            return false;
        }
        let was_empty = st.tasks.is_empty();
        st.tasks.push(task);
        if was_empty {
            let one: u64 = 1;
            // SAFETY: efd is open while !closed, and we hold the lock that
            // `detach` takes before closing it.
            unsafe { libc::write(self.efd, (&one as *const u64).cast(), 8) };
        }
        true
    }

    /// Runs every queued task once, in order. Tasks posted meanwhile wake the
    /// loop again (the eventfd is edge-triggered and was drained first).
    fn run_batch(&self) -> usize {
        let batch = {
            let mut st = self.state.lock();
            if st.closed {
                return 0;
            }
            let mut counter: u64 = 0;
            // SAFETY: efd is open while !closed (lock held).
            unsafe { libc::read(self.efd, (&mut counter as *mut u64).cast(), 8) };
            std::mem::take(&mut st.tasks)
        };
        let n = batch.len();
        for task in batch {
            task();
        }
        n
    }

    /// The loop this queue belongs to.
    pub fn event_loop(&self) -> xEventLoop {
        self.lp as xEventLoop
    }

    /// Number of objects bound to this queue.
    pub fn users(&self) -> usize {
        self.state.lock().users
    }

    /// Tasks waiting for the loop thread. Received messages are not tasks
    /// (each channel has at most one delivery task that pulls them), so this
    /// stays small however far the loop falls behind.
    pub fn pending(&self) -> usize {
        self.state.lock().tasks.len()
    }
}

/// Tasks waiting for the loop thread of `lp` (0 if it has no queue); for
/// tests and diagnostics.
pub fn pending_tasks(lp: xEventLoop) -> usize {
    QUEUES
        .lock()
        .as_ref()
        .and_then(|m| m.get(&(lp as usize)).cloned())
        .map_or(0, |q| q.pending())
}

/// The `xEventAdd` callback of every queue's eventfd (on the loop thread).
unsafe extern "C" fn on_wake(_fd: libc::c_int, _mask: xEventMask, arg: *mut c_void) {
    ffi_boundary!((), {
        let q = QUEUES
            .lock()
            .as_ref()
            .and_then(|m| m.get(&(arg as usize)).cloned());
        if let Some(q) = q {
            q.run_batch();
        }
    })
}
