//! The object behind an `xDtlsTransport` handle: a DTLS session driven by
//! the caller, its loop timer, and the callbacks it runs. The callbacks run
//! inside the call that caused them, once the object's lock is released;
//! the datagrams of an SCTP transport over it go to `send_fn` from the loop.
//! The decrypted records go to the record sink an SCTP transport attaches,
//! or to `on_data` without one.

use super::cabi::{
    DataFn, SendFn, StateFn, DTLS_CLOSED, DTLS_CONNECTED, DTLS_CONNECTING, DTLS_FAILED,
};
use super::handle::{self, Handle};
use super::timer::{ms_until, LoopTimer};
use crate::driver::clock;
use crate::driver::loop_queue::LoopQueue;
use crate::dtls::{DtlsError, DtlsEvent, DtlsRole, DtlsSession, DtlsState, MAX_RECORD_PLAINTEXT};
use libc::{c_int, c_void};
use parking_lot::{Mutex, MutexGuard};
use std::sync::Arc;
use xbase::ffi_boundary;
use xbase::types::xEventLoop;

/// Largest chunk handed to `on_data` at once (spec §4.4).
const DATA_CHUNK: usize = 4096;
/// Room for the record header, explicit nonce, tag and padding of the
/// offered suites, above the plaintext of one record.
const RECORD_OVERHEAD: usize = 256;

/// The C callbacks of a transport.
#[derive(Clone, Copy)]
pub struct DtlsCallbacks {
    pub send_fn: Option<SendFn>,
    pub send_arg: usize,
    pub on_state_change: Option<StateFn>,
    pub on_data: Option<DataFn>,
    pub ctx: usize,
}

/// Where decrypted records go instead of `on_data` (an SCTP transport).
pub type RecordSink = Arc<dyn Fn(Vec<Vec<u8>>) + Send + Sync>;

struct Inner {
    session: DtlsSession,
    timer: LoopTimer,
    consumer: Option<RecordSink>,
}

pub struct DtlsObject {
    /// Carries the datagrams of an SCTP transport over this one to
    /// `send_fn` on the loop (see [`send_packets`]).
    queue: Arc<LoopQueue>,
    cb: DtlsCallbacks,
    inner: Mutex<Inner>,
}

/// A callback a drain leaves for after the transport's lock is released.
enum Call {
    Send(Vec<u8>),
    State(c_int),
    Data(Vec<u8>),
}

/// Work a drain leaves for after the transport's lock is released: the
/// callbacks, records for the consumer, and whether the handshake just
/// completed.
#[must_use]
struct Handoff {
    handle: Handle<DtlsObject>,
    cb: DtlsCallbacks,
    calls: Vec<Call>,
    consumer: Option<RecordSink>,
    records: Vec<Vec<u8>>,
    connected: bool,
}

/// Runs `calls` in order on the calling thread; stops once `h` is destroyed
/// (a callback may destroy it). Call without any lock held.
fn run_calls(h: Handle<DtlsObject>, cb: DtlsCallbacks, calls: Vec<Call>) {
    for call in calls {
        if !handle::is_live(h) {
            return;
        }
        match call {
            Call::Send(datagram) => {
                if let Some(f) = cb.send_fn {
                    // SAFETY: the user's send_fn with its own argument; the
                    // datagram outlives the call.
                    unsafe {
                        f(
                            datagram.as_ptr(),
                            datagram.len(),
                            cb.send_arg as *mut c_void,
                        )
                    };
                }
            }
            Call::State(state) => {
                if let Some(f) = cb.on_state_change {
                    // SAFETY: the user's callback with its own ctx, no lock held.
                    unsafe { f(h.as_ptr(), state, cb.ctx as *mut c_void) };
                }
            }
            Call::Data(msg) => {
                let Some(f) = cb.on_data else { continue };
                for chunk in msg.chunks(DATA_CHUNK) {
                    if !handle::is_live(h) {
                        return;
                    }
                    // SAFETY: the user's callback; the bytes outlive the call.
                    unsafe {
                        f(
                            h.as_ptr(),
                            chunk.as_ptr(),
                            chunk.len(),
                            cb.ctx as *mut c_void,
                        )
                    };
                }
            }
        }
    }
}

