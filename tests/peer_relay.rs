//! Two PeerConnections that only learn each other's relayed candidates,
//! against the in-process TURN server of the harness, on the virtual clock:
//! they connect through the server, and every allocation is released when
//! the connections close, whichever side closes first and whether or not
//! the other side already saw the peer's close.

mod harness;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use harness::turn_server::{TurnServer, PASS, USER};
use harness::{LinkConfig, Network, NodeId, PeerNode, Realm};
use xp2p::channel::{ChannelConfig, ChannelId};
use xp2p::peer::{PeerConfig, PeerEvent, PeerState};
use xp2p::stun::method;
use xp2p::turn::client::TurnConfig;

const SERVER: &str = "198.51.100.1:3478";
const A: &str = "10.0.0.1:40000";
const B: &str = "10.0.0.2:40000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Where the last virtual clock of these tests stopped. usrsctp's timer
/// wheel is global and follows the latest `now` any association gave it,
/// so the tests run one at a time, each on a clock that starts after the
/// previous one ended.
static CLOCK: Mutex<Option<Instant>> = Mutex::new(None);

fn config(seed: u64) -> PeerConfig {
    let mut turn = TurnConfig::new(addr(SERVER), USER, PASS);
    turn.rng_seed = Some(seed + 100);
    PeerConfig {
        rng_seed: Some(seed),
        turn_servers: vec![turn],
        ..PeerConfig::default()
    }
}

/// The description without its candidate lines.
fn strip_candidates(sdp: &str) -> String {
    sdp.split("\r\n")
        .filter(|l| !l.starts_with("a=candidate:") && !l.starts_with("a=end-of-candidates"))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Hands `to` the relayed candidates `from` reported since `sent`.
fn trickle_relays(net: &mut Network, from: NodeId, to: NodeId, sent: &mut usize) {
    let lines: Vec<String> = net.node::<PeerNode>(from).events[*sent..]
        .iter()
        .filter_map(|e| match e {
            PeerEvent::IceCandidate(Some(line)) if line.contains(" typ relay") => {
                Some(line.clone())
            }
            _ => None,
        })
        .collect();
    *sent = net.node::<PeerNode>(from).events.len();
    let now = net.now();
    for line in lines {
        let line = line.trim_end().trim_start_matches("a=").to_owned();
        net.node::<PeerNode>(to)
            .pc
            .add_remote_candidate(now, &line)
            .unwrap();
    }
    net.node::<PeerNode>(to).drain();
}

struct Setup {
    net: Network,
    server: NodeId,
    a: NodeId,
    b: NodeId,
    clock: parking_lot::MutexGuard<'static, Option<Instant>>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        *self.clock = Some(self.net.now() + Duration::from_secs(1));
    }
}

impl Setup {
    fn allocations(&mut self) -> usize {
        self.net.node::<TurnServer>(self.server).allocations.len()
    }

    fn deallocations(&mut self) -> usize {
        self.net
            .node::<TurnServer>(self.server)
            .seen
            .iter()
            .filter(|s| s.method == method::REFRESH && s.lifetime == Some(0))
            .count()
    }
}

/// Two PeerConnections connected over their relays, with a channel open.
fn connect(seed: u64) -> Setup {
    let clock = CLOCK.lock();
    let start = clock.unwrap_or_else(harness::net::base_instant);
    let link = LinkConfig {
        delay: Duration::from_millis(5),
        ..LinkConfig::clean()
    };
    let mut net = Network::starting_at(seed, link, start);
    let server = TurnServer::new(addr(SERVER));
    let addrs = server.addrs();
    let server = net.add_node(server, &addrs, Realm::Public);
    let now = net.now();
    let a = net.add_node(
        PeerNode::new(config(seed), addr(A), now),
        &[addr(A)],
        Realm::Public,
    );
    let b = net.add_node(
        PeerNode::new(config(seed + 1), addr(B), now),
        &[addr(B)],
        Realm::Public,
    );
    let tx: ChannelId = net
        .node::<PeerNode>(a)
        .pc
        .create_data_channel(ChannelConfig::new("relayed"))
        .unwrap();
    let offer = net.node::<PeerNode>(a).pc.create_offer(now).unwrap();
    net.node::<PeerNode>(b)
        .pc
        .set_remote_description(now, &strip_candidates(&offer))
        .unwrap();
    let answer = net.node::<PeerNode>(b).pc.create_answer(now).unwrap();
    net.node::<PeerNode>(a)
        .pc
        .set_remote_description(now, &strip_candidates(&answer))
        .unwrap();
    let (mut sent_a, mut sent_b) = (0, 0);
    let deadline = net.now() + Duration::from_secs(20);
    let open = net.run_until(deadline, |n| {
        trickle_relays(n, a, b, &mut sent_a);
        trickle_relays(n, b, a, &mut sent_b);
        n.node::<PeerNode>(a)
            .events
            .contains(&PeerEvent::ChannelOpen(tx))
            && n.node::<PeerNode>(b).remote_channel("relayed").is_some()
    });
    let mut s = Setup {
        net,
        server,
        a,
        b,
        clock,
    };
    let states = (
        s.net.node::<PeerNode>(a).state(),
        s.net.node::<PeerNode>(b).state(),
    );
    assert!(open, "not connected over the relays: {states:?}");
    assert!(s.net.node::<TurnServer>(server).relayed_out > 0);
    assert_eq!(s.allocations(), 2);
    s
}

#[test]
fn closing_both_sides_releases_both_allocations() {
    let mut s = connect(9100);
    let (a, b) = (s.a, s.b);
    s.net.node::<PeerNode>(a).pc.close();
    s.net.node::<PeerNode>(b).pc.close();
    s.net.run_for(Duration::from_secs(1));
    assert_eq!(s.deallocations(), 2);
    assert_eq!(s.allocations(), 0);
}

#[test]
fn closing_after_the_peer_closed_still_releases_the_allocation() {
    let mut s = connect(9200);
    let (a, b) = (s.a, s.b);
    s.net.node::<PeerNode>(a).pc.close();
    // b sees a's close (SCTP ABORT, DTLS close_notify) before its own.
    let deadline = s.net.now() + Duration::from_secs(2);
    let closed = s.net.run_until(deadline, |n| {
        n.node::<PeerNode>(b).state() == PeerState::Closed
    });
    assert!(closed, "b did not see a's close");
    s.net.node::<PeerNode>(b).pc.close();
    s.net.run_for(Duration::from_secs(1));
    assert_eq!(s.deallocations(), 2);
    assert_eq!(s.allocations(), 0);
}

#[test]
fn the_peer_closing_releases_the_allocation() {
    let mut s = connect(9300);
    let (a, b) = (s.a, s.b);
    s.net.node::<PeerNode>(a).pc.close();
    // Closed by the peer is final: b's relay has nothing left to carry.
    s.net.run_for(Duration::from_secs(2));
    assert_eq!(s.net.node::<PeerNode>(b).state(), PeerState::Closed);
    assert_eq!(s.deallocations(), 2);
    assert_eq!(s.allocations(), 0);
}
