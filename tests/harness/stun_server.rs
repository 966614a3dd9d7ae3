//! An in-process STUN server: answers every Binding request with the
//! source address as XOR-MAPPED-ADDRESS (and FINGERPRINT).

use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use xp2p::stun::{Attribute, Class, Message, MessageBuilder, MessageType};

use super::net::{Datagram, Endpoint};

pub struct StunServer {
    pub addr: SocketAddr,
    pub requests: u64,
    out: VecDeque<Datagram>,
}

impl StunServer {
    pub fn new(addr: SocketAddr) -> StunServer {
        StunServer {
            addr,
            requests: 0,
            out: VecDeque::new(),
        }
    }
}

impl Endpoint for StunServer {
    fn handle_datagram(&mut self, _now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        let Ok(msg) = Message::parse(data) else {
            return;
        };
        if msg.message_type() != MessageType::BINDING_REQUEST || msg.class() != Class::Request {
            return;
        }
        self.requests += 1;
        let mut buf = [0u8; 128];
        let Ok(mut b) = MessageBuilder::new(
            &mut buf,
            MessageType::BINDING_RESPONSE,
            msg.transaction_id(),
        ) else {
            return;
        };
        if b.add(&Attribute::XorMappedAddress(from)).is_err() || b.fingerprint().is_err() {
            return;
        }
        self.out.push_back(Datagram {
            local,
            dest: from,
            data: b.finish().to_vec(),
        });
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
