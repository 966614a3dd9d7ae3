//! `event.h`: the edge-triggered event loop. The types (`xEventMask`, the
//! handles and callback types) are written in `cbindgen/xbase/event.toml`;
//! the functions below wrap `crate::evloop`.

use crate::evloop::{self, handle, id_of, lookup, os, UserPtr, WaitEnd};
use crate::ffi_boundary;
use crate::types::*;
use libc::{c_int, c_void};
use std::ptr::null_mut;

/// Creates an event loop (epoll). Returns NULL on failure. Every function
/// taking the loop must be called on the thread that runs it, except
/// xEventWake, xEventLoopStop, xEventLoopPost and xEventLoopTimerAfter/At/
/// Cancel, which any thread may call.
#[no_mangle]
pub extern "C" fn xEventLoopCreate() -> xEventLoop {
    ffi_boundary!(null_mut(), { evloop::create().map_or(null_mut(), handle) })
}

/// Destroys a loop: forgets all its sources, timers, posted functions and
/// signal watches (fds registered with xEventAdd are not closed; sockets of
/// xSocketCreate stay valid until xSocketDestroy). A dispatch running on the
/// loop returns after the current callback. NULL: no-op.
#[no_mangle]
pub extern "C" fn xEventLoopDestroy(r#loop: xEventLoop) {
    ffi_boundary!((), { evloop::destroy(id_of(r#loop)) })
}

/// Registers `fd` (which should be non-blocking) for the events in `mask`
/// (xEvent_Read and/or xEvent_Write), edge-triggered: after `fn(fd,
/// ready_mask, arg)` reports readiness, it is reported again only once the
/// fd became ready anew, so read or write until EAGAIN. Hang-ups and errors
/// are reported as both directions the source asked for. Returns NULL for a
/// NULL loop or fn, a negative fd, an fd already registered on this loop or
/// one epoll cannot watch.
#[no_mangle]
pub extern "C" fn xEventAdd(
    r#loop: xEventLoop,
    fd: c_int,
    mask: xEventMask,
    r#fn: xEventFunc,
    arg: *mut c_void,
) -> xEventSource {
    ffi_boundary!(null_mut(), {
        let (Some(lp), Some(f)) = (lookup(id_of(r#loop)), r#fn) else {
            return null_mut();
        };
        lp.add(fd, mask, f, UserPtr(arg)).map_or(null_mut(), handle)
    })
}

/// Changes the events a source waits for. Returns xErrno_InvalidArg for a
/// NULL loop or source, xErrno_NotFound for a deleted or unknown source,
/// xErrno_SysError if epoll refuses (for example the fd was closed).
#[no_mangle]
pub extern "C" fn xEventMod(r#loop: xEventLoop, src: xEventSource, mask: xEventMask) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(lp) = lookup(id_of(r#loop)) else {
            return xErrno_InvalidArg;
        };
        if src.is_null() {
            return xErrno_InvalidArg;
        }
        lp.modify(id_of(src), mask)
    })
}

/// Unregisters a source; the handle becomes invalid and its callback does
/// not run any more, not even for readiness already collected in the
/// current dispatch. The fd is not closed. Safe inside callbacks (also the
/// source's own). Returns xErrno_InvalidArg for a NULL loop or source,
/// xErrno_NotFound for a deleted or unknown source.
#[no_mangle]
pub extern "C" fn xEventDel(r#loop: xEventLoop, src: xEventSource) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(lp) = lookup(id_of(r#loop)) else {
            return xErrno_InvalidArg;
        };
        if src.is_null() {
            return xErrno_InvalidArg;
        }
        lp.delete(id_of(src))
    })
}

/// Waits up to `timeout_ms` (0: poll, -1: no limit) for ready fds, then, on
/// the calling thread, runs the callbacks of ready fds, of due timers and of
/// posted functions. The wait ends early when a timer is due, a function is
/// posted or the loop is woken. Returns the number of callbacks run, or -1
/// for a NULL loop or a failed wait.
#[no_mangle]
pub extern "C" fn xEventWait(r#loop: xEventLoop, timeout_ms: c_int) -> c_int {
    ffi_boundary!(-1, {
        let Some(lp) = lookup(id_of(r#loop)) else {
            return -1;
        };
        match lp.wait(timeout_ms) {
            Ok(n) => n.min(c_int::MAX as usize) as c_int,
            Err(_) => -1,
        }
    })
}

/// Makes a blocked xEventWait (or the next one) return at once. Any thread.
/// Returns xErrno_InvalidArg for a NULL loop, xErrno_SysError on failure.
#[no_mangle]
pub extern "C" fn xEventWake(r#loop: xEventLoop) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(lp) = lookup(id_of(r#loop)) else {
            return xErrno_InvalidArg;
        };
        match lp.wake() {
            Ok(()) => xErrno_Ok,
            Err(_) => xErrno_SysError,
        }
    })
}

