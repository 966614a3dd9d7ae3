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

use super::boundary::{bytes, ffi_boundary, opt_ref};
use super::dtls_transport::{self, xDtlsTransport};
use super::loop_timer::{ms_until, Handle, Handles, LoopTimer};
use crate::driver::clock;
use crate::driver::loop_queue::LoopQueue;
use crate::sctp::{Reliability, SctpAssociation, SctpConfig, SctpError, SctpEvent};
use libc::c_void;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
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
/// SCTP packets kept while the DTLS handshake is not done.
const MAX_HELD: usize = 64;

#[derive(Clone, Copy)]
struct Callbacks {
    on_state_change: xSctpOnStateChange,
    on_data: xSctpOnData,
    on_stream_close: xSctpOnStreamClose,
    on_buffered_amount_low: xSctpOnBufferedAmountLow,
    ctx: usize,
}

struct Inner {
    assoc: SctpAssociation,
    timer: LoopTimer,
    started: bool,
    connected: bool,
    /// Lost, aborted, shut down or timed out: nothing more happens.
    ended: bool,
    /// The streams each way, once connected.
    streams: u16,
    /// How long after `Start` the association must be up.
    assoc_timeout: Duration,
    /// The association must be up by then.
    assoc_deadline: Option<Instant>,
    /// Bytes were accepted since the buffered amount was last 0.
    low_armed: bool,
    /// SCTP packets waiting for the DTLS handshake.
    held: VecDeque<Vec<u8>>,
    /// Data channel managers (handle tokens) told about state changes and
    /// room in the send buffer.
    listeners: Vec<usize>,
}

pub(crate) struct SctpObject {
    lp: usize,
    queue: Arc<LoopQueue>,
    dtls: usize,
    cb: Callbacks,
    inner: Mutex<Inner>,
}

/// Transports created with `xSctpTransportCreate` and views of the
/// association of PeerConnections.
static TRANSPORTS: Handles<SctpObject> = Handles::new();

/// Registers the view of a PeerConnection's association.
pub(crate) fn register_pc_view(pc: usize) -> usize {
    TRANSPORTS.register_pc_view(pc)
}

/// Makes a view handle stale.
pub(crate) fn unregister_view(handle: usize) {
    TRANSPORTS.unregister(handle);
}

/// What the SCTP layer tells a data channel manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// Connected with this many streams each way.
    Up(u16),
    /// Not connected yet.
    Down,
    /// The association ended.
    Ended,
}

impl SctpObject {
    /// Moves packets between SCTP and DTLS until neither has more, posting
    /// what SCTP reports. Runs on the loop thread without any lock held.
    fn pump(&self, handle: usize, mut inbound: Vec<Vec<u8>>) {
        for _ in 0..64 {
            let now = clock::now();
            let mut out = {
                let mut inner = self.inner.lock();
                for p in inbound.drain(..) {
                    inner.assoc.handle_packet(now, &p);
                }
                self.collect(handle, &mut inner);
                while let Some(p) = inner.assoc.poll_transmit() {
                    inner.held.push_back(p);
                }
                std::mem::take(&mut inner.held)
            };
            if out.is_empty() {
                break;
            }
            inbound = dtls_transport::send_packets(self.dtls, &mut out);
            if !out.is_empty() {
                let mut inner = self.inner.lock();
                out.extend(inner.held.drain(..));
                while out.len() > MAX_HELD {
                    out.pop_front();
                }
                inner.held = out;
            }
            if inbound.is_empty() {
                break;
            }
        }
        Self::arm_timer(handle, &mut self.inner.lock());
    }

