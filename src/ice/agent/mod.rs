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
mod inbound;
mod mtu_probe;
mod relay;
mod stun_io;
mod timers;
mod types;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::rng::Rng;

use crate::ice::{Candidate, CandidateAddress, CandidateKind, IceError, PairState, Transport};
use crate::stun::txn::{RetransmitConfig, RetransmitTimer, TimerAction};
use crate::stun::{Class, Message, TransactionId};

use checklist::{CheckTxn, Checklist};
use consent::Consent;
use gather::{GatherTxn, Gatherer, Phase};
use relay::{RelayInput, Relays};
use stun_io::{CheckParams, Demux, PeerRole, Refused};

pub use relay::RelayFailure;
pub use types::{AgentConfig, AgentStats, IceEvent, IceState, Incoming, Received, Role, Timer};

use crate::turn::client::{TurnClient, TurnConfig};
pub use mtu_probe::{MtuProbeResult, MAX_MTU_PROBE, MTU_PROBE_INTERVAL, MTU_PROBE_TRIES};

/// Most datagrams queued for the driver; [`IceAgent::send`] reports
/// [`IceError::WouldBlock`] beyond it (back-pressure, never silent loss).
pub const MAX_QUEUED_TRANSMITS: usize = 4096;

/// The component every candidate of this agent has (data channels use one).
pub const COMPONENT: u16 = 1;

pub use crate::datagram::Transmit;

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
    rng: Rng,
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
    relays: Relays,
    mtu_probe: Option<mtu_probe::MtuProbe>,
    mtu_results: VecDeque<MtuProbeResult>,
    peer_probe_max: usize,
}

const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#[cfg_attr(xp2p_device, optimize(size))]
fn random_ice_string(rng: &mut Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(ICE_CHARS[rng.below(ICE_CHARS.len())]))
        .collect()
}

#[cfg_attr(xp2p_device, optimize(size))]
fn valid_ice_string(s: &str, min: usize) -> bool {
    (min..=256).contains(&s.len()) && s.bytes().all(|b| ICE_CHARS.contains(&b))
}

/// A legal ICE ufrag: 4 to 256 ice-chars (`ALPHA / DIGIT / + /`, RFC 8839
/// §5.4).
#[cfg_attr(xp2p_device, optimize(size))]
pub fn is_valid_ufrag(s: &str) -> bool {
    valid_ice_string(s, 4)
}

/// A legal ICE password: 22 to 256 ice-chars (RFC 8839 §5.4).
#[cfg_attr(xp2p_device, optimize(size))]
pub fn is_valid_pwd(s: &str) -> bool {
    valid_ice_string(s, 22)
}

/// The local preference encoded in a candidate priority.
#[cfg_attr(xp2p_device, optimize(size))]
fn local_pref_of(priority: u32) -> u16 {
    ((priority >> 8) & 0xFFFF) as u16
}

