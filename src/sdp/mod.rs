//! SDP for ICE-only and WebRTC data-channel sessions, as real peers write it.

/// Errors of the SDP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpError {
    /// The bytes are not a well-formed session description.
    Malformed,
}

impl std::fmt::Display for SdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SdpError::Malformed => f.write_str("malformed SDP"),
        }
    }
}
