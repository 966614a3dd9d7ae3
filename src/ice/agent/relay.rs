//! Relayed candidates: one TURN allocation per configured server
//! (RFC 8445 §5.1.1.2, RFC 5766), driven by the sans-IO [`TurnClient`].
//!
//! The agent talks to a TURN server through a *link*: the local address
//! the driver sends the server's messages from and receives them on. For
//! UDP the link is a host socket (by default the first host base of the
//! server's address family), so the server's messages share that socket
//! with the host candidate and are told apart by their source (the server)
//! and their first byte (RFC 7983). A stream transport (TCP, TLS) is a
//! connection the driver names by its local address (given to
//! [`IceAgent::add_turn_server`]); the agent only ever sees whole TURN
//! messages to and from the server, never the framing, and learns of the
//! connection's loss through [`IceAgent::turn_link_failed`].
//!
//! Once allocated, the relayed address is a local candidate of its own
//! (type `relay`, related address the server-reflexive address the server
//! reported, RFC 8445 type preference 0) and its own base: checks, answers
//! and data "sent from" it go to the TURN client, which wraps them in a
//! Send indication, or in ChannelData once a channel is bound; what the
//! server relays back is fed to the agent as if it had arrived on the
//! relayed address.

use std::net::SocketAddr;
use std::time::Instant;

use super::{IceAgent, IceState};
use crate::turn::client::{TurnClient, TurnFailure};
use crate::turn::stream::StreamFailure;

/// Where one relay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelayPhase {
    /// Configured; allocation starts with gathering.
    Waiting,
    Allocating,
    /// Allocated: the relay candidate exists.
    Ready,
    /// Failed for good (reported once).
    Failed,
}

/// One TURN server and its allocation.
#[derive(Debug)]
pub(crate) struct Relay {
    pub client: TurnClient,
    /// The local address the server is reached through; `None` until
    /// gathering picks the first host base of the server's family.
    pub link: Option<SocketAddr>,
    /// The server as configured (the client's follows redirects).
    pub configured: SocketAddr,
    /// Index of the relay candidate in the agent's locals, once allocated.
    pub local: Option<usize>,
    pub phase: RelayPhase,
    /// Over TCP or TLS (the client never retransmits): bounded by the
    /// connection's and the transaction's own timeouts, not by the gather
    /// timeout.
    pub stream: bool,
}

impl Relay {
    pub fn new(client: TurnClient, link: Option<SocketAddr>) -> Relay {
        Relay {
            configured: client.server(),
            stream: client.over_stream(),
            client,
            link,
            local: None,
            phase: RelayPhase::Waiting,
        }
    }

    /// Whether the relay still talks to its server.
    pub fn active(&self) -> bool {
        matches!(self.phase, RelayPhase::Allocating | RelayPhase::Ready)
    }

    /// Whether a datagram that arrived on `local` from `from` is this
    /// relay's server talking.
    pub fn is_server(&self, local: SocketAddr, from: SocketAddr) -> bool {
        self.active() && self.link == Some(local) && self.client.server() == from
    }

    /// The relayed address, while the relay is usable.
    pub fn relayed(&self) -> Option<SocketAddr> {
        if self.phase == RelayPhase::Ready {
            self.client.relayed_addr()
        } else {
            None
        }
    }
}

/// Why a relayed candidate could not be gathered, or was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelayFailure {
    /// The TURN allocation (or its refresh) failed: rejected credentials,
    /// no answer, a server error or a bad response.
    Turn(TurnFailure),
    /// The allocation was not finished when gathering had to complete.
    GatherTimeout,
    /// The server's name did not resolve.
    Unresolved,
    /// The configuration cannot be used; the text says why (for example a
    /// malformed URI or an unreadable CA file).
    Unusable(&'static str),
    /// No local socket of the server's address family to reach it from.
    NoLink,
    /// The TCP or TLS connection to the server failed or was lost.
    Stream(StreamFailure),
}

impl std::fmt::Display for RelayFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelayFailure::Turn(t) => write!(f, "{t}"),
            RelayFailure::GatherTimeout => f.write_str("TURN allocation not done in time"),
            RelayFailure::Unresolved => f.write_str("TURN server name did not resolve"),
            RelayFailure::Unusable(why) => write!(f, "TURN server unusable: {why}"),
            RelayFailure::NoLink => f.write_str("no local address of the TURN server's family"),
            RelayFailure::Stream(why) => write!(f, "{why}"),
        }
    }
}

impl IceAgent {
    /// The stream connection named by `link` (see
    /// [`IceAgent::add_turn_server`]) failed or was lost: every relay over
    /// it fails ([`IceEvent::RelayFailed`](super::IceEvent::RelayFailed),
    /// counted), its pairs with it; the other candidates carry on.
    pub fn turn_link_failed(&mut self, now: Instant, link: SocketAddr, why: StreamFailure) {
        self.touch(now);
        if self.state == IceState::Closed {
            return;
        }
        for ri in 0..self.relays.len() {
            let r = &self.relays[ri];
            if !r.active() || r.link != Some(link) {
                continue;
            }
            self.relays[ri].phase = RelayPhase::Failed;
            if let Some(l) = self.relays[ri].local {
                for pi in 0..self.list.pairs.len() {
                    if self.list.pairs[pi].local == l && self.list.pairs[pi].is_pending() {
                        self.fail_pair(pi);
                    }
                }
            }
            let server = Some(self.relays[ri].configured);
            self.report_relay_failure(server, RelayFailure::Stream(why));
        }
        self.dirty = true;
        self.drive(now);
    }
}
