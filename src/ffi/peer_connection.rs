//! `peer_connection.h`: the PeerConnection for C callers, mirroring the
//! browser's RTCPeerConnection. The handle names a [`PeerConnection`]
//! driven by the library's I/O thread; every callback is posted to the
//! caller's `xEventLoop` and runs there, except `on_state_change(Closed)`,
//! which runs inside `xPeerConnectionDestroy` as upstream; none runs after
//! `xPeerConnectionDestroy` returns.

use super::boundary::{cstr_bytes, ffi_boundary, malloc_string, opt_ref};
use super::datachannel::*;
use super::dtls_transport::xDtlsTransport;
use super::ice_agent::xIceAgent;
use super::sctp_transport::xSctpTransport;
use crate::channel::{ChannelId, MessageKind};
use crate::driver::io::{self, Endpoint, EndpointId, SharedEndpoint, Transmit};
use crate::driver::loop_queue::LoopQueue;
use crate::driver::mdns::MdnsLookups;
use crate::driver::registry::Registry;
use crate::driver::{clock, netif, resolve};
use crate::peer::{PeerConfig, PeerConnection, PeerError, PeerEvent, PeerState};
use libc::{c_char, c_int, c_void};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::net::SocketAddr;
use std::sync::Arc;
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

#[derive(Clone, Copy)]
struct PcCallbacks {
    on_state_change: xPeerConnectionOnStateChange,
    on_ice_candidate: xPeerConnectionOnIceCandidate,
    on_datachannel: xPeerConnectionOnDataChannel,
    on_dc_open: xDataChannelOnOpen,
    on_dc_message: xDataChannelOnMessage,
    on_dc_close: xDataChannelOnClose,
    ctx: usize,
}

/// A channel's handle and callbacks.
#[derive(Clone, Copy)]
struct ChannelEntry {
    handle: usize,
    cb: ChannelCallbacks,
}

/// What the I/O thread drives: the PeerConnection plus the glue that posts
/// its events to the caller's loop.
pub(crate) struct PcEndpoint {
    pub pc: PeerConnection,
    handle: usize,
    queue: Arc<LoopQueue>,
    cb: PcCallbacks,
    channels: HashMap<ChannelId, ChannelEntry>,
    io_id: Option<EndpointId>,
    /// Set by Destroy: events still produced are discarded, so no handle
    /// is created and no callback posted for a destroyed PeerConnection.
    destroyed: bool,
    mdns: Arc<MdnsLookups>,
    /// Channels whose [`deliver_messages`] task is queued or running. The
    /// received messages wait in the PeerConnection (bounded) and that task
    /// pulls them on the loop thread; one task per channel, posted after
    /// the channel's earlier events, keeps `on_open` before `on_message`.
    delivering: HashSet<ChannelId>,
}

/// Messages one delivery task hands to `on_message` before it makes way
/// for the loop's other work (it queues itself again).
const DELIVER_PER_TASK: usize = 64;

/// Handles of the views of the components, made on first request and made
/// stale by Destroy (handle tokens, 0: none yet).
#[derive(Default)]
struct Views {
    ice: usize,
    dtls: usize,
    sctp: usize,
    mgr: usize,
}

struct PcObject {
    views: Mutex<Views>,
    queue: Arc<LoopQueue>,
    endpoint: Arc<Mutex<PcEndpoint>>,
    enable_ipv6: bool,
    stun_server: Option<String>,
    /// Resolves the peer's `.local` candidates; started on the first one.
    mdns: Arc<MdnsLookups>,
    turn: Option<resolve::TurnSetting>,
}

static PCS: Registry<PcObject> = Registry::new();

fn pc_live(h: usize) -> bool {
    PCS.get(h as *const c_void).is_some()
}

fn channel_live(h: usize) -> bool {
    CHANNELS.get(h as *const c_void).is_some()
}

