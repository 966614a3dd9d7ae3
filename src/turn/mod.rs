//! TURN (RFC 5766 / RFC 8656): ChannelData framing and the allocation client.

pub mod channel;

pub use channel::{ChannelData, CHANNEL_HEADER_SIZE, CHANNEL_MAX, CHANNEL_MIN};

/// Errors of the TURN layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnError {
    /// The bytes are not a well-formed ChannelData frame or TURN message.
    Malformed,
    /// A channel number outside 0x4000–0x7FFF.
    InvalidChannel,
    /// The output buffer is too small, or the payload longer than 65535 bytes.
    BufferTooSmall,
}

impl std::fmt::Display for TurnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TurnError::Malformed => f.write_str("malformed TURN data"),
            TurnError::InvalidChannel => f.write_str("channel number outside 0x4000-0x7FFF"),
            TurnError::BufferTooSmall => f.write_str("ChannelData does not fit"),
        }
    }
}

impl std::error::Error for TurnError {}
