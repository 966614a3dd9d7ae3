//! Relayed candidates: one TURN allocation per configured server
//! (RFC 8445 §5.1.1.2, RFC 5766), driven by the sans-IO [`TurnClient`].
//!
//! The agent talks to a TURN server through a *link*: the local address
//! the driver sends the server's messages from and receives them on. For
//! UDP the link is a host socket (by default the first host base of the
//! server's address family), so the server's messages share that socket
//! with the host candidate and are told apart by their source (the server)
//! and their first byte (RFC 7983). A stream transport (TCP, TLS) is a
//! connection the driver names by its local address (given to
//! [`IceAgent::add_turn_server`]); the agent only ever sees whole TURN
//! messages to and from the server, never the framing, and learns of the
//! connection's loss through [`IceAgent::turn_link_failed`].
//!
//! Once allocated, the relayed address is a local candidate of its own
//! (type `relay`, related address the server-reflexive address the server
//! reported, RFC 8445 type preference 0) and its own base: checks, answers
//! and data "sent from" it go to the TURN client, which wraps them in a
//! Send indication, or in ChannelData once a channel is bound; what the
//! server relays back is fed to the agent as if it had arrived on the
//! relayed address.
//!
//! [`Relays`] is that lifecycle as a sans-IO component of its own: the
//! servers the driver announced and delivered, each allocation from
//! Allocate to Refresh and deallocation, permissions, channels, the gather
//! timeout's hold on UDP servers, and stream links lost. The agent drives
//! it: it hands in datagrams from servers and the clock, lends it the
//! transmit queue, and reacts to the [`RelayEvent`]s it polls (a relayed
//! candidate to add, a relay that failed).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use super::{IceAgent, IceEvent, LocalCand, Transmit, COMPONENT};
use crate::ice::{Candidate, CandidateKind};
use crate::turn::client::{TurnClient, TurnConfig, TurnEvent, TurnFailure, TurnInput};
use crate::turn::stream::StreamFailure;

/// Where one relay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RelayPhase {
    /// Configured; allocation starts with gathering.
    Waiting,
    Allocating,
    /// Allocated: the relay candidate exists.
    Ready,
    /// Failed for good (reported once).
    Failed,
}

/// One TURN server and its allocation.
#[derive(Debug)]
struct Relay {
    client: TurnClient,
    /// The local address the server is reached through; `None` until
    /// gathering picks the first host base of the server's family.
    link: Option<SocketAddr>,
    /// The server as configured (the client's follows redirects).
    configured: SocketAddr,
    /// Index of the relay candidate in the agent's locals, once allocated.
    local: Option<usize>,
    phase: RelayPhase,
    /// Over TCP or TLS (the client never retransmits): bounded by the
    /// connection's and the transaction's own timeouts, not by the gather
    /// timeout.
    stream: bool,
}

impl Relay {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(client: TurnClient, link: Option<SocketAddr>) -> Relay {
        Relay {
            configured: client.server(),
            stream: client.over_stream(),
            client,
            link,
            local: None,
            phase: RelayPhase::Waiting,
        }
    }

    /// Whether the relay still talks to its server.
    pub fn active(&self) -> bool {
        matches!(self.phase, RelayPhase::Allocating | RelayPhase::Ready)
    }

    /// Whether a datagram that arrived on `local` from `from` is this
    /// relay's server talking.
    pub fn is_server(&self, local: SocketAddr, from: SocketAddr) -> bool {
        self.active() && self.link == Some(local) && self.client.server() == from
    }

    /// The relayed address, while the relay is usable.
    pub fn relayed(&self) -> Option<SocketAddr> {
        if self.phase == RelayPhase::Ready {
            self.client.relayed_addr()
        } else {
            None
        }
    }
}

/// Why a relayed candidate could not be gathered, or was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelayFailure {
    /// The TURN allocation (or its refresh) failed: rejected credentials,
    /// no answer, a server error or a bad response.
    Turn(TurnFailure),
    /// The allocation was not finished when gathering had to complete.
    GatherTimeout,
    /// The server's name did not resolve.
    Unresolved,
    /// The configuration cannot be used; the text says why (for example a
    /// malformed URI or an unreadable CA file).
    Unusable(&'static str),
    /// No local socket of the server's address family to reach it from.
    NoLink,
    /// The TCP or TLS connection to the server failed or was lost.
    Stream(StreamFailure),
}