/// Logs what an event says (state changes are logged where they happen,
/// with their cause).
#[cfg_attr(xp2p_device, optimize(size))]
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
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(config: AgentConfig, now: Instant) -> Result<IceAgent, IceError> {
        crate::logging::init();
        let mut rng = Rng::new(config.rng_seed);
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
        let tie_breaker = rng.next_u64();
        let relays = Relays::new(&config.turn_servers);
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
            mtu_probe: None,
            mtu_results: VecDeque::new(),
            peer_probe_max: 0,
        })
    }

    /// The local ufrag and password.
    #[cfg_attr(xp2p_device, optimize(size))]
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

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn stats(&self) -> AgentStats {
        self.stats
    }

    /// Host, server-reflexive and relayed local candidates (the ones
    /// signalled).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn local_candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.locals
            .iter()
            .filter(|l| l.cand.kind != CandidateKind::Prflx)
            .map(|l| &l.cand)
    }

    /// Every remote candidate, including learned peer-reflexive ones.
    #[cfg_attr(xp2p_device, optimize(size))]
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
        let (server, link) = self.relays.server_of_local(local)?;
        let stream = link.is_some_and(|l| self.host_index(l).is_none());
        Some((server, stream))
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
    #[cfg_attr(xp2p_device, optimize(size))]
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
    #[cfg_attr(xp2p_device, optimize(size))]
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
        let hosts = self.first_hosts();
        let host_of = |v4: bool| hosts[usize::from(!v4)];
        self.relays.start_all(now, host_of, &mut self.transmits);
        self.on_relay_events();
        self.drive(now);
        Ok(())
    }

    /// Announces STUN servers that are still being resolved (names): until
    /// [`IceAgent::add_stun_servers`] delivers them, or the gather timeout
    /// passes, gathering does not complete. Call before [`IceAgent::gather`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn expect_stun_servers(&mut self) {
        if !self.gather.started() {
            self.gather.servers_pending = true;
        }
    }

    /// Adds resolved STUN servers (possibly none, when resolution failed):
    /// while gathering runs, every host base asks them for its
    /// server-reflexive address.
    #[cfg_attr(xp2p_device, optimize(size))]
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
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn expect_turn_servers(&mut self, n: usize) {
        if !self.gather.started() {
            self.relays.expect(n);
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
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn expect_stream_turn_server(&mut self) {
        if !self.gather.started() {
            self.relays.expect_stream();
        }
    }

    /// Adds a resolved TURN server. `link` is the local address its
    /// messages go out from and arrive on (a host socket for UDP, the
    /// local address of the driver's TCP/TLS connection); `None` picks the first host base of
    /// the server's address family. The allocation starts with gathering
    /// (at once if gathering runs); a server added after gathering
    /// completed is reported as [`RelayFailure::GatherTimeout`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn add_turn_server(&mut self, now: Instant, cfg: TurnConfig, link: Option<SocketAddr>) {
        self.touch(now);
        if self.state == IceState::Closed {
            return;
        }
        let ri = self.relays.add(cfg, link);
        match self.gather.phase {
            Phase::NotStarted => {}
            Phase::Running { .. } => {
                let hosts = self.first_hosts();
                let host_of = |v4: bool| hosts[usize::from(!v4)];
                self.relays.start(now, ri, host_of, &mut self.transmits);
            }
            Phase::Complete => self.relays.too_late(ri),
        }
        self.on_relay_events();
        self.dirty = true;
        self.drive(now);
    }

    /// A TURN server announced with [`IceAgent::expect_turn_servers`] will
    /// not come (its name did not resolve, its transport is not
    /// supported…): reported as [`IceEvent::RelayFailed`], and gathering
    /// no longer waits for it.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn turn_server_unavailable(&mut self, now: Instant, reason: RelayFailure) {
        self.touch(now);
        if self.state == IceState::Closed {
            return;
        }
        self.relays.unavailable(reason);
        self.on_relay_events();
        self.dirty = true;
        self.drive(now);
    }

    /// The outcome of resolving a TURN server announced with
    /// [`IceAgent::expect_turn_servers`]: [`IceAgent::add_turn_server`]
    /// with its link (`None`: the first host base of its family), or
    /// [`IceAgent::turn_server_unavailable`].
    #[cfg_attr(xp2p_device, optimize(size))]
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
        self.relays.clients()
    }

    /// Sets the peer's ufrag and password (from its description).
    #[cfg_attr(xp2p_device, optimize(size))]
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
    #[cfg_attr(xp2p_device, optimize(size))]
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
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn remote_end_of_candidates(&mut self) {
        self.remote_eoc = true;
        self.dirty = true;
    }

    /// Sets the role (meant for before checks start; role conflicts are
    /// repaired by the agent itself).
    #[cfg_attr(xp2p_device, optimize(size))]
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
        if self.relays.of_relayed(local).is_some() {
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
    #[cfg_attr(xp2p_device, optimize(size))]
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
        self.relays.close(self.last_now, &mut self.transmits);
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
        match self.relays.handle_input(now, local, from, data) {
            RelayInput::NotMine => {}
            RelayInput::Consumed { index } => {
                self.run_relay(index);
                self.drive(now);
                return direct(Received::Consumed);
            }
            RelayInput::Data {
                index,
                relayed,
                peer,
                data: inner,
            } => {
                let r = match relayed {
                    Some(relayed) => self.receive(now, relayed, peer, inner),
                    None => {
                        self.stats.dropped_other += 1;
                        Received::Dropped
                    }
                };
                self.run_relay(index);
                self.drive(now);
                return Incoming {
                    received: r,
                    payload: inner,
                    from: peer,
                };
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
        consider(Timer::Relay, self.relays.poll_timeout());
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

    #[cfg_attr(xp2p_device, optimize(size))]
    fn set_state(&mut self, s: IceState) {
        if self.state != s {
            log::info!(target: "ice", "state {:?} -> {s:?}", self.state);
            self.state = s;
            self.events.push_back(IceEvent::StateChanged(s));
        }
    }

    fn new_txn_id(&mut self) -> TransactionId {
        let mut id = TransactionId::default();
        self.rng.fill_bytes(&mut id);
        id
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

    #[cfg_attr(xp2p_device, optimize(size))]
    fn queue_server_requests(&mut self, base: SocketAddr) {
        let servers = self.cfg.stun_servers.clone();
        self.queue_server_requests_to(base, &servers);
    }

    #[cfg_attr(xp2p_device, optimize(size))]
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
        self.relays.handle_timeout(now, &mut self.transmits);
        self.on_relay_events();
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

    fn host_index_any(&self) -> bool {
        self.locals
            .iter()
            .any(|l| l.cand.kind == CandidateKind::Host)
    }
}

#[cfg(test)]
mod tests;
