//! The object behind an `xPeerConnection` handle: the [`PeerConnection`]
//! driven by the library's I/O thread, the glue that posts its events to
//! the caller's `xEventLoop`, the handles of its channels, and the views of
//! its parts that `xPeerConnectionGet{IceAgent,DtlsTransport,SctpTransport,
//! DataChannelMgr}` return.

use super::cabi::{NewChannelFn, StateFn, TextFn};
use super::callbacks::{
    channel_errno, ChannelCallbacks, ChannelObject, DefaultCallbacks, OwnCallbacks,
};
use super::handle::{self, Handle};
use super::ice::AbiCache;
use crate::channel::{ChannelConfig, ChannelId, MessageKind};
use crate::driver::io::{self, Endpoint, EndpointId, SharedEndpoint, Transmit};
use crate::driver::loop_queue::LoopQueue;
use crate::driver::mdns::MdnsLookups;
use crate::driver::{clock, netif, resolve};
use crate::idhash::{IdMap, IdSet};
use crate::peer::{PeerConfig, PeerConnection, PeerError, PeerEvent, PeerState};
use libc::c_void;
use parking_lot::Mutex;
use std::ffi::CString;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use xbase::types::*;

/// A channel of a PeerConnection.
pub type PcChannel = ChannelObject<PcObject>;

/// The C callbacks of a PeerConnection; `channels` holds its `on_dc_*`
/// (the defaults of its channels) and its ctx.
#[derive(Clone, Copy)]
pub struct PcCallbacks {
    pub on_state_change: Option<StateFn>,
    pub on_ice_candidate: Option<TextFn>,
    pub on_datachannel: Option<NewChannelFn>,
    pub channels: DefaultCallbacks,
}

impl PcCallbacks {
    fn ctx(&self) -> usize {
        self.channels.ctx
    }
}

/// The settings of a new PeerConnection, from its C conf.
pub struct PcSettings<'a> {
    pub sctp_port: u16,
    pub enable_ipv6: bool,
    pub stun_server: Option<String>,
    pub turn_server: Option<&'a str>,
    pub turn_username: Option<&'a str>,
    pub turn_password: Option<&'a str>,
    pub callbacks: PcCallbacks,
}

/// A channel's handle and callbacks.
#[derive(Clone, Copy)]
struct ChannelEntry {
    handle: Handle<PcChannel>,
    cb: ChannelCallbacks,
}

/// What the I/O thread drives: the PeerConnection plus the glue that posts
/// its events to the caller's loop.
pub struct PcEndpoint {
    pub pc: PeerConnection,
    handle: Handle<PcObject>,
    queue: Arc<LoopQueue>,
    cb: PcCallbacks,
    channels: IdMap<ChannelId, ChannelEntry>,
    io_id: Option<EndpointId>,
    /// The I/O driver's sockets of this connection, for sends made by the
    /// API thread itself ([`io::send_now`]).
    direct: Option<Arc<io::Direct>>,
    /// Set by Destroy: events still produced are discarded, so no handle
    /// is created and no callback posted for a destroyed PeerConnection.
    destroyed: bool,
    mdns: Arc<MdnsLookups>,
    /// Channels whose [`deliver_messages`] task is queued or running. The
    /// received messages wait in the PeerConnection (bounded) and that task
    /// pulls them on the loop thread; one task per channel, posted after
    /// the channel's earlier events, keeps `on_open` before `on_message`.
    delivering: IdSet<ChannelId>,
}

/// Messages one delivery task hands to `on_message` before it makes way
/// for the loop's other work (it queues itself again).
const DELIVER_PER_TASK: usize = 64;

/// The view of a PeerConnection's agent (`xPeerConnectionGetIceAgent`):
/// getters read the PeerConnection's agent; calls that would take it over
/// get InvalidState or do nothing.
pub struct IceView {
    pub pc: Handle<PcObject>,
    lp: usize,
    pub ufrag: CString,
    pub pwd: CString,
    /// Behind `xIceAgentGetLocalCandidates`.
    pub abi_cache: AbiCache,
}

impl IceView {
    pub fn event_loop(&self) -> xEventLoop {
        self.lp as xEventLoop
    }
}

/// The view of a PeerConnection's DTLS session.
pub struct DtlsView {
    pub pc: Handle<PcObject>,
}

/// The view of a PeerConnection's SCTP association.
pub struct SctpView {
    pub pc: Handle<PcObject>,
}

