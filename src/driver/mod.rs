//! The I/O side of the library: the only code that touches sockets, threads,
//! the clock and the caller's event loop. Protocol layers never import it.

pub mod batch;
pub mod clock;
pub mod io;
pub mod loop_queue;
pub mod mdns;
pub mod netif;
pub mod resolve;
pub mod turn_stream;
