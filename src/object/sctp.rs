//! The object behind an `xSctpTransport` handle: an SCTP association over
//! a caller-driven DTLS transport ([`super::dtls`]). It consumes the DTLS
//! transport's decrypted records and sends its packets through it; packets
//! produced before the handshake completed wait (at most 64). Timers run on
//! the caller's loop and every callback is posted there.

use super::cabi::{SctpDataFn, SctpLowFn, SctpStateFn, SctpStreamFn};
use super::dtls::{self, DtlsObject};
use super::handle::{self, Handle};
use super::timer::{ms_until, post_if_live, LoopTimer};
use crate::driver::clock;
use crate::driver::loop_queue::LoopQueue;
use crate::pipeline::Pipeline;
use crate::sctp::{Reliability, SctpAssociation, SctpError, SctpEvent};
use libc::c_void;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};
use xbase::ffi_boundary;
use xbase::types::*;

/// SCTP packets kept while the DTLS handshake is not done.
const MAX_HELD: usize = 64;

/// Stage 1 of a pass: records that came late, then this input's.
fn inbound_records(inner: &mut Inner, now: Instant, inbound: Vec<Vec<u8>>) {
    let late = std::mem::take(&mut inner.late);
    inner.pipe.records_to_sctp(now, &mut inner.assoc, late);
    inner.pipe.records_to_sctp(now, &mut inner.assoc, inbound);
}

/// The C callbacks of a transport.
#[derive(Clone, Copy)]
pub struct SctpCallbacks {
    pub on_state_change: Option<SctpStateFn>,
    pub on_data: Option<SctpDataFn>,
    pub on_stream_close: Option<SctpStreamFn>,
    pub on_buffered_amount_low: Option<SctpLowFn>,
    pub ctx: usize,
}

/// Told (on the loop) when the association comes up, ends or has room.
pub type Listener = Arc<dyn Fn() + Send + Sync>;

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
    /// The DTLS → SCTP composition (and the packets waiting for the DTLS
    /// handshake).
    pipe: Pipeline,
    /// Records DTLS handed back while SCTP was sending: the next input.
    late: Vec<Vec<u8>>,
    /// Data channel managers told about state changes and room in the send
    /// buffer, by the id [`add_listener`] gave.
    listeners: Vec<(u64, Listener)>,
    next_listener: u64,
}

pub struct SctpObject {
    lp: usize,
    queue: Arc<LoopQueue>,
    dtls: Handle<DtlsObject>,
    cb: SctpCallbacks,
    inner: Mutex<Inner>,
}

/// What the SCTP layer tells a data channel manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Connected with this many streams each way.
    Up(u16),
    /// Not connected yet.
    Down,
    /// The association ended.
    Ended,
}

impl SctpObject {
    /// One pass of the pipeline for one input (`crate::pipeline`): the
    /// records `inbound` from DTLS into SCTP, what SCTP reports posted to
    /// the loop, SCTP's packets out through DTLS. Runs on the loop thread
    /// without any lock held.
    fn pump(&self, h: Handle<SctpObject>, inbound: Vec<Vec<u8>>) {
        let now = clock::now();
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        inbound_records(inner, now, inbound);
        self.collect(h, inner);
        let ((), late) = dtls::send_through(self.dtls, |session, after_each| {
            inner
                .pipe
                .sctp_to_dtls(&mut inner.assoc, session, after_each);
        });
        // Records never arrive while SCTP sends; any that did are the
        // next input.
        if !late.is_empty() {
            inner.late.extend(late);
            self.queue.post(Box::new(move || from_dtls(h, Vec::new())));
        }
        Self::arm_timer(h, inner);
    }