/// The view of a PeerConnection's channels (`xDataChannelMgr`).
pub struct ChannelsView {
    pub pc: Handle<PcObject>,
}

/// Handles of the views of the parts, made on first request and made
/// stale by Destroy.
#[derive(Default)]
struct Views {
    ice: Option<Handle<IceView>>,
    dtls: Option<Handle<DtlsView>>,
    sctp: Option<Handle<SctpView>>,
    channels: Option<Handle<ChannelsView>>,
}

pub struct PcObject {
    views: Mutex<Views>,
    queue: Arc<LoopQueue>,
    endpoint: Arc<Mutex<PcEndpoint>>,
    enable_ipv6: bool,
    stun_server: Option<String>,
    /// Resolves the peer's `.local` candidates; started on the first one.
    mdns: Arc<MdnsLookups>,
    turn: Option<resolve::TurnSetting>,
}

/// Runs `f` on the endpoint of the live PeerConnection `pc`, or returns
/// `dead`.
pub fn with_endpoint<R>(pc: Handle<PcObject>, dead: R, f: impl FnOnce(&mut PcEndpoint) -> R) -> R {
    match handle::get(pc) {
        Some(obj) => f(&mut obj.endpoint.lock()),
        None => dead,
    }
}

impl PcEndpoint {
    /// After an API call changed the PeerConnection: let the I/O thread
    /// send and re-arm its timers.
    pub fn kick(&self) {
        if let Some(id) = self.io_id {
            io::kick(id);
        }
    }

