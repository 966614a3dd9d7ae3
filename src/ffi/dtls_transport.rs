//! `dtls_transport.h`: a DTLS 1.2 transport for C callers, driven by the
//! caller: it feeds received datagrams in and gets datagrams to send through
//! its `send_fn`. The protocol is `crate::dtls`; retransmission and the
//! handshake timeout run on timers of the caller's loop. As upstream, the
//! callbacks run inside the call that caused them, once the transport's lock
//! is released: `on_state_change(Connecting)` and the first flight's
//! `send_fn` inside `xDtlsTransportStart`, `Connected`, `Failed` and
//! `on_data` inside `xDtlsTransportFeedInput`, `send_fn` inside
//! `xDtlsTransportSend`, `Closed` inside `xDtlsTransportDestroy`;
//! retransmissions and the handshake timeout from the loop timer. The
//! packets of an SCTP transport over it reach `send_fn` from the loop (they
//! are sent from inside other objects' calls).
//!
//! An `xSctpTransport` created over a transport becomes the consumer of its
//! decrypted records: they go straight to SCTP, and `on_data` is not called
//! while the SCTP transport lives. A handle may also be the view of a
//! PeerConnection's DTLS session (`xPeerConnectionGetDtlsTransport`): its
//! getters read the PeerConnection; it cannot be started, fed or destroyed.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use super::boundary::{bytes, cstr_bytes, ffi_boundary, opt_ref};
use super::dtls_backend::*;
use crate::driver::loop_queue::LoopQueue;
use crate::dtls::{
    Certificate, DtlsConfig, DtlsError, DtlsRole, DtlsSession, DtlsState, Fingerprint,
};
use crate::object::dtls::{self, DtlsCallbacks, DtlsObject};
use crate::object::lookup::{self, Dtls};
use crate::object::pc::with_endpoint;
use crate::object::{cabi, Handle};
use libc::{c_char, c_void};
use std::time::Duration;
use xbase::types::*;

/// Opaque handle of a DTLS transport.
pub type xDtlsTransport = *mut c_void;

pub type xDtlsOnStateChange =
    Option<unsafe extern "C" fn(transport: xDtlsTransport, state: xDtlsState, arg: *mut c_void)>;
pub type xDtlsOnData = Option<
    unsafe extern "C" fn(transport: xDtlsTransport, data: *const u8, len: usize, arg: *mut c_void),
>;

/// Configuration of [`xDtlsTransportCreate`] (96 bytes), copied at create.
#[repr(C)]
pub struct xDtlsTransportConf {
    pub r#loop: xEventLoop,
    pub role: xDtlsRole,
    pub remote_fingerprint: [u8; XDTLS_FINGERPRINT_SIZE],
    pub verify_fingerprint: bool,
    pub send_fn: xDtlsSendFn,
    pub send_arg: *mut c_void,
    pub on_state_change: xDtlsOnStateChange,
    pub on_data: xDtlsOnData,
    pub ctx: *mut c_void,
    pub handshake_timeout_ms: u32,
}

// The callback types are the ones the object layer calls.
const _: fn(xDtlsOnStateChange) -> Option<cabi::StateFn> = |f| f;
const _: fn(xDtlsOnData) -> Option<cabi::DataFn> = |f| f;
const _: fn(xDtlsSendFn) -> Option<cabi::SendFn> = |f| f;

