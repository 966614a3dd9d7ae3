//! `turn_client.h`: the caller-owned `xTurnClient`, a C view of the one
//! sans-IO TURN client (`crate::turn::client::TurnClient`).
//!
//! The Rust client lives in a side table keyed by the address of the
//! caller's `xTurnClient` (so the struct must not be moved between
//! `xTurnClientInit` and `xTurnClientDestroy`). After every call and every
//! timer, the observable fields are rewritten from it: `state`, `realm`,
//! `nonce`, `has_credentials`, `lifetime`, `relayed_addr`, `mapped_addr`,
//! `permissions`/`permission_count`, `channels`/`channel_count`
//! (`bound` = confirmed by the server), `next_channel`, `refresh_timer` and
//! `loop`. The fields are a read-only view: writing them changes nothing.
//! The embedded `txn_mgr` is initialised as `xStunTxnMgrInit(&tc->txn_mgr,
//! loop)` would (no transactions, `loop` set) and stays unused: requests
//! are retransmitted by the Rust client (RFC 5389 schedule: 500 ms doubling,
//! 7 sends, timeout 39.5 s after the first).
//!
//! Timers run on the loop given to `xTurnClientInit` through
//! `xEventLoopTimerAfter`: `refresh_timer` is the allocation refresh, a
//! second (internal) timer covers retransmissions and the permission and
//! channel refreshes. Timers carry an id, not a pointer, so a late timer
//! finds nothing and returns.
//!
//! Callbacks (`on_allocated`, `on_failed`, `on_data`) caused by a message
//! the caller feeds in run inside `xTurnClientOnMessage` /
//! `xTurnClientOnChannelData`, as upstream, once the table lock is
//! released; those caused by timers (a request timing out) run on that loop
//! from a zero-delay timer. Destroying the client inside one is allowed. `send_fn` is the output: it is called inside the
//! API calls (the first Allocate is sent synchronously, `SendData` returns
//! its result) and from the timers.
//!
//! `on_failed` errors: `xErrno_Timeout` when the server does not answer,
//! `xErrno_InvalidArg` when it rejects the credentials (401 to an
//! authenticated request, or a 401 without REALM/NONCE), `xErrno_SysError`
//! for any other error response (and a redirect loop), `xErrno_Unknown` for
//! a malformed success response.

use super::boundary::{
    bytes, c_array_bytes, copy_to_c_array, empty_storage, ffi_boundary, opt_ref, sockaddr_to_std,
    std_to_storage, storage_to_std,
};
use super::stun_msg::xStunMsg;
use super::stun_txn::{xStunTxnMgr, xStunTxnSendFunc, XSTUN_TXN_MAX};
use super::turn_channel::xTurnChannel;
use crate::driver::clock;
use crate::stun::txn::RetransmitConfig;
use crate::stun::{HEADER_LEN, MAGIC_COOKIE};
use crate::turn::client::{TurnClient, TurnConfig, TurnEvent, TurnFailure, TurnState, TurnTimer};
use crate::turn::TurnError;
use crate::vecmap::VecMap;
use libc::{c_char, c_int, c_void, sockaddr, sockaddr_storage};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use xbase::sys::{xEventLoopTimerAfter, xEventLoopTimerCancel};
use xbase::types::{
    xErrno, xErrno_InvalidArg, xErrno_NoMemory, xErrno_NotFound, xErrno_Ok, xErrno_SysError,
    xErrno_Timeout, xErrno_Unknown, xEventLoop, xEventTimer,
};

/// Most permissions one client keeps.
pub const XTURN_MAX_PERMISSIONS: usize = 16;
/// Most channels one client binds.
pub const XTURN_MAX_CHANNELS: usize = 8;

/// `xTurnState` (plain C enum).
pub type xTurnState = c_int;
pub const xTurnState_Idle: xTurnState = 0;
pub const xTurnState_Allocating: xTurnState = 1;
pub const xTurnState_Allocated: xTurnState = 2;
pub const xTurnState_Failed: xTurnState = 3;

/// The allocation succeeded: relayed address, server-reflexive address
/// (NULL when the server sent none) and lifetime in seconds.
pub type xTurnOnAllocated = Option<
    unsafe extern "C" fn(
        relayed_addr: *const sockaddr,
        mapped_addr: *const sockaddr,
        lifetime: u32,
        arg: *mut c_void,
    ),
