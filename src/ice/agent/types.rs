//! The agent's public types: role, state, configuration, what it reports
//! and counts, and its named timers.

use super::*;

/// The agent's role. The discriminants are the C `xIceRole` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Controlling = 0,
    Controlled = 1,
}

impl Role {
    /// The C enum value.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn code(self) -> i32 {
        self as i32
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_controlling(self) -> bool {
        self == Role::Controlling
    }

    /// The other role.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn opposite(self) -> Role {
        match self {
            Role::Controlling => Role::Controlled,
            Role::Controlled => Role::Controlling,
        }
    }
}

/// The agent state. The discriminants are the C `xIceState` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceState {
    New = 0,
    Gathering = 1,
    Checking = 2,
    Connected = 3,
    Completed = 4,
    Failed = 5,
    Closed = 6,
}

impl IceState {
    /// The C enum value.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Connected or Completed: a pair is selected and data can be sent.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_connected(self) -> bool {
        matches!(self, IceState::Connected | IceState::Completed)
    }
}

/// Agent configuration. `Default` gives the controlling role, no STUN
/// server, OS entropy, generated credentials and the timings below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    pub role: Role,
    /// STUN servers for server-reflexive candidates (already resolved).
    pub stun_servers: Vec<SocketAddr>,
    /// TURN servers for relayed candidates (already resolved), each
    /// reached from the first host base of its address family.
    pub turn_servers: Vec<TurnConfig>,
    /// Seed of the agent's RNG (tie-breaker, credentials, transaction ids,
    /// consent jitter); `None` seeds from OS entropy.
    pub rng_seed: Option<u64>,
    /// Local ufrag; `None` generates 8 characters of `[A-Za-z0-9+/]`.
    /// Given values must be 4 to 256 such characters (RFC 8839 §5.4).
    pub ufrag: Option<String>,
    /// Local password; `None` generates 24 characters of `[A-Za-z0-9+/]`.
    /// Given values must be 22 to 256 such characters.
    pub pwd: Option<String>,
    /// Ta: at most one new STUN transaction per Ta (RFC 8445 §14.2; the C
    /// agent paces at 50 ms).
    pub ta: Duration,
    /// Minimum retransmission timeout of a check (RFC 8445 §14.3: 500 ms).
    pub check_rto: Duration,
    /// Retransmissions of a check or server request before it fails.
    pub check_max_retransmits: u32,
    /// Wait after the last retransmission, as a multiple of the RTO.
    pub check_final_wait_factor: u32,
    /// Server-reflexive gathering is complete after this at the latest
    /// (the C agent's 5 s).
    pub gather_timeout: Duration,
    /// Controlling agent: nominate the best valid pair at the latest this
    /// long after the first pair became valid.
    pub nomination_timeout: Duration,
    /// Checks that produce no valid pair in this time fail the agent (the
    /// C agent's 10 s check timeout).
    pub failure_timeout: Duration,
    /// Mean consent check interval; each is randomized ±20 % (RFC 7675
    /// §5.1: 5 s; the C agent uses 15 s without failure handling).
    pub consent_interval: Duration,
    /// No authenticated STUN from the remote for this long raises
    /// [`IceEvent::ConsentStale`].
    pub consent_stale: Duration,
    /// No response to consent checks for this long fails the agent
    /// (RFC 7675 §5.1: 30 s).
    pub consent_timeout: Duration,
    /// Most pairs in the checklist (RFC 8445 §6.1.2.5 suggests 100).
    pub max_pairs: usize,
}

impl Default for AgentConfig {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn default() -> Self {
        AgentConfig {
            role: Role::Controlling,
            stun_servers: Vec::new(),
            turn_servers: Vec::new(),
            rng_seed: None,
            ufrag: None,
            pwd: None,
            ta: Duration::from_millis(50),
            check_rto: Duration::from_millis(500),
            check_max_retransmits: 4,
            check_final_wait_factor: 4,
            gather_timeout: Duration::from_secs(5),
            nomination_timeout: Duration::from_secs(1),
            failure_timeout: Duration::from_secs(10),
            consent_interval: Duration::from_secs(5),
            consent_stale: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
            max_pairs: 100,
        }
    }
}