/// Runs `f` on the endpoint of the live PeerConnection `pc` (a handle
/// token), or returns `dead`.
pub(crate) fn with_endpoint<R>(pc: usize, dead: R, f: impl FnOnce(&mut PcEndpoint) -> R) -> R {
    match PCS.get(pc as *const c_void) {
        Some(obj) => f(&mut obj.endpoint.lock()),
        None => dead,
    }
}

impl PcEndpoint {
    /// After an API call changed the PeerConnection: let the I/O thread
    /// send and re-arm its timers.
    pub(crate) fn kick(&self) {
        if let Some(id) = self.io_id {
            io::kick(id);
        }
    }

    /// After a send: a message that goes out alone is sent by this thread
    /// now ([`io::send_now`]); anything else is left to the I/O thread.
    pub(crate) fn send_or_kick(&mut self) {
        let Some(id) = self.io_id else {
            return;
        };
        if !(self.pc.sends_alone() && io::send_now(id, self)) {
            io::kick(id);
        }
    }

    /// The callbacks of a channel created from `conf` (NULL ones fall back
    /// to the PeerConnection's `on_dc_*` with its ctx), or the defaults.
    fn channel_callbacks(&self, conf: Option<&xDataChannelConf>) -> ChannelCallbacks {
        let pc_ctx = self.cb.ctx;
        fn pick<F>(own: Option<F>, ctx: usize, fallback: Option<F>, pc_ctx: usize) -> Cb<F> {
            match own {
                Some(f) => Cb { func: Some(f), ctx },
                None => Cb {
                    func: fallback,
                    ctx: pc_ctx,
                },
            }
        }
        let ctx = conf.map_or(pc_ctx, |c| c.ctx as usize);
        ChannelCallbacks {
            on_open: pick(
                conf.and_then(|c| c.on_open),
                ctx,
                self.cb.on_dc_open,
                pc_ctx,
            ),
            on_message: pick(
                conf.and_then(|c| c.on_message),
                ctx,
                self.cb.on_dc_message,
                pc_ctx,
            ),
            on_close: pick(
                conf.and_then(|c| c.on_close),
                ctx,
                self.cb.on_dc_close,
                pc_ctx,
            ),
            on_error: Cb {
                func: conf.and_then(|c| c.on_error),
                ctx,
            },
            on_buffered_amount_low: Cb {
                func: conf.and_then(|c| c.on_buffered_amount_low),
                ctx,
            },
        }
    }

    fn post_state(&self, state: PeerState) {
        let (h, cb) = (self.handle, self.cb);
        if let Some(f) = cb.on_state_change {
            self.queue.post(Box::new(move || {
                if pc_live(h) {
                    // SAFETY: user callback with the user's ctx.
                    unsafe { f(h as xPeerConnection, state.code(), cb.ctx as *mut c_void) };
                }
            }));
        }
    }

    fn post_candidate(&self, line: Option<String>) {
        let (h, cb) = (self.handle, self.cb);
        let Some(f) = cb.on_ice_candidate else { return };
        let text = line.and_then(|l| CString::new(l).ok());
        self.queue.post(Box::new(move || {
            if pc_live(h) {
                let p = text.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
                // SAFETY: user callback; `p` is NULL or a live C string.
                unsafe { f(h as xPeerConnection, p, cb.ctx as *mut c_void) };
            }
        }));
    }

    /// Posts a channel callback that runs only while the channel is live.
    fn post_channel(
        &self,
        id: ChannelId,
        task: impl FnOnce(usize, ChannelCallbacks) + Send + 'static,
    ) {
        let Some(entry) = self.channels.get(&id).copied() else {
            return;
        };
        self.queue.post(Box::new(move || {
            if channel_live(entry.handle) {
                task(entry.handle, entry.cb);
            }
        }));
    }

