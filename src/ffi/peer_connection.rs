//! `peer_connection.h`: the PeerConnection for C callers, mirroring the
//! browser's RTCPeerConnection. The handle names a [`PeerConnection`]
//! driven by the library's I/O thread; every callback is posted to the
//! caller's `xEventLoop` and runs there, except `on_state_change(Closed)`,
//! which runs inside `xPeerConnectionDestroy` as upstream; none runs after
//! `xPeerConnectionDestroy` returns.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use super::boundary::{cstr_bytes, ffi_boundary, malloc_string, opt_ref};
use super::datachannel::*;
use super::dtls_transport::xDtlsTransport;
use super::ice_agent::xIceAgent;
use super::sctp_transport::xSctpTransport;
use crate::driver::loop_queue::LoopQueue;
use crate::object::callbacks::{channel_errno, DefaultCallbacks};
use crate::object::pc::{self, PcCallbacks, PcEndpoint, PcObject, PcSettings};
use crate::object::{cabi, Handle};
use crate::peer::{PeerConnection, PeerError};
use libc::{c_char, c_int, c_void};
use std::time::Instant;
use xbase::types::*;

/// Opaque handle of a PeerConnection.
pub type xPeerConnection = *mut c_void;

/// `xPeerConnectionState` (`XDEF_ENUM`).
pub type xPeerConnectionState = c_int;
pub const xPeerConnectionState_New: xPeerConnectionState = 0;
pub const xPeerConnectionState_Connecting: xPeerConnectionState = 1;
pub const xPeerConnectionState_Connected: xPeerConnectionState = 2;
pub const xPeerConnectionState_Disconnected: xPeerConnectionState = 3;
pub const xPeerConnectionState_Failed: xPeerConnectionState = 4;
pub const xPeerConnectionState_Closed: xPeerConnectionState = 5;

pub type xPeerConnectionOnStateChange = Option<
    unsafe extern "C" fn(pc: xPeerConnection, state: xPeerConnectionState, arg: *mut c_void),
>;
pub type xPeerConnectionOnIceCandidate = Option<
    unsafe extern "C" fn(pc: xPeerConnection, candidate_sdp: *const c_char, arg: *mut c_void),
>;
pub type xPeerConnectionOnDataChannel =
    Option<unsafe extern "C" fn(pc: xPeerConnection, channel: xDataChannel, arg: *mut c_void)>;

/// Configuration of [`xPeerConnectionCreate`] (96 bytes). Copied at create
/// time; the strings are duplicated.
#[repr(C)]
pub struct xPeerConnectionConf {
    pub stun_server: *const c_char,
    pub turn_server: *const c_char,
    pub turn_username: *const c_char,
    pub turn_password: *const c_char,
    pub enable_ipv6: bool,
    pub sctp_port: u16,
    pub on_state_change: xPeerConnectionOnStateChange,
    pub on_ice_candidate: xPeerConnectionOnIceCandidate,
    pub on_datachannel: xPeerConnectionOnDataChannel,
    pub on_dc_open: xDataChannelOnOpen,
    pub on_dc_message: xDataChannelOnMessage,
    pub on_dc_close: xDataChannelOnClose,
    pub ctx: *mut c_void,
}

// The callback types are the ones the object layer calls.
const _: fn(xPeerConnectionOnStateChange) -> Option<cabi::StateFn> = |f| f;
const _: fn(xPeerConnectionOnIceCandidate) -> Option<cabi::TextFn> = |f| f;
const _: fn(xPeerConnectionOnDataChannel) -> Option<cabi::NewChannelFn> = |f| f;

/// Runs `f` on the endpoint of the live PeerConnection `pc` (the handle's
/// value), or returns `dead`.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn with_endpoint<R>(pc: usize, dead: R, f: impl FnOnce(&mut PcEndpoint) -> R) -> R {
    pc::with_endpoint(handle(pc as xPeerConnection), dead, f)
}

#[cfg_attr(xp2p_device, optimize(size))]
fn handle(pc: xPeerConnection) -> Handle<PcObject> {
    Handle::from_ptr(pc)
}

#[cfg_attr(xp2p_device, optimize(size))]
fn text_of<'a>(p: *const c_char) -> Option<&'a str> {
    // SAFETY: a non-NULL `p` is a NUL-terminated string (caller contract).
    unsafe { cstr_bytes(p) }.and_then(|b| std::str::from_utf8(b).ok())
}

#[cfg_attr(xp2p_device, optimize(size))]
fn errno(e: &PeerError) -> xErrno {
    match e {
        PeerError::Channel(c) => channel_errno(c),
        PeerError::InvalidState(_) => xErrno_InvalidState,
        PeerError::Ice(crate::ice::IceError::Limit(_)) => xErrno_NoMemory,
        _ => xErrno_InvalidArg,
    }
}

