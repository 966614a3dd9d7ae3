//! The ICE agent (RFC 8445) as a sans-IO state machine.
//!
//! The I/O driver binds the sockets and tells the agent about them
//! ([`IceAgent::add_host_candidate`]); the agent never touches a socket or
//! the clock. Inputs go in through `handle_datagram`, `handle_timeout` and
//! the API calls; outputs come out of [`IceAgent::poll_transmit`],
//! [`IceAgent::poll_event`] and [`IceAgent::poll_timeout`].
//!
//! What it does:
//!
//! * **Gathering**: host candidates for the driver's bases, server-reflexive
//!   ones from a Binding request to every STUN server of the same family,
//!   relayed ones from a TURN allocation on every TURN server (details in
//!   the `relay` submodule). A relay is a base of its own: it is paired,
//!   checked, nominated and selected like a host candidate, with its
//!   traffic wrapped for the TURN server.
//! * **Connectivity checks** (RFC 8445 §6–7): a checklist of pairs ordered
//!   by priority, frozen/waiting/in-progress/succeeded/failed with
//!   foundation unfreezing, a triggered-check queue, one new STUN
//!   transaction every Ta (50 ms), retransmissions with RTO =
//!   max(500 ms, Ta × active pairs) doubling, 4 retransmissions, failure
//!   9.5 s after the first send at the minimum RTO.
//! * **Authentication**: requests carry USERNAME `remote:local`, PRIORITY,
//!   the role attribute with the agent's random 64-bit tie-breaker,
//!   MESSAGE-INTEGRITY (remote password) and FINGERPRINT. Incoming requests
//!   are answered, and peer-reflexive candidates learned, only when
//!   FINGERPRINT, USERNAME `local_ufrag:*` and MESSAGE-INTEGRITY (local
//!   password) check out; anything else is dropped and counted. Responses
//!   are matched by transaction id, verified with the remote password, and
//!   must come from where the request went (symmetric).
//! * **Roles**: 487 role conflicts repaired both ways (RFC 8445 §7.3.1.1 and
//!   §7.2.5.1).
//! * **Nomination**: regular nomination by the controlling agent: once no
//!   pending pair could beat the best valid pair, or `nomination_timeout`
//!   after the first valid pair, that pair is checked again with
//!   USE-CANDIDATE and selected when the check succeeds. The controlled
//!   agent selects a pair when a USE-CANDIDATE request arrives on a valid
//!   pair, or when its own check of that pair succeeds afterwards (which
//!   also covers agents that nominate aggressively).
//! * **Trickle**: remote candidates at any time (before or after the
//!   credentials, during or after checks), end-of-candidates, a later
//!   signalled candidate upgrading a peer-reflexive one.
//! * **States**: `Checking` once the remote credentials are known and a
//!   host candidate exists; `Connected` when a pair is selected;
//!   `Completed` when, in addition, the remote end-of-candidates arrived
//!   and no pair is left to check; `Failed` when every pair failed after
//!   the remote end-of-candidates, when `failure_timeout` (10 s) passes
//!   after checks start without a valid pair, when three times that passes
//!   without a selection, or when consent expires.
//! * **Consent freshness** (RFC 7675; details in the `consent` submodule):
//!   checks every 5 s ±20 % (every 2.5 s while the remote is quiet),
//!   [`IceEvent::ConsentStale`] after 5 s without authenticated STUN from
//!   the remote, [`IceEvent::ConsentRestored`] when it resumes, `Failed`
//!   after 30 s without a response to our checks.
//! * **Demultiplexing** (RFC 7983): first byte 0–3 STUN, 20–63 DTLS, 64–79
//!   TURN ChannelData, anything else application data. DTLS and data are
//!   accepted only on a local base from a remote address that has
//!   authenticated itself (a valid pair's remote or the source of a
//!   verified check); the rest is dropped and counted.

mod checklist;
mod consent;
mod gather;
mod mtu_probe;
mod relay;
mod stun_io;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::ice::{Candidate, CandidateAddress, CandidateKind, IceError, PairState, Transport};
use crate::stun::txn::{RetransmitConfig, RetransmitTimer, TimerAction};
use crate::stun::{Class, Message, TransactionId};

use checklist::{CheckTxn, Checklist, Pair};
use consent::Consent;
use gather::{GatherTxn, Gatherer, Phase};
use relay::{Relay, RelayPhase};
use stun_io::{CheckParams, Demux, PeerRole, Refused};

pub use relay::RelayFailure;

use crate::turn::client::{TurnClient, TurnConfig, TurnEvent, TurnInput};
pub use mtu_probe::{MtuProbeResult, MAX_MTU_PROBE, MTU_PROBE_INTERVAL, MTU_PROBE_TRIES};

/// Most datagrams queued for the driver; [`IceAgent::send`] reports
/// [`IceError::WouldBlock`] beyond it (back-pressure, never silent loss).
pub const MAX_QUEUED_TRANSMITS: usize = 4096;

/// The component every candidate of this agent has (data channels use one).
pub const COMPONENT: u16 = 1;

/// The agent's role. The discriminants are the C `xIceRole` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Controlling = 0,
    Controlled = 1,
}

impl Role {
    /// The C enum value.
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn is_controlling(self) -> bool {
        self == Role::Controlling
    }

    /// The other role.
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
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Connected or Completed: a pair is selected and data can be sent.
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

pub use crate::datagram::Transmit;

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

#[derive(Debug, Clone)]
struct LocalCand {
    cand: Candidate,
    addr: SocketAddr,
    base: SocketAddr,
}

#[derive(Debug, Clone)]
struct RemoteCand {
    cand: Candidate,
    addr: SocketAddr,
    /// A verified check came from here, or a verified answer.
    authenticated: bool,
}

/// The next new STUN transaction the pacer would start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    Consent,
    Nominate(usize),
    Triggered(usize),
    Gather(usize),
    Ordinary(usize),
}

/// Most remote candidates an agent takes from signaling (descriptions and
/// trickled lines); more are refused with [`IceError::Limit`]. Peer-reflexive
/// candidates learned from checks are bounded separately by the same
/// number. Browsers signal a handful per interface and server; 100 leaves
/// room for many interfaces, relays and IPv6 while bounding memory and the
/// checklist work a peer can cause.
pub const MAX_REMOTE_CANDIDATES: usize = 100;

/// The ICE agent. See the module documentation.
#[derive(Debug)]
pub struct IceAgent {
    cfg: AgentConfig,
    role: Role,
    tie_breaker: u64,
    rng: StdRng,
    local_ufrag: String,
    local_pwd: String,
    remote_creds: Option<(String, String)>,
    locals: Vec<LocalCand>,
    remotes: Vec<RemoteCand>,
    /// Index of `remotes` by (address, component): adds and lookups by
    /// source address are O(1), whatever the number of candidates.
    remote_by_addr: HashMap<(SocketAddr, u16), usize>,
    /// Remote candidates from signaling, and learned peer-reflexive ones
    /// (each bounded by [`MAX_REMOTE_CANDIDATES`]).
    signalled_remotes: usize,
    prflx_remotes: usize,
    list: Checklist,
    gather: Gatherer,
    consent: Option<Consent>,
    state: IceState,
    selected: Option<usize>,
    remote_eoc: bool,
    checks_started: Option<Instant>,
    first_valid_at: Option<Instant>,
    nominate_next: Option<usize>,
    nominating: Option<usize>,
    consent_failed: bool,
    last_new_txn: Option<Instant>,
    last_now: Instant,
    dirty: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<IceEvent>,
    stats: AgentStats,
    prflx_seq: u32,
    relays: Vec<Relay>,
    /// TURN servers still being resolved (or connected) by the driver.
    turn_pending: usize,
    /// Of those, the ones over TCP or TLS
    /// ([`IceAgent::expect_stream_turn_server`]).
    stream_pending: usize,
    mtu_probe: Option<mtu_probe::MtuProbe>,
    mtu_results: VecDeque<MtuProbeResult>,
    peer_probe_max: usize,
}

const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_ice_string(rng: &mut StdRng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(ICE_CHARS[rng.gen_range(0..ICE_CHARS.len())]))
        .collect()
}

fn valid_ice_string(s: &str, min: usize) -> bool {
    (min..=256).contains(&s.len()) && s.bytes().all(|b| ICE_CHARS.contains(&b))
}

/// A legal ICE ufrag: 4 to 256 ice-chars (`ALPHA / DIGIT / + /`, RFC 8839
/// §5.4).
pub fn is_valid_ufrag(s: &str) -> bool {
    valid_ice_string(s, 4)
}

/// A legal ICE password: 22 to 256 ice-chars (RFC 8839 §5.4).
pub fn is_valid_pwd(s: &str) -> bool {
    valid_ice_string(s, 22)
}

/// The local preference encoded in a candidate priority.
fn local_pref_of(priority: u32) -> u16 {
    ((priority >> 8) & 0xFFFF) as u16
}

/// Logs what an event says (state changes are logged where they happen,
/// with their cause).
fn log_event(ev: &IceEvent) {
    match ev {
        IceEvent::StateChanged(_) | IceEvent::ConsentStale => {}
        IceEvent::LocalCandidate(c) => {
            log::info!(target: "ice", "local candidate {}", c.to_sdp_attribute());
        }
        IceEvent::GatheringComplete => log::info!(target: "ice", "gathering complete"),
        IceEvent::SelectedPair { local, remote } => {
            log::info!(target: "ice", "selected pair {local} -> {remote}");
        }
        IceEvent::RoleChanged(r) => log::info!(target: "ice", "role conflict: now {r:?}"),
        IceEvent::ConsentRestored => log::info!(target: "ice", "consent restored"),
        IceEvent::RelayFailed { server, reason } => match server {
            Some(s) => {
                log::warn!(target: "turn", "no relayed candidate from TURN server {s}: {reason}")
            }
            None => log::warn!(target: "turn", "no relayed candidate: {reason}"),
        },
    }
}

