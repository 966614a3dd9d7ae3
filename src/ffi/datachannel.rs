//! `datachannel.h`: data channels for C callers, of a PeerConnection or of
//! a standalone manager (`xDataChannelMgr`) over an `xSctpTransport`. A
//! channel handle names a channel of a live PeerConnection or manager;
//! destroying it invalidates its channels' handles.
//!
//! A standalone manager is the `crate::channel` state machine (DCEP, stream
//! ids by DTLS role, buffered amount) driven by the caller: the SCTP
//! transport's `on_data`, `on_stream_close` and `on_buffered_amount_low`
//! are handed to `xDataChannelMgrOnData`, `…OnStreamClose` and
//! `…OnBufferedAmountLow`; the manager sends through the SCTP transport and
//! learns by itself when the association comes up or ends. Its callbacks
//! are posted to the SCTP transport's loop. A manager handle may also be the
//! view of a PeerConnection's channels (`xPeerConnectionGetDataChannelMgr`).

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use super::boundary::{bytes, c_array_bytes, ffi_boundary, opt_ref};
use super::sctp_transport::xSctpTransport;
use crate::channel::{ChannelConfig, ChannelState, MessageKind};
use crate::dcep::Reliability;
use crate::object::callbacks::{channel_errno, DefaultCallbacks, OwnCallbacks};
use crate::object::lookup::{self, Channel, Manager, Sctp};
use crate::object::{cabi, mgr, pc};
use crate::peer::PeerError;
use libc::{c_char, c_int, c_void};
use xbase::types::*;

pub const XDC_MAX_LABEL_LEN: usize = 256;
pub const XDC_MAX_PROTOCOL_LEN: usize = 256;
pub const XDC_MAX_CHANNELS: usize = 64;
pub const XDCEP_DATA_CHANNEL_OPEN: u8 = 0x03;
pub const XDCEP_DATA_CHANNEL_ACK: u8 = 0x02;
pub const XDCEP_CHANNEL_RELIABLE: u8 = 0x00;
pub const XDCEP_CHANNEL_RELIABLE_UNORDERED: u8 = 0x80;
pub const XDCEP_CHANNEL_PARTIAL_RTXS: u8 = 0x01;
pub const XDCEP_CHANNEL_PARTIAL_RTXS_UNORDERED: u8 = 0x81;
pub const XDCEP_CHANNEL_PARTIAL_TIME: u8 = 0x02;
pub const XDCEP_CHANNEL_PARTIAL_TIME_UNORDERED: u8 = 0x82;

/// `xDataChannelState` (`XDEF_ENUM`).
pub type xDataChannelState = c_int;
pub const xDataChannelState_Connecting: xDataChannelState = 0;
pub const xDataChannelState_Open: xDataChannelState = 1;
pub const xDataChannelState_Closing: xDataChannelState = 2;
pub const xDataChannelState_Closed: xDataChannelState = 3;

/// `xDataChannelMsgType` (`XDEF_ENUM`).
pub type xDataChannelMsgType = c_int;
pub const xDataChannelMsgType_String: xDataChannelMsgType = 0;
pub const xDataChannelMsgType_Binary: xDataChannelMsgType = 1;

/// Opaque handle of a data channel.
pub type xDataChannel = *mut c_void;

pub type xDataChannelOnOpen = Option<unsafe extern "C" fn(channel: xDataChannel, arg: *mut c_void)>;
pub type xDataChannelOnMessage = Option<
    unsafe extern "C" fn(
        channel: xDataChannel,
        r#type: xDataChannelMsgType,
        data: *const u8,
        len: usize,
        arg: *mut c_void,
    ),
>;
pub type xDataChannelOnClose =
    Option<unsafe extern "C" fn(channel: xDataChannel, arg: *mut c_void)>;
pub type xDataChannelOnError =
    Option<unsafe extern "C" fn(channel: xDataChannel, err: xErrno, arg: *mut c_void)>;
pub type xDataChannelOnBufferedAmountLow =
    Option<unsafe extern "C" fn(channel: xDataChannel, arg: *mut c_void)>;

/// Opaque handle of a data channel manager.
pub type xDataChannelMgr = *mut c_void;

pub type xDataChannelOnRemoteOpen =
    Option<unsafe extern "C" fn(mgr: xDataChannelMgr, channel: xDataChannel, arg: *mut c_void)>;

