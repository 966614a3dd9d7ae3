//! ICE (RFC 8445): candidates, pairs and the agent.

/// Errors of the ICE layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceError {
    /// The bytes are not a well-formed candidate.
    Malformed,
}

impl std::fmt::Display for IceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IceError::Malformed => f.write_str("malformed candidate"),
        }
    }
}
