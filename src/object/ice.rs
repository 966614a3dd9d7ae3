//! The objects behind an `xIceAgent` handle: an [`IceAgent`] driven by
//! the library's I/O thread, with the glue that posts its events to the
//! caller's `xEventLoop`, or, where upstream reported them inside the API
//! call (`Gathering` and the host candidates in `xIceAgentGather`,
//! `Checking`/`Failed` in `SetRemoteDescription` and `AddRemoteCandidate`,
//! `Closed` in `Destroy`), runs them inside that call once every internal
//! lock is released.

use super::cabi::{std_to_storage, DataFn, DtlsInputFn, StateFn, TextFn};
use super::handle::{self, Handle};
use crate::driver::io::{self, Endpoint, EndpointId, SharedEndpoint, Transmit};
use crate::driver::loop_queue::LoopQueue;
use crate::driver::mdns::MdnsLookups;
use crate::driver::{clock, netif, resolve};
use crate::ice::agent::{AgentConfig, IceAgent, IceEvent, IceState, Received, Role};
use crate::ice::{Candidate, IceError};
use crate::mdns::PendingCandidates;
use crate::sdp::{encode_ice, IceParams, SessionDescription};
use libc::c_void;
use parking_lot::Mutex;
use std::any::Any;
use std::ffi::CString;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use xbase::types::*;

/// Largest description `xIceAgentCreateOffer`/`Answer` return (`XSDP_MAX_SIZE`).
const MAX_SDP: usize = 4096;

/// The C callbacks of one agent, as plain values the I/O thread can carry.
#[derive(Clone, Copy)]
pub struct IceCallbacks {
    pub on_state_change: Option<StateFn>,
    pub on_candidate: Option<TextFn>,
    pub on_data: Option<DataFn>,
    pub ctx: usize,
}

/// The DTLS input hook of `xIceAgentSetDtlsInputCallback`.
#[derive(Clone, Copy)]
struct DtlsHook {
    func: DtlsInputFn,
    arg: usize,
}

/// What the I/O thread drives: the agent plus the glue that posts its
/// events to the caller's loop.
struct AgentEndpoint {
    agent: IceAgent,
    handle: Handle<AgentObject>,
    queue: Arc<LoopQueue>,
    callbacks: IceCallbacks,
    dtls: Option<DtlsHook>,
    /// Remote `.local` candidates wait here for their name to resolve
    /// (and end-of-candidates while any waits); `mdns` looks them up.
    pending: PendingCandidates,
    mdns: Arc<MdnsLookups>,
    mdns_owner: Option<EndpointId>,
}

/// Storage the C layer keeps with an object for pointers it returns (its
/// candidate views), valid while the object lives.
pub type AbiCache = Mutex<Box<dyn Any + Send>>;

/// The object behind an `xIceAgent` handle.
pub struct AgentObject {
    lp: usize,
    queue: Arc<LoopQueue>,
    endpoint: Arc<Mutex<AgentEndpoint>>,
    io_id: Mutex<Option<EndpointId>>,
    enable_ipv6: bool,
    stun_server: Option<String>,
    /// `turn_server` with both credentials; `None` without TURN.
    turn: Option<resolve::TurnSetting>,
    ufrag: CString,
    pwd: CString,
    /// Behind `xIceAgentGetLocalCandidates`.
    pub abi_cache: AbiCache,
}

/// The settings of a new agent, from its C conf.
pub struct AgentSettings<'a> {
    pub role: Role,
    pub enable_ipv6: bool,
    pub stun_server: Option<String>,
    pub turn_server: Option<&'a str>,
    pub turn_username: Option<&'a str>,
    pub turn_password: Option<&'a str>,
    pub callbacks: IceCallbacks,
}

/// The ICE-only description of an agent (`None` beyond 4096 bytes).
#[cfg_attr(xp2p_device, optimize(size))]
pub fn ice_description(agent: &IceAgent) -> Option<String> {
    let cands: Vec<Candidate> = agent.local_candidates().cloned().collect();
    let (ufrag, pwd) = agent.local_credentials();
    let text = encode_ice(&IceParams {
        ufrag,
        pwd,
        candidates: &cands,
        trickle: true,
        end_of_candidates: false,
    });
    (text.len() <= MAX_SDP).then_some(text)
}