    fn remote_channel(&mut self, id: ChannelId) {
        let label = self.pc.channels().label(id).unwrap_or("").to_owned();
        let handle = register_channel(self.handle, id, &label) as usize;
        let cb = self.channel_callbacks(None);
        self.channels.insert(id, ChannelEntry { handle, cb });
        let (h, pcb) = (self.handle, self.cb);
        if let Some(f) = pcb.on_datachannel {
            self.queue.post(Box::new(move || {
                if pc_live(h) && channel_live(handle) {
                    // SAFETY: user callback with the user's ctx.
                    unsafe {
                        f(
                            h as xPeerConnection,
                            handle as xDataChannel,
                            pcb.ctx as *mut c_void,
                        )
                    };
                }
            }));
        }
    }
}

impl PcEndpoint {
    /// Channel `id` has messages: make sure a delivery task will pull them.
    fn signal_readable(&mut self, id: ChannelId) {
        if self.delivering.insert(id) {
            let pc = self.handle;
            self.queue.post(Box::new(move || deliver_messages(pc, id)));
        }
    }

    /// Takes the next received message of channel `id` for `on_message`.
    /// Wakes the I/O thread when pulling lets the PeerConnection read from
    /// SCTP again.
    fn next_message(&mut self, id: ChannelId) -> Option<(ChannelEntry, MessageKind, Vec<u8>)> {
        let wanted = self.pc.wants_read();
        let entry = self.channels.get(&id).copied();
        let msg = match entry {
            Some(_) => self.pc.recv(id),
            None => {
                // No handle to deliver to: the messages must not hold the
                // receive bound.
                while self.pc.recv(id).is_some() {}
                None
            }
        };
        if !wanted && self.pc.wants_read() {
            self.kick();
        }
        let (kind, data) = msg?;
        Some((entry?, kind, data))
    }
}

/// Hands one received message of channel `id` of the PeerConnection `pc`
/// (a handle token) to its `on_message`, on the loop thread, with no lock
/// held. Returns false when there was none (or the PeerConnection is gone
/// or destroyed).
fn deliver_one(pc: usize, id: ChannelId) -> bool {
    let next = with_endpoint(pc, None, |ep| {
        if ep.destroyed {
            return None;
        }
        ep.next_message(id)
    });
    let Some((entry, kind, data)) = next else {
        return false;
    };
    if channel_live(entry.handle) {
        entry.cb.message(entry.handle, kind, &data);
    }
    true
}

/// The delivery task of channel `id` of the PeerConnection `pc`: pulls
/// its received messages one at a time into `on_message`, at most
/// [`DELIVER_PER_TASK`] before it queues itself again behind the loop's
/// other work.
fn deliver_messages(pc: usize, id: ChannelId) {
    for _ in 0..DELIVER_PER_TASK {
        if !deliver_one(pc, id) {
            break;
        }
    }
    let requeue = with_endpoint(pc, None, |ep| {
        let more = ep.pc.channels().peek_message_len(id).is_some();
        if ep.destroyed || !more {
            ep.delivering.remove(&id);
            None
        } else {
            Some(ep.queue.clone())
        }
    });
    if let Some(queue) = requeue {
        queue.post(Box::new(move || deliver_messages(pc, id)));
    }
}

