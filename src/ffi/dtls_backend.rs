//! `dtls_backend.h`: the DTLS types shared by the transport API (roles,
//! states, the send callback, fingerprint sizes), the fingerprint text
//! helper, and the backend vtable (`xDtlsBackendGet`), the seam for a
//! second TLS library. libxp2p's backend is "openssl" or "mbedtls",
//! chosen at build time: `crate::dtls`.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use super::boundary::{bytes, ffi_boundary};
use crate::driver::clock;
use crate::dtls::{DtlsError, DtlsRole, DtlsState};
use crate::object::backend::{self, BackendCtx};
use crate::object::{cabi, handle, Handle};
use libc::{c_char, c_int, c_void};
use std::sync::Arc;
use xbase::types::*;

pub const XDTLS_FINGERPRINT_SIZE: usize = 32;
pub const XDTLS_FINGERPRINT_STR_SIZE: usize = 96;
pub const XDTLS_MAX_CERT_SIZE: usize = 2048;

/// `xDtlsRole` (`XDEF_ENUM`).
pub type xDtlsRole = c_int;
pub const xDtlsRole_Active: xDtlsRole = 0;
pub const xDtlsRole_Passive: xDtlsRole = 1;
pub const xDtlsRole_Actpass: xDtlsRole = 2;

/// `xDtlsState` (`XDEF_ENUM`).
pub type xDtlsState = c_int;
pub const xDtlsState_New: xDtlsState = 0;
pub const xDtlsState_Connecting: xDtlsState = 1;
pub const xDtlsState_Connected: xDtlsState = 2;
pub const xDtlsState_Failed: xDtlsState = 3;
pub const xDtlsState_Closed: xDtlsState = 4;

/// Sends one DTLS datagram towards the peer.
pub type xDtlsSendFn =
    Option<unsafe extern "C" fn(data: *const u8, len: usize, arg: *mut c_void) -> xErrno>;

/// A DTLS session of the backend, opaque to C.
pub struct xDtlsBackendCtx {
    _private: [u8; 0],
}

/// The DTLS backend vtable (96 bytes). Every function is synchronous: the
/// caller drives the session, and datagrams leave through the `send_fn`
/// given to `create`, from inside `handshake`, `flush_output` and
/// `encrypt_send` (never from `feed_input`, so a `send_fn` that feeds the
/// peer at once does not recurse).
#[repr(C)]
pub struct xDtlsBackend {
    pub name: *const c_char,
    pub create: Option<
        unsafe extern "C" fn(
            role: xDtlsRole,
            send_fn: xDtlsSendFn,
            send_arg: *mut c_void,
        ) -> *mut xDtlsBackendCtx,
    >,
    pub destroy: Option<unsafe extern "C" fn(ctx: *mut xDtlsBackendCtx)>,
    pub set_role:
        Option<unsafe extern "C" fn(ctx: *mut xDtlsBackendCtx, role: xDtlsRole) -> xErrno>,
    pub get_fingerprint:
        Option<unsafe extern "C" fn(ctx: *mut xDtlsBackendCtx, out: *mut u8) -> xErrno>,
    pub handshake: Option<unsafe extern "C" fn(ctx: *mut xDtlsBackendCtx) -> xErrno>,
    pub flush_output: Option<unsafe extern "C" fn(ctx: *mut xDtlsBackendCtx)>,
    pub feed_input: Option<
        unsafe extern "C" fn(ctx: *mut xDtlsBackendCtx, data: *const u8, len: usize) -> xErrno,
    >,
    pub encrypt_send: Option<
        unsafe extern "C" fn(ctx: *mut xDtlsBackendCtx, data: *const u8, len: usize) -> xErrno,
    >,
    pub decrypt_read: Option<
        unsafe extern "C" fn(
            ctx: *mut xDtlsBackendCtx,
            buf: *mut u8,
            buf_cap: usize,
            out_len: *mut usize,
        ) -> xErrno,
    >,
    pub get_remote_fingerprint:
        Option<unsafe extern "C" fn(ctx: *mut xDtlsBackendCtx, out: *mut u8) -> xErrno>,
    pub is_handshake_done: Option<unsafe extern "C" fn(ctx: *mut xDtlsBackendCtx) -> bool>,
}