    /// Posts the association's events and messages to the loop.
    fn collect(&self, handle: usize, inner: &mut Inner) {
        let mut notify = false;
        while let Some(ev) = inner.assoc.poll_event() {
            match ev {
                SctpEvent::Connected {
                    outbound_streams,
                    inbound_streams,
                } => {
                    inner.connected = true;
                    inner.assoc_deadline = None;
                    inner.streams = outbound_streams.min(inbound_streams);
                    notify = true;
                    self.post_state(handle, true);
                }
                SctpEvent::Message { .. } => {
                    if let Some((stream, ppid, data)) = inner.assoc.recv() {
                        self.post_data(handle, stream, ppid, data);
                    }
                }
                SctpEvent::StreamReset { stream, .. } => self.post_stream_close(handle, stream),
                SctpEvent::SenderDry => {
                    notify = true;
                    if inner.low_armed {
                        inner.low_armed = false;
                        self.post_low(handle);
                    }
                }
                SctpEvent::Writable => notify = true,
                SctpEvent::SendFailed { .. } => {}
                SctpEvent::Lost | SctpEvent::Aborted | SctpEvent::Closed => {
                    self.end(handle, inner);
                    notify = true;
                }
            }
        }
        if notify {
            for &mgr in &inner.listeners {
                self.queue.post(Box::new(move || {
                    super::datachannel::sctp_changed(mgr);
                }));
            }
        }
    }

    /// Enters the final state and reports `connected = false` once.
    fn end(&self, handle: usize, inner: &mut Inner) {
        if inner.ended {
            return;
        }
        inner.ended = true;
        inner.connected = false;
        inner.assoc_deadline = None;
        inner.low_armed = false;
        self.post_state(handle, false);
    }

    fn post_state(&self, handle: usize, connected: bool) {
        let cb = self.cb;
        if let Some(f) = cb.on_state_change {
            TRANSPORTS.post_if_live(&self.queue, handle, move || {
                // SAFETY: user callback with its own ctx.
                unsafe { f(handle as xSctpTransport, connected, cb.ctx as *mut c_void) };
            });
        }
    }

    fn post_data(&self, handle: usize, stream: u16, ppid: u32, data: Vec<u8>) {
        let cb = self.cb;
        if let Some(f) = cb.on_data {
            TRANSPORTS.post_if_live(&self.queue, handle, move || {
                // SAFETY: user callback; the bytes live for the call.
                unsafe {
                    f(
                        handle as xSctpTransport,
                        stream,
                        ppid,
                        data.as_ptr(),
                        data.len(),
                        cb.ctx as *mut c_void,
                    )
                };
            });
        }
    }

    fn post_stream_close(&self, handle: usize, stream: u16) {
        let cb = self.cb;
        if let Some(f) = cb.on_stream_close {
            TRANSPORTS.post_if_live(&self.queue, handle, move || {
                // SAFETY: user callback with its own ctx.
                unsafe { f(handle as xSctpTransport, stream, cb.ctx as *mut c_void) };
            });
        }
    }

    fn post_low(&self, handle: usize) {
        let cb = self.cb;
        if let Some(f) = cb.on_buffered_amount_low {
            TRANSPORTS.post_if_live(&self.queue, handle, move || {
                // SAFETY: user callback with its own ctx.
                unsafe { f(handle as xSctpTransport, cb.ctx as *mut c_void) };
            });
        }
    }

