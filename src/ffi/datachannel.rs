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

use super::boundary::{bytes, c_array_bytes, ffi_boundary, opt_ref};
use super::peer_connection::{with_endpoint, PcEndpoint};
use super::sctp_transport::{self, xSctpTransport, Link};
use crate::channel::{
    ChannelConfig, ChannelError, ChannelEvent, ChannelId, ChannelManager, ChannelState,
    MessageKind, SctpSend, LOCAL_MAX_MESSAGE_SIZE,
};
use crate::dcep::Reliability;
use crate::driver::loop_queue::{LoopQueue, Task};
use crate::driver::registry::Registry;
use crate::peer::PeerError;
use crate::sctp::SctpError;
use libc::{c_char, c_int, c_void};
use parking_lot::Mutex;
use std::collections::HashMap;
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

impl ChannelCallbacks {
    /// Calls `on_open` for the channel `h` (on the loop thread).
    pub(crate) fn open(&self, h: usize) {
        if let Some(f) = self.on_open.func {
            // SAFETY: user callback with its ctx.
            unsafe { f(h as xDataChannel, self.on_open.ctx as *mut c_void) };
        }
    }

    /// Calls `on_message` for the channel `h` with one received message.
    pub(crate) fn message(&self, h: usize, kind: MessageKind, data: &[u8]) {
        let t = match kind {
            MessageKind::Text => xDataChannelMsgType_String,
            MessageKind::Binary => xDataChannelMsgType_Binary,
        };
        if let Some(f) = self.on_message.func {
            // SAFETY: user callback; the bytes live for the call.
            unsafe {
                f(
                    h as xDataChannel,
                    t,
                    data.as_ptr(),
                    data.len(),
                    self.on_message.ctx as *mut c_void,
                )
            };
        }
    }

    /// Calls `on_buffered_amount_low` for the channel `h`.
    pub(crate) fn buffered_amount_low(&self, h: usize) {
        if let Some(f) = self.on_buffered_amount_low.func {
            // SAFETY: user callback with its ctx.
            unsafe {
                f(
                    h as xDataChannel,
                    self.on_buffered_amount_low.ctx as *mut c_void,
                )
            };
        }
    }

    /// Calls `on_close` for the channel `h`.
    pub(crate) fn close(&self, h: usize) {
        if let Some(f) = self.on_close.func {
            // SAFETY: user callback with its ctx.
            unsafe { f(h as xDataChannel, self.on_close.ctx as *mut c_void) };
        }
    }

    /// Calls `on_error` for the channel `h` with `err`.
    pub(crate) fn error(&self, h: usize, err: xErrno) {
        if let Some(f) = self.on_error.func {
            // SAFETY: user callback with its ctx.
            unsafe { f(h as xDataChannel, err, self.on_error.ctx as *mut c_void) };
        }
    }
}

/// Who a channel belongs to (handle tokens).
#[derive(Clone, Copy)]
pub(crate) enum Owner {
    Pc(usize),
    Mgr(usize),
}

/// The object behind an `xDataChannel` handle.
pub(crate) struct ChannelObject {
    pub owner: Owner,
    pub id: ChannelId,
    pub label: CString,
}

pub(crate) static CHANNELS: Registry<ChannelObject> = Registry::new();

fn insert_channel(owner: Owner, id: ChannelId, label: &str) -> xDataChannel {
    let label = CString::new(label.replace('\0', "")).unwrap_or_default();
    CHANNELS.insert(Arc::new(ChannelObject { owner, id, label }))
}

/// Registers a handle for a channel of the PeerConnection `pc`.
pub(crate) fn register_channel(pc: usize, id: ChannelId, label: &str) -> xDataChannel {
    insert_channel(Owner::Pc(pc), id, label)
}

/// The channel settings of a C conf: label, protocol, ordering and partial
/// reliability (retransmits first, then lifetime).
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

/// Runs `f` on a live channel of a PeerConnection, or returns `dead`.
fn with_pc_channel<R>(
    ch: &ChannelObject,
    pc: usize,
    dead: R,
    f: impl FnOnce(&ChannelObject, &mut PcEndpoint) -> R,
) -> R {
    with_endpoint(pc, dead, |ep| f(ch, ep))
}

