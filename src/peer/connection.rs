//! [`PeerConnection`]: the layers composed, and the offer/answer logic.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::pmtu::{PathMtu, PathMtuStats};
use super::{
    PeerConfig, PeerError, PeerEvent, PeerState, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_RECV_BUFFER_LIMIT, DEFAULT_SCTP_PORT, MID, MIN_RECV_BUFFER_LIMIT,
};
use crate::channel::{
    self, ChannelConfig, ChannelError, ChannelEvent, ChannelId, ChannelManager, Limits, MessageKind,
};
use crate::dtls::{
    Certificate, DtlsConfig, DtlsEvent, DtlsRole, DtlsSession, DtlsState, Fingerprint,
    FINGERPRINT_LEN,
};
use crate::ice::agent::{
    is_valid_pwd, is_valid_ufrag, IceAgent, IceEvent, IceState, Received, Role, Transmit,
};
use crate::ice::{Candidate, Transport};
use crate::mdns::PendingCandidates;
use crate::pipeline::{Pipeline, BUNDLE_BELOW};
use crate::sctp::{ResetDirection, SctpAssociation, SctpConfig, SctpError, SctpEvent};
use crate::sdp::{
    encode_webrtc, encode_webrtc_answer, IceParams, SessionDescription, Setup, WebRtcParams,
};

/// DTLS datagrams kept while no DTLS session exists yet (they can only come
/// from an authenticated ICE peer, so this is a small bound).
mod signaling;

const MAX_EARLY_DTLS: usize = 32;
/// Scratch space for one DTLS record in or out (a record is at most 16 KiB
/// of plaintext plus its overhead).
const SCRATCH_LEN: usize = 18 * 1024;

/// Bytes kept free between the SCTP path MTU and one DTLS record.
const SCTP_MTU_MARGIN: usize = 32;
/// The largest SCTP path MTU an association starts with: what an
/// Ethernet-sized datagram (1472 bytes of UDP payload) carries under the
/// largest DTLS record overhead (37 bytes) and the margin.
const SCTP_CHUNKING_MTU: u16 = (1472 - 37 - SCTP_MTU_MARGIN) as u16;

/// Which side of the offer/answer exchange we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Undecided,
    Offerer,
    Answerer,
}

/// What the remote description told us.
#[derive(Debug, Clone, Copy)]
struct Remote {
    /// The peer's `a=sctp-port` (5000 when absent).
    sctp_port: u16,
    /// The peer's `a=max-message-size` (65536 when absent, 0 = unlimited).
    max_message_size: usize,
}

/// Counters of what the PeerConnection dropped between layers; for tests
/// and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// DTLS datagrams dropped because they arrived before the remote
    /// description and the early queue was full.
    pub early_dtls_dropped: u64,
    /// Non-DTLS application datagrams (a PeerConnection carries none).
    pub raw_data_dropped: u64,
    /// SCTP packets DTLS refused to encrypt (not connected, too large).
    pub dtls_send_errors: u64,
    /// DTLS datagrams ICE refused (no selected pair, queue full).
    pub ice_send_errors: u64,
    /// Channel messages SCTP refused for a reason other than back-pressure.
    pub sctp_send_errors: u64,
    /// Remote `.local` candidates added with their resolved address.
    pub mdns_resolved: u64,
    /// Remote `.local` candidates dropped because their name did not
    /// resolve (mDNS timeout) or could not be looked up.
    pub mdns_dropped: u64,
    /// The datagram size in effect (path MTU discovery; 1200 before and
    /// without it).
    pub path_mtu: usize,
    pub path_mtu_probes: PathMtuStats,
}

/// A WebRTC PeerConnection for data channels, sans-IO.
///
/// The driver binds sockets and registers them with
/// [`add_host_candidate`](Self::add_host_candidate), feeds what arrives to
/// [`handle_datagram`](Self::handle_datagram), calls
/// [`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout), and after every call drains
/// [`poll_transmit`](Self::poll_transmit) and
/// [`poll_event`](Self::poll_event).
pub struct PeerConnection {
    local_port: u16,
    dtls_handshake_timeout: Duration,
    max_message_size: usize,
    certificate: Certificate,
    fingerprint_text: String,
    ice: IceAgent,
    gathering: bool,
    side: Side,
    remote: Option<Remote>,
    /// The remote offer's media sections and BUNDLE group (candidates
    /// left out), which our answer mirrors.
    offer: Option<SessionDescription>,
    dtls_role: Option<DtlsRole>,
    dtls: Option<DtlsSession>,
    early_dtls: VecDeque<Vec<u8>>,
    sctp: Option<SctpAssociation>,
    channels: ChannelManager,
    /// DTLS → SCTP → channels, composed (and the channel messages SCTP
    /// has not taken yet).
    pipe: Pipeline,
    state: PeerState,
    ice_connected: bool,
    consent_stale: bool,
    /// We called `close`, or the peer closed DTLS: channel loss is not an
    /// error then.
    closing: bool,
    /// Datagrams taken from the ICE agent before it was closed.
    outbox: VecDeque<Transmit>,
    events: VecDeque<PeerEvent>,
    stats: PeerStats,
    /// Lent to DTLS for records in and out, so the per-packet path does not
    /// allocate.
    scratch: Vec<u8>,
    /// Remote candidates whose address is an mDNS name not resolved yet,
    /// and the peer's end-of-candidates while any waits (ICE would
    /// otherwise fail before they are known).
    mdns: PendingCandidates,
    pmtu: PathMtu,
    /// The driver's token for this connection when it advances usrsctp's
    /// timers for the whole process (see [`Self::set_sctp_ticked_by`]).
    sctp_owner: Option<u64>,
    /// Received messages waiting for [`Self::recv`] may cost this much
    /// (bytes + 64 each) before reading from SCTP stops.
    recv_limit: usize,
    /// Reading from SCTP stopped and the application has since pulled the
    /// queue down to half the bound: [`Self::poll_timeout`] asks for a
    /// turn, which reads again.
    read_wanted: bool,
    /// The latest time a layer was driven at (the deadline of that turn).
    last_now: Instant,
    /// Ports and verification tag of the last SCTP packet from the peer
    /// (for [`Self::fuzz_sctp_packet`]).
    #[cfg(feature = "fuzzing")]
    fuzz_sctp_header: [u8; 8],
}

