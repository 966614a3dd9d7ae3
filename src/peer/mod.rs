//! The PeerConnection: ICE, DTLS, SCTP and DataChannels behind one sans-IO
//! state machine, the only protocol type the driver sees.
//!
//! [`PeerConnection`] is fed datagrams ([`PeerConnection::handle_datagram`]),
//! timeouts ([`PeerConnection::handle_timeout`]) and application calls
//! (offer/answer, candidates, channels), and polled for datagrams
//! ([`PeerConnection::poll_transmit`]), events
//! ([`PeerConnection::poll_event`]) and its next deadline
//! ([`PeerConnection::poll_timeout`]).
//!
//! How the layers are wired:
//!
//! * ICE Connected/Completed starts DTLS with the role taken from `a=setup`
//!   and the peer's `a=fingerprint` pinned: a certificate that does not
//!   match fails the handshake, the connection goes `Failed` and no channel
//!   ever opens.
//! * DTLS Connected starts the SCTP association (our `a=sctp-port` to the
//!   peer's), with the SCTP packet size bounded by one DTLS record.
//! * SCTP Connected gives the channel manager its stream-id parity (DTLS
//!   client even, server odd, RFC 8832) and the stream count; channels
//!   created earlier open now, and the state becomes `Connected`.
//! * Once SCTP is up, path MTU discovery (the `pmtu` submodule) probes
//!   larger datagrams through the ICE agent and raises the DTLS and SCTP
//!   MTUs to the largest size the path carries.
//! * Consent loss (ICE `ConsentStale`) is `Disconnected`, its return
//!   `Connected` again; ICE, DTLS or SCTP failure is `Failed`.
//!
//! DTLS and usrsctp read the real clock internally (see their modules); the
//! PeerConnection itself only uses the `now` it is given.

mod connection;
mod pmtu;

pub use connection::{PeerConnection, PeerStats};
pub use pmtu::{PathMtuConfig, PathMtuStats, BASE_DATAGRAM, MAX_DATAGRAM};

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::channel::{ChannelError, ChannelId};
use crate::dtls::DtlsError;
use crate::ice::agent::AgentConfig;
use crate::ice::IceError;
use crate::sctp::SctpError;
use crate::sdp::SdpError;
use crate::turn::client::TurnConfig;

/// The SCTP port used when the configuration or the remote SDP gives none.
pub const DEFAULT_SCTP_PORT: u16 = crate::sctp::DEFAULT_PORT;

/// The `a=max-message-size` advertised by default (256 KiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = crate::channel::LOCAL_MAX_MESSAGE_SIZE;

/// The media id of the one data-channel section.
pub const MID: &str = "0";

/// How a PeerConnection is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// STUN servers (already resolved), added to `ice.stun_servers`.
    pub stun_servers: Vec<SocketAddr>,
    /// TURN servers (already resolved), added to `ice.turn_servers`: each
    /// gives a relayed candidate.
    pub turn_servers: Vec<TurnConfig>,
    /// Our SCTP port (`a=sctp-port`); 0 means 5000.
    pub sctp_port: u16,
    /// The `a=max-message-size` we advertise and accept; 0 means the
    /// default, 262144.
    pub max_message_size: usize,
    /// Seeds the ICE agent's RNG (unless `ice.rng_seed` is set); `None`
    /// uses OS entropy.
    pub rng_seed: Option<u64>,
    /// The base ICE configuration; its role is set by the PeerConnection
    /// (controlling until the offer/answer roles are known).
    pub ice: AgentConfig,
    /// The DTLS handshake fails if not done this long after it starts.
    /// 30 s: at 20 % loss a 10 s limit leaves a handshake flight only about
    /// three retransmissions (1 s, doubling).
    pub dtls_handshake_timeout: Duration,
    /// Path MTU discovery (on by default).
    pub path_mtu: PathMtuConfig,
    /// Received messages the application has not pulled yet, at most this
    /// many bytes (plus 64 per message) before the connection stops reading
    /// from SCTP and the peer's sends back up; see
    /// [`PeerConnection::set_recv_buffer_limit`]. 0 means the default,
    /// [`DEFAULT_RECV_BUFFER_LIMIT`].
    pub recv_buffer_limit: usize,
}