impl std::fmt::Display for RelayFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelayFailure::Turn(t) => write!(f, "{t}"),
            RelayFailure::GatherTimeout => f.write_str("TURN allocation not done in time"),
            RelayFailure::Unresolved => f.write_str("TURN server name did not resolve"),
            RelayFailure::Unusable(why) => write!(f, "TURN server unusable: {why}"),
            RelayFailure::NoLink => f.write_str("no local address of the TURN server's family"),
            RelayFailure::Stream(why) => write!(f, "{why}"),
        }
    }
}

/// What [`Relays`] reports to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RelayEvent {
    /// Relay `index` allocated `relayed`: a local candidate (and base) to
    /// add, with the server-reflexive address the server saw (`mapped`)
    /// from `link`. `pref` is its local preference: 65535 for the first
    /// relay allocated, one less for each earlier one.
    Allocated {
        index: usize,
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
        link: SocketAddr,
        server: SocketAddr,
        pref: u16,
    },
    /// A relay could not be gathered, or its allocation was lost. `local`
    /// is its candidate's index in the agent's locals, if it had one: the
    /// pending pairs through it fail.
    Failed {
        server: Option<SocketAddr>,
        reason: RelayFailure,
        local: Option<usize>,
    },
    /// A relay already reported failed lost its allocation too: the
    /// pending pairs through its candidate (the agent's local `local`) fail.
    Lost { local: usize },
}

/// What a datagram from a TURN server was, for [`Relays::handle_input`].
#[derive(Debug)]
pub(crate) enum RelayInput<'a> {
    /// Not from an active relay's server, or not TURN: the agent's own.
    NotMine,
    /// A TURN message for relay `index`, handled.
    Consumed { index: usize },
    /// What the server of relay `index` relayed from `peer`, to be
    /// handled as if it arrived on `relayed` (`None`: the relay is not
    /// usable, drop it).
    Data {
        index: usize,
        relayed: Option<SocketAddr>,
        peer: SocketAddr,
        data: &'a [u8],
    },
}

/// Every TURN server of one agent and its allocation. See the module
/// documentation.
#[derive(Debug, Default)]
pub(crate) struct Relays {
    relays: Vec<Relay>,
    /// TURN servers still being resolved (or connected) by the driver.
    pending: usize,
    /// Of those, the ones over TCP or TLS
    /// ([`Relays::expect_stream`]).
    stream_pending: usize,
    events: VecDeque<RelayEvent>,
}