/// Runs `f` on the manager state of a live channel (a PeerConnection's or
/// a standalone manager's), or returns `dead`.
pub(crate) fn with_manager<R>(
    channel: xDataChannel,
    dead: R,
    f: impl FnOnce(&mut ChannelManager, ChannelId) -> R,
) -> R {
    let Some(ch) = CHANNELS.get(channel) else {
        return dead;
    };
    match ch.owner {
        Owner::Pc(pc) => with_endpoint(pc, dead, |ep| f(ep.pc.channels_mut(), ch.id)),
        Owner::Mgr(m) => match MANAGERS.get(m as *const c_void).as_deref() {
            Some(MgrHandle::Own(obj)) => f(&mut obj.inner.lock().mgr, ch.id),
            _ => dead,
        },
    }
}

/// Runs `f` on a live standalone manager, then lets it send what `f`
/// queued and post what happened.
fn with_own_mgr<R>(m: usize, dead: R, f: impl FnOnce(&mut MgrInner) -> R) -> R {
    match MANAGERS.get(m as *const c_void).as_deref() {
        Some(MgrHandle::Own(obj)) => {
            let r = f(&mut obj.inner.lock());
            obj.service(m);
            r
        }
        _ => dead,
    }
}

/// [`with_own_mgr`] for the feeding calls: the callbacks `f` causes run
/// inside the call, in order, after the manager's lock is released (each
/// checks that its channel or manager still lives, so a callback may
/// destroy them).
fn with_own_mgr_inline(m: usize, f: impl FnOnce(&mut MgrInner)) {
    let Some(handle) = MANAGERS.get(m as *const c_void) else {
        return;
    };
    let MgrHandle::Own(obj) = &*handle else {
        return;
    };
    let outer = obj.inner.lock().inline.replace(Vec::new());
    f(&mut obj.inner.lock());
    obj.service(m);
    let tasks = {
        let mut inner = obj.inner.lock();
        let tasks = inner.inline.take().unwrap_or_default();
        inner.inline = outer;
        tasks
    };
    for task in tasks {
        task();
    }
}