>;
/// The allocation failed or was lost (state Failed): `xErrno_Timeout`
/// when the server did not answer (39.5 s of retransmissions),
/// `xErrno_InvalidArg` when it rejected the credentials, `xErrno_SysError`
/// for another error response, `xErrno_Unknown` for a malformed success
/// response.
pub type xTurnOnFailed = Option<unsafe extern "C" fn(err: xErrno, arg: *mut c_void)>;
/// A payload relayed from `from` (a Data indication or ChannelData).
pub type xTurnOnData = Option<
    unsafe extern "C" fn(data: *const u8, len: usize, from: *const sockaddr, arg: *mut c_void),
>;

/// Client configuration (432 bytes), copied by `xTurnClientInit`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct xTurnConfig {
    /// The TURN server (IPv4 or IPv6).
    pub server: sockaddr_storage,
    /// Long-term credentials (NUL-terminated); USERNAME carries `username`.
    pub username: [c_char; 128],
    pub password: [c_char; 128],
    /// Sends one datagram to the server.
    pub send_fn: xStunTxnSendFunc,
    pub send_arg: *mut c_void,
    pub on_allocated: xTurnOnAllocated,
    pub on_failed: xTurnOnFailed,
    pub on_data: xTurnOnData,
    pub ctx: *mut c_void,
}

/// A TURN client in caller-owned storage (4600 bytes). The library keeps
/// its client aside, keyed by this struct's address (do not move it while
/// initialised), and rewrites these fields after every call, timer and
/// callback: a read-only view (`bound` in `channels` means confirmed by
/// the server; `refresh_timer` is the armed allocation refresh). `txn_mgr`
/// is initialised but unused: requests retransmit inside the library.
#[repr(C)]
pub struct xTurnClient {
    pub config: xTurnConfig,
    pub state: xTurnState,
    pub txn_mgr: xStunTxnMgr,
    pub r#loop: xEventLoop,
    pub relayed_addr: sockaddr_storage,
    pub mapped_addr: sockaddr_storage,
    pub lifetime: u32,
    pub refresh_timer: xEventTimer,
    pub realm: [c_char; 128],
    pub nonce: [c_char; 256],
    pub has_credentials: bool,
    pub permissions: [sockaddr_storage; XTURN_MAX_PERMISSIONS],
    pub permission_count: c_int,
    pub channels: [xTurnChannel; XTURN_MAX_CHANNELS],
    pub channel_count: c_int,
    pub next_channel: u16,
}

/// Which of a client's loop timers fired (the low bits of the timer arg).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Retransmissions, permission and channel refreshes.
    Main = 0,
    /// The allocation refresh (`refresh_timer`).
    Refresh = 1,
    /// Runs the queued callbacks.
    Dispatch = 2,
}

const SLOTS: [Slot; 3] = [Slot::Main, Slot::Refresh, Slot::Dispatch];

#[derive(Clone, Copy)]
struct Timer {
    handle: xEventTimer,
    at: Option<Instant>,
}

const NO_TIMER: Timer = Timer {
    handle: std::ptr::null_mut(),
    at: None,
};

/// The library side of one `xTurnClient`.
struct Entry {
    id: usize,
    client: TurnClient,
    lp: xEventLoop,
    cfg: xTurnConfig,
    timers: [Timer; 3],
}

// SAFETY: the raw pointers (loop, callbacks' args) are only used on the
// loop thread, as the API contract requires; the table is behind a mutex.
unsafe impl Send for Entry {}

/// Live clients: `xTurnClient` address → entry.
static CLIENTS: Mutex<VecMap<usize, Entry>> = Mutex::new(VecMap::new());
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

#[cfg_attr(xp2p_device, optimize(size))]
fn clients() -> MutexGuard<'static, VecMap<usize, Entry>> {
    CLIENTS.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg_attr(xp2p_device, optimize(size))]
fn key(tc: *const xTurnClient) -> usize {
    tc as usize
}

/// The address and entry of client `id`.
#[cfg_attr(xp2p_device, optimize(size))]
fn find_by_id(map: &mut VecMap<usize, Entry>, id: usize) -> Option<(usize, &mut Entry)> {
    map.iter_mut()
        .find(|(_, e)| e.id == id)
        .map(|(&k, e)| (k, e))
}

