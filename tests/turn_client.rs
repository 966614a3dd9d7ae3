//! The sans-IO TURN client against an in-process fake TURN server on a
//! virtual clock: the 401 dance, stale nonce, redirect, failures, refreshes,
//! permissions, channels, relayed data both ways, forged and garbage input.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use xp2p::stun::{method, Attribute, Class, Message, MessageBuilder};
use xp2p::stun::{MessageType, TransactionId};
use xp2p::turn::client::{
    TurnClient, TurnConfig, TurnEvent, TurnFailure, TurnState, TurnTimer, MAX_CHANNELS,
    MAX_PERMISSIONS,
};
use xp2p::turn::{ChannelData, TurnError};

mod harness;

use harness::turn_server::{TurnServer as FakeServer, PASS, REALM, USER};

/// The one place a real `Instant` is made; everything else is an offset.
#[allow(clippy::disallowed_methods)]
fn base() -> Instant {
    Instant::now()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn client_addr() -> SocketAddr {
    addr("192.0.2.10:40000")
}

/// Client, servers and the virtual clock.
struct World {
    now: Instant,
    t0: Instant,
    client: TurnClient,
    servers: Vec<FakeServer>,
    events: Vec<TurnEvent>,
}

impl World {
    fn new(cfg: TurnConfig, servers: Vec<FakeServer>) -> Self {
        let t0 = base();
        World {
            now: t0,
            t0,
            client: TurnClient::new(cfg),
            servers,
            events: Vec::new(),
        }
    }

    fn standard() -> Self {
        let server = FakeServer::new(addr("198.51.100.1:3478"));
        World::new(config(server.addr), vec![server])
    }

    fn server(&mut self) -> &mut FakeServer {
        &mut self.servers[0]
    }

    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    /// Delivers everything the client queued and everything answered, until
    /// quiet.
    fn pump(&mut self) {
        while let Some(pkt) = self.client.poll_transmit() {
            let dest = self.client.server();
            let now = self.now;
            let answers = match self.servers.iter_mut().find(|s| s.addr == dest) {
                Some(s) => s.handle(now, client_addr(), &pkt),
                None => Vec::new(),
            };
            for a in answers {
                assert!(self.client.handle_datagram(now, dest, &a));
            }
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push(e);
        }
    }

    /// Runs every deadline up to `t`, then sets the clock to `t`.
    fn advance_to(&mut self, t: Instant) {
        self.pump();
        while let Some(d) = self.client.poll_timeout() {
            if d > t {
                break;
            }
            self.now = self.now.max(d);
            self.client.handle_timeout(self.now);
            self.pump();
        }
        self.now = self.now.max(t);
        self.client.handle_timeout(self.now);
        self.pump();
    }

    fn allocate(&mut self) {
        self.client.allocate(self.now).unwrap();
        self.pump();
    }

    fn allocated(mut self) -> Self {
        self.allocate();
        assert_eq!(self.client.state(), TurnState::Allocated);
        self.events.clear();
        self
    }

    fn take_events(&mut self) -> Vec<TurnEvent> {
        std::mem::take(&mut self.events)
    }

    /// Feeds `data` as if it came from the current server.
    fn inject(&mut self, data: &[u8]) -> bool {
        let from = self.client.server();
        let r = self.client.handle_datagram(self.now, from, data);
        self.pump();
        r
    }
}

fn config(server: SocketAddr) -> TurnConfig {
    let mut cfg = TurnConfig::new(server, USER, PASS);
    cfg.rng_seed = Some(7);
    cfg
}

fn peer() -> SocketAddr {
    addr("203.0.113.5:6000")
}

#[test]
fn allocation_with_the_401_dance() {
    let mut w = World::standard();
    assert_eq!(w.client.state(), TurnState::Idle);
    w.client.allocate(w.now).unwrap();
    assert_eq!(w.client.state(), TurnState::Allocating);
    assert_eq!(w.client.allocate(w.now), Err(TurnError::InvalidState));
    w.pump();
    assert_eq!(w.client.state(), TurnState::Allocated);
    let relayed = w.server().relayed;
    assert_eq!(
        w.take_events(),
        vec![TurnEvent::Allocated {
            relayed,
            mapped: Some(client_addr()),
            lifetime: 600
        }]
    );
    let s = &w.servers[0];
    assert_eq!(s.count(method::ALLOCATE), 2);
    assert!(!s.seen[0].authenticated);
    assert_eq!(s.seen[0].transport, Some(17));
    assert!(s.seen[1].authenticated);
    assert_eq!(s.seen[1].username.as_deref(), Some(USER));
    assert_eq!(s.seen[1].transport, Some(17));
    assert_eq!(w.client.realm(), Some(REALM));
    assert_eq!(w.client.nonce(), Some("nonce-0"));
    assert_eq!(w.client.relayed_addr(), Some(relayed));
    assert_eq!(w.client.lifetime(), 600);
    let st = w.client.stats();
    assert_eq!(st.requests_sent, 2);
    assert_eq!(st.responses, 2);
    assert_eq!(st.integrity_failures, 0);
}

#[test]
fn stale_nonce_is_retried_with_the_new_nonce() {
    let mut w = World::standard();
    w.server().stale_once = true;
    w.allocate();
    assert_eq!(w.client.state(), TurnState::Allocated);
    assert_eq!(w.servers[0].count(method::ALLOCATE), 3);
    assert_eq!(w.client.nonce(), Some("nonce-1"));
    // Later requests use the new nonce without another round trip.
    w.client.create_permission(w.now, peer().ip()).unwrap();
    w.pump();
    assert_eq!(w.servers[0].count(method::CREATE_PERMISSION), 1);
    assert!(w
        .events
        .contains(&TurnEvent::PermissionCreated(peer().ip())));
}

#[test]
fn stale_nonce_on_refresh_and_permission_is_retried() {
    let mut w = World::standard().allocated();
    w.server().stale_once = true;
    w.client.create_permission(w.now, peer().ip()).unwrap();
    w.pump();
    assert_eq!(w.servers[0].count(method::CREATE_PERMISSION), 2);
    assert_eq!(
        w.take_events(),
        vec![TurnEvent::PermissionCreated(peer().ip())]
    );
    // After the permission refresh at 240 s, before the allocation's at 480 s.
    let t = w.at(479.0);
    w.advance_to(t);
    w.server().stale_once = true;
    let t = w.at(480.0);
    w.advance_to(t);
    assert_eq!(w.servers[0].count(method::REFRESH), 2);
    assert!(w.events.contains(&TurnEvent::Refreshed { lifetime: 600 }));
    assert_eq!(w.client.state(), TurnState::Allocated);
}

#[test]
fn alternate_server_restarts_the_allocation_once() {
    let a = FakeServer::new(addr("198.51.100.1:3478"));
    let b = FakeServer::new(addr("198.51.100.2:3478"));
    let mut a = a;
    a.alternate = Some(b.addr);
    let mut w = World::new(config(a.addr), vec![a, b]);
    w.allocate();
    assert_eq!(w.client.server(), addr("198.51.100.2:3478"));
    assert_eq!(w.client.state(), TurnState::Allocated);
    assert_eq!(w.servers[0].count(method::ALLOCATE), 1);
    assert_eq!(w.servers[1].count(method::ALLOCATE), 2);
    let relayed = w.servers[1].relayed;
    assert!(matches!(
        w.events[..],
        [TurnEvent::Allocated { relayed: r, .. }] if r == relayed
    ));
}

#[test]
fn second_redirect_is_a_loop() {
    let mut a = FakeServer::new(addr("198.51.100.1:3478"));
    let mut b = FakeServer::new(addr("198.51.100.2:3478"));
    a.always_redirect = Some(b.addr);
    b.always_redirect = Some(a.addr);
    let mut w = World::new(config(a.addr), vec![a, b]);
    w.allocate();
    assert_eq!(w.client.state(), TurnState::Failed);
    assert_eq!(w.events, vec![TurnEvent::Failed(TurnFailure::RedirectLoop)]);
}

#[test]
fn wrong_password_fails_unauthorized() {
    let mut w = World::standard();
    w.server().password = "other".to_owned();
    w.allocate();
    assert_eq!(w.client.state(), TurnState::Failed);
    assert_eq!(w.events, vec![TurnEvent::Failed(TurnFailure::Unauthorized)]);
    assert_eq!(w.servers[0].count(method::ALLOCATE), 2);
    assert_eq!(w.client.poll_timeout(), None);
    assert_eq!(w.client.allocate(w.now), Err(TurnError::InvalidState));
}

#[test]
fn silent_server_times_out_after_the_schedule() {
    let mut w = World::standard();
    w.server().silent = true;
    w.allocate();
    // RFC 5389: sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; gives up at 39.5 s.
    let t = w.at(39.4);
    w.advance_to(t);
    assert_eq!(w.client.state(), TurnState::Allocating);
    assert_eq!(w.servers[0].count(method::ALLOCATE), 7);
    let offsets: Vec<f64> = w.servers[0]
        .seen
        .iter()
        .map(|s| (s.at - w.t0).as_secs_f64())
        .collect();
    assert_eq!(offsets, vec![0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]);
    let t = w.at(39.5);
    w.advance_to(t);
    assert_eq!(w.client.state(), TurnState::Failed);
    assert_eq!(w.events, vec![TurnEvent::Failed(TurnFailure::Timeout)]);
    assert_eq!(w.servers[0].count(method::ALLOCATE), 7);
    assert_eq!(w.client.stats().retransmits, 6);
    assert_eq!(w.client.poll_timeout(), None);
}

#[test]
fn refresh_at_80_percent_of_lifetime() {
    let mut w = World::standard().allocated();
    assert_eq!(
        w.client.next_timer(),
        Some((TurnTimer::AllocationRefresh, w.at(480.0)))
    );
    let t = w.at(479.9);
    w.advance_to(t);
    assert_eq!(w.servers[0].count(method::REFRESH), 0);
    let t = w.at(480.0);
    w.advance_to(t);
    assert_eq!(w.servers[0].count(method::REFRESH), 1);
    let r = w.servers[0].last(method::REFRESH).unwrap().clone();
    assert_eq!(r.lifetime, Some(600));
    assert!(r.authenticated);
    assert_eq!(w.client.state(), TurnState::Allocated);
    assert_eq!(
        w.take_events(),
        vec![TurnEvent::Refreshed { lifetime: 600 }]
    );
    assert_eq!(w.client.poll_timeout(), Some(w.at(960.0)));
}

#[test]
fn short_lifetime_refreshes_at_least_a_second_apart() {
    let mut w = World::standard();
    w.server().grant_lifetime = 1;
    w.allocate();
    assert!(matches!(
        w.events[..],
        [TurnEvent::Allocated { lifetime: 1, .. }]
    ));
    assert_eq!(w.client.poll_timeout(), Some(w.at(1.0)));
}

#[test]
fn refresh_timeout_fails_the_allocation() {
    let mut w = World::standard().allocated();
    w.server().silent = true;
    let t = w.at(480.0 + 39.5);
    w.advance_to(t);
    assert_eq!(w.client.state(), TurnState::Failed);
    assert_eq!(w.events, vec![TurnEvent::Failed(TurnFailure::Timeout)]);
}

#[test]
fn permission_and_channel_refresh_before_expiry() {
    let mut w = World::standard().allocated();
    let p2 = addr("203.0.113.9:7000");
    w.client.create_permission(w.now, peer().ip()).unwrap();
    let n = w.client.bind_channel(w.now, p2).unwrap();
    assert_eq!(n, 0x4000);
    w.pump();
    let ev = w.take_events();
    assert!(ev.contains(&TurnEvent::PermissionCreated(peer().ip())));
    assert!(ev.contains(&TurnEvent::PermissionCreated(p2.ip())));
    assert!(ev.contains(&TurnEvent::ChannelBound {
        peer: p2,
        number: n
    }));
    let t = w.at(1300.0);
    w.advance_to(t);
    assert_eq!(w.client.state(), TurnState::Allocated);
    let s = &w.servers[0];
    for ip in [peer().ip(), p2.ip()] {
        let times: Vec<f64> = s
            .seen
            .iter()
            .filter(|x| {
                (x.method == method::CREATE_PERMISSION || x.method == method::CHANNEL_BIND)
                    && x.peer.map(|p| p.ip()) == Some(ip)
            })
            .map(|x| (x.at - w.t0).as_secs_f64())
            .collect();
        assert!(times.len() >= 5, "{ip}: {times:?}");
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] < 300.0, "{ip}: {times:?}");
        }
        assert!(1300.0 - times.last().unwrap() < 300.0);
    }
    let binds: Vec<f64> = s
        .seen
        .iter()
        .filter(|x| x.method == method::CHANNEL_BIND)
        .map(|x| {
            assert_eq!(x.channel, Some(n));
            assert_eq!(x.peer, Some(p2));
            (x.at - w.t0).as_secs_f64()
        })
        .collect();
    assert_eq!(binds, vec![0.0, 540.0, 1080.0]);
    let perms: Vec<f64> = s
        .seen
        .iter()
        .filter(|x| x.method == method::CREATE_PERMISSION && x.peer.unwrap().ip() == peer().ip())
        .map(|x| (x.at - w.t0).as_secs_f64())
        .collect();
    assert_eq!(perms, vec![0.0, 240.0, 480.0, 720.0, 960.0, 1200.0]);
    // Refreshes raise no new events besides the allocation refreshes.
    assert!(w
        .events
        .iter()
        .all(|e| matches!(e, TurnEvent::Refreshed { .. })));
}

