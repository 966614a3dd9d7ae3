//! The process-wide usrsctp singleton: one lock around every usrsctp call,
//! one-time initialisation in no-threads mode, the timer clock, and the
//! registry that maps each AF_CONN address to its association's shared
//! state.
//!
//! usrsctp calls its callbacks (`conn_output`, the socket upcall, the send
//! space callback) synchronously from inside the usrsctp call that our code
//! made, on the same thread, while [`USRSCTP`] is held. The callbacks look
//! their association up in [`REGISTRY`] by the integer id that is the AF_CONN
//! address; they never hold a pointer to Rust data. An id that is not (or no
//! longer) registered is dropped.
//!
//! Lock order: [`USRSCTP`] first, then [`REGISTRY`]. The registry lock is
//! only ever held briefly and never across a usrsctp call.

use crate::vecmap::VecMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use libc::{c_int, c_void, size_t};
use parking_lot::{const_mutex, Mutex, MutexGuard};
use usrsctp_sys as sys;

use super::checksum;
use xbase::ffi_boundary;

/// At most this many packets wait in one association's outbox; a peer that
/// never polls cannot make usrsctp grow it without bound (SCTP retransmits).
const OUTBOX_LIMIT: usize = 4096;

/// State of the usrsctp library itself, guarded by [`USRSCTP`].
pub(crate) struct Stack {
    initialised: bool,
    /// The instant up to which usrsctp's timers have been advanced.
    timer_clock: Option<Instant>,
}

/// The lock around every usrsctp call: usrsctp is process-global and not
/// thread-safe when driven in no-threads mode.
static USRSCTP: Mutex<Stack> = const_mutex(Stack {
    initialised: false,
    timer_clock: None,
});

/// What the callbacks may touch for one association.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// SCTP packets usrsctp produced for this association.
    pub(crate) outbox: VecDeque<Vec<u8>>,
    /// Packets dropped because the outbox was full.
    pub(crate) outbox_dropped: u64,
    /// The socket upcall fired: something may be readable or writable.
    pub(crate) upcall: bool,
    /// Who drives this association's timers, if not the association
    /// itself (see [`super::SctpAssociation::set_ticked_by`]).
    pub(crate) owner: Option<u64>,
}

static REGISTRY: Mutex<VecMap<usize, Shared>> = const_mutex(VecMap::new());

/// Owners whose associations got packets or events from usrsctp since
/// [`take_woken`] last ran. Lock order: after [`REGISTRY`].
static WOKEN: Mutex<VecMap<u64, ()>> = const_mutex(VecMap::new());

/// Associations whose timers are driven by [`tick`] rather than by their
/// own deadline.
static TICKED: AtomicUsize = AtomicUsize::new(0);

/// Advances usrsctp's timers (global to the process) to `now`: the one
/// periodic call that replaces each owned association's own tick. Does
/// nothing before usrsctp is initialised.
pub fn tick(now: Instant) {
    let mut stack = USRSCTP.lock();
    if stack.initialised {
        stack.advance_timers(now);
    }
}

/// A message was sent or received since [`take_data_activity`] last ran.
static DATA_ACTIVITY: AtomicBool = AtomicBool::new(false);

/// Whether any association sent or received a message since the last
/// call: a driver ticks often while data moves (delayed SACKs,
/// retransmissions) and seldom while every association is idle, when only
/// heartbeats and housekeeping timers are pending. Each [`tick`] walks
/// every pending usrsctp timer of the process.
pub fn take_data_activity() -> bool {
    DATA_ACTIVITY.swap(false, Ordering::Relaxed)
}

/// Whether a message moved since [`take_data_activity`] last ran (the
/// flag stays set).
pub fn data_activity_pending() -> bool {
    DATA_ACTIVITY.load(Ordering::Relaxed)
}

pub(crate) fn note_data_activity() {
    DATA_ACTIVITY.store(true, Ordering::Relaxed);
}

/// Whether any live association is driven by [`tick`].
pub fn has_ticked() -> bool {
    TICKED.load(Ordering::Relaxed) > 0
}

/// The owners (see [`super::SctpAssociation::set_ticked_by`]) whose
/// associations got packets to send or socket events since the last call:
/// they need a `handle_timeout`. Everything else can stay asleep. In
/// ascending order, each once.
pub fn take_woken() -> Vec<u64> {
    std::mem::take(&mut *WOKEN.lock()).into_keys().collect()
}

/// Records that `s` has something for its owner, if it has one.
fn wake(s: &Shared) {
    if let Some(owner) = s.owner {
        WOKEN.lock().insert(owner, ());
    }
}

