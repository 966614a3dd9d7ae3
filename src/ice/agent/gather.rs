//! Server-reflexive gathering: one Binding request from each host base to
//! each STUN server of the same address family (RFC 8445 §5.1.1.2).
//!
//! New requests go out through the agent's Ta pacer; each is retransmitted
//! on the connectivity-check schedule until answered or the gather timeout
//! (5 s by default, as in the C agent) forces completion.

use std::net::SocketAddr;
use std::time::Instant;

use crate::stun::txn::RetransmitTimer;
use crate::stun::TransactionId;

/// One Binding request to a STUN server.
#[derive(Debug, Clone)]
pub(crate) struct GatherTxn {
    pub id: TransactionId,
    pub base: SocketAddr,
    pub server: SocketAddr,
    pub bytes: Vec<u8>,
    /// `None` until the pacer has sent it.
    pub timer: Option<RetransmitTimer<Instant>>,
}

/// Where gathering stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    NotStarted,
    /// Requests pending; completion is forced at `deadline` (`None` once
    /// it has passed and only TCP/TLS relays, bounded by their own
    /// timeouts, are left).
    Running {
        deadline: Option<Instant>,
    },
    Complete,
}

#[derive(Debug, Clone)]
pub(crate) struct Gatherer {
    pub phase: Phase,
    pub txns: Vec<GatherTxn>,
    /// STUN servers are still being resolved: gathering is not complete
    /// before they arrive (or the gather timeout passes).
    pub servers_pending: bool,
}

impl Default for Gatherer {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn default() -> Self {
        Gatherer {
            phase: Phase::NotStarted,
            txns: Vec::new(),
            servers_pending: false,
        }
    }
}

impl Gatherer {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn started(&self) -> bool {
        self.phase != Phase::NotStarted
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn running(&self) -> bool {
        matches!(self.phase, Phase::Running { .. })
    }

    /// The first request not sent yet.
    pub fn next_unsent(&self) -> Option<usize> {
        self.txns.iter().position(|t| t.timer.is_none())
    }

    /// The transaction with id `id`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn find(&self, id: &TransactionId) -> Option<usize> {
        self.txns.iter().position(|t| &t.id == id)
    }

    /// The gather timeout, or the earliest retransmission.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn deadline(&self) -> Option<Instant> {
        let Phase::Running { deadline } = self.phase else {
            return None;
        };
        self.txns
            .iter()
            .filter_map(|t| t.timer.as_ref().and_then(|t| t.poll_timeout()))
            .chain(deadline)
            .min()
    }
}