    /// Re-arms the timer for usrsctp's next timer or the association
    /// deadline, whichever comes first.
    fn arm_timer(handle: usize, inner: &mut Inner) {
        let deadline = match (inner.assoc.poll_timeout(), inner.assoc_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let ms = deadline.map(|d| ms_until(d).max(1));
        inner.timer.rearm(ms, on_timer, handle);
    }
}

/// Timer callback on the caller's loop: usrsctp's timers and the
/// association timeout.
unsafe extern "C" fn on_timer(arg: *mut c_void) {
    ffi_boundary!((), {
        let handle = arg as usize;
        TRANSPORTS.with_own(arg, (), (), |obj| {
            {
                let now = clock::now();
                let mut inner = obj.inner.lock();
                inner.timer.fired();
                inner.assoc.handle_timeout(now);
                if inner.assoc_deadline.is_some_and(|d| d <= now) && !inner.connected {
                    obj.end(handle, &mut inner);
                    inner.assoc.close();
                    while inner.assoc.poll_transmit().is_some() {}
                }
            }
            obj.pump(handle, Vec::new());
        })
    })
}

/// Decrypted DTLS records for the SCTP transport `handle` (from the DTLS
/// transport it consumes, with no lock held); an empty list after the DTLS
/// handshake completed sends the packets that waited for it.
pub(crate) fn from_dtls(handle: usize, records: Vec<Vec<u8>>) {
    with_own(handle as xSctpTransport, (), (), |obj| {
        obj.pump(handle, records);
    })
}

/// Runs `f` on a transport created by `xSctpTransportCreate`; `view` for
/// the view of a PeerConnection's association, `dead` for bad handles.
fn with_own<R>(t: xSctpTransport, dead: R, view: R, f: impl FnOnce(&SctpObject) -> R) -> R {
    TRANSPORTS.with_own(t, dead, view, f)
}

/// Runs `f` on the transport `handle` (for the data channel manager);
/// `NotConnected` for bad handles and views.
fn with_own_or_not_connected(
    handle: usize,
    f: impl FnOnce(&SctpObject) -> Result<(), SctpError>,
) -> Result<(), SctpError> {
    let not_connected = || Err(SctpError::NotConnected);
    with_own(
        handle as xSctpTransport,
        not_connected(),
        not_connected(),
        f,
    )
}

/// The errno of a failed send.
pub(crate) fn send_errno(e: &SctpError) -> xErrno {
    match e {
        SctpError::NotConnected => xErrno_InvalidState,
        SctpError::WouldBlock => xErrno_Again,
        SctpError::MessageTooLarge { .. }
        | SctpError::EmptyMessage
        | SctpError::InvalidStream(_) => xErrno_InvalidArg,
        _ => xErrno_SysError,
    }
}

/// Sends one message on the transport `handle` (for the data channel
/// manager, which holds no SCTP lock).
pub(crate) fn send_message(
    handle: usize,
    stream: u16,
    ppid: u32,
    data: &[u8],
    ordered: bool,
    reliability: Reliability,
) -> Result<(), SctpError> {
    with_own_or_not_connected(handle, |obj| {
        let r = {
            let mut inner = obj.inner.lock();
            let r = inner.assoc.send(stream, ppid, data, ordered, reliability);
            if r.is_ok() {
                inner.low_armed = true;
            }
            r
        };
        obj.pump(handle, Vec::new());
        r
    })
}

/// Resets the outgoing side of `stream` on the transport `handle`.
pub(crate) fn reset_stream(handle: usize, stream: u16) -> Result<(), SctpError> {
    with_own_or_not_connected(handle, |obj| {
        let r = obj.inner.lock().assoc.reset_stream(stream);
        obj.pump(handle, Vec::new());
        r
    })
}

/// Where the association of the transport `handle` is; `None` for bad
/// handles and views.
pub(crate) fn link(handle: usize) -> Option<Link> {
    with_own(handle as xSctpTransport, None, None, |obj| {
        let inner = obj.inner.lock();
        Some(if inner.connected {
            Link::Up(inner.streams)
        } else if inner.ended {
            Link::Ended
        } else {
            Link::Down
        })
    })
}

/// The loop and DTLS transport of the transport `handle`.
pub(crate) fn loop_and_dtls(handle: usize) -> Option<(xEventLoop, usize)> {
    with_own(handle as xSctpTransport, None, None, |obj| {
        Some((obj.lp as xEventLoop, obj.dtls))
    })
}

/// Tells the manager `mgr` about state changes and room in the send buffer.
pub(crate) fn add_listener(handle: usize, mgr: usize) {
    with_own(handle as xSctpTransport, (), (), |obj| {
        obj.inner.lock().listeners.push(mgr);
    })
}

pub(crate) fn remove_listener(handle: usize, mgr: usize) {
    with_own(handle as xSctpTransport, (), (), |obj| {
        obj.inner.lock().listeners.retain(|&m| m != mgr);
    })
}

/// Creates an SCTP transport over the DTLS transport `conf->dtls` (which
/// it consumes; one SCTP transport per DTLS transport). NULL if `conf`, its
/// loop or its DTLS transport is NULL, if the DTLS transport is not a live
/// one created with `xDtlsTransportCreate` or already has an SCTP
/// transport. Ports 0 mean 5000, a zero association timeout 10 s.
#[no_mangle]
pub unsafe extern "C" fn xSctpTransportCreate(conf: *const xSctpTransportConf) -> xSctpTransport {
    ffi_boundary!(std::ptr::null_mut(), {
        let Some(conf) = opt_ref(conf) else {
            return std::ptr::null_mut();
        };
        if conf.r#loop.is_null()
            || conf.dtls.is_null()
            || dtls_transport::role(conf.dtls as usize).is_none()
        {
            return std::ptr::null_mut();
        }
        let cfg = SctpConfig {
            local_port: conf.local_port,
            remote_port: conf.remote_port,
            mtu: SCTP_MTU,
            ..SctpConfig::default()
        };
        let Ok(assoc) = SctpAssociation::new(cfg) else {
            return std::ptr::null_mut();
        };
        let Ok(queue) = LoopQueue::attach(conf.r#loop) else {
            return std::ptr::null_mut();
        };
        let timeout = match conf.assoc_timeout_ms {
            0 => Duration::from_secs(10),
            ms => Duration::from_millis(u64::from(ms)),
        };
        let handle = TRANSPORTS.insert_own(SctpObject {
            lp: conf.r#loop as usize,
            queue: queue.clone(),
            dtls: conf.dtls as usize,
            cb: Callbacks {
                on_state_change: conf.on_state_change,
                on_data: conf.on_data,
                on_stream_close: conf.on_stream_close,
                on_buffered_amount_low: conf.on_buffered_amount_low,
                ctx: conf.ctx as usize,
            },
            inner: Mutex::new(Inner {
                assoc,
                timer: LoopTimer::new(conf.r#loop),
                started: false,
                connected: false,
                ended: false,
                streams: 0,
                assoc_timeout: timeout,
                assoc_deadline: None,
                low_armed: false,
                held: VecDeque::new(),
                listeners: Vec::new(),
            }),
        });
        if !dtls_transport::attach_consumer(conf.dtls as usize, handle as usize) {
            queue.detach();
            TRANSPORTS.unregister(handle as usize);
            return std::ptr::null_mut();
        }
        handle
    })
}

/// Destroys a transport: the association is aborted (the peer sees an
/// ABORT if DTLS is up), its timer stops and the DTLS transport's `on_data`
/// gets records again. No callback of the transport runs after this
/// returns. NULL, stale and foreign handles are ignored, and so is the view
/// of a PeerConnection's association (the PeerConnection owns it).
#[no_mangle]
pub unsafe extern "C" fn xSctpTransportDestroy(transport: xSctpTransport) {
    ffi_boundary!((), {
        TRANSPORTS.destroy_own(transport, |obj| {
            let mut packets = VecDeque::new();
            {
                let mut inner = obj.inner.lock();
                inner.timer.cancel();
                if inner.connected {
                    inner.assoc.close();
                    while let Some(p) = inner.assoc.poll_transmit() {
                        packets.push_back(p);
                    }
                }
                inner.listeners.clear();
            }
            dtls_transport::detach_consumer(obj.dtls, transport as usize);
            let _ = dtls_transport::send_packets(obj.dtls, &mut packets);
            obj.queue.detach();
        });
    })
}

/// Starts the association (both sides connect); `on_state_change(true)`
/// follows when it is up, `false` if it is not up within the association
/// timeout. InvalidArg for a bad handle, InvalidState when already started
/// or for a PeerConnection's association, SysError if usrsctp refuses.
#[no_mangle]
pub unsafe extern "C" fn xSctpTransportStart(transport: xSctpTransport) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        with_own(transport, xErrno_InvalidArg, xErrno_InvalidState, |obj| {
            {
                let mut inner = obj.inner.lock();
                if inner.started {
                    return xErrno_InvalidState;
                }
                let now = clock::now();
                if inner.assoc.start(now).is_err() {
                    return xErrno_SysError;
                }
                inner.started = true;
                inner.assoc_deadline = Some(now + inner.assoc_timeout);
            }
            obj.pump(transport as usize, Vec::new());
            xErrno_Ok
        })
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
        let Some(payload) = bytes(data, len) else {
            return xErrno_InvalidArg;
        };
        with_own(
            transport,
            xErrno_InvalidArg,
            xErrno_InvalidState,
            |_| match send_message(
                transport as usize,
                stream_id,
                ppid,
                payload,
                ordered,
                Reliability::Reliable,
            ) {
                Ok(()) => xErrno_Ok,
                Err(e) => send_errno(&e),
            },
        )
    })
}

