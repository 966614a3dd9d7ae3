//! `ice_agent.h`: the ICE agent for C callers. The handle names an
//! [`IceAgent`] driven by the library's I/O thread; callbacks run on the
//! caller's `xEventLoop`: posted there by the I/O thread, or, where upstream
//! reported them inside the API call (`Gathering` and the host candidates in
//! `xIceAgentGather`, `Checking`/`Failed` in `SetRemoteDescription` and
//! `AddRemoteCandidate`, `Closed` in `Destroy`), run inside that call once
//! every internal lock is released.

use super::boundary::{bytes, cstr_bytes, ffi_boundary, malloc_string, opt_ref, std_to_storage};
use super::ice_candidate::xIceCandidate;
use crate::driver::io::{self, Endpoint, EndpointId, SharedEndpoint, Transmit};
use crate::driver::loop_queue::LoopQueue;
use crate::driver::mdns::MdnsLookups;
use crate::driver::registry::Registry;
use crate::driver::{clock, netif, resolve};
use crate::ice::agent::{AgentConfig, IceAgent, IceEvent, IceState, Received, Role};
use crate::ice::{Candidate, CandidateKind, IceError};
use crate::mdns::PendingCandidates;
use crate::sdp::{encode_ice, IceParams, SessionDescription};
use libc::{c_char, c_int, c_void, sockaddr};
use parking_lot::Mutex;
use std::ffi::CString;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use xbase::types::*;

/// Opaque handle of an ICE agent.
pub type xIceAgent = *mut c_void;

/// `xIceState` (`XDEF_ENUM`).
pub type xIceState = c_int;
pub const xIceState_New: xIceState = 0;
pub const xIceState_Gathering: xIceState = 1;
pub const xIceState_Checking: xIceState = 2;
pub const xIceState_Connected: xIceState = 3;
pub const xIceState_Completed: xIceState = 4;
pub const xIceState_Failed: xIceState = 5;
pub const xIceState_Closed: xIceState = 6;

/// `xIceRole` (`XDEF_ENUM`).
pub type xIceRole = c_int;
pub const xIceRole_Controlling: xIceRole = 0;
pub const xIceRole_Controlled: xIceRole = 1;

pub type xIceOnStateChange =
    Option<unsafe extern "C" fn(agent: xIceAgent, state: xIceState, arg: *mut c_void)>;
pub type xIceOnCandidate =
    Option<unsafe extern "C" fn(agent: xIceAgent, candidate_sdp: *const c_char, arg: *mut c_void)>;
pub type xIceOnData =
    Option<unsafe extern "C" fn(agent: xIceAgent, data: *const u8, len: usize, arg: *mut c_void)>;
pub type xIceDtlsInputFn = Option<
    unsafe extern "C" fn(data: *const u8, len: usize, from: *const sockaddr, arg: *mut c_void),
>;

/// Configuration of [`xIceAgentCreate`] (72 bytes). Copied at create time;
/// the strings are duplicated.
#[repr(C)]
pub struct xIceConf {
    pub role: xIceRole,
    pub enable_ipv6: bool,
    pub stun_server: *const c_char,
    pub turn_server: *const c_char,
    pub turn_username: *const c_char,
    pub turn_password: *const c_char,
    pub on_state_change: xIceOnStateChange,
    pub on_candidate: xIceOnCandidate,
    pub on_data: xIceOnData,
    pub ctx: *mut c_void,
}

/// Most local candidates the C view reports (`XICE_MAX_CANDIDATES`).
const MAX_C_CANDIDATES: usize = 32;
/// Largest description `xIceAgentCreateOffer`/`Answer` return (`XSDP_MAX_SIZE`).
const MAX_SDP: usize = 4096;

/// The C callbacks of one agent, as plain values the I/O thread can carry.
#[derive(Clone, Copy)]
struct Callbacks {
    on_state_change: xIceOnStateChange,
    on_candidate: xIceOnCandidate,
    on_data: xIceOnData,
    ctx: usize,
}

/// The DTLS input hook of `xIceAgentSetDtlsInputCallback`.
#[derive(Clone, Copy)]
struct DtlsHook {
    func: xIceDtlsInputFn,
    arg: usize,
}