impl IceAgent {
    /// A new agent in state `New`. Fails with
    /// [`IceError::InvalidField`] for a given ufrag or password that is not
    /// made of 4 (22) to 256 ice-chars.
    pub fn new(config: AgentConfig, now: Instant) -> Result<IceAgent, IceError> {
        crate::logging::init();
        let mut rng = match config.rng_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let local_ufrag = match &config.ufrag {
            Some(u) if valid_ice_string(u, 4) => u.clone(),
            Some(_) => return Err(IceError::InvalidField("ufrag")),
            None => random_ice_string(&mut rng, 8),
        };
        let local_pwd = match &config.pwd {
            Some(p) if valid_ice_string(p, 22) => p.clone(),
            Some(_) => return Err(IceError::InvalidField("pwd")),
            None => random_ice_string(&mut rng, 24),
        };
        let tie_breaker = rng.gen();
        let relays = config
            .turn_servers
            .iter()
            .map(|t| Relay::new(TurnClient::new(t.clone()), None))
            .collect();
        Ok(IceAgent {
            role: config.role,
            cfg: config,
            tie_breaker,
            rng,
            local_ufrag,
            local_pwd,
            remote_creds: None,
            locals: Vec::new(),
            remotes: Vec::new(),
            remote_by_addr: HashMap::new(),
            signalled_remotes: 0,
            prflx_remotes: 0,
            list: Checklist::default(),
            gather: Gatherer::default(),
            consent: None,
            state: IceState::New,
            selected: None,
            remote_eoc: false,
            checks_started: None,
            first_valid_at: None,
            nominate_next: None,
            nominating: None,
            consent_failed: false,
            last_new_txn: None,
            last_now: now,
            dirty: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: AgentStats::default(),
            prflx_seq: 0,
            relays,
            turn_pending: 0,
            stream_pending: 0,
            mtu_probe: None,
            mtu_results: VecDeque::new(),
            peer_probe_max: 0,
        })
    }

    /// The local ufrag and password.
    pub fn local_credentials(&self) -> (&str, &str) {
        (&self.local_ufrag, &self.local_pwd)
    }

    pub fn state(&self) -> IceState {
        self.state
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn tie_breaker(&self) -> u64 {
        self.tie_breaker
    }

    pub fn stats(&self) -> AgentStats {
        self.stats
    }

    /// Host, server-reflexive and relayed local candidates (the ones
    /// signalled).
    pub fn local_candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.locals
            .iter()
            .filter(|l| l.cand.kind != CandidateKind::Prflx)
            .map(|l| &l.cand)
    }