impl Endpoint for PcEndpoint {
    fn handle_link_failed(
        &mut self,
        now: Instant,
        link: SocketAddr,
        why: crate::turn::stream::StreamFailure,
    ) {
        self.pc.turn_link_failed(now, link, why);
    }

    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        self.pc.handle_datagram(now, local, from, data);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.pc.poll_transmit().map(|t| Transmit {
            local: t.local,
            dest: t.dest,
            data: t.data,
        })
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.pc.poll_timeout()
    }

    fn dispatch_events(&mut self) {
        if self.destroyed {
            while self.pc.poll_event().is_some() {}
            return;
        }
        let resolved = self.mdns.take_results();
        if !resolved.is_empty() {
            let now = clock::now();
            for r in resolved {
                self.pc.mdns_resolved(now, &r.name, r.addr);
            }
            // The new pairs want checks sent: another turn.
            self.kick();
        }
        while let Some(ev) = self.pc.poll_event() {
            match ev {
                PeerEvent::StateChanged(s) => self.post_state(s),
                PeerEvent::IceCandidate(line) => self.post_candidate(line),
                PeerEvent::DataChannel(id) => self.remote_channel(id),
                PeerEvent::ChannelOpen(id) => self.post_channel(id, |h, cb| cb.open(h)),
                PeerEvent::ChannelMessage(id) => self.signal_readable(id),
                PeerEvent::ChannelClosed(id) => {
                    // Messages received before the close are delivered
                    // first, by the close task itself if need be.
                    let pc = self.handle;
                    self.post_channel(id, move |h, cb| {
                        while deliver_one(pc, id) {}
                        if channel_live(h) {
                            cb.close(h);
                        }
                    });
                }
                PeerEvent::BufferedAmountLow(id) => {
                    self.post_channel(id, |h, cb| cb.buffered_amount_low(h));
                }
                PeerEvent::ChannelError(id, e) => {
                    let err = channel_errno(&e);
                    self.post_channel(id, move |h, cb| cb.error(h, err));
                }
            }
        }
    }
}

impl PcObject {
    /// Binds the host sockets, hands them to the I/O thread and starts
    /// gathering, once. Host candidates are known when this returns.
    fn ensure_gathering(&self) -> Result<(), xErrno> {
        let mut ep = self.endpoint.lock();
        if ep.io_id.is_some() {
            return Ok(());
        }
        let sockets = netif::bind_host_sockets(self.enable_ipv6);
        if sockets.is_empty() {
            return Err(xErrno_SysError);
        }
        for s in &sockets {
            if let Ok(local) = s.local_addr() {
                ep.pc.add_host_candidate(local);
            }
        }
        if self.stun_server.is_some() {
            ep.pc.expect_stun_servers();
        }
        match &self.turn {
            Some(t) if t.over_stream() => ep.pc.expect_stream_turn_server(),
            Some(_) => ep.pc.expect_turn_servers(1),
            None => {}
        }
        ep.pc
            .gather(clock::now())
            .map_err(|_| xErrno_InvalidState)?;
        drop(ep);
        let shared: SharedEndpoint = self.endpoint.clone();
        let id = io::register(shared, sockets).map_err(|_| xErrno_SysError)?;
        {
            let mut ep = self.endpoint.lock();
            ep.io_id = Some(id);
            // The I/O thread advances usrsctp's timers for every
            // connection at once and wakes this one only when they
            // produced something for it.
            ep.pc.set_sctp_ticked_by(id);
        }
        self.mdns.set_owner(id);
        if let Some(list) = self.stun_server.clone() {
            let endpoint = self.endpoint.clone();
            resolve::stun_servers_in_background(list, move |servers| {
                let mut ep = endpoint.lock();
                ep.pc.add_stun_servers(clock::now(), &servers);
                ep.kick();
            });
        }
        if let Some(turn) = self.turn.clone() {
            let endpoint = self.endpoint.clone();
            turn.resolve_in_background(id, move |r| {
                let mut ep = endpoint.lock();
                ep.pc.turn_server_resolved(clock::now(), r);
                ep.kick();
            });
        }
        Ok(())
    }

    fn description(&self, offer: bool) -> *mut c_char {
        if self.ensure_gathering().is_err() {
            return std::ptr::null_mut();
        }
        let mut ep = self.endpoint.lock();
        let now = clock::now();
        let sdp = if offer {
            ep.pc.create_offer(now)
        } else {
            ep.pc.create_answer(now)
        };
        ep.kick();
        match sdp {
            Ok(text) => malloc_string(&text),
            Err(_) => std::ptr::null_mut(),
        }
    }
}

