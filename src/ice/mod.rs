//! ICE (RFC 8445): candidates, pairs and the agent.

pub mod agent;
pub mod candidate;
pub mod pair;

pub use candidate::{
    candidate_priority, foundation_from_parts, Candidate, CandidateAddress, CandidateKind, TcpType,
    Transport,
};
pub use pair::{pair_priority, sort_by_priority_desc, CandidatePair, PairState};

/// Errors of the ICE layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceError {
    /// The bytes are not a well-formed candidate.
    Malformed,
    /// One field of a candidate line is missing or invalid; the name says which.
    InvalidField(&'static str),
    /// The agent is not in a state that allows the call (for example
    /// sending before a pair is selected, or gathering twice).
    InvalidState,
    /// The candidate is valid but not usable yet (TCP, unresolved mDNS).
    Unsupported(&'static str),
    /// The send queue is full: retry once the I/O side has drained it.
    WouldBlock,
    /// A documented bound is reached (for example
    /// [`agent::MAX_REMOTE_CANDIDATES`]); the name says which.
    Limit(&'static str),
}

impl std::fmt::Display for IceError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IceError::Malformed => f.write_str("malformed candidate"),
            IceError::InvalidField(name) => write!(f, "invalid candidate {name}"),
            IceError::InvalidState => f.write_str("invalid state for this call"),
            IceError::Unsupported(what) => write!(f, "unsupported {what}"),
            IceError::WouldBlock => f.write_str("send queue full"),
            IceError::Limit(what) => write!(f, "too many {what}"),
        }
    }
}

impl std::error::Error for IceError {}
