//! The xbase types shared with libxp2p: error codes, handles and callback
//! signatures, exactly as `xbase/error.h` and `xbase/event.h` declare them.
//! Always compiled, also without the `abi` feature.
#![allow(non_camel_case_types, non_upper_case_globals)]

use libc::{c_int, c_void};

/// `xErrno` (`XDEF_ENUM`, so a plain `int`).
pub type xErrno = c_int;
pub const xErrno_Ok: xErrno = 0;
pub const xErrno_Unknown: xErrno = 1;
pub const xErrno_InvalidArg: xErrno = 2;
pub const xErrno_NoMemory: xErrno = 3;
pub const xErrno_InvalidState: xErrno = 4;
pub const xErrno_SysError: xErrno = 5;
pub const xErrno_NotFound: xErrno = 6;
pub const xErrno_AlreadyExists: xErrno = 7;
pub const xErrno_Cancelled: xErrno = 8;
pub const xErrno_NotSupported: xErrno = 9;
pub const xErrno_DnsNotFound: xErrno = 10;
pub const xErrno_DnsTempFail: xErrno = 11;
pub const xErrno_DnsError: xErrno = 12;
pub const xErrno_Timeout: xErrno = 13;
pub const xErrno_Again: xErrno = 14;
pub const xErrno_Busy: xErrno = 15;
pub const xErrno_Pending: xErrno = 16;
pub const xErrno_PromptTooLong: xErrno = 17;

/// `xEventMask` (`XDEF_ENUM`).
pub type xEventMask = c_int;
pub const xEvent_Read: xEventMask = 1 << 0;
pub const xEvent_Write: xEventMask = 1 << 1;
pub const xEvent_Timeout: xEventMask = 1 << 2;

pub type xEventLoop = *mut c_void;
pub type xEventSource = *mut c_void;
pub type xEventTimer = *mut c_void;
pub type xSocket = *mut c_void;
pub type xTaskGroup = *mut c_void;

pub type xEventFunc = Option<unsafe extern "C" fn(fd: c_int, mask: xEventMask, arg: *mut c_void)>;
pub type xEventTimerFunc = Option<unsafe extern "C" fn(arg: *mut c_void)>;
pub type xEventSignalFunc = Option<unsafe extern "C" fn(signo: c_int, arg: *mut c_void)>;
pub type xEventPostFunc = Option<unsafe extern "C" fn(arg: *mut c_void)>;
pub type xEventDoneFunc = Option<unsafe extern "C" fn(arg: *mut c_void, result: *mut c_void)>;
pub type xTaskFunc = Option<unsafe extern "C" fn(arg: *mut c_void) -> *mut c_void>;
pub type xSocketFunc =
    Option<unsafe extern "C" fn(sock: xSocket, mask: xEventMask, arg: *mut c_void)>;
