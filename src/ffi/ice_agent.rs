//! `ice_agent.h`: the ICE agent for C callers. The handle names an
//! [`IceAgent`] driven by the library's I/O thread; callbacks run on the
//! caller's `xEventLoop`: posted there by the I/O thread, or, where upstream
//! reported them inside the API call (`Gathering` and the host candidates in
//! `xIceAgentGather`, `Checking`/`Failed` in `SetRemoteDescription` and
//! `AddRemoteCandidate`, `Closed` in `Destroy`), run inside that call once
//! every internal lock is released.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use super::boundary::{bytes, cstr_bytes, ffi_boundary, malloc_string, opt_ref};
use super::ice_candidate::xIceCandidate;
use crate::driver::clock;
use crate::driver::loop_queue::LoopQueue;
use crate::ice::agent::Role;
use crate::ice::{Candidate, CandidateKind, IceError};
use crate::object::cabi;
use crate::object::ice::{self, AbiCache, AgentSettings, IceCallbacks};
use crate::object::lookup::{self, Agent};
use crate::object::pc::{self, IceView};
use libc::{c_char, c_int, c_void, sockaddr};
use parking_lot::Mutex;
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
// The callback types are the ones the object layer calls.
const _: fn(xIceOnStateChange) -> Option<cabi::StateFn> = |f| f;
const _: fn(xIceOnCandidate) -> Option<cabi::TextFn> = |f| f;
const _: fn(xIceOnData) -> Option<cabi::DataFn> = |f| f;
const _: fn(xIceDtlsInputFn) -> Option<cabi::DtlsInputFn> = |f| f;

/// The C views of the local candidates. Their `sock` field is always NULL
/// (sockets belong to the I/O thread), so the views move between threads.
struct CandidateView(Vec<xIceCandidate>);
// SAFETY: the only raw pointer in xIceCandidate, `sock`, is never set here.
unsafe impl Send for CandidateView {}

/// Storage for the candidate views of one agent or view.
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn candidate_cache() -> AbiCache {
    Mutex::new(Box::new(CandidateView(Vec::with_capacity(
        MAX_C_CANDIDATES,
    ))))
}

/// Refreshes the candidate views in `cache` from `cands`; returns the array
/// and its length (valid while the cache's owner lives).
#[cfg_attr(xp2p_device, optimize(size))]
fn refresh<'a>(
    cache: &AbiCache,
    cands: impl Iterator<Item = &'a Candidate>,
) -> (*const xIceCandidate, c_int) {
    let mut guard = cache.lock();
    match guard.downcast_mut::<CandidateView>() {
        Some(view) => {
            fill_candidates(&mut view.0, cands);
            (view.0.as_ptr(), view.0.len() as c_int)
        }
        None => (std::ptr::null(), 0),
    }
}

/// The PeerConnection view an `xIceAgent` handle names, if it is one.
#[cfg_attr(xp2p_device, optimize(size))]
fn view(agent: xIceAgent) -> Option<std::sync::Arc<IceView>> {
    match lookup::agent(agent) {
        Some(Agent::Pc(v)) => Some(v),
        _ => None,
    }
}

/// The description of a view's agent, `malloc`ed.
#[cfg_attr(xp2p_device, optimize(size))]
fn view_description(v: &IceView) -> *mut c_char {
    let text = pc::with_endpoint(v.pc, None, |ep| ice::ice_description(ep.pc.ice()));
    text.map_or(std::ptr::null_mut(), |t| malloc_string(&t))
}

/// Runs `f` on a standalone agent, or returns `dead`.
#[cfg_attr(xp2p_device, optimize(size))]
fn with_agent<R>(
    agent: xIceAgent,
    dead: R,
    f: impl FnOnce(&ice::AgentObject, crate::object::Handle<ice::AgentObject>) -> R,
) -> R {
    match lookup::agent(agent) {
        Some(Agent::Own(obj, h)) => f(&obj, h),
        _ => dead,
    }
}

/// Runs `f` on the protocol agent behind `agent` (standalone or the view
/// of a PeerConnection's); `dead` for NULL, stale or foreign handles.
pub(crate) use lookup::with_ice;

/// Fills the C views of the local candidates (at most 32).
#[cfg_attr(xp2p_device, optimize(size))]
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

/// Duplicates an optional C string.
///
/// # Safety
/// A non-NULL `p` must be a NUL-terminated string.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn dup_str(p: *const c_char) -> Option<String> {
    // SAFETY: a non-NULL `p` is NUL-terminated (contract above).
    unsafe { cstr_bytes(p) }
        .and_then(|b| std::str::from_utf8(b).ok())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Borrows an optional C string.