/// Feeds one SCTP packet obtained without the DTLS transport (the DTLS
/// transport's records reach SCTP by themselves). InvalidArg for NULL or
/// empty input, InvalidState for a PeerConnection's association.
#[no_mangle]
pub unsafe extern "C" fn xSctpTransportFeedInput(
    transport: xSctpTransport,
    data: *const u8,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(input) = bytes(data, len).filter(|b| !b.is_empty()) else {
            return xErrno_InvalidArg;
        };
        with_own(transport, xErrno_InvalidArg, xErrno_InvalidState, |obj| {
            obj.pump(transport as usize, vec![input.to_vec()]);
            xErrno_Ok
        })
    })
}

/// Resets the outgoing side of a stream (RFC 6525); both sides get
/// `on_stream_close`. InvalidArg for a bad handle or stream, InvalidState
/// when not connected or for a PeerConnection's association.
#[no_mangle]
pub unsafe extern "C" fn xSctpTransportCloseStream(
    transport: xSctpTransport,
    stream_id: u16,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        with_own(
            transport,
            xErrno_InvalidArg,
            xErrno_InvalidState,
            |_| match reset_stream(transport as usize, stream_id) {
                Ok(()) => xErrno_Ok,
                Err(e) => send_errno(&e),
            },
        )
    })
}

