//! `datachannel.h`: data channels of a PeerConnection for C callers. A
//! channel handle names a channel of a live `xPeerConnection`; destroying
//! the PeerConnection invalidates its channels' handles.

use super::boundary::{bytes, ffi_boundary};
use super::peer_connection::{with_endpoint, PcEndpoint};
use crate::channel::{ChannelError, ChannelId, ChannelState, MessageKind};
use crate::driver::registry::Registry;
use crate::peer::PeerError;
use libc::{c_char, c_int, c_void};
use std::ffi::CString;
use std::sync::Arc;
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

/// One callback with the context it is called with.
#[derive(Clone, Copy)]
pub(crate) struct Cb<F> {
    pub func: Option<F>,
    pub ctx: usize,
}

/// The callbacks of one channel, each with its own context: a callback the
/// channel conf leaves NULL falls back to the PeerConnection's `on_dc_*`
/// with the PeerConnection's `ctx`.
#[derive(Clone, Copy)]
pub(crate) struct ChannelCallbacks {
    pub on_open: Cb<unsafe extern "C" fn(xDataChannel, *mut c_void)>,
    pub on_message:
        Cb<unsafe extern "C" fn(xDataChannel, xDataChannelMsgType, *const u8, usize, *mut c_void)>,
    pub on_close: Cb<unsafe extern "C" fn(xDataChannel, *mut c_void)>,
    pub on_error: Cb<unsafe extern "C" fn(xDataChannel, xErrno, *mut c_void)>,
    pub on_buffered_amount_low: Cb<unsafe extern "C" fn(xDataChannel, *mut c_void)>,
}

/// The object behind an `xDataChannel` handle.
pub(crate) struct ChannelObject {
    /// The PeerConnection's handle token.
    pub pc: usize,
    pub id: ChannelId,
    pub label: CString,
}

pub(crate) static CHANNELS: Registry<ChannelObject> = Registry::new();

/// Registers a handle for a channel of the PeerConnection `pc`.
pub(crate) fn register_channel(pc: usize, id: ChannelId, label: &str) -> xDataChannel {
    let label = CString::new(label.replace('\0', "")).unwrap_or_default();
    CHANNELS.insert(Arc::new(ChannelObject { pc, id, label }))
}

/// The xErrno of a failed channel or PeerConnection call.
pub(crate) fn channel_errno(e: &ChannelError) -> xErrno {
    match e {
        ChannelError::NotOpen(_)
        | ChannelError::AssociationClosed
        | ChannelError::AssociationLost => xErrno_InvalidState,
        ChannelError::QueueFull => xErrno_Again,
        ChannelError::TooManyChannels | ChannelError::NoStreamAvailable => xErrno_NoMemory,
        _ => xErrno_InvalidArg,
    }
}

fn peer_errno(e: &PeerError) -> xErrno {
    match e {
        PeerError::Channel(c) => channel_errno(c),
        _ => xErrno_InvalidState,
    }
}

pub(crate) fn state_code(s: ChannelState) -> xDataChannelState {
    match s {
        ChannelState::Connecting => xDataChannelState_Connecting,
        ChannelState::Open => xDataChannelState_Open,
        ChannelState::Closing => xDataChannelState_Closing,
        ChannelState::Closed => xDataChannelState_Closed,
    }
}

/// Runs `f` on the live channel and its PeerConnection, or returns `dead`.
fn with_channel<R>(
    channel: xDataChannel,
    dead: R,
    f: impl FnOnce(&ChannelObject, &mut PcEndpoint) -> R,
) -> R {
    let Some(ch) = CHANNELS.get(channel) else {
        return dead;
    };
    with_endpoint(ch.pc, dead, |ep| f(&ch, ep))
}

fn send(channel: xDataChannel, kind: MessageKind, data: *const u8, len: usize) -> xErrno {
    if data.is_null() {
        return xErrno_InvalidArg;
    }
    // SAFETY: data is non-NULL and points to len bytes (caller contract).
    let Some(payload) = (unsafe { bytes(data, len) }) else {
        return xErrno_InvalidArg;
    };
    with_channel(channel, xErrno_InvalidArg, |ch, ep| {
        match ep.pc.send(ch.id, kind, payload) {
            Ok(()) => {
                ep.kick();
                xErrno_Ok
            }
            Err(e) => peer_errno(&e),
        }
    })
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
pub unsafe extern "C" fn xDataChannelClose(channel: xDataChannel) {
    ffi_boundary!((), {
        with_channel(channel, (), |ch, ep| {
            ep.pc.close_channel(ch.id);
            ep.kick();
        })
    })
}

/// The channel's label (valid while the channel's handle is); `""` for
/// NULL or stale handles.
#[no_mangle]
pub unsafe extern "C" fn xDataChannelGetLabel(channel: xDataChannel) -> *const c_char {
    ffi_boundary!(c"".as_ptr(), {
        match CHANNELS.get(channel) {
            // The object lives in the registry until the PeerConnection is
            // destroyed, so the pointer stays valid as long as the handle.
            Some(ch) => ch.label.as_ptr(),
            None => c"".as_ptr(),
        }
    })
}

/// The channel's state; Closed for NULL or stale handles.
#[no_mangle]
pub unsafe extern "C" fn xDataChannelGetState(channel: xDataChannel) -> xDataChannelState {
    ffi_boundary!(xDataChannelState_Closed, {
        with_channel(channel, xDataChannelState_Closed, |ch, ep| {
            ep.pc
                .channels()
                .state(ch.id)
                .map_or(xDataChannelState_Closed, state_code)
        })
    })
}

/// The SCTP stream id (0 until the association assigns one, and for NULL).
#[no_mangle]
pub unsafe extern "C" fn xDataChannelGetStreamId(channel: xDataChannel) -> u16 {
    ffi_boundary!(0, {
        with_channel(channel, 0, |ch, ep| {
            ep.pc.channels().stream_id(ch.id).unwrap_or(0)
        })
    })
}

/// Bytes accepted by `Send*` and not yet handed to the network (text and
/// binary alike); 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn xDataChannelGetBufferedAmount(channel: xDataChannel) -> usize {
    ffi_boundary!(0, {
        with_channel(channel, 0, |ch, ep| ep.pc.channels().buffered_amount(ch.id))
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
        with_channel(channel, (), |ch, ep| {
            ep.pc
                .channels_mut()
                .set_buffered_amount_low_threshold(ch.id, threshold);
        })
    })
}