/// Creates a PeerConnection bound to `loop`. NULL if `loop` or `conf` is
/// NULL. The local SCTP port is `conf->sctp_port`, or 5000. Nothing is
/// gathered until an offer, an answer or a local description is made.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionCreate(
    r#loop: xEventLoop,
    conf: *const xPeerConnectionConf,
) -> xPeerConnection {
    ffi_boundary!(std::ptr::null_mut(), {
        // SAFETY: a non-NULL `conf` points to a valid conf (caller contract).
        let Some(conf) = (unsafe { opt_ref(conf) }) else {
            return std::ptr::null_mut();
        };
        if r#loop.is_null() {
            return std::ptr::null_mut();
        }
        let settings = PcSettings {
            sctp_port: conf.sctp_port,
            enable_ipv6: conf.enable_ipv6,
            stun_server: text_of(conf.stun_server)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            turn_server: text_of(conf.turn_server),
            turn_username: text_of(conf.turn_username),
            turn_password: text_of(conf.turn_password),
            callbacks: PcCallbacks {
                on_state_change: conf.on_state_change,
                on_ice_candidate: conf.on_ice_candidate,
                on_datachannel: conf.on_datachannel,
                channels: DefaultCallbacks {
                    on_open: conf.on_dc_open,
                    on_message: conf.on_dc_message,
                    on_close: conf.on_dc_close,
                    on_error: None,
                    ctx: conf.ctx as usize,
                },
            },
        };
        // SAFETY: `loop` is a live loop (caller contract), checked non-NULL.
        let Ok(queue) = (unsafe { LoopQueue::attach(r#loop) }) else {
            return std::ptr::null_mut();
        };
        match pc::create(queue, settings) {
            Some(h) => h.as_ptr(),
            None => std::ptr::null_mut(),
        }
    })
}

/// Destroys a PeerConnection: channels, SCTP, DTLS and ICE close, sockets
/// and timers stop, every channel handle becomes invalid. As upstream,
/// `on_state_change(Closed)` runs once inside this call (unless the
/// connection was already Closed); no callback runs after this returns.
/// NULL, stale and foreign handles are ignored.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionDestroy(pc: xPeerConnection) {
    ffi_boundary!((), {
        pc::destroy(handle(pc));
    })
}

/// Starts gathering if needed and returns the offer (`malloc`ed; the caller
/// `free`s it) with the candidates gathered so far; more follow through
/// `on_ice_candidate`. NULL for a bad handle or on failure.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionCreateOffer(pc: xPeerConnection) -> *mut c_char {
    ffi_boundary!(std::ptr::null_mut(), {
        pc::description(handle(pc), true).map_or(std::ptr::null_mut(), |t| malloc_string(&t))
    })
}

/// Returns the answer to the remote offer (`malloc`ed; the caller `free`s
/// it). NULL for a bad handle or without a remote offer.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionCreateAnswer(pc: xPeerConnection) -> *mut c_char {
    ffi_boundary!(std::ptr::null_mut(), {
        pc::description(handle(pc), false).map_or(std::ptr::null_mut(), |t| malloc_string(&t))
    })
}

/// Applies `text` to the live PeerConnection with `apply` (after starting
/// gathering when `gather`), lets the I/O thread act on the change, and
/// maps the result. InvalidArg for NULL text or a bad handle.
#[cfg_attr(xp2p_device, optimize(size))]
fn apply_text(
    pc: xPeerConnection,
    text: *const c_char,
    gather: bool,
    apply: impl FnOnce(&mut PeerConnection, Instant, &str) -> Result<(), PeerError>,
) -> xErrno {
    let Some(text) = text_of(text) else {
        return xErrno_InvalidArg;
    };
    match pc::apply_text(handle(pc), text, gather, apply) {
        Some(Ok(Ok(()))) => xErrno_Ok,
        Some(Ok(Err(e))) => errno(&e),
        Some(Err(e)) => e,
        None => xErrno_InvalidArg,
    }
}

/// Starts gathering if needed; the text itself is not used (the local
/// description is the one CreateOffer/CreateAnswer returned). InvalidArg for
/// NULL arguments.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionSetLocalDescription(
    pc: xPeerConnection,
    sdp: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        apply_text(pc, sdp, true, PeerConnection::set_local_description)
    })
}

