//! STUN (RFC 5389): message and attribute codec, transaction schedule.

/// Errors of the STUN layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StunError {
    /// The bytes are not a well-formed STUN message or attribute.
    Malformed,
}

impl std::fmt::Display for StunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StunError::Malformed => f.write_str("malformed STUN message"),
        }
    }
}
