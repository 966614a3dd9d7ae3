//! The event loop behind `xbase/event.h`: epoll (edge-triggered) for fds, an
//! eventfd to wake the loop from other threads, a timer heap, a queue of
//! posted functions and signalfds for watched signals.
//!
//! Locking: every loop keeps its state in one mutex. The lock is never held
//! while user code runs, so callbacks may call any function of the API
//! (add, delete, cancel, post, even destroy the loop).
//!
//! Handles: `xEventLoop`, `xEventSource`, `xEventTimer` and `xSocket` are ids
//! from one process-wide counter, never addresses. Loops are found through a
//! registry, sources and timers through their loop's tables, so a stale or
//! foreign handle is simply not found.

pub(crate) mod os;
pub(crate) mod socket;
pub(crate) mod timers;

use crate::types::*;
use libc::{c_int, c_void};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, RwLock};
use timers::{next_id, Timers};

/// A user pointer handed back to C callbacks. The loop never dereferences
/// it; it only crosses threads with the callback it belongs to.
#[derive(Clone, Copy)]
pub(crate) struct UserPtr(pub *mut c_void);
// SAFETY: the pointer is opaque to the loop and only passed back to the C
// callback the user registered with it.
unsafe impl Send for UserPtr {}

pub(crate) type FdFn = unsafe extern "C" fn(c_int, xEventMask, *mut c_void);
pub(crate) type SocketFn = unsafe extern "C" fn(xSocket, xEventMask, *mut c_void);
pub(crate) type TimerFn = unsafe extern "C" fn(*mut c_void);
pub(crate) type SignalFn = unsafe extern "C" fn(c_int, *mut c_void);
pub(crate) type PostFn = unsafe extern "C" fn(*mut c_void);

/// The two readiness directions a source can ask for.
const IO_MASK: xEventMask = xEvent_Read | xEvent_Write;

/// epoll user data: source ids are below 2^63; the high bit marks the
/// loop's own fds.
const INTERNAL: u64 = 1 << 63;
const WAKE_KEY: u64 = INTERNAL;
const SIGNAL_KEY: u64 = INTERNAL | (1 << 62);

/// How many epoll events one `wait` takes at most.
const MAX_EVENTS: usize = 64;

/// What a source calls when ready.
#[derive(Clone, Copy)]
pub(crate) enum Callback {
    /// `xEventAdd`: `fn(fd, mask, arg)`.
    Fd(FdFn),
    /// `xSocketCreate`: `fn(sock, mask, userp)`, or nothing.
    Socket(Option<SocketFn>),
}

/// Idle timeout of one direction of a socket (`xSocketSetTimeout`).
struct Idle {
    timeout_ms: u64,
    last_activity: u64,
    timer: Option<usize>,
}

/// A registered fd.
struct Source {
    fd: RawFd,
    mask: xEventMask,
    callback: Callback,
    arg: UserPtr,
    /// Read and write idle timeouts (sockets only).
    idle: [Option<Idle>; 2],
}

/// What a timer does when it fires.
enum TimerAction {
    User(TimerFn, UserPtr),
    /// The idle timeout of socket `source`, direction `dir` (0 read, 1 write).
    SocketIdle {
        source: usize,
        dir: usize,
    },
}

struct SignalWatch {
    fd: OwnedFd,
    func: SignalFn,
    arg: UserPtr,
}

struct Inner {
    sources: HashMap<usize, Source>,
    /// fd -> id of the live source registered for it.
    fds: HashMap<RawFd, usize>,
    timers: Timers<TimerAction>,
    posts: VecDeque<(PostFn, UserPtr)>,
    signals: HashMap<c_int, SignalWatch>,
    /// A thread is blocked in epoll_wait with a timeout computed from the
    /// state as it was; changes that need an earlier wake-up must wake it.
    polling: bool,
}

pub(crate) struct EventLoop {
    epfd: OwnedFd,
    wakefd: OwnedFd,
    /// A wake-up was written to the eventfd and not consumed yet.
    wake_pending: AtomicBool,
    stop: AtomicBool,
    destroyed: AtomicBool,
    inner: Mutex<Inner>,
}