/// The default bound of received messages waiting for the application in
/// one PeerConnection: 4 MiB.
pub const DEFAULT_RECV_BUFFER_LIMIT: usize = 4 * 1024 * 1024;
/// The smallest receive bound accepted; smaller values are raised to it.
pub const MIN_RECV_BUFFER_LIMIT: usize = 64 * 1024;

impl Default for PeerConfig {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn default() -> Self {
        PeerConfig {
            stun_servers: Vec::new(),
            turn_servers: Vec::new(),
            sctp_port: DEFAULT_SCTP_PORT,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            rng_seed: None,
            ice: AgentConfig::default(),
            dtls_handshake_timeout: Duration::from_secs(30),
            path_mtu: PathMtuConfig::default(),
            recv_buffer_limit: DEFAULT_RECV_BUFFER_LIMIT,
        }
    }
}

/// The connection state. The discriminants are the C
/// `xPeerConnectionState` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    New = 0,
    Connecting = 1,
    Connected = 2,
    Disconnected = 3,
    Failed = 4,
    Closed = 5,
}

impl PeerState {
    /// The C enum value.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn code(self) -> i32 {
        self as i32
    }

    /// `Failed` or `Closed`: nothing changes any more.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_terminal(self) -> bool {
        matches!(self, PeerState::Failed | PeerState::Closed)
    }
}

/// What a PeerConnection reports. Events signal; message payloads are
/// pulled with [`PeerConnection::recv`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// The connection state changed (never reported twice in a row).
    StateChanged(PeerState),
    /// A local candidate as its SDP line, `a=candidate:…\r\n`; `None` when
    /// gathering is complete (end of candidates).
    IceCandidate(Option<String>),
    /// The peer opened a channel; [`PeerEvent::ChannelOpen`] follows.
    DataChannel(ChannelId),
    /// The channel is open and can send.
    ChannelOpen(ChannelId),
    /// A message arrived on the channel; take it with
    /// [`PeerConnection::recv`].
    ChannelMessage(ChannelId),
    /// The channel is closed (closed by either side, or the connection
    /// ended).
    ChannelClosed(ChannelId),
    /// The channel's buffered amount fell to or below its low threshold.
    BufferedAmountLow(ChannelId),
    /// Something went wrong on the channel.
    ChannelError(ChannelId, ChannelError),
}

/// Errors of the PeerConnection's calls. A dead connection is an event
/// (`StateChanged(Failed)`), never an error of a later call's input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerError {
    /// The call does not fit the current state; the text says why.
    InvalidState(&'static str),
    /// The remote description is well-formed SDP but unusable for a
    /// PeerConnection; the text says why.
    InvalidDescription(&'static str),
    /// The remote description or candidate line did not parse.
    Sdp(SdpError),
    Ice(IceError),
    Dtls(DtlsError),
    Sctp(SctpError),
    Channel(ChannelError),
}

impl fmt::Display for PeerError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::InvalidState(why) => write!(f, "invalid state: {why}"),
            PeerError::InvalidDescription(why) => write!(f, "unusable description: {why}"),
            PeerError::Sdp(e) => write!(f, "sdp: {e}"),
            PeerError::Ice(e) => write!(f, "ice: {e}"),
            PeerError::Dtls(e) => write!(f, "dtls: {e}"),
            PeerError::Sctp(e) => write!(f, "sctp: {e}"),
            PeerError::Channel(e) => write!(f, "datachannel: {e}"),
        }
    }
}

impl std::error::Error for PeerError {}

impl From<SdpError> for PeerError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn from(e: SdpError) -> Self {
        PeerError::Sdp(e)
    }
}

impl From<IceError> for PeerError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn from(e: IceError) -> Self {
        PeerError::Ice(e)
    }
}

impl From<DtlsError> for PeerError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn from(e: DtlsError) -> Self {
        PeerError::Dtls(e)
    }
}

impl From<SctpError> for PeerError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn from(e: SctpError) -> Self {
        PeerError::Sctp(e)
    }
}

impl From<ChannelError> for PeerError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn from(e: ChannelError) -> Self {
        PeerError::Channel(e)
    }
}