// SAFETY: the table is immutable; `name` points to a static string.
unsafe impl Sync for xDtlsBackend {}

// The send callback is the one the object layer calls.
const _: fn(xDtlsSendFn) -> Option<cabi::SendFn> = |f| f;

#[cfg_attr(xp2p_device, optimize(size))]
fn backend_role(role: xDtlsRole) -> DtlsRole {
    if role == xDtlsRole_Active {
        DtlsRole::Client
    } else {
        DtlsRole::Server
    }
}

/// The live session a context pointer names; a context pointer is a handle
/// of the object registry, so NULL, stale and foreign contexts are
/// rejected, never dereferenced.
#[cfg_attr(xp2p_device, optimize(size))]
fn ctx_of(ctx: *mut xDtlsBackendCtx) -> Option<Arc<BackendCtx>> {
    handle::get(Handle::<BackendCtx>::from_ptr(ctx as *const c_void))
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_create(
    role: xDtlsRole,
    send_fn: xDtlsSendFn,
    send_arg: *mut c_void,
) -> *mut xDtlsBackendCtx {
    ffi_boundary!(std::ptr::null_mut(), {
        let Some(send_fn) = send_fn else {
            return std::ptr::null_mut();
        };
        match backend::create(backend_role(role), send_fn, send_arg) {
            Some(h) => h.as_ptr().cast(),
            None => std::ptr::null_mut(),
        }
    })
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_destroy(ctx: *mut xDtlsBackendCtx) {
    ffi_boundary!((), {
        handle::remove(Handle::<BackendCtx>::from_ptr(ctx as *const c_void));
    })
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_set_role(ctx: *mut xDtlsBackendCtx, role: xDtlsRole) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(c) = ctx_of(ctx) else {
            return xErrno_InvalidArg;
        };
        let r = c.session.lock().set_role(backend_role(role));
        match r {
            Ok(()) => xErrno_Ok,
            Err(_) => xErrno_InvalidState,
        }
    })
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_get_fingerprint(ctx: *mut xDtlsBackendCtx, out: *mut u8) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(c) = ctx_of(ctx).filter(|_| !out.is_null()) else {
            return xErrno_InvalidArg;
        };
        let fp = c.session.lock().local_fingerprint();
        // SAFETY: `out` is non-NULL and holds 32 bytes (vtable contract);
        // `fp.0` is 32 bytes.
        unsafe { std::ptr::copy_nonoverlapping(fp.0.as_ptr(), out, XDTLS_FINGERPRINT_SIZE) };
        xErrno_Ok
    })
}

/// Starts the handshake on the first call; later calls let DTLS retransmit
/// its last flight when its timer has expired. Sends what is due. Ok once
/// the handshake is done, Again while it runs, InvalidState when the
/// session failed or closed.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_handshake(ctx: *mut xDtlsBackendCtx) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(c) = ctx_of(ctx) else {
            return xErrno_InvalidArg;
        };
        match c.handshake_step() {
            Some(DtlsState::Connected) => xErrno_Ok,
            Some(DtlsState::New | DtlsState::Connecting) => xErrno_Again,
            Some(DtlsState::Failed | DtlsState::Closed) | None => xErrno_InvalidState,
        }
    })
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_flush_output(ctx: *mut xDtlsBackendCtx) {
    ffi_boundary!((), {
        if let Some(c) = ctx_of(ctx) {
            c.flush();
        }
    })
}

/// Takes one datagram from the peer; the answers it causes wait for the
/// next `handshake` or `flush_output`.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_feed_input(
    ctx: *mut xDtlsBackendCtx,
    data: *const u8,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: a non-NULL `data` points to `len` bytes (vtable contract).
        let input = unsafe { bytes(data, len) }.filter(|b| !b.is_empty());
        let (Some(c), Some(input)) = (ctx_of(ctx), input) else {
            return xErrno_InvalidArg;
        };
        c.session.lock().handle_datagram(clock::now(), input);
        xErrno_Ok
    })
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_encrypt_send(
    ctx: *mut xDtlsBackendCtx,
    data: *const u8,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: a non-NULL `data` points to `len` bytes (vtable contract).
        let msg = unsafe { bytes(data, len) }.filter(|b| !b.is_empty());
        let (Some(c), Some(msg)) = (ctx_of(ctx), msg) else {
            return xErrno_InvalidArg;
        };
        let r = c.session.lock().send(msg);
        c.flush();
        match r {
            Ok(()) => xErrno_Ok,
            Err(DtlsError::NotConnected) => xErrno_InvalidState,
            Err(DtlsError::QueueFull) => xErrno_Again,
            Err(_) => xErrno_InvalidArg,
        }
    })
}