/// Live loops by handle.
static LOOPS: LazyLock<RwLock<HashMap<usize, Arc<EventLoop>>>> = LazyLock::new(Default::default);

fn loops_read() -> std::sync::RwLockReadGuard<'static, HashMap<usize, Arc<EventLoop>>> {
    LOOPS.read().unwrap_or_else(|e| e.into_inner())
}

fn loops_write() -> std::sync::RwLockWriteGuard<'static, HashMap<usize, Arc<EventLoop>>> {
    LOOPS.write().unwrap_or_else(|e| e.into_inner())
}

/// The handle value of an id.
pub(crate) fn handle(id: usize) -> *mut c_void {
    id as *mut c_void
}

/// The id of a handle (0 for NULL).
pub(crate) fn id_of(h: *mut c_void) -> usize {
    h as usize
}

/// Creates a loop and registers it; returns its handle id.
pub(crate) fn create() -> io::Result<usize> {
    let lp = Arc::new(EventLoop::new()?);
    let id = next_id();
    loops_write().insert(id, lp);
    Ok(id)
}

/// The live loop behind a handle id.
pub(crate) fn lookup(id: usize) -> Option<Arc<EventLoop>> {
    if id == 0 {
        return None;
    }
    loops_read().get(&id).cloned()
}

/// Unregisters and tears down a loop. A `wait` running on it (on this or
/// another thread) stops dispatching and returns; the epoll and wake fds
/// close when it has returned.
pub(crate) fn destroy(id: usize) {
    let Some(lp) = loops_write().remove(&id) else {
        return;
    };
    lp.destroyed.store(true, Ordering::SeqCst);
    let (sources, timers, posts, signals) = {
        let mut inner = lp.lock();
        for src in inner.sources.values() {
            let _ = os::epoll_ctl(&lp.epfd, libc::EPOLL_CTL_DEL, src.fd, 0, 0);
        }
        inner.fds.clear();
        let t = std::mem::replace(&mut inner.timers, Timers::new());
        (
            std::mem::take(&mut inner.sources),
            t,
            std::mem::take(&mut inner.posts),
            std::mem::take(&mut inner.signals),
        )
    };
    // Dropped outside the lock: closes the signalfds; user fds stay open.
    drop((sources, timers, posts, signals));
    let _ = lp.wake();
}

fn epoll_interest(mask: xEventMask) -> u32 {
    let mut ev = libc::EPOLLET as u32;
    if mask & xEvent_Read != 0 {
        ev |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
    }
    if mask & xEvent_Write != 0 {
        ev |= libc::EPOLLOUT as u32;
    }
    ev
}

/// The xEventMask of an epoll event: hang-ups and errors wake both
/// directions so a reader or writer sees them.
fn ready_mask(events: u32) -> xEventMask {
    let read = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
    let write = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;
    let mut m = 0;
    if events & read != 0 {
        m |= xEvent_Read;
    }
    if events & write != 0 {
        m |= xEvent_Write;
    }
    m
}

const DIRS: [xEventMask; 2] = [xEvent_Read, xEvent_Write];

/// One callback to run, copied out of the locked state.
enum Call {
    Fd(FdFn, c_int, xEventMask, UserPtr),
    Socket(SocketFn, usize, xEventMask, UserPtr),
    Timer(TimerFn, UserPtr),
    Signal(SignalFn, c_int, UserPtr),
    Post(PostFn, UserPtr),
}

impl Call {
    /// # Safety
    /// Runs user C code with the pointer the user registered.
    unsafe fn run(self) {
        // SAFETY: each callback and its pointer are the pair the user
        // registered together; the C contract is that the callback accepts
        // that pointer (and the fd, socket handle or signal number we pass),
        // which the caller of `run` relies on (# Safety).
        unsafe {
            match self {
                Call::Fd(f, fd, m, a) => f(fd, m, a.0),
                Call::Socket(f, id, m, a) => f(handle(id), m, a.0),
                Call::Timer(f, a) => f(a.0),
                Call::Signal(f, signo, a) => f(signo, a.0),
                Call::Post(f, a) => f(a.0),
            }
        }
    }
}