#[test]
fn send_uses_indication_then_channel_data() {
    let mut w = World::standard();
    assert_eq!(
        w.client.send_to(w.now, peer(), b"x"),
        Err(TurnError::InvalidState)
    );
    assert_eq!(
        w.client.create_permission(w.now, peer().ip()),
        Err(TurnError::InvalidState)
    );
    let mut w = w.allocated();
    assert_eq!(
        w.client.send_to(w.now, peer(), b"x"),
        Err(TurnError::NoPermission)
    );
    w.client.create_permission(w.now, peer().ip()).unwrap();
    w.pump();
    w.client.send_to(w.now, peer(), b"hello").unwrap();
    w.pump();
    assert_eq!(w.servers[0].sends, vec![(peer(), b"hello".to_vec())]);
    let n = w.client.bind_channel(w.now, peer()).unwrap();
    assert_eq!(w.client.bind_channel(w.now, peer()), Ok(n));
    // Not confirmed yet: still a Send indication.
    w.client.send_to(w.now, peer(), b"early").unwrap();
    w.pump();
    assert_eq!(w.servers[0].sends.len(), 2);
    assert_eq!(w.servers[0].channels.get(&n), Some(&peer()));
    w.client.send_to(w.now, peer(), b"bound!").unwrap();
    w.pump();
    assert_eq!(w.servers[0].sends.len(), 2);
    assert_eq!(w.servers[0].channel_data, vec![(n, b"bound!".to_vec())]);
    let st = w.client.stats();
    assert_eq!(st.indications_sent, 2);
    assert_eq!(st.channel_data_sent, 1);
}

