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

use super::boundary::{bytes, cstr_bytes, ffi_boundary, opt_ref};
use super::dtls_backend::*;
use super::loop_timer::{ms_until, Handle, Handles, LoopTimer};
use crate::driver::clock;
use crate::driver::loop_queue::LoopQueue;
use crate::dtls::{
    Certificate, DtlsConfig, DtlsError, DtlsEvent, DtlsRole, DtlsSession, DtlsState, Fingerprint,
    MAX_RECORD_PLAINTEXT,
};
use libc::{c_char, c_void};
use parking_lot::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::Arc;
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

/// Largest chunk handed to `on_data` at once (spec §4.4).
const DATA_CHUNK: usize = 4096;
/// Room for the record header, explicit nonce, tag and padding of the
/// offered suites, above the plaintext of one record.
const RECORD_OVERHEAD: usize = 256;

#[derive(Clone, Copy)]
struct Callbacks {
    send_fn: xDtlsSendFn,
    send_arg: usize,
    on_state_change: xDtlsOnStateChange,
    on_data: xDtlsOnData,
    ctx: usize,
}

struct Inner {
    session: DtlsSession,
    timer: LoopTimer,
    /// The `xSctpTransport` (handle token) that consumes decrypted records.
    consumer: Option<usize>,
}

pub(crate) struct DtlsObject {
    /// Carries the datagrams of an SCTP transport over this one to
    /// `send_fn` on the loop (see [`send_packets`]).
    queue: Arc<LoopQueue>,
    cb: Callbacks,
    inner: Mutex<Inner>,
}

/// Transports created with `xDtlsTransportCreate` and views of the DTLS
/// session of PeerConnections.
static TRANSPORTS: Handles<DtlsObject> = Handles::new();

/// Registers the view of a PeerConnection's DTLS session.
pub(crate) fn register_pc_view(pc: usize) -> usize {
    TRANSPORTS.register_pc_view(pc)
}

/// Makes a view handle stale.
pub(crate) fn unregister_view(handle: usize) {
    TRANSPORTS.unregister(handle);
}

/// A callback a drain leaves for after the transport's lock is released.
enum Call {
    Send(Vec<u8>),
    State(xDtlsState),
    Data(Vec<u8>),
}

/// Work a drain leaves for after the transport's lock is released: the
/// callbacks, records for the SCTP consumer, and whether the handshake just
/// completed.
#[derive(Default)]
#[must_use]
struct Handoff {
    handle: usize,
    cb: Option<Callbacks>,
    calls: Vec<Call>,
    consumer: Option<usize>,
    records: Vec<Vec<u8>>,
    connected: bool,
}