/// How `wait_until_stopped` ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    Stopped,
    TimedOut,
    Failed,
}

impl EventLoop {
    fn new() -> io::Result<EventLoop> {
        let epfd = os::epoll_create()?;
        let wakefd = os::eventfd()?;
        // Level-triggered: the wake fd stays readable until drained, so a
        // wake-up written before epoll_wait is never missed.
        os::epoll_ctl(
            &epfd,
            libc::EPOLL_CTL_ADD,
            wakefd.as_raw_fd(),
            libc::EPOLLIN as u32,
            WAKE_KEY,
        )?;
        Ok(EventLoop {
            epfd,
            wakefd,
            wake_pending: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            destroyed: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                sources: HashMap::new(),
                fds: HashMap::new(),
                timers: Timers::new(),
                posts: VecDeque::new(),
                signals: HashMap::new(),
                polling: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_destroyed(&self) -> bool {
        self.destroyed.load(Ordering::SeqCst)
    }

    /// Makes a blocked or the next `wait` return at once.
    pub fn wake(&self) -> io::Result<()> {
        if self.wake_pending.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        os::eventfd_signal(&self.wakefd)
            .inspect_err(|_| self.wake_pending.store(false, Ordering::SeqCst))
    }

    /// Wakes the loop if a thread is blocked with a now outdated timeout.
    fn wake_if_polling(&self, inner: &Inner) {
        if inner.polling {
            let _ = self.wake();
        }
    }

    /// Registers `fd` with a source of id `id`. Fails if the fd is already
    /// registered on this loop or cannot be polled.
    pub(crate) fn add_with_id(
        &self,
        id: usize,
        fd: RawFd,
        mask: xEventMask,
        callback: Callback,
        arg: UserPtr,
    ) -> io::Result<()> {
        if fd < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        let mut inner = self.lock();
        os::epoll_ctl(
            &self.epfd,
            libc::EPOLL_CTL_ADD,
            fd,
            epoll_interest(mask),
            id as u64,
        )?;
        // The kernel accepted the fd, so a source still recorded for this fd
        // number belongs to an fd closed without xEventDel: it is dead.
        if let Some(old) = inner.fds.insert(fd, id) {
            remove_source(&mut inner, old);
        }
        inner.sources.insert(
            id,
            Source {
                fd,
                mask: mask & IO_MASK,
                callback,
                arg,
                idle: [None, None],
            },
        );
        Ok(())
    }

    /// `xEventAdd`: returns the new source id.
    pub fn add(&self, fd: RawFd, mask: xEventMask, func: FdFn, arg: UserPtr) -> io::Result<usize> {
        let id = next_id();
        self.add_with_id(id, fd, mask, Callback::Fd(func), arg)?;
        Ok(id)
    }

    /// `xEventMod`: `xErrno_NotFound` for an unknown source.
    pub fn modify(&self, id: usize, mask: xEventMask) -> xErrno {
        let mut inner = self.lock();
        let Some(src) = inner.sources.get(&id) else {
            return xErrno_NotFound;
        };
        if os::epoll_ctl(
            &self.epfd,
            libc::EPOLL_CTL_MOD,
            src.fd,
            epoll_interest(mask),
            id as u64,
        )
        .is_err()
        {
            return xErrno_SysError;
        }
        let now = os::mono_ms();
        let inner = &mut *inner;
        let src = inner.sources.get_mut(&id).expect("checked above");
        src.mask = mask & IO_MASK;
        for (dir, bit) in DIRS.iter().enumerate() {
            let Some(idle) = src.idle[dir].as_mut() else {
                continue;
            };
            match (src.mask & bit != 0, idle.timer) {
                (true, None) => {
                    idle.last_activity = now;
                    idle.timer = Some(inner.timers.insert(
                        now.saturating_add(idle.timeout_ms),
                        TimerAction::SocketIdle { source: id, dir },
                    ));
                }
                (false, Some(t)) => {
                    inner.timers.remove(t);
                    idle.timer = None;
                }
                _ => {}
            }
        }
        self.wake_if_polling(inner);
        xErrno_Ok
    }

    /// `xEventDel`: `xErrno_NotFound` for an unknown source. The fd stays open.
    pub fn delete(&self, id: usize) -> xErrno {
        let mut inner = self.lock();
        let Some(fd) = inner.sources.get(&id).map(|s| s.fd) else {
            return xErrno_NotFound;
        };
        if inner.fds.get(&fd) == Some(&id) {
            inner.fds.remove(&fd);
            // Fails harmlessly (EBADF, ENOENT) if the fd was closed already.
            let _ = os::epoll_ctl(&self.epfd, libc::EPOLL_CTL_DEL, fd, 0, 0);
        }
        remove_source(&mut inner, id);
        xErrno_Ok
    }

    /// `xSocketSetTimeout` for the socket source `id`; `<= 0` disables.
    pub fn set_idle_timeouts(&self, id: usize, read_ms: c_int, write_ms: c_int) -> xErrno {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(src) = inner.sources.get_mut(&id) else {
            return xErrno_NotFound;
        };
        let now = os::mono_ms();
        for (dir, ms) in [read_ms, write_ms].into_iter().enumerate() {
            if let Some(t) = src.idle[dir].take().and_then(|i| i.timer) {
                inner.timers.remove(t);
            }
            if ms <= 0 {
                continue;
            }
            let timeout_ms = ms as u64;
            let timer = (src.mask & DIRS[dir] != 0).then(|| {
                inner.timers.insert(
                    now.saturating_add(timeout_ms),
                    TimerAction::SocketIdle { source: id, dir },
                )
            });
            src.idle[dir] = Some(Idle {
                timeout_ms,
                last_activity: now,
                timer,
            });
        }
        self.wake_if_polling(inner);
        xErrno_Ok
    }

    /// Schedules `func(arg)` at `deadline` (xMonoMs time); returns the timer id.
    pub fn timer_at(&self, deadline: u64, func: TimerFn, arg: UserPtr) -> usize {
        let mut inner = self.lock();
        let earliest = inner.timers.next_deadline().is_none_or(|d| deadline < d);
        let id = inner.timers.insert(deadline, TimerAction::User(func, arg));
        if earliest {
            self.wake_if_polling(&inner);
        }
        id
    }

    /// `xEventLoopTimerCancel`: true if the timer was pending.
    pub fn timer_cancel(&self, id: usize) -> bool {
        let mut inner = self.lock();
        match inner.timers.get(id) {
            Some(t) if matches!(t.action, TimerAction::User(..)) => {
                inner.timers.remove(id).is_some()
            }
            _ => false,
        }
    }

    /// `xEventLoopPost`: queues `func(arg)` for the loop thread.
    pub fn post(&self, func: PostFn, arg: UserPtr) {
        let mut inner = self.lock();
        inner.posts.push_back((func, arg));
        self.wake_if_polling(&inner);
    }

    /// `xEventLoopStop`.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake();
    }

    /// Consumes a stop request.
    fn take_stop(&self) -> bool {
        self.stop.swap(false, Ordering::SeqCst) || self.is_destroyed()
    }

    /// `xEventLoopSignalWatch`: blocks `signo` in the calling thread and
    /// reports it through a signalfd. Watching it again replaces the callback.
    pub fn watch_signal(&self, signo: c_int, func: SignalFn, arg: UserPtr) -> xErrno {
        let mut inner = self.lock();
        if let Some(w) = inner.signals.get_mut(&signo) {
            w.func = func;
            w.arg = arg;
            return xErrno_Ok;
        }
        if os::block_signal(signo).is_err() {
            return xErrno_SysError;
        }
        let Ok(fd) = os::signalfd(signo) else {
            return xErrno_SysError;
        };
        let key = SIGNAL_KEY | signo as u64;
        let ev = (libc::EPOLLIN | libc::EPOLLET) as u32;
        if os::epoll_ctl(&self.epfd, libc::EPOLL_CTL_ADD, fd.as_raw_fd(), ev, key).is_err() {
            return xErrno_SysError;
        }
        inner.signals.insert(signo, SignalWatch { fd, func, arg });
        xErrno_Ok
    }

    /// `xEventWait`: waits up to `timeout_ms` (-1: no limit) for ready fds,
    /// then runs the callbacks of ready fds, due timers and posted
    /// functions. Returns how many callbacks ran.
    pub fn wait(&self, timeout_ms: c_int) -> io::Result<usize> {
        if self.is_destroyed() {
            return Ok(0);
        }
        let timeout = {
            let mut inner = self.lock();
            let mut timeout = if timeout_ms < 0 {
                None
            } else {
                Some(timeout_ms as u64)
            };
            if !inner.posts.is_empty() {
                timeout = Some(0);
            }
            if let Some(deadline) = inner.timers.next_deadline() {
                let left = deadline.saturating_sub(os::mono_ms());
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            inner.polling = timeout != Some(0);
            timeout.map_or(-1, |t| t.min(c_int::MAX as u64) as c_int)
        };
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        let polled = os::epoll_wait(&self.epfd, &mut events, timeout);
        self.lock().polling = false;
        let n = polled?;
        let mut count = 0;
        let now = os::mono_ms();

        for ev in &events[..n] {
            let (key, bits) = (ev.u64, ev.events);
            if self.is_destroyed() {
                return Ok(count);
            }
            if key == WAKE_KEY {
                self.wake_pending.store(false, Ordering::SeqCst);
                os::eventfd_drain(&self.wakefd);
            } else if key & SIGNAL_KEY == SIGNAL_KEY {
                count += self.dispatch_signal((key & !SIGNAL_KEY) as c_int);
            } else if let Some(call) = self.io_call(key as usize, bits, now) {
                // SAFETY: runs the callback the user registered, unlocked.
                unsafe { call.run() };
                count += 1;
            }
        }

        count += self.dispatch_timers();
        count += self.dispatch_posts();
        Ok(count)
    }

    /// The callback for a ready source, if it is still registered and
    /// interested in what happened.
    fn io_call(&self, id: usize, bits: u32, now: u64) -> Option<Call> {
        let mut inner = self.lock();
        let src = inner.sources.get_mut(&id)?;
        let ready = ready_mask(bits) & src.mask;
        if ready == 0 {
            return None;
        }
        for (dir, bit) in DIRS.iter().enumerate() {
            if let Some(idle) = src.idle[dir].as_mut().filter(|_| ready & bit != 0) {
                idle.last_activity = now;
            }
        }
        match src.callback {
            Callback::Fd(f) => Some(Call::Fd(f, src.fd, ready, src.arg)),
            Callback::Socket(Some(f)) => Some(Call::Socket(f, id, ready, src.arg)),
            Callback::Socket(None) => None,
        }
    }

    /// Reads every pending `signo` and runs its callback once per signal.
    fn dispatch_signal(&self, signo: c_int) -> usize {
        let mut count = 0;
        loop {
            let call = {
                let inner = self.lock();
                let Some(w) = inner.signals.get(&signo) else {
                    break;
                };
                let Some(got) = os::signalfd_read(&w.fd) else {
                    break;
                };
                Call::Signal(w.func, got, w.arg)
            };
            if self.is_destroyed() {
                break;
            }
            // SAFETY: runs the callback the user registered, unlocked.
            unsafe { call.run() };
            count += 1;
        }
        count
    }

    /// Fires the timers due now that existed when this phase began.
    fn dispatch_timers(&self) -> usize {
        let mut due = Vec::new();
        {
            let mut inner = self.lock();
            let mark = inner.timers.seq_mark();
            inner.timers.take_due(os::mono_ms(), mark, &mut due);
        }
        let mut count = 0;
        for id in due {
            if self.is_destroyed() {
                break;
            }
            let call = {
                let mut inner = self.lock();
                // Cancelled by an earlier callback of this batch: skipped.
                let Some(timer) = inner.timers.remove(id) else {
                    continue;
                };
                match timer.action {
                    TimerAction::User(f, a) => Some(Call::Timer(f, a)),
                    TimerAction::SocketIdle { source, dir } => {
                        socket_idle_fired(&mut inner, id, source, dir)
                    }
                }
            };
            if let Some(call) = call {
                // SAFETY: runs the callback the user registered, unlocked.
                unsafe { call.run() };
                count += 1;
            }
        }
        count
    }

    /// Runs the functions posted before this phase began, in order.
    fn dispatch_posts(&self) -> usize {
        let pending = self.lock().posts.len();
        let mut count = 0;
        for _ in 0..pending {
            if self.is_destroyed() {
                break;
            }
            let Some((f, a)) = self.lock().posts.pop_front() else {
                break;
            };
            // SAFETY: runs the function the user posted, unlocked.
            unsafe { Call::Post(f, a).run() };
            count += 1;
        }
        count
    }

    /// `xEventLoopRun`: dispatches until `xEventLoopStop` (or destroy).
    pub fn run(&self) {
        while !self.take_stop() {
            if self.wait(-1).is_err() {
                break;
            }
        }
    }

    /// `xEventLoopWait`: dispatches until stopped or `timeout_ms` elapsed
    /// (-1: no limit).
    pub fn wait_until_stopped(&self, timeout_ms: c_int) -> WaitEnd {
        let deadline = (timeout_ms >= 0).then(|| os::mono_ms().saturating_add(timeout_ms as u64));
        let mut waited = false;
        loop {
            if self.take_stop() {
                return WaitEnd::Stopped;
            }
            let left = deadline.map(|d| d.saturating_sub(os::mono_ms()));
            if waited && left == Some(0) {
                return WaitEnd::TimedOut;
            }
            let slice = left.map_or(-1, |l| l.min(c_int::MAX as u64) as c_int);
            if self.wait(slice).is_err() {
                return WaitEnd::Failed;
            }
            waited = true;
        }
    }

    /// Number of live sources, pending timers and queued posts (tests).
    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize, usize) {
        let inner = self.lock();
        (inner.sources.len(), inner.timers.len(), inner.posts.len())
    }
}

/// Forgets a source and cancels its idle timers.
fn remove_source(inner: &mut Inner, id: usize) {
    if let Some(src) = inner.sources.remove(&id) {
        for t in src.idle.iter().flatten().filter_map(|i| i.timer) {
            inner.timers.remove(t);
        }
    }
}

/// An idle timer of a socket fired: reports the timeout if the direction
/// stayed idle for the whole period, then re-arms for the next period.
fn socket_idle_fired(inner: &mut Inner, timer: usize, source: usize, dir: usize) -> Option<Call> {
    let now = os::mono_ms();
    let Inner {
        sources, timers, ..
    } = inner;
    let src = sources.get_mut(&source)?;
    let idle = src.idle[dir].as_mut().filter(|i| i.timer == Some(timer))?;
    let action = TimerAction::SocketIdle { source, dir };
    let expired = now >= idle.last_activity.saturating_add(idle.timeout_ms);
    if expired {
        idle.last_activity = now;
    }
    idle.timer = Some(timers.insert(idle.last_activity.saturating_add(idle.timeout_ms), action));
    match (expired, src.callback) {
        (true, Callback::Socket(Some(f))) => {
            Some(Call::Socket(f, source, xEvent_Timeout | DIRS[dir], src.arg))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi_boundary;

    unsafe extern "C" fn nop_fd(_: c_int, _: xEventMask, _: *mut c_void) {
        ffi_boundary!((), {})
    }
    unsafe extern "C" fn nop(_: *mut c_void) {
        ffi_boundary!((), {})
    }
    unsafe extern "C" fn nop_sock(_: xSocket, _: xEventMask, _: *mut c_void) {
        ffi_boundary!((), {})
    }

    fn pipe() -> [c_int; 2] {
        let mut fds = [0; 2];
        assert_eq!(
            // SAFETY: `fds` is a two-int array pipe2 fills.
            unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) },
            0
        );
        fds
    }

    #[test]
    fn destroy_forgets_everything_and_the_handle() {
        let id = create().unwrap();
        let lp = lookup(id).unwrap();
        let p = pipe();
        lp.add(p[0], xEvent_Read, nop_fd, UserPtr(std::ptr::null_mut()))
            .unwrap();
        lp.timer_at(u64::MAX, nop, UserPtr(std::ptr::null_mut()));
        lp.post(nop, UserPtr(std::ptr::null_mut()));
        assert_eq!(lp.counts(), (1, 1, 1));
        destroy(id);
        assert!(lookup(id).is_none());
        assert_eq!(lp.counts(), (0, 0, 0));
        assert_eq!(lp.wait(-1).unwrap(), 0);
        destroy(id);
        // SAFETY: `p[0]` is this test's pipe end, closed once.
        unsafe { libc::close(p[0]) };
        // SAFETY: `p[1]` is this test's pipe end, closed once.
        unsafe { libc::close(p[1]) };
    }

    #[test]
    fn an_fd_closed_without_delete_can_be_registered_again() {
        let id = create().unwrap();
        let lp = lookup(id).unwrap();
        let p = pipe();
        let old = lp
            .add(p[0], xEvent_Read, nop_fd, UserPtr(std::ptr::null_mut()))
            .unwrap();
        // SAFETY: `p[0]` is this test's pipe end, closed once.
        unsafe { libc::close(p[0]) };
        let q = pipe();
        // Make the new pipe's read end take the old fd number.
        // SAFETY: both are open fds this test owns; dup2 only renumbers.
        assert_eq!(unsafe { libc::dup2(q[0], p[0]) }, p[0]);
        let new = lp
            .add(p[0], xEvent_Read, nop_fd, UserPtr(std::ptr::null_mut()))
            .unwrap();
        assert_eq!(lp.counts().0, 1);
        // The dead source is gone; deleting it cannot touch the new one.
        assert_eq!(lp.delete(old), xErrno_NotFound);
        assert_eq!(lp.delete(new), xErrno_Ok);
        for fd in [p[0], p[1], q[0], q[1]] {
            // SAFETY: each fd is this test's own, closed once here.
            unsafe { libc::close(fd) };
        }
        destroy(id);
    }

    #[test]
    fn deleting_a_socket_source_cancels_its_idle_timers() {
        let id = create().unwrap();
        let lp = lookup(id).unwrap();
        let p = pipe();
        let src = next_id();
        lp.add_with_id(
            src,
            p[0],
            xEvent_Read,
            Callback::Socket(Some(nop_sock)),
            UserPtr(std::ptr::null_mut()),
        )
        .unwrap();
        assert_eq!(lp.set_idle_timeouts(src, 1000, 1000), xErrno_Ok);
        // Only the read direction is wanted, so only one timer runs.
        assert_eq!(lp.counts(), (1, 1, 0));
        assert_eq!(lp.modify(src, xEvent_Read | xEvent_Write), xErrno_Ok);
        assert_eq!(lp.counts(), (1, 2, 0));
        assert_eq!(lp.modify(src, 0), xErrno_Ok);
        assert_eq!(lp.counts(), (1, 0, 0));
        assert_eq!(lp.modify(src, xEvent_Read), xErrno_Ok);
        assert_eq!(lp.counts(), (1, 1, 0));
        assert_eq!(lp.delete(src), xErrno_Ok);
        assert_eq!(lp.counts(), (0, 0, 0));
        // SAFETY: `p[0]` is this test's pipe end, closed once.
        unsafe { libc::close(p[0]) };
        // SAFETY: `p[1]` is this test's pipe end, closed once.
        unsafe { libc::close(p[1]) };
        destroy(id);
    }

    #[test]
    fn ready_mask_maps_hangups_to_both_directions() {
        assert_eq!(ready_mask(libc::EPOLLIN as u32), xEvent_Read);
        assert_eq!(ready_mask(libc::EPOLLOUT as u32), xEvent_Write);
        assert_eq!(
            ready_mask(libc::EPOLLHUP as u32),
            xEvent_Read | xEvent_Write
        );
        assert_eq!(
            ready_mask(libc::EPOLLERR as u32),
            xEvent_Read | xEvent_Write
        );
        assert_eq!(epoll_interest(0), libc::EPOLLET as u32);
        assert_ne!(epoll_interest(xEvent_Read) & libc::EPOLLIN as u32, 0);
        assert_ne!(epoll_interest(xEvent_Write) & libc::EPOLLOUT as u32, 0);
    }
}