fn with_pc<R>(pc: xPeerConnection, dead: R, f: impl FnOnce(&PcObject) -> R) -> R {
    match PCS.get(pc) {
        Some(obj) => f(&obj),
        None => dead,
    }
}

fn text_of<'a>(p: *const c_char) -> Option<&'a str> {
    // SAFETY: a non-NULL `p` is a NUL-terminated string (caller contract).
    unsafe { cstr_bytes(p) }.and_then(|b| std::str::from_utf8(b).ok())
}

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
pub unsafe extern "C" fn xPeerConnectionCreate(
    r#loop: xEventLoop,
    conf: *const xPeerConnectionConf,
) -> xPeerConnection {
    ffi_boundary!(std::ptr::null_mut(), {
        let Some(conf) = opt_ref(conf) else {
            return std::ptr::null_mut();
        };
        if r#loop.is_null() {
            return std::ptr::null_mut();
        }
        let cfg = PeerConfig {
            sctp_port: conf.sctp_port,
            ..PeerConfig::default()
        };
        let Ok(pc) = PeerConnection::new(cfg, clock::now()) else {
            return std::ptr::null_mut();
        };
        let Ok(queue) = LoopQueue::attach(r#loop) else {
            return std::ptr::null_mut();
        };
        let stun_server = text_of(conf.stun_server)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let mdns = Arc::new(MdnsLookups::new());
        let endpoint = Arc::new(Mutex::new(PcEndpoint {
            pc,
            handle: 0,
            queue: queue.clone(),
            cb: PcCallbacks {
                on_state_change: conf.on_state_change,
                on_ice_candidate: conf.on_ice_candidate,
                on_datachannel: conf.on_datachannel,
                on_dc_open: conf.on_dc_open,
                on_dc_message: conf.on_dc_message,
                on_dc_close: conf.on_dc_close,
                ctx: conf.ctx as usize,
            },
            channels: HashMap::new(),
            io_id: None,
            destroyed: false,
            mdns: mdns.clone(),
            delivering: HashSet::new(),
        }));
        let handle = PCS.insert(Arc::new(PcObject {
            views: Mutex::new(Views::default()),
            queue,
            endpoint: endpoint.clone(),
            enable_ipv6: conf.enable_ipv6,
            stun_server,
            mdns,
            turn: resolve::TurnSetting::from_conf(
                text_of(conf.turn_server),
                text_of(conf.turn_username),
                text_of(conf.turn_password),
            ),
        }));
        endpoint.lock().handle = handle as usize;
        handle
    })
}

/// Destroys a PeerConnection: channels, SCTP, DTLS and ICE close, sockets
/// and timers stop, every channel handle becomes invalid. As upstream,
/// `on_state_change(Closed)` runs once inside this call (unless the
/// connection was already Closed); no callback runs after this returns.
/// NULL, stale and foreign handles are ignored.
#[no_mangle]
pub unsafe extern "C" fn xPeerConnectionDestroy(pc: xPeerConnection) {
    ffi_boundary!((), {
        let Some(obj) = PCS.remove(pc) else {
            return;
        };
        let mut ep = obj.endpoint.lock();
        let report_closed = ep.pc.state() != crate::peer::PeerState::Closed;
        let cb = ep.cb;
        ep.destroyed = true;
        for entry in ep.channels.values() {
            CHANNELS.remove(entry.handle as *const c_void);
        }
        ep.pc.close();
        let io_id = ep.io_id.take();
        drop(ep);
        let views = std::mem::take(&mut *obj.views.lock());
        super::ice_agent::unregister_view(views.ice);
        super::dtls_transport::unregister_view(views.dtls);
        super::sctp_transport::unregister_view(views.sctp);
        super::datachannel::unregister_view(views.mgr);
        obj.mdns.stop();
        if let Some(id) = io_id {
            io::unregister(id);
        }
        obj.queue.detach();
        if let (true, Some(f)) = (report_closed, cb.on_state_change) {
            // SAFETY: user callback with the user's own ctx; no lock held.
            f(pc, xPeerConnectionState_Closed, cb.ctx as *mut c_void);
        }
    })
}

