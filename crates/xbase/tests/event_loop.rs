//! The event loop through its exported C functions: fd readiness
//! (edge-triggered), timers, posts, stop, wait, deletion inside callbacks,
//! signals, and NULL arguments.
#![cfg(feature = "abi")]

use libc::{c_int, c_void};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use xbase::ffi::error::xstrerror;
use xbase::ffi::event::*;
use xbase::ffi::time::{xMonoMs, xWallMs};
use xbase::types::*;

/// What callbacks saw, shared through their `arg`.
#[derive(Default)]
struct Log {
    events: Mutex<Vec<(i64, c_int)>>,
}

impl Log {
    fn arg(&self) -> *mut c_void {
        self as *const Log as *mut c_void
    }
    fn push(&self, a: i64, b: c_int) {
        self.events.lock().unwrap().push((a, b));
    }
    fn take(&self) -> Vec<(i64, c_int)> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

unsafe fn log<'a>(arg: *mut c_void) -> &'a Log {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe { &*(arg as *const Log) }
}

unsafe extern "C" fn on_fd(fd: c_int, mask: xEventMask, arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        log(arg).push(fd as i64, mask);
    }
}

/// Reads one byte per callback (does not drain).
unsafe extern "C" fn read_one(fd: c_int, mask: xEventMask, arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        let mut b = 0u8;
        libc::read(fd, (&mut b as *mut u8).cast(), 1);
        log(arg).push(b as i64, mask);
    }
}

fn pipe() -> (c_int, c_int) {
    let mut fds = [0; 2];
    assert_eq!(
        // SAFETY: `fds` is a two-int array pipe2 fills.
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) },
        0
    );
    (fds[0], fds[1])
}

fn write_bytes(fd: c_int, data: &[u8]) {
    // SAFETY: `data` is a live slice of the length passed.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    assert_eq!(n, data.len() as isize);
}

fn close(fds: &[c_int]) {
    for &fd in fds {
        // SAFETY: each fd is this test's own, closed once here.
        unsafe { libc::close(fd) };
    }
}

struct Loop(xEventLoop);

impl Loop {
    fn new() -> Loop {
        let lp = xEventLoopCreate();
        assert!(!lp.is_null());
        Loop(lp)
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        xEventLoopDestroy(self.0);
    }
}

#[test]
fn pipe_readiness_is_edge_triggered() {
    let lp = Loop::new();
    let log = Log::default();
    let (r, w) = pipe();
    let src = xEventAdd(lp.0, r, xEvent_Read, Some(read_one), log.arg());
    assert!(!src.is_null());
    assert_eq!(xEventWait(lp.0, 0), 0);

    write_bytes(w, b"ab");
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(log.take(), vec![(b'a' as i64, xEvent_Read)]);
    // One byte is left, but no new data arrived: no new edge.
    assert_eq!(xEventWait(lp.0, 20), 0);
    assert!(log.take().is_empty());
    // New data is a new edge.
    write_bytes(w, b"c");
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(log.take(), vec![(b'b' as i64, xEvent_Read)]);

    assert_eq!(xEventDel(lp.0, src), xErrno_Ok);
    assert_eq!(xEventDel(lp.0, src), xErrno_NotFound);
    assert_eq!(xEventMod(lp.0, src, xEvent_Read), xErrno_NotFound);
    write_bytes(w, b"d");
    assert_eq!(xEventWait(lp.0, 20), 0);
    // The fd is still open: the data is there.
    let mut buf = [0u8; 4];
    // SAFETY: `buf` has the 4 writable bytes read is given.
    assert_eq!(unsafe { libc::read(r, buf.as_mut_ptr().cast(), 4) }, 2);
    close(&[r, w]);
}

