//! `time.h`: the two clocks of xbase, in milliseconds.

use crate::evloop::os;
use crate::ffi_boundary;

/// Milliseconds of the monotonic clock (CLOCK_MONOTONIC): never goes back,
/// counts from an arbitrary point. Timer deadlines use this clock.
#[no_mangle]
pub extern "C" fn xMonoMs() -> u64 {
    ffi_boundary!(0, { os::mono_ms() })
}

/// Milliseconds since the Unix epoch (CLOCK_REALTIME).
#[no_mangle]
pub extern "C" fn xWallMs() -> u64 {
    ffi_boundary!(0, { os::wall_ms() })
}