impl Handoff {
    /// Runs the callbacks, then hands the records to the consumer (call
    /// without any lock held).
    #[cfg_attr(xp2p_device, optimize(size))]
    fn finish(self) {
        run_calls(self.handle, self.cb, self.calls);
        if let Some(sink) = self.consumer {
            if !self.records.is_empty() || self.connected {
                sink(self.records);
            }
        }
    }
}

impl DtlsObject {
    /// Collects what the session produced, in order: datagrams for
    /// `send_fn`, state changes, received data; then re-arms the timer for
    /// the session's next deadline. The callbacks run from
    /// [`Handoff::finish`] once the lock is released.
    fn drain(&self, h: Handle<DtlsObject>, inner: &mut Inner) -> Handoff {
        let mut handoff = Handoff {
            handle: h,
            cb: self.cb,
            calls: Vec::new(),
            consumer: inner.consumer.clone(),
            records: Vec::new(),
            connected: false,
        };
        while let Some(datagram) = inner.session.poll_transmit() {
            handoff.calls.push(Call::Send(datagram));
        }
        while let Some(ev) = inner.session.poll_event() {
            match ev {
                DtlsEvent::Connected => {
                    handoff.connected = true;
                    handoff.calls.push(Call::State(DTLS_CONNECTED));
                }
                DtlsEvent::Closed => handoff.calls.push(Call::State(DTLS_CLOSED)),
                DtlsEvent::Failed(_) => handoff.calls.push(Call::State(DTLS_FAILED)),
                DtlsEvent::Readable => {
                    while let Some(msg) = inner.session.recv_vec() {
                        if inner.consumer.is_some() {
                            handoff.records.push(msg);
                        } else {
                            handoff.calls.push(Call::Data(msg));
                        }
                    }
                }
            }
        }
        // Wait a millisecond past the deadline, so the session sees it passed.
        let ms = inner
            .session
            .poll_timeout()
            .map(|d| ms_until(d).saturating_add(1));
        inner.timer.rearm(ms, on_timer, h);
        handoff
    }

    /// Drains what the session produced, releases the lock and then runs
    /// the callbacks and hands the records to the consumer.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn release(&self, h: Handle<DtlsObject>, mut inner: MutexGuard<'_, Inner>) {
        let handoff = self.drain(h, &mut inner);
        drop(inner);
        handoff.finish();
    }
}

/// Timer callback on the caller's loop: drives retransmission and the
/// handshake timeout.
unsafe extern "C" fn on_timer(arg: *mut c_void) {
    ffi_boundary!((), {
        let h = Handle::<DtlsObject>::from_ptr(arg);
        if let Some(obj) = handle::get(h) {
            let mut inner = obj.inner.lock();
            inner.timer.fired();
            inner.session.handle_timeout(clock::now());
            obj.release(h, inner);
        }
    })
}

/// Registers a transport over `session` with its callbacks.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn create(
    lp: xEventLoop,
    queue: Arc<LoopQueue>,
    cb: DtlsCallbacks,
    session: DtlsSession,
) -> Handle<DtlsObject> {
    handle::insert(Arc::new(DtlsObject {
        queue,
        cb,
        inner: Mutex::new(Inner {
            session,
            timer: LoopTimer::new(lp),
            consumer: None,
        }),
    }))
}

/// Unregisters a transport and stops its timer; returns its callbacks (for
/// the `Closed` report), `None` if `h` was not live.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn destroy(h: Handle<DtlsObject>) -> Option<DtlsCallbacks> {
    let obj = handle::remove(h)?;
    obj.inner.lock().timer.cancel();
    obj.queue.detach();
    Some(obj.cb)
}

/// Runs `f` on the session of a live transport.
pub fn with_session<R>(h: Handle<DtlsObject>, f: impl FnOnce(&mut DtlsSession) -> R) -> Option<R> {
    handle::get(h).map(|obj| f(&mut obj.inner.lock().session))
}