#[test]
fn write_readiness_and_mod() {
    let lp = Loop::new();
    let log = Log::default();
    let (r, w) = pipe();
    let src = xEventAdd(lp.0, w, xEvent_Write, Some(on_fd), log.arg());
    assert!(!src.is_null());
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(log.take(), vec![(w as i64, xEvent_Write)]);
    assert_eq!(xEventWait(lp.0, 0), 0);
    // Re-arming with Mod reports the current state again.
    assert_eq!(xEventMod(lp.0, src, xEvent_Write), xErrno_Ok);
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(log.take(), vec![(w as i64, xEvent_Write)]);
    // Asking for Read on a write end: nothing to report.
    assert_eq!(xEventMod(lp.0, src, xEvent_Read), xErrno_Ok);
    assert_eq!(xEventWait(lp.0, 20), 0);
    // The same fd twice on one loop is refused.
    assert!(xEventAdd(lp.0, w, xEvent_Read, Some(on_fd), log.arg()).is_null());
    assert_eq!(xEventDel(lp.0, src), xErrno_Ok);
    close(&[r, w]);
}

#[test]
fn hangup_is_reported_as_readable() {
    let lp = Loop::new();
    let log = Log::default();
    let (r, w) = pipe();
    let src = xEventAdd(lp.0, r, xEvent_Read, Some(on_fd), log.arg());
    close(&[w]);
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(log.take(), vec![(r as i64, xEvent_Read)]);
    xEventDel(lp.0, src);
    close(&[r]);
}

unsafe extern "C" fn drain_udp(fd: c_int, mask: xEventMask, arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        let mut buf = [0u8; 64];
        loop {
            let n = libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0);
            if n < 0 {
                break;
            }
            log(arg).push(n as i64, mask);
        }
    }
}

fn udp_bound() -> (c_int, libc::sockaddr_in) {
    // SAFETY: plain socket calls on a fresh fd; `sin` and `len` are locals of the sizes passed.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0);
        assert!(fd >= 0);
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&sin as *const libc::sockaddr_in).cast(), len),
            0
        );
        let mut got_len = len;
        libc::getsockname(
            fd,
            (&mut sin as *mut libc::sockaddr_in).cast(),
            &mut got_len,
        );
        (fd, sin)
    }
}

fn udp_send(fd: c_int, to: &libc::sockaddr_in, data: &[u8]) {
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `data` and `to` are live locals of the lengths passed.
    let n = unsafe {
        libc::sendto(
            fd,
            data.as_ptr().cast(),
            data.len(),
            0,
            (to as *const libc::sockaddr_in).cast(),
            len,
        )
    };
    assert_eq!(n, data.len() as isize);
}

#[test]
fn udp_datagrams_are_drained_per_edge() {
    let lp = Loop::new();
    let log = Log::default();
    let (a, _) = udp_bound();
    let (b, b_addr) = udp_bound();
    let src = xEventAdd(lp.0, b, xEvent_Read, Some(drain_udp), log.arg());
    assert!(!src.is_null());
    udp_send(a, &b_addr, b"hello");
    udp_send(a, &b_addr, b"hi");
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(log.take(), vec![(5, xEvent_Read), (2, xEvent_Read)]);
    udp_send(a, &b_addr, b"x");
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(log.take(), vec![(1, xEvent_Read)]);
    xEventDel(lp.0, src);
    close(&[a, b]);
}

unsafe extern "C" fn on_timer(arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        let (log, tag) = *(arg as *const (&Log, i64));
        log.push(tag, 0);
    }
}

/// Dispatches until `n` events were logged or `ms` passed.
fn run_until(lp: xEventLoop, log: &Log, n: usize, ms: u64) {
    let end = xMonoMs() + ms;
    while log.events.lock().unwrap().len() < n && xMonoMs() < end {
        assert!(xEventWait(lp, 10) >= 0);
    }
}

