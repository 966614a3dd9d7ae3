//! The clock. Protocol layers take `now` as an input; this is where the
//! driver and the C layer read it.

use std::time::Instant;

/// The current monotonic time.
#[allow(clippy::disallowed_methods)] // the one place that reads the clock
pub fn now() -> Instant {
    Instant::now()
}
