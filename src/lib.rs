//! libxp2p: a WebRTC DataChannel stack with the xKit xp2p C ABI.
//!
//! Protocol layers are sans-IO state machines with idiomatic Rust APIs; the
//! `ffi` module is the thin, checked C boundary over them. See
//! `ARCHITECTURE.md` and `STYLE.md` in the shared folder for the layering.
// The device build optimizes cold code for size (tests/size_attrs.rs).
#![cfg_attr(xp2p_device, feature(optimize_attribute))]

pub mod channel;
pub mod crypto;
pub mod datagram;
pub mod dcep;
pub mod driver;
pub mod dtls;
pub mod error;
pub mod ice;
pub mod idhash;
pub mod logging;
pub mod mdns;
pub mod object;
pub mod peer;
pub mod pipeline;
pub mod rng;
pub mod sctp;
pub mod sdp;
pub mod stun;
pub mod turn;
pub mod vecmap;

#[doc(hidden)]
pub mod ffi;

pub use error::Error;
