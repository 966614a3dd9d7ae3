//! WebRTC data channels (RFC 8831) over an SCTP association this layer does
//! not own: the [`ChannelManager`] state machine, its events and errors.
//!
//! The manager is sans-IO. The SCTP layer feeds it what arrives
//! ([`ChannelManager::handle_sctp_message`],
//! [`ChannelManager::handle_stream_reset`], [`ChannelManager::on_sent`]) and
//! drains what it must do ([`ChannelManager::poll_sctp_send`],
//! [`ChannelManager::poll_stream_reset`]). The application creates, sends to
//! and closes channels, and learns what happened from
//! [`ChannelManager::poll_event`]; message payloads are pulled with
//! [`ChannelManager::recv`].

mod manager;

pub use manager::{ChannelManager, ChannelTraffic};

use crate::dcep::{DcepError, Reliability};
use std::fmt;

/// What `a=max-message-size` we advertise, and accept: 256 KiB.
pub const LOCAL_MAX_MESSAGE_SIZE: usize = 256 * 1024;

/// The remote's max message size when its SDP has no `a=max-message-size`
/// (RFC 8841 §6.1).
pub const DEFAULT_REMOTE_MAX_MESSAGE_SIZE: usize = 65536;

/// Channel limit of the C API (`XDC_MAX_CHANNELS`). The Rust manager allows
/// as many as the association has streams unless [`Limits::max_channels`]
/// says otherwise.
pub const C_MAX_CHANNELS: usize = 64;

/// The stream id RFC 8831 §6.5 forbids.
pub const RESERVED_STREAM_ID: u16 = 0xFFFF;

/// Identifies a channel for the life of its manager. Ids are never reused;
/// the SCTP stream id is a separate property, assigned once the DTLS role and
/// the association are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(u32);

impl ChannelId {
    /// The raw value (for logs and handle tables).
    pub fn raw(self) -> u32 {
        self.0
    }
}

/// Our DTLS role; it decides the parity of the stream ids we pick
/// (RFC 8832 §6: client even, server odd).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    Client,
    Server,
}

impl DtlsRole {
    /// The first stream id of this role (0 or 1); later ids step by 2.
    pub fn first_stream_id(self) -> u16 {
        match self {
            DtlsRole::Client => 0,
            DtlsRole::Server => 1,
        }
    }
}

/// Readiness of a channel, as `RTCDataChannelState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    Connecting,
    Open,
    Closing,
    Closed,
}

/// Kind of a message: PPID 51/56 (text) or 53/57 (binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    Binary,
}

/// How to create a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// At most 255 bytes.
    pub label: String,
    /// At most 255 bytes.
    pub protocol: String,
    pub ordered: bool,
    pub reliability: Reliability,
    /// DCEP priority; 256 is RFC 8832's "normal".
    pub priority: u16,
    /// `Some(id)`: a pre-negotiated channel (no DCEP) on stream `id`; the
    /// peer must create one with the same id.
    pub negotiated_id: Option<u16>,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            label: String::new(),
            protocol: String::new(),
            ordered: true,
            reliability: Reliability::Reliable,
            priority: 256,
            negotiated_id: None,
        }
    }
}

impl ChannelConfig {
    /// An ordered, reliable channel with this label.
    pub fn new(label: impl Into<String>) -> Self {
        ChannelConfig {
            label: label.into(),
            ..ChannelConfig::default()
        }
    }
}

/// One SCTP user message the SCTP layer must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SctpSend {
    pub stream: u16,
    pub ppid: u32,
    /// The payload (one zero byte for the empty-message PPIDs 56/57).
    pub data: Vec<u8>,
    pub ordered: bool,
    /// The PR-SCTP policy to apply (always reliable for DCEP messages).
    pub reliability: Reliability,
    /// Bytes this message adds to the channel's buffered amount: pass them
    /// to [`ChannelManager::on_sent`] once SCTP has taken care of them. Zero
    /// for DCEP messages and empty messages.
    pub counted: usize,
}

/// What happened; payloads are pulled separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// The channel is open: ACK received for a channel we announced, or a
    /// negotiated channel whose association came up. For channels the peer
    /// announced it follows [`ChannelEvent::RemoteOpen`].
    Open(ChannelId),
    /// The peer announced a new channel (already open; `Open` follows).
    RemoteOpen(ChannelId),
    /// A message arrived; read it with [`ChannelManager::recv`].
    Message(ChannelId, MessageKind),
    /// The buffered amount fell from above the threshold to at or below it.
    BufferedAmountLow(ChannelId),
    /// The close handshake started (from either side).
    Closing(ChannelId),
    /// Both directions are reset, or the association is gone.
    Closed(ChannelId),
    /// Something went wrong on this channel; `Closed` may follow.
    Error(ChannelId, ChannelError),
}