#[cfg_attr(xp2p_device, optimize(size))]
fn role_of(role: xDtlsRole) -> DtlsRole {
    if role == xDtlsRole_Active {
        DtlsRole::Client
    } else {
        DtlsRole::Server
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn state_code(s: DtlsState) -> xDtlsState {
    match s {
        DtlsState::New => xDtlsState_New,
        DtlsState::Connecting => xDtlsState_Connecting,
        DtlsState::Connected => xDtlsState_Connected,
        DtlsState::Failed => xDtlsState_Failed,
        DtlsState::Closed => xDtlsState_Closed,
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn errno(e: &DtlsError) -> xErrno {
    match e {
        DtlsError::InvalidState | DtlsError::NotConnected => xErrno_InvalidState,
        DtlsError::QueueFull => xErrno_Again,
        DtlsError::Crypto(_) => xErrno_Unknown,
        _ => xErrno_InvalidArg,
    }
}

/// A transport created with `xDtlsTransportCreate` (InvalidArg for bad
/// handles, InvalidState for the view of a PeerConnection's session).
#[cfg_attr(xp2p_device, optimize(size))]
fn own(t: xDtlsTransport) -> Result<Handle<DtlsObject>, xErrno> {
    match lookup::dtls(t) {
        Some(Dtls::Own(h)) => Ok(h),
        Some(Dtls::Pc(_)) => Err(xErrno_InvalidState),
        None => Err(xErrno_InvalidArg),
    }
}

/// Runs `own` on the session of a transport of this header, `read` on the
/// PeerConnection behind a view; `dead` for bad handles and destroyed
/// PeerConnections.
fn read_transport<R>(
    t: xDtlsTransport,
    dead: R,
    own: impl FnOnce(&mut DtlsSession) -> R,
    read: impl FnOnce(&crate::peer::PeerConnection) -> R,
) -> R {
    match lookup::dtls(t) {
        Some(Dtls::Own(h)) => dtls::with_session(h, own).unwrap_or(dead),
        Some(Dtls::Pc(pc)) => with_endpoint(pc, dead, |ep| read(&ep.pc)),
        None => dead,
    }
}

/// Creates a transport with a fresh ECDSA P-256 certificate. NULL if
/// `conf`, its loop or its `send_fn` is NULL, or key generation fails.
/// `Actpass` acts as `Passive`; a zero timeout means 10 s.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDtlsTransportCreate(conf: *const xDtlsTransportConf) -> xDtlsTransport {
    ffi_boundary!(std::ptr::null_mut(), {
        // SAFETY: a non-NULL `conf` points to a valid conf (caller contract).
        let Some(conf) = (unsafe { opt_ref(conf) }) else {
            return std::ptr::null_mut();
        };
        if conf.r#loop.is_null() || conf.send_fn.is_none() {
            return std::ptr::null_mut();
        }
        let Ok(cert) = Certificate::generate() else {
            return std::ptr::null_mut();
        };
        let timeout = match conf.handshake_timeout_ms {
            0 => Duration::from_secs(10),
            ms => Duration::from_millis(u64::from(ms)),
        };
        let mut cfg = DtlsConfig::new(role_of(conf.role), cert);
        cfg.handshake_timeout = timeout;
        if conf.verify_fingerprint {
            cfg.remote_fingerprint = Some(Fingerprint(conf.remote_fingerprint));
        }
        let Ok(session) = DtlsSession::new(cfg) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `conf->loop` is a live loop (caller contract), checked
        // non-NULL above.
        let Ok(queue) = (unsafe { LoopQueue::attach(conf.r#loop) }) else {
            return std::ptr::null_mut();
        };
        let cb = DtlsCallbacks {
            send_fn: conf.send_fn,
            send_arg: conf.send_arg as usize,
            on_state_change: conf.on_state_change,
            on_data: conf.on_data,
            ctx: conf.ctx as usize,
        };
        dtls::create(conf.r#loop, queue, cb, session).as_ptr()
    })
}

/// Destroys a transport and stops its timer. As upstream,
/// `on_state_change(Closed)` runs inside this call (the handle is already
/// stale then); no callback of the transport runs after this returns, so
/// its `ctx` and `send_arg` may be freed at once. An SCTP transport over it
/// stops receiving. NULL, stale and foreign handles are ignored, and so is
/// the view of a PeerConnection's session (the PeerConnection owns it).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDtlsTransportDestroy(transport: xDtlsTransport) {
    ffi_boundary!((), {
        let Some(Dtls::Own(h)) = lookup::dtls(transport) else {
            return;
        };
        if let Some(DtlsCallbacks {
            on_state_change: Some(f),
            ctx,
            ..
        }) = dtls::destroy(h)
        {
            // SAFETY: the user's callback with its own ctx, no lock held;
            // the handle is already stale, as the header says.
            unsafe { f(transport, xDtlsState_Closed, ctx as *mut c_void) };
        }
    })
}

/// Starts the handshake: state Connecting, reported through
/// `on_state_change` inside this call; the client (Active) sends its
/// ClientHello through `send_fn`, also inside this call. InvalidArg for a
/// bad handle, InvalidState unless New.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDtlsTransportStart(transport: xDtlsTransport) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        match own(transport).map(dtls::start) {
            Ok(Some(Ok(()))) => xErrno_Ok,
            Ok(Some(Err(e))) => errno(&e),
            Ok(None) => xErrno_InvalidArg,
            Err(e) => e,
        }
    })
}

