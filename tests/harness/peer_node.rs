//! A PeerConnection as a network endpoint.

use std::any::Any;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use openssl::sha::Sha256;
use xp2p::channel::ChannelId;
use xp2p::peer::{PeerConfig, PeerConnection, PeerEvent, PeerState};
use xp2p::stun::{AttrTypeList, Attribute, Class, Message, MessageBuilder, MessageType};

use super::net::{Datagram, Endpoint, Network, NodeId};

/// What arrived on one channel.
#[derive(Default)]
pub struct Received {
    pub messages: u64,
    pub bytes: u64,
    /// SHA-256 of the payloads in order.
    pub hash: Sha256,
}

/// How the node treats incoming STUN requests that carry an attribute of
/// `filter_attr` (a peer that does not support it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StunFilter {
    /// Pass everything to the PeerConnection.
    None,
    /// Drop such requests silently.
    Drop(u16),
    /// Answer such requests with an authenticated 420 (Unknown Attribute)
    /// listing the attribute, as a strict STUN agent does, without passing
    /// them on.
    Answer420(u16),
}

/// A PeerConnection and what it reported.
pub struct PeerNode {
    pub pc: PeerConnection,
    pub addr: SocketAddr,
    /// Every event except `ChannelMessage` (counted in `rx`).
    pub events: Vec<PeerEvent>,
    pub rx: HashMap<ChannelId, Received>,
    pub filter: StunFilter,
    /// Requests dropped or answered by `filter`.
    pub filtered: u64,
    /// 420 answers to send.
    answers: Vec<Datagram>,
    /// Drop incoming DTLS datagrams above this size, as a stack that reads
    /// records into a small buffer does (aiortc reads 1500 bytes).
    pub dtls_read_limit: Option<usize>,
    /// DTLS datagrams dropped by `dtls_read_limit`.
    pub dtls_too_large: u64,
    /// The PeerConnection's deadline, refreshed after every call into it.
    deadline: Option<Instant>,
    /// An application that does not read: `ChannelMessage` events are
    /// counted in `signalled` and the messages left in the PeerConnection.
    pub paused: bool,
    /// `ChannelMessage` events seen while `paused`.
    pub signalled: u64,
}

impl PeerNode {
    pub fn new(cfg: PeerConfig, addr: SocketAddr, now: Instant) -> PeerNode {
        let mut pc = PeerConnection::new(cfg, now).expect("peer connection");
        pc.add_host_candidate(addr);
        PeerNode {
            pc,
            addr,
            events: Vec::new(),
            rx: HashMap::new(),
            filter: StunFilter::None,
            filtered: 0,
            answers: Vec::new(),
            dtls_read_limit: None,
            dtls_too_large: 0,
            deadline: None,
            paused: false,
            signalled: 0,
        }
    }

    /// Collects the PeerConnection's events and its deadline; tests that
    /// call into `pc` directly call this after.
    pub fn drain(&mut self) {
        while let Some(ev) = self.pc.poll_event() {
            if let PeerEvent::ChannelMessage(id) = ev {
                if self.paused {
                    self.signalled += 1;
                } else {
                    self.take(id);
                }
                continue;
            }
            self.events.push(ev);
        }
        // After the pulls: they may ask for a turn (reading resumes).
        self.deadline = self.pc.poll_timeout();
    }

    /// Pulls one message of channel `id` into `rx`; returns whether there
    /// was one.
    pub fn take(&mut self, id: ChannelId) -> bool {
        let Some((_, data)) = self.pc.recv(id) else {
            return false;
        };
        let r = self.rx.entry(id).or_default();
        r.messages += 1;
        r.bytes += data.len() as u64;
        r.hash.update(&data);
        true
    }

    pub fn state(&self) -> PeerState {
        self.pc.state()
    }

    /// Bytes received on `id`.
    pub fn received(&self, id: ChannelId) -> u64 {
        self.rx.get(&id).map_or(0, |r| r.bytes)
    }

    /// The channel the peer opened with this label.
    pub fn remote_channel(&self, label: &str) -> Option<ChannelId> {
        self.events.iter().find_map(|e| match e {
            PeerEvent::DataChannel(id) if self.pc.channels().label(*id) == Some(label) => Some(*id),
            _ => None,
        })
    }

    /// Whether `filter` takes the datagram (queuing a 420 if it answers).
    fn filtered_out(&mut self, local: SocketAddr, from: SocketAddr, data: &[u8]) -> bool {
        let (attr, answer) = match self.filter {
            StunFilter::None => return false,
            StunFilter::Drop(a) => (a, false),
            StunFilter::Answer420(a) => (a, true),
        };
        let Ok(msg) = Message::parse(data) else {
            return false;
        };
        if msg.class() != Class::Request || msg.get(attr).is_none() {
            return false;
        }
        if answer {
            let pwd = self.pc.ice().local_credentials().1.to_owned();
            let mut buf = [0u8; 256];
            let mut b = MessageBuilder::new(
                &mut buf,
                MessageType::BINDING_ERROR_RESPONSE,
                msg.transaction_id(),
            )
            .unwrap();
            b.add(&Attribute::ErrorCode {
                code: 420,
                reason: "Unknown Attribute",
            })
            .unwrap();
            let types = [attr];
            b.add(&Attribute::UnknownAttributes(AttrTypeList::new(&types)))
                .unwrap();
            b.message_integrity(pwd.as_bytes()).unwrap();
            b.fingerprint().unwrap();
            self.answers.push(Datagram {
                local,
                dest: from,
                data: b.finish().to_vec(),
            });
        }
        true
    }
}

impl Endpoint for PeerNode {
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        if self.filtered_out(local, from, data) {
            self.filtered += 1;
            return;
        }
        let dtls = data.first().is_some_and(|b| (20..=63).contains(b));
        if dtls && self.dtls_read_limit.is_some_and(|max| data.len() > max) {
            self.dtls_too_large += 1;
            return;
        }
        self.pc.handle_datagram(now, local, from, data);
        self.drain();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
        self.drain();
    }

    fn poll_transmit(&mut self) -> Option<Datagram> {
        if let Some(d) = self.answers.pop() {
            return Some(d);
        }
        let t = self.pc.poll_transmit();
        if t.is_none() {
            self.deadline = self.pc.poll_timeout();
        }
        t.map(|t| Datagram {
            local: t.local,
            dest: t.dest,
            data: t.data,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

/// Offer from `a`, answer from `b` (host candidates are in the
/// descriptions).
pub fn negotiate(net: &mut Network, a: NodeId, b: NodeId) {
    let now = net.now();
    let offer = net.node::<PeerNode>(a).pc.create_offer(now).unwrap();
    net.node::<PeerNode>(b)
        .pc
        .set_remote_description(now, &offer)
        .unwrap();
    let answer = net.node::<PeerNode>(b).pc.create_answer(now).unwrap();
    net.node::<PeerNode>(a)
        .pc
        .set_remote_description(now, &answer)
        .unwrap();
}