/// The `xErrno` reported through `on_failed`.
#[cfg_attr(xp2p_device, optimize(size))]
fn failure_errno(why: TurnFailure) -> xErrno {
    match why {
        TurnFailure::Timeout => xErrno_Timeout,
        TurnFailure::Unauthorized => xErrno_InvalidArg,
        TurnFailure::ServerError(_) | TurnFailure::RedirectLoop => xErrno_SysError,
        TurnFailure::BadResponse => xErrno_Unknown,
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn state_value(s: TurnState) -> xTurnState {
    match s {
        TurnState::Idle => xTurnState_Idle,
        TurnState::Allocating => xTurnState_Allocating,
        TurnState::Allocated => xTurnState_Allocated,
        TurnState::Failed => xTurnState_Failed,
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn opt_storage(a: Option<SocketAddr>) -> sockaddr_storage {
    a.as_ref().map_or_else(empty_storage, std_to_storage)
}

/// Rewrites the observable fields of `tc` from the entry.
///
/// # Safety
/// `tc` must point to the caller's live `xTurnClient`.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn mirror(tc: *mut xTurnClient, e: &Entry) {
    // SAFETY: `tc` is the non-NULL, caller-owned `xTurnClient` registered in the client map (the
    // public functions check it), valid for the call.
    unsafe {
        let t = &mut *tc;
        let c = &e.client;
        t.state = state_value(c.state());
        t.r#loop = e.lp;
        t.txn_mgr.r#loop = e.lp;
        t.txn_mgr.count = 0;
        t.txn_mgr.txns = [std::ptr::null_mut(); XSTUN_TXN_MAX];
        t.relayed_addr = opt_storage(c.relayed_addr());
        t.mapped_addr = opt_storage(c.mapped_addr());
        t.lifetime = c.lifetime();
        t.refresh_timer = e.timers[Slot::Refresh as usize].handle;
        copy_to_c_array(&mut t.realm, c.realm().unwrap_or("").as_bytes());
        copy_to_c_array(&mut t.nonce, c.nonce().unwrap_or("").as_bytes());
        t.has_credentials = c.realm().is_some();
        let mut n = 0;
        for slot in t.permissions.iter_mut() {
            *slot = empty_storage();
        }
        for (slot, ip) in t.permissions.iter_mut().zip(c.permission_ips()) {
            *slot = std_to_storage(&SocketAddr::new(ip, 0));
            n += 1;
        }
        t.permission_count = n;
        let mut n = 0;
        for slot in t.channels.iter_mut() {
            *slot = xTurnChannel {
                number: 0,
                peer: empty_storage(),
                bound: false,
            };
        }
        for (slot, (peer, number, confirmed)) in t.channels.iter_mut().zip(c.channel_bindings()) {
            *slot = xTurnChannel {
                number,
                peer: std_to_storage(&peer),
                bound: confirmed,
            };
            n += 1;
        }
        t.channel_count = n;
        t.next_channel = c.next_channel_number();
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn on_timer(arg: *mut c_void) {
    ffi_boundary!((), {
        // SAFETY: `arg` packs a client id and a timer slot, not a pointer; `timer_fired` finds the
        // client through the registry.
        unsafe {
            let v = arg as usize;
            let slot = SLOTS[(v & 3).min(2)];
            timer_fired(v >> 2, slot)
        }
    })
}

/// Milliseconds from `now` until `at`, rounded up so a timer never fires
/// before its deadline.
#[cfg_attr(xp2p_device, optimize(size))]
fn delay_ms(now: Instant, at: Instant) -> u64 {
    let d = at.saturating_duration_since(now);
    let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// Sets one loop timer to fire at `want` (or not at all).
///
/// # Safety
/// `e.lp` must be the live loop the client was initialised with.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn set_timer(e: &mut Entry, slot: Slot, now: Instant, want: Option<Instant>) {
    // SAFETY: `e.lp` is non-NULL (checked), the caller's `xEventLoop` from `xTurnClientInit`; the
    // cancelled handle was returned by that loop and not yet fired.
    unsafe {
        if e.lp.is_null() {
            return;
        }
        let t = &mut e.timers[slot as usize];
        if t.at == want && (want.is_none() || !t.handle.is_null()) {
            return;
        }
        if !t.handle.is_null() {
            xEventLoopTimerCancel(e.lp, t.handle);
            t.handle = std::ptr::null_mut();
        }
        t.at = want;
        if let Some(at) = want {
            let arg = (e.id << 2) | slot as usize;
            t.handle =
                xEventLoopTimerAfter(e.lp, Some(on_timer), arg as *mut c_void, delay_ms(now, at));
            if t.handle.is_null() {
                t.at = None;
            }
        }
    }
}

/// Datagrams to send to the server after the table lock is released.
struct Outgoing {
    send_fn: xStunTxnSendFunc,
    send_arg: *mut c_void,
    server: sockaddr_storage,
    datagrams: Vec<Vec<u8>>,
}

impl Outgoing {
    /// Sends every datagram; returns the last send's result (`Ok` when
    /// there was nothing to send).
    unsafe fn send(self) -> xErrno {
        // SAFETY: `send_fn`/`send_arg` are the caller's, given in the config, and each datagram is
        // a live `Vec`; `server` is a `sockaddr_storage` read as a `sockaddr`.
        unsafe {
            let mut rc = xErrno_Ok;
            let Some(send) = self.send_fn else {
                return rc;
            };
            let dest = std::ptr::addr_of!(self.server).cast::<sockaddr>();
            for d in &self.datagrams {
                rc = send(d.as_ptr(), d.len(), dest, self.send_arg);
            }
            rc
        }
    }
}

/// After an input: collects the output datagrams, re-arms the timers,
/// schedules the callbacks and mirrors the fields.
///
/// # Safety
/// `tc` must point to the caller's live `xTurnClient` of `e`.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn settle(tc: *mut xTurnClient, e: &mut Entry, now: Instant) -> Outgoing {
    // SAFETY: `tc` is the registered, caller-owned struct `e` belongs to, valid for the call
    // (checked by the public functions or found by id in the registry).
    unsafe {
        let mut datagrams = Vec::new();
        while let Some(d) = e.client.poll_transmit() {
            datagrams.push(d);
        }
        let timers = e.client.timers();
        let refresh = timers
            .iter()
            .find(|(k, _)| *k == TurnTimer::AllocationRefresh)
            .and_then(|(_, t)| *t);
        let main = timers
            .iter()
            .filter(|(k, _)| *k != TurnTimer::AllocationRefresh)
            .filter_map(|(_, t)| *t)
            .min();
        set_timer(e, Slot::Main, now, main);
        set_timer(e, Slot::Refresh, now, refresh);
        if e.client.has_events() && e.timers[Slot::Dispatch as usize].handle.is_null() {
            set_timer(e, Slot::Dispatch, now, Some(now));
        }
        mirror(tc, e);
        Outgoing {
            send_fn: e.cfg.send_fn,
            send_arg: e.cfg.send_arg,
            server: std_to_storage(&e.client.server()),
            datagrams,
        }
    }
}

/// Runs `op` on the client of `tc`, then settles and sends. `None` when
/// `tc` is not an initialised client.
///
/// # Safety
/// A non-NULL `tc` must point to the caller's `xTurnClient`.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn with_client<R>(
    tc: *mut xTurnClient,
    op: impl FnOnce(&mut Entry, Instant) -> R,
) -> Option<(R, xErrno)> {
    // SAFETY: `tc` is non-NULL (checked) and registered in the client map, so it is the caller's
    // live `xTurnClient`.
    unsafe {
        if tc.is_null() {
            return None;
        }
        let now = clock::now();
        let (r, out) = {
            let mut map = clients();
            let e = map.get_mut(&key(tc))?;
            let r = op(e, now);
            (r, settle(tc, e, now))
        };
        let rc = out.send();
        Some((r, rc))
    }
}

/// One loop timer of client `id` fired.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn timer_fired(id: usize, slot: Slot) {
    // SAFETY: the client is found by id in the registry, so its struct address is a live,
    // caller-owned `xTurnClient`; callbacks are the caller's from the config.
    unsafe {
        if slot == Slot::Dispatch {
            dispatch(id);
            return;
        }
        let now = clock::now();
        let out = {
            let mut map = clients();
            let Some((addr, e)) = find_by_id(&mut map, id) else {
                return;
            };
            e.timers[slot as usize] = NO_TIMER;
            e.client.handle_timeout(now);
            settle(addr as *mut xTurnClient, e, now)
        };
        out.send();
    }
}

/// A callback to run once the table lock is released.
enum Call {
    Allocated(xTurnOnAllocated, SocketAddr, Option<SocketAddr>, u32),
    Failed(xTurnOnFailed, xErrno),
    Data(xTurnOnData, SocketAddr, Vec<u8>),
}

/// Runs the queued callbacks of client `id`, one at a time, re-checking
/// that the client still exists before each.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn dispatch(id: usize) {
    // SAFETY: the client is found by id in the registry on every round (it may be destroyed by a
    // callback), so the struct and its callbacks are live when used.
    unsafe {
        let mut first = true;
        loop {
            let (call, ctx) = {
                let mut map = clients();
                let Some((addr, e)) = find_by_id(&mut map, id) else {
                    return;
                };
                if first {
                    e.timers[Slot::Dispatch as usize] = NO_TIMER;
                    first = false;
                }
                let Some(ev) = e.client.poll_event() else {
                    return;
                };
                let call = match ev {
                    TurnEvent::Allocated {
                        relayed,
                        mapped,
                        lifetime,
                    } => Call::Allocated(e.cfg.on_allocated, relayed, mapped, lifetime),
                    TurnEvent::Failed(why) => Call::Failed(e.cfg.on_failed, failure_errno(why)),
                    TurnEvent::Data { .. } => match e.client.recv() {
                        Some((peer, data)) => Call::Data(e.cfg.on_data, peer, data),
                        None => continue,
                    },
                    _ => continue,
                };
                mirror(addr as *mut xTurnClient, e);
                (call, e.cfg.ctx)
            };
            match call {
                Call::Allocated(Some(cb), relayed, mapped, lifetime) => {
                    let r = std_to_storage(&relayed);
                    let m = mapped.as_ref().map(std_to_storage);
                    let mp = m
                        .as_ref()
                        .map_or(std::ptr::null(), |m| (m as *const sockaddr_storage).cast());
                    cb(std::ptr::addr_of!(r).cast(), mp, lifetime, ctx);
                }
                Call::Failed(Some(cb), err) => cb(err, ctx),
                Call::Data(Some(cb), peer, data) => {
                    let p = std_to_storage(&peer);
                    cb(data.as_ptr(), data.len(), std::ptr::addr_of!(p).cast(), ctx);
                }
                _ => {}
            }
        }
    }
}

/// The Rust configuration of a C one; `None` when the server is not an IP
/// address, the credentials are not UTF-8 or `send_fn` is NULL.
#[cfg_attr(xp2p_device, optimize(size))]
fn rust_config(c: &xTurnConfig) -> Option<TurnConfig> {
    let server = storage_to_std(&c.server)?;
    c.send_fn?;
    let user = std::str::from_utf8(c_array_bytes(&c.username)).ok()?;
    let pass = std::str::from_utf8(c_array_bytes(&c.password)).ok()?;
    let mut cfg = TurnConfig::new(server, user, pass);
    cfg.retransmit = RetransmitConfig::RFC5389;
    Some(cfg)
}

/// Zeroes `tc`, copies `config`, sets state Idle and `next_channel` 0x4000
/// and initialises `txn_mgr` (unused). Callbacks
/// and timers will run on `loop`. A config whose server is not an
/// IPv4/IPv6 address, whose credentials are not UTF-8 or whose `send_fn`
/// is NULL leaves a client that `xTurnClientAllocate` refuses
/// (InvalidArg). NULL `tc`: nothing happens. The struct must stay at the
/// same address until `xTurnClientDestroy`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xTurnClientInit(
    tc: *mut xTurnClient,
    r#loop: xEventLoop,
    config: *const xTurnConfig,
) {
    ffi_boundary!((), {
        // SAFETY: `tc` and `config` are NULL or valid, as `turn_client.h` requires of its caller,
        // and NULL is rejected before any access; `loop` is only stored, for the timers.
        unsafe {
            if tc.is_null() {
                return;
            }
            // A struct re-initialised without Destroy: forget the old client
            // (its timers, if any fire, find nothing).
            clients().remove(&key(tc));
            std::ptr::write_bytes(tc, 0, 1);
            let t = &mut *tc;
            t.r#loop = r#loop;
            t.txn_mgr.r#loop = r#loop;
            t.state = xTurnState_Idle;
            t.next_channel = crate::turn::client::FIRST_CHANNEL;
            let Some(cfg) = opt_ref(config) else { return };
            t.config = *cfg;
            let Some(rcfg) = rust_config(cfg) else { return };
            let e = Entry {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                client: TurnClient::new(rcfg),
                lp: r#loop,
                cfg: *cfg,
                timers: [NO_TIMER; 3],
            };
            mirror(tc, &e);
            clients().insert(key(tc), e);
        }
    })
}