/// What the I/O thread drives: the agent plus the glue that posts its
/// events to the caller's loop.
struct AgentEndpoint {
    agent: IceAgent,
    handle: usize,
    queue: Arc<LoopQueue>,
    callbacks: Callbacks,
    dtls: Option<DtlsHook>,
    /// Remote `.local` candidates wait here for their name to resolve
    /// (and end-of-candidates while any waits); `mdns` looks them up.
    pending: PendingCandidates,
    mdns: Arc<MdnsLookups>,
    mdns_owner: Option<EndpointId>,
}

/// The object behind an `xIceAgent` handle.
struct AgentObject {
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
    /// Storage behind `xIceAgentGetLocalCandidates`; capacity fixed at
    /// creation so the returned pointer stays valid while the agent lives.
    local_c: Mutex<CandidateView>,
}

/// The C views of the local candidates. Their `sock` field is always NULL
/// (sockets belong to the I/O thread), so the views move between threads.
struct CandidateView(Vec<xIceCandidate>);
// SAFETY: the only raw pointer in xIceCandidate, `sock`, is never set here.
unsafe impl Send for CandidateView {}

static AGENTS: Registry<AgentObject> = Registry::new();

/// The view of a PeerConnection's agent (`xPeerConnectionGetIceAgent`):
/// getters read the PeerConnection's agent; calls that would take it over
/// get InvalidState or do nothing.
pub(crate) struct IceView {
    pc: usize,
    lp: usize,
    ufrag: CString,
    pwd: CString,
    local_c: Mutex<CandidateView>,
}

static VIEWS: Registry<IceView> = Registry::new();

/// Registers the view of the agent of the PeerConnection `pc`.
pub(crate) fn register_pc_view(pc: usize, lp: xEventLoop, ufrag: &str, pwd: &str) -> usize {
    VIEWS.insert(Arc::new(IceView {
        pc,
        lp: lp as usize,
        ufrag: CString::new(ufrag).unwrap_or_default(),
        pwd: CString::new(pwd).unwrap_or_default(),
        local_c: Mutex::new(CandidateView(Vec::with_capacity(MAX_C_CANDIDATES))),
    })) as usize
}

/// Makes a view handle stale.
pub(crate) fn unregister_view(handle: usize) {
    VIEWS.remove(handle as *const c_void);
}

fn view(agent: xIceAgent) -> Option<Arc<IceView>> {
    VIEWS.get(agent)
}

/// Fills the C views of the local candidates (at most 32).
fn fill_candidates<'a>(list: &mut Vec<xIceCandidate>, cands: impl Iterator<Item = &'a Candidate>) {
    list.clear();
    for c in cands.take(MAX_C_CANDIDATES) {
        if let Some(mut cc) = xIceCandidate::from_candidate(c) {
            cc.base_addr = match c.kind {
                CandidateKind::Host => cc.addr,
                _ => cc.rel_addr,
            };
            list.push(cc);
        }
    }
}

