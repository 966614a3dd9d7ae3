//! The sans-IO TURN client (RFC 5766 over RFC 5389 long-term credentials).
//!
//! [`TurnClient`] owns one allocation on one server. Inputs are the app's
//! calls ([`TurnClient::allocate`], [`TurnClient::create_permission`],
//! [`TurnClient::bind_channel`], [`TurnClient::send_to`],
//! [`TurnClient::close`]), datagrams from the server
//! ([`TurnClient::handle_datagram`]) and the clock
//! ([`TurnClient::handle_timeout`]). Outputs are datagrams for
//! [`TurnClient::server`] ([`TurnClient::poll_transmit`]), small events
//! ([`TurnClient::poll_event`]), relayed payloads ([`TurnClient::recv`]) and
//! the next deadline ([`TurnClient::poll_timeout`]).
//!
//! Authentication: the first Allocate goes out without credentials; a 401
//! carrying REALM and NONCE makes the client retry with USERNAME, REALM,
//! NONCE and MESSAGE-INTEGRITY keyed with `MD5(user:realm:pass)`. Every later
//! request carries the credentials; a 438 (stale nonce) is retried with the
//! new nonce. A 401 to a request that already carried credentials means the
//! credentials are wrong.
//!
//! Responses are matched by transaction id. When the request carried
//! credentials, a response with MESSAGE-INTEGRITY must verify with the key,
//! and a success response must carry it; anything else is dropped and
//! counted in [`TurnStats`], and the request keeps retransmitting.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::rng::Rng;

use super::channel::{encoded_len, is_channel_data, ChannelData};
use super::TurnError;
use crate::stun::txn::{RetransmitConfig, RetransmitTimer, TimerAction};
use crate::stun::{
    attr_type, long_term_key, method, pad4, Attribute, Class, Message, MessageBuilder, MessageType,
    TransactionId, ATTR_HEADER_LEN, HEADER_LEN, INTEGRITY_LEN, MAX_TEXT_LEN, MAX_USERNAME_LEN,
    TXN_ID_LEN,
};

/// Most permissions one client keeps (the C API's `XTURN_MAX_PERMISSIONS`).
pub const MAX_PERMISSIONS: usize = 16;
/// Most channels one client binds (the C API's `XTURN_MAX_CHANNELS`).
pub const MAX_CHANNELS: usize = 8;
/// First channel number handed out.
pub const FIRST_CHANNEL: u16 = 0x4000;
/// Permissions are refreshed this long after their last request (they
/// expire on the server after 300 s).
pub const PERMISSION_REFRESH: Duration = Duration::from_secs(240);
/// Channels are refreshed this long after their last bind (they expire on
/// the server after 600 s).
pub const CHANNEL_REFRESH: Duration = Duration::from_secs(540);
/// Shortest allocation refresh interval.
pub const MIN_REFRESH: Duration = Duration::from_secs(1);
/// Received payloads held for [`TurnClient::recv`]; more are dropped.
pub const RECV_QUEUE_MAX: usize = 256;
/// Events held for [`TurnClient::poll_event`]; more are dropped.
pub const EVENT_QUEUE_MAX: usize = 1024;
/// Datagrams held for [`TurnClient::poll_transmit`].
pub const TRANSMIT_QUEUE_MAX: usize = 1024;
/// Consecutive 438 answers tolerated for one request.
const MAX_STALE_NONCE: u8 = 3;
/// REQUESTED-TRANSPORT value for UDP.
const TRANSPORT_UDP: u8 = 17;

/// Client configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnConfig {
    /// The TURN server (replaced by an ALTERNATE-SERVER redirect).
    pub server: SocketAddr,
    pub username: String,
    pub password: String,
    /// Requested allocation lifetime in seconds (the server may change it).
    pub lifetime: u32,
    /// Seed for transaction ids; `None` seeds from the OS.
    pub rng_seed: Option<u64>,
    /// Request retransmission schedule (RFC 5389 defaults: RTO 500 ms,
    /// 7 sends, Rm 16).
    pub retransmit: RetransmitConfig,
}

impl TurnConfig {
    /// A configuration with the defaults: lifetime 600 s, RFC 5389
    /// retransmissions, OS-seeded ids.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(server: SocketAddr, username: &str, password: &str) -> Self {
        TurnConfig {
            server,
            username: username.to_owned(),
            password: password.to_owned(),
            lifetime: 600,
            rng_seed: None,
            retransmit: RetransmitConfig::RFC5389,
        }
    }
}

/// The allocation's state (the C API's `xTurnState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnState {
    Idle,
    Allocating,
    Allocated,
    Failed,
}

/// Why the allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnFailure {
    /// The server rejected the credentials (401 after authenticating), or
    /// its 401 lacked REALM/NONCE.
    Unauthorized,
    /// A request got no answer within the retransmission schedule.
    Timeout,
    /// The server answered with this error code.
    ServerError(u16),
    /// A success response lacked a required attribute or was malformed.
    BadResponse,
    /// A second ALTERNATE-SERVER redirect (or one to the same server).
    RedirectLoop,
}