#[test]
fn timers_fire_in_deadline_then_creation_order() {
    let lp = Loop::new();
    let log = Log::default();
    let args: Vec<(&Log, i64)> = (0..5).map(|i| (&log, i)).collect();
    let arg = |i: usize| &args[i] as *const (&Log, i64) as *mut c_void;
    let start = xMonoMs();
    assert!(!xEventLoopTimerAfter(lp.0, Some(on_timer), arg(0), 60).is_null());
    assert!(!xEventLoopTimerAfter(lp.0, Some(on_timer), arg(1), 20).is_null());
    assert!(!xEventLoopTimerAfter(lp.0, Some(on_timer), arg(2), 40).is_null());
    let at = start + 30;
    assert!(!xEventLoopTimerAt(lp.0, Some(on_timer), arg(3), at).is_null());
    assert!(!xEventLoopTimerAt(lp.0, Some(on_timer), arg(4), at).is_null());
    run_until(lp.0, &log, 5, 2000);
    let order: Vec<i64> = log.take().into_iter().map(|(t, _)| t).collect();
    assert_eq!(order, vec![1, 3, 4, 2, 0]);
    assert!(xMonoMs() - start >= 60);
}

#[test]
fn timer_waits_its_delay_and_counts_as_a_callback() {
    let lp = Loop::new();
    let log = Log::default();
    let arg = (&log, 7i64);
    let start = xMonoMs();
    xEventLoopTimerAfter(lp.0, Some(on_timer), &arg as *const _ as *mut c_void, 30);
    // A blocking wait ends when the timer is due.
    assert_eq!(xEventWait(lp.0, -1), 1);
    assert!(xMonoMs() - start >= 30);
    assert_eq!(log.take(), vec![(7, 0)]);
    // A timer in the past fires at the next dispatch.
    xEventLoopTimerAt(lp.0, Some(on_timer), &arg as *const _ as *mut c_void, 1);
    assert_eq!(xEventWait(lp.0, 0), 1);
}

#[test]
fn timer_cancel_before_and_after_firing() {
    let lp = Loop::new();
    let other = Loop::new();
    let log = Log::default();
    let arg = (&log, 1i64);
    let argp = &arg as *const _ as *mut c_void;
    let t = xEventLoopTimerAfter(lp.0, Some(on_timer), argp, 10);
    assert_eq!(xEventLoopTimerCancel(other.0, t), xErrno_Unknown);
    assert_eq!(xEventLoopTimerCancel(lp.0, t), xErrno_Ok);
    assert_eq!(xEventLoopTimerCancel(lp.0, t), xErrno_Unknown);
    let fired = xEventLoopTimerAfter(lp.0, Some(on_timer), argp, 0);
    run_until(lp.0, &log, 1, 1000);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(xEventWait(lp.0, 0), 0);
    assert_eq!(log.take(), vec![(1, 0)]);
    assert_eq!(xEventLoopTimerCancel(lp.0, fired), xErrno_Unknown);
    assert_eq!(xEventLoopTimerCancel(lp.0, null_mut()), xErrno_Unknown);
    assert_eq!(
        xEventLoopTimerCancel(lp.0, 12345usize as xEventTimer),
        xErrno_Unknown
    );
}

struct CancelOther {
    log: Log,
    other: Mutex<xEventTimer>,
    lp: xEventLoop,
}

unsafe extern "C" fn cancel_other(arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        let c = &*(arg as *const CancelOther);
        c.log.push(1, 0);
        let t = *c.other.lock().unwrap();
        c.log.push(2, xEventLoopTimerCancel(c.lp, t));
    }
}

unsafe extern "C" fn must_not_fire(arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        (*(arg as *const CancelOther)).log.push(99, 0);
    }
}

#[test]
fn timer_cancelled_by_an_earlier_timer_of_the_same_batch_does_not_fire() {
    let lp = Loop::new();
    let c = CancelOther {
        log: Log::default(),
        other: Mutex::new(null_mut()),
        lp: lp.0,
    };
    let arg = &c as *const CancelOther as *mut c_void;
    let at = xMonoMs() + 5;
    xEventLoopTimerAt(lp.0, Some(cancel_other), arg, at);
    *c.other.lock().unwrap() = xEventLoopTimerAt(lp.0, Some(must_not_fire), arg, at);
    std::thread::sleep(Duration::from_millis(15));
    assert_eq!(xEventWait(lp.0, 0), 1);
    assert_eq!(c.log.take(), vec![(1, 0), (2, xErrno_Ok)]);
}

