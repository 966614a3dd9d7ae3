//! TURN (RFC 5766): ChannelData framing and the allocation client.

/// Errors of the TURN layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnError {
    /// The bytes are not a well-formed ChannelData frame or TURN message.
    Malformed,
}

impl std::fmt::Display for TurnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TurnError::Malformed => f.write_str("malformed TURN data"),
        }
    }
}