/// Hands the association's timers to [`tick`] (`Some(owner)`) or back.
pub(crate) fn set_owner(id: usize, owner: Option<u64>) {
    let mut reg = REGISTRY.lock();
    if let Some(s) = reg.get_mut(&id) {
        match (s.owner.is_some(), owner.is_some()) {
            (false, true) => {
                TICKED.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                TICKED.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
        s.owner = owner;
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// A fresh association id, never reused in this process. It is the AF_CONN
/// address usrsctp sees, so it is never 0 (NULL).
pub(crate) fn next_id() -> usize {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The id as the `void *` usrsctp uses for AF_CONN addresses and ulp_info.
pub(crate) fn id_ptr(id: usize) -> *mut c_void {
    id as *mut c_void
}

/// Global sysctl values applied once, at the first initialisation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GlobalSettings {
    pub(crate) send_space: u32,
    pub(crate) recv_space: u32,
    pub(crate) max_streams: u16,
    pub(crate) initial_cwnd: u32,
    /// Chunks an association may hold queued or in flight, and hold
    /// received and unread (`sctp_max_chunks_on_queue`).
    pub(crate) max_chunks_on_queue: u32,
}

/// Takes the usrsctp lock, initialising the library on first use.
pub(crate) fn lock(settings: &GlobalSettings) -> MutexGuard<'static, Stack> {
    let mut stack = USRSCTP.lock();
    if !stack.initialised {
        // SAFETY: called once per process, under the usrsctp lock; the
        // callback is a plain function that lives for the whole process.
        unsafe {
            sys::usrsctp_init_nothreads(0, Some(conn_output), None);
            // The checksum of every packet is ours to compute and verify
            // (see `crate::sctp::checksum`): usrsctp's own CRC32c is a
            // table-driven loop, ours uses the CPU's CRC32 instruction.
            sys::usrsctp_enable_crc32c_offload();
            sys::usrsctp_sysctl_set_sctp_ecn_enable(0);
            sys::usrsctp_sysctl_set_sctp_pr_enable(1);
            sys::usrsctp_sysctl_set_sctp_reconfig_enable(1);
            // AUTH and ASCONF are of no use over DTLS (RFC 8261).
            sys::usrsctp_sysctl_set_sctp_asconf_enable(0);
            sys::usrsctp_sysctl_set_sctp_auth_enable(0);
            sys::usrsctp_sysctl_set_sctp_nr_outgoing_streams_default(u32::from(
                settings.max_streams,
            ));
            sys::usrsctp_sysctl_set_sctp_sendspace(settings.send_space);
            sys::usrsctp_sysctl_set_sctp_recvspace(settings.recv_space);
            sys::usrsctp_sysctl_set_sctp_initial_cwnd(settings.initial_cwnd);
            sys::usrsctp_sysctl_set_sctp_max_chunks_on_queue(settings.max_chunks_on_queue);
        }
        stack.initialised = true;
    }
    stack
}

/// Takes the usrsctp lock of an already initialised library.
pub(crate) fn lock_initialised() -> MutexGuard<'static, Stack> {
    USRSCTP.lock()
}

impl Stack {
    /// Advances usrsctp's timers to `now`. usrsctp's timer wheel is global,
    /// so it keeps one clock for all associations: each association calls
    /// this with its `now`, and only the time not yet accounted for is
    /// handed to usrsctp, in whole milliseconds.
    pub(crate) fn advance_timers(&mut self, now: Instant) {
        let Some(last) = self.timer_clock else {
            self.timer_clock = Some(now);
            return;
        };
        let Some(elapsed) = now.checked_duration_since(last) else {
            return;
        };
        let ms = elapsed.as_millis().min(u128::from(u32::MAX / 2)) as u32;
        if ms == 0 {
            return;
        }
        self.timer_clock = Some(last + std::time::Duration::from_millis(u64::from(ms)));
        // SAFETY: under the usrsctp lock after initialisation.
        unsafe { sys::usrsctp_handle_timers(ms) };
    }
}

/// Registers the shared state of a new association.
pub(crate) fn register(id: usize) {
    REGISTRY.lock().insert(id, Shared::default());
}

/// Forgets an association: later callbacks for its id are dropped.
pub(crate) fn unregister(id: usize) {
    if let Some(s) = REGISTRY.lock().remove(&id) {
        if s.owner.is_some() {
            TICKED.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Runs `f` on the shared state of `id`, if it is registered.
pub(crate) fn with_shared<R>(id: usize, f: impl FnOnce(&mut Shared) -> R) -> Option<R> {
    REGISTRY.lock().get_mut(&id).map(f)
}

/// usrsctp hands us one SCTP packet for the association whose AF_CONN
/// address is `addr`.
unsafe extern "C" fn conn_output(
    addr: *mut c_void,
    buf: *mut c_void,
    len: size_t,
    _tos: u8,
    _set_df: u8,
) -> c_int {
    ffi_boundary!(0, {
        let id = addr as usize;
        if buf.is_null() || len == 0 {
            return 0;
        }
        // SAFETY: usrsctp passes a buffer of `len` readable bytes that stays
        // valid for the duration of the call.
        let packet = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
        with_shared(id, |s| {
            if s.outbox.len() >= OUTBOX_LIMIT {
                s.outbox_dropped += 1;
            } else {
                let mut packet = crate::datagram::buffer_from(packet);
                checksum::seal(&mut packet);
                s.outbox.push_back(packet);
            }
            wake(s);
        });
        0
    })
}

/// The socket upcall: marks the association's socket as worth looking at.
pub(crate) unsafe extern "C" fn socket_upcall(
    _sock: *mut sys::socket,
    arg: *mut c_void,
    _flags: c_int,
) {
    ffi_boundary!((), {
        with_shared(arg as usize, |s| {
            s.upcall = true;
            wake(s);
        });
    })
}
