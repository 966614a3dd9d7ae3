//! The objects behind the C handles, below the ABI layer (`crate::ffi`)
//! and above the protocol layers and the I/O driver. Every live object is
//! in one registry ([`handle`]) under a typed token; `ffi` only checks and
//! converts arguments and calls in here.
//!
//! * [`pc`]: the PeerConnection, its channels and the views of its parts;
//! * [`ice`]: a standalone ICE agent;
//! * [`dtls`], [`sctp`], [`mgr`]: the caller-driven DTLS → SCTP → channel
//!   stack of the low-level headers;
//! * [`lookup`]: what a handle of a header names (an own object or a view
//!   of a PeerConnection's part);
//! * [`callbacks`], [`cabi`], [`timer`]: the C callbacks and values the
//!   objects use, and the caller's-loop timer.
//!
//! No file here imports `crate::ffi`; `tests/module_graph.rs` checks that
//! the files of `src/` import each other without a cycle.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod backend;
pub mod cabi;
pub mod callbacks;
pub mod dtls;
pub mod handle;
pub mod ice;
pub mod lookup;
pub mod mgr;
pub mod pc;
pub mod sctp;
pub mod timer;

pub use handle::Handle;