/// Releases the allocation (a Refresh with LIFETIME 0 sent once through
/// `send_fn`, best effort), cancels every timer and forgets the client:
/// no callback runs after this returns. State Idle, `refresh_timer` NULL.
/// NULL or never-initialised `tc`: nothing happens.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xTurnClientDestroy(tc: *mut xTurnClient) {
    ffi_boundary!((), {
        // SAFETY: `tc` is NULL or valid for this call, as `turn_client.h` requires of its caller;
        // the boundary helpers turn NULL into an error before any access.
        unsafe {
            if tc.is_null() {
                return;
            }
            let now = clock::now();
            let out = {
                let mut map = clients();
                let Some(mut e) = map.remove(&key(tc)) else {
                    return;
                };
                for slot in SLOTS {
                    let h = e.timers[slot as usize].handle;
                    if !h.is_null() && !e.lp.is_null() {
                        xEventLoopTimerCancel(e.lp, h);
                    }
                    e.timers[slot as usize] = NO_TIMER;
                }
                e.client.close(now);
                let mut datagrams = Vec::new();
                while let Some(d) = e.client.poll_transmit() {
                    datagrams.push(d);
                }
                mirror(tc, &e);
                Outgoing {
                    send_fn: e.cfg.send_fn,
                    send_arg: e.cfg.send_arg,
                    server: std_to_storage(&e.client.server()),
                    // Only the deallocation; nothing else is retried.
                    datagrams: datagrams.into_iter().take(1).collect(),
                }
            };
            let t = &mut *tc;
            t.state = xTurnState_Idle;
            t.refresh_timer = std::ptr::null_mut();
            out.send();
        }
    })
}

