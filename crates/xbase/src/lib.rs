//! libxbase: a compatible implementation of the xKit event loop for programs
//! that do not have xKit, and for libxp2p's own tests and examples.
//!
//! `types` and `sys` are always available (libxp2p uses them to call the
//! caller's loop); the exported functions are compiled with the `abi` feature.

mod boundary;
pub mod sys;
pub mod types;

#[cfg(feature = "abi")]
mod evloop;
#[cfg(feature = "abi")]
pub mod ffi;