    /// After a send: a message that goes out alone is sent by this thread
    /// now ([`io::send_now`]); anything else is left to the I/O thread.
    pub fn send_or_kick(&mut self) {
        let Some(id) = self.io_id else {
            return;
        };
        // Taken out for the call (which needs the endpoint itself) and put
        // back: no reference count touched per send.
        let direct = self.direct.take();
        let sent = match &direct {
            Some(d) => self.pc.sends_alone() && io::send_now(d, self),
            None => false,
        };
        self.direct = direct;
        if !sent {
            io::kick(id);
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn post_state(&self, state: PeerState) {
        let (h, cb) = (self.handle, self.cb);
        if let Some(f) = cb.on_state_change {
            self.queue.post(Box::new(move || {
                if handle::is_live(h) {
                    // SAFETY: the user's callback with the user's ctx, on
                    // the loop thread with no lock held.
                    unsafe { f(h.as_ptr(), state.code(), cb.ctx() as *mut c_void) };
                }
            }));
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn post_candidate(&self, line: Option<String>) {
        let (h, cb) = (self.handle, self.cb);
        let Some(f) = cb.on_ice_candidate else { return };
        let text = line.and_then(|l| CString::new(l).ok());
        self.queue.post(Box::new(move || {
            if handle::is_live(h) {
                let p = text.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
                // SAFETY: the user's callback; `p` is NULL or a C string
                // that outlives the call.
                unsafe { f(h.as_ptr(), p, cb.ctx() as *mut c_void) };
            }
        }));
    }

    /// Posts a channel callback that runs only while the channel is live.
    fn post_channel(
        &self,
        id: ChannelId,
        task: impl FnOnce(Handle<PcChannel>, ChannelCallbacks) + Send + 'static,
    ) {
        let Some(entry) = self.channels.get(&id).copied() else {
            return;
        };
        self.queue.post(Box::new(move || {
            if handle::is_live(entry.handle) {
                task(entry.handle, entry.cb);
            }
        }));
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn remote_channel(&mut self, id: ChannelId) {
        let label = self.pc.channels().label(id).unwrap_or("").to_owned();
        let handle = PcChannel::register(self.handle, id, &label);
        let cb = self.cb.channels.for_channel(None);
        self.channels.insert(id, ChannelEntry { handle, cb });
        let (h, pcb) = (self.handle, self.cb);
        if let Some(f) = pcb.on_datachannel {
            self.queue.post(Box::new(move || {
                if handle::is_live(h) && handle::is_live(handle) {
                    // SAFETY: the user's callback with the user's ctx, on
                    // the loop thread with no lock held.
                    unsafe { f(h.as_ptr(), handle.as_ptr(), pcb.ctx() as *mut c_void) };
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
fn deliver_one(pc: Handle<PcObject>, id: ChannelId) -> bool {
    let next = with_endpoint(pc, None, |ep| {
        if ep.destroyed {
            return None;
        }
        ep.next_message(id)
    });
    let Some((entry, kind, data)) = next else {
        return false;
    };
    if handle::is_live(entry.handle) {
        entry.cb.message(entry.handle, kind, &data);
    }
    true
}

/// The delivery task of channel `id` of the PeerConnection `pc`: pulls
/// its received messages one at a time into `on_message`, at most
/// [`DELIVER_PER_TASK`] before it queues itself again behind the loop's
/// other work.
fn deliver_messages(pc: Handle<PcObject>, id: ChannelId) {
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
    #[cfg_attr(xp2p_device, optimize(size))]
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
                        if handle::is_live(h) {
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
    #[cfg_attr(xp2p_device, optimize(size))]
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
            ep.direct = io::direct(id);
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

    #[cfg_attr(xp2p_device, optimize(size))]
    fn description(&self, offer: bool) -> Option<String> {
        self.ensure_gathering().ok()?;
        let mut ep = self.endpoint.lock();
        let now = clock::now();
        let sdp = if offer {
            ep.pc.create_offer(now)
        } else {
            ep.pc.create_answer(now)
        };
        ep.kick();
        sdp.ok()
    }
}

/// Creates a PeerConnection whose callbacks are posted to `queue`
/// (attached for it; detached again when this fails); `None` if it cannot
/// be set up.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn create(queue: Arc<LoopQueue>, s: PcSettings<'_>) -> Option<Handle<PcObject>> {
    let cfg = PeerConfig {
        sctp_port: s.sctp_port,
        ..PeerConfig::default()
    };
    let Ok(pc) = PeerConnection::new(cfg, clock::now()) else {
        queue.detach();
        return None;
    };
    let mdns = Arc::new(MdnsLookups::new());
    let endpoint = Arc::new(Mutex::new(PcEndpoint {
        pc,
        handle: Handle::null(),
        queue: queue.clone(),
        cb: s.callbacks,
        channels: IdMap::default(),
        io_id: None,
        direct: None,
        destroyed: false,
        mdns: mdns.clone(),
        delivering: IdSet::default(),
    }));
    let h = handle::insert(Arc::new(PcObject {
        views: Mutex::new(Views::default()),
        queue,
        endpoint: endpoint.clone(),
        enable_ipv6: s.enable_ipv6,
        stun_server: s.stun_server,
        mdns,
        turn: resolve::TurnSetting::from_conf(s.turn_server, s.turn_username, s.turn_password),
    }));
    endpoint.lock().handle = h;
    Some(h)
}

/// Destroys a PeerConnection: channels, SCTP, DTLS and ICE close, sockets
/// and timers stop, every channel and view handle becomes stale.
/// `on_state_change(Closed)` runs inside this call unless the connection
/// was already Closed. Dead handles are ignored.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn destroy(h: Handle<PcObject>) {
    let Some(obj) = handle::remove(h) else {
        return;
    };
    let mut ep = obj.endpoint.lock();
    let report_closed = ep.pc.state() != PeerState::Closed;
    let cb = ep.cb;
    ep.destroyed = true;
    for entry in ep.channels.values() {
        handle::remove(entry.handle);
    }
    ep.pc.close();
    let io_id = ep.io_id.take();
    ep.direct = None;
    drop(ep);
    let views = std::mem::take(&mut *obj.views.lock());
    views.ice.map(handle::remove);
    views.dtls.map(handle::remove);
    views.sctp.map(handle::remove);
    views.channels.map(handle::remove);
    obj.mdns.stop();
    if let Some(id) = io_id {
        io::unregister(id);
    }
    obj.queue.detach();
    if let (true, Some(f)) = (report_closed, cb.on_state_change) {
        // SAFETY: the user's callback with the user's own ctx; no lock held.
        unsafe {
            f(
                h.as_ptr(),
                PeerState::Closed.code(),
                cb.ctx() as *mut c_void,
            )
        };
    }
}

/// Starts gathering if needed and returns the offer (`offer`) or the
/// answer; `None` for a dead handle or on failure.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn description(h: Handle<PcObject>, offer: bool) -> Option<String> {
    handle::get(h)?.description(offer)
}

/// Applies `text` with `apply` (after starting gathering when `gather`),
/// lets the I/O thread act on the change and starts the mDNS lookups it
/// asks for. `None` for a dead handle, `Some(Err(errno))` when gathering
/// fails.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn apply_text(
    h: Handle<PcObject>,
    text: &str,
    gather: bool,
    apply: impl FnOnce(&mut PeerConnection, Instant, &str) -> Result<(), PeerError>,
) -> Option<Result<Result<(), PeerError>, xErrno>> {
    let obj = handle::get(h)?;
    if gather {
        if let Err(e) = obj.ensure_gathering() {
            return Some(Err(e));
        }
    }
    let mut ep = obj.endpoint.lock();
    let r = apply(&mut ep.pc, clock::now(), text);
    ep.kick();
    let names: Vec<String> = std::iter::from_fn(|| ep.pc.poll_mdns_lookup()).collect();
    drop(ep);
    obj.mdns.start(names);
    Some(Ok(r))
}

/// Creates a channel on the PeerConnection `h` with its own callbacks.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn create_channel(
    h: Handle<PcObject>,
    cfg: ChannelConfig,
    own: &OwnCallbacks,
) -> Option<Handle<PcChannel>> {
    let label = cfg.label.clone();
    with_endpoint(h, None, |ep| {
        let id = ep.pc.create_data_channel(cfg).ok()?;
        let handle = PcChannel::register(h, id, &label);
        let cb = ep.cb.channels.for_channel(Some(own));
        ep.channels.insert(id, ChannelEntry { handle, cb });
        ep.kick();
        Some(handle)
    })
}

/// Sends one message on a channel of a PeerConnection; `None` for a dead
/// PeerConnection.
pub fn send(ch: &PcChannel, kind: MessageKind, payload: &[u8]) -> Option<Result<(), PeerError>> {
    with_endpoint(ch.owner, None, |ep| {
        let r = ep.pc.send(ch.id, kind, payload);
        if r.is_ok() {
            ep.send_or_kick();
        }
        Some(r)
    })
}

/// Closes a channel of a PeerConnection.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn close_channel(ch: &PcChannel) {
    with_endpoint(ch.owner, (), |ep| {
        ep.pc.close_channel(ch.id);
        ep.kick();
    })
}

/// The view handle of one part, made on first request; `None` for a dead
/// PeerConnection or when `exists` says the part is not there yet.
fn view<V: Send + Sync + 'static>(
    h: Handle<PcObject>,
    pick: impl FnOnce(&mut Views) -> &mut Option<Handle<V>>,
    exists: impl FnOnce(&PcEndpoint) -> bool,
    make: impl FnOnce(&PcObject) -> V,
) -> Option<Handle<V>> {
    let obj = handle::get(h)?;
    if !exists(&obj.endpoint.lock()) {
        return None;
    }
    let mut views = obj.views.lock();
    let slot = pick(&mut views);
    if slot.is_none() {
        *slot = Some(handle::insert(Arc::new(make(&obj))));
    }
    *slot
}

/// The view of the PeerConnection's ICE agent; `abi_cache` is made once.
pub fn ice_view(
    h: Handle<PcObject>,
    abi_cache: impl FnOnce() -> AbiCache,
) -> Option<Handle<IceView>> {
    view(
        h,
        |v| &mut v.ice,
        |_| true,
        |obj| {
            let (ufrag, pwd) = {
                let ep = obj.endpoint.lock();
                let (u, p) = ep.pc.ice().local_credentials();
                (u.to_owned(), p.to_owned())
            };
            IceView {
                pc: h,
                lp: obj.queue.event_loop() as usize,
                ufrag: CString::new(ufrag).unwrap_or_default(),
                pwd: CString::new(pwd).unwrap_or_default(),
                abi_cache: abi_cache(),
            }
        },
    )
}

/// The view of the PeerConnection's DTLS session.
pub fn dtls_view(h: Handle<PcObject>) -> Option<Handle<DtlsView>> {
    view(h, |v| &mut v.dtls, |_| true, |_| DtlsView { pc: h })
}

/// The view of the PeerConnection's association, once it exists.
pub fn sctp_view(h: Handle<PcObject>) -> Option<Handle<SctpView>> {
    view(
        h,
        |v| &mut v.sctp,
        |ep| ep.pc.sctp().is_some(),
        |_| SctpView { pc: h },
    )
}

/// The view of the PeerConnection's channels.
pub fn channels_view(h: Handle<PcObject>) -> Option<Handle<ChannelsView>> {
    view(h, |v| &mut v.channels, |_| true, |_| ChannelsView { pc: h })
}