/// The ICE-only description of an agent (`None` beyond 4096 bytes).
fn ice_description(agent: &IceAgent) -> Option<String> {
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

/// The description of a view's agent, `malloc`ed.
fn view_description(v: &IceView) -> *mut c_char {
    let text = super::peer_connection::with_endpoint(v.pc, None, |ep| ice_description(ep.pc.ice()));
    text.map_or(std::ptr::null_mut(), |t| malloc_string(&t))
}

fn is_live(handle: usize) -> bool {
    AGENTS.get(handle as *const c_void).is_some()
}

impl AgentEndpoint {
    /// A remote candidate: to the agent, or held while its name resolves.
    fn remote_candidate(&mut self, now: Instant, c: Candidate) -> Result<(), IceError> {
        if let Some(why) = c.address.unreachable_reason() {
            return Err(IceError::InvalidField(why));
        }
        match self.pending.take(c)? {
            Some(c) => self.agent.add_remote_candidate(now, c),
            None => Ok(()),
        }
    }

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

    fn post_state(&self, state: IceState) {
        let (h, cb) = (self.handle, self.callbacks);
        if let Some(f) = cb.on_state_change {
            self.queue.post(Box::new(move || {
                if is_live(h) {
                    // SAFETY: user callback with the user's own ctx.
                    unsafe { f(h as xIceAgent, state.code(), cb.ctx as *mut c_void) };
                }
            }));
        }
    }

    fn post_candidate(&self, line: Option<String>) {
        let (h, cb) = (self.handle, self.callbacks);
        let Some(f) = cb.on_candidate else { return };
        let text = line.and_then(|l| CString::new(l).ok());
        self.queue.post(Box::new(move || {
            if is_live(h) {
                let p = text.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
                // SAFETY: user callback; `p` is NULL or a live C string.
                unsafe { f(h as xIceAgent, p, cb.ctx as *mut c_void) };
            }
        }));
    }
}

impl Endpoint for AgentEndpoint {
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
                            // SAFETY: user callback; the bytes live for the call.
                            unsafe {
                                f(
                                    h as xIceAgent,
                                    copy.as_ptr(),
                                    copy.len(),
                                    cb.ctx as *mut c_void,
                                )
                            };
                        }
                    }));
                }
            }
            Received::Dtls => {
                if let Some(hook) = self.dtls {
                    if let Some(f) = hook.func {
                        let copy = data.to_vec();
                        let addr = std_to_storage(&from);
                        self.queue.post(Box::new(move || {
                            if is_live(h) {
                                // SAFETY: user callback; data and address live for the call.
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
    fn take_events(&mut self) -> (Callbacks, Vec<Deliver>) {
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
fn deliver_now(handle: usize, cb: Callbacks, events: Vec<Deliver>) {
    for ev in events {
        if !is_live(handle) {
            return;
        }
        let ctx = cb.ctx as *mut c_void;
        match ev {
            Deliver::State(s) => {
                if let Some(f) = cb.on_state_change {
                    // SAFETY: user callback with the user's own ctx.
                    unsafe { f(handle as xIceAgent, s.code(), ctx) };
                }
            }
            Deliver::Candidate(line) => {
                if let Some(f) = cb.on_candidate {
                    let p = line.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
                    // SAFETY: user callback; `p` is NULL or a live C string.
                    unsafe { f(handle as xIceAgent, p, ctx) };
                }
            }
        }
    }
}

/// Duplicates an optional C string.
///
/// # Safety
/// A non-NULL `p` must be a NUL-terminated string.
unsafe fn dup_str(p: *const c_char) -> Option<String> {
    cstr_bytes(p)
        .and_then(|b| std::str::from_utf8(b).ok())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Borrows an optional C string.
///
/// # Safety
/// A non-NULL `p` must be a NUL-terminated string that outlives the use.
unsafe fn text<'a>(p: *const c_char) -> Option<&'a str> {
    cstr_bytes(p).and_then(|b| std::str::from_utf8(b).ok())
}

/// The errno of an ICE error.
fn errno(e: IceError) -> xErrno {
    match e {
        IceError::InvalidState => xErrno_InvalidState,
        IceError::WouldBlock => xErrno_Again,
        IceError::Limit(_) => xErrno_NoMemory,
        _ => xErrno_InvalidArg,
    }
}

/// Runs `f` on the protocol agent behind `agent`: an agent of
/// `xIceAgentCreate` or the view of a PeerConnection's agent; `dead` for
/// NULL, stale or foreign handles.
pub(crate) fn with_ice<R>(agent: xIceAgent, dead: R, f: impl FnOnce(&IceAgent) -> R) -> R {
    if let Some(obj) = AGENTS.get(agent) {
        return f(&obj.endpoint.lock().agent);
    }
    match view(agent) {
        Some(v) => super::peer_connection::with_endpoint(v.pc, dead, |ep| f(ep.pc.ice())),
        None => dead,
    }
}

/// Runs `f` on a live agent, or returns `dead`.
fn with_agent<R>(agent: xIceAgent, dead: R, f: impl FnOnce(&AgentObject) -> R) -> R {
    match AGENTS.get(agent) {
        Some(obj) => f(&obj),
        None => dead,
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

    fn description(&self) -> *mut c_char {
        let text = ice_description(&self.endpoint.lock().agent);
        text.map_or(std::ptr::null_mut(), |t| malloc_string(&t))
    }
}

/// Creates an agent bound to `loop`. NULL if `loop` or `conf` is NULL or
/// the agent cannot be set up. No sockets exist until `xIceAgentGather`.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentCreate(lp: xEventLoop, conf: *const xIceConf) -> xIceAgent {
    ffi_boundary!(std::ptr::null_mut(), {
        let Some(conf) = opt_ref(conf) else {
            return std::ptr::null_mut();
        };
        if lp.is_null() {
            return std::ptr::null_mut();
        }
        let role = if conf.role == xIceRole_Controlling {
            Role::Controlling
        } else {
            Role::Controlled
        };
        let Ok(agent) = IceAgent::new(
            AgentConfig {
                role,
                ..AgentConfig::default()
            },
            clock::now(),
        ) else {
            return std::ptr::null_mut();
        };
        let Ok(queue) = LoopQueue::attach(lp) else {
            return std::ptr::null_mut();
        };
        let (ufrag, pwd) = agent.local_credentials();
        let (Ok(ufrag), Ok(pwd)) = (CString::new(ufrag), CString::new(pwd)) else {
            queue.detach();
            return std::ptr::null_mut();
        };
        let callbacks = Callbacks {
            on_state_change: conf.on_state_change,
            on_candidate: conf.on_candidate,
            on_data: conf.on_data,
            ctx: conf.ctx as usize,
        };
        let endpoint = Arc::new(Mutex::new(AgentEndpoint {
            agent,
            handle: 0,
            queue: queue.clone(),
            callbacks,
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
            enable_ipv6: conf.enable_ipv6,
            stun_server: dup_str(conf.stun_server),
            turn: resolve::TurnSetting::from_conf(
                text(conf.turn_server),
                text(conf.turn_username),
                text(conf.turn_password),
            ),
            ufrag,
            pwd,
            local_c: Mutex::new(CandidateView(Vec::with_capacity(MAX_C_CANDIDATES))),
        });
        let handle = AGENTS.insert(obj);
        endpoint.lock().handle = handle as usize;
        handle
    })
}

/// Destroys an agent: its sockets close and its timers stop. As upstream,
/// `on_state_change(Closed)` runs inside this call (after the agent left
/// the registry, so calls on the handle from that callback find nothing);
/// no callback of the agent runs after this returns, so its `ctx` may be
/// freed at once. Also safe from inside the agent's own callbacks. NULL,
/// stale and foreign handles are ignored.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentDestroy(agent: xIceAgent) {
    ffi_boundary!((), {
        let Some(obj) = AGENTS.remove(agent) else {
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
            // SAFETY: user callback with the user's own ctx; no lock held.
            unsafe { f(agent, xIceState_Closed, cb.ctx as *mut c_void) };
        }
    })
}

/// Gathers: binds one UDP socket per usable local address, reports each as
/// a host candidate, asks the STUN server(s) for server-reflexive ones and
/// the TURN server (with both credentials) for a relayed one.
/// As upstream, `on_state_change(Gathering)`, each host candidate's
/// `on_candidate` and, without STUN/TURN servers, end-of-candidates
/// (`on_candidate(NULL)`) run inside this call; server-reflexive and relayed
/// candidates follow on the loop. InvalidArg for a bad handle,
/// InvalidState when already gathered, SysError when no socket binds.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentGather(agent: xIceAgent) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        if view(agent).is_some() {
            return xErrno_InvalidState; // the PeerConnection gathers
        }
        with_agent(agent, xErrno_InvalidArg, |obj| {
            if obj.io_id.lock().is_some() {
                return xErrno_InvalidState;
            }
            let sockets = netif::bind_host_sockets(obj.enable_ipv6);
            let now = clock::now();
            let mut ep = obj.endpoint.lock();
            for s in &sockets {
                if let Ok(local) = s.local_addr() {
                    ep.agent.add_host_candidate(local);
                }
            }
            if obj.stun_server.is_some() {
                ep.agent.expect_stun_servers();
            }
            match &obj.turn {
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
            let shared: SharedEndpoint = obj.endpoint.clone();
            let Ok(id) = io::register(shared, sockets) else {
                return xErrno_SysError;
            };
            *obj.io_id.lock() = Some(id);
            {
                let mut ep = obj.endpoint.lock();
                ep.mdns_owner = Some(id);
                ep.mdns.set_owner(id);
            }
            if let Some(list) = obj.stun_server.clone() {
                let endpoint = obj.endpoint.clone();
                resolve::stun_servers_in_background(list, move |servers| {
                    endpoint
                        .lock()
                        .agent
                        .add_stun_servers(clock::now(), &servers);
                    io::kick(id);
                });
            }
            if let Some(turn) = obj.turn.clone() {
                let endpoint = obj.endpoint.clone();
                turn.resolve_in_background(id, move |r| {
                    endpoint.lock().agent.turn_server_resolved(clock::now(), r);
                    io::kick(id);
                });
            }
            deliver_now(agent as usize, cb, events);
            xErrno_Ok
        })
    })
}

/// The ICE-only description with the current local candidates
/// (`malloc`ed, caller `free`s); NULL for a bad handle or beyond 4096 bytes.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentCreateOffer(agent: xIceAgent) -> *mut c_char {
    ffi_boundary!(std::ptr::null_mut(), {
        if let Some(v) = view(agent) {
            return view_description(&v);
        }
        with_agent(agent, std::ptr::null_mut(), AgentObject::description)
    })
}

/// Same as [`xIceAgentCreateOffer`] (ICE-only descriptions are symmetric).
#[no_mangle]
pub unsafe extern "C" fn xIceAgentCreateAnswer(agent: xIceAgent) -> *mut c_char {
    ffi_boundary!(std::ptr::null_mut(), {
        if let Some(v) = view(agent) {
            return view_description(&v);
        }
        with_agent(agent, std::ptr::null_mut(), AgentObject::description)
    })
}

/// Applies the peer's description: credentials, candidates and
/// end-of-candidates. InvalidArg for NULL arguments or undecodable SDP.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentSetRemoteDescription(
    agent: xIceAgent,
    sdp: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(text) = cstr_bytes(sdp).and_then(|b| std::str::from_utf8(b).ok()) else {
            return xErrno_InvalidArg;
        };
        if view(agent).is_some() {
            return xErrno_InvalidState; // the PeerConnection applies descriptions
        }
        with_agent(agent, xErrno_InvalidArg, |obj| {
            let Ok(desc) = SessionDescription::decode(text) else {
                return xErrno_InvalidArg;
            };
            let now = clock::now();
            let mut ep = obj.endpoint.lock();
            ep.agent.set_remote_credentials(&desc.ufrag, &desc.pwd);
            for c in desc.candidates {
                // Rejects are candidates this agent can't use, which is not
                // an error of the description as a whole.
                let _ = ep.remote_candidate(now, c);
            }
            if desc.end_of_candidates {
                ep.remote_end_of_candidates();
            }
            let (mdns, names) = ep.lookups();
            let (cb, events) = ep.take_events();
            drop(ep);
            mdns.start(names);
            obj.kick();
            deliver_now(agent as usize, cb, events);
            xErrno_Ok
        })
    })
}

/// Adds one trickled remote candidate (`a=candidate:…`, `candidate:…` or
/// bare), or `a=end-of-candidates`. InvalidArg for NULL or a bad line.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentAddRemoteCandidate(
    agent: xIceAgent,
    candidate_sdp: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let Some(line) = cstr_bytes(candidate_sdp).and_then(|b| std::str::from_utf8(b).ok()) else {
            return xErrno_InvalidArg;
        };
        if let Some(v) = view(agent) {
            return super::peer_connection::with_endpoint(v.pc, xErrno_InvalidArg, |ep| {
                let r = ep.pc.add_remote_candidate(clock::now(), line);
                ep.kick();
                match r {
                    Ok(()) => xErrno_Ok,
                    Err(crate::peer::PeerError::Ice(IceError::Limit(_))) => xErrno_NoMemory,
                    Err(_) => xErrno_InvalidArg,
                }
            });
        }
        with_agent(agent, xErrno_InvalidArg, |obj| {
            let line = line.trim();
            let now = clock::now();
            let mut ep = obj.endpoint.lock();
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
            let (mdns, names) = ep.lookups();
            let (cb, events) = ep.take_events();
            drop(ep);
            mdns.start(names);
            obj.kick();
            deliver_now(agent as usize, cb, events);
            xErrno_Ok
        })
    })
}

