//! The wall clock of a process whose networks run on a virtual clock.
//!
//! usrsctp runs its timers on the ticks we hand it (`xp2p::sctp::tick`,
//! driven by each network's virtual clock) but reads `gettimeofday` for
//! everything else: when a chunk was sent, round-trip times, and which
//! chunks a T3 timeout may mark for retransmission (only those sent at
//! least an RTO ago by `gettimeofday`). On a virtual clock that runs
//! minutes ahead of real time in a second, a timeout then finds every
//! chunk "just sent", marks none, and a transfer that lost a whole flight
//! never recovers. So a test process's `gettimeofday` runs ahead by as much
//! as the furthest virtual clock has got ahead of real time: the two clocks
//! usrsctp reads agree, as they do in a real process. The lead only grows,
//! so the wall clock never goes back and always moves at least at real
//! speed (tests on real time, and OpenSSL's timers, keep working).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use libc::{c_int, c_void, timeval};

/// Nanoseconds the furthest virtual clock is ahead of real time.
static LEAD_NS: AtomicU64 = AtomicU64::new(0);

/// A network's virtual clock reached `now`.
pub fn note_virtual_now(now: Instant) {
    #[allow(clippy::disallowed_methods)]
    let lead = now.saturating_duration_since(Instant::now());
    LEAD_NS.fetch_max(
        u64::try_from(lead.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// `gettimeofday` for the whole test process (the executable's definition
/// takes precedence over the C library's for every shared library):
/// real time plus the virtual lead.
///
/// # Safety
/// `tv` is null or points to a writable `timeval`, as for the C library's.
#[no_mangle]
pub unsafe extern "C" fn gettimeofday(tv: *mut timeval, _tz: *mut c_void) -> c_int {
    if tv.is_null() {
        return 0;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    let ns = (ts.tv_sec as u128) * 1_000_000_000
        + ts.tv_nsec as u128
        + u128::from(LEAD_NS.load(Ordering::Relaxed));
    // SAFETY: `tv` is non-null and writable (the caller's contract).
    unsafe {
        (*tv).tv_sec = (ns / 1_000_000_000) as libc::time_t;
        (*tv).tv_usec = ((ns % 1_000_000_000) / 1000) as libc::suseconds_t;
    }
    0
}
