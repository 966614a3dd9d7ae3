//! `socket.h`: non-blocking sockets owned by the library and registered on a
//! loop. The `xSocket` handle and `xSocketFunc` type are written in
//! `cbindgen/xbase/socket.toml`; the functions wrap `crate::evloop::socket`.

use crate::evloop::{handle, id_of, socket, UserPtr};
use crate::ffi_boundary;
use crate::types::*;
use libc::{c_int, c_void};
use std::ptr::null_mut;

/// Creates a non-blocking, close-on-exec socket (`socket(family, type,
/// protocol)`) and registers it on the loop for `mask`, edge-triggered:
/// `callback(sock, ready_mask, userp)` runs on the loop thread (a NULL
/// callback is allowed: readiness is then ignored). Returns NULL for a NULL
/// loop or when the socket cannot be created.
#[no_mangle]
pub extern "C" fn xSocketCreate(
    r#loop: xEventLoop,
    family: c_int,
    r#type: c_int,
    protocol: c_int,
    mask: xEventMask,
    callback: xSocketFunc,
    userp: *mut c_void,
) -> xSocket {
    ffi_boundary!(null_mut(), {
        socket::create(
            id_of(r#loop),
            family,
            r#type,
            protocol,
            mask,
            callback,
            UserPtr(userp),
        )
        .map_or(null_mut(), handle)
    })
}

/// Adopts an existing socket `fd` (made non-blocking and close-on-exec) as
/// with xSocketCreate; xSocketDestroy closes it. Returns NULL for a NULL
/// loop, a negative fd or when it cannot be registered; the caller then
/// still owns the fd.
#[no_mangle]
pub extern "C" fn xSocketCreateFromFd(
    r#loop: xEventLoop,
    fd: c_int,
    mask: xEventMask,
    callback: xSocketFunc,
    userp: *mut c_void,
) -> xSocket {
    ffi_boundary!(null_mut(), {
        socket::adopt(id_of(r#loop), fd, mask, callback, UserPtr(userp)).map_or(null_mut(), handle)
    })
}

/// Unregisters the socket from the loop it was created on, closes its fd
/// and frees it (also after that loop was destroyed). NULL: no-op.
#[no_mangle]
pub extern "C" fn xSocketDestroy(r#loop: xEventLoop, sock: xSocket) {
    ffi_boundary!((), {
        let _ = r#loop;
        socket::destroy(id_of(sock))
    })
}

/// Changes the events the socket waits for. xErrno_InvalidArg for a NULL,
/// unknown or destroyed socket or a loop other than its own.
#[no_mangle]
pub extern "C" fn xSocketSetMask(r#loop: xEventLoop, sock: xSocket, mask: xEventMask) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        if r#loop.is_null() || sock.is_null() {
            return xErrno_InvalidArg;
        }
        socket::set_mask(id_of(r#loop), id_of(sock), mask)
    })
}

/// Idle timeouts: when the socket waits for xEvent_Read (xEvent_Write) and
/// that direction is not ready for `read_timeout_ms` (`write_timeout_ms`),
/// the callback gets `xEvent_Timeout | xEvent_Read` (`| xEvent_Write`); the
/// period then restarts. A value <= 0 disables that timeout. Returns
/// xErrno_InvalidArg for a NULL or unknown socket, xErrno_InvalidState if
/// its loop was destroyed.
#[no_mangle]
pub extern "C" fn xSocketSetTimeout(
    sock: xSocket,
    read_timeout_ms: c_int,
    write_timeout_ms: c_int,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        if sock.is_null() {
            return xErrno_InvalidArg;
        }
        socket::set_timeout(id_of(sock), read_timeout_ms, write_timeout_ms)
    })
}

/// The socket's fd; -1 for NULL or an unknown socket.
#[no_mangle]
pub extern "C" fn xSocketFd(sock: xSocket) -> c_int {
    ffi_boundary!(-1, { socket::fd(id_of(sock)) })
}

/// The mask last set on the socket; 0 for NULL or an unknown socket.
#[no_mangle]
pub extern "C" fn xSocketMask(sock: xSocket) -> xEventMask {
    ffi_boundary!(0, { socket::mask(id_of(sock)) })
}
