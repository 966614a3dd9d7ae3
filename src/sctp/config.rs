//! The association's configuration, events and errors (the types of
//! [`super::SctpAssociation`]'s API).

use std::fmt;
use std::time::Duration;

use usrsctp_sys as sys;

/// The SCTP port of WebRTC DataChannels when the SDP gives none.
pub const DEFAULT_PORT: u16 = 5000;
/// The number of streams negotiated in each direction by default.
pub const DEFAULT_MAX_STREAMS: u16 = 256;
/// The `a=max-message-size` we advertise and accept by default (256 KiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 256 * 1024;

/// Everything that configures one association (and, for the first one
/// created, usrsctp's global defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SctpConfig {
    /// Our SCTP port (`a=sctp-port`), 5000 by default.
    pub local_port: u16,
    /// The peer's SCTP port from its SDP, 5000 by default.
    pub remote_port: u16,
    /// Outgoing streams asked for and incoming streams accepted.
    pub max_streams: u16,
    /// Largest message sent or accepted whole. Sends above it fail with
    /// [`SctpError::MessageTooLarge`]; received messages above it are
    /// dropped. Set it to the smaller of ours and the peer's
    /// `a=max-message-size` before sending.
    pub max_message_size: usize,
    /// `SO_SNDBUF`: bytes usrsctp queues before a send would block. Raised
    /// to at least `max_message_size`.
    pub send_space: usize,
    /// `SO_RCVBUF`: bytes usrsctp buffers for reading (the advertised
    /// receive window). Raised to at least `max_message_size`.
    pub recv_space: usize,
    /// Initial, minimum and maximum retransmission timeout.
    pub rto_initial: Duration,
    pub rto_min: Duration,
    pub rto_max: Duration,
    /// Retransmissions before the association is declared lost.
    pub max_retransmits: u16,
    /// INIT retransmissions before giving up on establishment.
    pub max_init_retransmits: u16,
    /// Heartbeat interval on an idle association; `None` disables them.
    pub heartbeat_interval: Option<Duration>,
    /// The path MTU assumed for SCTP packets (DTLS and UDP/IP overhead are
    /// outside it). usrsctp's own path MTU discovery is off; the owner may
    /// change it with [`SctpAssociation::set_mtu`]. DATA chunks are cut to
    /// fit this initial MTU for the life of the association (`SCTP_MAXSEG`),
    /// so a larger MTU set later only bundles more chunks per packet, and
    /// lowering it again never strands an already numbered chunk that no
    /// longer fits.
    pub mtu: u16,
    /// How long a SACK may wait for a second packet to acknowledge
    /// (`SCTP_DELAYED_SACK`). usrsctp's default, 200 ms, stalls a sender
    /// whose window holds a single packet (the first large message after
    /// connecting) for that long; WebRTC stacks use about 20 ms.
    pub sack_delay: Duration,
    /// The initial congestion window, in packets of the path MTU (RFC 9260
    /// gives about 3; 10 as for TCP, RFC 6928). usrsctp takes it from its
    /// global settings, so the first association created in the process
    /// sets it for all.
    pub initial_cwnd: u32,
    /// Most packets sent back to back after a pause (`SCTP_MAX_BURST`);
    /// also caps the initial window.
    pub max_burst: u32,
    /// usrsctp's congestion control module for the association.
    pub congestion_control: CongestionControl,
    /// How often usrsctp's timers are advanced while the association lives.
    pub timer_interval: Duration,
    /// RFC 9653 zero checksum. usrsctp 0.9.5 does not implement it, so
    /// asking for it fails at creation; the field exists so the config is
    /// complete when a newer usrsctp is linked.
    pub zero_checksum: bool,
}

impl Default for SctpConfig {
    fn default() -> Self {
        SctpConfig {
            local_port: DEFAULT_PORT,
            remote_port: DEFAULT_PORT,
            max_streams: DEFAULT_MAX_STREAMS,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            send_space: 2 * 1024 * 1024,
            recv_space: 4 * 1024 * 1024,
            rto_initial: Duration::from_millis(1000),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_millis(10_000),
            max_retransmits: 10,
            max_init_retransmits: 8,
            heartbeat_interval: Some(Duration::from_secs(30)),
            mtu: 1200,
            sack_delay: Duration::from_millis(20),
            initial_cwnd: 10,
            max_burst: 10,
            congestion_control: CongestionControl::default(),
            timer_interval: Duration::from_millis(10),
            zero_checksum: false,
        }
    }
}

/// usrsctp's congestion control modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CongestionControl {
    /// RFC 9260 §7.2 (RFC 2581 style), usrsctp's default.
    #[default]
    Rfc2581,
    /// HighSpeed TCP (RFC 3649).
    HighSpeed,
    /// H-TCP.
    Htcp,
    /// RTCC, RTT-based.
    Rtcc,
}