fn is_live(h: Handle<AgentObject>) -> bool {
    handle::is_live(h)
}

impl AgentEndpoint {
    /// A remote candidate: to the agent, or held while its name resolves.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn remote_candidate(&mut self, now: Instant, c: Candidate) -> Result<(), IceError> {
        if let Some(why) = c.address.unreachable_reason() {
            return Err(IceError::InvalidField(why));
        }
        match self.pending.take(c)? {
            Some(c) => self.agent.add_remote_candidate(now, c),
            None => Ok(()),
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn remote_end_of_candidates(&mut self) {
        if self.pending.end_of_candidates() {
            self.agent.remote_end_of_candidates();
        }
    }

    /// The lookups to start (after the endpoint lock is released).
    fn lookups(&mut self) -> (Arc<MdnsLookups>, Vec<String>) {
        let names = std::iter::from_fn(|| self.pending.poll_lookup()).collect();
        (self.mdns.clone(), names)
    }

    /// Applies the lookup results that arrived; true if any did.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn apply_resolutions(&mut self, now: Instant) -> bool {
        let results = self.mdns.take_results();
        for r in &results {
            let released = self.pending.resolved(&r.name, r.addr);
            for c in released.ready {
                let _ = self.agent.add_remote_candidate(now, c);
            }
            if released.end_of_candidates {
                self.agent.remote_end_of_candidates();
            }
        }
        !results.is_empty()
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn post_state(&self, state: IceState) {
        let (h, cb) = (self.handle, self.callbacks);
        if let Some(f) = cb.on_state_change {
            self.queue.post(Box::new(move || {
                if is_live(h) {
                    // SAFETY: the user's callback with the user's own ctx, no lock held.
                    unsafe { f(h.as_ptr(), state.code(), cb.ctx as *mut c_void) };
                }
            }));
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn post_candidate(&self, line: Option<String>) {
        let (h, cb) = (self.handle, self.callbacks);
        let Some(f) = cb.on_candidate else { return };
        let text = line.and_then(|l| CString::new(l).ok());
        self.queue.post(Box::new(move || {
            if is_live(h) {
                let p = text.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
                // SAFETY: the user's callback; `p` is NULL or a C string
                // that outlives the call.
                unsafe { f(h.as_ptr(), p, cb.ctx as *mut c_void) };
            }
        }));
    }
}

impl Endpoint for AgentEndpoint {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn handle_link_failed(
        &mut self,
        now: Instant,
        link: SocketAddr,
        why: crate::turn::stream::StreamFailure,
    ) {
        self.agent.turn_link_failed(now, link, why);
    }

    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        let h = self.handle;
        // Relayed datagrams: the payload inside, from the peer.
        let input = self.agent.handle_datagram_payload(now, local, from, data);
        let (data, from) = (input.payload, input.from);
        match input.received {
            Received::Data => {
                let cb = self.callbacks;
                if let Some(f) = cb.on_data {
                    let copy = data.to_vec();
                    self.queue.post(Box::new(move || {
                        if is_live(h) {
                            // SAFETY: the user's callback; the bytes outlive the call.
                            unsafe {
                                f(h.as_ptr(), copy.as_ptr(), copy.len(), cb.ctx as *mut c_void)
                            };
                        }
                    }));
                }
            }
            Received::Dtls => {
                if let Some(hook) = self.dtls {
                    let f = hook.func;
                    let copy = data.to_vec();
                    let addr = std_to_storage(&from);
                    self.queue.post(Box::new(move || {
                        if is_live(h) {
                            // SAFETY: the user's hook; data and address
                            // outlive the call.
                            unsafe {
                                f(
                                    copy.as_ptr(),
                                    copy.len(),
                                    (&addr as *const libc::sockaddr_storage).cast(),
                                    hook.arg as *mut c_void,
                                )
                            };
                        }
                    }));
                }
            }
            Received::Consumed | Received::ChannelData | Received::Dropped => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.agent.handle_timeout(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.agent.poll_transmit().map(|t| Transmit {
            local: t.local,
            dest: t.dest,
            data: t.data,
        })
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.agent.poll_timeout()
    }

    fn dispatch_events(&mut self) {
        if self.apply_resolutions(clock::now()) {
            // New pairs want checks: another turn for this endpoint.
            if let Some(id) = self.mdns_owner {
                io::kick(id);
            }
        }
        while let Some(ev) = self.agent.poll_event() {
            match ev {
                IceEvent::StateChanged(s) => self.post_state(s),
                IceEvent::LocalCandidate(c) => self.post_candidate(Some(candidate_line(&c))),
                IceEvent::GatheringComplete => self.post_candidate(None),
                IceEvent::SelectedPair { .. }
                | IceEvent::RoleChanged(_)
                | IceEvent::ConsentStale
                | IceEvent::ConsentRestored
                | IceEvent::RelayFailed { .. } => {}
            }
        }
    }
}

/// The SDP line a candidate is signalled with (`a=candidate:…\r\n`).
#[cfg_attr(xp2p_device, optimize(size))]
fn candidate_line(c: &Candidate) -> String {
    format!("{}\r\n", c.to_sdp_attribute())
}

/// A callback to run inside an API call, after the locks are released.
enum Deliver {
    State(IceState),
    /// A candidate line, or end-of-candidates.
    Candidate(Option<CString>),
}

impl AgentEndpoint {
    /// Takes the events an API call just caused, for [`deliver_now`]; the
    /// I/O thread will not see them again.
    fn take_events(&mut self) -> (IceCallbacks, Vec<Deliver>) {
        let mut out = Vec::new();
        while let Some(ev) = self.agent.poll_event() {
            match ev {
                IceEvent::StateChanged(s) => out.push(Deliver::State(s)),
                IceEvent::LocalCandidate(c) => {
                    out.push(Deliver::Candidate(CString::new(candidate_line(&c)).ok()))
                }
                IceEvent::GatheringComplete => out.push(Deliver::Candidate(None)),
                _ => {}
            }
        }
        (self.callbacks, out)
    }
}

/// Runs the callbacks of `events` in order on the calling (loop) thread,
/// with no lock held; stops as soon as the agent is destroyed (a callback
/// may destroy it).
fn deliver_now(handle: Handle<AgentObject>, cb: IceCallbacks, events: Vec<Deliver>) {
    for ev in events {
        if !is_live(handle) {
            return;
        }
        let ctx = cb.ctx as *mut c_void;
        match ev {
            Deliver::State(s) => {
                if let Some(f) = cb.on_state_change {
                    // SAFETY: the user's callback with the user's own ctx, no lock held.
                    unsafe { f(handle.as_ptr(), s.code(), ctx) };
                }
            }
            Deliver::Candidate(line) => {
                if let Some(f) = cb.on_candidate {
                    let p = line.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
                    // SAFETY: the user's callback; `p` is NULL or a C string
                    // that outlives the call.
                    unsafe { f(handle.as_ptr(), p, ctx) };
                }
            }
        }
    }
}

/// The errno of an ICE error.
#[cfg_attr(xp2p_device, optimize(size))]
fn errno(e: IceError) -> xErrno {
    match e {
        IceError::InvalidState => xErrno_InvalidState,
        IceError::WouldBlock => xErrno_Again,
        IceError::Limit(_) => xErrno_NoMemory,
        _ => xErrno_InvalidArg,
    }
}

impl AgentObject {
    /// After an API call changed the agent: let the I/O thread send and
    /// re-arm its timers (before gathering there is nothing to drive yet).
    fn kick(&self) {
        if let Some(id) = *self.io_id.lock() {
            io::kick(id);
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn description(&self) -> Option<String> {
        ice_description(&self.endpoint.lock().agent)
    }
}

/// Creates an agent whose callbacks are posted to `queue` (attached for
/// it; detached again when this fails); `None` if it cannot be set up.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn create(
    queue: Arc<LoopQueue>,
    s: AgentSettings<'_>,
    abi_cache: AbiCache,
) -> Option<Handle<AgentObject>> {
    let lp = queue.event_loop();
    let Ok(agent) = IceAgent::new(
        AgentConfig {
            role: s.role,
            ..AgentConfig::default()
        },
        clock::now(),
    ) else {
        queue.detach();
        return None;
    };
    let (ufrag, pwd) = agent.local_credentials();
    let (Ok(ufrag), Ok(pwd)) = (CString::new(ufrag), CString::new(pwd)) else {
        queue.detach();
        return None;
    };
    let endpoint = Arc::new(Mutex::new(AgentEndpoint {
        agent,
        handle: Handle::null(),
        queue: queue.clone(),
        callbacks: s.callbacks,
        dtls: None,
        pending: PendingCandidates::new(),
        mdns: Arc::new(MdnsLookups::new()),
        mdns_owner: None,
    }));
    let obj = Arc::new(AgentObject {
        lp: lp as usize,
        queue,
        endpoint: endpoint.clone(),
        io_id: Mutex::new(None),
        enable_ipv6: s.enable_ipv6,
        stun_server: s.stun_server,
        turn: resolve::TurnSetting::from_conf(s.turn_server, s.turn_username, s.turn_password),
        ufrag,
        pwd,
        abi_cache,
    });
    let h = handle::insert(obj);
    endpoint.lock().handle = h;
    Some(h)
}

/// Destroys an agent: its sockets close and its timers stop;
/// `on_state_change(Closed)` runs inside this call (after the agent left
/// the registry). Dead handles are ignored.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn destroy(h: Handle<AgentObject>) {
    let Some(obj) = handle::remove(h) else {
        return;
    };
    // Closing first queues the TURN deallocation, which the I/O thread
    // sends before the sockets close.
    obj.endpoint.lock().agent.close();
    if let Some(id) = obj.io_id.lock().take() {
        io::unregister(id);
    }
    let (mdns, cb) = {
        let ep = obj.endpoint.lock();
        (ep.mdns.clone(), ep.callbacks)
    };
    mdns.stop();
    obj.queue.detach();
    if let Some(f) = cb.on_state_change {
        // SAFETY: the user's callback with the user's own ctx; no lock held.
        unsafe { f(h.as_ptr(), IceState::Closed.code(), cb.ctx as *mut c_void) };
    }
}

/// Runs `f` on a live agent, or returns `dead`.
pub fn with_object<R>(h: Handle<AgentObject>, dead: R, f: impl FnOnce(&AgentObject) -> R) -> R {
    match handle::get(h) {
        Some(obj) => f(&obj),
        None => dead,
    }
}

/// Runs `f` on the protocol agent of a live agent, or returns `dead`.
pub fn with_agent<R>(h: Handle<AgentObject>, dead: R, f: impl FnOnce(&IceAgent) -> R) -> R {
    with_object(h, dead, |obj| f(&obj.endpoint.lock().agent))
}

impl AgentObject {
    /// Gathers; see `xIceAgentGather`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn gather(&self, h: Handle<AgentObject>) -> xErrno {
        if self.io_id.lock().is_some() {
            return xErrno_InvalidState;
        }
        let sockets = netif::bind_host_sockets(self.enable_ipv6);
        let now = clock::now();
        let mut ep = self.endpoint.lock();
        for s in &sockets {
            if let Ok(local) = s.local_addr() {
                ep.agent.add_host_candidate(local);
            }
        }
        if self.stun_server.is_some() {
            ep.agent.expect_stun_servers();
        }
        match &self.turn {
            Some(t) if t.over_stream() => ep.agent.expect_stream_turn_server(),
            Some(_) => ep.agent.expect_turn_servers(1),
            None => {}
        }
        if let Err(e) = ep.agent.gather(now) {
            return errno(e);
        }
        if sockets.is_empty() {
            return xErrno_SysError;
        }
        // Taken before the I/O thread can see the agent, which would
        // otherwise post them to the loop as well.
        let (cb, events) = ep.take_events();
        drop(ep);
        let shared: SharedEndpoint = self.endpoint.clone();
        let Ok(id) = io::register(shared, sockets) else {
            return xErrno_SysError;
        };
        *self.io_id.lock() = Some(id);
        {
            let mut ep = self.endpoint.lock();
            ep.mdns_owner = Some(id);
            ep.mdns.set_owner(id);
        }
        if let Some(list) = self.stun_server.clone() {
            let endpoint = self.endpoint.clone();
            resolve::stun_servers_in_background(list, move |servers| {
                endpoint
                    .lock()
                    .agent
                    .add_stun_servers(clock::now(), &servers);
                io::kick(id);
            });
        }
        if let Some(turn) = self.turn.clone() {
            let endpoint = self.endpoint.clone();
            turn.resolve_in_background(id, move |r| {
                endpoint.lock().agent.turn_server_resolved(clock::now(), r);
                io::kick(id);
            });
        }
        deliver_now(h, cb, events);
        xErrno_Ok
    }

    /// The ICE-only description with the current local candidates.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn offer(&self) -> Option<String> {
        self.description()
    }

    /// Applies the peer's description; see `xIceAgentSetRemoteDescription`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn set_remote_description(&self, h: Handle<AgentObject>, text: &str) -> xErrno {
        let Ok(desc) = SessionDescription::decode(text) else {
            return xErrno_InvalidArg;
        };
        let now = clock::now();
        let mut ep = self.endpoint.lock();
        ep.agent.set_remote_credentials(&desc.ufrag, &desc.pwd);
        for c in desc.candidates {
            // Rejects are candidates this agent can't use, which is not
            // an error of the description as a whole.
            let _ = ep.remote_candidate(now, c);
        }
        if desc.end_of_candidates {
            ep.remote_end_of_candidates();
        }
        self.after_remote(h, ep);
        xErrno_Ok
    }

    /// Adds one trickled remote candidate or end-of-candidates.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn add_remote_candidate(&self, h: Handle<AgentObject>, line: &str) -> xErrno {
        let line = line.trim();
        let now = clock::now();
        let mut ep = self.endpoint.lock();
        if line.trim_start_matches("a=") == "end-of-candidates" {
            ep.remote_end_of_candidates();
        } else {
            let Ok(cand) = Candidate::parse(line) else {
                return xErrno_InvalidArg;
            };
            if let Err(e) = ep.remote_candidate(now, cand) {
                return errno(e);
            }
        }
        self.after_remote(h, ep);
        xErrno_Ok
    }

