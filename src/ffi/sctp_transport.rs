//! `sctp_transport.h`: an SCTP association (usrsctp, `crate::sctp`) over an
//! `xDtlsTransport` created by the caller, for C callers.
//!
//! * Wiring: the SCTP transport is the consumer of its DTLS transport's
//!   decrypted records, which go straight to SCTP (the DTLS `on_data` is not
//!   called while the SCTP transport lives); SCTP packets are encrypted by
//!   the DTLS transport and leave through its `send_fn`. Packets produced
//!   before the DTLS handshake completed wait (at most 64) and go out when it
//!   does. `xSctpTransportFeedInput` feeds a packet obtained some other way.
//! * Both sides connect (simultaneous open); `is_client` is not needed.
//! * Time: usrsctp's timers and the association timeout run on timers of
//!   `conf->loop`; every callback is posted to that loop, never run inside
//!   an API call, and none runs after `xSctpTransportDestroy`.
//! * Messages are delivered whole up to the max message size (262144
//!   bytes); a larger `Send` gets `xErrno_InvalidArg` and nothing is sent.
//! * The buffered amount is every byte accepted by `Send` and not yet
//!   acknowledged by the peer; `on_buffered_amount_low` fires once each time
//!   it falls from above to the threshold, which is 0 here (the peer has
//!   acknowledged everything).
//!
//! A handle may also be the view of a PeerConnection's association
//! (`xPeerConnectionGetSctpTransport`): its getters read the PeerConnection;
//! it cannot be started, fed, sent on or destroyed.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use super::boundary::{bytes, ffi_boundary, opt_ref};
use super::dtls_transport::xDtlsTransport;
use crate::driver::loop_queue::LoopQueue;
use crate::object::lookup::{self, Dtls, Sctp};
use crate::object::pc::with_endpoint;
use crate::object::sctp::{self, send_errno, SctpCallbacks, SctpObject};
use crate::object::{cabi, Handle};
use crate::sctp::{SctpAssociation, SctpConfig};
use libc::c_void;
use std::time::Duration;
use xbase::types::*;

pub const XSCTP_DEFAULT_PORT: u16 = 5000;
pub const XSCTP_MAX_STREAMS: u16 = 256;
pub const XSCTP_PPID_DCEP: u32 = 50;
pub const XSCTP_PPID_STRING: u32 = 51;
pub const XSCTP_PPID_BINARY: u32 = 53;
pub const XSCTP_PPID_STRING_EMPTY: u32 = 56;
pub const XSCTP_PPID_BINARY_EMPTY: u32 = 57;

/// Opaque handle of an SCTP transport.
pub type xSctpTransport = *mut c_void;

pub type xSctpOnStateChange =
    Option<unsafe extern "C" fn(transport: xSctpTransport, connected: bool, arg: *mut c_void)>;
pub type xSctpOnData = Option<
    unsafe extern "C" fn(
        transport: xSctpTransport,
        stream_id: u16,
        ppid: u32,
        data: *const u8,
        len: usize,
        arg: *mut c_void,
    ),
>;
pub type xSctpOnStreamOpen =
    Option<unsafe extern "C" fn(transport: xSctpTransport, stream_id: u16, arg: *mut c_void)>;
pub type xSctpOnStreamClose =
    Option<unsafe extern "C" fn(transport: xSctpTransport, stream_id: u16, arg: *mut c_void)>;
pub type xSctpOnBufferedAmountLow =
    Option<unsafe extern "C" fn(transport: xSctpTransport, arg: *mut c_void)>;

/// Configuration of [`xSctpTransportCreate`] (80 bytes), copied at create.
#[repr(C)]
pub struct xSctpTransportConf {
    pub r#loop: xEventLoop,
    pub dtls: xDtlsTransport,
    pub is_client: bool,
    pub local_port: u16,
    pub remote_port: u16,
    pub on_state_change: xSctpOnStateChange,
    pub on_data: xSctpOnData,
    pub on_stream_open: xSctpOnStreamOpen,
    pub on_stream_close: xSctpOnStreamClose,
    pub on_buffered_amount_low: xSctpOnBufferedAmountLow,
    pub ctx: *mut c_void,
    pub assoc_timeout_ms: u32,
}