impl Relays {
    /// The servers of the agent's configuration, waiting for gathering.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(servers: &[TurnConfig]) -> Relays {
        Relays {
            relays: servers
                .iter()
                .map(|t| Relay::new(TurnClient::new(t.clone()), None))
                .collect(),
            ..Relays::default()
        }
    }

    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    /// The TURN clients, for diagnostics and tests.
    pub fn clients(&self) -> impl Iterator<Item = &TurnClient> {
        self.relays.iter().map(|r| &r.client)
    }

    /// The TURN server of the relay whose candidate is the agent's local
    /// `l`, and the local address it is reached from.
    pub fn server_of_local(&self, l: usize) -> Option<(SocketAddr, Option<SocketAddr>)> {
        let r = self.relays.iter().find(|r| r.local == Some(l))?;
        Some((r.client.server(), r.link))
    }

    /// The usable relay whose relayed address is `addr`.
    pub fn of_relayed(&self, addr: SocketAddr) -> Option<usize> {
        self.relays.iter().position(|r| r.relayed() == Some(addr))
    }

    /// Records the agent's local candidate index of relay `index`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn set_local(&mut self, index: usize, l: usize) {
        self.relays[index].local = Some(l);
    }

    /// `n` more servers are being resolved.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn expect(&mut self, n: usize) {
        self.pending += n;
    }

    /// One more server over TCP or TLS is being resolved and connected.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn expect_stream(&mut self) {
        self.pending += 1;
        self.stream_pending += 1;
    }

    /// Whether gathering still waits for a relay: a server announced but
    /// not delivered, or an allocation not finished.
    pub fn gathering(&self) -> bool {
        self.pending > 0
            || self
                .relays
                .iter()
                .any(|r| matches!(r.phase, RelayPhase::Waiting | RelayPhase::Allocating))
    }

    /// A server announced with [`Relays::expect`] arrived: its index.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn add(&mut self, cfg: TurnConfig, link: Option<SocketAddr>) -> usize {
        self.pending = self.pending.saturating_sub(1);
        let relay = Relay::new(TurnClient::new(cfg), link);
        if relay.stream {
            self.stream_pending = self.stream_pending.saturating_sub(1);
        }
        self.relays.push(relay);
        self.relays.len() - 1
    }

    /// A server added after gathering completed: failed at once.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn too_late(&mut self, index: usize) {
        self.relays[index].phase = RelayPhase::Failed;
        let server = Some(self.relays[index].configured);
        self.fail(server, RelayFailure::GatherTimeout, None);
    }

    /// An announced server will not come.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn unavailable(&mut self, reason: RelayFailure) {
        // Which announced server this was is not known here; a stream one
        // only when no other kind is still pending.
        if self.pending <= self.stream_pending {
            self.stream_pending = self.stream_pending.saturating_sub(1);
        }
        self.pending = self.pending.saturating_sub(1);
        self.fail(None, reason, None);
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn fail(&mut self, server: Option<SocketAddr>, reason: RelayFailure, local: Option<usize>) {
        self.events.push_back(RelayEvent::Failed {
            server,
            reason,
            local,
        });
    }

    /// Starts every waiting allocation; `host_of` gives the first host base
    /// of a family (`true`: IPv4), the default link.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn start_all(
        &mut self,
        now: Instant,
        host_of: impl Fn(bool) -> Option<SocketAddr>,
        out: &mut VecDeque<Transmit>,
    ) {
        for ri in 0..self.relays.len() {
            self.start(now, ri, &host_of, out);
        }
    }

    /// Starts relay `ri`'s allocation from its link (by default the first
    /// host base of the server's family).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn start(
        &mut self,
        now: Instant,
        ri: usize,
        host_of: impl Fn(bool) -> Option<SocketAddr>,
        out: &mut VecDeque<Transmit>,
    ) {
        let r = &mut self.relays[ri];
        if r.phase != RelayPhase::Waiting {
            return;
        }
        let server = r.configured;
        if r.link.is_none() {
            r.link = host_of(server.is_ipv4());
        }
        let why = if r.link.is_none() {
            Some(RelayFailure::NoLink)
        } else if r.client.allocate(now).is_err() {
            Some(RelayFailure::Unusable("TURN username too long"))
        } else {
            None
        };
        match why {
            Some(why) => {
                r.phase = RelayPhase::Failed;
                self.fail(Some(server), why, None);
            }
            None => {
                r.phase = RelayPhase::Allocating;
                self.drain(ri, out);
            }
        }
    }

    /// Deallocates every active relay (a Refresh with LIFETIME 0: the one
    /// datagram still sent after the agent closes).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn close(&mut self, now: Instant, out: &mut VecDeque<Transmit>) {
        for ri in 0..self.relays.len() {
            if self.relays[ri].active() {
                self.relays[ri].client.close(now);
                self.relays[ri].phase = RelayPhase::Failed;
                self.drain(ri, out);
            }
        }
    }

    /// The gather timeout passed: UDP servers not allocated yet are given
    /// up on; TCP/TLS ones end by their own timeouts.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn gather_timed_out(&mut self, now: Instant, out: &mut VecDeque<Transmit>) {
        self.pending = self.stream_pending;
        for ri in 0..self.relays.len() {
            let r = &mut self.relays[ri];
            if !r.stream && matches!(r.phase, RelayPhase::Waiting | RelayPhase::Allocating) {
                r.client.close(now);
                self.drain(ri, out);
                self.relays[ri].phase = RelayPhase::Failed;
                let server = Some(self.relays[ri].configured);
                self.fail(server, RelayFailure::GatherTimeout, None);
            }
        }
    }

    /// The stream connection named by `link` failed or was lost: every
    /// relay over it fails.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn link_failed(&mut self, link: SocketAddr, why: StreamFailure) {
        for ri in 0..self.relays.len() {
            let r = &mut self.relays[ri];
            if !r.active() || r.link != Some(link) {
                continue;
            }
            r.phase = RelayPhase::Failed;
            let (server, local) = (Some(r.configured), r.local);
            self.fail(server, RelayFailure::Stream(why), local);
        }
    }

    /// Offers a datagram that arrived on `local` from `from`.
    pub fn handle_input<'a>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &'a [u8],
    ) -> RelayInput<'a> {
        let Some(index) = self.relays.iter().position(|r| r.is_server(local, from)) else {
            return RelayInput::NotMine;
        };
        match self.relays[index].client.handle_input(now, from, data) {
            TurnInput::NotMine => RelayInput::NotMine,
            TurnInput::Consumed => RelayInput::Consumed { index },
            TurnInput::Data { peer, data } => RelayInput::Data {
                index,
                relayed: self.relays[index].relayed(),
                peer,
                data,
            },
        }
    }

    /// The earliest retransmission or refresh of an active relay.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.relays
            .iter()
            .filter(|r| r.active())
            .filter_map(|r| r.client.poll_timeout())
            .min()
    }

    /// Runs the relays' timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut VecDeque<Transmit>) {
        for ri in 0..self.relays.len() {
            let r = &mut self.relays[ri];
            if r.active() && r.client.poll_timeout().is_some_and(|t| t <= now) {
                r.client.handle_timeout(now);
                self.process(ri, out);
            }
        }
    }

    /// Sends `data` from relay `ri` to `dest` (a Send indication, or
    /// ChannelData once a channel is bound), asking for a permission first
    /// when needed. False when the TURN client refused it (no permission
    /// possible, queue full).
    pub fn send(
        &mut self,
        now: Instant,
        ri: usize,
        dest: SocketAddr,
        data: &[u8],
        out: &mut VecDeque<Transmit>,
    ) -> bool {
        self.permit(now, ri, dest, out);
        let ok = self.relays[ri].client.send_to(now, dest, data).is_ok();
        self.drain(ri, out);
        ok
    }

    /// Makes sure relay `ri` has (asked for) a permission for `peer`.
    pub fn permit(
        &mut self,
        now: Instant,
        ri: usize,
        peer: SocketAddr,
        out: &mut VecDeque<Transmit>,
    ) {
        let c = &mut self.relays[ri].client;
        if !c.has_permission(peer.ip()) {
            // The only refusal is the 16-permission table being full; the
            // checks through this relay to that peer then fail.
            let _ = c.create_permission(now, peer.ip());
            self.drain(ri, out);
        }
    }

    /// Binds a channel from relay `ri` to `remote` so data goes as
    /// ChannelData (4 bytes of overhead instead of 36); Send indications
    /// carry it until the bind succeeds.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn bind_channel(
        &mut self,
        now: Instant,
        ri: usize,
        remote: SocketAddr,
        out: &mut VecDeque<Transmit>,
    ) {
        let c = &mut self.relays[ri].client;
        if c.channel_for(remote).is_none() {
            // Refused only when the channel table is full: Send
            // indications keep carrying the data.
            let _ = c.bind_channel(now, remote);
            self.drain(ri, out);
        }
    }

    /// Moves what relay `ri`'s TURN client wants sent onto its link.
    fn drain(&mut self, ri: usize, out: &mut VecDeque<Transmit>) {
        let r = &mut self.relays[ri];
        let Some(link) = r.link else {
            while r.client.poll_transmit().is_some() {}
            return;
        };
        let server = r.client.server();
        while let Some(data) = r.client.poll_transmit() {
            out.push_back(Transmit {
                local: link,
                dest: server,
                data,
            });
        }
    }

    /// Acts on relay `ri`'s TURN events and sends what it queued.
    pub fn process(&mut self, ri: usize, out: &mut VecDeque<Transmit>) {
        while let Some(ev) = self.relays[ri].client.poll_event() {
            match ev {
                TurnEvent::Allocated {
                    relayed, mapped, ..
                } => self.allocated(ri, relayed, mapped),
                TurnEvent::Failed(f) => self.failed(ri, f),
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
        self.drain(ri, out);
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn allocated(&mut self, ri: usize, relayed: SocketAddr, mapped: Option<SocketAddr>) {
        if self.relays[ri].phase != RelayPhase::Allocating {
            return;
        }
        let before = self.relays[..ri]
            .iter()
            .filter(|r| r.local.is_some() || r.phase == RelayPhase::Ready)
            .count();
        let r = &mut self.relays[ri];
        r.phase = RelayPhase::Ready;
        self.events.push_back(RelayEvent::Allocated {
            index: ri,
            relayed,
            mapped,
            link: r.link.unwrap_or(relayed),
            server: r.configured,
            pref: 65535u16.saturating_sub(u16::try_from(before).unwrap_or(u16::MAX)),
        });
    }

    /// The allocation failed (or was lost): reported once.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn failed(&mut self, ri: usize, why: TurnFailure) {
        let r = &mut self.relays[ri];
        let was = r.phase;
        r.phase = RelayPhase::Failed;
        let (server, local) = (Some(r.configured), r.local);
        if was != RelayPhase::Failed {
            self.fail(server, RelayFailure::Turn(why), local);
        } else if let Some(local) = local {
            // Already reported; its pairs still fail.
            self.events.push_back(RelayEvent::Lost { local });
        }
    }
}

impl IceAgent {
    /// Queues a datagram from base `local`: from a host socket as it is,
    /// from a relayed address through its TURN client (a Send indication,
    /// or ChannelData once a channel is bound). False when the TURN client
    /// refused it (no permission possible, queue full).
    pub(super) fn push_transmit(
        &mut self,
        local: SocketAddr,
        dest: SocketAddr,
        data: &[u8],
    ) -> bool {
        let Some(ri) = self.relays.of_relayed(local) else {
            self.transmits.push_back(Transmit {
                local,
                dest,
                data: crate::datagram::buffer_from(data),
            });
            return true;
        };
        let now = self.last_now;
        let ok = self.relays.send(now, ri, dest, data, &mut self.transmits);
        self.on_relay_events();
        ok
    }

    /// When the selected pair's local is relayed, binds a channel to its
    /// remote (see [`Relays::bind_channel`]).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn bind_selected_channel(&mut self, now: Instant) {
        let Some((local, remote)) = self.selected_pair() else {
            return;
        };
        if let Some(ri) = self.relays.of_relayed(local) {
            self.relays
                .bind_channel(now, ri, remote, &mut self.transmits);
        }
    }

    /// Acts on relay `ri`'s TURN events and sends what it queued.
    pub(super) fn run_relay(&mut self, ri: usize) {
        self.relays.process(ri, &mut self.transmits);
        self.on_relay_events();
    }

    /// The first IPv4 and the first IPv6 host base: a relay's default link.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn first_hosts(&self) -> [Option<SocketAddr>; 2] {
        let first = |v4: bool| {
            self.locals
                .iter()
                .find(|l| l.cand.kind == CandidateKind::Host && l.addr.is_ipv4() == v4)
                .map(|l| l.addr)
        };
        [first(true), first(false)]
    }

    /// Acts on what the relays reported: a relayed address becomes a local
    /// candidate (and base), with the server-reflexive address the server
    /// saw; a failed relay is reported and its pending pairs fail, the other
    /// candidates carrying on.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn on_relay_events(&mut self) {
        while let Some(ev) = self.relays.poll_event() {
            match ev {
                RelayEvent::Allocated {
                    index,
                    relayed,
                    mapped,
                    link,
                    server,
                    pref,
                } => {
                    if let Some(m) = mapped {
                        if self.host_index(link).is_some() {
                            self.add_srflx(m, link, server);
                        }
                    }
                    let cand =
                        Candidate::relay(relayed, mapped.unwrap_or(link), server, COMPONENT, pref);
                    self.locals.push(LocalCand {
                        cand: cand.clone(),
                        addr: relayed,
                        base: relayed,
                    });
                    let l = self.locals.len() - 1;
                    self.relays.set_local(index, l);
                    self.events.push_back(IceEvent::LocalCandidate(cand));
                    for r in 0..self.remotes.len() {
                        self.form_pair(l, r);
                    }
                }
                RelayEvent::Failed {
                    server,
                    reason,
                    local,
                } => {
                    if let Some(l) = local {
                        self.fail_pairs_of_local(l);
                    }
                    self.stats.relay_failures += 1;
                    self.events
                        .push_back(IceEvent::RelayFailed { server, reason });
                }
                RelayEvent::Lost { local } => self.fail_pairs_of_local(local),
            }
            self.dirty = true;
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn fail_pairs_of_local(&mut self, l: usize) {
        for pi in 0..self.list.pairs.len() {
            if self.list.pairs[pi].local == l && self.list.pairs[pi].is_pending() {
                self.fail_pair(pi);
            }
        }
    }

    /// The stream connection named by `link` (see
    /// [`IceAgent::add_turn_server`]) failed or was lost: every relay over
    /// it fails ([`IceEvent::RelayFailed`], counted), its pairs with it; the
    /// other candidates carry on.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn turn_link_failed(&mut self, now: Instant, link: SocketAddr, why: StreamFailure) {
        self.touch(now);
        if self.state == super::IceState::Closed {
            return;
        }
        self.relays.link_failed(link, why);
        self.on_relay_events();
        self.dirty = true;
        self.drive(now);
    }
}