    /// After remote input: starts the lookups, wakes the I/O thread and
    /// runs the callbacks the input caused, with no lock held.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn after_remote(
        &self,
        h: Handle<AgentObject>,
        mut ep: parking_lot::MutexGuard<'_, AgentEndpoint>,
    ) {
        let (mdns, names) = ep.lookups();
        let (cb, events) = ep.take_events();
        drop(ep);
        mdns.start(names);
        self.kick();
        deliver_now(h, cb, events);
    }

    /// Sends one datagram on the selected pair.
    pub fn send(&self, payload: &[u8]) -> xErrno {
        let r = self.endpoint.lock().agent.send(payload);
        match r {
            Ok(()) => {
                self.kick();
                xErrno_Ok
            }
            Err(e) => errno(e),
        }
    }

    pub fn ufrag(&self) -> &CString {
        &self.ufrag
    }

    pub fn pwd(&self) -> &CString {
        &self.pwd
    }

    pub fn event_loop(&self) -> xEventLoop {
        self.lp as xEventLoop
    }

    /// Sets or clears (`None`) the DTLS input hook.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn set_dtls_hook(&self, func: Option<DtlsInputFn>, arg: *mut c_void) {
        self.endpoint.lock().dtls = func.map(|func| DtlsHook {
            func,
            arg: arg as usize,
        });
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn set_role(&self, role: Role) {
        self.endpoint.lock().agent.set_role(role);
        self.kick();
    }
}