///
/// # Safety
/// A non-NULL `p` must be a NUL-terminated string that outlives the use.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn text<'a>(p: *const c_char) -> Option<&'a str> {
    // SAFETY: a non-NULL `p` is NUL-terminated and outlives the use
    // (contract above).
    unsafe { cstr_bytes(p) }.and_then(|b| std::str::from_utf8(b).ok())
}

/// Creates an agent bound to `loop`. NULL if `loop` or `conf` is NULL or
/// the agent cannot be set up. No sockets exist until `xIceAgentGather`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentCreate(lp: xEventLoop, conf: *const xIceConf) -> xIceAgent {
    ffi_boundary!(std::ptr::null_mut(), {
        // SAFETY: a non-NULL `conf` points to a valid conf (caller contract).
        let Some(conf) = (unsafe { opt_ref(conf) }) else {
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
        // SAFETY: the strings of `conf` are NULL or NUL-terminated (caller
        // contract); they are copied before this returns.
        let settings = unsafe {
            AgentSettings {
                role,
                enable_ipv6: conf.enable_ipv6,
                stun_server: dup_str(conf.stun_server),
                turn_server: text(conf.turn_server),
                turn_username: text(conf.turn_username),
                turn_password: text(conf.turn_password),
                callbacks: IceCallbacks {
                    on_state_change: conf.on_state_change,
                    on_candidate: conf.on_candidate,
                    on_data: conf.on_data,
                    ctx: conf.ctx as usize,
                },
            }
        };
        // SAFETY: `lp` is a live loop (caller contract), checked non-NULL.
        let Ok(queue) = (unsafe { LoopQueue::attach(lp) }) else {
            return std::ptr::null_mut();
        };
        match ice::create(queue, settings, candidate_cache()) {
            Some(h) => h.as_ptr(),
            None => std::ptr::null_mut(),
        }
    })
}

/// Destroys an agent: its sockets close and its timers stop. As upstream,
/// `on_state_change(Closed)` runs inside this call (after the agent left
/// the registry, so calls on the handle from that callback find nothing);
/// no callback of the agent runs after this returns, so its `ctx` may be
/// freed at once. Also safe from inside the agent's own callbacks. NULL,
/// stale and foreign handles are ignored.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentDestroy(agent: xIceAgent) {
    ffi_boundary!((), {
        if let Some(Agent::Own(_, h)) = lookup::agent(agent) {
            ice::destroy(h);
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
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentGather(agent: xIceAgent) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        if view(agent).is_some() {
            return xErrno_InvalidState; // the PeerConnection gathers
        }
        with_agent(agent, xErrno_InvalidArg, |obj, h| obj.gather(h))
    })
}

/// The ICE-only description with the current local candidates
/// (`malloc`ed, caller `free`s); NULL for a bad handle or beyond 4096 bytes.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentCreateOffer(agent: xIceAgent) -> *mut c_char {
    ffi_boundary!(std::ptr::null_mut(), {
        if let Some(v) = view(agent) {
            return view_description(&v);
        }
        with_agent(agent, std::ptr::null_mut(), |obj, _| {
            obj.offer()
                .map_or(std::ptr::null_mut(), |t| malloc_string(&t))
        })
    })
}

/// Same as [`xIceAgentCreateOffer`] (ICE-only descriptions are symmetric).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentCreateAnswer(agent: xIceAgent) -> *mut c_char {
    ffi_boundary!(std::ptr::null_mut(), {
        if let Some(v) = view(agent) {
            return view_description(&v);
        }
        with_agent(agent, std::ptr::null_mut(), |obj, _| {
            obj.offer()
                .map_or(std::ptr::null_mut(), |t| malloc_string(&t))
        })
    })
}

/// Applies the peer's description: credentials, candidates and
/// end-of-candidates. InvalidArg for NULL arguments or undecodable SDP.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentSetRemoteDescription(
    agent: xIceAgent,
    sdp: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: a non-NULL `sdp` is NUL-terminated (caller contract).
        let Some(text) = (unsafe { cstr_bytes(sdp) }).and_then(|b| std::str::from_utf8(b).ok())
        else {
            return xErrno_InvalidArg;
        };
        if view(agent).is_some() {
            return xErrno_InvalidState; // the PeerConnection applies descriptions
        }
        with_agent(agent, xErrno_InvalidArg, |obj, h| {
            obj.set_remote_description(h, text)
        })
    })
}

