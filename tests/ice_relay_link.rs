//! Relays whose server is reached over a link that is not a host socket,
//! as the driver does for TURN over TCP and TLS (the link is the local
//! address of its connection; the agent sees whole messages either way):
//! relay-only agents connect through the harness's TURN server, nothing
//! the server says about the link becomes a candidate, and the loss of the
//! link fails only the relay (reported, counted), during allocation or
//! after.

mod harness;

use std::net::SocketAddr;
use std::time::Duration;

use harness::ice_node::{
    agent, config, give_credentials, local_kinds, relay_failures, signal_where, IceNode,
};
use harness::turn_server::{TurnServer, PASS, USER};
use harness::{LinkConfig, Network, NodeId, Realm};
use xp2p::ice::agent::{IceAgent, IceEvent, RelayFailure, Role};
use xp2p::ice::{Candidate, CandidateKind};
use xp2p::turn::client::TurnConfig;
use xp2p::turn::stream::{StreamFailure, STREAM_RETRANSMIT};

const SERVER: &str = "198.51.100.1:3478";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The TURN server and two agents (hosts 10.0.0.1:5000 and 10.0.0.2:6000)
/// whose relays use the links 10.0.0.1:40001 and 10.0.0.2:40002, as
/// stream connections would.
fn setup(seed: u64) -> (Network, NodeId, NodeId, NodeId) {
    let mut net = Network::new(seed, LinkConfig::clean());
    let server = TurnServer::new(addr(SERVER));
    let addrs = server.addrs();
    let s = net.add_node(server, &addrs, Realm::Public);
    let add = |net: &mut Network, role, seed, host: &str, link: &str| {
        let now = net.now();
        let mut a = IceAgent::new(config(role, seed), now).unwrap();
        a.add_host_candidate(addr(host));
        a.expect_turn_servers(1);
        a.gather(now).unwrap();
        let mut turn = TurnConfig::new(addr(SERVER), USER, PASS);
        turn.rng_seed = Some(seed);
        turn.retransmit = STREAM_RETRANSMIT;
        a.turn_server_resolved(now, Ok((turn, Some(addr(link)))));
        let mut node = IceNode::new(a, now);
        node.drain(now);
        net.add_node(node, &[addr(host), addr(link)], Realm::Public)
    };
    let a = add(
        &mut net,
        Role::Controlling,
        seed + 1,
        "10.0.0.1:5000",
        "10.0.0.1:40001",
    );
    let b = add(
        &mut net,
        Role::Controlled,
        seed + 2,
        "10.0.0.2:6000",
        "10.0.0.2:40002",
    );
    (net, s, a, b)
}

fn is_relay(c: &Candidate) -> bool {
    c.kind == CandidateKind::Relay
}

fn connect(net: &mut Network, a: NodeId, b: NodeId, only: fn(&Candidate) -> bool) -> bool {
    give_credentials(net, a, b);
    give_credentials(net, b, a);
    let deadline = net.now() + Duration::from_secs(10);
    net.run_until(deadline, |n| {
        signal_where(n, a, b, true, only);
        signal_where(n, b, a, true, only);
        n.node::<IceNode>(a).state().is_connected() && n.node::<IceNode>(b).state().is_connected()
    })
}

#[test]
fn relays_over_a_link_connect_and_the_link_never_becomes_a_candidate() {
    let (mut net, _s, a, b) = setup(1000);
    assert!(connect(&mut net, a, b, is_relay));
    for (id, link) in [(a, "10.0.0.1:40001"), (b, "10.0.0.2:40002")] {
        let kinds = local_kinds(&mut net, id);
        assert_eq!(
            kinds,
            vec![CandidateKind::Host, CandidateKind::Relay],
            "{id}"
        );
        let node = net.node::<IceNode>(id);
        let (local, _) = node.agent.selected_candidates().unwrap();
        assert_eq!(local.kind, CandidateKind::Relay);
        // The related address is what the server saw: the link.
        assert_eq!(
            local.related.as_ref().and_then(|r| r.socket_addr()),
            Some(addr(link))
        );
        assert!(relay_failures(&mut net, id).is_empty());
    }
    for i in 0..100u32 {
        agent(&mut net, a)
            .send(format!("data {i:05}").as_bytes())
            .unwrap();
        agent(&mut net, b)
            .send(format!("data {i:05}").as_bytes())
            .unwrap();
    }
    net.run_for(Duration::from_millis(500));
    assert_eq!(net.node::<IceNode>(a).data.len(), 100);
    assert_eq!(net.node::<IceNode>(b).data.len(), 100);
    // Every TURN message went over the links, none from a host socket.
    let links = [addr("10.0.0.1:40001"), addr("10.0.0.2:40002")];
    let to_server: Vec<_> = net.log.iter().filter(|e| e.dest == addr(SERVER)).collect();
    assert!(to_server.len() >= 8, "{}", to_server.len());
    assert!(to_server.iter().all(|e| links.contains(&e.local)));
}