/// Feeds one datagram received from the peer. InvalidArg for NULL or empty
/// input. Malformed datagrams are dropped and counted; they never crash
/// and leave the state Connecting, Connected or Failed.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDtlsTransportFeedInput(
    transport: xDtlsTransport,
    data: *const u8,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: a non-NULL `data` points to `len` bytes (caller contract).
        let Some(input) = unsafe { bytes(data, len) }.filter(|b| !b.is_empty()) else {
            return xErrno_InvalidArg;
        };
        match own(transport).map(|h| dtls::feed(h, input)) {
            Ok(true) => xErrno_Ok,
            Ok(false) => xErrno_InvalidArg,
            Err(e) => e,
        }
    })
}

/// Encrypts one message as one record and sends it through `send_fn`
/// (inside this call). Messages up to the record limit, 16384 bytes, are
/// accepted: one larger than the datagram size (1200 bytes) goes out as one
/// larger datagram, as upstream wrote whole records. InvalidArg for
/// NULL/empty data or more than 16384 bytes, InvalidState unless Connected.
#[no_mangle]
pub unsafe extern "C" fn xDtlsTransportSend(
    transport: xDtlsTransport,
    data: *const u8,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: a non-NULL `data` points to `len` bytes (caller contract).
        let Some(msg) = unsafe { bytes(data, len) }.filter(|b| !b.is_empty()) else {
            return xErrno_InvalidArg;
        };
        match own(transport).map(|h| dtls::send(h, msg)) {
            Ok(Some(Ok(()))) => xErrno_Ok,
            Ok(Some(Err(e))) => errno(&e),
            Ok(None) => xErrno_InvalidArg,
            Err(e) => e,
        }
    })
}

/// The fingerprint of the local certificate; `None` for bad handles and
/// the view of a destroyed PeerConnection's session.
#[cfg_attr(xp2p_device, optimize(size))]
fn local_fingerprint(transport: xDtlsTransport) -> Option<Fingerprint> {
    read_transport(
        transport,
        None,
        |s| Some(s.local_fingerprint()),
        |pc| Some(pc.certificate().fingerprint()),
    )
}

/// Writes the 32-byte SHA-256 fingerprint of the local certificate.
/// InvalidArg for NULL arguments.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDtlsTransportGetFingerprint(
    transport: xDtlsTransport,
    out: *mut u8,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        if out.is_null() {
            return xErrno_InvalidArg;
        }
        let fp = local_fingerprint(transport);
        match fp {
            Some(fp) => {
                // SAFETY: `out` is non-NULL and holds 32 bytes (header
                // contract); `fp.0` is 32 bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(fp.0.as_ptr(), out, XDTLS_FINGERPRINT_SIZE)
                };
                xErrno_Ok
            }
            None => xErrno_InvalidArg,
        }
    })
}