#[test]
fn data_indication_and_channel_data_surface_as_data() {
    let mut w = World::standard().allocated();
    let p2 = addr("203.0.113.9:7000");
    w.client.create_permission(w.now, peer().ip()).unwrap();
    let n = w.client.bind_channel(w.now, p2).unwrap();
    w.pump();
    w.take_events();

    let ind = w.servers[0].data_indication(peer(), b"via indication");
    assert!(w.inject(&ind));
    let mut frame = vec![0u8; 64];
    let len = ChannelData {
        channel: n,
        data: b"via channel",
    }
    .encode(&mut frame)
    .unwrap();
    assert!(w.inject(&frame[..len]));
    assert_eq!(
        w.take_events(),
        vec![
            TurnEvent::Data {
                peer: peer(),
                len: 14
            },
            TurnEvent::Data { peer: p2, len: 11 },
        ]
    );
    assert_eq!(w.client.recv(), Some((peer(), b"via indication".to_vec())));
    assert_eq!(w.client.recv(), Some((p2, b"via channel".to_vec())));
    assert_eq!(w.client.recv(), None);

    // No permission for this peer; unknown channel; from a stranger.
    let stranger = addr("203.0.113.77:1");
    let ind = w.servers[0].data_indication(stranger, b"nope");
    w.inject(&ind);
    let len = ChannelData {
        channel: 0x4005,
        data: b"nope",
    }
    .encode(&mut frame)
    .unwrap();
    assert!(!w.inject(&frame[..len]));
    let len = ChannelData {
        channel: n,
        data: b"spoof",
    }
    .encode(&mut frame)
    .unwrap();
    assert!(!w.client.handle_datagram(w.now, stranger, &frame[..len]));
    assert_eq!(w.client.recv(), None);
    assert!(w.take_events().is_empty());
    assert_eq!(w.client.stats().unknown_peer, 2);
    assert_eq!(w.client.stats().data_received, 2);
}