/// Copies the next decrypted message into `buf`: Ok with its length,
/// Again when none is waiting, NoMemory (with the needed length in
/// `*out_len`) when `buf` is too small.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_decrypt_read(
    ctx: *mut xDtlsBackendCtx,
    buf: *mut u8,
    buf_cap: usize,
    out_len: *mut usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(c) = ctx_of(ctx) else {
            return xErrno_InvalidArg;
        };
        if out_len.is_null() || (buf.is_null() && buf_cap > 0) {
            return xErrno_InvalidArg;
        }
        let dst: &mut [u8] = if buf_cap == 0 {
            &mut []
        } else {
            // SAFETY: `buf` is non-NULL (checked) and holds `buf_cap`
            // writable bytes (vtable contract).
            unsafe { std::slice::from_raw_parts_mut(buf, buf_cap) }
        };
        let r = c.session.lock().recv(dst);
        let (len, errno) = match r {
            Ok(Some(n)) => (n, xErrno_Ok),
            Ok(None) => (0, xErrno_Again),
            Err(DtlsError::BufferTooSmall { needed }) => (needed, xErrno_NoMemory),
            Err(_) => return xErrno_Unknown,
        };
        // SAFETY: `out_len` is non-NULL (checked) and writable (vtable
        // contract).
        unsafe { *out_len = len };
        errno
    })
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_get_remote_fingerprint(
    ctx: *mut xDtlsBackendCtx,
    out: *mut u8,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(c) = ctx_of(ctx).filter(|_| !out.is_null()) else {
            return xErrno_InvalidArg;
        };
        let fp = c.session.lock().remote_fingerprint();
        match fp {
            Some(fp) => {
                // SAFETY: `out` is non-NULL and holds 32 bytes (vtable
                // contract); `fp.0` is 32 bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(fp.0.as_ptr(), out, XDTLS_FINGERPRINT_SIZE)
                };
                xErrno_Ok
            }
            None => xErrno_InvalidState,
        }
    })
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn backend_is_handshake_done(ctx: *mut xDtlsBackendCtx) -> bool {
    ffi_boundary!(false, {
        ctx_of(ctx).is_some_and(|c| c.session.lock().state() == DtlsState::Connected)
    })
}

static BACKEND: xDtlsBackend = xDtlsBackend {
    name: crate::dtls::BACKEND.as_ptr(),
    create: Some(backend_create),
    destroy: Some(backend_destroy),
    set_role: Some(backend_set_role),
    get_fingerprint: Some(backend_get_fingerprint),
    handshake: Some(backend_handshake),
    flush_output: Some(backend_flush_output),
    feed_input: Some(backend_feed_input),
    encrypt_send: Some(backend_encrypt_send),
    decrypt_read: Some(backend_decrypt_read),
    get_remote_fingerprint: Some(backend_get_remote_fingerprint),
    is_handshake_done: Some(backend_is_handshake_done),
};

/// The compiled-in DTLS backend: "openssl" or "mbedtls" (chosen at build
/// time), over the library's sans-IO
/// DTLS 1.2 session (ECDSA P-256 certificate per context, no fingerprint
/// pinning: compare `get_remote_fingerprint` yourself). The caller drives
/// it: `feed_input` every datagram from the peer, and call `handshake`
/// until it returns Ok (calling it again after a quiet second retransmits
/// the last flight), then `encrypt_send` / `decrypt_read`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub extern "C" fn xDtlsBackendGet() -> *const xDtlsBackend {
    ffi_boundary!(std::ptr::null(), { &BACKEND as *const xDtlsBackend })
}
