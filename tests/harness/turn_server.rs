//! An in-process TURN server (RFC 5766 over long-term credentials): the
//! 401/438 dance, ALTERNATE-SERVER redirects, refreshes, permissions and
//! channels with their server-side lifetimes, and real relaying: Send
//! indications and ChannelData from a client go out from its relayed
//! address to permitted peers, and what peers send to a relayed address
//! comes back to the client as a Data indication or ChannelData. Knobs
//! make it silent, stale its nonce, redirect, or refuse permissions.
//!
//! Tests drive it directly ([`TurnServer::handle`] returns the answers) or
//! as a [`Endpoint`] of the in-memory network (its node owns
//! [`TurnServer::addrs`]).

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use xp2p::stun::MessageType;
use xp2p::stun::{attr_type, long_term_key, method, Attribute, Class, Message, MessageBuilder};
use xp2p::turn::ChannelData;

use super::net::{Datagram, Endpoint};

pub const USER: &str = "alice";
pub const PASS: &str = "secret";
pub const REALM: &str = "example.org";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: u16,
    pub authenticated: bool,
    pub username: Option<String>,
    pub lifetime: Option<u32>,
    pub peer: Option<SocketAddr>,
    pub channel: Option<u16>,
    pub transport: Option<u8>,
    pub at: Instant,
}

/// Just enough of a TURN server for the client's tests.
pub struct TurnServer {
    pub addr: SocketAddr,
    pub password: String,
    pub nonce: String,
    pub nonce_gen: u32,
    pub relayed: SocketAddr,
    pub grant_lifetime: u32,
    /// Answer the next authenticated request with 438 and a new nonce.
    pub stale_once: bool,
    /// Redirect the next Allocate here.
    pub alternate: Option<SocketAddr>,
    /// Redirect every Allocate here.
    pub always_redirect: Option<SocketAddr>,
    pub silent: bool,
    /// Answer CreatePermission with 403.
    pub forbid_permissions: bool,
    pub seen: Vec<Seen>,
    pub sends: Vec<(SocketAddr, Vec<u8>)>,
    pub channel_data: Vec<(u16, Vec<u8>)>,
    pub channels: HashMap<u16, SocketAddr>,
    /// The last response sent, for replay/tamper tests.
    pub last_response: Option<Vec<u8>>,
    /// Allocations by client address (as the server sees it).
    pub allocations: HashMap<SocketAddr, Allocation>,
    /// Datagrams relayed from a client to a peer, and back.
    pub relayed_out: u64,
    pub relayed_in: u64,
    /// Relayed datagrams dropped for lack of a live permission, channel or
    /// allocation.
    pub relay_refused: u64,
    out: VecDeque<Datagram>,
}

/// One allocation: its relayed address, permissions and channels with
/// their expiry times (RFC 5766: 300 s, 600 s, the granted lifetime).
#[derive(Debug, Clone)]
pub struct Allocation {
    pub relayed: SocketAddr,
    pub expires: Instant,
    pub permissions: HashMap<IpAddr, Instant>,
    pub channels: HashMap<u16, (SocketAddr, Instant)>,
}

impl Allocation {
    fn permitted(&self, now: Instant, ip: IpAddr) -> bool {
        now < self.expires && self.permissions.get(&ip).is_some_and(|&t| now < t)
    }

    fn channel_of(&self, now: Instant, peer: SocketAddr) -> Option<u16> {
        self.channels
            .iter()
            .find(|(_, (p, t))| *p == peer && now < *t)
            .map(|(n, _)| *n)
    }
}

/// Permission lifetime on the server (RFC 5766 §8).
pub const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
/// Channel lifetime on the server (RFC 5766 §11).
pub const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// Relayed addresses a server owns (one per allocation).
pub const RELAY_PORTS: u16 = 8;

impl TurnServer {
    pub fn new(addr: SocketAddr) -> Self {
        TurnServer {
            addr,
            password: PASS.to_owned(),
            nonce: "nonce-0".to_owned(),
            nonce_gen: 0,
            relayed: addr_with_ip(addr, 50000),
            grant_lifetime: 600,
            stale_once: false,
            alternate: None,
            always_redirect: None,
            silent: false,
            forbid_permissions: false,
            seen: Vec::new(),
            sends: Vec::new(),
            channel_data: Vec::new(),
            channels: HashMap::new(),
            last_response: None,
            allocations: HashMap::new(),
            relayed_out: 0,
            relayed_in: 0,
            relay_refused: 0,
            out: VecDeque::new(),
        }
    }

    pub fn key(&self) -> [u8; 16] {
        long_term_key(USER.as_bytes(), REALM.as_bytes(), self.password.as_bytes())
    }

    pub fn count(&self, m: u16) -> usize {
        self.seen.iter().filter(|s| s.method == m).count()
    }

    pub fn last(&self, m: u16) -> Option<&Seen> {
        self.seen.iter().rev().find(|s| s.method == m)
    }

