//! Declarations of the xbase functions that other libraries (libxp2p) call.
//! They resolve at load time against whichever libxbase the program links:
//! real xKit, or ours.

use crate::types::*;
use libc::{c_int, c_void};

extern "C" {
    pub fn xEventAdd(
        lp: xEventLoop,
        fd: c_int,
        mask: xEventMask,
        func: xEventFunc,
        arg: *mut c_void,
    ) -> xEventSource;
    pub fn xEventMod(lp: xEventLoop, src: xEventSource, mask: xEventMask) -> xErrno;
    pub fn xEventDel(lp: xEventLoop, src: xEventSource) -> xErrno;
    pub fn xEventWake(lp: xEventLoop) -> xErrno;
    pub fn xEventLoopTimerAfter(
        lp: xEventLoop,
        func: xEventTimerFunc,
        arg: *mut c_void,
        delay_ms: u64,
    ) -> xEventTimer;
    pub fn xEventLoopTimerCancel(lp: xEventLoop, timer: xEventTimer) -> xErrno;
    pub fn xEventLoopPost(lp: xEventLoop, func: xEventPostFunc, arg: *mut c_void) -> xErrno;
    pub fn xMonoMs() -> u64;
}