impl CongestionControl {
    pub(super) fn module(self) -> u32 {
        match self {
            CongestionControl::Rfc2581 => sys::SCTP_CC_RFC2581,
            CongestionControl::HighSpeed => sys::SCTP_CC_HSTCP,
            CongestionControl::Htcp => sys::SCTP_CC_HTCP,
            CongestionControl::Rtcc => sys::SCTP_CC_RTCC,
        }
    }
}

/// How hard a message is retried (RFC 3758 partial reliability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reliability {
    /// Retransmitted until acknowledged.
    #[default]
    Reliable,
    /// Abandoned after this many retransmissions (`maxRetransmits`).
    MaxRetransmits(u32),
    /// Abandoned once this many milliseconds old (`maxPacketLifeTime`).
    MaxLifetime(u32),
}

impl From<crate::dcep::Reliability> for Reliability {
    /// A channel's DCEP reliability as applied to its SCTP sends.
    fn from(r: crate::dcep::Reliability) -> Self {
        match r {
            crate::dcep::Reliability::Reliable => Reliability::Reliable,
            crate::dcep::Reliability::MaxRetransmits(n) => Reliability::MaxRetransmits(n),
            crate::dcep::Reliability::MaxLifetime(ms) => Reliability::MaxLifetime(ms),
        }
    }
}

/// Which direction of a stream a reset closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetDirection {
    /// The peer reset its outgoing stream: nothing more arrives on it.
    Incoming,
    /// Our outgoing stream was reset: nothing more is sent on it.
    Outgoing,
}

/// What the association reports. Payloads are pulled with
/// [`SctpAssociation::recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SctpEvent {
    /// The association is up, with the negotiated stream counts.
    Connected {
        outbound_streams: u16,
        inbound_streams: u16,
    },
    /// A whole message is ready for [`SctpAssociation::recv`].
    Message { stream: u16, ppid: u32, len: usize },
    /// A stream was reset in one direction.
    StreamReset {
        stream: u16,
        direction: ResetDirection,
    },
    /// A message was abandoned (partial reliability) or could not be sent.
    SendFailed { stream: u16, ppid: u32 },
    /// A send failed with [`SctpError::WouldBlock`] earlier and the send
    /// buffer has room again.
    Writable,
    /// Everything sent so far has been acknowledged.
    SenderDry,
    /// The association is gone: peer unreachable (retransmissions or
    /// heartbeats unanswered), establishment failed, or a local error.
    /// Terminal.
    Lost,
    /// The peer aborted the association (it sent an SCTP ABORT, as a peer
    /// closing its connection without a graceful shutdown does). Terminal.
    Aborted,
    /// The association was shut down gracefully. Terminal.
    Closed,
}

/// Errors of the SCTP layer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SctpError {
    /// usrsctp refused to create the socket (errno).
    Socket(i32),
    /// A socket option was refused; the name says which (errno).
    SocketOption(&'static str, i32),
    /// `bind` or `connect` failed (errno).
    Connect(i32),
    /// The call needs an established association.
    NotConnected,
    /// The send buffer is full: retry after [`SctpEvent::Writable`].
    WouldBlock,
    /// The message exceeds the max message size.
    MessageTooLarge { size: usize, max: usize },
    /// SCTP cannot carry an empty message (DataChannels send PPID 56/57
    /// with one byte instead).
    EmptyMessage,
    /// The stream id is beyond the negotiated outgoing streams.
    InvalidStream(u16),
    /// usrsctp rejected the send or the request (errno).
    Io(i32),
    /// A requested feature is not available in the linked usrsctp.
    Unsupported(&'static str),
}

impl fmt::Display for SctpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SctpError::Socket(e) => write!(f, "usrsctp socket creation failed (errno {e})"),
            SctpError::SocketOption(name, e) => {
                write!(f, "socket option {name} failed (errno {e})")
            }
            SctpError::Connect(e) => write!(f, "bind/connect failed (errno {e})"),
            SctpError::NotConnected => f.write_str("association not established"),
            SctpError::WouldBlock => f.write_str("send buffer full"),
            SctpError::MessageTooLarge { size, max } => {
                write!(f, "message of {size} bytes exceeds max message size {max}")
            }
            SctpError::EmptyMessage => f.write_str("empty SCTP message"),
            SctpError::InvalidStream(s) => write!(f, "stream {s} out of range"),
            SctpError::Io(e) => write!(f, "usrsctp call failed (errno {e})"),
            SctpError::Unsupported(what) => write!(f, "unsupported: {what}"),
        }
    }
}

impl std::error::Error for SctpError {}