unsafe extern "C" fn rearm_zero(arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        let (lp, n) = &*(arg as *const (xEventLoop, AtomicUsize));
        n.fetch_add(1, Ordering::SeqCst);
        xEventLoopTimerAfter(*lp, Some(rearm_zero), arg, 0);
    }
}

#[test]
fn a_timer_rearming_itself_runs_once_per_dispatch() {
    let lp = Loop::new();
    let state = (lp.0, AtomicUsize::new(0));
    let arg = &state as *const _ as *mut c_void;
    xEventLoopTimerAfter(lp.0, Some(rearm_zero), arg, 0);
    assert_eq!(xEventWait(lp.0, 0), 1);
    assert_eq!(xEventWait(lp.0, 0), 1);
    assert_eq!(state.1.load(Ordering::SeqCst), 2);
}

struct Posted {
    order: Mutex<Vec<usize>>,
    /// The loop handle as an integer, so the state can cross threads.
    lp: usize,
    n: usize,
}

unsafe extern "C" fn on_post(arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        let (p, i) = &*(arg as *const (Arc<Posted>, usize));
        let mut order = p.order.lock().unwrap();
        order.push(*i);
        if order.len() == p.n {
            xEventLoopStop(p.lp as xEventLoop);
        }
    }
}

#[test]
fn post_from_another_thread_runs_in_order_on_the_loop() {
    let lp = Loop::new();
    let n = 200;
    let posted = Arc::new(Posted {
        order: Mutex::new(Vec::new()),
        lp: lp.0 as usize,
        n,
    });
    let args: Vec<Box<(Arc<Posted>, usize)>> =
        (0..n).map(|i| Box::new((posted.clone(), i))).collect();
    let ptrs: Vec<usize> = args.iter().map(|b| &**b as *const _ as usize).collect();
    let loop_handle = lp.0 as usize;
    let poster = std::thread::spawn(move || {
        for (i, p) in ptrs.into_iter().enumerate() {
            assert_eq!(
                xEventLoopPost(loop_handle as xEventLoop, Some(on_post), p as *mut c_void),
                xErrno_Ok
            );
            if i % 50 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let loop_thread = std::thread::current().id();
    assert_eq!(xEventLoopWait(lp.0, 10_000), xErrno_Ok);
    assert_eq!(std::thread::current().id(), loop_thread);
    poster.join().unwrap();
    assert_eq!(*posted.order.lock().unwrap(), (0..n).collect::<Vec<_>>());
}

unsafe extern "C" fn post_again(arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        let (lp, n) = &*(arg as *const (xEventLoop, AtomicUsize));
        n.fetch_add(1, Ordering::SeqCst);
        xEventLoopPost(*lp, Some(post_again), arg);
    }
}

#[test]
fn a_function_posted_from_a_callback_runs_at_the_next_dispatch() {
    let lp = Loop::new();
    let state = (lp.0, AtomicUsize::new(0));
    let arg = &state as *const _ as *mut c_void;
    xEventLoopPost(lp.0, Some(post_again), arg);
    assert_eq!(xEventWait(lp.0, -1), 1);
    assert_eq!(xEventWait(lp.0, -1), 1);
    assert_eq!(state.1.load(Ordering::SeqCst), 2);
}

#[test]
fn stop_from_another_thread_ends_run() {
    let lp = Loop::new();
    let h = lp.0 as usize;
    let start = xMonoMs();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        xEventLoopStop(h as xEventLoop);
    });
    xEventLoopRun(lp.0);
    assert!(xMonoMs() - start >= 50);
    stopper.join().unwrap();
    // A stop requested before running ends the next run at once.
    xEventLoopStop(lp.0);
    xEventLoopRun(lp.0);
    xEventLoopStop(lp.0);
    assert_eq!(xEventLoopWait(lp.0, 5000), xErrno_Ok);
}