/// Errors of the DataChannel layer: failed calls and [`ChannelEvent::Error`]
/// reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelError {
    /// No channel with this id.
    UnknownChannel,
    /// The channel cannot send in this state.
    NotOpen(ChannelState),
    /// The message exceeds the peer's `a=max-message-size`.
    TooLarge { size: usize, max: usize },
    /// Back-pressure: the send queue or the buffered amount is at its limit.
    QueueFull,
    /// The channel limit is reached.
    TooManyChannels,
    /// A label longer than 255 bytes.
    LabelTooLong(usize),
    /// A protocol longer than 255 bytes.
    ProtocolTooLong(usize),
    /// A negotiated id already used by another channel.
    StreamIdInUse(u16),
    /// A negotiated id the association does not have.
    StreamIdOutOfRange { id: u16, max_streams: u16 },
    /// No free stream id of our parity is left.
    NoStreamAvailable,
    /// The association came up before the DTLS role was set.
    RoleNotSet,
    /// The association is gone; channels cannot be created any more.
    AssociationClosed,
    /// The association was lost while the channel was alive.
    AssociationLost,
    /// The receive queue was full and incoming messages were dropped.
    RecvQueueFull,
    /// A DCEP codec error.
    Dcep(DcepError),
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::UnknownChannel => f.write_str("unknown data channel"),
            ChannelError::NotOpen(s) => write!(f, "data channel is not open ({s:?})"),
            ChannelError::TooLarge { size, max } => write!(
                f,
                "message of {size} bytes exceeds the peer's max-message-size of {max} bytes"
            ),
            ChannelError::QueueFull => f.write_str("data channel send queue is full"),
            ChannelError::TooManyChannels => f.write_str("too many data channels"),
            ChannelError::LabelTooLong(n) => write!(f, "label of {n} bytes (max 255)"),
            ChannelError::ProtocolTooLong(n) => write!(f, "protocol of {n} bytes (max 255)"),
            ChannelError::StreamIdInUse(id) => write!(f, "stream id {id} already in use"),
            ChannelError::StreamIdOutOfRange { id, max_streams } => write!(
                f,
                "stream id {id} outside the association's {max_streams} streams"
            ),
            ChannelError::NoStreamAvailable => f.write_str("no free SCTP stream id"),
            ChannelError::RoleNotSet => f.write_str("DTLS role not set"),
            ChannelError::AssociationClosed => f.write_str("SCTP association is closed"),
            ChannelError::AssociationLost => f.write_str("SCTP association lost"),
            ChannelError::RecvQueueFull => {
                f.write_str("receive queue full, incoming messages dropped")
            }
            ChannelError::Dcep(e) => write!(f, "dcep: {e}"),
        }
    }
}

impl std::error::Error for ChannelError {}

impl From<DcepError> for ChannelError {
    fn from(e: DcepError) -> Self {
        ChannelError::Dcep(e)
    }
}

/// Bounds of the manager's queues. Every bound is reported as back-pressure
/// ([`ChannelError::QueueFull`]) or as a counted drop, never hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Live (not Closed) channels, local plus remote. The association's
    /// stream count is a bound too. The C layer sets [`C_MAX_CHANNELS`].
    pub max_channels: usize,
    /// Per channel: `send` fails with `QueueFull` when the buffered amount
    /// is non-zero and this message would take it above this.
    pub max_buffered_amount: usize,
    /// User messages waiting in the manager for `poll_sctp_send`.
    pub max_queued_sends: usize,
    /// Per partially reliable channel: received bytes not yet pulled with
    /// `recv` (a message is always accepted into an empty queue); more are
    /// dropped. Reliable channels never drop: the PeerConnection bounds
    /// them by not reading from SCTP (see README, "Receive flow control").
    pub max_recv_bytes: usize,
    /// Per partially reliable channel: received messages not yet pulled
    /// with `recv`.
    pub max_recv_messages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_channels: usize::MAX,
            max_buffered_amount: 16 * 1024 * 1024,
            max_queued_sends: 1024,
            max_recv_bytes: 4 * 1024 * 1024,
            max_recv_messages: 4096,
        }
    }
}

/// Counters of dropped input; nothing from the network is an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Messages on a stream with no channel (or before the association).
    pub unknown_stream: u64,
    /// Messages with a PPID that is neither DCEP nor one of 51/53/56/57.
    pub unknown_ppid: u64,
    /// DCEP messages that did not decode.
    pub malformed_dcep: u64,
    /// Well-formed DCEP messages that made no sense (ACK for an open
    /// channel, OPEN on a stream in use).
    pub unexpected_dcep: u64,
    /// OPENs refused with a stream reset (limit reached, label too long).
    pub rejected_opens: u64,
    /// Messages for a channel that is not open.
    pub not_open: u64,
    /// Messages above our advertised max-message-size.
    pub oversize: u64,
    /// Messages dropped because the receive queue was full.
    pub recv_overflow: u64,
}