/// Starts the allocation: an Allocate request (REQUESTED-TRANSPORT UDP,
/// LIFETIME 600) sent at once through `send_fn`; a 401 is answered with the
/// long-term credentials. Result through `on_allocated` / `on_failed`.
/// InvalidArg for NULL or uninitialised `tc`, an unusable config (see
/// Init), a NULL loop, or a state other than Idle; the send callback's
/// error if the first send fails (the client is then Idle again and may
/// retry).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xTurnClientAllocate(tc: *mut xTurnClient) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `tc` is NULL or valid for this call, as `turn_client.h` requires of its caller;
        // the boundary helpers turn NULL into an error before any access.
        unsafe {
            let r = with_client(tc, |e, now| {
                if e.lp.is_null() {
                    return Err(TurnError::InvalidState);
                }
                e.client.allocate(now)
            });
            match r {
                None | Some((Err(_), _)) => xErrno_InvalidArg,
                Some((Ok(()), rc)) => {
                    if rc != xErrno_Ok {
                        abandon(tc);
                    }
                    rc
                }
            }
        }
    })
}

/// The first Allocate could not be sent: the client drops the attempt
/// and is Idle again (no callback, since the caller got the error).
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn abandon(tc: *mut xTurnClient) {
    // SAFETY: `tc` is NULL or the caller's `xTurnClient`, as `turn_client.h` requires; only
    // registered clients are touched.
    unsafe {
        let mut map = clients();
        if let Some(e) = map.get_mut(&key(tc)) {
            let now = clock::now();
            e.client.close(now);
            while e.client.poll_transmit().is_some() {}
            while e.client.poll_event().is_some() {}
            for slot in SLOTS {
                let h = e.timers[slot as usize].handle;
                if !h.is_null() {
                    xEventLoopTimerCancel(e.lp, h);
                }
                e.timers[slot as usize] = NO_TIMER;
            }
            mirror(tc, e);
        }
    }
}