/// SCTP packets are at most this long, so that each fits one DTLS record
/// in one datagram of the DTLS transport's 1200-byte MTU.
const SCTP_MTU: u16 = 1100;

// The callback types are the ones the object layer calls.
const _: fn(xSctpOnStateChange) -> Option<cabi::SctpStateFn> = |f| f;
const _: fn(xSctpOnData) -> Option<cabi::SctpDataFn> = |f| f;
const _: fn(xSctpOnStreamClose) -> Option<cabi::SctpStreamFn> = |f| f;
const _: fn(xSctpOnBufferedAmountLow) -> Option<cabi::SctpLowFn> = |f| f;

/// A transport created with `xSctpTransportCreate` (InvalidArg for bad
/// handles, InvalidState for the view of a PeerConnection's association).
#[cfg_attr(xp2p_device, optimize(size))]
fn own(t: xSctpTransport) -> Result<Handle<SctpObject>, xErrno> {
    match lookup::sctp(t) {
        Some(Sctp::Own(h)) => Ok(h),
        Some(Sctp::Pc(_)) => Err(xErrno_InvalidState),
        None => Err(xErrno_InvalidArg),
    }
}

/// Creates an SCTP transport over the DTLS transport `conf->dtls` (which
/// it consumes; one SCTP transport per DTLS transport). NULL if `conf`, its
/// loop or its DTLS transport is NULL, if the DTLS transport is not a live
/// one created with `xDtlsTransportCreate` or already has an SCTP
/// transport. Ports 0 mean 5000, a zero association timeout 10 s.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xSctpTransportCreate(conf: *const xSctpTransportConf) -> xSctpTransport {
    ffi_boundary!(std::ptr::null_mut(), {
        // SAFETY: a non-NULL `conf` points to a valid conf (caller contract).
        let Some(conf) = (unsafe { opt_ref(conf) }) else {
            return std::ptr::null_mut();
        };
        if conf.r#loop.is_null() {
            return std::ptr::null_mut();
        }
        let Some(Dtls::Own(dtls)) = lookup::dtls(conf.dtls) else {
            return std::ptr::null_mut();
        };
        let cfg = SctpConfig {
            local_port: conf.local_port,
            remote_port: conf.remote_port,
            mtu: SCTP_MTU,
            ..SctpConfig::default()
        };
        let Ok(assoc) = SctpAssociation::new(cfg) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `conf->loop` is a live loop (caller contract), checked
        // non-NULL above.
        let Ok(queue) = (unsafe { LoopQueue::attach(conf.r#loop) }) else {
            return std::ptr::null_mut();
        };
        let timeout = match conf.assoc_timeout_ms {
            0 => Duration::from_secs(10),
            ms => Duration::from_millis(u64::from(ms)),
        };
        let cb = SctpCallbacks {
            on_state_change: conf.on_state_change,
            on_data: conf.on_data,
            on_stream_close: conf.on_stream_close,
            on_buffered_amount_low: conf.on_buffered_amount_low,
            ctx: conf.ctx as usize,
        };
        match sctp::create(conf.r#loop, queue, dtls, cb, assoc, timeout) {
            Some(h) => h.as_ptr(),
            None => std::ptr::null_mut(),
        }
    })
}

/// Destroys a transport: the association is aborted (the peer sees an
/// ABORT if DTLS is up), its timer stops and the DTLS transport's `on_data`
/// gets records again. No callback of the transport runs after this
/// returns. NULL, stale and foreign handles are ignored, and so is the view
/// of a PeerConnection's association (the PeerConnection owns it).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xSctpTransportDestroy(transport: xSctpTransport) {
    ffi_boundary!((), {
        if let Some(Sctp::Own(h)) = lookup::sctp(transport) {
            sctp::destroy(h);
        }
    })
}