    /// Every remote candidate, including learned peer-reflexive ones.
    pub fn remote_candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.remotes.iter().map(|r| &r.cand)
    }

    /// The selected pair as (local base socket, remote address).
    pub fn selected_pair(&self) -> Option<(SocketAddr, SocketAddr)> {
        let p = &self.list.pairs[self.selected?];
        Some((self.locals[p.local].addr, self.remotes[p.remote].addr))
    }

    /// The candidates of the selected valid pair (the local one may be
    /// server- or peer-reflexive; data leaves from its base).
    pub fn selected_candidates(&self) -> Option<(&Candidate, &Candidate)> {
        let p = &self.list.pairs[self.selected?];
        let local = p.valid_local.unwrap_or(p.local);
        Some((&self.locals[local].cand, &self.remotes[p.remote].cand))
    }

    /// When the selected pair's local candidate is relayed: the TURN
    /// server, and whether it is reached over a TCP or TLS connection
    /// (else UDP).
    pub fn selected_relay(&self) -> Option<(SocketAddr, bool)> {
        let p = &self.list.pairs[self.selected?];
        let local = p.valid_local.unwrap_or(p.local);
        let r = self.relays.iter().find(|r| r.local == Some(local))?;
        let stream = r.link.is_some_and(|l| self.host_index(l).is_none());
        Some((r.client.server(), stream))
    }

    /// The latest round-trip time measured on the selected pair: its
    /// connectivity check or the latest consent check answered.
    pub fn selected_rtt(&self) -> Option<Duration> {
        self.list.pairs[self.selected?].rtt
    }

    /// Whether the consent stale signal is raised (see
    /// [`IceEvent::ConsentStale`]).
    pub fn is_consent_stale(&self) -> bool {
        self.consent.as_ref().is_some_and(Consent::is_stale)
    }

    /// Whether remote end-of-candidates has been signalled.
    pub fn remote_end_of_candidates_received(&self) -> bool {
        self.remote_eoc
    }

    /// Registers a socket the driver bound at `base` as a host candidate
    /// (component 1, local preference 65535 minus its index) and returns
    /// it. Once gathering has started it is reported at once (and, while
    /// gathering runs, queried against the STUN servers). Registering the
    /// same base again returns the existing candidate.
    pub fn add_host_candidate(&mut self, base: SocketAddr) -> Candidate {
        if let Some(l) = self
            .locals
            .iter()
            .find(|l| l.cand.kind == CandidateKind::Host && l.addr == base)
        {
            return l.cand.clone();
        }
        let hosts = self
            .locals
            .iter()
            .filter(|l| l.cand.kind == CandidateKind::Host)
            .count();
        let pref = 65535u16.saturating_sub(u16::try_from(hosts).unwrap_or(u16::MAX));
        let cand = Candidate::host(base, COMPONENT, pref);
        self.locals.push(LocalCand {
            cand: cand.clone(),
            addr: base,
            base,
        });
        let idx = self.locals.len() - 1;
        if self.gather.started() {
            self.events
                .push_back(IceEvent::LocalCandidate(cand.clone()));
        }
        if self.gather.running() {
            self.queue_server_requests(base);
        }
        for r in 0..self.remotes.len() {
            self.form_pair(idx, r);
        }
        self.dirty = true;
        cand
    }

    /// Starts gathering: state `Gathering` (from `New`), every host
    /// candidate reported, server-reflexive requests queued.
    /// [`IceEvent::GatheringComplete`] follows when nothing is pending (at
    /// once without STUN servers) or at the gather timeout. A second call
    /// is [`IceError::InvalidState`].
    pub fn gather(&mut self, now: Instant) -> Result<(), IceError> {
        if self.gather.started() || self.state == IceState::Closed {
            return Err(IceError::InvalidState);
        }
        self.touch(now);
        if self.state == IceState::New {
            self.set_state(IceState::Gathering);
        }
        self.gather.phase = Phase::Running {
            deadline: Some(now + self.cfg.gather_timeout),
        };
        let hosts: Vec<LocalCand> = self
            .locals
            .iter()
            .filter(|l| l.cand.kind == CandidateKind::Host)
            .cloned()
            .collect();
        for h in hosts {
            self.events.push_back(IceEvent::LocalCandidate(h.cand));
            self.queue_server_requests(h.addr);
        }
        for ri in 0..self.relays.len() {
            self.start_relay(now, ri);
        }
        self.drive(now);
        Ok(())
    }

    /// Announces STUN servers that are still being resolved (names): until
    /// [`IceAgent::add_stun_servers`] delivers them, or the gather timeout
    /// passes, gathering does not complete. Call before [`IceAgent::gather`].
    pub fn expect_stun_servers(&mut self) {
        if !self.gather.started() {
            self.gather.servers_pending = true;
        }
    }

    /// Adds resolved STUN servers (possibly none, when resolution failed):
    /// while gathering runs, every host base asks them for its
    /// server-reflexive address.
    pub fn add_stun_servers(&mut self, now: Instant, servers: &[SocketAddr]) {
        self.touch(now);
        self.gather.servers_pending = false;
        self.cfg.stun_servers.extend_from_slice(servers);
        if self.gather.running() {
            let bases: Vec<SocketAddr> = self
                .locals
                .iter()
                .filter(|l| l.cand.kind == CandidateKind::Host)
                .map(|l| l.addr)
                .collect();
            for base in bases {
                self.queue_server_requests_to(base, servers);
            }
        }
        self.dirty = true;
        self.drive(now);
    }

    /// Announces `n` TURN servers the driver is still resolving: until each
    /// is delivered ([`IceAgent::add_turn_server`]) or reported
    /// unavailable ([`IceAgent::turn_server_unavailable`]), or the gather
    /// timeout passes, gathering does not complete. Call before
    /// [`IceAgent::gather`].
    pub fn expect_turn_servers(&mut self, n: usize) {
        if !self.gather.started() {
            self.turn_pending += n;
        }
    }

    /// Announces one TURN server over TCP or TLS that the driver is still
    /// resolving and connecting. Unlike a UDP server, the gather timeout
    /// does not give up on it: a TCP connect, a TLS handshake and two
    /// Allocate round trips on a slow path (or a loaded machine) take longer
    /// than 5 s, and over such restrictive networks the relay is often the
    /// only path. It ends with its connection ([`IceAgent::add_turn_server`]
    /// or [`IceAgent::turn_server_unavailable`]: the driver's connect timeout)
    /// and its requests' own timeout (RFC 5389 §7.2.2: 39.5 s).
    pub fn expect_stream_turn_server(&mut self) {
        if !self.gather.started() {
            self.turn_pending += 1;
            self.stream_pending += 1;
        }
    }

    /// Adds a resolved TURN server. `link` is the local address its
    /// messages go out from and arrive on (a host socket for UDP, the
    /// local address of the driver's TCP/TLS connection); `None` picks the first host base of
    /// the server's address family. The allocation starts with gathering
    /// (at once if gathering runs); a server added after gathering
    /// completed is reported as [`RelayFailure::GatherTimeout`].
    pub fn add_turn_server(&mut self, now: Instant, cfg: TurnConfig, link: Option<SocketAddr>) {
        self.touch(now);
        if self.state == IceState::Closed {
            return;
        }
        self.turn_pending = self.turn_pending.saturating_sub(1);
        let server = cfg.server;
        let relay = Relay::new(TurnClient::new(cfg), link);
        if relay.stream {
            self.stream_pending = self.stream_pending.saturating_sub(1);
        }
        self.relays.push(relay);
        let ri = self.relays.len() - 1;
        match self.gather.phase {
            Phase::NotStarted => {}
            Phase::Running { .. } => self.start_relay(now, ri),
            Phase::Complete => {
                self.relays[ri].phase = RelayPhase::Failed;
                self.report_relay_failure(Some(server), RelayFailure::GatherTimeout);
            }
        }
        self.dirty = true;
        self.drive(now);
    }

    /// A TURN server announced with [`IceAgent::expect_turn_servers`] will
    /// not come (its name did not resolve, its transport is not
    /// supported…): reported as [`IceEvent::RelayFailed`], and gathering
    /// no longer waits for it.
    pub fn turn_server_unavailable(&mut self, now: Instant, reason: RelayFailure) {
        self.touch(now);
        if self.state == IceState::Closed {
            return;
        }
        // Which announced server this was is not known here; a stream one
        // only when no other kind is still pending.
        if self.turn_pending <= self.stream_pending {
            self.stream_pending = self.stream_pending.saturating_sub(1);
        }
        self.turn_pending = self.turn_pending.saturating_sub(1);
        self.report_relay_failure(None, reason);
        self.dirty = true;
        self.drive(now);
    }

    /// The outcome of resolving a TURN server announced with
    /// [`IceAgent::expect_turn_servers`]: [`IceAgent::add_turn_server`]
    /// with its link (`None`: the first host base of its family), or
    /// [`IceAgent::turn_server_unavailable`].
    pub fn turn_server_resolved(
        &mut self,
        now: Instant,
        r: Result<(TurnConfig, Option<SocketAddr>), RelayFailure>,
    ) {
        match r {
            Ok((cfg, link)) => self.add_turn_server(now, cfg, link),
            Err(why) => self.turn_server_unavailable(now, why),
        }
    }

    /// The TURN clients of the configured servers (state, relayed address,
    /// permissions, channels, counters), for diagnostics and tests.
    pub fn turn_clients(&self) -> impl Iterator<Item = &TurnClient> {
        self.relays.iter().map(|r| &r.client)
    }

    /// Sets the peer's ufrag and password (from its description).
    pub fn set_remote_credentials(&mut self, ufrag: &str, pwd: &str) {
        self.remote_creds = Some((ufrag.to_string(), pwd.to_string()));
        self.dirty = true;
    }

    /// Adds a remote candidate, at any time (trickle ICE). UDP candidates
    /// with IP addresses only: TCP candidates and unresolved mDNS names
    /// are refused with [`IceError::Unsupported`], candidates that can never
    /// be reached (port 0, unspecified, broadcast or multicast address) with
    /// [`IceError::InvalidField`], and a new candidate beyond
    /// [`MAX_REMOTE_CANDIDATES`] with [`IceError::Limit`]. A candidate whose
    /// address is already known as peer-reflexive replaces it (the pair
    /// keeps its state). After a failure of the checks (not of consent),
    /// a new candidate restarts checking. O(1) amortised: no scan of the
    /// candidates added before.
    pub fn add_remote_candidate(&mut self, now: Instant, cand: Candidate) -> Result<(), IceError> {
        if self.state == IceState::Closed {
            return Err(IceError::InvalidState);
        }
        if cand.transport != Transport::Udp {
            return Err(IceError::Unsupported("tcp candidate"));
        }
        if let Some(why) = cand.address.unreachable_reason() {
            return Err(IceError::InvalidField(why));
        }
        let Some(addr) = cand.address.socket_addr() else {
            return Err(IceError::Unsupported("mdns candidate"));
        };
        let known = self.remote_by_addr.get(&(addr, cand.component)).copied();
        let signalled_prflx = cand.kind == CandidateKind::Prflx;
        match known {
            Some(i) if self.remotes[i].cand.kind == CandidateKind::Prflx && !signalled_prflx => {
                if self.signalled_remotes >= MAX_REMOTE_CANDIDATES {
                    return Err(IceError::Limit("remote candidates"));
                }
                self.touch(now);
                self.signalled_remotes += 1;
                self.prflx_remotes = self.prflx_remotes.saturating_sub(1);
                self.remotes[i].cand = cand;
                self.stats.prflx_upgraded += 1;
                self.refresh_pairs_of_remote(i);
            }
            Some(i) => {
                self.touch(now);
                if cand.priority > self.remotes[i].cand.priority {
                    self.remotes[i].cand.priority = cand.priority;
                    self.refresh_pairs_of_remote(i);
                }
            }
            None => {
                if self.signalled_remotes >= MAX_REMOTE_CANDIDATES {
                    return Err(IceError::Limit("remote candidates"));
                }
                self.touch(now);
                self.signalled_remotes += 1;
                let r = self.push_remote(RemoteCand {
                    cand,
                    addr,
                    authenticated: false,
                });
                for l in 0..self.locals.len() {
                    self.form_pair(l, r);
                }
            }
        }
        if self.state == IceState::Failed && !self.consent_failed && self.remote_creds.is_some() {
            self.set_state(IceState::Checking);
            self.checks_started = Some(now);
        }
        self.drive(now);
        Ok(())
    }

    /// Appends a remote candidate and indexes it; returns its index.
    fn push_remote(&mut self, r: RemoteCand) -> usize {
        let i = self.remotes.len();
        self.remote_by_addr.insert((r.addr, r.cand.component), i);
        self.remotes.push(r);
        i
    }

    /// The peer signalled end-of-candidates.
    pub fn remote_end_of_candidates(&mut self) {
        self.remote_eoc = true;
        self.dirty = true;
    }

    /// Sets the role (meant for before checks start; role conflicts are
    /// repaired by the agent itself).
    pub fn set_role(&mut self, role: Role) {
        if role != self.role {
            self.apply_role(role);
        }
        self.dirty = true;
    }

    /// Sends `data` on the selected pair. [`IceError::InvalidState`] unless
    /// `Connected` or `Completed`; [`IceError::WouldBlock`] while
    /// [`MAX_QUEUED_TRANSMITS`] datagrams wait to be polled.
    pub fn send(&mut self, data: &[u8]) -> Result<(), IceError> {
        let (local, dest) = self.data_path()?;
        if !self.push_transmit(local, dest, data) {
            return Err(IceError::WouldBlock);
        }
        self.stats.data_sent += 1;
        Ok(())
    }

    /// [`send`](Self::send) of a buffer the caller is done with (from
    /// [`crate::datagram::buffer`]): on a direct pair it becomes the
    /// transmit's own, uncopied; a relayed or refused one goes back to the
    /// pool.
    pub fn send_buffer(&mut self, data: Vec<u8>) -> Result<(), IceError> {
        let (local, dest) = match self.data_path() {
            Ok(pair) => pair,
            Err(e) => {
                crate::datagram::recycle(data);
                return Err(e);
            }
        };
        if self.relay_of_base(local).is_some() {
            let ok = self.push_transmit(local, dest, &data);
            crate::datagram::recycle(data);
            if !ok {
                return Err(IceError::WouldBlock);
            }
        } else {
            self.transmits.push_back(Transmit { local, dest, data });
        }
        self.stats.data_sent += 1;
        Ok(())
    }

    /// The selected pair, when data may be queued on it.
    fn data_path(&self) -> Result<(SocketAddr, SocketAddr), IceError> {
        if !self.state.is_connected() {
            return Err(IceError::InvalidState);
        }
        let pair = self.selected_pair().ok_or(IceError::InvalidState)?;
        if self.transmits.len() >= MAX_QUEUED_TRANSMITS {
            return Err(IceError::WouldBlock);
        }
        Ok(pair)
    }

    /// Stops everything: state `Closed`, nothing more is sent.
    pub fn close(&mut self) {
        if self.state == IceState::Closed {
            return;
        }
        self.transmits.clear();
        self.consent = None;
        self.selected = None;
        self.nominate_next = None;
        self.nominating = None;
        for p in &mut self.list.pairs {
            p.check = None;
        }
        self.list.triggered.clear();
        self.gather.txns.clear();
        let now = self.last_now;
        for ri in 0..self.relays.len() {
            if self.relays[ri].active() {
                // A Refresh with LIFETIME 0: the one datagram still sent.
                self.relays[ri].client.close(now);
                self.relays[ri].phase = RelayPhase::Failed;
                self.drain_relay(ri);
            }
        }
        self.mtu_probe = None;
        self.set_state(IceState::Closed);
    }

    /// Feeds a datagram that arrived on the socket bound at `local` from
    /// `from`. Never panics; bad input is [`Received::Dropped`] and counted.
    /// For [`Received::Dtls`] and [`Received::Data`] the payload is `data`
    /// itself unless it came through a TURN relay: callers that pass
    /// payloads on use [`IceAgent::handle_datagram_payload`].
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) -> Received {
        self.handle_datagram_payload(now, local, from, data)
            .received
    }

    /// [`IceAgent::handle_datagram`], also returning the payload and its
    /// sender: `data` from `from`, or, for what a TURN server relayed
    /// (ChannelData or a Data indication from the server on its link), the
    /// bytes inside from the peer, which are handled as if they had arrived
    /// on the relayed address.
    pub fn handle_datagram_payload<'a>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &'a [u8],
    ) -> Incoming<'a> {
        let direct = |received| Incoming {
            received,
            payload: data,
            from,
        };
        self.stats.datagrams_received += 1;
        self.stats.bytes_received += data.len() as u64;
        self.touch(now);
        if self.state == IceState::Closed {
            self.stats.dropped_other += 1;
            return direct(Received::Dropped);
        }
        if let Some(ri) = self.relays.iter().position(|r| r.is_server(local, from)) {
            match self.relays[ri].client.handle_input(now, from, data) {
                TurnInput::NotMine => {}
                TurnInput::Consumed => {
                    self.run_relay(now, ri);
                    self.drive(now);
                    return direct(Received::Consumed);
                }
                TurnInput::Data { peer, data: inner } => {
                    let r = match self.relays[ri].relayed() {
                        Some(relayed) => self.receive(now, relayed, peer, inner),
                        None => {
                            self.stats.dropped_other += 1;
                            Received::Dropped
                        }
                    };
                    self.run_relay(now, ri);
                    self.drive(now);
                    return Incoming {
                        received: r,
                        payload: inner,
                        from: peer,
                    };
                }
            }
        }
        let r = self.receive(now, local, from, data);
        self.drive(now);
        direct(r)
    }

    /// Demultiplexes one datagram (or relayed payload) on base `local`.
    fn receive(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) -> Received {
        let Some(&first) = data.first() else {
            self.stats.dropped_malformed += 1;
            return Received::Dropped;
        };
        match stun_io::demux(first) {
            Demux::Stun => self.on_stun(now, local, from, data),
            Demux::ChannelData => Received::ChannelData,
            Demux::Dtls | Demux::Other => {
                if !self.is_authenticated_source(local, from) {
                    log::debug!(target: "ice", "dropped {} bytes from {from} on {local}: not an authenticated peer", data.len());
                    self.stats.dropped_unknown_source += 1;
                    Received::Dropped
                } else if stun_io::demux(first) == Demux::Dtls {
                    Received::Dtls
                } else {
                    self.stats.data_received += 1;
                    Received::Data
                }
            }
        }
    }

    /// Advances the timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        self.drive(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.transmits.pop_front()?;
        self.stats.datagrams_sent += 1;
        self.stats.bytes_sent += t.data.len() as u64;
        Some(t)
    }

    pub fn poll_event(&mut self) -> Option<IceEvent> {
        let ev = self.events.pop_front()?;
        log_event(&ev);
        Some(ev)
    }

    /// When [`IceAgent::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timer().map(|(_, t)| t)
    }

    /// The earliest named timer and its deadline.
    pub fn next_timer(&self) -> Option<(Timer, Instant)> {
        let mut best: Option<(Timer, Instant)> = None;
        let mut consider = |t: Timer, at: Option<Instant>| {
            if let Some(at) = at {
                if best.is_none_or(|(_, b)| at < b) {
                    best = Some((t, at));
                }
            }
        };
        if self.state == IceState::Closed {
            return None;
        }
        if self.dirty {
            consider(Timer::Immediate, Some(self.last_now));
        }
        if let Phase::Running { deadline } = self.gather.phase {
            consider(Timer::GatherTimeout, deadline);
            consider(Timer::GatherRetransmit, self.gather.deadline());
        }
        let pacer_ready = self.last_new_txn.map(|t| t + self.cfg.ta);
        if self.next_work(None).is_some() {
            consider(Timer::Pacing, Some(pacer_ready.unwrap_or(self.last_now)));
        }
        let relay = self
            .relays
            .iter()
            .filter(|r| r.active())
            .filter_map(|r| r.client.poll_timeout())
            .min();
        consider(Timer::Relay, relay);
        if self.state == IceState::Failed {
            return best;
        }
        let retransmit = self
            .list
            .pairs
            .iter()
            .filter_map(|p| p.check.as_ref().and_then(|c| c.timer.poll_timeout()))
            .min();
        consider(Timer::CheckRetransmit, retransmit);
        consider(
            Timer::MtuProbe,
            self.mtu_probe.as_ref().map(mtu_probe::MtuProbe::deadline),
        );
        if let (Some(c), Some(_)) = (&self.consent, self.selected) {
            let due = c.due(self.cfg.consent_stale);
            let due = pacer_ready.map_or(due, |p| due.max(p));
            consider(Timer::ConsentCheck, Some(due));
            consider(
                Timer::ConsentStale,
                c.stale_deadline(self.cfg.consent_stale),
            );
            consider(Timer::ConsentExpiry, Some(c.expires()));
        }
        if self.nomination_pending() {
            if let Some(first) = self.first_valid_at {
                consider(Timer::Nomination, Some(first + self.cfg.nomination_timeout));
            }
        }
        if self.state == IceState::Checking && self.selected.is_none() {
            if let Some(start) = self.checks_started {
                let bound = if self.list.any_valid() {
                    self.cfg.failure_timeout * 3
                } else {
                    self.cfg.failure_timeout
                };
                consider(Timer::CheckFailure, Some(start + bound));
            }
        }
        best
    }

    // ----- internals -----

    fn touch(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
    }

    fn set_state(&mut self, s: IceState) {
        if self.state != s {
            log::info!(target: "ice", "state {:?} -> {s:?}", self.state);
            self.state = s;
            self.events.push_back(IceEvent::StateChanged(s));
        }
    }

    fn new_txn_id(&mut self) -> TransactionId {
        self.rng.gen()
    }

    fn host_index(&self, addr: SocketAddr) -> Option<usize> {
        self.locals
            .iter()
            .position(|l| l.cand.kind == CandidateKind::Host && l.addr == addr)
    }

    fn remote_index(&self, addr: SocketAddr) -> Option<usize> {
        self.remote_by_addr.get(&(addr, COMPONENT)).copied()
    }

    /// The local base (host or relayed candidate) at `addr`.
    fn base_index(&self, addr: SocketAddr) -> Option<usize> {
        self.locals.iter().position(|l| {
            matches!(l.cand.kind, CandidateKind::Host | CandidateKind::Relay) && l.addr == addr
        })
    }

    fn is_authenticated_source(&self, local: SocketAddr, from: SocketAddr) -> bool {
        self.base_index(local).is_some()
            && self
                .remote_index(from)
                .is_some_and(|r| self.remotes[r].authenticated)
    }

    fn queue_server_requests(&mut self, base: SocketAddr) {
        let servers = self.cfg.stun_servers.clone();
        self.queue_server_requests_to(base, &servers);
    }

    fn queue_server_requests_to(&mut self, base: SocketAddr, servers: &[SocketAddr]) {
        let servers: Vec<SocketAddr> = servers
            .iter()
            .copied()
            .filter(|s| s.is_ipv4() == base.is_ipv4())
            .collect();
        for server in servers {
            let id = self.new_txn_id();
            if let Ok(bytes) = stun_io::build_server_request(&id) {
                self.gather.txns.push(GatherTxn {
                    id,
                    base,
                    server,
                    bytes,
                    timer: None,
                });
            }
        }
    }

    fn pair_priority(&self, local_prio: u32, remote_prio: u32) -> u64 {
        if self.role.is_controlling() {
            crate::ice::pair_priority(local_prio, remote_prio)
        } else {
            crate::ice::pair_priority(remote_prio, local_prio)
        }
    }

    /// Pairs local base `l` with remote `r` when they match (host or
    /// usable relayed local, same component and family) and the pair does
    /// not exist yet. A relayed local asks its server for a permission for
    /// the remote's address right away, so the first check can pass.
    fn form_pair(&mut self, l: usize, r: usize) -> Option<usize> {
        let relay = match self.locals[l].cand.kind {
            CandidateKind::Host => None,
            CandidateKind::Relay => Some(self.relay_of_base(self.locals[l].addr)?),
            _ => return None,
        };
        let (lc, rc) = (&self.locals[l], &self.remotes[r]);
        if lc.cand.component != rc.cand.component || lc.addr.is_ipv4() != rc.addr.is_ipv4() {
            return None;
        }
        if let Some(p) = self.list.find(l, r) {
            return Some(p);
        }
        let priority = self.pair_priority(lc.cand.priority, rc.cand.priority);
        let foundation = format!("{}:{}", lc.cand.foundation, rc.cand.foundation);
        let raddr = rc.addr;
        let added = self
            .list
            .add(Pair::new(l, r, priority, foundation), self.cfg.max_pairs);
        if added.is_none() {
            self.stats.pairs_dropped += 1;
        }
        if let (Some(ri), Some(_)) = (relay, added) {
            self.relay_permit(ri, raddr);
        }
        self.dirty = true;
        added
    }

    /// Recomputes priority, foundation and valid priority of a pair.
    fn refresh_pair(&mut self, pi: usize) {
        let p = &self.list.pairs[pi];
        let (lc, rc) = (&self.locals[p.local].cand, &self.remotes[p.remote].cand);
        let priority = self.pair_priority(lc.priority, rc.priority);
        let foundation = format!("{}:{}", lc.foundation, rc.foundation);
        let valid_priority = p
            .valid_local
            .map(|v| self.pair_priority(self.locals[v].cand.priority, rc.priority))
            .unwrap_or(0);
        let p = &mut self.list.pairs[pi];
        p.priority = priority;
        p.foundation = foundation;
        p.valid_priority = valid_priority;
    }

    fn refresh_pairs_of_remote(&mut self, r: usize) {
        for pi in 0..self.list.pairs.len() {
            if self.list.pairs[pi].remote == r {
                self.refresh_pair(pi);
            }
        }
    }

    fn apply_role(&mut self, role: Role) {
        self.role = role;
        for pi in 0..self.list.pairs.len() {
            self.refresh_pair(pi);
        }
        if !role.is_controlling() {
            self.nominate_next = None;
            self.nominating = None;
        }
    }

    /// Switches role after a conflict and reports it.
    fn switch_role(&mut self, role: Role) {
        if role != self.role {
            self.apply_role(role);
            self.events.push_back(IceEvent::RoleChanged(role));
        }
    }

    fn on_stun(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) -> Received {
        let Ok(msg) = Message::parse(data) else {
            log::debug!(target: "ice", "dropped malformed STUN ({} bytes) from {from}", data.len());
            self.stats.dropped_malformed += 1;
            return Received::Dropped;
        };
        if msg.method() != crate::stun::method::BINDING {
            self.stats.dropped_other += 1;
            return Received::Dropped;
        }
        if self.state == IceState::Failed {
            self.stats.dropped_other += 1;
            return Received::Dropped;
        }
        match msg.class() {
            Class::Request => self.on_request(now, local, from, &msg),
            // Binding indications are keepalives: nothing to do.
            Class::Indication => Received::Consumed,
            Class::SuccessResponse | Class::ErrorResponse => {
                self.on_response(now, local, from, &msg)
            }
        }
    }

    fn respond(
        &mut self,
        local: SocketAddr,
        dest: SocketAddr,
        bytes: Result<Vec<u8>, crate::stun::StunError>,
    ) {
        if let Ok(data) = bytes {
            self.push_transmit(local, dest, &data);
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Received {
        let Some(li) = self.base_index(local) else {
            self.stats.dropped_unknown_source += 1;
            return Received::Dropped;
        };
        let req = match stun_io::verify_request(msg, &self.local_ufrag, &self.local_pwd) {
            Ok(r) => r,
            Err(Refused::Unauthenticated) => {
                log::debug!(target: "ice", "dropped Binding request from {from}: USERNAME or MESSAGE-INTEGRITY does not check out");
                self.stats.dropped_unauthenticated += 1;
                return Received::Dropped;
            }
            Err(Refused::Malformed) => {
                log::debug!(target: "ice", "dropped Binding request from {from}: bad ICE attributes");
                self.stats.dropped_malformed += 1;
                return Received::Dropped;
            }
        };
        let txn = *msg.transaction_id();
        self.note_peer_probe(msg);
        // Role conflicts, RFC 8445 §7.3.1.1.
        match (self.role, req.role) {
            (Role::Controlling, Some(PeerRole::Controlling(theirs))) => {
                self.stats.role_conflicts += 1;
                if self.tie_breaker >= theirs {
                    let e =
                        stun_io::build_error(&txn, 487, "Role Conflict", self.local_pwd.as_bytes());
                    self.respond(local, from, e);
                    return Received::Consumed;
                }
                self.switch_role(Role::Controlled);
            }
            (Role::Controlled, Some(PeerRole::Controlled(theirs))) => {
                self.stats.role_conflicts += 1;
                if self.tie_breaker >= theirs {
                    self.switch_role(Role::Controlling);
                } else {
                    let e =
                        stun_io::build_error(&txn, 487, "Role Conflict", self.local_pwd.as_bytes());
                    self.respond(local, from, e);
                    return Received::Consumed;
                }
            }
            _ => {}
        }
        let ok = stun_io::build_success(&txn, from, self.local_pwd.as_bytes());
        self.respond(local, from, ok);
        self.stats.requests_answered += 1;

        // Learn the source (RFC 8445 §7.3.1.3).
        let ri = match self.remote_index(from) {
            Some(r) => r,
            None if self.prflx_remotes >= MAX_REMOTE_CANDIDATES => {
                self.stats.prflx_remote_refused += 1;
                return Received::Consumed;
            }
            None => {
                self.prflx_seq += 1;
                self.prflx_remotes += 1;
                self.stats.prflx_remote_learned += 1;
                self.push_remote(RemoteCand {
                    cand: Candidate {
                        foundation: format!("prflx{}", self.prflx_seq),
                        component: COMPONENT,
                        transport: Transport::Udp,
                        priority: req.priority,
                        kind: CandidateKind::Prflx,
                        address: CandidateAddress::Ip(from),
                        related: None,
                        tcp_type: None,
                        extensions: Vec::new(),
                    },
                    addr: from,
                    authenticated: true,
                })
            }
        };
        self.remotes[ri].authenticated = true;
        let Some(pi) = self.form_pair(li, ri) else {
            return Received::Consumed;
        };
        // Triggered check, RFC 8445 §7.3.1.4.
        if !matches!(
            self.list.pairs[pi].state,
            PairState::Succeeded | PairState::InProgress
        ) {
            self.list.trigger(pi);
        }
        if req.use_candidate && self.role == Role::Controlled {
            if self.list.pairs[pi].is_valid() {
                self.nominate(now, pi);
            } else {
                self.list.pairs[pi].nominate_on_success = true;
            }
        }
        if self.selected == Some(pi) {
            self.consent_alive(now);
        }
        Received::Consumed
    }

    fn on_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Received {
        let id = *msg.transaction_id();
        if self.owns_mtu_probe(&id) {
            return self.on_mtu_probe_response(local, from, msg);
        }
        if let Some(pi) = self.list.find_txn(&id) {
            return self.on_check_response(now, local, from, msg, pi);
        }
        if self.consent.as_ref().is_some_and(|c| c.owns(&id)) {
            return self.on_consent_response(now, local, from, msg);
        }
        if let Some(gi) = self.gather.find(&id) {
            return self.on_server_response(local, from, msg, gi);
        }
        log::debug!(target: "ice", "dropped STUN response from {from}: no matching transaction");
        self.stats.dropped_unmatched += 1;
        Received::Dropped
    }

    fn on_check_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
        pi: usize,
    ) -> Received {
        let authentic = self
            .remote_creds
            .as_ref()
            .is_some_and(|(_, pwd)| stun_io::verify_response(msg, pwd));
        if !authentic {
            // Leave the transaction running: the real answer may follow.
            log::debug!(target: "ice", "dropped check response from {from}: integrity does not check out");
            self.stats.dropped_unauthenticated += 1;
            return Received::Dropped;
        }
        let (base, raddr) = {
            let p = &self.list.pairs[pi];
            (self.locals[p.local].addr, self.remotes[p.remote].addr)
        };
        let Some(txn) = self.list.pairs[pi].check.take() else {
            return Received::Consumed;
        };
        if from != raddr || local != base {
            // Not symmetric (RFC 8445 §7.2.5.2.1).
            log::debug!(target: "ice", "check {base} -> {raddr} failed: answer from {from} to {local}, not symmetric");
            self.fail_pair(pi);
            return Received::Consumed;
        }
        if msg.class() == Class::ErrorResponse {
            let code = stun_io::error_code(msg);
            log::debug!(target: "ice", "check {base} -> {raddr}: error response {}", code.map_or_else(|| "without ERROR-CODE".into(), |c| c.to_string()));
            if code == Some(487) {
                // RFC 8445 §7.2.5.1: take the other role, check again.
                self.stats.role_conflicts += 1;
                if self.role == txn.role {
                    self.switch_role(txn.role.opposite());
                }
                let p = &mut self.list.pairs[pi];
                if p.state != PairState::Succeeded {
                    p.state = PairState::Waiting;
                }
                if txn.use_candidate && self.role.is_controlling() {
                    self.nominate_next = Some(pi);
                } else if p.state == PairState::Waiting {
                    self.list.trigger(pi);
                }
                if self.nominating == Some(pi) {
                    self.nominating = None;
                }
            } else {
                self.fail_pair(pi);
            }
            return Received::Consumed;
        }
        let Some(mapped) = stun_io::mapped_address(msg) else {
            self.stats.dropped_malformed += 1;
            self.fail_pair(pi);
            return Received::Consumed;
        };
        // The valid pair's local candidate (RFC 8445 §7.2.5.3.1).
        let vl = match self
            .locals
            .iter()
            .position(|l| l.addr == mapped && l.base == base)
        {
            Some(v) => v,
            None => {
                let base_cand = &self.locals[self.list.pairs[pi].local].cand;
                let mut c =
                    Candidate::prflx(mapped, base, COMPONENT, local_pref_of(base_cand.priority));
                c.priority = txn.priority;
                self.locals.push(LocalCand {
                    cand: c,
                    addr: mapped,
                    base,
                });
                self.stats.prflx_local_learned += 1;
                self.locals.len() - 1
            }
        };
        let rtt =
            (txn.timer.retransmits() == 0).then(|| now.saturating_duration_since(txn.sent_at));
        log::debug!(target: "ice", "check {base} -> {raddr} succeeded (mapped {mapped}{}, rtt {})", if txn.use_candidate { ", nomination" } else { "" }, rtt.map_or_else(|| "unknown".into(), |r| format!("{r:?}")));
        let foundation = {
            let p = &mut self.list.pairs[pi];
            p.state = PairState::Succeeded;
            p.valid_local = Some(vl);
            if rtt.is_some() {
                p.rtt = rtt;
            }
            p.foundation.clone()
        };
        self.refresh_pair(pi);
        let r = self.list.pairs[pi].remote;
        self.remotes[r].authenticated = true;
        self.list.unfreeze_foundation(&foundation);
        self.first_valid_at.get_or_insert(now);
        if self.nominating == Some(pi) {
            self.nominating = None;
        }
        let nominate = (txn.use_candidate && self.role.is_controlling())
            || (self.list.pairs[pi].nominate_on_success && !self.role.is_controlling());
        if nominate {
            self.nominate(now, pi);
        } else if self.selected == Some(pi) {
            self.consent_alive(now);
            self.consent_granted(now);
        }
        Received::Consumed
    }

    fn on_consent_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Received {
        let authentic = self
            .remote_creds
            .as_ref()
            .is_some_and(|(_, pwd)| stun_io::verify_response(msg, pwd));
        if !authentic {
            self.stats.dropped_unauthenticated += 1;
            return Received::Dropped;
        }
        if self.selected_pair() != Some((local, from)) {
            self.stats.dropped_other += 1;
            return Received::Dropped;
        }
        if msg.class() == Class::SuccessResponse {
            let rtt = self
                .consent
                .as_ref()
                .and_then(|c| c.rtt_of(msg.transaction_id(), now));
            if let (Some(pi), Some(rtt)) = (self.selected, rtt) {
                self.list.pairs[pi].rtt = Some(rtt);
            }
            log::trace!(target: "ice", "consent granted by {from} (rtt {rtt:?})");
            self.consent_alive(now);
            self.consent_granted(now);
        } else {
            log::debug!(target: "ice", "consent check answered with error {:?} by {from}", stun_io::error_code(msg));
        }
        Received::Consumed
    }

    fn on_server_response(
        &mut self,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
        gi: usize,
    ) -> Received {
        let t = &self.gather.txns[gi];
        if from != t.server || local != t.base {
            self.stats.dropped_other += 1;
            return Received::Dropped;
        }
        if msg.has_fingerprint() && msg.verify_fingerprint().is_err() {
            self.stats.dropped_malformed += 1;
            return Received::Dropped;
        }
        let t = self.gather.txns.remove(gi);
        if msg.class() == Class::SuccessResponse {
            match stun_io::mapped_address(msg) {
                Some(mapped) => self.add_srflx(mapped, t.base, t.server),
                None => {
                    log::warn!(target: "ice", "STUN server {} answered {} without a mapped address", t.server, t.base);
                    self.stats.dropped_malformed += 1
                }
            }
        } else {
            log::warn!(target: "ice", "STUN server {} refused the Binding request from {}: error {}", t.server, t.base, stun_io::error_code(msg).map_or_else(|| "without ERROR-CODE".into(), |c| c.to_string()));
        }
        self.dirty = true;
        Received::Consumed
    }

    fn add_srflx(&mut self, mapped: SocketAddr, base: SocketAddr, server: SocketAddr) {
        if mapped == base
            || self
                .locals
                .iter()
                .any(|l| l.addr == mapped && l.base == base)
        {
            return;
        }
        let Some(host) = self.host_index(base) else {
            return;
        };
        let pref = local_pref_of(self.locals[host].cand.priority);
        let cand = Candidate::srflx(mapped, base, server, COMPONENT, pref);
        self.locals.push(LocalCand {
            cand: cand.clone(),
            addr: mapped,
            base,
        });
        self.events.push_back(IceEvent::LocalCandidate(cand));
    }

    fn fail_pair(&mut self, pi: usize) {
        let p = &mut self.list.pairs[pi];
        p.state = PairState::Failed;
        p.check = None;
        p.nominated = false;
        if self.nominating == Some(pi) {
            self.nominating = None;
        }
        if self.nominate_next == Some(pi) {
            self.nominate_next = None;
        }
    }

    /// Marks pair `pi` nominated and selects it.
    fn nominate(&mut self, now: Instant, pi: usize) {
        self.list.pairs[pi].nominated = true;
        if log::log_enabled!(target: "ice", log::Level::Debug) {
            let p = &self.list.pairs[pi];
            log::debug!(target: "ice", "pair {} -> {} nominated ({})", self.locals[p.local].addr, self.remotes[p.remote].addr, if self.role.is_controlling() { "by us" } else { "by the peer" });
        }
        if self.selected != Some(pi) {
            self.selected = Some(pi);
            self.bind_selected_channel(now);
            if let Some((local, remote)) = self.selected_pair() {
                self.events
                    .push_back(IceEvent::SelectedPair { local, remote });
            }
            let first = self.consent_interval();
            match &mut self.consent {
                None => {
                    self.consent = Some(Consent::new(now, first, self.cfg.consent_timeout));
                }
                Some(_) => {
                    self.consent_alive(now);
                    self.consent_granted(now);
                }
            }
        }
        if !self.state.is_connected() {
            self.set_state(IceState::Connected);
        }
    }

    /// A consent interval: the configured mean ±20 %.
    fn consent_interval(&mut self) -> Duration {
        self.cfg
            .consent_interval
            .mul_f64(self.rng.gen_range(0.8..=1.2))
    }

    fn consent_alive(&mut self, now: Instant) {
        if let Some(c) = &mut self.consent {
            if c.on_alive(now) {
                self.events.push_back(IceEvent::ConsentRestored);
            }
        }
    }

    fn consent_granted(&mut self, now: Instant) {
        let timeout = self.cfg.consent_timeout;
        if let Some(c) = &mut self.consent {
            c.on_granted(now, timeout);
        }
    }

    fn nomination_pending(&self) -> bool {
        self.role.is_controlling()
            && self.selected.is_none()
            && self.nominating.is_none()
            && self.nominate_next.is_none()
            && self.state == IceState::Checking
            && self.list.any_valid()
    }

    /// Everything time-driven, in order; then at most one new transaction.
    fn drive(&mut self, now: Instant) {
        self.dirty = false;
        if self.state == IceState::Closed {
            return;
        }
        if matches!(self.state, IceState::New | IceState::Gathering)
            && self.remote_creds.is_some()
            && self.host_index_any()
        {
            self.set_state(IceState::Checking);
            self.checks_started = Some(now);
        }
        self.run_relay_timers(now);
        self.run_gather_timers(now);
        if self.state != IceState::Failed {
            self.run_check_timers(now);
            self.run_consent_timers(now);
            self.run_mtu_probe_timer(now);
        }
        if self.state != IceState::Failed {
            self.decide_nomination(now);
            self.check_failure(now);
        }
        self.pace(now);
        if self.state == IceState::Connected
            && self.remote_eoc
            && self.list.all_done()
            && self.nominating.is_none()
            && self.nominate_next.is_none()
        {
            self.set_state(IceState::Completed);
        }
    }

    /// Queues a datagram from base `local`: from a host socket as it is,
    /// from a relayed address through its TURN client (a Send indication,
    /// or ChannelData once a channel is bound). False when the TURN client
    /// refused it (no permission possible, queue full).
    fn push_transmit(&mut self, local: SocketAddr, dest: SocketAddr, data: &[u8]) -> bool {
        let Some(ri) = self.relay_of_base(local) else {
            self.transmits.push_back(Transmit {
                local,
                dest,
                data: crate::datagram::buffer_from(data),
            });
            return true;
        };
        let now = self.last_now;
        self.relay_permit(ri, dest);
        let ok = self.relays[ri].client.send_to(now, dest, data).is_ok();
        self.drain_relay(ri);
        ok
    }

    /// The usable relay whose relayed address is `addr`.
    fn relay_of_base(&self, addr: SocketAddr) -> Option<usize> {
        self.relays.iter().position(|r| r.relayed() == Some(addr))
    }

    /// Makes sure relay `ri` has (asked for) a permission for `peer`.
    fn relay_permit(&mut self, ri: usize, peer: SocketAddr) {
        let now = self.last_now;
        let c = &mut self.relays[ri].client;
        if !c.has_permission(peer.ip()) {
            // The only refusal is the 16-permission table being full; the
            // checks through this relay to that peer then fail.
            let _ = c.create_permission(now, peer.ip());
            self.drain_relay(ri);
        }
    }

    /// When the selected pair's local is relayed, binds a channel to its
    /// remote so data goes as ChannelData (4 bytes of overhead instead of
    /// 36); Send indications carry it until the bind succeeds.
    fn bind_selected_channel(&mut self, now: Instant) {
        let Some((local, remote)) = self.selected_pair() else {
            return;
        };
        let Some(ri) = self.relay_of_base(local) else {
            return;
        };
        let c = &mut self.relays[ri].client;
        if c.channel_for(remote).is_none() {
            // Refused only when the channel table is full: Send
            // indications keep carrying the data.
            let _ = c.bind_channel(now, remote);
            self.drain_relay(ri);
        }
    }

    /// Moves what relay `ri`'s TURN client wants sent onto its link.
    fn drain_relay(&mut self, ri: usize) {
        let r = &mut self.relays[ri];
        let Some(link) = r.link else {
            while r.client.poll_transmit().is_some() {}
            return;
        };
        let server = r.client.server();
        while let Some(data) = r.client.poll_transmit() {
            self.transmits.push_back(Transmit {
                local: link,
                dest: server,
                data,
            });
        }
    }

    /// Starts relay `ri`'s allocation from its link (by default the first
    /// host base of the server's family).
    fn start_relay(&mut self, now: Instant, ri: usize) {
        if self.relays[ri].phase != RelayPhase::Waiting {
            return;
        }
        let server = self.relays[ri].configured;
        if self.relays[ri].link.is_none() {
            self.relays[ri].link = self
                .locals
                .iter()
                .find(|l| {
                    l.cand.kind == CandidateKind::Host && l.addr.is_ipv4() == server.is_ipv4()
                })
                .map(|l| l.addr);
        }
        let why = if self.relays[ri].link.is_none() {
            Some(RelayFailure::NoLink)
        } else if self.relays[ri].client.allocate(now).is_err() {
            Some(RelayFailure::Unusable("TURN username too long"))
        } else {
            None
        };
        match why {
            Some(why) => {
                self.relays[ri].phase = RelayPhase::Failed;
                self.report_relay_failure(Some(server), why);
            }
            None => {
                self.relays[ri].phase = RelayPhase::Allocating;
                self.drain_relay(ri);
            }
        }
    }

    fn report_relay_failure(&mut self, server: Option<SocketAddr>, reason: RelayFailure) {
        self.stats.relay_failures += 1;
        self.events
            .push_back(IceEvent::RelayFailed { server, reason });
    }

    fn run_relay_timers(&mut self, now: Instant) {
        for ri in 0..self.relays.len() {
            let r = &mut self.relays[ri];
            if r.active() && r.client.poll_timeout().is_some_and(|t| t <= now) {
                r.client.handle_timeout(now);
                self.run_relay(now, ri);
            }
        }
    }

    /// Acts on relay `ri`'s TURN events and sends what it queued.
    fn run_relay(&mut self, now: Instant, ri: usize) {
        while let Some(ev) = self.relays[ri].client.poll_event() {
            match ev {
                TurnEvent::Allocated {
                    relayed, mapped, ..
                } => self.on_relay_allocated(ri, relayed, mapped),
                TurnEvent::Failed(f) => self.on_relay_failed(now, ri, f),
                // Permission and channel failures only cost the checks or
                // the ChannelData framing through them; refreshes, data
                // (taken through `handle_input`) and deallocation need
                // nothing here.
                TurnEvent::PermissionCreated(_)
                | TurnEvent::PermissionFailed(_)
                | TurnEvent::ChannelBound { .. }
                | TurnEvent::ChannelFailed { .. }
                | TurnEvent::Data { .. }
                | TurnEvent::Refreshed { .. }
                | TurnEvent::Deallocated => {}
            }
        }
        self.drain_relay(ri);
    }

    /// The relayed address is a new local candidate (and base); the
    /// server-reflexive address the server saw becomes one too.
    fn on_relay_allocated(&mut self, ri: usize, relayed: SocketAddr, mapped: Option<SocketAddr>) {
        if self.relays[ri].phase != RelayPhase::Allocating {
            return;
        }
        let link = self.relays[ri].link.unwrap_or(relayed);
        let server = self.relays[ri].configured;
        if let Some(m) = mapped {
            if self.host_index(link).is_some() {
                self.add_srflx(m, link, server);
            }
        }
        let relays_before = self.relays[..ri]
            .iter()
            .filter(|r| r.local.is_some())
            .count();
        let pref = 65535u16.saturating_sub(u16::try_from(relays_before).unwrap_or(u16::MAX));
        let cand = Candidate::relay(relayed, mapped.unwrap_or(link), server, COMPONENT, pref);
        self.locals.push(LocalCand {
            cand: cand.clone(),
            addr: relayed,
            base: relayed,
        });
        let l = self.locals.len() - 1;
        self.relays[ri].local = Some(l);
        self.relays[ri].phase = RelayPhase::Ready;
        self.events.push_back(IceEvent::LocalCandidate(cand));
        for r in 0..self.remotes.len() {
            self.form_pair(l, r);
        }
        self.dirty = true;
    }

    /// The allocation failed (or was lost): its pairs fail, the other
    /// candidates carry on.
    fn on_relay_failed(&mut self, _now: Instant, ri: usize, why: crate::turn::client::TurnFailure) {
        let was = self.relays[ri].phase;
        self.relays[ri].phase = RelayPhase::Failed;
        if let Some(l) = self.relays[ri].local {
            for pi in 0..self.list.pairs.len() {
                if self.list.pairs[pi].local == l && self.list.pairs[pi].is_pending() {
                    self.fail_pair(pi);
                }
            }
        }
        if was != RelayPhase::Failed {
            let server = Some(self.relays[ri].configured);
            self.report_relay_failure(server, RelayFailure::Turn(why));
        }
        self.dirty = true;
    }

    fn host_index_any(&self) -> bool {
        self.locals
            .iter()
            .any(|l| l.cand.kind == CandidateKind::Host)
    }

    fn run_gather_timers(&mut self, now: Instant) {
        let Phase::Running { deadline } = self.gather.phase else {
            return;
        };
        let expired = deadline.is_some_and(|d| now >= d);
        if expired {
            self.gather.txns.clear();
            self.gather.servers_pending = false;
        }
        let mut gi = 0;
        while gi < self.gather.txns.len() {
            let t = &mut self.gather.txns[gi];
            let action = match &mut t.timer {
                Some(timer) => timer.handle_timeout(now),
                None => TimerAction::Wait,
            };
            match action {
                TimerAction::Wait => gi += 1,
                TimerAction::Retransmit => {
                    let tx = Transmit {
                        local: t.base,
                        dest: t.server,
                        data: t.bytes.clone(),
                    };
                    self.transmits.push_back(tx);
                    self.stats.retransmits += 1;
                }
                TimerAction::TimedOut => {
                    let t = self.gather.txns.remove(gi);
                    log::warn!(target: "ice", "STUN server {} did not answer from {} (timed out): no server-reflexive candidate from it", t.server, t.base);
                }
            }
        }
        if expired {
            // UDP servers are given up on; TCP/TLS ones end by their own
            // timeouts (see `expect_stream_turn_server`).
            self.turn_pending = self.stream_pending;
            for ri in 0..self.relays.len() {
                if !self.relays[ri].stream
                    && matches!(
                        self.relays[ri].phase,
                        RelayPhase::Waiting | RelayPhase::Allocating
                    )
                {
                    self.relays[ri].client.close(now);
                    self.drain_relay(ri);
                    self.relays[ri].phase = RelayPhase::Failed;
                    let server = Some(self.relays[ri].configured);
                    self.report_relay_failure(server, RelayFailure::GatherTimeout);
                }
            }
        }
        let relays_pending = self.turn_pending > 0
            || self
                .relays
                .iter()
                .any(|r| matches!(r.phase, RelayPhase::Waiting | RelayPhase::Allocating));
        if self.gather.txns.is_empty() && !self.gather.servers_pending && !relays_pending {
            self.gather.phase = Phase::Complete;
            self.events.push_back(IceEvent::GatheringComplete);
        } else if expired {
            self.gather.phase = Phase::Running { deadline: None };
        }
    }

    fn run_check_timers(&mut self, now: Instant) {
        let mut resend = Vec::new();
        for pi in 0..self.list.pairs.len() {
            loop {
                let p = &mut self.list.pairs[pi];
                let Some(c) = p.check.as_mut() else { break };
                match c.timer.handle_timeout(now) {
                    TimerAction::Wait => break,
                    TimerAction::Retransmit => {
                        let tx = Transmit {
                            local: self.locals[p.local].addr,
                            dest: self.remotes[p.remote].addr,
                            data: c.bytes.clone(),
                        };
                        resend.push(tx);
                        self.stats.retransmits += 1;
                    }
                    TimerAction::TimedOut => {
                        log::debug!(target: "ice", "check {} -> {} timed out", self.locals[p.local].addr, self.remotes[p.remote].addr);
                        self.fail_pair(pi);
                        break;
                    }
                }
            }
        }
        for tx in resend {
            self.push_transmit(tx.local, tx.dest, &tx.data);
        }
    }

    fn run_consent_timers(&mut self, now: Instant) {
        if self.selected.is_none() {
            return;
        }
        let Some(c) = &mut self.consent else { return };
        if now >= c.expires() {
            log::warn!(target: "ice", "consent expired: no answer to consent checks for {:?}; failing", self.cfg.consent_timeout);
            self.consent_failed = true;
            self.consent = None;
            self.selected = None;
            self.set_state(IceState::Failed);
            return;
        }
        if c.stale_deadline(self.cfg.consent_stale)
            .is_some_and(|d| now >= d)
        {
            c.set_stale();
            log::info!(target: "ice", "consent stale: nothing authenticated heard from the peer for {:?}", self.cfg.consent_stale);
            self.events.push_back(IceEvent::ConsentStale);
        }
    }

    fn decide_nomination(&mut self, now: Instant) {
        if !self.nomination_pending() {
            return;
        }
        let Some(best) = self.list.best_valid() else {
            return;
        };
        let first = *self.first_valid_at.get_or_insert(now);
        let best_prio = self.list.pairs[best].valid_priority;
        let settled = !self
            .list
            .pairs
            .iter()
            .any(|p| p.is_pending() && p.priority > best_prio);
        if settled || now >= first + self.cfg.nomination_timeout {
            self.nominate_next = Some(best);
        }
    }

    fn check_failure(&mut self, now: Instant) {
        if self.state != IceState::Checking || self.selected.is_some() {
            return;
        }
        let Some(start) = self.checks_started else {
            return;
        };
        let any_valid = self.list.any_valid();
        let timed_out = if any_valid {
            now >= start + self.cfg.failure_timeout * 3
        } else {
            now >= start + self.cfg.failure_timeout
        };
        let exhausted = self.remote_eoc && !any_valid && self.list.all_done();
        if timed_out || exhausted {
            let pairs = self.list.pairs.len();
            if exhausted && pairs == 0 {
                log::warn!(target: "ice", "no candidate pair to check ({} local, {} remote candidates, remote end-of-candidates received)", self.locals.len(), self.remotes.len());
            } else if exhausted {
                log::warn!(target: "ice", "every candidate pair failed ({pairs} pairs, remote end-of-candidates received)");
            } else if any_valid {
                log::warn!(target: "ice", "no pair nominated in {:?} ({pairs} pairs)", self.cfg.failure_timeout * 3);
            } else {
                log::warn!(target: "ice", "no candidate pair succeeded in {:?} ({pairs} pairs, {} remote candidates)", self.cfg.failure_timeout, self.remotes.len());
            }
            self.nominate_next = None;
            self.nominating = None;
            for p in &mut self.list.pairs {
                if p.check.take().is_some() {
                    p.state = PairState::Failed;
                }
            }
            self.set_state(IceState::Failed);
        }
    }

    /// The next new transaction, if the pacer allowed one at `now`
    /// (`None`: ignore whether consent is due).
    fn next_work(&self, now: Option<Instant>) -> Option<Work> {
        let checking = !matches!(self.state, IceState::Failed | IceState::Closed);
        if checking && self.selected.is_some() {
            if let (Some(c), Some(now)) = (&self.consent, now) {
                if now >= c.due(self.cfg.consent_stale) {
                    return Some(Work::Consent);
                }
            }
        }
        let creds = self.remote_creds.is_some();
        if checking && creds {
            if let Some(pi) = self.nominate_next {
                return Some(Work::Nominate(pi));
            }
            if let Some(pi) = self.list.peek_triggered() {
                return Some(Work::Triggered(pi));
            }
        }
        if self.gather.running() {
            if let Some(gi) = self.gather.next_unsent() {
                return Some(Work::Gather(gi));
            }
        }
        if checking && creds && self.state != IceState::New {
            if let Some(pi) = self.list.next_ordinary() {
                return Some(Work::Ordinary(pi));
            }
        }
        None
    }

    fn pace(&mut self, now: Instant) {
        // The nominating check repeats a check on a pair already validated,
        // once per agent: it does not wait for Ta, so a connection is not
        // held up by a pacing interval after its first successful check.
        let nominate_now = self.nominate_next.is_some()
            && self.remote_creds.is_some()
            && !matches!(self.state, IceState::Failed | IceState::Closed);
        if !nominate_now && self.last_new_txn.is_some_and(|t| now < t + self.cfg.ta) {
            return;
        }
        let Some(work) = self.next_work(Some(now)) else {
            return;
        };
        match work {
            Work::Consent => self.send_consent(now),
            Work::Nominate(pi) => {
                self.nominate_next = None;
                let p = &self.list.pairs[pi];
                if p.is_valid() && p.check.is_none() && self.role.is_controlling() {
                    self.send_check(now, pi, true);
                    self.nominating = Some(pi);
                }
            }
            Work::Triggered(_) => {
                if let Some(pi) = self.list.pop_triggered() {
                    self.send_check(now, pi, false);
                }
            }
            Work::Gather(gi) => {
                let cfg = self.retransmit_config(self.cfg.check_rto);
                let t = &mut self.gather.txns[gi];
                t.timer = Some(RetransmitTimer::new(cfg, now));
                let tx = Transmit {
                    local: t.base,
                    dest: t.server,
                    data: t.bytes.clone(),
                };
                self.transmits.push_back(tx);
                self.last_new_txn = Some(now);
            }
            Work::Ordinary(pi) => self.send_check(now, pi, false),
        }
    }

    fn retransmit_config(&self, rto: Duration) -> RetransmitConfig {
        RetransmitConfig {
            initial_rto: rto,
            max_retransmits: self.cfg.check_max_retransmits,
            final_wait_factor: self.cfg.check_final_wait_factor,
        }
    }

    /// The request of a check (or consent check) on pair `pi`.
    fn build_request(
        &self,
        pi: usize,
        id: &TransactionId,
        use_candidate: bool,
    ) -> Option<(Vec<u8>, u32)> {
        let (rufrag, rpwd) = self.remote_creds.as_ref()?;
        let p = &self.list.pairs[pi];
        let base = &self.locals[p.local].cand;
        let priority = CandidateKind::Prflx.priority(local_pref_of(base.priority), base.component);
        let username = format!("{rufrag}:{}", self.local_ufrag);
        let params = CheckParams {
            username: &username,
            priority,
            role: self.role,
            tie_breaker: self.tie_breaker,
            use_candidate,
            key: rpwd.as_bytes(),
        };
        stun_io::build_check(id, &params)
            .ok()
            .map(|b| (b, priority))
    }

    fn send_check(&mut self, now: Instant, pi: usize, use_candidate: bool) {
        let id = self.new_txn_id();
        let Some((bytes, priority)) = self.build_request(pi, &id, use_candidate) else {
            self.fail_pair(pi);
            return;
        };
        let rto = self
            .cfg
            .check_rto
            .max(self.cfg.ta * u32::try_from(self.list.active_count()).unwrap_or(u32::MAX));
        let timer = RetransmitTimer::new(self.retransmit_config(rto), now);
        let p = &mut self.list.pairs[pi];
        if p.state != PairState::Succeeded {
            p.state = PairState::InProgress;
        }
        let tx = Transmit {
            local: self.locals[p.local].addr,
            dest: self.remotes[p.remote].addr,
            data: bytes.clone(),
        };
        log::debug!(target: "ice", "check {} -> {}{}", tx.local, tx.dest, if use_candidate { " with USE-CANDIDATE" } else { "" });
        p.check = Some(CheckTxn {
            id,
            timer,
            bytes,
            use_candidate,
            role: self.role,
            priority,
            sent_at: now,
        });
        self.push_transmit(tx.local, tx.dest, &tx.data);
        self.last_new_txn = Some(now);
        self.stats.checks_sent += 1;
    }

    fn send_consent(&mut self, now: Instant) {
        let Some(pi) = self.selected else { return };
        let id = self.new_txn_id();
        let next = self.consent_interval();
        let Some((bytes, _)) = self.build_request(pi, &id, false) else {
            return;
        };
        let Some((local, dest)) = self.selected_pair() else {
            return;
        };
        if let Some(c) = &mut self.consent {
            c.on_sent(now, id, next);
        }
        self.push_transmit(local, dest, &bytes);
        self.last_new_txn = Some(now);
        self.stats.consent_checks_sent += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        #[allow(clippy::disallowed_methods)]
        Instant::now()
    }

    fn agent(seed: u64) -> IceAgent {
        IceAgent::new(
            AgentConfig {
                rng_seed: Some(seed),
                ..AgentConfig::default()
            },
            t0(),
        )
        .unwrap()
    }

    #[test]
    fn generated_credentials_have_the_c_shape() {
        let a = agent(1);
        let (u, p) = a.local_credentials();
        assert_eq!(u.len(), 8);
        assert_eq!(p.len(), 24);
        assert!(valid_ice_string(u, 4) && valid_ice_string(p, 22));
        let b = agent(1);
        assert_eq!(a.local_credentials(), b.local_credentials());
        assert_eq!(a.tie_breaker(), b.tie_breaker());
        assert_ne!(agent(2).tie_breaker(), a.tie_breaker());
    }

    #[test]
    fn given_credentials_are_checked() {
        let bad = AgentConfig {
            ufrag: Some("a:b!".into()),
            ..AgentConfig::default()
        };
        assert_eq!(
            IceAgent::new(bad, t0()).err(),
            Some(IceError::InvalidField("ufrag"))
        );
        let short = AgentConfig {
            pwd: Some("short".into()),
            ..AgentConfig::default()
        };
        assert_eq!(
            IceAgent::new(short, t0()).err(),
            Some(IceError::InvalidField("pwd"))
        );
    }

    #[test]
    fn host_candidates_and_gathering_without_servers() {
        let now = t0();
        let mut a = agent(3);
        let c1 = a.add_host_candidate("10.0.0.1:5000".parse().unwrap());
        let c2 = a.add_host_candidate("10.0.0.2:5000".parse().unwrap());
        assert_eq!(c1.priority, CandidateKind::Host.priority(65535, 1));
        assert_eq!(c2.priority, CandidateKind::Host.priority(65534, 1));
        a.gather(now).unwrap();
        assert_eq!(a.gather(now), Err(IceError::InvalidState));
        let evs: Vec<IceEvent> = std::iter::from_fn(|| a.poll_event()).collect();
        assert_eq!(
            evs,
            vec![
                IceEvent::StateChanged(IceState::Gathering),
                IceEvent::LocalCandidate(c1),
                IceEvent::LocalCandidate(c2),
                IceEvent::GatheringComplete,
            ]
        );
        assert_eq!(a.state(), IceState::Gathering);
        assert!(a.send(b"x").is_err());
    }

    #[test]
    fn gathering_waits_for_servers_being_resolved() {
        let now = t0();
        let mut a = agent(5);
        a.add_host_candidate("10.0.0.1:5000".parse().unwrap());
        a.expect_stun_servers();
        a.gather(now).unwrap();
        while a.poll_transmit().is_some() {}
        let evs: Vec<IceEvent> = std::iter::from_fn(|| a.poll_event()).collect();
        assert!(!evs.contains(&IceEvent::GatheringComplete), "{evs:?}");

        let server: SocketAddr = "192.0.2.7:3478".parse().unwrap();
        a.add_stun_servers(now, &[server]);
        let mut t = now;
        let mut to_server = 0;
        for _ in 0..10 {
            while let Some(tx) = a.poll_transmit() {
                to_server += usize::from(tx.dest == server);
            }
            if to_server > 0 {
                break;
            }
            t += Duration::from_millis(50);
            a.handle_timeout(t);
        }
        assert!(
            to_server > 0,
            "a Binding request goes to the resolved server"
        );

        // A failed resolution (no servers) completes gathering at once.
        let mut b = agent(6);
        b.add_host_candidate("10.0.0.1:5000".parse().unwrap());
        b.expect_stun_servers();
        b.gather(now).unwrap();
        b.add_stun_servers(now, &[]);
        let evs: Vec<IceEvent> = std::iter::from_fn(|| b.poll_event()).collect();
        assert_eq!(evs.last(), Some(&IceEvent::GatheringComplete));
    }

    #[test]
    fn remote_candidates_checked_for_support() {
        let now = t0();
        let mut a = agent(4);
        let mdns =
            Candidate::parse("candidate:1 1 udp 2122260223 abc.local 5000 typ host").unwrap();
        assert!(matches!(
            a.add_remote_candidate(now, mdns),
            Err(IceError::Unsupported(_))
        ));
        let tcp =
            Candidate::parse("candidate:1 1 tcp 2122260223 10.0.0.9 9 typ host tcptype active")
                .unwrap();
        assert!(matches!(
            a.add_remote_candidate(now, tcp),
            Err(IceError::Unsupported(_))
        ));
    }

    #[test]
    fn checks_are_paced_and_authenticated() {
        let now = t0();
        let mut a = agent(5);
        a.add_host_candidate("10.0.0.1:5000".parse().unwrap());
        a.set_remote_credentials("RUFR", "remote-password-0123456789");
        for port in [6000, 6001, 6002] {
            // Distinct addresses: distinct foundations, so none is frozen.
            let ip = [10, 0, 0, (port - 5990) as u8];
            let c = Candidate::host(SocketAddr::from((ip, port)), 1, 65535 - port);
            a.add_remote_candidate(now, c).unwrap();
        }
        assert_eq!(a.state(), IceState::Checking);
        let first = a.poll_transmit().expect("a check at once");
        assert!(a.poll_transmit().is_none(), "one new check per Ta");
        assert_eq!(a.next_timer().map(|t| t.0), Some(Timer::Pacing));
        let msg = Message::parse(&first.data).unwrap();
        assert!(msg.verify_integrity(b"remote-password-0123456789").is_ok());
        assert!(msg.verify_fingerprint().is_ok());
        a.handle_timeout(now + Duration::from_millis(49));
        assert!(a.poll_transmit().is_none());
        a.handle_timeout(now + Duration::from_millis(50));
        assert!(a.poll_transmit().is_some());
    }
}