/// Configuration of [`xDataChannelMgrCreate`] (56 bytes), copied at create
/// time. The callbacks are the defaults of every channel of the manager
/// (a channel's own conf overrides each one it sets).
#[repr(C)]
pub struct xDataChannelMgrConf {
    pub sctp: xSctpTransport,
    pub on_remote_open: xDataChannelOnRemoteOpen,
    pub on_open: xDataChannelOnOpen,
    pub on_message: xDataChannelOnMessage,
    pub on_close: xDataChannelOnClose,
    pub on_error: xDataChannelOnError,
    pub ctx: *mut c_void,
}

/// Configuration of a data channel (568 bytes), copied at create time.
#[repr(C)]
pub struct xDataChannelConf {
    pub label: [c_char; XDC_MAX_LABEL_LEN],
    pub protocol: [c_char; XDC_MAX_PROTOCOL_LEN],
    pub ordered: bool,
    pub max_retransmits: u16,
    pub max_packet_life_time: u16,
    pub on_open: xDataChannelOnOpen,
    pub on_message: xDataChannelOnMessage,
    pub on_close: xDataChannelOnClose,
    pub on_error: xDataChannelOnError,
    pub on_buffered_amount_low: xDataChannelOnBufferedAmountLow,
    pub ctx: *mut c_void,
}

// The callback types are the ones the object layer calls.
const _: fn(xDataChannelOnOpen) -> Option<cabi::ChannelFn> = |f| f;
const _: fn(xDataChannelOnMessage) -> Option<cabi::MessageFn> = |f| f;
const _: fn(xDataChannelOnClose) -> Option<cabi::ChannelFn> = |f| f;
const _: fn(xDataChannelOnError) -> Option<cabi::ErrorFn> = |f| f;
const _: fn(xDataChannelOnBufferedAmountLow) -> Option<cabi::ChannelFn> = |f| f;
const _: fn(xDataChannelOnRemoteOpen) -> Option<cabi::NewChannelFn> = |f| f;

/// The callbacks a channel conf sets, with its ctx.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn own_callbacks(conf: &xDataChannelConf) -> OwnCallbacks {
    OwnCallbacks {
        on_open: conf.on_open,
        on_message: conf.on_message,
        on_close: conf.on_close,
        on_error: conf.on_error,
        on_buffered_amount_low: conf.on_buffered_amount_low,
        ctx: conf.ctx as usize,
    }
}

/// The channel settings of a C conf: label, protocol, ordering and partial
/// reliability (retransmits first, then lifetime).
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn channel_config(conf: &xDataChannelConf) -> ChannelConfig {
    let label = String::from_utf8_lossy(c_array_bytes(&conf.label)).into_owned();
    let protocol = String::from_utf8_lossy(c_array_bytes(&conf.protocol)).into_owned();
    let reliability = if conf.max_retransmits > 0 {
        Reliability::MaxRetransmits(u32::from(conf.max_retransmits))
    } else if conf.max_packet_life_time > 0 {
        Reliability::MaxLifetime(u32::from(conf.max_packet_life_time))
    } else {
        Reliability::Reliable
    };
    ChannelConfig {
        label,
        protocol,
        ordered: conf.ordered,
        reliability,
        ..ChannelConfig::default()
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn peer_errno(e: &PeerError) -> xErrno {
    match e {
        PeerError::Channel(c) => channel_errno(c),
        _ => xErrno_InvalidState,
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn state_code(s: ChannelState) -> xDataChannelState {
    match s {
        ChannelState::Connecting => xDataChannelState_Connecting,
        ChannelState::Open => xDataChannelState_Open,
        ChannelState::Closing => xDataChannelState_Closing,
        ChannelState::Closed => xDataChannelState_Closed,
    }
}

/// Runs `f` on the channel state of a live channel (a PeerConnection's or
/// a standalone manager's), or returns `dead`.
pub(crate) use lookup::with_channel_manager as with_manager;

fn send(channel: xDataChannel, kind: MessageKind, data: *const u8, len: usize) -> xErrno {
    if data.is_null() {
        return xErrno_InvalidArg;
    }
    // SAFETY: data is non-NULL and points to len bytes (caller contract).
    let Some(payload) = (unsafe { bytes(data, len) }) else {
        return xErrno_InvalidArg;
    };
    match lookup::channel(channel) {
        Some(Channel::Pc(ch)) => match pc::send(&ch, kind, payload) {
            Some(Ok(())) => xErrno_Ok,
            Some(Err(e)) => peer_errno(&e),
            None => xErrno_InvalidArg,
        },
        Some(Channel::Mgr(ch)) => match mgr::send(&ch, kind, payload) {
            Some(Ok(())) => xErrno_Ok,
            Some(Err(e)) => channel_errno(&e),
            None => xErrno_InvalidArg,
        },
        None => xErrno_InvalidArg,
    }
}

/// Sends a text message (PPID 51, or 56 when empty). InvalidArg for NULL
/// arguments or a message larger than the peer's max-message-size,
/// InvalidState unless the channel is open, Again under back-pressure.
#[no_mangle]
pub unsafe extern "C" fn xDataChannelSendString(
    channel: xDataChannel,
    str: *const c_char,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        send(channel, MessageKind::Text, str.cast(), len)
    })
}

/// Sends a binary message (PPID 53, or 57 when empty); errors as
/// [`xDataChannelSendString`].
#[no_mangle]
pub unsafe extern "C" fn xDataChannelSendBinary(
    channel: xDataChannel,
    data: *const u8,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        send(channel, MessageKind::Binary, data, len)
    })
}