/// Captures the client's authenticated Allocate without answering it.
fn pending_authenticated_allocate(w: &mut World) -> Vec<u8> {
    w.client.allocate(w.now).unwrap();
    let first = w.client.poll_transmit().unwrap();
    let now = w.now;
    let answers = w.servers[0].handle(now, client_addr(), &first);
    let from = w.client.server();
    assert!(w.client.handle_datagram(now, from, &answers[0]));
    w.client.poll_transmit().unwrap()
}

#[test]
fn forged_and_garbage_responses_are_dropped_and_counted() {
    let mut w = World::standard();
    let req = pending_authenticated_allocate(&mut w);
    let msg = Message::parse(&req).unwrap();
    let id: TransactionId = *msg.transaction_id();
    let typ = MessageType::new(method::ALLOCATE, Class::SuccessResponse);

    // Success signed with the wrong key.
    let mut buf = vec![0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, typ, &id).unwrap();
    b.add(&Attribute::XorRelayedAddress(addr("6.6.6.6:6")))
        .unwrap();
    b.message_integrity(&[0u8; 16]).unwrap();
    let forged = b.finish().to_vec();
    assert!(w.inject(&forged));
    // Success without any integrity.
    let mut buf = vec![0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, typ, &id).unwrap();
    b.add(&Attribute::XorRelayedAddress(addr("6.6.6.6:6")))
        .unwrap();
    let unsigned = b.finish().to_vec();
    assert!(w.inject(&unsigned));
    assert_eq!(w.client.stats().integrity_failures, 2);
    assert_eq!(w.client.state(), TurnState::Allocating);

    // A response for an unknown transaction.
    let mut buf = vec![0u8; 256];
    let mut b = MessageBuilder::new(&mut buf, typ, &[0xEE; 12]).unwrap();
    b.add(&Attribute::Lifetime(1)).unwrap();
    let stray = b.finish().to_vec();
    assert!(!w.inject(&stray));
    assert_eq!(w.client.stats().unmatched, 1);

    // Truncated and garbage datagrams.
    assert!(!w.inject(&forged[..forged.len() - 3]));
    assert!(!w.inject(&forged[..10]));
    assert!(!w.inject(&[0x40, 0x00, 0xFF, 0xFF, 1]));
    assert!(!w.inject(&[]));
    assert!(w.client.stats().malformed >= 3);
    assert_eq!(w.client.state(), TurnState::Allocating);

    // The genuine answer still gets through (the request retransmits).
    let now = w.now;
    let answers = w.servers[0].handle(now, client_addr(), &req);
    assert!(w.inject(&answers[0]));
    assert_eq!(w.client.state(), TurnState::Allocated);
    // A replay of it is now unmatched.
    assert!(!w.inject(&answers[0]));
    assert_eq!(w.client.stats().unmatched, 2);
}