/// Sends one datagram on the selected pair. InvalidArg for NULL arguments,
/// InvalidState when not connected, Again while the send queue is full
/// (4096 datagrams waiting for the I/O thread).
#[no_mangle]
pub unsafe extern "C" fn xIceAgentSend(agent: xIceAgent, data: *const u8, len: usize) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        if data.is_null() {
            return xErrno_InvalidArg;
        }
        let Some(payload) = bytes(data, len) else {
            return xErrno_InvalidArg;
        };
        if view(agent).is_some() {
            return xErrno_InvalidState; // the PeerConnection's data path
        }
        with_agent(agent, xErrno_InvalidArg, |obj| {
            let r = obj.endpoint.lock().agent.send(payload);
            match r {
                Ok(()) => {
                    obj.kick();
                    xErrno_Ok
                }
                Err(e) => errno(e),
            }
        })
    })
}

/// The local ufrag (valid while the agent lives); NULL for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentGetUfrag(agent: xIceAgent) -> *const c_char {
    ffi_boundary!(std::ptr::null(), {
        if let Some(v) = view(agent) {
            // The view lives in the registry until the PeerConnection is
            // destroyed, so the pointer stays valid as long as the handle.
            return v.ufrag.as_ptr();
        }
        with_agent(agent, std::ptr::null(), |obj| obj.ufrag.as_ptr())
    })
}