/// Closes a channel (both directions are reset); `on_close` follows on the
/// loop. No-op for NULL, stale or closed channels.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDataChannelClose(channel: xDataChannel) {
    ffi_boundary!((), {
        match lookup::channel(channel) {
            Some(Channel::Pc(ch)) => pc::close_channel(&ch),
            Some(Channel::Mgr(ch)) => mgr::close(&ch),
            None => {}
        }
    })
}

/// The channel's label (valid while the channel's handle is); `""` for
/// NULL or stale handles.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDataChannelGetLabel(channel: xDataChannel) -> *const c_char {
    ffi_boundary!(c"".as_ptr(), {
        match lookup::channel(channel) {
            // The object lives in the registry until its owner is
            // destroyed, so the pointer stays valid as long as the handle.
            Some(ch) => ch.label().as_ptr(),
            None => c"".as_ptr(),
        }
    })
}

/// The channel's state; Closed for NULL or stale handles.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDataChannelGetState(channel: xDataChannel) -> xDataChannelState {
    ffi_boundary!(xDataChannelState_Closed, {
        with_manager(channel, xDataChannelState_Closed, |m, id| {
            m.state(id).map_or(xDataChannelState_Closed, state_code)
        })
    })
}

/// The SCTP stream id (0 until the association assigns one, and for NULL).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDataChannelGetStreamId(channel: xDataChannel) -> u16 {
    ffi_boundary!(0, {
        with_manager(channel, 0, |m, id| m.stream_id(id).unwrap_or(0))
    })
}

/// Bytes accepted by `Send*` and not yet handed to the network (text and
/// binary alike); 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn xDataChannelGetBufferedAmount(channel: xDataChannel) -> usize {
    ffi_boundary!(0, {
        with_manager(channel, 0, |m, id| m.buffered_amount(id))
    })
}

/// Sets the threshold under which `on_buffered_amount_low` fires (once per
/// crossing from above). No-op for NULL.
#[no_mangle]
pub unsafe extern "C" fn xDataChannelSetBufferedAmountLowThreshold(
    channel: xDataChannel,
    threshold: usize,
) {
    ffi_boundary!((), {
        with_manager(channel, (), |m, id| {
            m.set_buffered_amount_low_threshold(id, threshold);
        })
    })
}

/// Creates a manager over an SCTP transport created with
/// `xSctpTransportCreate`. Channels opened here get stream ids by the DTLS
/// role of the transport's DTLS transport (RFC 8832: Active even, Passive
/// odd), so both sides can open channels at once. NULL for NULL arguments,
/// a bad SCTP transport or a PeerConnection's (use
/// `xPeerConnectionGetDataChannelMgr`).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDataChannelMgrCreate(
    conf: *const xDataChannelMgrConf,
) -> xDataChannelMgr {
    ffi_boundary!(std::ptr::null_mut(), {
        // SAFETY: a non-NULL `conf` points to a valid conf (caller contract).
        let Some(conf) = (unsafe { opt_ref(conf) }) else {
            return std::ptr::null_mut();
        };
        let Some(Sctp::Own(sctp)) = lookup::sctp(conf.sctp) else {
            return std::ptr::null_mut();
        };
        let cb = mgr::MgrCallbacks {
            on_remote_open: conf.on_remote_open,
            defaults: DefaultCallbacks {
                on_open: conf.on_open,
                on_message: conf.on_message,
                on_close: conf.on_close,
                on_error: conf.on_error,
                ctx: conf.ctx as usize,
            },
        };
        match mgr::create(sctp, cb) {
            Some(h) => h.as_ptr(),
            None => std::ptr::null_mut(),
        }
    })
}