/// Starts the association (both sides connect); `on_state_change(true)`
/// follows when it is up, `false` if it is not up within the association
/// timeout. InvalidArg for a bad handle, InvalidState when already started
/// or for a PeerConnection's association, SysError if usrsctp refuses.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xSctpTransportStart(transport: xSctpTransport) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        match own(transport).map(sctp::start) {
            Ok(Some(Ok(true))) => xErrno_Ok,
            Ok(Some(Ok(false))) => xErrno_InvalidState,
            Ok(Some(Err(_))) => xErrno_SysError,
            Ok(None) => xErrno_InvalidArg,
            Err(e) => e,
        }
    })
}

/// Sends one message on `stream_id` with `ppid`; unordered when `ordered`
/// is false. InvalidArg for NULL arguments, an empty message, a stream
/// beyond the negotiated ones or a message above the max message size
/// (262144 bytes); InvalidState when not connected (or for a
/// PeerConnection's association); Again when the send buffer is full
/// (retry after `on_buffered_amount_low`).
#[no_mangle]
pub unsafe extern "C" fn xSctpTransportSend(
    transport: xSctpTransport,
    stream_id: u16,
    ppid: u32,
    data: *const u8,
    len: usize,
    ordered: bool,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        if data.is_null() || len == 0 {
            return xErrno_InvalidArg;
        }
        // SAFETY: `data` is non-NULL and points to `len` bytes (caller
        // contract).
        let Some(payload) = (unsafe { bytes(data, len) }) else {
            return xErrno_InvalidArg;
        };
        let h = match own(transport) {
            Ok(h) => h,
            Err(e) => return e,
        };
        match sctp::send_message(h, stream_id, ppid, payload, ordered) {
            Ok(()) => xErrno_Ok,
            Err(e) => send_errno(&e),
        }
    })
}

/// Feeds one SCTP packet obtained without the DTLS transport (the DTLS
/// transport's records reach SCTP by themselves). InvalidArg for NULL or
/// empty input, InvalidState for a PeerConnection's association.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xSctpTransportFeedInput(
    transport: xSctpTransport,
    data: *const u8,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: a non-NULL `data` points to `len` bytes (caller contract).
        let Some(input) = (unsafe { bytes(data, len) }).filter(|b| !b.is_empty()) else {
            return xErrno_InvalidArg;
        };
        match own(transport).map(|h| sctp::feed(h, input)) {
            Ok(true) => xErrno_Ok,
            Ok(false) => xErrno_InvalidArg,
            Err(e) => e,
        }
    })
}

/// Resets the outgoing side of a stream (RFC 6525); both sides get
/// `on_stream_close`. InvalidArg for a bad handle or stream, InvalidState
/// when not connected or for a PeerConnection's association.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xSctpTransportCloseStream(
    transport: xSctpTransport,
    stream_id: u16,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        match own(transport).map(|h| sctp::reset_stream(h, stream_id)) {
            Ok(Ok(())) => xErrno_Ok,
            Ok(Err(e)) => send_errno(&e),
            Err(e) => e,
        }
    })
}

/// Bytes accepted by `Send` and not yet acknowledged by the peer; for the
/// view of a PeerConnection's association, the same count of the
/// PeerConnection's. 0 for NULL, stale and foreign handles.
#[no_mangle]
pub unsafe extern "C" fn xSctpTransportGetBufferedAmount(transport: xSctpTransport) -> usize {
    ffi_boundary!(0, {
        match lookup::sctp(transport) {
            Some(Sctp::Own(h)) => sctp::status(h).map_or(0, |(amount, _)| amount),
            Some(Sctp::Pc(pc)) => with_endpoint(pc, 0, |ep| {
                ep.pc.sctp().map_or(0, SctpAssociation::buffered_amount)
            }),
            None => 0,
        }
    })
}

/// Whether the association is up; false for NULL, stale and foreign
/// handles.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xSctpTransportIsConnected(transport: xSctpTransport) -> bool {
    ffi_boundary!(false, {
        match lookup::sctp(transport) {
            Some(Sctp::Own(h)) => sctp::status(h).is_some_and(|(_, up)| up),
            Some(Sctp::Pc(pc)) => with_endpoint(pc, false, |ep| {
                ep.pc.sctp().is_some_and(SctpAssociation::is_connected)
            }),
            None => false,
        }
    })
}