#[test]
fn losing_the_link_fails_only_the_relay() {
    let (mut net, _s, a, b) = setup(1100);
    assert!(connect(&mut net, a, b, |_| true));
    net.run_for(Duration::from_secs(2));
    let selected_kind = |net: &mut Network, id| {
        let node = net.node::<IceNode>(id);
        node.agent.selected_candidates().map(|(l, _)| l.kind)
    };
    // Host pairs win (type preference): the relay is a spare.
    assert_eq!(selected_kind(&mut net, a), Some(CandidateKind::Host));
    let now = net.now();
    agent(&mut net, a).turn_link_failed(now, addr("10.0.0.1:40001"), StreamFailure::Closed);
    // Another link, or the same one twice: nothing more.
    agent(&mut net, a).turn_link_failed(now, addr("10.0.0.1:40009"), StreamFailure::Closed);
    agent(&mut net, a).turn_link_failed(now, addr("10.0.0.1:40001"), StreamFailure::Closed);
    net.run_for(Duration::from_secs(1));
    assert_eq!(
        relay_failures(&mut net, a),
        vec![RelayFailure::Stream(StreamFailure::Closed)]
    );
    let node = net.node::<IceNode>(a);
    assert_eq!(node.agent.stats().relay_failures, 1);
    assert!(node.events.iter().any(|(_, e)| matches!(
        e,
        IceEvent::RelayFailed {
            server: Some(s),
            ..
        } if *s == addr(SERVER)
    )));
    for i in 0..50u32 {
        agent(&mut net, a)
            .send(format!("data {i:05}").as_bytes())
            .unwrap();
    }
    net.run_for(Duration::from_millis(500));
    assert!(net.node::<IceNode>(b).data.len() >= 50);
    assert!(net.node::<IceNode>(a).state().is_connected());
    assert!(relay_failures(&mut net, b).is_empty());
}

#[test]
fn a_link_lost_while_allocating_ends_relay_gathering_at_once() {
    let net = Network::new(1200, LinkConfig::clean());
    let now = net.now();
    let mut a = IceAgent::new(config(Role::Controlling, 1201), now).unwrap();
    a.add_host_candidate(addr("10.0.0.1:5000"));
    a.expect_turn_servers(1);
    a.gather(now).unwrap();
    let mut turn = TurnConfig::new(addr(SERVER), USER, PASS);
    turn.retransmit = STREAM_RETRANSMIT;
    let link = addr("10.0.0.1:40001");
    a.turn_server_resolved(now, Ok((turn, Some(link))));
    // The Allocate goes out on the link (and waits there, unanswered).
    let t = a.poll_transmit().expect("an Allocate");
    assert_eq!((t.local, t.dest), (link, addr(SERVER)));
    let evs: Vec<IceEvent> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(
        !evs.contains(&IceEvent::GatheringComplete),
        "waits for the relay"
    );
    a.turn_link_failed(
        now + Duration::from_millis(100),
        link,
        StreamFailure::ConnectFailed,
    );
    let evs: Vec<IceEvent> = std::iter::from_fn(|| a.poll_event()).collect();
    assert_eq!(
        evs,
        vec![
            IceEvent::RelayFailed {
                server: Some(addr(SERVER)),
                reason: RelayFailure::Stream(StreamFailure::ConnectFailed),
            },
            IceEvent::GatheringComplete
        ]
    );
    assert_eq!(a.stats().relay_failures, 1);
    assert_eq!(
        a.local_candidates().map(|c| c.kind).collect::<Vec<_>>(),
        vec![CandidateKind::Host]
    );
}