impl fmt::Debug for PeerConnection {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerConnection")
            .field("state", &self.state)
            .field("side", &self.side)
            .field("ice", &self.ice.state())
            .field("dtls", &self.dtls.as_ref().map(DtlsSession::state))
            .field("sctp_up", &self.channels.is_up())
            .finish_non_exhaustive()
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn dtls_to_channel_role(role: DtlsRole) -> channel::DtlsRole {
    match role {
        DtlsRole::Client => channel::DtlsRole::Client,
        DtlsRole::Server => channel::DtlsRole::Server,
    }
}

/// The receive bound for a configured value (0: the default).
fn recv_limit_of(bytes: usize) -> usize {
    if bytes == 0 {
        DEFAULT_RECV_BUFFER_LIMIT
    } else {
        bytes.max(MIN_RECV_BUFFER_LIMIT)
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl PeerConnection {
    /// Creates the ICE agent (controlling until the roles are known) and
    /// generates the DTLS certificate. Nothing is gathered or sent yet.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(cfg: PeerConfig, now: Instant) -> Result<Self, PeerError> {
        let mut ice_cfg = cfg.ice.clone();
        ice_cfg.role = Role::Controlling;
        ice_cfg
            .stun_servers
            .extend(cfg.stun_servers.iter().copied());
        ice_cfg
            .turn_servers
            .extend(cfg.turn_servers.iter().cloned());
        if ice_cfg.rng_seed.is_none() {
            ice_cfg.rng_seed = cfg.rng_seed;
        }
        let ice = IceAgent::new(ice_cfg, now)?;
        let certificate = Certificate::generate()?;
        let fingerprint_text = certificate.fingerprint().to_sdp();
        let max_message_size = if cfg.max_message_size == 0 {
            DEFAULT_MAX_MESSAGE_SIZE
        } else {
            cfg.max_message_size
        };
        let local_port = if cfg.sctp_port == 0 {
            DEFAULT_SCTP_PORT
        } else {
            cfg.sctp_port
        };
        let mut channels =
            ChannelManager::new(channel::DEFAULT_REMOTE_MAX_MESSAGE_SIZE, max_message_size);
        // The spec's XDC_MAX_CHANNELS, local and remote channels together
        // (a remote OPEN beyond it is refused with a stream reset).
        channels.set_limits(Limits {
            max_channels: channel::C_MAX_CHANNELS,
            ..channels.limits()
        });
        Ok(PeerConnection {
            local_port,
            dtls_handshake_timeout: cfg.dtls_handshake_timeout,
            max_message_size,
            certificate,
            fingerprint_text,
            ice,
            gathering: false,
            side: Side::Undecided,
            remote: None,
            offer: None,
            dtls_role: None,
            dtls: None,
            early_dtls: VecDeque::new(),
            sctp: None,
            channels,
            pipe: Pipeline::new(),
            state: PeerState::New,
            ice_connected: false,
            consent_stale: false,
            closing: false,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            stats: PeerStats::default(),
            scratch: vec![0; SCRATCH_LEN],
            mdns: PendingCandidates::new(),
            pmtu: PathMtu::new(cfg.path_mtu),
            sctp_owner: None,
            recv_limit: recv_limit_of(cfg.recv_buffer_limit),
            read_wanted: false,
            last_now: now,
            #[cfg(feature = "fuzzing")]
            fuzz_sctp_header: [0; 8],
        })
    }

    /// Bounds the received messages waiting for [`Self::recv`] (their
    /// bytes plus 64 per message): once they reach `bytes` the connection
    /// stops reading from SCTP, usrsctp's receive buffer fills, the window
    /// advertised to the peer closes and the peer's buffered amount grows;
    /// reading resumes when the application has pulled the queue down to
    /// half the bound. Nothing is dropped for it. 0 restores the default
    /// ([`DEFAULT_RECV_BUFFER_LIMIT`]); values below 64 KiB are raised to
    /// 64 KiB. One message is always accepted, so the bound is exceeded by
    /// at most one message plus 64 KiB.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn set_recv_buffer_limit(&mut self, bytes: usize) {
        self.recv_limit = recv_limit_of(bytes);
        // The next turn applies it (and reads again if it was raised).
        self.read_wanted = self.sctp.is_some();
    }

    /// The bound set by [`Self::set_recv_buffer_limit`].
    pub fn recv_buffer_limit(&self) -> usize {
        self.recv_limit
    }

    /// What the received messages not yet pulled with [`Self::recv`] cost
    /// against the bound: their bytes plus 64 each.
    pub fn recv_queued(&self) -> usize {
        self.channels.recv_queued()
    }

    /// Whether [`Self::poll_timeout`] asks for a turn at once to read from
    /// SCTP again (the application pulled a stopped receive queue down).
    pub fn wants_read(&self) -> bool {
        self.read_wanted
    }

    /// Whether reading from SCTP is stopped because the received messages
    /// reached the bound.
    pub fn is_read_paused(&self) -> bool {
        self.sctp.as_ref().and_then(SctpAssociation::read_budget) == Some(0)
    }

    /// Gives SCTP what is left of the receive bound to read. Once reading
    /// stopped (the bound was reached), it resumes only when the queue is
    /// down to half the bound, so each pause lets a large batch through.
    /// Returns whether reading resumed (what it read waits in SCTP for
    /// the next round of `process`).
    fn update_read_budget(&mut self) -> bool {
        let queued = self.channels.recv_queued();
        let limit = self.recv_limit;
        let Some(sctp) = self.sctp.as_mut() else {
            return false;
        };
        let stopped = sctp.read_budget() == Some(0);
        if stopped && queued > limit / 2 {
            return false;
        }
        let budget = limit.saturating_sub(queued);
        sctp.set_read_budget(Some(budget));
        stopped && budget > 0
    }

    /// The connection state.
    pub fn state(&self) -> PeerState {
        self.state
    }

    /// Our certificate fingerprint as written in `a=fingerprint`:
    /// `sha-256 XX:…:XX`, uppercase.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn local_fingerprint(&self) -> String {
        self.fingerprint_text.clone()
    }