/// Installs a permission for `peer`'s IP address (CreatePermission with
/// XOR-PEER-ADDRESS and the credentials), refreshed every 240 s.
/// InvalidArg for NULL arguments, a non-IP `peer` or a state other than
/// Allocated; NoMemory for a 17th peer address.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xTurnClientCreatePermission(
    tc: *mut xTurnClient,
    peer: *const sockaddr,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `tc` and `peer` are NULL or valid for this call, as `turn_client.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let Some(peer) = sockaddr_to_std(peer) else {
                return xErrno_InvalidArg;
            };
            match with_client(tc, |e, now| e.client.create_permission(now, peer.ip())) {
                Some((Ok(()), _)) => xErrno_Ok,
                Some((Err(TurnError::LimitReached), _)) => xErrno_NoMemory,
                _ => xErrno_InvalidArg,
            }
        }
    })
}

/// Binds the next channel number (from 0x4000) to `peer` (or returns the
/// one already bound to it) and installs the permission for its IP;
/// refreshed every 540 s. `SendData` uses ChannelData once the server has
/// confirmed the binding (`bound` becomes true), Send indications before.
/// -1 for NULL arguments, a non-IP `peer`, a state other than Allocated,
/// 8 channels already bound, or no permission slot left.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xTurnClientChannelBind(
    tc: *mut xTurnClient,
    peer: *const sockaddr,
) -> c_int {
    ffi_boundary!(-1, {
        // SAFETY: `tc` and `peer` are NULL or valid for this call, as `turn_client.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let Some(peer) = sockaddr_to_std(peer) else {
                return -1;
            };
            match with_client(tc, |e, now| e.client.bind_channel(now, peer)) {
                Some((Ok(n), _)) => c_int::from(n),
                _ => -1,
            }
        }
    })
}