/// Starts gathering if needed and returns the offer (`malloc`ed; the caller
/// `free`s it) with the candidates gathered so far; more follow through
/// `on_ice_candidate`. NULL for a bad handle or on failure.
#[no_mangle]
pub unsafe extern "C" fn xPeerConnectionCreateOffer(pc: xPeerConnection) -> *mut c_char {
    ffi_boundary!(std::ptr::null_mut(), {
        with_pc(pc, std::ptr::null_mut(), |obj| obj.description(true))
    })
}

/// Returns the answer to the remote offer (`malloc`ed; the caller `free`s
/// it). NULL for a bad handle or without a remote offer.
#[no_mangle]
pub unsafe extern "C" fn xPeerConnectionCreateAnswer(pc: xPeerConnection) -> *mut c_char {
    ffi_boundary!(std::ptr::null_mut(), {
        with_pc(pc, std::ptr::null_mut(), |obj| obj.description(false))
    })
}

/// Applies `text` to the live PeerConnection with `apply` (after starting
/// gathering when `gather`), lets the I/O thread act on the change, and
/// maps the result. InvalidArg for NULL text or a bad handle.
fn apply_text(
    pc: xPeerConnection,
    text: *const c_char,
    gather: bool,
    apply: impl FnOnce(&mut PeerConnection, Instant, &str) -> Result<(), PeerError>,
) -> xErrno {
    let Some(text) = text_of(text) else {
        return xErrno_InvalidArg;
    };
    with_pc(pc, xErrno_InvalidArg, |obj| {
        if gather {
            if let Err(e) = obj.ensure_gathering() {
                return e;
            }
        }
        let mut ep = obj.endpoint.lock();
        let r = apply(&mut ep.pc, clock::now(), text);
        ep.kick();
        let names: Vec<String> = std::iter::from_fn(|| ep.pc.poll_mdns_lookup()).collect();
        drop(ep);
        obj.mdns.start(names);
        r.map_or_else(|e| errno(&e), |()| xErrno_Ok)
    })
}

/// Starts gathering if needed; the text itself is not used (the local
/// description is the one CreateOffer/CreateAnswer returned). InvalidArg for
/// NULL arguments.
#[no_mangle]
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
pub unsafe extern "C" fn xPeerConnectionCreateDataChannel(
    pc: xPeerConnection,
    conf: *const xDataChannelConf,
) -> xDataChannel {
    ffi_boundary!(std::ptr::null_mut(), {
        let Some(conf) = opt_ref(conf) else {
            return std::ptr::null_mut();
        };
        create_pc_channel(pc as usize, conf)
    })
}

/// Creates a channel on the PeerConnection `pc_token` (also reached through
/// `xDataChannelCreate` on the PeerConnection's manager view).
pub(crate) fn create_pc_channel(pc_token: usize, conf: &xDataChannelConf) -> xDataChannel {
    let cfg = channel_config(conf);
    let label = cfg.label.clone();
    with_endpoint(pc_token, std::ptr::null_mut(), |ep| {
        let Ok(id) = ep.pc.create_data_channel(cfg) else {
            return std::ptr::null_mut();
        };
        let handle = register_channel(pc_token, id, &label);
        let cb = ep.channel_callbacks(Some(conf));
        ep.channels.insert(
            id,
            ChannelEntry {
                handle: handle as usize,
                cb,
            },
        );
        ep.kick();
        handle
    })
}

/// The connection state; Closed for NULL, stale or foreign handles.
#[no_mangle]
pub unsafe extern "C" fn xPeerConnectionGetState(pc: xPeerConnection) -> xPeerConnectionState {
    ffi_boundary!(xPeerConnectionState_Closed, {
        with_endpoint(pc as usize, xPeerConnectionState_Closed, |ep| {
            ep.pc.state().code()
        })
    })
}