/// Starts the handshake; `Connecting` and the first flight are reported
/// inside this call. `None` for a dead handle.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn start(h: Handle<DtlsObject>) -> Option<Result<(), DtlsError>> {
    let obj = handle::get(h)?;
    let mut inner = obj.inner.lock();
    if let Err(e) = inner.session.start(clock::now()) {
        return Some(Err(e));
    }
    let mut handoff = obj.drain(h, &mut inner);
    handoff.calls.insert(0, Call::State(DTLS_CONNECTING));
    drop(inner);
    handoff.finish();
    Some(Ok(()))
}

/// Feeds one datagram from the peer; false for a dead handle.
pub fn feed(h: Handle<DtlsObject>, input: &[u8]) -> bool {
    let Some(obj) = handle::get(h) else {
        return false;
    };
    let mut inner = obj.inner.lock();
    inner.session.handle_datagram(clock::now(), input);
    obj.release(h, inner);
    true
}

/// Sends `msg` as one record, inside this call. `None` for a dead handle.
pub fn send(h: Handle<DtlsObject>, msg: &[u8]) -> Option<Result<(), DtlsError>> {
    let obj = handle::get(h)?;
    let mut inner = obj.inner.lock();
    if inner.session.state() != DtlsState::Connected {
        return Some(Err(DtlsError::NotConnected));
    }
    let r = send_record(&mut inner.session, msg);
    obj.release(h, inner);
    Some(r)
}

/// Sends `msg` as one record. One larger than a record fits in the
/// session's datagram size is written with the datagram size raised for it,
/// then restored, so the other records keep their size.
fn send_record(session: &mut DtlsSession, msg: &[u8]) -> Result<(), DtlsError> {
    if msg.len() <= session.max_payload() || msg.len() > MAX_RECORD_PLAINTEXT {
        return session.send(msg);
    }
    let mtu = session.mtu();
    session.set_mtu(MAX_RECORD_PLAINTEXT + RECORD_OVERHEAD)?;
    let r = session.send(msg);
    let _ = session.set_mtu(mtu);
    r
}

/// Makes `sink` the consumer of the decrypted records of the transport
/// `h`. Fails for dead handles and transports that already have one.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn attach_consumer(h: Handle<DtlsObject>, sink: RecordSink) -> bool {
    let Some(obj) = handle::get(h) else {
        return false;
    };
    let mut inner = obj.inner.lock();
    if inner.consumer.is_some() {
        return false;
    }
    inner.consumer = Some(sink);
    true
}

/// Ends what [`attach_consumer`] started; `on_data` gets records again.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn detach_consumer(h: Handle<DtlsObject>) {
    if let Some(obj) = handle::get(h) {
        obj.inner.lock().consumer = None;
    }
}

/// The DTLS role of a live transport.
pub fn role(h: Handle<DtlsObject>) -> Option<DtlsRole> {
    with_session(h, |s| s.role())
}

/// SCTP packets out through the transport `h` (the pipeline's SCTP out
/// and DTLS out stages): runs `f` with the session (`None` when `h` is
/// dead) and the drain to call after each record, which queues the
/// datagrams for `send_fn`. The datagrams go to `send_fn` from the loop,
/// in order (the SCTP transport sends from inside other objects' calls, a
/// data channel manager holding its lock); records that arrived meanwhile
/// are returned for the consumer. Called by the SCTP transport with its
/// lock held (the lock order is SCTP, then DTLS).
pub fn send_through<R>(
    h: Handle<DtlsObject>,
    f: impl FnOnce(Option<&mut DtlsSession>, &mut dyn FnMut(&mut DtlsSession)) -> R,
) -> (R, Vec<Vec<u8>>) {
    let Some(obj) = handle::get(h) else {
        return (f(None, &mut |_| {}), Vec::new());
    };
    let mut inner = obj.inner.lock();
    let mut calls = Vec::new();
    let r = f(Some(&mut inner.session), &mut |s: &mut DtlsSession| {
        while let Some(datagram) = s.poll_transmit() {
            calls.push(Call::Send(datagram));
        }
    });
    let handoff = obj.drain(h, &mut inner);
    drop(inner);
    calls.extend(handoff.calls);
    if !calls.is_empty() {
        let cb = obj.cb;
        obj.queue.post(Box::new(move || run_calls(h, cb, calls)));
    }
    (r, handoff.records)
}