fn send(channel: xDataChannel, kind: MessageKind, data: *const u8, len: usize) -> xErrno {
    if data.is_null() {
        return xErrno_InvalidArg;
    }
    // SAFETY: data is non-NULL and points to len bytes (caller contract).
    let Some(payload) = (unsafe { bytes(data, len) }) else {
        return xErrno_InvalidArg;
    };
    let Some(ch) = CHANNELS.get(channel) else {
        return xErrno_InvalidArg;
    };
    match ch.owner {
        Owner::Pc(pc) => with_pc_channel(&ch, pc, xErrno_InvalidArg, |ch, ep| {
            match ep.pc.send(ch.id, kind, payload) {
                Ok(()) => {
                    ep.send_or_kick();
                    xErrno_Ok
                }
                Err(e) => peer_errno(&e),
            }
        }),
        Owner::Mgr(m) => with_own_mgr(m, xErrno_InvalidArg, |inner| {
            match inner.mgr.send(ch.id, kind, payload) {
                Ok(()) => xErrno_Ok,
                Err(e) => channel_errno(&e),
            }
        }),
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
pub unsafe extern "C" fn xDataChannelClose(channel: xDataChannel) {
    ffi_boundary!((), {
        let Some(ch) = CHANNELS.get(channel) else {
            return;
        };
        match ch.owner {
            Owner::Pc(pc) => with_pc_channel(&ch, pc, (), |ch, ep| {
                ep.pc.close_channel(ch.id);
                ep.kick();
            }),
            Owner::Mgr(m) => with_own_mgr(m, (), |inner| inner.mgr.close(ch.id)),
        }
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
        with_manager(channel, xDataChannelState_Closed, |m, id| {
            m.state(id).map_or(xDataChannelState_Closed, state_code)
        })
    })
}

/// The SCTP stream id (0 until the association assigns one, and for NULL).
#[no_mangle]
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

/// The default callbacks of a standalone manager's channels.
#[derive(Clone, Copy)]
struct MgrCallbacks {
    on_remote_open: xDataChannelOnRemoteOpen,
    on_open: xDataChannelOnOpen,
    on_message: xDataChannelOnMessage,
    on_close: xDataChannelOnClose,
    on_error: xDataChannelOnError,
    ctx: usize,
}

impl MgrCallbacks {
    /// The callbacks of a channel created from `conf`: each one the conf
    /// leaves NULL falls back to the manager's with the manager's ctx.
    fn for_channel(&self, conf: Option<&xDataChannelConf>) -> ChannelCallbacks {
        fn pick<F>(own: Option<F>, ctx: usize, fallback: Option<F>, mgr_ctx: usize) -> Cb<F> {
            match own {
                Some(f) => Cb { func: Some(f), ctx },
                None => Cb {
                    func: fallback,
                    ctx: mgr_ctx,
                },
            }
        }
        let ctx = conf.map_or(self.ctx, |c| c.ctx as usize);
        ChannelCallbacks {
            on_open: pick(conf.and_then(|c| c.on_open), ctx, self.on_open, self.ctx),
            on_message: pick(
                conf.and_then(|c| c.on_message),
                ctx,
                self.on_message,
                self.ctx,
            ),
            on_close: pick(conf.and_then(|c| c.on_close), ctx, self.on_close, self.ctx),
            on_error: pick(conf.and_then(|c| c.on_error), ctx, self.on_error, self.ctx),
            on_buffered_amount_low: Cb {
                func: conf.and_then(|c| c.on_buffered_amount_low),
                ctx,
            },
        }
    }
}

struct MgrInner {
    mgr: ChannelManager,
    /// Handle and callbacks of every channel.
    channels: HashMap<ChannelId, (usize, ChannelCallbacks)>,
    /// A message the SCTP transport refused with `Again`, retried first.
    pending: Option<SctpSend>,
    /// While a feeding call (`xDataChannelMgrOnData`, `…OnStreamClose`)
    /// runs: the callbacks it causes, run inside that call once the lock
    /// is released (upstream ran them there). Otherwise callbacks are
    /// posted to the loop.
    inline: Option<Vec<Task>>,
}

pub(crate) struct MgrObject {
    sctp: usize,
    dtls: usize,
    queue: Arc<LoopQueue>,
    cb: MgrCallbacks,
    inner: Mutex<MgrInner>,
}

/// What an `xDataChannelMgr` handle names.
pub(crate) enum MgrHandle {
    /// A manager created with `xDataChannelMgrCreate`.
    Own(Box<MgrObject>),
    /// The channels of the PeerConnection with this handle token.
    Pc(usize),
}

static MANAGERS: Registry<MgrHandle> = Registry::new();

/// Registers the view of a PeerConnection's channels.
pub(crate) fn register_pc_view(pc: usize) -> usize {
    MANAGERS.insert(Arc::new(MgrHandle::Pc(pc))) as usize
}

/// Makes a view handle stale.
pub(crate) fn unregister_view(handle: usize) {
    MANAGERS.remove(handle as *const c_void);
}

fn mgr_live(handle: usize) -> bool {
    MANAGERS.get(handle as *const c_void).is_some()
}

/// The SCTP transport of the manager `mgr` came up, ended, or has room
/// again (posted by the transport, run on the loop).
pub(crate) fn sctp_changed(mgr: usize) {
    if let Some(MgrHandle::Own(obj)) = MANAGERS.get(mgr as *const c_void).as_deref() {
        obj.service(mgr);
    }
}

impl MgrObject {
    /// Follows the association's state, hands queued messages and resets
    /// to SCTP, and posts the channel events. Called after every change,
    /// without the manager's lock held.
    fn service(&self, handle: usize) {
        let mut inner = self.inner.lock();
        match sctp_transport::link(self.sctp) {
            Some(Link::Up(streams)) => {
                if !inner.mgr.is_up() {
                    let role = match super::dtls_transport::role(self.dtls) {
                        Some(crate::dtls::DtlsRole::Client) => crate::channel::DtlsRole::Client,
                        _ => crate::channel::DtlsRole::Server,
                    };
                    inner.mgr.set_role(role);
                    let _ = inner.mgr.association_up(streams);
                }
            }
            Some(Link::Down) => {}
            Some(Link::Ended) | None => {
                if inner.mgr.is_up() || inner.mgr.live_channels() > 0 {
                    inner.mgr.association_lost();
                    inner.pending = None;
                }
            }
        }
        self.flush(&mut inner);
        self.dispatch(handle, &mut inner);
    }

    fn flush(&self, inner: &mut MgrInner) {
        if !inner.mgr.is_up() {
            return;
        }
        loop {
            let next = match inner.pending.take() {
                Some(s) => s,
                None => match inner.mgr.poll_sctp_send() {
                    Some(s) => s,
                    None => break,
                },
            };
            let r = sctp_transport::send_message(
                self.sctp,
                next.stream,
                next.ppid,
                &next.data,
                next.ordered,
                crate::sctp::Reliability::from(next.reliability),
            );
            match r {
                Err(SctpError::WouldBlock) => {
                    inner.pending = Some(next);
                    return;
                }
                Ok(()) => {
                    if next.counted > 0 {
                        inner.mgr.on_sent(next.stream, next.counted);
                    }
                }
                Err(e) => {
                    if next.counted > 0 {
                        inner.mgr.on_sent(next.stream, next.counted);
                    }
                    if let Some(id) = inner.mgr.channel_by_stream(next.stream) {
                        let err = sctp_transport::send_errno(&e);
                        if let Some(&(h, cb)) = inner.channels.get(&id) {
                            self.post_error(inner, h, cb, err);
                        }
                    }
                }
            }
        }
        while let Some(stream) = inner.mgr.poll_stream_reset() {
            let _ = sctp_transport::reset_stream(self.sctp, stream);
        }
    }

    /// Runs `task` inside the current feeding call, or posts it to the loop.
    fn emit(&self, inner: &mut MgrInner, task: Task) {
        match inner.inline.as_mut() {
            Some(tasks) => tasks.push(task),
            None => {
                self.queue.post(task);
            }
        }
    }

    fn post_error(&self, inner: &mut MgrInner, h: usize, cb: ChannelCallbacks, err: xErrno) {
        self.emit(
            inner,
            Box::new(move || {
                if channel_live(h) {
                    cb.error(h, err);
                }
            }),
        );
    }

    /// Posts a channel callback that runs only while the channel is live.
    fn post_channel(
        &self,
        inner: &mut MgrInner,
        id: ChannelId,
        task: impl FnOnce(usize, ChannelCallbacks) + Send + 'static,
    ) {
        let Some(&(h, cb)) = inner.channels.get(&id) else {
            return;
        };
        self.emit(
            inner,
            Box::new(move || {
                if channel_live(h) {
                    task(h, cb);
                }
            }),
        );
    }

    fn dispatch(&self, handle: usize, inner: &mut MgrInner) {
        while let Some(ev) = inner.mgr.poll_event() {
            match ev {
                ChannelEvent::RemoteOpen(id) => {
                    let label = inner.mgr.label(id).unwrap_or("").to_owned();
                    let h = insert_channel(Owner::Mgr(handle), id, &label) as usize;
                    let cb = self.cb.for_channel(None);
                    inner.channels.insert(id, (h, cb));
                    let mcb = self.cb;
                    if let Some(f) = mcb.on_remote_open {
                        self.emit(
                            inner,
                            Box::new(move || {
                                if mgr_live(handle) && channel_live(h) {
                                    // SAFETY: user callback with the manager's ctx.
                                    unsafe {
                                        f(
                                            handle as xDataChannelMgr,
                                            h as xDataChannel,
                                            mcb.ctx as *mut c_void,
                                        )
                                    };
                                }
                            }),
                        );
                    }
                }
                ChannelEvent::Open(id) => self.post_channel(inner, id, |h, cb| cb.open(h)),
                ChannelEvent::Message(id, _) => {
                    while let Some((kind, data)) = inner.mgr.recv(id) {
                        self.post_channel(inner, id, move |h, cb| cb.message(h, kind, &data));
                    }
                }
                ChannelEvent::BufferedAmountLow(id) => {
                    self.post_channel(inner, id, |h, cb| cb.buffered_amount_low(h));
                }
                ChannelEvent::Closing(_) => {}
                ChannelEvent::Closed(id) => self.post_channel(inner, id, |h, cb| cb.close(h)),
                ChannelEvent::Error(id, e) => {
                    if let Some(&(h, cb)) = inner.channels.get(&id) {
                        self.post_error(inner, h, cb, channel_errno(&e));
                    }
                }
            }
        }
    }
}

fn channel_live(h: usize) -> bool {
    CHANNELS.get(h as *const c_void).is_some()
}

/// Creates a manager over an SCTP transport created with
/// `xSctpTransportCreate`. Channels opened here get stream ids by the DTLS
/// role of the transport's DTLS transport (RFC 8832: Active even, Passive
/// odd), so both sides can open channels at once. NULL for NULL arguments,
/// a bad SCTP transport or a PeerConnection's (use
/// `xPeerConnectionGetDataChannelMgr`).
#[no_mangle]
pub unsafe extern "C" fn xDataChannelMgrCreate(
    conf: *const xDataChannelMgrConf,
) -> xDataChannelMgr {
    ffi_boundary!(std::ptr::null_mut(), {
        let Some(conf) = opt_ref(conf) else {
            return std::ptr::null_mut();
        };
        let sctp = conf.sctp as usize;
        let Some((lp, dtls)) = sctp_transport::loop_and_dtls(sctp) else {
            return std::ptr::null_mut();
        };
        let Ok(queue) = LoopQueue::attach(lp) else {
            return std::ptr::null_mut();
        };
        let handle = MANAGERS.insert(Arc::new(MgrHandle::Own(Box::new(MgrObject {
            sctp,
            dtls,
            queue,
            cb: MgrCallbacks {
                on_remote_open: conf.on_remote_open,
                on_open: conf.on_open,
                on_message: conf.on_message,
                on_close: conf.on_close,
                on_error: conf.on_error,
                ctx: conf.ctx as usize,
            },
            inner: Mutex::new(MgrInner {
                mgr: ChannelManager::new(LOCAL_MAX_MESSAGE_SIZE, LOCAL_MAX_MESSAGE_SIZE),
                channels: HashMap::new(),
                pending: None,
                inline: None,
            }),
        }))));
        sctp_transport::add_listener(sctp, handle as usize);
        sctp_changed(handle as usize);
        handle
    })
}

/// Destroys a manager: every channel handle of it becomes invalid and no
/// callback of it runs after this returns. NULL, stale and foreign handles
/// are ignored, and so is the view of a PeerConnection's channels (the
/// PeerConnection owns them).
#[no_mangle]
pub unsafe extern "C" fn xDataChannelMgrDestroy(mgr: xDataChannelMgr) {
    ffi_boundary!((), {
        if !matches!(MANAGERS.get(mgr).as_deref(), Some(MgrHandle::Own(_))) {
            return;
        }
        let Some(h) = MANAGERS.remove(mgr) else {
            return;
        };
        let MgrHandle::Own(obj) = &*h else { return };
        sctp_transport::remove_listener(obj.sctp, mgr as usize);
        let inner = obj.inner.lock();
        for &(ch, _) in inner.channels.values() {
            CHANNELS.remove(ch as *const c_void);
        }
        drop(inner);
        obj.queue.detach();
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
        let Some(payload) = bytes(data, len) else {
            return;
        };
        with_own_mgr_inline(mgr as usize, |inner| {
            inner.mgr.handle_sctp_message(stream_id, ppid, payload);
        })
    })
}

/// Hands the manager one `on_stream_close` of its SCTP transport. A
/// channel closes once both directions of its stream are reset (the peer's
/// reset is answered with ours), then `on_close` runs, inside this call.
/// Ignored for NULL and for the view of a PeerConnection's channels.
#[no_mangle]
pub unsafe extern "C" fn xDataChannelMgrOnStreamClose(mgr: xDataChannelMgr, stream_id: u16) {
    ffi_boundary!((), {
        with_own_mgr_inline(mgr as usize, |inner| {
            inner.mgr.handle_stream_closed(stream_id)
        })
    })
}

/// Hands the manager its SCTP transport's `on_buffered_amount_low`: the
/// messages waiting for room are sent and channels whose buffered amount
/// falls to their threshold get `on_buffered_amount_low`. (The manager
/// also learns of room by itself.) Ignored for NULL and views.
#[no_mangle]
pub unsafe extern "C" fn xDataChannelMgrOnBufferedAmountLow(mgr: xDataChannelMgr) {
    ffi_boundary!((), { with_own_mgr(mgr as usize, (), |_| ()) })
}

/// Creates a channel and returns its handle at once; it opens (`on_open`)
/// when the association is up and the peer acknowledged it. On the view
/// of a PeerConnection's channels it is `xPeerConnectionCreateDataChannel`.
/// NULL for NULL arguments, a bad label or protocol, or no free stream.
#[no_mangle]
pub unsafe extern "C" fn xDataChannelCreate(
    mgr: xDataChannelMgr,
    conf: *const xDataChannelConf,
) -> xDataChannel {
    ffi_boundary!(std::ptr::null_mut(), {
        let Some(conf) = opt_ref(conf) else {
            return std::ptr::null_mut();
        };
        match MANAGERS.get(mgr).as_deref() {
            Some(MgrHandle::Pc(pc)) => super::peer_connection::create_pc_channel(*pc, conf),
            Some(MgrHandle::Own(obj)) => {
                let cfg = channel_config(conf);
                let label = cfg.label.clone();
                let mut inner = obj.inner.lock();
                let Ok(id) = inner.mgr.create_channel(cfg) else {
                    return std::ptr::null_mut();
                };
                let h = insert_channel(Owner::Mgr(mgr as usize), id, &label);
                let cb = obj.cb.for_channel(Some(conf));
                inner.channels.insert(id, (h as usize, cb));
                drop(inner);
                obj.service(mgr as usize);
                h
            }
            None => std::ptr::null_mut(),
        }
    })
}
