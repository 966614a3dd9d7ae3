//! An in-memory network for sans-IO tests.
//!
//! * [`net::Network`]: endpoints addressed by `SocketAddr`, a virtual clock
//!   that jumps to the earliest deadline of all endpoints and datagrams in
//!   flight, a seeded lossy link (loss, delay, jitter, reordering,
//!   duplication, MTU cap), optional NAT boxes and a drop filter for
//!   cutting links.
//! * [`net::Endpoint`]: what a sans-IO layer offers the network
//!   (handle_datagram / handle_timeout / poll_transmit / poll_timeout).
//! * [`stun_server::StunServer`]: answers Binding requests with
//!   XOR-MAPPED-ADDRESS.
//! * [`turn_server::TurnServer`]: a TURN server with long-term
//!   credentials that really relays (shared with the TURN client tests).
//! * [`ice_node::IceNode`]: an ICE agent as an endpoint, logging its events
//!   and the application datagrams it received.
//! * [`peer_node::PeerNode`]: a PeerConnection as an endpoint, hashing what
//!   its channels receive.
//! * [`wall_clock`]: the process's `gettimeofday` follows the furthest
//!   virtual clock, so usrsctp's two clocks agree.

#![allow(dead_code, unused_imports)]

pub mod ice_node;
pub mod net;
pub mod peer_node;
pub mod stun_server;
pub mod turn_server;
pub mod wall_clock;

pub use ice_node::IceNode;
pub use net::{Datagram, Endpoint, Filtering, LinkConfig, Network, NodeId, Realm};
pub use peer_node::PeerNode;
pub use stun_server::StunServer;
pub use turn_server::TurnServer;