#[test]
fn timer_after_from_another_thread_wakes_a_blocked_wait() {
    let lp = Loop::new();
    let log = Log::default();
    let arg = (&log, 5i64);
    let (h, a) = (lp.0 as usize, &arg as *const _ as usize);
    let start = xMonoMs();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        xEventLoopTimerAfter(h as xEventLoop, Some(on_timer), a as *mut c_void, 10);
    });
    let mut ran = 0;
    while ran == 0 {
        ran = xEventWait(lp.0, -1);
        assert!(ran >= 0);
    }
    assert_eq!(ran, 1);
    assert!(xMonoMs() - start >= 40);
    t.join().unwrap();
    assert_eq!(log.take(), vec![(5, 0)]);
}

#[test]
fn wake_ends_a_blocked_wait() {
    let lp = Loop::new();
    let h = lp.0 as usize;
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(xEventWake(h as xEventLoop), xErrno_Ok);
    });
    assert_eq!(xEventWait(lp.0, -1), 0);
    t.join().unwrap();
}

#[test]
fn loop_wait_times_out() {
    let lp = Loop::new();
    let start = xMonoMs();
    assert_eq!(xEventLoopWait(lp.0, 50), xErrno_Timeout);
    let took = xMonoMs() - start;
    assert!((50..2000).contains(&took), "took {took} ms");
    assert_eq!(xEventLoopWait(lp.0, 0), xErrno_Timeout);
}

#[test]
fn wait_timeout_without_events_returns_zero() {
    let lp = Loop::new();
    let start = xMonoMs();
    assert_eq!(xEventWait(lp.0, 30), 0);
    assert!(xMonoMs() - start >= 29);
}

/// Two ready sources whose callbacks each delete the other.
struct Pair {
    lp: xEventLoop,
    srcs: Mutex<[xEventSource; 2]>,
    fds: [c_int; 2],
    ran: Mutex<Vec<c_int>>,
}

unsafe extern "C" fn delete_the_other(fd: c_int, _mask: xEventMask, arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        let p = &*(arg as *const Pair);
        p.ran.lock().unwrap().push(fd);
        let srcs = *p.srcs.lock().unwrap();
        let other = if fd == p.fds[0] { srcs[1] } else { srcs[0] };
        assert_eq!(xEventDel(p.lp, other), xErrno_Ok);
    }
}

#[test]
fn a_source_deleted_earlier_in_the_batch_is_not_called() {
    let lp = Loop::new();
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let pair = Pair {
        lp: lp.0,
        srcs: Mutex::new([null_mut(); 2]),
        fds: [r1, r2],
        ran: Mutex::new(Vec::new()),
    };
    let arg = &pair as *const Pair as *mut c_void;
    let s1 = xEventAdd(lp.0, r1, xEvent_Read, Some(delete_the_other), arg);
    let s2 = xEventAdd(lp.0, r2, xEvent_Read, Some(delete_the_other), arg);
    *pair.srcs.lock().unwrap() = [s1, s2];
    write_bytes(w1, b"1");
    write_bytes(w2, b"2");
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(pair.ran.lock().unwrap().len(), 1);
    close(&[r1, w1, r2, w2]);
}

/// A source that deletes itself and registers a new one for the same fd.
struct Readd {
    lp: xEventLoop,
    src: Mutex<xEventSource>,
    log: Log,
}

unsafe extern "C" fn readd_self(fd: c_int, mask: xEventMask, arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        let r = &*(arg as *const Readd);
        let mut b = [0u8; 8];
        while libc::read(fd, b.as_mut_ptr().cast(), 8) > 0 {}
        let mut src = r.src.lock().unwrap();
        assert_eq!(xEventDel(r.lp, *src), xErrno_Ok);
        *src = xEventAdd(r.lp, fd, xEvent_Read, Some(on_fd), r.log.arg());
        assert!(!src.is_null());
        r.log.push(-1, mask);
    }
}