/// Applies the peer's offer or answer: ICE credentials and candidates,
/// DTLS fingerprint (verified during the handshake) and setup role, SCTP
/// port, max-message-size. InvalidArg for NULL arguments or bad SDP.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionSetRemoteDescription(
    pc: xPeerConnection,
    sdp: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        apply_text(pc, sdp, false, PeerConnection::set_remote_description)
    })
}

/// Adds a trickled remote candidate (`a=candidate:…`, `candidate:…`, bare,
/// or `a=end-of-candidates`). InvalidArg for NULL or a bad line.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionAddIceCandidate(
    pc: xPeerConnection,
    candidate_sdp: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        apply_text(
            pc,
            candidate_sdp,
            false,
            PeerConnection::add_remote_candidate,
        )
    })
}

/// Creates a data channel and returns its handle at once, before or after
/// the connection is up; it opens (`on_open`) when SCTP is. Callbacks the
/// conf leaves NULL fall back to the PeerConnection's `on_dc_*` with its
/// ctx. NULL for NULL arguments, a bad label or too many channels.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionCreateDataChannel(
    pc: xPeerConnection,
    conf: *const xDataChannelConf,
) -> xDataChannel {
    ffi_boundary!(std::ptr::null_mut(), {
        // SAFETY: a non-NULL `conf` points to a valid conf (caller contract).
        let Some(conf) = (unsafe { opt_ref(conf) }) else {
            return std::ptr::null_mut();
        };
        pc::create_channel(handle(pc), channel_config(conf), &own_callbacks(conf))
            .map_or(std::ptr::null_mut(), |h| h.as_ptr())
    })
}

/// The connection state; Closed for NULL, stale or foreign handles.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionGetState(pc: xPeerConnection) -> xPeerConnectionState {
    ffi_boundary!(xPeerConnectionState_Closed, {
        pc::with_endpoint(handle(pc), xPeerConnectionState_Closed, |ep| {
            ep.pc.state().code()
        })
    })
}

/// The PeerConnection's ICE agent, borrowed: `xIceAgentGetUfrag`, `…GetPwd`,
/// `…GetLoop`, `…GetLocalCandidates`, `…CreateOffer` and
/// `…AddRemoteCandidate` work on it; calls that would take the agent from
/// the PeerConnection get InvalidState or do nothing, and
/// `xIceAgentDestroy` ignores it. The same handle every time; stale after
/// `xPeerConnectionDestroy`. NULL for a bad handle.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionGetIceAgent(pc: xPeerConnection) -> xIceAgent {
    ffi_boundary!(std::ptr::null_mut(), {
        pc::ice_view(handle(pc), super::ice_agent::candidate_cache)
            .map_or(std::ptr::null_mut(), |h| h.as_ptr())
    })
}

/// The PeerConnection's DTLS transport, borrowed: the state (New until the
/// remote description), role, and local fingerprint getters work on it;
/// Start, FeedInput, Send and SetRole get InvalidState and
/// `xDtlsTransportDestroy` ignores it. The same handle every time; stale
/// after `xPeerConnectionDestroy`. NULL for a bad handle.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionGetDtlsTransport(pc: xPeerConnection) -> xDtlsTransport {
    ffi_boundary!(std::ptr::null_mut(), {
        pc::dtls_view(handle(pc)).map_or(std::ptr::null_mut(), |h| h.as_ptr())
    })
}

/// The PeerConnection's SCTP transport, borrowed, once the association
/// exists (DTLS connected; NULL before): `xSctpTransportIsConnected` and
/// `…GetBufferedAmount` work on it; Start, Send, FeedInput and CloseStream
/// get InvalidState and `xSctpTransportDestroy` ignores it. Stale after
/// `xPeerConnectionDestroy`. NULL for a bad handle.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionGetSctpTransport(pc: xPeerConnection) -> xSctpTransport {
    ffi_boundary!(std::ptr::null_mut(), {
        pc::sctp_view(handle(pc)).map_or(std::ptr::null_mut(), |h| h.as_ptr())
    })
}

/// The PeerConnection's data channel manager, borrowed (available at once,
/// as channels can be created before connecting): `xDataChannelCreate` on
/// it is `xPeerConnectionCreateDataChannel`; the `xDataChannelMgrOn…`
/// feeding calls and `xDataChannelMgrDestroy` ignore it (the PeerConnection
/// feeds and owns its channels). The same handle every time; stale after
/// `xPeerConnectionDestroy`. NULL for a bad handle.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionGetDataChannelMgr(pc: xPeerConnection) -> xDataChannelMgr {
    ffi_boundary!(std::ptr::null_mut(), {
        pc::channels_view(handle(pc)).map_or(std::ptr::null_mut(), |h| h.as_ptr())
    })
}