/// Relays `data` to `peer`: ChannelData on a confirmed channel, otherwise
/// a Send indication (XOR-PEER-ADDRESS, DATA), sent through `send_fn`;
/// returns its result. InvalidArg for NULL `tc`/`peer`, NULL `data` with a
/// non-zero length, a payload over 65535 bytes, or a state other than
/// Allocated; NotFound when no permission (nor channel) exists for the
/// peer's IP address (the server would drop the data).
#[no_mangle]
pub unsafe extern "C" fn xTurnClientSendData(
    tc: *mut xTurnClient,
    peer: *const sockaddr,
    data: *const u8,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `tc`, `peer` and `data` are NULL or valid for this call, as `turn_client.h`
        // requires of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let (Some(peer), Some(data)) = (sockaddr_to_std(peer), bytes(data, len)) else {
                return xErrno_InvalidArg;
            };
            match with_client(tc, |e, now| e.client.send_to(now, peer, data)) {
                Some((Ok(()), rc)) => rc,
                Some((Err(TurnError::NoPermission), _)) => xErrno_NotFound,
                _ => xErrno_InvalidArg,
            }
        }
    })
}

/// Takes a STUN message received from `from`: a response to one of the
/// client's requests (integrity-checked with the long-term key) or a Data
/// indication from the server. The message bytes are `raw_buf`/`raw_len`
/// when given, else rebuilt from `msg` (header and attribute bytes).
/// Returns true when the message was the client's (even if then dropped
/// as forged), false for NULL `tc`/`msg`/`from`, a source other than the
/// server, or anything else. The callbacks it causes (`on_allocated`,
/// `on_failed`, `on_data`) run inside this call, as upstream.
#[no_mangle]
pub unsafe extern "C" fn xTurnClientOnMessage(
    tc: *mut xTurnClient,
    msg: *const xStunMsg,
    raw_buf: *const u8,
    raw_len: usize,
    from: *const sockaddr,
) -> bool {
    ffi_boundary!(false, {
        // SAFETY: `tc`, `msg`, `raw_buf` and `from` are NULL or valid for this call, as
        // `turn_client.h` requires of its caller; the boundary helpers turn NULL into an error
        // before any access.
        unsafe {
            let (Some(m), Some(from)) = (opt_ref(msg), sockaddr_to_std(from)) else {
                return false;
            };
            let owned;
            let data: &[u8] = match bytes(raw_buf, raw_len) {
                Some(raw) if raw.len() >= HEADER_LEN => raw,
                _ => {
                    let Some(attrs) = bytes(m.attrs, usize::from(m.attrs_len)) else {
                        return false;
                    };
                    let mut v = Vec::with_capacity(HEADER_LEN + attrs.len());
                    v.extend_from_slice(&(m.r#type as u16).to_be_bytes());
                    v.extend_from_slice(&m.attrs_len.to_be_bytes());
                    v.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
                    v.extend_from_slice(&m.txn_id);
                    v.extend_from_slice(attrs);
                    owned = v;
                    &owned
                }
            };
            let r = with_client(tc, |e, now| e.client.handle_datagram(now, from, data));
            dispatch_inline(tc);
            r.is_some_and(|(r, _)| r)
        }
    })
}

/// Runs the callbacks an input just queued inside the API call, instead of
/// from the zero-delay timer, which is cancelled.
///
/// # Safety
/// A non-NULL `tc` must point to the caller's `xTurnClient`.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn dispatch_inline(tc: *mut xTurnClient) {
    // SAFETY: `tc` is the caller's live `xTurnClient` inside one of its public calls; the registry
    // is consulted before any access.
    unsafe {
        let id = {
            let mut map = clients();
            let Some(e) = map.get_mut(&key(tc)) else {
                return;
            };
            let h = e.timers[Slot::Dispatch as usize].handle;
            if !h.is_null() {
                xEventLoopTimerCancel(e.lp, h);
            }
            e.timers[Slot::Dispatch as usize] = NO_TIMER;
            e.id
        };
        dispatch(id);
    }
}

/// Takes a ChannelData message from the server: its payload goes to
/// `on_data` with the channel's peer, inside this call. False for NULL
/// `tc`/`buf`, an undecodable frame or an unknown channel.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xTurnClientOnChannelData(
    tc: *mut xTurnClient,
    buf: *const u8,
    len: usize,
) -> bool {
    ffi_boundary!(false, {
        // SAFETY: `tc` and `buf` are NULL or valid for this call, as `turn_client.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            if buf.is_null() {
                return false;
            }
            let Some(data) = bytes(buf, len) else {
                return false;
            };
            let r = with_client(tc, |e, now| {
                let server = e.client.server();
                e.client.handle_datagram(now, server, data)
            });
            dispatch_inline(tc);
            r.is_some_and(|(r, _)| r)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layouts_match_the_spec() {
        assert_eq!(size_of::<xTurnConfig>(), 432);
        assert_eq!(offset_of!(xTurnConfig, username), 128);
        assert_eq!(offset_of!(xTurnConfig, password), 256);
        assert_eq!(offset_of!(xTurnConfig, send_fn), 384);
        assert_eq!(offset_of!(xTurnConfig, send_arg), 392);
        assert_eq!(offset_of!(xTurnConfig, on_allocated), 400);
        assert_eq!(offset_of!(xTurnConfig, on_failed), 408);
        assert_eq!(offset_of!(xTurnConfig, on_data), 416);
        assert_eq!(offset_of!(xTurnConfig, ctx), 424);
        assert_eq!(size_of::<xTurnClient>(), 4600);
        assert_eq!(offset_of!(xTurnClient, state), 432);
        assert_eq!(offset_of!(xTurnClient, txn_mgr), 440);
        assert_eq!(offset_of!(xTurnClient, r#loop), 712);
        assert_eq!(offset_of!(xTurnClient, relayed_addr), 720);
        assert_eq!(offset_of!(xTurnClient, mapped_addr), 848);
        assert_eq!(offset_of!(xTurnClient, lifetime), 976);
        assert_eq!(offset_of!(xTurnClient, refresh_timer), 984);
        assert_eq!(offset_of!(xTurnClient, realm), 992);
        assert_eq!(offset_of!(xTurnClient, nonce), 1120);
        assert_eq!(offset_of!(xTurnClient, has_credentials), 1376);
        assert_eq!(offset_of!(xTurnClient, permissions), 1384);
        assert_eq!(offset_of!(xTurnClient, permission_count), 3432);
        assert_eq!(offset_of!(xTurnClient, channels), 3440);
        assert_eq!(offset_of!(xTurnClient, channel_count), 4592);
        assert_eq!(offset_of!(xTurnClient, next_channel), 4596);
    }

    #[test]
    fn delays_round_up() {
        let t = clock::now();
        assert_eq!(delay_ms(t, t), 0);
        assert_eq!(delay_ms(t, t + std::time::Duration::from_micros(1)), 1);
        assert_eq!(
            delay_ms(t, t + std::time::Duration::from_millis(1500)),
            1500
        );
        assert_eq!(delay_ms(t + std::time::Duration::from_secs(2), t), 0);
    }
}