#[test]
fn wrong_server_address_is_not_ours() {
    let mut w = World::standard();
    let req = pending_authenticated_allocate(&mut w);
    let now = w.now;
    let answers = w.servers[0].handle(now, client_addr(), &req);
    assert!(!w
        .client
        .handle_datagram(now, addr("198.51.100.99:3478"), &answers[0]));
    assert_eq!(w.client.state(), TurnState::Allocating);
}

#[test]
fn close_sends_refresh_with_lifetime_zero() {
    let mut w = World::standard().allocated();
    w.client.create_permission(w.now, peer().ip()).unwrap();
    w.pump();
    w.take_events();
    w.client.close(w.now);
    assert_eq!(w.client.state(), TurnState::Idle);
    assert_eq!(
        w.client.send_to(w.now, peer(), b"x"),
        Err(TurnError::InvalidState)
    );
    w.pump();
    let r = w.servers[0].last(method::REFRESH).unwrap();
    assert_eq!(r.lifetime, Some(0));
    assert!(r.authenticated);
    assert_eq!(w.take_events(), vec![TurnEvent::Deallocated]);
    assert_eq!(w.client.poll_timeout(), None);
}

#[test]
fn allocate_again_after_close() {
    let mut w = World::standard().allocated();
    w.client.close(w.now);
    // The deallocation is still in flight.
    assert_eq!(w.client.allocate(w.now), Err(TurnError::InvalidState));
    w.pump();
    assert_eq!(w.take_events(), vec![TurnEvent::Deallocated]);
    w.server().nonce = "nonce-later".to_owned();
    w.allocate();
    assert_eq!(w.client.state(), TurnState::Allocated);
    assert_eq!(w.client.nonce(), Some("nonce-later"));
}