/// The local password (valid while the agent lives); NULL for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentGetPwd(agent: xIceAgent) -> *const c_char {
    ffi_boundary!(std::ptr::null(), {
        if let Some(v) = view(agent) {
            return v.pwd.as_ptr();
        }
        with_agent(agent, std::ptr::null(), |obj| obj.pwd.as_ptr())
    })
}

/// The loop the agent was created with; NULL for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentGetLoop(agent: xIceAgent) -> xEventLoop {
    ffi_boundary!(std::ptr::null_mut(), {
        if let Some(v) = view(agent) {
            return v.lp as xEventLoop;
        }
        with_agent(agent, std::ptr::null_mut(), |obj| obj.lp as xEventLoop)
    })
}

/// The local candidates (at most 32; valid while the agent lives, refreshed
/// by each call). NULL with `*out_count = 0` for a bad handle; `out_count`
/// may be NULL.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentGetLocalCandidates(
    agent: xIceAgent,
    out_count: *mut c_int,
) -> *const xIceCandidate {
    ffi_boundary!(std::ptr::null(), {
        let (ptr, n) = if let Some(v) = view(agent) {
            super::peer_connection::with_endpoint(v.pc, (std::ptr::null(), 0), |ep| {
                let mut local = v.local_c.lock();
                fill_candidates(&mut local.0, ep.pc.ice().local_candidates());
                (local.0.as_ptr(), local.0.len() as c_int)
            })
        } else {
            with_agent(agent, (std::ptr::null(), 0), |obj| {
                let ep = obj.endpoint.lock();
                let mut local = obj.local_c.lock();
                fill_candidates(&mut local.0, ep.agent.local_candidates());
                (local.0.as_ptr(), local.0.len() as c_int)
            })
        };
        if !out_count.is_null() {
            *out_count = n;
        }
        ptr
    })
}

/// Registers the consumer of DTLS-range datagrams (first byte 20–63) from
/// authenticated remotes; NULL `func` unregisters. Called on the loop.
#[no_mangle]
pub unsafe extern "C" fn xIceAgentSetDtlsInputCallback(
    agent: xIceAgent,
    func: xIceDtlsInputFn,
    arg: *mut c_void,
) {
    ffi_boundary!((), {
        with_agent(agent, (), |obj| {
            obj.endpoint.lock().dtls = func.map(|_| DtlsHook {
                func,
                arg: arg as usize,
            });
        })
    })
}

/// Sets the role (before checks start; a role conflict may still switch it).
#[no_mangle]
pub unsafe extern "C" fn xIceAgentSetRole(agent: xIceAgent, role: xIceRole) {
    ffi_boundary!((), {
        with_agent(agent, (), |obj| {
            let role = if role == xIceRole_Controlling {
                Role::Controlling
            } else {
                Role::Controlled
            };
            obj.endpoint.lock().agent.set_role(role);
            obj.kick();
        })
    })
}