/// Runs `calls` in order on the calling thread; stops once `handle` is
/// destroyed (a callback may destroy it). Call without any lock held.
fn run_calls(handle: usize, cb: Callbacks, calls: Vec<Call>) {
    for call in calls {
        if !TRANSPORTS.is_live(handle) {
            return;
        }
        match call {
            Call::Send(datagram) => {
                if let Some(f) = cb.send_fn {
                    // SAFETY: user callback with its own argument.
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
                    // SAFETY: user callback with its own ctx.
                    unsafe { f(handle as xDtlsTransport, state, cb.ctx as *mut c_void) };
                }
            }
            Call::Data(msg) => {
                let Some(f) = cb.on_data else { continue };
                for chunk in msg.chunks(DATA_CHUNK) {
                    if !TRANSPORTS.is_live(handle) {
                        return;
                    }
                    // SAFETY: user callback; the bytes live for the call.
                    unsafe {
                        f(
                            handle as xDtlsTransport,
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
    fn finish(self) {
        if let Some(cb) = self.cb {
            run_calls(self.handle, cb, self.calls);
        }
        if let Some(sctp) = self.consumer {
            if !self.records.is_empty() || self.connected {
                super::sctp_transport::from_dtls(sctp, self.records);
            }
        }
    }
}

fn role_of(role: xDtlsRole) -> DtlsRole {
    if role == xDtlsRole_Active {
        DtlsRole::Client
    } else {
        DtlsRole::Server
    }
}

fn state_code(s: DtlsState) -> xDtlsState {
    match s {
        DtlsState::New => xDtlsState_New,
        DtlsState::Connecting => xDtlsState_Connecting,
        DtlsState::Connected => xDtlsState_Connected,
        DtlsState::Failed => xDtlsState_Failed,
        DtlsState::Closed => xDtlsState_Closed,
    }
}

fn errno(e: &DtlsError) -> xErrno {
    match e {
        DtlsError::InvalidState | DtlsError::NotConnected => xErrno_InvalidState,
        DtlsError::QueueFull => xErrno_Again,
        DtlsError::Crypto(_) => xErrno_Unknown,
        _ => xErrno_InvalidArg,
    }
}

impl DtlsObject {
    /// Collects what the session produced, in order: datagrams for
    /// `send_fn`, state changes, received data; then re-arms the timer for
    /// the session's next deadline. Runs on the loop thread; the callbacks
    /// run from [`Handoff::finish`] once the lock is released.
    fn drain(&self, handle: usize, inner: &mut Inner) -> Handoff {
        let mut handoff = Handoff {
            handle,
            cb: Some(self.cb),
            consumer: inner.consumer,
            ..Handoff::default()
        };
        while let Some(datagram) = inner.session.poll_transmit() {
            handoff.calls.push(Call::Send(datagram));
        }
        while let Some(ev) = inner.session.poll_event() {
            match ev {
                DtlsEvent::Connected => {
                    handoff.connected = true;
                    handoff.calls.push(Call::State(xDtlsState_Connected));
                }
                DtlsEvent::Closed => handoff.calls.push(Call::State(xDtlsState_Closed)),
                DtlsEvent::Failed(_) => handoff.calls.push(Call::State(xDtlsState_Failed)),
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
        inner.timer.rearm(ms, on_timer, handle);
        handoff
    }

    /// Drains what the session produced, releases the lock and then hands
    /// the records to the consumer.
    fn release(&self, handle: usize, mut inner: MutexGuard<'_, Inner>) {
        let handoff = self.drain(handle, &mut inner);
        drop(inner);
        handoff.finish();
    }
}

/// Timer callback on the caller's loop: drives retransmission and the
/// handshake timeout.
unsafe extern "C" fn on_timer(arg: *mut c_void) {
    ffi_boundary!((), {
        TRANSPORTS.with_own(arg, (), (), |obj| {
            let mut inner = obj.inner.lock();
            inner.timer.fired();
            inner.session.handle_timeout(clock::now());
            obj.release(arg as usize, inner);
        })
    })
}

/// Runs `f` on a transport created by `xDtlsTransportCreate`; `view` is
/// returned for the view of a PeerConnection's session, `dead` for NULL,
/// stale and foreign handles.
fn with_transport<R>(t: xDtlsTransport, dead: R, view: R, f: impl FnOnce(&DtlsObject) -> R) -> R {
    TRANSPORTS.with_own(t, dead, view, f)
}

/// Runs `read` on the PeerConnection behind a view handle; `own` on a
/// transport of this module; `dead` for bad handles and destroyed
/// PeerConnections.
fn read_transport<R>(
    t: xDtlsTransport,
    dead: R,
    own: impl FnOnce(&DtlsObject) -> R,
    read: impl FnOnce(&crate::peer::PeerConnection) -> R,
) -> R {
    match TRANSPORTS.get(t).as_deref() {
        Some(Handle::Own(obj)) => own(obj),
        Some(Handle::Pc(pc)) => super::peer_connection::with_endpoint(*pc, dead, |ep| read(&ep.pc)),
        None => dead,
    }
}

/// Makes the SCTP transport `sctp` the consumer of the decrypted records of
/// the transport `dtls`. Fails for bad handles, views and transports that
/// already have a consumer.
pub(crate) fn attach_consumer(dtls: usize, sctp: usize) -> bool {
    with_transport(dtls as xDtlsTransport, false, false, |obj| {
        let mut inner = obj.inner.lock();
        if inner.consumer.is_some() {
            return false;
        }
        inner.consumer = Some(sctp);
        true
    })
}

/// Ends what [`attach_consumer`] started; `on_data` gets records again.
pub(crate) fn detach_consumer(dtls: usize, sctp: usize) {
    with_transport(dtls as xDtlsTransport, (), (), |obj| {
        let mut inner = obj.inner.lock();
        if inner.consumer == Some(sctp) {
            inner.consumer = None;
        }
    })
}

/// The DTLS role of a transport of this module.
pub(crate) fn role(dtls: usize) -> Option<DtlsRole> {
    with_transport(dtls as xDtlsTransport, None, None, |obj| {
        Some(obj.inner.lock().session.role())
    })
}

/// Encrypts SCTP packets and sends them through `send_fn` (posted to the
/// loop, in order), from the front of `packets`, while the transport is
/// connected; what it cannot send yet
/// stays in `packets`. Packets DTLS refuses (too large) are dropped.
/// Returns the records received meanwhile for the consumer (called by the
/// SCTP transport without its lock held).
pub(crate) fn send_packets(dtls: usize, packets: &mut VecDeque<Vec<u8>>) -> Vec<Vec<u8>> {
    with_transport(dtls as xDtlsTransport, Vec::new(), Vec::new(), |obj| {
        let mut inner = obj.inner.lock();
        let mut records = Vec::new();
        let mut calls = Vec::new();
        while inner.session.state() == DtlsState::Connected {
            let Some(pkt) = packets.pop_front() else {
                break;
            };
            let _ = inner.session.send(&pkt);
            // Drained after every packet, so the send queue never fills.
            let handoff = obj.drain(dtls, &mut inner);
            records.extend(handoff.records);
            calls.extend(handoff.calls);
        }
        if inner.session.state() == DtlsState::Failed || inner.session.state() == DtlsState::Closed
        {
            packets.clear();
        }
        drop(inner);
        // The SCTP transport sends from inside other objects' calls (a data
        // channel manager holding its lock): user code runs from the loop.
        if !calls.is_empty() {
            let cb = obj.cb;
            obj.queue.post(Box::new(move || run_calls(dtls, cb, calls)));
        }
        records
    })
}

/// Creates a transport with a fresh ECDSA P-256 certificate. NULL if
/// `conf`, its loop or its `send_fn` is NULL, or key generation fails.
/// `Actpass` acts as `Passive`; a zero timeout means 10 s.
#[no_mangle]
pub unsafe extern "C" fn xDtlsTransportCreate(conf: *const xDtlsTransportConf) -> xDtlsTransport {
    ffi_boundary!(std::ptr::null_mut(), {
        let Some(conf) = opt_ref(conf) else {
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
        let Ok(queue) = LoopQueue::attach(conf.r#loop) else {
            return std::ptr::null_mut();
        };
        TRANSPORTS.insert_own(DtlsObject {
            queue,
            cb: Callbacks {
                send_fn: conf.send_fn,
                send_arg: conf.send_arg as usize,
                on_state_change: conf.on_state_change,
                on_data: conf.on_data,
                ctx: conf.ctx as usize,
            },
            inner: Mutex::new(Inner {
                session,
                timer: LoopTimer::new(conf.r#loop),
                consumer: None,
            }),
        })
    })
}

/// Destroys a transport and stops its timer. As upstream,
/// `on_state_change(Closed)` runs inside this call (the handle is already
/// stale then); no callback of the transport runs after this returns, so
/// its `ctx` and `send_arg` may be freed at once. An SCTP transport over it
/// stops receiving. NULL, stale and foreign handles are ignored, and so is
/// the view of a PeerConnection's session (the PeerConnection owns it).
#[no_mangle]
pub unsafe extern "C" fn xDtlsTransportDestroy(transport: xDtlsTransport) {
    ffi_boundary!((), {
        let mut cb = None;
        TRANSPORTS.destroy_own(transport, |obj| {
            obj.inner.lock().timer.cancel();
            obj.queue.detach();
            cb = Some(obj.cb);
        });
        if let Some(Callbacks {
            on_state_change: Some(f),
            ctx,
            ..
        }) = cb
        {
            // SAFETY: user callback with its own ctx; no lock held.
            f(transport, xDtlsState_Closed, ctx as *mut c_void);
        }
    })
}

/// Starts the handshake: state Connecting, reported through
/// `on_state_change` inside this call; the client (Active) sends its
/// ClientHello through `send_fn`, also inside this call. InvalidArg for a
/// bad handle, InvalidState unless New.
#[no_mangle]
pub unsafe extern "C" fn xDtlsTransportStart(transport: xDtlsTransport) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        with_transport(transport, xErrno_InvalidArg, xErrno_InvalidState, |obj| {
            let mut inner = obj.inner.lock();
            if let Err(e) = inner.session.start(clock::now()) {
                return errno(&e);
            }
            let mut handoff = obj.drain(transport as usize, &mut inner);
            handoff.calls.insert(0, Call::State(xDtlsState_Connecting));
            drop(inner);
            handoff.finish();
            xErrno_Ok
        })
    })
}

/// Feeds one datagram received from the peer. InvalidArg for NULL or empty
/// input. Malformed datagrams are dropped and counted; they never crash
/// and leave the state Connecting, Connected or Failed.
#[no_mangle]
pub unsafe extern "C" fn xDtlsTransportFeedInput(
    transport: xDtlsTransport,
    data: *const u8,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(input) = bytes(data, len).filter(|b| !b.is_empty()) else {
            return xErrno_InvalidArg;
        };
        with_transport(transport, xErrno_InvalidArg, xErrno_InvalidState, |obj| {
            let mut inner = obj.inner.lock();
            inner.session.handle_datagram(clock::now(), input);
            obj.release(transport as usize, inner);
            xErrno_Ok
        })
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
        let Some(msg) = bytes(data, len).filter(|b| !b.is_empty()) else {
            return xErrno_InvalidArg;
        };
        with_transport(transport, xErrno_InvalidArg, xErrno_InvalidState, |obj| {
            let mut inner = obj.inner.lock();
            if inner.session.state() != DtlsState::Connected {
                return xErrno_InvalidState;
            }
            let r = send_record(&mut inner.session, msg);
            obj.release(transport as usize, inner);
            match r {
                Ok(()) => xErrno_Ok,
                Err(e) => errno(&e),
            }
        })
    })
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

/// The fingerprint of the local certificate; `None` for bad handles and
/// the view of a destroyed PeerConnection's session.
fn local_fingerprint(transport: xDtlsTransport) -> Option<Fingerprint> {
    read_transport(
        transport,
        None,
        |obj| Some(obj.inner.lock().session.local_fingerprint()),
        |pc| Some(pc.certificate().fingerprint()),
    )
}

/// Writes the 32-byte SHA-256 fingerprint of the local certificate.
/// InvalidArg for NULL arguments.
#[no_mangle]
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
                std::ptr::copy_nonoverlapping(fp.0.as_ptr(), out, XDTLS_FINGERPRINT_SIZE);
                xErrno_Ok
            }
            None => xErrno_InvalidArg,
        }
    })
}

/// Writes the local fingerprint as uppercase colon hex (95 characters and a
/// NUL; `out` holds at least 96 bytes). InvalidArg for NULL arguments.
#[no_mangle]
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
        std::ptr::copy_nonoverlapping(text.as_ptr(), out.cast::<u8>(), n);
        *out.add(n) = 0;
        xErrno_Ok
    })
}