    /// Posts the association's events and messages to the loop.
    fn collect(&self, h: Handle<SctpObject>, inner: &mut Inner) {
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
                    self.post_state(h, true);
                }
                SctpEvent::Message { .. } => {
                    if let Some((stream, ppid, data)) = inner.assoc.recv() {
                        self.post_data(h, stream, ppid, data);
                    }
                }
                SctpEvent::StreamReset { stream, .. } => self.post_stream_close(h, stream),
                SctpEvent::SenderDry => {
                    notify = true;
                    if inner.low_armed {
                        inner.low_armed = false;
                        self.post_low(h);
                    }
                }
                SctpEvent::Writable => notify = true,
                SctpEvent::SendFailed { .. } => {}
                SctpEvent::Lost | SctpEvent::Aborted | SctpEvent::Closed => {
                    self.end(h, inner);
                    notify = true;
                }
            }
        }
        if notify {
            for (_, listener) in &inner.listeners {
                let listener = listener.clone();
                self.queue.post(Box::new(move || listener()));
            }
        }
    }

    /// Enters the final state and reports `connected = false` once.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn end(&self, h: Handle<SctpObject>, inner: &mut Inner) {
        if inner.ended {
            return;
        }
        inner.ended = true;
        inner.connected = false;
        inner.assoc_deadline = None;
        inner.low_armed = false;
        self.post_state(h, false);
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn post_state(&self, h: Handle<SctpObject>, connected: bool) {
        let cb = self.cb;
        if let Some(f) = cb.on_state_change {
            post_if_live(&self.queue, h, move || {
                // SAFETY: the user's callback with its own ctx, on the loop.
                unsafe { f(h.as_ptr(), connected, cb.ctx as *mut c_void) };
            });
        }
    }

    fn post_data(&self, h: Handle<SctpObject>, stream: u16, ppid: u32, data: Vec<u8>) {
        let cb = self.cb;
        if let Some(f) = cb.on_data {
            post_if_live(&self.queue, h, move || {
                // SAFETY: the user's callback; the bytes outlive the call.
                unsafe {
                    f(
                        h.as_ptr(),
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

    #[cfg_attr(xp2p_device, optimize(size))]
    fn post_stream_close(&self, h: Handle<SctpObject>, stream: u16) {
        let cb = self.cb;
        if let Some(f) = cb.on_stream_close {
            post_if_live(&self.queue, h, move || {
                // SAFETY: the user's callback with its own ctx, on the loop.
                unsafe { f(h.as_ptr(), stream, cb.ctx as *mut c_void) };
            });
        }
    }

    fn post_low(&self, h: Handle<SctpObject>) {
        let cb = self.cb;
        if let Some(f) = cb.on_buffered_amount_low {
            post_if_live(&self.queue, h, move || {
                // SAFETY: the user's callback with its own ctx, on the loop.
                unsafe { f(h.as_ptr(), cb.ctx as *mut c_void) };
            });
        }
    }

    /// Re-arms the timer for usrsctp's next timer or the association
    /// deadline, whichever comes first.
    fn arm_timer(h: Handle<SctpObject>, inner: &mut Inner) {
        let deadline = match (inner.assoc.poll_timeout(), inner.assoc_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let ms = deadline.map(|d| ms_until(d).max(1));
        inner.timer.rearm(ms, on_timer, h);
    }
}

/// Timer callback on the caller's loop: usrsctp's timers and the
/// association timeout.
unsafe extern "C" fn on_timer(arg: *mut c_void) {
    ffi_boundary!((), {
        let h = Handle::<SctpObject>::from_ptr(arg);
        let Some(obj) = handle::get(h) else { return };
        {
            let now = clock::now();
            let mut inner = obj.inner.lock();
            inner.timer.fired();
            inner.assoc.handle_timeout(now);
            if inner.assoc_deadline.is_some_and(|d| d <= now) && !inner.connected {
                obj.end(h, &mut inner);
                inner.assoc.close();
                while inner.assoc.poll_transmit().is_some() {}
            }
        }
        obj.pump(h, Vec::new());
    })
}

/// Decrypted DTLS records for the transport `h` (from the DTLS transport
/// it consumes, with no lock held); an empty list after the DTLS handshake
/// completed sends the packets that waited for it.
fn from_dtls(h: Handle<SctpObject>, records: Vec<Vec<u8>>) {
    if let Some(obj) = handle::get(h) {
        obj.pump(h, records);
    }
}

/// Registers a transport over the DTLS transport `dtls` and makes it the
/// consumer of its records. `None` if `dtls` is dead or already consumed.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn create(
    lp: xEventLoop,
    queue: Arc<LoopQueue>,
    dtls: Handle<DtlsObject>,
    cb: SctpCallbacks,
    assoc: SctpAssociation,
    assoc_timeout: Duration,
) -> Option<Handle<SctpObject>> {
    let h = handle::insert(Arc::new(SctpObject {
        lp: lp as usize,
        queue: queue.clone(),
        dtls,
        cb,
        inner: Mutex::new(Inner {
            assoc,
            timer: LoopTimer::new(lp),
            started: false,
            connected: false,
            ended: false,
            streams: 0,
            assoc_timeout,
            assoc_deadline: None,
            low_armed: false,
            pipe: Pipeline::holding(MAX_HELD),
            late: Vec::new(),
            listeners: Vec::new(),
            next_listener: 0,
        }),
    }));
    if !dtls::attach_consumer(dtls, Arc::new(move |records| from_dtls(h, records))) {
        queue.detach();
        handle::remove(h);
        return None;
    }
    Some(h)
}

/// Destroys a transport: the association is aborted (the peer sees an
/// ABORT if DTLS is up), its timer stops and the DTLS transport's `on_data`
/// gets records again. Dead handles are ignored.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn destroy(h: Handle<SctpObject>) {
    let Some(obj) = handle::remove(h) else { return };
    {
        let mut guard = obj.inner.lock();
        let inner = &mut *guard;
        inner.timer.cancel();
        inner.listeners.clear();
        if inner.connected {
            inner.assoc.close();
            let _ = dtls::send_through(obj.dtls, |session, after_each| {
                inner
                    .pipe
                    .sctp_to_dtls(&mut inner.assoc, session, after_each);
            });
        }
    }
    dtls::detach_consumer(obj.dtls);
    obj.queue.detach();
}

/// Starts the association. `None` for a dead handle, `Some(false)` when
/// already started, `Some(Err)` if usrsctp refuses.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn start(h: Handle<SctpObject>) -> Option<Result<bool, SctpError>> {
    let obj = handle::get(h)?;
    {
        let mut inner = obj.inner.lock();
        if inner.started {
            return Some(Ok(false));
        }
        let now = clock::now();
        if let Err(e) = inner.assoc.start(now) {
            return Some(Err(e));
        }
        inner.started = true;
        inner.assoc_deadline = Some(now + inner.assoc_timeout);
    }
    obj.pump(h, Vec::new());
    Some(Ok(true))
}

/// Feeds one SCTP packet; false for a dead handle.
pub fn feed(h: Handle<SctpObject>, packet: &[u8]) -> bool {
    let Some(obj) = handle::get(h) else {
        return false;
    };
    obj.pump(h, vec![packet.to_vec()]);
    true
}

/// Runs the pipeline's channels stage of a data channel manager on the
/// association of the transport `h`, then sends what it queued; `None` for
/// a dead handle.
pub fn send_from<R>(h: Handle<SctpObject>, f: impl FnOnce(&mut SctpAssociation) -> R) -> Option<R> {
    let obj = handle::get(h)?;
    let r = {
        let mut inner = obj.inner.lock();
        let before = inner.assoc.buffered_amount();
        let r = f(&mut inner.assoc);
        if inner.assoc.buffered_amount() > before {
            inner.low_armed = true;
        }
        r
    };
    obj.pump(h, Vec::new());
    Some(r)
}

/// Sends one reliable message (`xSctpTransportSend`) on `stream` of the
/// transport `h`: `data` with `ppid`, in order unless `ordered` is false.
pub fn send_message(
    h: Handle<SctpObject>,
    stream: u16,
    ppid: u32,
    data: &[u8],
    ordered: bool,
) -> Result<(), SctpError> {
    let Some(obj) = handle::get(h) else {
        return Err(SctpError::NotConnected);
    };
    let r = {
        let mut inner = obj.inner.lock();
        let r = inner
            .assoc
            .send(stream, ppid, data, ordered, Reliability::Reliable);
        if r.is_ok() {
            inner.low_armed = true;
        }
        r
    };
    obj.pump(h, Vec::new());
    r
}

/// Resets the outgoing side of `stream` on the transport `h`.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn reset_stream(h: Handle<SctpObject>, stream: u16) -> Result<(), SctpError> {
    let Some(obj) = handle::get(h) else {
        return Err(SctpError::NotConnected);
    };
    let r = obj.inner.lock().assoc.reset_stream(stream);
    obj.pump(h, Vec::new());
    r
}

/// Where the association of the transport `h` is; `None` for dead handles.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn link(h: Handle<SctpObject>) -> Option<Link> {
    let obj = handle::get(h)?;
    let inner = obj.inner.lock();
    Some(if inner.connected {
        Link::Up(inner.streams)
    } else if inner.ended {
        Link::Ended
    } else {
        Link::Down
    })
}

/// The buffered amount and whether the association is up; `None` for dead
/// handles.
pub fn status(h: Handle<SctpObject>) -> Option<(usize, bool)> {
    let obj = handle::get(h)?;
    let inner = obj.inner.lock();
    Some((inner.assoc.buffered_amount(), inner.connected))
}

/// The loop and DTLS transport of the transport `h`.
pub fn loop_and_dtls(h: Handle<SctpObject>) -> Option<(xEventLoop, Handle<DtlsObject>)> {
    handle::get(h).map(|obj| (obj.lp as xEventLoop, obj.dtls))
}

/// Calls `listener` on the loop after state changes and when the send
/// buffer has room; returns its id for [`remove_listener`].
#[cfg_attr(xp2p_device, optimize(size))]
pub fn add_listener(h: Handle<SctpObject>, listener: Listener) -> Option<u64> {
    let obj = handle::get(h)?;
    let mut inner = obj.inner.lock();
    let id = inner.next_listener;
    inner.next_listener += 1;
    inner.listeners.push((id, listener));
    Some(id)
}

#[cfg_attr(xp2p_device, optimize(size))]
pub fn remove_listener(h: Handle<SctpObject>, id: u64) {
    if let Some(obj) = handle::get(h) {
        obj.inner.lock().listeners.retain(|(l, _)| *l != id);
    }
}

/// The errno of a failed SCTP send.
pub fn send_errno(e: &SctpError) -> xErrno {
    match e {
        SctpError::NotConnected => xErrno_InvalidState,
        SctpError::WouldBlock => xErrno_Again,
        SctpError::MessageTooLarge { .. }
        | SctpError::EmptyMessage
        | SctpError::InvalidStream(_) => xErrno_InvalidArg,
        _ => xErrno_SysError,
    }
}