impl std::fmt::Display for TurnFailure {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TurnFailure::Unauthorized => {
                f.write_str("TURN credentials rejected (error 401 Unauthorized)")
            }
            TurnFailure::Timeout => f.write_str("TURN server did not answer (timed out)"),
            TurnFailure::ServerError(c) => write!(f, "TURN server error {c}"),
            TurnFailure::BadResponse => f.write_str("bad TURN response"),
            TurnFailure::RedirectLoop => f.write_str("TURN redirect loop"),
        }
    }
}

/// What the client reports. Payloads are pulled with [`TurnClient::recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEvent {
    Allocated {
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
        lifetime: u32,
    },
    Failed(TurnFailure),
    /// A permission's first CreatePermission (or ChannelBind) succeeded.
    PermissionCreated(IpAddr),
    /// A permission request failed; the permission is removed.
    PermissionFailed(IpAddr),
    /// A channel's first ChannelBind succeeded; ChannelData is used from now.
    ChannelBound {
        peer: SocketAddr,
        number: u16,
    },
    /// A ChannelBind failed; the channel is removed.
    ChannelFailed {
        peer: SocketAddr,
        number: u16,
    },
    /// A payload from `peer` is ready for [`TurnClient::recv`].
    Data {
        peer: SocketAddr,
        len: usize,
    },
    /// An allocation refresh succeeded.
    Refreshed {
        lifetime: u32,
    },
    /// The deallocation after [`TurnClient::close`] finished.
    Deallocated,
}

/// What [`TurnClient::handle_input`] made of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnInput<'a> {
    /// Not from the server, or not TURN traffic of this client: the caller
    /// passes it on.
    NotMine,
    /// The client's (a response, or relayed data it dropped and counted).
    Consumed,
    /// A payload `peer` sent to the relayed address.
    Data { peer: SocketAddr, data: &'a [u8] },
}

/// Counters. Dropped input never becomes an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TurnStats {
    pub requests_sent: u64,
    pub retransmits: u64,
    pub responses: u64,
    pub indications_sent: u64,
    pub channel_data_sent: u64,
    pub data_received: u64,
    /// STUN-looking or ChannelData-looking bytes from the server that do not
    /// parse, or responses missing what they need.
    pub malformed: u64,
    /// Responses whose transaction id matches no request in flight.
    pub unmatched: u64,
    /// Responses that fail MESSAGE-INTEGRITY (or lack it when required).
    pub integrity_failures: u64,
    /// Data indications / ChannelData for unknown peers or channels.
    pub unknown_peer: u64,
    /// Payloads dropped because the receive queue was full.
    pub recv_overflow: u64,
    /// Events dropped because the event queue was full.
    pub event_overflow: u64,
}

/// The client's named timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnTimer {
    /// A request's retransmission or final timeout.
    Retransmit,
    /// The allocation refresh at 80% of its lifetime.
    AllocationRefresh,
    /// A permission's refresh.
    PermissionRefresh,
    /// A channel's refresh.
    ChannelRefresh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxnKind {
    Allocate,
    /// Lifetime 0 is the deallocation.
    Refresh(u32),
    Permission(IpAddr),
    Channel(SocketAddr, u16),
}

impl TxnKind {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn method(self) -> u16 {
        match self {
            TxnKind::Allocate => method::ALLOCATE,
            TxnKind::Refresh(_) => method::REFRESH,
            TxnKind::Permission(_) => method::CREATE_PERMISSION,
            TxnKind::Channel(..) => method::CHANNEL_BIND,
        }
    }
}

#[derive(Debug)]
struct Txn {
    id: TransactionId,
    kind: TxnKind,
    bytes: Vec<u8>,
    timer: RetransmitTimer<Instant>,
    /// The key the request was signed with, if any.
    key: Option<[u8; 16]>,
    stale_retries: u8,
}

#[derive(Debug, Clone)]
struct Permission {
    ip: IpAddr,
    confirmed: bool,
    refresh_at: Instant,
}

#[derive(Debug, Clone)]
struct Channel {
    peer: SocketAddr,
    number: u16,
    confirmed: bool,
    refresh_at: Instant,
}

/// Realm, nonce and the long-term key derived from them.
#[derive(Debug, Clone)]
struct Credentials {
    realm: String,
    nonce: String,
    key: [u8; 16],
}

