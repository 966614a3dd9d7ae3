//! The C ABI: one module per public header, each holding that header's
//! types and thin `extern "C"` functions that check and convert their
//! arguments and call the objects behind the handles (`crate::object`) or
//! the codecs. Every exported function body runs in `ffi_boundary!`
//! (panic-safe) and checks its pointers. Nothing below `ffi` imports it.
//!
//! Each `src/ffi/<name>.rs` is also the cbindgen input of
//! `include/xp2p/<name>.h` (see `scripts/gen-headers.sh`).
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case)]

pub mod boundary;

pub mod datachannel;
pub mod dtls_backend;
pub mod dtls_transport;
pub mod flow;
pub mod ice_agent;
pub mod ice_candidate;
pub mod ice_crypto;
pub mod ice_pair;
pub mod ice_private;
pub mod log;
pub mod peer_connection;
pub mod sctp_transport;
pub mod sdp;
pub mod stats;
pub mod stun_attr;
pub mod stun_msg;
pub mod stun_txn;
pub mod turn_channel;
pub mod turn_client;