/// Runs `fn(arg)` once on the loop thread, `delay_ms` milliseconds from now.
/// Any thread may call it. The handle is valid until the timer fires or is
/// cancelled. Timers due at the same time fire in creation order. Returns
/// NULL for a NULL loop or fn.
#[no_mangle]
pub extern "C" fn xEventLoopTimerAfter(
    r#loop: xEventLoop,
    r#fn: xEventTimerFunc,
    arg: *mut c_void,
    delay_ms: u64,
) -> xEventTimer {
    ffi_boundary!(null_mut(), {
        let (Some(lp), Some(f)) = (lookup(id_of(r#loop)), r#fn) else {
            return null_mut();
        };
        handle(lp.timer_at(os::mono_ms().saturating_add(delay_ms), f, UserPtr(arg)))
    })
}

/// Like xEventLoopTimerAfter, at the absolute time `abs_ms` of xMonoMs (a
/// time already past fires at the next dispatch).
#[no_mangle]
pub extern "C" fn xEventLoopTimerAt(
    r#loop: xEventLoop,
    r#fn: xEventTimerFunc,
    arg: *mut c_void,
    abs_ms: u64,
) -> xEventTimer {
    ffi_boundary!(null_mut(), {
        let (Some(lp), Some(f)) = (lookup(id_of(r#loop)), r#fn) else {
            return null_mut();
        };
        handle(lp.timer_at(abs_ms, f, UserPtr(arg)))
    })
}

/// Cancels a timer. Returns xErrno_Ok if it was pending (it will not fire),
/// xErrno_Unknown if it already fired, was cancelled, is NULL or unknown;
/// xErrno_InvalidArg for a NULL loop.
#[no_mangle]
pub extern "C" fn xEventLoopTimerCancel(r#loop: xEventLoop, timer: xEventTimer) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(lp) = lookup(id_of(r#loop)) else {
            return xErrno_InvalidArg;
        };
        if !timer.is_null() && lp.timer_cancel(id_of(timer)) {
            xErrno_Ok
        } else {
            xErrno_Unknown
        }
    })
}

/// Queues `fn(arg)` to run on the loop thread, in posting order, at the next
/// dispatch; wakes the loop. Any thread may call it. Returns
/// xErrno_InvalidArg for a NULL loop or fn.
#[no_mangle]
pub extern "C" fn xEventLoopPost(
    r#loop: xEventLoop,
    r#fn: xEventPostFunc,
    arg: *mut c_void,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let (Some(lp), Some(f)) = (lookup(id_of(r#loop)), r#fn) else {
            return xErrno_InvalidArg;
        };
        lp.post(f, UserPtr(arg));
        xErrno_Ok
    })
}

/// Dispatches (as xEventWait) until xEventLoopStop. NULL: returns at once.
#[no_mangle]
pub extern "C" fn xEventLoopRun(r#loop: xEventLoop) {
    ffi_boundary!((), {
        if let Some(lp) = lookup(id_of(r#loop)) {
            lp.run();
        }
    })
}

/// Asks xEventLoopRun / xEventLoopWait to return; any thread may call it. A
/// stop requested while the loop is not running ends the next run at once.
/// NULL: no-op.
#[no_mangle]
pub extern "C" fn xEventLoopStop(r#loop: xEventLoop) {
    ffi_boundary!((), {
        if let Some(lp) = lookup(id_of(r#loop)) {
            lp.request_stop();
        }
    })
}

/// Dispatches until xEventLoopStop (returns xErrno_Ok) or until `timeout_ms`
/// elapsed (-1: no limit; returns xErrno_Timeout). xErrno_InvalidArg for a
/// NULL loop, xErrno_SysError if waiting fails.
#[no_mangle]
pub extern "C" fn xEventLoopWait(r#loop: xEventLoop, timeout_ms: c_int) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(lp) = lookup(id_of(r#loop)) else {
            return xErrno_InvalidArg;
        };
        match lp.wait_until_stopped(timeout_ms) {
            WaitEnd::Stopped => xErrno_Ok,
            WaitEnd::TimedOut => xErrno_Timeout,
            WaitEnd::Failed => xErrno_SysError,
        }
    })
}

/// Runs `fn(signo, arg)` on the loop thread each time `signo` arrives,
/// through a signalfd. The signal is blocked in the calling thread's mask;
/// the program should block it in every thread (for example before starting
/// threads), otherwise another thread may take it through its default
/// action. Watching a signal again replaces fn and arg. Returns
/// xErrno_InvalidArg for a NULL loop or fn or a signal that cannot be
/// caught (SIGKILL, SIGSTOP, out of range), xErrno_SysError on failure.
#[no_mangle]
pub extern "C" fn xEventLoopSignalWatch(
    r#loop: xEventLoop,
    signo: c_int,
    r#fn: xEventSignalFunc,
    arg: *mut c_void,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let (Some(lp), Some(f)) = (lookup(id_of(r#loop)), r#fn) else {
            return xErrno_InvalidArg;
        };
        if signo <= 0
            || signo > libc::SIGRTMAX()
            || signo == libc::SIGKILL
            || signo == libc::SIGSTOP
        {
            return xErrno_InvalidArg;
        }
        lp.watch_signal(signo, f, UserPtr(arg))
    })
}

/// The monotonic clock in milliseconds; same as xMonoMs (deprecated alias).
#[no_mangle]
pub extern "C" fn xEventLoopNowMs() -> u64 {
    ffi_boundary!(0, { os::mono_ms() })
}