    /// Handles one datagram from the client; returns the answers.
    pub fn handle(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> Vec<Vec<u8>> {
        if let Ok(cd) = ChannelData::decode(data) {
            self.channel_data.push((cd.channel, cd.data.to_vec()));
            let peer = self
                .allocations
                .get(&from)
                .filter(|a| now < a.expires)
                .and_then(|a| a.channels.get(&cd.channel))
                .filter(|(_, t)| now < *t)
                .map(|(p, _)| *p);
            match peer {
                Some(peer) => self.relay_out(now, from, peer, cd.data),
                None => self.relay_refused += 1,
            }
            return Vec::new();
        }
        let Ok(msg) = Message::parse(data) else {
            return Vec::new();
        };
        if msg.class() == Class::Indication && msg.method() == method::SEND {
            let peer = match msg.decode(attr_type::XOR_PEER_ADDRESS) {
                Some(Ok(Attribute::XorPeerAddress(a))) => a,
                _ => return Vec::new(),
            };
            if let Some(Ok(Attribute::Data(d))) = msg.decode(attr_type::DATA) {
                self.sends.push((peer, d.to_vec()));
                self.relay_out(now, from, peer, d);
            }
            return Vec::new();
        }
        if msg.class() != Class::Request {
            return Vec::new();
        }
        let text = |t| match msg.decode(t) {
            Some(Ok(Attribute::Username(s) | Attribute::Realm(s) | Attribute::Nonce(s))) => {
                Some(s.to_owned())
            }
            _ => None,
        };
        let seen = Seen {
            method: msg.method(),
            authenticated: msg.has_integrity(),
            username: text(attr_type::USERNAME),
            lifetime: match msg.decode(attr_type::LIFETIME) {
                Some(Ok(Attribute::Lifetime(l))) => Some(l),
                _ => None,
            },
            peer: match msg.decode(attr_type::XOR_PEER_ADDRESS) {
                Some(Ok(Attribute::XorPeerAddress(a))) => Some(a),
                _ => None,
            },
            channel: match msg.decode(attr_type::CHANNEL_NUMBER) {
                Some(Ok(Attribute::ChannelNumber(n))) => Some(n),
                _ => None,
            },
            transport: match msg.decode(attr_type::REQUESTED_TRANSPORT) {
                Some(Ok(Attribute::RequestedTransport(t))) => Some(t),
                _ => None,
            },
            at: now,
        };
        self.seen.push(seen.clone());
        if self.silent {
            return Vec::new();
        }
        let m = msg.method();
        if m == method::ALLOCATE {
            if let Some(alt) = self.always_redirect.or(self.alternate.take()) {
                return vec![self.error(&msg, 300, Some(alt), false)];
            }
        }
        if !msg.has_integrity() {
            return vec![self.error(&msg, 401, None, false)];
        }
        let key = self.key();
        if seen.username.as_deref() != Some(USER)
            || text(attr_type::REALM).as_deref() != Some(REALM)
            || msg.verify_integrity(&key).is_err()
        {
            return vec![self.error(&msg, 401, None, false)];
        }
        if self.stale_once {
            self.stale_once = false;
            self.nonce_gen += 1;
            self.nonce = format!("nonce-{}", self.nonce_gen);
            return vec![self.error(&msg, 438, None, false)];
        }
        if text(attr_type::NONCE).as_deref() != Some(self.nonce.as_str()) {
            return vec![self.error(&msg, 438, None, false)];
        }
        let resp = match m {
            method::ALLOCATE => {
                let lifetime = seen.lifetime.unwrap_or(600).min(self.grant_lifetime);
                let relayed = match self.allocations.get(&from) {
                    Some(a) => a.relayed,
                    None => {
                        let used: Vec<SocketAddr> =
                            self.allocations.values().map(|a| a.relayed).collect();
                        (0..RELAY_PORTS)
                            .map(|i| addr_with_ip(self.relayed, self.relayed.port() + i))
                            .find(|r| !used.contains(r))
                            .unwrap_or(self.relayed)
                    }
                };
                let alloc = self.allocations.entry(from).or_insert(Allocation {
                    relayed,
                    expires: now,
                    permissions: HashMap::new(),
                    channels: HashMap::new(),
                });
                alloc.expires = now + Duration::from_secs(u64::from(lifetime));
                self.success(
                    &msg,
                    &[
                        Attribute::XorRelayedAddress(relayed),
                        Attribute::XorMappedAddress(from),
                        Attribute::Lifetime(lifetime),
                    ],
                )
            }
            method::REFRESH => {
                let lifetime = seen.lifetime.unwrap_or(600).min(self.grant_lifetime);
                if lifetime == 0 {
                    self.allocations.remove(&from);
                } else if let Some(a) = self.allocations.get_mut(&from) {
                    a.expires = now + Duration::from_secs(u64::from(lifetime));
                }
                self.success(&msg, &[Attribute::Lifetime(lifetime)])
            }
            method::CREATE_PERMISSION => {
                if self.forbid_permissions {
                    self.error(&msg, 403, None, true)
                } else {
                    if let (Some(a), Some(p)) = (self.allocations.get_mut(&from), seen.peer) {
                        a.permissions.insert(p.ip(), now + PERMISSION_LIFETIME);
                    }
                    self.success(&msg, &[])
                }
            }
            method::CHANNEL_BIND => {
                if let (Some(n), Some(p)) = (seen.channel, seen.peer) {
                    self.channels.insert(n, p);
                    if let Some(a) = self.allocations.get_mut(&from) {
                        a.channels.insert(n, (p, now + CHANNEL_LIFETIME));
                        a.permissions.insert(p.ip(), now + PERMISSION_LIFETIME);
                    }
                }
                self.success(&msg, &[])
            }
            _ => self.error(&msg, 400, None, true),
        };
        self.last_response = Some(resp.clone());
        vec![resp]
    }

    pub fn success(&self, req: &Message<'_>, attrs: &[Attribute<'_>]) -> Vec<u8> {
        let typ = MessageType::new(req.method(), Class::SuccessResponse);
        let mut buf = vec![0u8; 512];
        let mut b = MessageBuilder::new(&mut buf, typ, req.transaction_id()).unwrap();
        for a in attrs {
            b.add(a).unwrap();
        }
        b.message_integrity(&self.key()).unwrap();
        b.finish().to_vec()
    }