/// The transport's state; Closed for NULL, stale or foreign handles and
/// for the view of a destroyed PeerConnection's session. The view of a
/// live PeerConnection's session is New until its remote description.
#[no_mangle]
pub unsafe extern "C" fn xDtlsTransportGetState(transport: xDtlsTransport) -> xDtlsState {
    ffi_boundary!(xDtlsState_Closed, {
        read_transport(
            transport,
            xDtlsState_Closed,
            |obj| state_code(obj.inner.lock().session.state()),
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
pub unsafe extern "C" fn xDtlsTransportGetRole(transport: xDtlsTransport) -> xDtlsRole {
    ffi_boundary!(xDtlsRole_Passive, {
        let role = read_transport(
            transport,
            None,
            |obj| Some(obj.inner.lock().session.role()),
            |pc| pc.dtls_role(),
        );
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
pub unsafe extern "C" fn xDtlsTransportSetRole(
    transport: xDtlsTransport,
    role: xDtlsRole,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        with_transport(transport, xErrno_InvalidArg, xErrno_InvalidState, |obj| {
            let mut inner = obj.inner.lock();
            if inner.session.state() != DtlsState::New {
                return xErrno_InvalidState;
            }
            match inner.session.set_role(role_of(role)) {
                Ok(()) => xErrno_Ok,
                Err(e) => errno(&e),
            }
        })
    })
}

/// Parses `AA:BB:…` (32 bytes, upper or lower hex, ':' separators skipped)
/// into `out`. InvalidArg for NULL, a non-hex character, an odd trailing
/// nibble or fewer than 32 bytes; input after 32 bytes is ignored.
#[no_mangle]
pub unsafe extern "C" fn xDtlsFingerprintFromStr(str: *const c_char, out: *mut u8) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        if out.is_null() {
            return xErrno_InvalidArg;
        }
        let Some(text) = cstr_bytes(str).and_then(|b| std::str::from_utf8(b).ok()) else {
            return xErrno_InvalidArg;
        };
        match Fingerprint::from_hex(text) {
            Ok(fp) => {
                std::ptr::copy_nonoverlapping(fp.0.as_ptr(), out, XDTLS_FINGERPRINT_SIZE);
                xErrno_Ok
            }
            Err(_) => xErrno_InvalidArg,
        }
    })
}