/// What [`IceAgent::handle_datagram`] made of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// STUN for the agent, handled.
    Consumed,
    /// DTLS (first byte 20–63) from an authenticated remote: the caller
    /// passes it to the DTLS layer.
    Dtls,
    /// TURN ChannelData (first byte 64–79): for the TURN client.
    ChannelData,
    /// An application datagram from an authenticated remote.
    Data,
    /// Malformed, unauthenticated, unexpected or from an unknown source;
    /// counted in [`AgentStats`].
    Dropped,
}

/// What [`IceAgent::handle_datagram_payload`] made of a datagram, with
/// where its payload came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incoming<'a> {
    pub received: Received,
    /// The datagram itself, or what a TURN server relayed inside it.
    pub payload: &'a [u8],
    /// The sender: the datagram's source, or the peer that sent the
    /// relayed payload to the relayed address.
    pub from: SocketAddr,
}

/// What the agent reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IceEvent {
    StateChanged(IceState),
    /// A local candidate to signal to the peer (host or server-reflexive).
    LocalCandidate(Candidate),
    /// No more local candidates will come (end-of-candidates).
    GatheringComplete,
    /// Data now goes from the socket at `local` to `remote`.
    SelectedPair {
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// A 487 role conflict switched the agent's role.
    RoleChanged(Role),
    /// Nothing authenticated heard on the selected pair for a while.
    ConsentStale,
    /// Answers resumed after [`IceEvent::ConsentStale`].
    ConsentRestored,
    /// A relayed candidate could not be gathered (or its allocation was
    /// lost); the other candidates carry on. `server` is the TURN server,
    /// when known.
    RelayFailed {
        server: Option<SocketAddr>,
        reason: RelayFailure,
    },
}

/// Counters, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Unparseable STUN, or authenticated checks with bad ICE attributes.
    pub dropped_malformed: u64,
    /// Requests failing FINGERPRINT, USERNAME or MESSAGE-INTEGRITY checks,
    /// and responses failing integrity with the remote password.
    pub dropped_unauthenticated: u64,
    /// Responses matching no outstanding transaction.
    pub dropped_unmatched: u64,
    /// DTLS or data from an address that has not authenticated itself, or
    /// on a local address that is not a base of this agent.
    pub dropped_unknown_source: u64,
    /// Other STUN methods, RTP-range bytes without a selected pair, input
    /// after close or failure.
    pub dropped_other: u64,
    /// Role conflicts seen (as 487 sent, 487 received or a switch).
    pub role_conflicts: u64,
    /// Connectivity checks started (first sends).
    pub checks_sent: u64,
    /// Retransmissions of checks and server requests.
    pub retransmits: u64,
    /// Requests answered with a success response.
    pub requests_answered: u64,
    /// Remote peer-reflexive candidates learned from requests.
    pub prflx_remote_learned: u64,
    /// Authenticated requests from a new address answered without learning
    /// it, because [`MAX_REMOTE_CANDIDATES`] peer-reflexive ones are known.
    pub prflx_remote_refused: u64,
    /// Local peer-reflexive candidates learned from responses.
    pub prflx_local_learned: u64,
    /// Peer-reflexive remote candidates replaced by a signalled one.
    pub prflx_upgraded: u64,
    pub consent_checks_sent: u64,
    /// Pairs not formed because the checklist was full.
    pub pairs_dropped: u64,
    pub data_sent: u64,
    pub data_received: u64,
    /// Relayed candidates that could not be gathered or were lost.
    pub relay_failures: u64,
    /// Datagrams (and their bytes) handed to the driver to send, and
    /// received on the agent's sockets, at the UDP layer: STUN, TURN
    /// framing, DTLS, everything.
    pub datagrams_sent: u64,
    pub bytes_sent: u64,
    pub datagrams_received: u64,
    pub bytes_received: u64,
}

/// The agent's named timers (see [`IceAgent::next_timer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// An API call left work that needs a `handle_timeout` now.
    Immediate,
    /// The next new STUN transaction once Ta has passed.
    Pacing,
    CheckRetransmit,
    GatherRetransmit,
    GatherTimeout,
    Nomination,
    CheckFailure,
    ConsentCheck,
    ConsentStale,
    ConsentExpiry,
    /// A TURN client's retransmission or refresh.
    Relay,
    /// The next send of a path MTU probe, or its loss.
    MtuProbe,
}
