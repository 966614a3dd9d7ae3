//! TURN (RFC 5766 / RFC 8656): ChannelData framing, the allocation client,
//! and the stream transports (TCP framing in `stream`, TLS in `tls`).

pub mod channel;
pub mod client;
pub mod stream;
pub mod tls;
pub mod uri;

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
    /// The call is not allowed in the client's current state (for example
    /// sending before the allocation succeeded).
    InvalidState,
    /// No permission is installed for the peer's IP address.
    NoPermission,
    /// The permission or channel table is full.
    LimitReached,
    /// The configuration cannot be encoded (credentials too long).
    InvalidConfig,
    /// The outgoing queue is full; retry after draining `poll_transmit`.
    QueueFull,
}

impl std::fmt::Display for TurnError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TurnError::Malformed => f.write_str("malformed TURN data"),
            TurnError::InvalidChannel => f.write_str("channel number outside 0x4000-0x7FFF"),
            TurnError::BufferTooSmall => f.write_str("ChannelData does not fit"),
            TurnError::InvalidState => f.write_str("not allowed in the TURN client's state"),
            TurnError::NoPermission => f.write_str("no TURN permission for the peer"),
            TurnError::LimitReached => f.write_str("TURN permission or channel limit reached"),
            TurnError::InvalidConfig => f.write_str("invalid TURN configuration"),
            TurnError::QueueFull => f.write_str("TURN transmit queue full"),
        }
    }
}

impl std::error::Error for TurnError {}