/// Writes the local fingerprint as uppercase colon hex (95 characters and a
/// NUL; `out` holds at least 96 bytes). InvalidArg for NULL arguments.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDtlsTransportGetFingerprintStr(
    transport: xDtlsTransport,
    out: *mut c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        if out.is_null() {
            return xErrno_InvalidArg;
        }
        let fp = local_fingerprint(transport);
        let Some(fp) = fp else {
            return xErrno_InvalidArg;
        };
        let text = fp.to_hex();
        let n = text.len().min(XDTLS_FINGERPRINT_STR_SIZE - 1);
        // SAFETY: `out` is non-NULL and holds 96 bytes (header contract);
        // `n` + 1 <= 96.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), out.cast::<u8>(), n);
            *out.add(n) = 0;
        }
        xErrno_Ok
    })
}

/// The transport's state; Closed for NULL, stale or foreign handles and
/// for the view of a destroyed PeerConnection's session. The view of a
/// live PeerConnection's session is New until its remote description.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDtlsTransportGetState(transport: xDtlsTransport) -> xDtlsState {
    ffi_boundary!(xDtlsState_Closed, {
        read_transport(
            transport,
            xDtlsState_Closed,
            |s| state_code(s.state()),
            |pc| {
                let s = pc.dtls().map_or(DtlsState::New, |d| d.state());
                // A closed PeerConnection never started or ended its session.
                if pc.state() == crate::peer::PeerState::Closed {
                    xDtlsState_Closed
                } else {
                    state_code(s)
                }
            },
        )
    })
}

/// The effective role (never Actpass); Passive for a bad handle.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDtlsTransportGetRole(transport: xDtlsTransport) -> xDtlsRole {
    ffi_boundary!(xDtlsRole_Passive, {
        let role = read_transport(transport, None, |s| Some(s.role()), |pc| pc.dtls_role());
        match role {
            Some(DtlsRole::Client) => xDtlsRole_Active,
            _ => xDtlsRole_Passive,
        }
    })
}

/// Changes the role before `Start` (Actpass acts as Passive); the
/// certificate and fingerprint stay. InvalidArg for a bad handle,
/// InvalidState after `Start`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDtlsTransportSetRole(
    transport: xDtlsTransport,
    role: xDtlsRole,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let h = match own(transport) {
            Ok(h) => h,
            Err(e) => return e,
        };
        let r = dtls::with_session(h, |s| {
            if s.state() != DtlsState::New {
                return xErrno_InvalidState;
            }
            match s.set_role(role_of(role)) {
                Ok(()) => xErrno_Ok,
                Err(e) => errno(&e),
            }
        });
        r.unwrap_or(xErrno_InvalidArg)
    })
}

/// Parses `AA:BB:…` (32 bytes, upper or lower hex, ':' separators skipped)
/// into `out`. InvalidArg for NULL, a non-hex character, an odd trailing
/// nibble or fewer than 32 bytes; input after 32 bytes is ignored.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDtlsFingerprintFromStr(str: *const c_char, out: *mut u8) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        if out.is_null() {
            return xErrno_InvalidArg;
        }
        // SAFETY: a non-NULL `str` is NUL-terminated (caller contract).
        let Some(text) = unsafe { cstr_bytes(str) }.and_then(|b| std::str::from_utf8(b).ok())
        else {
            return xErrno_InvalidArg;
        };
        match Fingerprint::from_hex(text) {
            Ok(fp) => {
                // SAFETY: `out` is non-NULL and holds 32 bytes (header
                // contract); `fp.0` is 32 bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(fp.0.as_ptr(), out, XDTLS_FINGERPRINT_SIZE)
                };
                xErrno_Ok
            }
            Err(_) => xErrno_InvalidArg,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_layer_uses_the_header_values() {
        assert_eq!(cabi::DTLS_CONNECTING, xDtlsState_Connecting);
        assert_eq!(cabi::DTLS_CONNECTED, xDtlsState_Connected);
        assert_eq!(cabi::DTLS_FAILED, xDtlsState_Failed);
        assert_eq!(cabi::DTLS_CLOSED, xDtlsState_Closed);
    }
}