#[test]
fn close_with_a_silent_server_still_finishes() {
    let mut w = World::standard().allocated();
    w.server().silent = true;
    w.client.close(w.now);
    let t = w.at(39.5);
    w.advance_to(t);
    assert_eq!(w.take_events(), vec![TurnEvent::Deallocated]);
    assert_eq!(w.client.poll_timeout(), None);
    assert_eq!(w.servers[0].count(method::REFRESH), 7);
}

#[test]
fn limits_on_permissions_and_channels() {
    let mut w = World::standard().allocated();
    for i in 0..MAX_PERMISSIONS {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8));
        w.client.create_permission(w.now, ip).unwrap();
    }
    let extra = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1));
    assert_eq!(
        w.client.create_permission(w.now, extra),
        Err(TurnError::LimitReached)
    );
    // Refreshing a known one is fine.
    w.client
        .create_permission(w.now, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)))
        .unwrap();
    for i in 0..MAX_CHANNELS {
        let p = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8)), 9);
        assert_eq!(w.client.bind_channel(w.now, p), Ok(0x4000 + i as u16));
    }
    let p = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 10);
    assert_eq!(
        w.client.bind_channel(w.now, p),
        Err(TurnError::LimitReached)
    );
    w.pump();
    assert_eq!(w.servers[0].channels.len(), MAX_CHANNELS);
}

#[test]
fn rejected_permission_is_reported_and_removed() {
    let mut w = World::standard().allocated();
    w.server().forbid_permissions = true;
    w.client.create_permission(w.now, peer().ip()).unwrap();
    w.pump();
    assert_eq!(
        w.take_events(),
        vec![TurnEvent::PermissionFailed(peer().ip())]
    );
    assert!(!w.client.has_permission(peer().ip()));
    assert_eq!(w.client.state(), TurnState::Allocated);
}

#[test]
fn same_seed_same_bytes() {
    let s = addr("198.51.100.1:3478");
    let mut a = TurnClient::new(config(s));
    let mut b = TurnClient::new(config(s));
    let now = base();
    a.allocate(now).unwrap();
    b.allocate(now).unwrap();
    assert_eq!(a.poll_transmit(), b.poll_transmit());
}

proptest! {
    #[test]
    fn random_bytes_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..200),
        prefix in 0u8..3,
    ) {
        let mut w = World::standard().allocated();
        w.client.create_permission(w.now, peer().ip()).unwrap();
        w.client.bind_channel(w.now, peer()).unwrap();
        w.pump();
        let mut bytes = data.clone();
        match prefix {
            // A STUN-looking header with random rest.
            1 if bytes.len() >= 8 => {
                bytes[0] &= 0x01;
                bytes[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
            }
            // A ChannelData-looking header.
            2 if !bytes.is_empty() => bytes[0] = 0x40,
            _ => {}
        }
        let from = w.client.server();
        let _ = w.client.handle_datagram(w.now, from, &bytes);
        w.pump();
        let t = w.now + Duration::from_secs(1);
        w.advance_to(t);
        prop_assert_eq!(w.client.state(), TurnState::Allocated);
    }
}