#[test]
fn delete_and_add_inside_a_callback() {
    let lp = Loop::new();
    let (r, w) = pipe();
    let re = Readd {
        lp: lp.0,
        src: Mutex::new(null_mut()),
        log: Log::default(),
    };
    let arg = &re as *const Readd as *mut c_void;
    *re.src.lock().unwrap() = xEventAdd(lp.0, r, xEvent_Read, Some(readd_self), arg);
    write_bytes(w, b"x");
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(re.log.take(), vec![(-1, xEvent_Read)]);
    write_bytes(w, b"y");
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(re.log.take(), vec![(r as i64, xEvent_Read)]);
    assert_eq!(xEventDel(lp.0, *re.src.lock().unwrap()), xErrno_Ok);
    close(&[r, w]);
}

unsafe extern "C" fn destroy_loop(arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        let (lp, n) = &*(arg as *const (xEventLoop, AtomicUsize));
        n.fetch_add(1, Ordering::SeqCst);
        xEventLoopDestroy(*lp);
    }
}

#[test]
fn destroying_the_loop_inside_a_callback_ends_the_dispatch() {
    let lp = xEventLoopCreate();
    let state = (lp, AtomicUsize::new(0));
    let arg = &state as *const _ as *mut c_void;
    xEventLoopPost(lp, Some(destroy_loop), arg);
    xEventLoopPost(lp, Some(destroy_loop), arg);
    xEventLoopTimerAfter(lp, Some(destroy_loop), arg, 0);
    std::thread::sleep(Duration::from_millis(2));
    assert_eq!(xEventWait(lp, 0), 1);
    assert_eq!(state.1.load(Ordering::SeqCst), 1);
    assert_eq!(xEventWait(lp, 0), -1);
    assert!(xEventLoopTimerAfter(lp, Some(destroy_loop), arg, 0).is_null());
}

#[test]
fn destroy_does_not_close_user_fds() {
    let lp = xEventLoopCreate();
    let log = Log::default();
    let (r, w) = pipe();
    assert!(!xEventAdd(lp, r, xEvent_Read, Some(on_fd), log.arg()).is_null());
    xEventLoopTimerAfter(lp, Some(on_timer), null_mut(), 1000);
    xEventLoopDestroy(lp);
    write_bytes(w, b"z");
    let mut b = 0u8;
    // SAFETY: `b` is one writable byte.
    assert_eq!(unsafe { libc::read(r, (&mut b as *mut u8).cast(), 1) }, 1);
    assert!(log.take().is_empty());
    close(&[r, w]);
    xEventLoopDestroy(lp);
    xEventLoopDestroy(null_mut());
}

unsafe extern "C" fn on_signal(signo: c_int, arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the callback: a live value on the
    // test's stack that outlives the loop run calling it.
    unsafe {
        log(arg).push(signo as i64, 0);
    }
}

#[test]
fn signal_watch_reports_raised_signals() {
    let lp = Loop::new();
    let log = Log::default();
    assert_eq!(
        xEventLoopSignalWatch(lp.0, libc::SIGUSR1, Some(on_signal), log.arg()),
        xErrno_Ok
    );
    // SAFETY: raising a signal this test installed a handler for.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(log.take(), vec![(libc::SIGUSR1 as i64, 0)]);
    // SAFETY: raising a signal this test installed a handler for.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    assert_eq!(xEventWait(lp.0, 1000), 1);
    assert_eq!(log.take(), vec![(libc::SIGUSR1 as i64, 0)]);
    assert_eq!(
        xEventLoopSignalWatch(lp.0, libc::SIGKILL, Some(on_signal), log.arg()),
        xErrno_InvalidArg
    );
    assert_eq!(
        xEventLoopSignalWatch(lp.0, 0, Some(on_signal), log.arg()),
        xErrno_InvalidArg
    );
    assert_eq!(
        xEventLoopSignalWatch(lp.0, libc::SIGUSR2, None, log.arg()),
        xErrno_InvalidArg
    );
}