/// The sans-IO TURN client. See the module docs.
#[derive(Debug)]
pub struct TurnClient {
    cfg: TurnConfig,
    server: SocketAddr,
    redirected: bool,
    state: TurnState,
    rng: Rng,
    creds: Option<Credentials>,
    relayed: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    lifetime: u32,
    refresh_at: Option<Instant>,
    permissions: Vec<Permission>,
    channels: Vec<Channel>,
    next_channel: u16,
    txns: Vec<Txn>,
    outbox: VecDeque<Vec<u8>>,
    events: VecDeque<TurnEvent>,
    received: VecDeque<(SocketAddr, Vec<u8>)>,
    stats: TurnStats,
}

impl TurnClient {
    /// A client in [`TurnState::Idle`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(cfg: TurnConfig) -> Self {
        crate::logging::init();
        let rng = Rng::new(cfg.rng_seed);
        TurnClient {
            server: cfg.server,
            cfg,
            redirected: false,
            state: TurnState::Idle,
            rng,
            creds: None,
            relayed: None,
            mapped: None,
            lifetime: 0,
            refresh_at: None,
            permissions: Vec::new(),
            channels: Vec::new(),
            next_channel: FIRST_CHANNEL,
            txns: Vec::new(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            received: VecDeque::new(),
            stats: TurnStats::default(),
        }
    }