    /// Our DTLS certificate (the same for the whole connection).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The ICE agent, for diagnostics (state, candidates, selected pair).
    pub fn ice(&self) -> &IceAgent {
        &self.ice
    }

    /// Our DTLS role, once the remote description settled it.
    pub fn dtls_role(&self) -> Option<DtlsRole> {
        self.dtls_role
    }

    /// The DTLS session, once the remote description is set.
    pub fn dtls(&self) -> Option<&DtlsSession> {
        self.dtls.as_ref()
    }

    /// The SCTP association, once DTLS is connected.
    pub fn sctp(&self) -> Option<&SctpAssociation> {
        self.sctp.as_ref()
    }

    /// Counters of what was dropped between layers, and the path MTU.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn stats(&self) -> PeerStats {
        let pipe = self.pipe.stats();
        PeerStats {
            path_mtu: self.pmtu.current(),
            path_mtu_probes: self.pmtu.stats(),
            dtls_send_errors: self.stats.dtls_send_errors + pipe.dtls_send_errors,
            sctp_send_errors: self.stats.sctp_send_errors + pipe.sctp_send_errors,
            ..self.stats
        }
    }

    /// Lets a driver advance usrsctp's timers once for the whole process
    /// ([`crate::sctp::tick`]) instead of each association asking for its
    /// own periodic wake: the association's timers then add nothing to
    /// [`poll_timeout`](Self::poll_timeout), and the driver calls
    /// [`handle_timeout`](Self::handle_timeout) when
    /// [`crate::sctp::take_woken`] names `owner`. Call it before the
    /// association exists (it applies to the one created later).
    pub fn set_sctp_ticked_by(&mut self, owner: u64) {
        self.sctp_owner = Some(owner);
        if let Some(sctp) = self.sctp.as_mut() {
            sctp.set_ticked_by(owner);
        }
    }

    /// The data channels: labels, states, stream ids, buffered amounts.
    pub fn channels(&self) -> &ChannelManager {
        &self.channels
    }

    /// The data channels, for settings such as the buffered-amount low
    /// threshold.
    pub fn channels_mut(&mut self) -> &mut ChannelManager {
        &mut self.channels
    }

    /// Registers a socket the driver bound at `base` as a host candidate.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn add_host_candidate(&mut self, base: SocketAddr) {
        if self.state == PeerState::Closed {
            return;
        }
        self.ice.add_host_candidate(base);
        self.translate_ice_events();
    }

    /// Announces STUN servers still being resolved (see
    /// [`IceAgent::expect_stun_servers`]).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn expect_stun_servers(&mut self) {
        self.ice.expect_stun_servers();
    }

    /// Adds resolved STUN servers (possibly none).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn add_stun_servers(&mut self, now: Instant, servers: &[SocketAddr]) {
        if self.state == PeerState::Closed {
            return;
        }
        self.ice.add_stun_servers(now, servers);
        self.process(now);
    }

    /// Announces TURN servers still being resolved (see
    /// [`IceAgent::expect_turn_servers`]).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn expect_turn_servers(&mut self, n: usize) {
        self.ice.expect_turn_servers(n);
    }

    /// Announces a TURN server over TCP or TLS (see
    /// [`IceAgent::expect_stream_turn_server`]).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn expect_stream_turn_server(&mut self) {
        self.ice.expect_stream_turn_server();
    }

    /// The outcome of resolving an announced TURN server (see
    /// [`IceAgent::turn_server_resolved`]).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn turn_server_resolved(
        &mut self,
        now: Instant,
        r: Result<
            (crate::turn::client::TurnConfig, Option<SocketAddr>),
            crate::ice::agent::RelayFailure,
        >,
    ) {
        if self.state == PeerState::Closed {
            return;
        }
        self.ice.turn_server_resolved(now, r);
        self.process(now);
    }

    /// The driver's TCP/TLS connection `link` to a TURN server failed (see
    /// [`IceAgent::turn_link_failed`]).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn turn_link_failed(
        &mut self,
        now: Instant,
        link: SocketAddr,
        why: crate::turn::stream::StreamFailure,
    ) {
        if self.state == PeerState::Closed {
            return;
        }
        self.ice.turn_link_failed(now, link, why);
        self.process(now);
    }

    /// Starts ICE gathering unless it already started. Host candidates are
    /// reported at once as [`PeerEvent::IceCandidate`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn gather(&mut self, now: Instant) -> Result<(), PeerError> {
        if self.state == PeerState::Closed {
            return Err(PeerError::InvalidState("closed"));
        }
        if !self.gathering {
            self.ice.gather(now)?;
            self.gathering = true;
        }
        self.process(now);
        Ok(())
    }

    /// Creates a channel. The id is usable at once; the channel opens
    /// ([`PeerEvent::ChannelOpen`]) once the SCTP association is up and the
    /// peer acknowledged it.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn create_data_channel(&mut self, cfg: ChannelConfig) -> Result<ChannelId, PeerError> {
        if self.state.is_terminal() {
            return Err(PeerError::InvalidState("connection closed or failed"));
        }
        let id = self.channels.create_channel(cfg)?;
        self.flush_outbound();
        Ok(id)
    }

    /// Queues one message on an open channel. Empty messages are allowed;
    /// a message above the peer's `a=max-message-size` is
    /// `Channel(TooLarge)`.
    pub fn send(&mut self, id: ChannelId, kind: MessageKind, data: &[u8]) -> Result<(), PeerError> {
        self.channels.send(id, kind, data)?;
        // A small message waits for the next `poll_transmit` (the driver's
        // kick follows every send and drains transmits in the same I/O
        // turn), which hands it to SCTP together with whatever else was
        // queued by then, so a burst of small sends leaves in bundled
        // packets and a lone one leaves at once. A large one fills packets
        // by itself: it is handed over now, by the caller's thread, which
        // spares the I/O thread the copy into usrsctp.
        if data.len() >= BUNDLE_BELOW {
            self.flush_outbound();
        }
        Ok(())
    }

    /// Starts closing a channel (stream reset); both sides see
    /// [`PeerEvent::ChannelClosed`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn close_channel(&mut self, id: ChannelId) {
        self.channels.close(id);
        self.flush_outbound();
    }

    /// Takes the oldest received message of the channel. When this brings
    /// a stopped receive queue down to half its bound,
    /// [`Self::poll_timeout`] asks for a turn at once, in which reading
    /// from SCTP resumes.
    pub fn recv(&mut self, id: ChannelId) -> Option<(MessageKind, Vec<u8>)> {
        let msg = self.channels.recv(id)?;
        if !self.read_wanted
            && self.is_read_paused()
            && self.channels.recv_queued() <= self.recv_limit / 2
        {
            self.read_wanted = true;
        }
        Some(msg)
    }

    /// Fuzzing hook: `packet` handled as if DTLS had decrypted it from the
    /// peer. Its first 8 bytes (ports, verification tag) are replaced by
    /// those of the last real packet from the peer and its checksum is
    /// filled in, so that fuzzed chunks reach usrsctp and the channels.
    #[cfg(feature = "fuzzing")]
    #[doc(hidden)]
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn fuzz_sctp_packet(&mut self, now: Instant, packet: &[u8]) {
        if packet.len() < 12 {
            return;
        }
        let mut p = packet.to_vec();
        p[..8].copy_from_slice(&self.fuzz_sctp_header);
        crate::sctp::fuzz_seal(&mut p);
        if let Some(sctp) = self.sctp.as_mut() {
            sctp.handle_packet(now, &p);
        }
        self.process(now);
    }

    /// One datagram from the socket bound at `local`. STUN goes to ICE,
    /// DTLS from the authenticated peer to DTLS; anything else is dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) {
        if self.state == PeerState::Closed {
            return;
        }
        // A relayed datagram's payload is inside the TURN framing.
        let input = self.ice.handle_datagram_payload(now, local, from, data);
        let data = input.payload;
        match input.received {
            Received::Dtls => match self.dtls.as_mut() {
                Some(dtls) => {
                    self.pmtu.on_received();
                    dtls.handle_datagram(now, data);
                }
                None if self.early_dtls.len() < MAX_EARLY_DTLS => {
                    self.early_dtls.push_back(data.to_vec());
                }
                None => {
                    log::debug!(target: "pc", "dropped DTLS from {from}: no remote description yet and the early queue is full");
                    self.stats.early_dtls_dropped += 1
                }
            },
            Received::Data => {
                log::debug!(target: "pc", "dropped a non-DTLS datagram from {from}");
                self.stats.raw_data_dropped += 1
            }
            Received::Consumed | Received::ChannelData | Received::Dropped => {}
        }
        self.process(now);
    }

    /// Advances every layer's timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == PeerState::Closed {
            return;
        }
        self.ice.handle_timeout(now);
        if let Some(dtls) = self.dtls.as_mut() {
            dtls.handle_timeout(now);
        }
        if let Some(sctp) = self.sctp.as_mut() {
            sctp.handle_timeout(now);
        }
        self.process(now);
    }

    /// The next datagram to send. Small messages queued by
    /// [`send`](Self::send) since the last call are handed to SCTP first,
    /// all together (so they bundle), and leave in this same drain: no
    /// timer turn stands between a send and its datagram.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.has_queued_sends() {
            self.flush_outbound();
        }
        self.outbox.pop_front().or_else(|| self.ice.poll_transmit())
    }

    /// Whether the one message queued by the last [`Self::send`] would go
    /// out alone: a single small message queued, and an association that
    /// has nothing unacknowledged (so nothing to bundle it with, and no
    /// reason for Nagle to hold it). Its datagram may then be sent at once
    /// by the sending thread instead of the driver's next turn.
    pub fn sends_alone(&self) -> bool {
        self.has_queued_sends()
            && self.channels.queued_sctp_sends() == 1
            && self
                .sctp
                .as_ref()
                .is_some_and(|s| !s.is_blocked() && s.buffered_amount() == 0)
    }

    /// Channel messages queued for SCTP that an established association
    /// could take now (none held back by a full send buffer).
    fn has_queued_sends(&self) -> bool {
        self.sctp
            .as_ref()
            .is_some_and(SctpAssociation::is_connected)
            && !self.pipe.has_pending()
            && self.channels.queued_sctp_sends() > 0
    }

    /// The earliest deadline of the layers.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        if self.state == PeerState::Closed {
            return None;
        }
        let mut t = self.ice.poll_timeout();
        if let Some(dtls) = self.dtls.as_ref() {
            t = earliest(t, dtls.poll_timeout());
        }
        if let Some(sctp) = self.sctp.as_ref() {
            t = earliest(t, sctp.poll_timeout());
        }
        if self.state.is_terminal() {
            return t;
        }
        if self.read_wanted {
            t = earliest(t, Some(self.last_now));
        }
        earliest(t, self.pmtu.poll_timeout())
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// Closes the connection: DTLS close_notify to the peer (which then
    /// closes too), SCTP torn down, ICE closed; every channel is Closed and
    /// the state `Closed`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn close(&mut self) {
        if self.state == PeerState::Closed {
            // Closed by the peer: ICE was released then; this is a no-op
            // unless it was not.
            self.release_ice();
            return;
        }
        self.closing = true;
        self.channels.association_lost();
        self.pipe.clear_pending();
        self.flush_outbound();
        if let Some(sctp) = self.sctp.as_mut() {
            // As browsers do: the SCTP ABORT first, then DTLS close_notify;
            // the peer reports `Closed` on whichever it sees first.
            sctp.close();
            while let Some(pkt) = sctp.poll_transmit() {
                if let Some(dtls) = self.dtls.as_mut() {
                    if dtls.state() == DtlsState::Connected && dtls.send(&pkt).is_err() {
                        self.stats.dtls_send_errors += 1;
                    }
                }
            }
        }
        self.drain_dtls();
        if let Some(dtls) = self.dtls.as_mut() {
            dtls.close();
        }
        self.drain_dtls();
        self.release_ice();
        self.set_state(PeerState::Closed);
    }

    /// Closes ICE once the connection is closed (by us or by the peer):
    /// what ICE still has queued (the last DTLS and SCTP datagrams) goes
    /// out first, then each TURN allocation's release (a Refresh with
    /// LIFETIME 0). A Closed connection never talks again, so an
    /// allocation kept past it would only wait to expire on the server.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn release_ice(&mut self) {
        if self.ice.state() == IceState::Closed {
            return;
        }
        while let Some(t) = self.ice.poll_transmit() {
            self.outbox.push_back(t);
        }
        self.translate_ice_events();
        self.ice.close();
        while self.ice.poll_event().is_some() {}
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn set_state(&mut self, s: PeerState) {
        if self.state == s {
            return;
        }
        // Failed and Closed are final, except that closing a failed
        // connection reports Closed.
        if self.state == PeerState::Closed
            || (self.state == PeerState::Failed && s != PeerState::Closed)
        {
            return;
        }
        log::info!(target: "pc", "state {:?} -> {s:?}", self.state);
        self.state = s;
        self.events.push_back(PeerEvent::StateChanged(s));
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn fail(&mut self) {
        if self.state.is_terminal() {
            return;
        }
        self.channels.association_lost();
        self.pipe.clear_pending();
        if let Some(sctp) = self.sctp.as_mut() {
            sctp.close();
        }
        self.set_state(PeerState::Failed);
    }

    /// Moves what an input caused through the layers, once, in the
    /// pipeline's order (`crate::pipeline`): ICE events, DTLS in, SCTP in,
    /// channels, SCTP out, DTLS out. No stage feeds an earlier one.
    fn process(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        self.read_wanted = false;
        self.translate_ice_events_at(now);
        if self.ice_connected {
            self.start_dtls(now);
        }
        self.process_dtls(now);
        self.process_sctp(now);
        self.flush_outbound();
        // Reading stopped with the queue already low (a message larger
        // than the budget was still being read): another turn at once.
        if self.is_read_paused() && self.channels.recv_queued() <= self.recv_limit / 2 {
            self.read_wanted = true;
        }
        if self.state == PeerState::Closed {
            // The peer closed the connection (SCTP ABORT or shutdown, DTLS
            // close_notify): our replies above are queued, the relays go.
            self.release_ice();
            return;
        }
        self.drive_path_mtu(now);
    }

    /// Path MTU discovery: probe results applied, the next probe sent.
    fn drive_path_mtu(&mut self, now: Instant) {
        if self.state.is_terminal() || !self.pmtu.is_started() {
            return;
        }
        if let Some(size) = self.pmtu.peer_probed(self.ice.largest_peer_probe()) {
            self.apply_path_mtu(size);
        }
        while let Some(r) = self.ice.poll_mtu_probe() {
            if let Some(size) = self.pmtu.on_result(now, r.size, r.acked) {
                self.apply_path_mtu(size);
            }
        }
        self.pmtu.tick(now);
        if let Some(size) = self.pmtu.due(now) {
            let ok = self.ice.probe_path_mtu(now, size);
            self.pmtu.sent(now, ok);
        }
    }

    /// Sets the DTLS datagram size and the SCTP packet size under it
    /// (before the association exists: the size it will start with).
    #[cfg_attr(xp2p_device, optimize(size))]
    fn apply_path_mtu(&mut self, size: usize) {
        let Some(dtls) = self.dtls.as_mut() else {
            return;
        };
        if dtls.set_mtu(size).is_ok() {
            if let Some(sctp) = self.sctp.as_mut() {
                let _ = sctp.set_mtu(sctp_mtu_for(dtls));
            }
        }
    }

    fn translate_ice_events(&mut self) {
        while let Some(ev) = self.ice.poll_event() {
            self.on_ice_event(None, ev);
        }
    }

    fn translate_ice_events_at(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Some(ev) = self.ice.poll_event() {
            any = true;
            self.on_ice_event(Some(now), ev);
        }
        any
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn on_ice_event(&mut self, now: Option<Instant>, ev: IceEvent) {
        match ev {
            IceEvent::StateChanged(s) => match s {
                IceState::Checking => {
                    if self.state == PeerState::New {
                        self.set_state(PeerState::Connecting);
                    }
                }
                IceState::Connected | IceState::Completed => {
                    if self.state == PeerState::New {
                        self.set_state(PeerState::Connecting);
                    }
                    self.ice_connected = true;
                    if let Some(now) = now {
                        self.start_dtls(now);
                    }
                }
                IceState::Failed => {
                    log::warn!(target: "pc", "failing: ICE failed");
                    self.fail()
                }
                IceState::New | IceState::Gathering | IceState::Closed => {}
            },
            IceEvent::LocalCandidate(c) => {
                let line = format!("{}\r\n", c.to_sdp_attribute());
                self.events.push_back(PeerEvent::IceCandidate(Some(line)));
            }
            IceEvent::GatheringComplete => self.events.push_back(PeerEvent::IceCandidate(None)),
            IceEvent::ConsentStale => {
                self.consent_stale = true;
                if self.state == PeerState::Connected {
                    self.set_state(PeerState::Disconnected);
                }
            }
            IceEvent::ConsentRestored => {
                self.consent_stale = false;
                if self.state == PeerState::Disconnected {
                    self.set_state(PeerState::Connected);
                }
            }
            IceEvent::SelectedPair { local, .. } => {
                // A new path: its MTU is unknown, search again. The search
                // runs beside the DTLS handshake, so the SCTP association
                // usually starts with the size already validated (see
                // `start_sctp`).
                if let Some(now) = now {
                    self.ice.cancel_mtu_probe();
                    if let Some(size) = self.pmtu.start(now, local.is_ipv6()) {
                        self.apply_path_mtu(size);
                    }
                }
            }
            IceEvent::RoleChanged(_) | IceEvent::RelayFailed { .. } => {}
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn start_dtls(&mut self, now: Instant) {
        if self.state.is_terminal() {
            return;
        }
        let Some(dtls) = self.dtls.as_mut() else {
            return;
        };
        if dtls.state() != DtlsState::New {
            return;
        }
        if let Err(e) = dtls.start(now) {
            log::warn!(target: "pc", "failing: DTLS did not start: {e}");
            self.fail();
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn start_sctp(&mut self, now: Instant) {
        if self.sctp.is_some() || self.state.is_terminal() {
            return;
        }
        let (Some(dtls), Some(remote)) = (self.dtls.as_ref(), self.remote) else {
            return;
        };
        // usrsctp cuts DATA chunks for the smallest path MTU the association
        // ever had and cannot raise it later, so the association starts
        // with the datagram size validated by now (the search runs during
        // the handshake), up to the Ethernet size: larger chunks could be
        // stranded if the path or the peer's reads fall back to it.
        let mtu = sctp_mtu_for(dtls).min(SCTP_CHUNKING_MTU);
        let remote_max = if remote.max_message_size == 0 {
            self.max_message_size
        } else {
            remote.max_message_size
        };
        let cfg = SctpConfig {
            local_port: self.local_port,
            remote_port: remote.sctp_port,
            // Receive up to what we advertised; the channel manager holds
            // sends to the peer's limit.
            max_message_size: self.max_message_size.max(remote_max),
            mtu,
            ..SctpConfig::default()
        };
        let owner = self.sctp_owner;
        let created = SctpAssociation::new(cfg).and_then(|mut a| {
            if let Some(owner) = owner {
                a.set_ticked_by(owner);
            }
            a.start(now).map(|()| a)
        });
        match created {
            Ok(a) => self.sctp = Some(a),
            Err(e) => {
                log::warn!(target: "pc", "failing: SCTP did not start: {e}");
                self.fail()
            }
        }
    }

    fn process_dtls(&mut self, now: Instant) -> bool {
        let mut progress = false;
        let mut events = Vec::new();
        if let Some(dtls) = self.dtls.as_mut() {
            while let Some(ev) = dtls.poll_event() {
                // One per received record while data flows, and nothing
                // to do: not collected (no allocation per datagram).
                if matches!(ev, DtlsEvent::Readable) {
                    progress = true;
                    continue;
                }
                events.push(ev);
            }
        }
        for ev in events {
            progress = true;
            match ev {
                DtlsEvent::Connected => self.start_sctp(now),
                DtlsEvent::Readable => {}
                DtlsEvent::Closed => {
                    if !self.closing && !self.state.is_terminal() {
                        // The peer closed the connection.
                        self.closing = true;
                        self.channels.association_lost();
                        self.pipe.clear_pending();
                        if let Some(sctp) = self.sctp.as_mut() {
                            sctp.close();
                        }
                        self.set_state(PeerState::Closed);
                    }
                }
                DtlsEvent::Failed(why) => {
                    log::warn!(target: "pc", "failing: DTLS {why}");
                    self.fail()
                }
            }
        }
        if let (Some(dtls), Some(sctp)) = (self.dtls.as_mut(), self.sctp.as_mut()) {
            #[cfg(feature = "fuzzing")]
            let header = &mut self.fuzz_sctp_header;
            progress |= self
                .pipe
                .dtls_to_sctp(now, dtls, sctp, &mut self.scratch, |_record| {
                    #[cfg(feature = "fuzzing")]
                    if _record.len() >= 8 {
                        header.copy_from_slice(&_record[..8]);
                    }
                });
        }
        progress
    }

    /// SCTP in, to quiescence: its events and messages, again while
    /// reading resumes (what the application pulled since the last turn
    /// may be read again) or handling its events made more.
    fn process_sctp(&mut self, now: Instant) -> bool {
        let mut progress = false;
        loop {
            let Some(sctp) = self.sctp.as_mut() else {
                return progress;
            };
            let mut events = Vec::new();
            let mut flowing = false;
            while let Some(ev) = sctp.poll_event() {
                // Per message and per acknowledgement while data flows, and
                // nothing to do beyond another round: not collected (no
                // allocation per datagram).
                if matches!(
                    ev,
                    SctpEvent::Message { .. }
                        | SctpEvent::SendFailed { .. }
                        | SctpEvent::Writable
                        | SctpEvent::SenderDry
                ) {
                    flowing = true;
                    continue;
                }
                events.push(ev);
            }
            let quiet = events.is_empty() && !flowing;
            // The association's establishment first: the peer's first
            // messages (a DCEP OPEN) can arrive in the same turn, and the
            // channels take messages only once the association is up.
            if let Some(i) = events
                .iter()
                .position(|e| matches!(e, SctpEvent::Connected { .. }))
            {
                let ev = events.remove(i);
                self.on_sctp_event(now, ev);
            }
            if let Some(sctp) = self.sctp.as_mut() {
                let channels = &mut self.channels;
                progress |= self.pipe.sctp_to_channels(sctp, |stream, ppid, data| {
                    channels.handle_sctp_message_owned(stream, ppid, data)
                });
            }
            let resumed = self.update_read_budget();
            for ev in events {
                self.on_sctp_event(now, ev);
            }
            progress |= !quiet;
            if quiet && !resumed {
                return progress;
            }
        }
    }

    fn on_sctp_event(&mut self, now: Instant, ev: SctpEvent) {
        match ev {
            SctpEvent::Connected {
                outbound_streams,
                inbound_streams,
            } => {
                if !self.pmtu.is_started() {
                    if let Some((local, _)) = self.ice.selected_pair() {
                        if let Some(size) = self.pmtu.start(now, local.is_ipv6()) {
                            self.apply_path_mtu(size);
                        }
                    }
                }
                let role = self.dtls_role.unwrap_or(DtlsRole::Client);
                self.channels.set_role(dtls_to_channel_role(role));
                let _ = self
                    .channels
                    .association_up(outbound_streams.min(inbound_streams));
                if self.consent_stale {
                    self.set_state(PeerState::Disconnected);
                } else {
                    self.set_state(PeerState::Connected);
                }
            }
            SctpEvent::StreamReset { stream, direction } => {
                self.channels
                    .handle_stream_reset(stream, direction == ResetDirection::Incoming);
            }
            SctpEvent::Message { .. }
            | SctpEvent::SendFailed { .. }
            | SctpEvent::Writable
            | SctpEvent::SenderDry => {}
            SctpEvent::Lost => {
                if self.closing {
                    self.channels.association_lost();
                } else {
                    log::warn!(target: "pc", "failing: SCTP association lost");
                    self.fail();
                }
            }
            // The peer ended the association on purpose (graceful
            // shutdown, or an ABORT as browsers and aiortc send when
            // their connection closes): closed, not failed.
            SctpEvent::Closed | SctpEvent::Aborted => {
                if !self.closing && !self.state.is_terminal() {
                    self.closing = true;
                    self.channels.association_lost();
                    self.pipe.clear_pending();
                    self.set_state(PeerState::Closed);
                } else {
                    self.channels.association_lost();
                }
            }
        }
    }

    /// Channel messages and resets → SCTP → DTLS → ICE, then channel
    /// events. Needs no time: none of these steps reads a clock.
    fn flush_outbound(&mut self) -> bool {
        let mut moved = false;
        if let Some(sctp) = self.sctp.as_mut() {
            let events = &mut self.events;
            moved |= self
                .pipe
                .channels_to_sctp(&mut self.channels, sctp, |channels, stream, e| {
                    if let (Some(id), SctpError::MessageTooLarge { size, max }) =
                        (channels.channel_by_stream(stream), e)
                    {
                        events.push_back(PeerEvent::ChannelError(
                            id,
                            ChannelError::TooLarge { size, max },
                        ));
                    }
                });
            let (ice, stats, pmtu) = (&mut self.ice, &mut self.stats, &mut self.pmtu);
            moved |= self.pipe.sctp_to_dtls(sctp, self.dtls.as_mut(), |dtls| {
                dtls_to_ice(dtls, ice, stats, pmtu);
            });
        }
        moved |= self.drain_dtls();
        while let Some(ev) = self.channels.poll_event() {
            moved = true;
            let out = match ev {
                ChannelEvent::Open(id) => Some(PeerEvent::ChannelOpen(id)),
                ChannelEvent::RemoteOpen(id) => Some(PeerEvent::DataChannel(id)),
                ChannelEvent::Message(id, _) => Some(PeerEvent::ChannelMessage(id)),
                ChannelEvent::BufferedAmountLow(id) => Some(PeerEvent::BufferedAmountLow(id)),
                ChannelEvent::Closing(_) => None,
                ChannelEvent::Closed(id) => Some(PeerEvent::ChannelClosed(id)),
                ChannelEvent::Error(_, ChannelError::AssociationLost) if self.closing => None,
                ChannelEvent::Error(id, e) => Some(PeerEvent::ChannelError(id, e)),
            };
            if let Some(ev) = out {
                self.events.push_back(ev);
            }
        }
        moved
    }

    /// DTLS datagrams → ICE.
    fn drain_dtls(&mut self) -> bool {
        match self.dtls.as_mut() {
            Some(dtls) => dtls_to_ice(dtls, &mut self.ice, &mut self.stats, &mut self.pmtu),
            None => false,
        }
    }
}

/// The SCTP path MTU under the DTLS session's record size. Each SCTP
/// packet must fit one DTLS record; usrsctp may exceed its path MTU by a
/// few bytes (9 bytes over in our measurements), hence the margin.
fn sctp_mtu_for(dtls: &DtlsSession) -> u16 {
    u16::try_from(dtls.max_payload().saturating_sub(SCTP_MTU_MARGIN)).unwrap_or(u16::MAX)
}

/// Hands every datagram DTLS has queued to ICE; whether there was any.
fn dtls_to_ice(
    dtls: &mut DtlsSession,
    ice: &mut IceAgent,
    stats: &mut PeerStats,
    pmtu: &mut PathMtu,
) -> bool {
    Pipeline::dtls_out(dtls, |datagram| {
        pmtu.on_sent(datagram.len());
        if ice.send_buffer(datagram).is_err() {
            stats.ice_send_errors += 1;
        }
    })
}