#[test]
fn clocks() {
    let a = xMonoMs();
    std::thread::sleep(Duration::from_millis(20));
    let b = xMonoMs();
    assert!(b - a >= 20 && b - a < 5000);
    assert!(xEventLoopNowMs() >= b);
    // After 2020-01-01 and before 2200.
    assert!(xWallMs() > 1_577_836_800_000 && xWallMs() < 7_258_118_400_000);
}

#[test]
fn strerror_is_never_null() {
    for e in -2..20 {
        let p = xstrerror(e);
        assert!(!p.is_null());
    }
    // SAFETY: xstrerror returns a static NUL-terminated string.
    let s = unsafe { std::ffi::CStr::from_ptr(xstrerror(xErrno_InvalidArg)) };
    assert_eq!(s.to_str().unwrap(), "invalid argument");
    // SAFETY: xstrerror returns a static NUL-terminated string.
    let s = unsafe { std::ffi::CStr::from_ptr(xstrerror(1000)) };
    assert_eq!(s.to_str().unwrap(), "unknown error");
}

#[test]
fn null_arguments_get_neutral_values() {
    let n = null_mut();
    let lp = Loop::new();
    let (r, w) = pipe();
    assert!(xEventAdd(n, r, xEvent_Read, Some(on_fd), n).is_null());
    assert!(xEventAdd(lp.0, r, xEvent_Read, None, n).is_null());
    assert!(xEventAdd(lp.0, -1, xEvent_Read, Some(on_fd), n).is_null());
    assert_eq!(
        xEventMod(n, 1usize as xEventSource, xEvent_Read),
        xErrno_InvalidArg
    );
    assert_eq!(xEventMod(lp.0, n, xEvent_Read), xErrno_InvalidArg);
    assert_eq!(xEventDel(n, 1usize as xEventSource), xErrno_InvalidArg);
    assert_eq!(xEventDel(lp.0, n), xErrno_InvalidArg);
    assert_eq!(xEventDel(lp.0, 0xdead as xEventSource), xErrno_NotFound);
    assert_eq!(xEventWait(n, 0), -1);
    assert_eq!(xEventWake(n), xErrno_InvalidArg);
    assert!(xEventLoopTimerAfter(n, Some(on_timer), n, 1).is_null());
    assert!(xEventLoopTimerAfter(lp.0, None, n, 1).is_null());
    assert!(xEventLoopTimerAt(n, Some(on_timer), n, 1).is_null());
    assert!(xEventLoopTimerAt(lp.0, None, n, 1).is_null());
    assert_eq!(
        xEventLoopTimerCancel(n, 1usize as xEventTimer),
        xErrno_InvalidArg
    );
    assert_eq!(xEventLoopPost(n, Some(on_timer), n), xErrno_InvalidArg);
    assert_eq!(xEventLoopPost(lp.0, None, n), xErrno_InvalidArg);
    xEventLoopRun(n);
    xEventLoopStop(n);
    assert_eq!(xEventLoopWait(n, 0), xErrno_InvalidArg);
    assert_eq!(
        xEventLoopSignalWatch(n, libc::SIGUSR2, Some(on_signal), n),
        xErrno_InvalidArg
    );
    xEventLoopDestroy(n);
    // A destroyed loop handle behaves like NULL.
    let gone = xEventLoopCreate();
    xEventLoopDestroy(gone);
    assert_eq!(xEventWait(gone, 0), -1);
    assert_eq!(xEventLoopWait(gone, 0), xErrno_InvalidArg);
    assert!(xEventAdd(gone, r, xEvent_Read, Some(on_fd), n).is_null());
    close(&[r, w]);
}