    /// The current state.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn state(&self) -> TurnState {
        self.state
    }

    /// The counters.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn stats(&self) -> TurnStats {
        self.stats
    }

    /// Whether its requests are never retransmitted: the client runs over a
    /// reliable stream (TCP or TLS).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn over_stream(&self) -> bool {
        self.cfg.retransmit.max_retransmits == 0
    }

    /// Where [`TurnClient::poll_transmit`]'s datagrams go (changes after an
    /// ALTERNATE-SERVER redirect).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The relayed address once allocated.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn relayed_addr(&self) -> Option<SocketAddr> {
        self.relayed
    }

    /// The server-reflexive address the server reported, if any.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn mapped_addr(&self) -> Option<SocketAddr> {
        self.mapped
    }

    /// The allocation lifetime the server granted, in seconds.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn lifetime(&self) -> u32 {
        self.lifetime
    }

    /// The realm learnt from the server, once challenged.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn realm(&self) -> Option<&str> {
        self.creds.as_ref().map(|c| c.realm.as_str())
    }

    /// The current nonce, once challenged.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn nonce(&self) -> Option<&str> {
        self.creds.as_ref().map(|c| c.nonce.as_str())
    }

    /// The channel number bound to `peer`, if any (confirmed or not).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn channel_for(&self, peer: SocketAddr) -> Option<u16> {
        self.channels
            .iter()
            .find(|c| c.peer == peer)
            .map(|c| c.number)
    }

    /// Whether a permission for `ip` is installed (requested or confirmed).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn has_permission(&self, ip: IpAddr) -> bool {
        self.permissions.iter().any(|p| p.ip == ip)
    }

    /// The IP addresses with a permission (requested or confirmed), in the
    /// order they were first requested.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn permission_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.permissions.iter().map(|p| p.ip)
    }

    /// The channels in the order they were bound: peer, number, and whether
    /// the server confirmed the binding (ChannelData is used only then).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn channel_bindings(&self) -> impl Iterator<Item = (SocketAddr, u16, bool)> + '_ {
        self.channels
            .iter()
            .map(|c| (c.peer, c.number, c.confirmed))
    }

    /// The number the next new channel will get.
    pub fn next_channel_number(&self) -> u16 {
        self.next_channel
    }

    /// Whether [`TurnClient::poll_event`] has something.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Starts the allocation. Errors: [`TurnError::InvalidState`] unless
    /// idle (and no deallocation is in flight), [`TurnError::InvalidConfig`]
    /// if the username is too long.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn allocate(&mut self, now: Instant) -> Result<(), TurnError> {
        if self.state != TurnState::Idle || !self.txns.is_empty() {
            return Err(TurnError::InvalidState);
        }
        if self.cfg.username.len() > MAX_USERNAME_LEN {
            return Err(TurnError::InvalidConfig);
        }
        // Start unauthenticated: the server's 401 supplies a fresh realm
        // and nonce, so an old nonce never turns into a false 401.
        self.creds = None;
        self.state = TurnState::Allocating;
        self.send_request(now, TxnKind::Allocate, 0)
    }

    /// Installs (or refreshes) a permission for `peer`. Errors:
    /// [`TurnError::InvalidState`] unless allocated,
    /// [`TurnError::LimitReached`] for a 17th peer.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn create_permission(&mut self, now: Instant, peer: IpAddr) -> Result<(), TurnError> {
        if self.state != TurnState::Allocated {
            return Err(TurnError::InvalidState);
        }
        if !self.has_permission(peer) && self.permissions.len() >= MAX_PERMISSIONS {
            return Err(TurnError::LimitReached);
        }
        self.send_request(now, TxnKind::Permission(peer), 0)?;
        self.touch_permission(now, peer);
        Ok(())
    }

    /// Binds a channel to `peer` (or returns the one already bound) and
    /// installs the permission for its IP. The channel is used for sending
    /// once the server confirms it ([`TurnEvent::ChannelBound`]).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn bind_channel(&mut self, now: Instant, peer: SocketAddr) -> Result<u16, TurnError> {
        if self.state != TurnState::Allocated {
            return Err(TurnError::InvalidState);
        }
        if let Some(n) = self.channel_for(peer) {
            return Ok(n);
        }
        if self.channels.len() >= MAX_CHANNELS || self.next_channel > super::CHANNEL_MAX {
            return Err(TurnError::LimitReached);
        }
        if !self.has_permission(peer.ip()) && self.permissions.len() >= MAX_PERMISSIONS {
            return Err(TurnError::LimitReached);
        }
        let number = self.next_channel;
        self.send_request(now, TxnKind::Channel(peer, number), 0)?;
        self.next_channel += 1;
        self.channels.push(Channel {
            peer,
            number,
            confirmed: false,
            refresh_at: now + CHANNEL_REFRESH,
        });
        self.touch_permission(now, peer.ip());
        Ok(number)
    }

    /// Relays `data` to `peer`: ChannelData on a confirmed channel, else a
    /// Send indication. Errors: [`TurnError::InvalidState`] unless
    /// allocated, [`TurnError::NoPermission`] without a permission for the
    /// peer's IP, [`TurnError::BufferTooSmall`] for a payload that cannot be
    /// framed, [`TurnError::QueueFull`] when the transmit queue is full.
    pub fn send_to(
        &mut self,
        _now: Instant,
        peer: SocketAddr,
        data: &[u8],
    ) -> Result<(), TurnError> {
        if self.state != TurnState::Allocated {
            return Err(TurnError::InvalidState);
        }
        if !self.has_permission(peer.ip()) {
            return Err(TurnError::NoPermission);
        }
        if self.outbox.len() >= TRANSMIT_QUEUE_MAX {
            return Err(TurnError::QueueFull);
        }
        let channel = self
            .channels
            .iter()
            .find(|c| c.peer == peer && c.confirmed)
            .map(|c| c.number);
        let out = match channel {
            Some(channel) => {
                let mut buf = vec![0u8; encoded_len(data.len())];
                let n = ChannelData { channel, data }.encode(&mut buf)?;
                buf.truncate(n);
                self.stats.channel_data_sent += 1;
                buf
            }
            None => {
                let id = self.new_txn_id();
                let attrs = [Attribute::XorPeerAddress(peer), Attribute::Data(data)];
                let buf = build_message(
                    MessageType::new(method::SEND, Class::Indication),
                    &id,
                    &attrs,
                    None,
                )
                .map_err(|_| TurnError::BufferTooSmall)?;
                self.stats.indications_sent += 1;
                buf
            }
        };
        self.outbox.push_back(out);
        Ok(())
    }

    /// Releases the allocation: a Refresh with LIFETIME 0, then
    /// [`TurnEvent::Deallocated`] when it is answered (or times out). The
    /// state is [`TurnState::Idle`] right away. Without an allocation this
    /// only abandons what is in flight.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn close(&mut self, now: Instant) {
        let had_allocation = self.state == TurnState::Allocated;
        self.reset();
        self.state = TurnState::Idle;
        if had_allocation {
            // The only failure is an unencodable message, which the
            // allocation already sent successfully; nothing to report.
            let _ = self.send_request(now, TxnKind::Refresh(0), 0);
        }
    }

    /// Takes a datagram received from `from`. Returns `true` when it was
    /// the client's (a response to one of its requests, a Data indication or
    /// ChannelData from the server), even if it was then dropped as forged
    /// or for an unknown peer; `false` when it is not from the server or not
    /// TURN traffic of this client, so the caller can pass it on.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> bool {
        if from != self.server || data.is_empty() {
            return false;
        }
        if is_channel_data(data[0]) {
            return self.handle_channel_data(data);
        }
        let msg = match Message::parse(data) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return false;
            }
        };
        match msg.class() {
            Class::SuccessResponse | Class::ErrorResponse => self.handle_response(now, &msg),
            Class::Indication if msg.method() == method::DATA => {
                self.handle_data_indication(&msg);
                true
            }
            _ => false,
        }
    }

    /// Like [`TurnClient::handle_datagram`], but a relayed payload is
    /// handed back borrowed from `data` instead of being queued for
    /// [`TurnClient::recv`] (no copy, no [`TurnEvent::Data`]): the ICE agent
    /// feeds it on as if it had arrived on the relayed address.
    pub fn handle_input<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &'a [u8],
    ) -> TurnInput<'a> {
        if from != self.server || data.is_empty() {
            return TurnInput::NotMine;
        }
        if is_channel_data(data[0]) {
            return match self.channel_payload(data) {
                Some((peer, data)) => {
                    self.stats.data_received += 1;
                    TurnInput::Data { peer, data }
                }
                None => TurnInput::Consumed,
            };
        }
        let msg = match Message::parse(data) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return TurnInput::NotMine;
            }
        };
        match msg.class() {
            Class::SuccessResponse | Class::ErrorResponse => {
                if self.handle_response(now, &msg) {
                    TurnInput::Consumed
                } else {
                    TurnInput::NotMine
                }
            }
            Class::Indication if msg.method() == method::DATA => {
                match self.indication_payload(&msg) {
                    Some((peer, data)) => {
                        self.stats.data_received += 1;
                        TurnInput::Data { peer, data }
                    }
                    None => TurnInput::Consumed,
                }
            }
            _ => TurnInput::NotMine,
        }
    }

    /// Runs what is due at `now`: retransmissions and timeouts, the
    /// allocation refresh, permission and channel refreshes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.run_retransmits(now);
        if self.state != TurnState::Allocated {
            return;
        }
        if self.refresh_at.is_some_and(|t| t <= now) {
            self.refresh_at = None;
            let lifetime = self.cfg.lifetime;
            if self
                .send_request(now, TxnKind::Refresh(lifetime), 0)
                .is_err()
            {
                self.fail(TurnFailure::BadResponse);
                return;
            }
        }
        let due: Vec<IpAddr> = self
            .permissions
            .iter()
            .filter(|p| p.refresh_at <= now)
            .map(|p| p.ip)
            .collect();
        for ip in due {
            self.touch_permission(now, ip);
            if !self.in_flight(TxnKind::Permission(ip)) {
                let _ = self.send_request(now, TxnKind::Permission(ip), 0);
            }
        }
        let due: Vec<(SocketAddr, u16)> = self
            .channels
            .iter()
            .filter(|c| c.refresh_at <= now)
            .map(|c| (c.peer, c.number))
            .collect();
        for (peer, number) in due {
            if let Some(c) = self.channels.iter_mut().find(|c| c.number == number) {
                c.refresh_at = now + CHANNEL_REFRESH;
            }
            if !self.in_flight(TxnKind::Channel(peer, number)) {
                let _ = self.send_request(now, TxnKind::Channel(peer, number), 0);
            }
        }
    }

    /// The next datagram for [`TurnClient::server`].
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<TurnEvent> {
        self.events.pop_front()
    }

    /// The next relayed payload and the peer it came from.
    pub fn recv(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.received.pop_front()
    }

    /// The earliest deadline of any named timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timer().map(|(_, t)| t)
    }

    /// The earliest deadline and which timer owns it.
    pub fn next_timer(&self) -> Option<(TurnTimer, Instant)> {
        self.timers()
            .into_iter()
            .filter_map(|(k, t)| t.map(|t| (k, t)))
            .min_by_key(|&(_, t)| t)
    }

    /// The table of named timers.
    pub fn timers(&self) -> [(TurnTimer, Option<Instant>); 4] {
        let allocated = self.state == TurnState::Allocated;
        [
            (
                TurnTimer::Retransmit,
                self.txns
                    .iter()
                    .filter_map(|t| t.timer.poll_timeout())
                    .min(),
            ),
            (
                TurnTimer::AllocationRefresh,
                self.refresh_at.filter(|_| allocated),
            ),
            (
                TurnTimer::PermissionRefresh,
                self.permissions
                    .iter()
                    .map(|p| p.refresh_at)
                    .min()
                    .filter(|_| allocated),
            ),
            (
                TurnTimer::ChannelRefresh,
                self.channels
                    .iter()
                    .map(|c| c.refresh_at)
                    .min()
                    .filter(|_| allocated),
            ),
        ]
    }

    // ---- internals ----

    #[cfg_attr(xp2p_device, optimize(size))]
    fn new_txn_id(&mut self) -> TransactionId {
        let mut id = [0u8; TXN_ID_LEN];
        self.rng.fill_bytes(&mut id);
        id
    }

    fn push_event(&mut self, ev: TurnEvent) {
        match ev {
            TurnEvent::Allocated {
                relayed,
                mapped,
                lifetime,
            } => {
                log::info!(target: "turn", "allocated {relayed} on {} (mapped {mapped:?}, lifetime {lifetime} s)", self.server)
            }
            TurnEvent::Failed(why) => {
                log::warn!(target: "turn", "allocation on {} failed: {why}", self.server)
            }
            TurnEvent::PermissionFailed(ip) => {
                log::warn!(target: "turn", "permission for {ip} refused by {}", self.server)
            }
            _ => log::debug!(target: "turn", "{ev:?} ({})", self.server),
        }
        if self.events.len() >= EVENT_QUEUE_MAX {
            self.stats.event_overflow += 1;
        } else {
            self.events.push_back(ev);
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn in_flight(&self, kind: TxnKind) -> bool {
        self.txns.iter().any(|t| t.kind == kind)
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn touch_permission(&mut self, now: Instant, ip: IpAddr) {
        let refresh_at = now + PERMISSION_REFRESH;
        match self.permissions.iter_mut().find(|p| p.ip == ip) {
            Some(p) => p.refresh_at = refresh_at,
            None => self.permissions.push(Permission {
                ip,
                confirmed: false,
                refresh_at,
            }),
        }
    }

    /// Builds and queues a request of `kind`, signed when credentials are
    /// known, and starts its retransmission timer.
    fn send_request(
        &mut self,
        now: Instant,
        kind: TxnKind,
        stale_retries: u8,
    ) -> Result<(), TurnError> {
        let id = self.new_txn_id();
        let typ = MessageType::new(kind.method(), Class::Request);
        let mut attrs: Vec<Attribute<'_>> = Vec::with_capacity(8);
        match kind {
            TxnKind::Allocate => {
                attrs.push(Attribute::RequestedTransport(TRANSPORT_UDP));
                if self.cfg.lifetime != 0 {
                    attrs.push(Attribute::Lifetime(self.cfg.lifetime));
                }
            }
            TxnKind::Refresh(lifetime) => attrs.push(Attribute::Lifetime(lifetime)),
            TxnKind::Permission(ip) => {
                attrs.push(Attribute::XorPeerAddress(SocketAddr::new(ip, 0)))
            }
            TxnKind::Channel(peer, number) => {
                attrs.push(Attribute::ChannelNumber(number));
                attrs.push(Attribute::XorPeerAddress(peer));
            }
        }
        let key = self.creds.as_ref().map(|c| c.key);
        if let Some(c) = &self.creds {
            attrs.push(Attribute::Username(&self.cfg.username));
            attrs.push(Attribute::Realm(&c.realm));
            attrs.push(Attribute::Nonce(&c.nonce));
        }
        let bytes =
            build_message(typ, &id, &attrs, key.as_ref()).map_err(|_| TurnError::InvalidConfig)?;
        self.outbox.push_back(bytes.clone());
        self.stats.requests_sent += 1;
        self.txns.push(Txn {
            id,
            kind,
            bytes,
            timer: RetransmitTimer::new(self.cfg.retransmit, now),
            key,
            stale_retries,
        });
        Ok(())
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn run_retransmits(&mut self, now: Instant) {
        let mut timed_out = Vec::new();
        let mut i = 0;
        while i < self.txns.len() {
            let mut dead = false;
            while self.txns[i].timer.poll_timeout().is_some_and(|t| t <= now) {
                match self.txns[i].timer.handle_timeout(now) {
                    TimerAction::Retransmit => {
                        self.outbox.push_back(self.txns[i].bytes.clone());
                        self.stats.retransmits += 1;
                    }
                    TimerAction::TimedOut => {
                        dead = true;
                        break;
                    }
                    TimerAction::Wait => break,
                }
            }
            if dead {
                timed_out.push(self.txns.remove(i).kind);
            } else {
                i += 1;
            }
        }
        for kind in timed_out {
            self.on_txn_failed(kind, TurnFailure::Timeout);
        }
    }

    /// A request of `kind` failed for good.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn on_txn_failed(&mut self, kind: TxnKind, why: TurnFailure) {
        match kind {
            TxnKind::Allocate => {
                if self.state == TurnState::Allocating {
                    self.fail(why);
                }
            }
            TxnKind::Refresh(0) => self.push_event(TurnEvent::Deallocated),
            TxnKind::Refresh(_) => {
                if self.state == TurnState::Allocated {
                    self.fail(why);
                }
            }
            TxnKind::Permission(ip) => {
                if self.state == TurnState::Allocated {
                    // A channel keeps its permission alive through its own
                    // binds; only drop a permission no channel relies on.
                    if !self.channels.iter().any(|c| c.peer.ip() == ip) {
                        self.permissions.retain(|p| p.ip != ip);
                    }
                    self.push_event(TurnEvent::PermissionFailed(ip));
                }
            }
            TxnKind::Channel(peer, number) => {
                if self.state == TurnState::Allocated {
                    self.channels.retain(|c| c.number != number);
                    self.push_event(TurnEvent::ChannelFailed { peer, number });
                }
            }
        }
    }

    /// Drops every transaction, permission, channel and timer.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn reset(&mut self) {
        self.txns.clear();
        self.refresh_at = None;
        self.permissions.clear();
        self.channels.clear();
        self.next_channel = FIRST_CHANNEL;
        self.relayed = None;
        self.mapped = None;
        self.lifetime = 0;
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn fail(&mut self, why: TurnFailure) {
        self.reset();
        self.state = TurnState::Failed;
        self.push_event(TurnEvent::Failed(why));
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn handle_response(&mut self, now: Instant, msg: &Message<'_>) -> bool {
        let Some(idx) = self.txns.iter().position(|t| &t.id == msg.transaction_id()) else {
            self.stats.unmatched += 1;
            return false;
        };
        if msg.method() != self.txns[idx].kind.method() {
            self.stats.malformed += 1;
            return true;
        }
        let success = msg.class() == Class::SuccessResponse;
        if let Some(key) = self.txns[idx].key {
            let ok = if msg.has_integrity() {
                msg.verify_integrity(&key).is_ok()
            } else {
                !success
            };
            if !ok {
                self.stats.integrity_failures += 1;
                return true;
            }
        }
        let error = if success {
            None
        } else {
            match msg.decode(attr_type::ERROR_CODE) {
                Some(Ok(Attribute::ErrorCode { code, .. })) => Some(code),
                _ => {
                    // An error response without a readable code: drop it and
                    // let the request retransmit.
                    self.stats.malformed += 1;
                    return true;
                }
            }
        };
        self.stats.responses += 1;
        let txn = self.txns.remove(idx);
        match error {
            None => self.on_success(now, txn.kind, msg),
            Some(code) => self.on_error(now, txn, code, msg),
        }
        true
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn on_success(&mut self, now: Instant, kind: TxnKind, msg: &Message<'_>) {
        let lifetime = match msg.decode(attr_type::LIFETIME) {
            Some(Ok(Attribute::Lifetime(l))) => Some(l),
            _ => None,
        };
        match kind {
            TxnKind::Allocate => {
                if self.state != TurnState::Allocating {
                    return;
                }
                let relayed = match msg.decode(attr_type::XOR_RELAYED_ADDRESS) {
                    Some(Ok(Attribute::XorRelayedAddress(a))) => a,
                    _ => {
                        self.stats.malformed += 1;
                        self.fail(TurnFailure::BadResponse);
                        return;
                    }
                };
                let mapped = match msg.decode(attr_type::XOR_MAPPED_ADDRESS) {
                    Some(Ok(Attribute::XorMappedAddress(a))) => Some(a),
                    _ => None,
                };
                let lifetime = lifetime.unwrap_or(self.cfg.lifetime);
                self.state = TurnState::Allocated;
                self.relayed = Some(relayed);
                self.mapped = mapped;
                self.arm_refresh(now, lifetime);
                self.push_event(TurnEvent::Allocated {
                    relayed,
                    mapped,
                    lifetime,
                });
            }
            TxnKind::Refresh(0) => self.push_event(TurnEvent::Deallocated),
            TxnKind::Refresh(requested) => {
                if self.state != TurnState::Allocated {
                    return;
                }
                let lifetime = lifetime.unwrap_or(requested);
                self.arm_refresh(now, lifetime);
                self.push_event(TurnEvent::Refreshed { lifetime });
            }
            TxnKind::Permission(ip) => self.confirm_permission(ip),
            TxnKind::Channel(peer, number) => {
                if let Some(c) = self
                    .channels
                    .iter_mut()
                    .find(|c| c.number == number && !c.confirmed)
                {
                    c.confirmed = true;
                    self.push_event(TurnEvent::ChannelBound { peer, number });
                }
                self.confirm_permission(peer.ip());
            }
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn confirm_permission(&mut self, ip: IpAddr) {
        if let Some(p) = self
            .permissions
            .iter_mut()
            .find(|p| p.ip == ip && !p.confirmed)
        {
            p.confirmed = true;
            self.push_event(TurnEvent::PermissionCreated(ip));
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn arm_refresh(&mut self, now: Instant, lifetime: u32) {
        self.lifetime = lifetime;
        self.refresh_at = (lifetime != 0).then(|| {
            let ms = u64::from(lifetime) * 800;
            now + Duration::from_millis(ms).max(MIN_REFRESH)
        });
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn on_error(&mut self, now: Instant, txn: Txn, code: u16, msg: &Message<'_>) {
        log::debug!(target: "turn", "{:?} answered by {} with error {code}", txn.kind, self.server);
        let text = |typ| match msg.decode(typ) {
            Some(Ok(Attribute::Realm(s) | Attribute::Nonce(s))) if s.len() <= MAX_TEXT_LEN => {
                Some(s.to_owned())
            }
            _ => None,
        };
        let realm = text(attr_type::REALM);
        let nonce = text(attr_type::NONCE);
        match code {
            401 | 438 => {
                if code == 401 && txn.key.is_some() {
                    self.on_txn_failed(txn.kind, TurnFailure::Unauthorized);
                    return;
                }
                if code == 438 && txn.stale_retries >= MAX_STALE_NONCE {
                    self.on_txn_failed(txn.kind, TurnFailure::ServerError(438));
                    return;
                }
                let realm = realm.or_else(|| self.creds.as_ref().map(|c| c.realm.clone()));
                let (Some(realm), Some(nonce)) = (realm, nonce) else {
                    let why = if code == 401 {
                        TurnFailure::Unauthorized
                    } else {
                        TurnFailure::BadResponse
                    };
                    self.on_txn_failed(txn.kind, why);
                    return;
                };
                let key = long_term_key(
                    self.cfg.username.as_bytes(),
                    realm.as_bytes(),
                    self.cfg.password.as_bytes(),
                );
                self.creds = Some(Credentials { realm, nonce, key });
                let retries = if code == 438 {
                    txn.stale_retries + 1
                } else {
                    0
                };
                if self.send_request(now, txn.kind, retries).is_err() {
                    self.on_txn_failed(txn.kind, TurnFailure::BadResponse);
                }
            }
            300 if txn.kind == TxnKind::Allocate => {
                let alt = match msg.decode(attr_type::ALTERNATE_SERVER) {
                    Some(Ok(Attribute::AlternateServer(a))) => a,
                    _ => {
                        self.on_txn_failed(txn.kind, TurnFailure::BadResponse);
                        return;
                    }
                };
                if self.redirected || alt == self.server {
                    self.on_txn_failed(txn.kind, TurnFailure::RedirectLoop);
                    return;
                }
                self.redirected = true;
                self.server = alt;
                self.creds = None;
                self.outbox.clear();
                self.txns.clear();
                if self.send_request(now, TxnKind::Allocate, 0).is_err() {
                    self.fail(TurnFailure::BadResponse);
                }
            }
            // The allocation is already gone: deallocation is done.
            437 if txn.kind == TxnKind::Refresh(0) => self.push_event(TurnEvent::Deallocated),
            _ => self.on_txn_failed(txn.kind, TurnFailure::ServerError(code)),
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn handle_data_indication(&mut self, msg: &Message<'_>) {
        if let Some((peer, data)) = self.indication_payload(msg) {
            self.deliver(peer, data);
        }
    }

    /// The peer and payload of a Data indication from a permitted peer;
    /// anything else is counted and `None`.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn indication_payload<'a>(&mut self, msg: &Message<'a>) -> Option<(SocketAddr, &'a [u8])> {
        let peer = match msg.decode(attr_type::XOR_PEER_ADDRESS) {
            Some(Ok(Attribute::XorPeerAddress(a))) => a,
            _ => {
                self.stats.malformed += 1;
                return None;
            }
        };
        let data = match msg.decode(attr_type::DATA) {
            Some(Ok(Attribute::Data(d))) => d,
            _ => {
                self.stats.malformed += 1;
                return None;
            }
        };
        if self.state != TurnState::Allocated || !self.has_permission(peer.ip()) {
            self.stats.unknown_peer += 1;
            return None;
        }
        Some((peer, data))
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn handle_channel_data(&mut self, data: &[u8]) -> bool {
        match self.channel_payload(data) {
            Some((peer, payload)) => {
                self.deliver(peer, payload);
                true
            }
            None => false,
        }
    }

    /// The peer and payload of ChannelData on a bound channel; anything
    /// else is counted and `None`.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn channel_payload<'a>(&mut self, data: &'a [u8]) -> Option<(SocketAddr, &'a [u8])> {
        let Ok(cd) = ChannelData::decode(data) else {
            self.stats.malformed += 1;
            return None;
        };
        let peer = self
            .channels
            .iter()
            .find(|c| c.number == cd.channel)
            .map(|c| c.peer);
        match peer {
            Some(peer) if self.state == TurnState::Allocated => Some((peer, cd.data)),
            _ => {
                self.stats.unknown_peer += 1;
                None
            }
        }
    }

    fn deliver(&mut self, peer: SocketAddr, data: &[u8]) {
        if self.received.len() >= RECV_QUEUE_MAX {
            self.stats.recv_overflow += 1;
            return;
        }
        self.stats.data_received += 1;
        self.received.push_back((peer, data.to_vec()));
        self.push_event(TurnEvent::Data {
            peer,
            len: data.len(),
        });
    }
}

/// Encodes one message with `attrs`, then MESSAGE-INTEGRITY with `key`.
#[cfg_attr(xp2p_device, optimize(size))]
fn build_message(
    typ: MessageType,
    id: &TransactionId,
    attrs: &[Attribute<'_>],
    key: Option<&[u8; 16]>,
) -> Result<Vec<u8>, crate::stun::StunError> {
    let mut size = HEADER_LEN;
    for a in attrs {
        size += ATTR_HEADER_LEN + pad4(a.value_len());
    }
    if key.is_some() {
        size += ATTR_HEADER_LEN + INTEGRITY_LEN;
    }
    let mut buf = vec![0u8; size];
    let mut b = MessageBuilder::new(&mut buf, typ, id)?;
    for a in attrs {
        b.add(a)?;
    }
    if let Some(k) = key {
        b.message_integrity(k)?;
    }
    let n = b.len();
    buf.truncate(n);
    Ok(buf)
}