/// Destroys a manager: every channel handle of it becomes invalid and no
/// callback of it runs after this returns. NULL, stale and foreign handles
/// are ignored, and so is the view of a PeerConnection's channels (the
/// PeerConnection owns them).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDataChannelMgrDestroy(mgr: xDataChannelMgr) {
    ffi_boundary!((), {
        if let Some(Manager::Own(m)) = lookup::manager(mgr) {
            mgr::destroy(m);
        }
    })
}

/// Hands the manager one message from its SCTP transport's `on_data`:
/// DCEP opens and acknowledges channels, other PPIDs are messages of the
/// channel on that stream. The callbacks this causes (`on_remote_open`,
/// `on_open`, `on_message`) run inside this call, as upstream. Ignored for
/// NULL arguments and for the view of a PeerConnection's channels (which
/// are fed by the PeerConnection).
#[no_mangle]
pub unsafe extern "C" fn xDataChannelMgrOnData(
    mgr: xDataChannelMgr,
    stream_id: u16,
    ppid: u32,
    data: *const u8,
    len: usize,
) {
    ffi_boundary!((), {
        // SAFETY: a non-NULL `data` points to `len` bytes (caller contract).
        let Some(payload) = (unsafe { bytes(data, len) }) else {
            return;
        };
        if let Some(Manager::Own(m)) = lookup::manager(mgr) {
            mgr::on_data(m, stream_id, ppid, payload);
        }
    })
}

/// Hands the manager one `on_stream_close` of its SCTP transport. A
/// channel closes once both directions of its stream are reset (the peer's
/// reset is answered with ours), then `on_close` runs, inside this call.
/// Ignored for NULL and for the view of a PeerConnection's channels.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDataChannelMgrOnStreamClose(mgr: xDataChannelMgr, stream_id: u16) {
    ffi_boundary!((), {
        if let Some(Manager::Own(m)) = lookup::manager(mgr) {
            mgr::on_stream_close(m, stream_id);
        }
    })
}

/// Hands the manager its SCTP transport's `on_buffered_amount_low`: the
/// messages waiting for room are sent and channels whose buffered amount
/// falls to their threshold get `on_buffered_amount_low`. (The manager
/// also learns of room by itself.) Ignored for NULL and views.
#[no_mangle]
pub unsafe extern "C" fn xDataChannelMgrOnBufferedAmountLow(mgr: xDataChannelMgr) {
    ffi_boundary!((), {
        if let Some(Manager::Own(m)) = lookup::manager(mgr) {
            mgr::on_buffered_amount_low(m);
        }
    })
}

/// Creates a channel and returns its handle at once; it opens (`on_open`)
/// when the association is up and the peer acknowledged it. On the view
/// of a PeerConnection's channels it is `xPeerConnectionCreateDataChannel`.
/// NULL for NULL arguments, a bad label or protocol, or no free stream.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDataChannelCreate(
    mgr: xDataChannelMgr,
    conf: *const xDataChannelConf,
) -> xDataChannel {
    ffi_boundary!(std::ptr::null_mut(), {
        // SAFETY: a non-NULL `conf` points to a valid conf (caller contract).
        let Some(conf) = (unsafe { opt_ref(conf) }) else {
            return std::ptr::null_mut();
        };
        let (cfg, own) = (channel_config(conf), own_callbacks(conf));
        let h = match lookup::manager(mgr) {
            Some(Manager::Pc(p)) => pc::create_channel(p, cfg, &own).map(|h| h.as_ptr()),
            Some(Manager::Own(m)) => mgr::create_channel(m, cfg, &own).map(|h| h.as_ptr()),
            None => None,
        };
        h.unwrap_or(std::ptr::null_mut())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_layer_uses_the_header_values() {
        assert_eq!(cabi::MSG_STRING, xDataChannelMsgType_String);
        assert_eq!(cabi::MSG_BINARY, xDataChannelMsgType_Binary);
    }
}