/// Bytes accepted by `Send` and not yet acknowledged by the peer; for the
/// view of a PeerConnection's association, the same count of the
/// PeerConnection's. 0 for NULL, stale and foreign handles.
#[no_mangle]
pub unsafe extern "C" fn xSctpTransportGetBufferedAmount(transport: xSctpTransport) -> usize {
    ffi_boundary!(0, {
        match TRANSPORTS.get(transport).as_deref() {
            Some(Handle::Own(obj)) => obj.inner.lock().assoc.buffered_amount(),
            Some(Handle::Pc(pc)) => super::peer_connection::with_endpoint(*pc, 0, |ep| {
                ep.pc.sctp().map_or(0, SctpAssociation::buffered_amount)
            }),
            None => 0,
        }
    })
}

/// Whether the association is up; false for NULL, stale and foreign
/// handles.
#[no_mangle]
pub unsafe extern "C" fn xSctpTransportIsConnected(transport: xSctpTransport) -> bool {
    ffi_boundary!(false, {
        match TRANSPORTS.get(transport).as_deref() {
            Some(Handle::Own(obj)) => obj.inner.lock().connected,
            Some(Handle::Pc(pc)) => super::peer_connection::with_endpoint(*pc, false, |ep| {
                ep.pc.sctp().is_some_and(SctpAssociation::is_connected)
            }),
            None => false,
        }
    })
}