/// The view handle of one component, made on first request.
fn view(
    pc: xPeerConnection,
    pick: impl FnOnce(&mut Views) -> &mut usize,
    exists: impl FnOnce(&PcEndpoint) -> bool,
    make: impl FnOnce(usize, &PcObject) -> usize,
) -> *mut c_void {
    with_pc(pc, std::ptr::null_mut(), |obj| {
        if !exists(&obj.endpoint.lock()) {
            return std::ptr::null_mut();
        }
        let mut views = obj.views.lock();
        let slot = pick(&mut views);
        if *slot == 0 {
            *slot = make(pc as usize, obj);
        }
        *slot as *mut c_void
    })
}

/// The PeerConnection's ICE agent, borrowed: `xIceAgentGetUfrag`, `…GetPwd`,
/// `…GetLoop`, `…GetLocalCandidates`, `…CreateOffer` and
/// `…AddRemoteCandidate` work on it; calls that would take the agent from
/// the PeerConnection get InvalidState or do nothing, and
/// `xIceAgentDestroy` ignores it. The same handle every time; stale after
/// `xPeerConnectionDestroy`. NULL for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn xPeerConnectionGetIceAgent(pc: xPeerConnection) -> xIceAgent {
    ffi_boundary!(std::ptr::null_mut(), {
        view(
            pc,
            |v| &mut v.ice,
            |_| true,
            |token, obj| {
                let (ufrag, pwd) = {
                    let ep = obj.endpoint.lock();
                    let (u, p) = ep.pc.ice().local_credentials();
                    (u.to_owned(), p.to_owned())
                };
                super::ice_agent::register_pc_view(token, obj.queue.event_loop(), &ufrag, &pwd)
            },
        )
    })
}

/// The PeerConnection's DTLS transport, borrowed: the state (New until the
/// remote description), role, and local fingerprint getters work on it;
/// Start, FeedInput, Send and SetRole get InvalidState and
/// `xDtlsTransportDestroy` ignores it. The same handle every time; stale
/// after `xPeerConnectionDestroy`. NULL for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn xPeerConnectionGetDtlsTransport(pc: xPeerConnection) -> xDtlsTransport {
    ffi_boundary!(std::ptr::null_mut(), {
        view(
            pc,
            |v| &mut v.dtls,
            |_| true,
            |token, _| super::dtls_transport::register_pc_view(token),
        )
    })
}

/// The PeerConnection's SCTP transport, borrowed, once the association
/// exists (DTLS connected; NULL before): `xSctpTransportIsConnected` and
/// `…GetBufferedAmount` work on it; Start, Send, FeedInput and CloseStream
/// get InvalidState and `xSctpTransportDestroy` ignores it. Stale after
/// `xPeerConnectionDestroy`. NULL for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn xPeerConnectionGetSctpTransport(pc: xPeerConnection) -> xSctpTransport {
    ffi_boundary!(std::ptr::null_mut(), {
        view(
            pc,
            |v| &mut v.sctp,
            |ep| ep.pc.sctp().is_some(),
            |token, _| super::sctp_transport::register_pc_view(token),
        )
    })
}

/// The PeerConnection's data channel manager, borrowed (available at once,
/// as channels can be created before connecting): `xDataChannelCreate` on
/// it is `xPeerConnectionCreateDataChannel`; the `xDataChannelMgrOn…`
/// feeding calls and `xDataChannelMgrDestroy` ignore it (the PeerConnection
/// feeds and owns its channels). The same handle every time; stale after
/// `xPeerConnectionDestroy`. NULL for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn xPeerConnectionGetDataChannelMgr(pc: xPeerConnection) -> xDataChannelMgr {
    ffi_boundary!(std::ptr::null_mut(), {
        view(
            pc,
            |v| &mut v.mgr,
            |_| true,
            |token, _| super::datachannel::register_pc_view(token),
        )
    })
}