/// Adds one trickled remote candidate (`a=candidate:…`, `candidate:…` or
/// bare), or `a=end-of-candidates`. InvalidArg for NULL or a bad line.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentAddRemoteCandidate(
    agent: xIceAgent,
    candidate_sdp: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: a non-NULL `candidate_sdp` is NUL-terminated (caller
        // contract).
        let Some(line) =
            (unsafe { cstr_bytes(candidate_sdp) }).and_then(|b| std::str::from_utf8(b).ok())
        else {
            return xErrno_InvalidArg;
        };
        if let Some(v) = view(agent) {
            return pc::with_endpoint(v.pc, xErrno_InvalidArg, |ep| {
                let r = ep.pc.add_remote_candidate(clock::now(), line);
                ep.kick();
                match r {
                    Ok(()) => xErrno_Ok,
                    Err(crate::peer::PeerError::Ice(IceError::Limit(_))) => xErrno_NoMemory,
                    Err(_) => xErrno_InvalidArg,
                }
            });
        }
        with_agent(agent, xErrno_InvalidArg, |obj, h| {
            obj.add_remote_candidate(h, line)
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
        // SAFETY: `data` is non-NULL and points to `len` bytes (caller
        // contract).
        let Some(payload) = (unsafe { bytes(data, len) }) else {
            return xErrno_InvalidArg;
        };
        if view(agent).is_some() {
            return xErrno_InvalidState; // the PeerConnection's data path
        }
        with_agent(agent, xErrno_InvalidArg, |obj, _| obj.send(payload))
    })
}

/// The local ufrag (valid while the agent lives); NULL for a bad handle.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentGetUfrag(agent: xIceAgent) -> *const c_char {
    ffi_boundary!(std::ptr::null(), {
        if let Some(v) = view(agent) {
            // The view lives in the registry until the PeerConnection is
            // destroyed, so the pointer stays valid as long as the handle.
            return v.ufrag.as_ptr();
        }
        with_agent(agent, std::ptr::null(), |obj, _| obj.ufrag().as_ptr())
    })
}

/// The local password (valid while the agent lives); NULL for a bad handle.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentGetPwd(agent: xIceAgent) -> *const c_char {
    ffi_boundary!(std::ptr::null(), {
        if let Some(v) = view(agent) {
            return v.pwd.as_ptr();
        }
        with_agent(agent, std::ptr::null(), |obj, _| obj.pwd().as_ptr())
    })
}

/// The loop the agent was created with; NULL for a bad handle.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentGetLoop(agent: xIceAgent) -> xEventLoop {
    ffi_boundary!(std::ptr::null_mut(), {
        if let Some(v) = view(agent) {
            return v.event_loop();
        }
        with_agent(agent, std::ptr::null_mut(), |obj, _| obj.event_loop())
    })
}

/// The local candidates (at most 32; valid while the agent lives, refreshed
/// by each call). NULL with `*out_count = 0` for a bad handle; `out_count`
/// may be NULL.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentGetLocalCandidates(
    agent: xIceAgent,
    out_count: *mut c_int,
) -> *const xIceCandidate {
    ffi_boundary!(std::ptr::null(), {
        let (ptr, n) = if let Some(v) = view(agent) {
            pc::with_endpoint(v.pc, (std::ptr::null(), 0), |ep| {
                refresh(&v.abi_cache, ep.pc.ice().local_candidates())
            })
        } else {
            with_agent(agent, (std::ptr::null(), 0), |obj, h| {
                ice::with_agent(h, (std::ptr::null(), 0), |a| {
                    refresh(&obj.abi_cache, a.local_candidates())
                })
            })
        };
        if !out_count.is_null() {
            // SAFETY: a non-NULL `out_count` points to a writable int
            // (caller contract).
            unsafe { *out_count = n };
        }
        ptr
    })
}

/// Registers the consumer of DTLS-range datagrams (first byte 20–63) from
/// authenticated remotes; NULL `func` unregisters. Called on the loop.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentSetDtlsInputCallback(
    agent: xIceAgent,
    func: xIceDtlsInputFn,
    arg: *mut c_void,
) {
    ffi_boundary!((), {
        with_agent(agent, (), |obj, _| obj.set_dtls_hook(func, arg))
    })
}

/// Sets the role (before checks start; a role conflict may still switch it).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentSetRole(agent: xIceAgent, role: xIceRole) {
    ffi_boundary!((), {
        let role = if role == xIceRole_Controlling {
            Role::Controlling
        } else {
            Role::Controlled
        };
        with_agent(agent, (), |obj, _| obj.set_role(role))
    })
}