    pub fn error(
        &self,
        req: &Message<'_>,
        code: u16,
        alternate: Option<SocketAddr>,
        integrity: bool,
    ) -> Vec<u8> {
        let typ = MessageType::new(req.method(), Class::ErrorResponse);
        let mut buf = vec![0u8; 512];
        let mut b = MessageBuilder::new(&mut buf, typ, req.transaction_id()).unwrap();
        b.add(&Attribute::ErrorCode { code, reason: "x" }).unwrap();
        if let Some(alt) = alternate {
            b.add(&Attribute::AlternateServer(alt)).unwrap();
        }
        if code == 401 || code == 438 {
            b.add(&Attribute::Realm(REALM)).unwrap();
            b.add(&Attribute::Nonce(&self.nonce)).unwrap();
        }
        if integrity {
            b.message_integrity(&self.key()).unwrap();
        }
        b.finish().to_vec()
    }

    pub fn data_indication(&self, peer: SocketAddr, data: &[u8]) -> Vec<u8> {
        let typ = MessageType::new(method::DATA, Class::Indication);
        let mut buf = vec![0u8; 128 + data.len()];
        let mut b = MessageBuilder::new(&mut buf, typ, &[7; 12]).unwrap();
        b.add(&Attribute::XorPeerAddress(peer)).unwrap();
        b.add(&Attribute::Data(data)).unwrap();
        b.finish().to_vec()
    }
}

impl TurnServer {
    /// Every address the server owns: where it listens and its relayed
    /// addresses.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        std::iter::once(self.addr)
            .chain((0..RELAY_PORTS).map(|i| addr_with_ip(self.relayed, self.relayed.port() + i)))
            .collect()
    }

    /// A client's payload for `peer`, sent from its relayed address when
    /// a live permission allows it.
    fn relay_out(&mut self, now: Instant, client: SocketAddr, peer: SocketAddr, data: &[u8]) {
        if self.silent {
            return;
        }
        match self.allocations.get(&client) {
            Some(a) if a.permitted(now, peer.ip()) => {
                let local = a.relayed;
                self.relayed_out += 1;
                self.out.push_back(Datagram {
                    local,
                    dest: peer,
                    data: data.to_vec(),
                });
            }
            _ => self.relay_refused += 1,
        }
    }

    /// A datagram from `peer` to the relayed address `relayed`: to the
    /// client as ChannelData when a channel is bound, else as a Data
    /// indication; dropped without a live permission.
    fn relay_in(&mut self, now: Instant, relayed: SocketAddr, peer: SocketAddr, data: &[u8]) {
        if self.silent {
            return;
        }
        let Some((client, a)) = self.allocations.iter().find(|(_, a)| a.relayed == relayed) else {
            self.relay_refused += 1;
            return;
        };
        if !a.permitted(now, peer.ip()) {
            self.relay_refused += 1;
            return;
        }
        let client = *client;
        let bytes = match a.channel_of(now, peer) {
            Some(channel) => {
                let mut buf = vec![0u8; 4 + data.len() + 3];
                let n = ChannelData { channel, data }
                    .encode(&mut buf)
                    .expect("fits");
                buf.truncate(n);
                buf
            }
            None => self.data_indication(peer, data),
        };
        self.relayed_in += 1;
        self.out.push_back(Datagram {
            local: self.addr,
            dest: client,
            data: bytes,
        });
    }
}

impl Endpoint for TurnServer {
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        if local == self.addr {
            for answer in self.handle(now, from, data) {
                self.out.push_back(Datagram {
                    local,
                    dest: from,
                    data: answer,
                });
            }
        } else {
            self.relay_in(now, local, from, data);
        }
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

pub fn addr_with_ip(a: SocketAddr, port: u16) -> SocketAddr {
    SocketAddr::new(a.ip(), port)
}
