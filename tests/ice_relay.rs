//! Relayed candidates on a virtual clock, against the in-process TURN
//! server of the harness (which really relays): two agents that only learn
//! each other's relay candidates connect and exchange data through the
//! server; permissions, channels and the allocation are refreshed over
//! simulated hours; failures of the server cost only the relay candidate.

mod harness;

use std::net::SocketAddr;
use std::time::Duration;

use harness::ice_node::{
    agent, config, give_credentials, local_kinds, relay_failures, signal, signal_where, IceNode,
};
use harness::turn_server::{TurnServer, PASS, USER};
use harness::{LinkConfig, Network, NodeId, Realm};
use xp2p::ice::agent::{AgentConfig, IceAgent, IceEvent, IceState, RelayFailure, Role};
use xp2p::ice::{Candidate, CandidateKind};
use xp2p::stun::method;
use xp2p::turn::client::{TurnConfig, TurnFailure, TurnState};
use xp2p::turn::stream::STREAM_RETRANSMIT;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const SERVER: &str = "198.51.100.1:3478";

fn turn(password: &str, seed: u64) -> TurnConfig {
    let mut t = TurnConfig::new(addr(SERVER), USER, password);
    t.rng_seed = Some(seed);
    t
}

/// A network with the TURN server and two agents (controlling at
/// 10.0.0.1:5000, controlled at 10.0.0.2:6000) that allocate on it with
/// `password`.
fn setup(seed: u64, password: &str) -> (Network, NodeId, NodeId, NodeId) {
    let mut net = Network::new(seed, LinkConfig::clean());
    let server = TurnServer::new(addr(SERVER));
    let addrs = server.addrs();
    let s = net.add_node(server, &addrs, Realm::Public);
    let add = |net: &mut Network, role, seed, host: &str| {
        let cfg = AgentConfig {
            turn_servers: vec![turn(password, seed)],
            ..config(role, seed)
        };
        let now = net.now();
        let mut a = IceAgent::new(cfg, now).unwrap();
        a.add_host_candidate(addr(host));
        a.gather(now).unwrap();
        let mut node = IceNode::new(a, now);
        node.drain(now);
        net.add_node(node, &[addr(host)], Realm::Public)
    };
    let a = add(&mut net, Role::Controlling, seed + 1, "10.0.0.1:5000");
    let b = add(&mut net, Role::Controlled, seed + 2, "10.0.0.2:6000");
    (net, s, a, b)
}

fn is_relay(c: &Candidate) -> bool {
    c.kind == CandidateKind::Relay
}

/// Signals only relay candidates both ways until both agents connect.
fn connect_relay_only(net: &mut Network, a: NodeId, b: NodeId, limit: Duration) -> bool {
    give_credentials(net, a, b);
    give_credentials(net, b, a);
    let deadline = net.now() + limit;
    net.run_until(deadline, |n| {
        signal_where(n, a, b, true, is_relay);
        signal_where(n, b, a, true, is_relay);
        n.node::<IceNode>(a).state().is_connected() && n.node::<IceNode>(b).state().is_connected()
    })
}

/// Sends `n` numbered datagrams each way and runs until all arrived.
fn exchange_datagrams(net: &mut Network, a: NodeId, b: NodeId, n: u32) {
    let before_a = net.node::<IceNode>(a).data.len();
    let before_b = net.node::<IceNode>(b).data.len();
    for i in 0..n {
        let msg = format!("a->b {i:05}");
        agent(net, a).send(msg.as_bytes()).unwrap();
        let msg = format!("b->a {i:05}");
        agent(net, b).send(msg.as_bytes()).unwrap();
        if i % 64 == 63 {
            // Let the link drain now and then (the agent's queue is bounded).
            net.run_for(Duration::from_millis(30));
        }
    }
    let deadline = net.now() + Duration::from_secs(5);
    let want_a = before_a + n as usize;
    let want_b = before_b + n as usize;
    net.run_until(deadline, |net| {
        net.node::<IceNode>(a).data.len() >= want_a && net.node::<IceNode>(b).data.len() >= want_b
    });
    let got_b: Vec<Vec<u8>> = net.node::<IceNode>(b).data[before_b..].to_vec();
    let got_a: Vec<Vec<u8>> = net.node::<IceNode>(a).data[before_a..].to_vec();
    assert_eq!(got_b.len(), n as usize, "a->b delivered");
    assert_eq!(got_a.len(), n as usize, "b->a delivered");
    for i in 0..n as usize {
        assert_eq!(got_b[i], format!("a->b {i:05}").into_bytes());
        assert_eq!(got_a[i], format!("b->a {i:05}").into_bytes());
    }
}

#[test]
fn relay_candidates_only_connect_through_the_server() {
    let (mut net, s, a, b) = setup(100, PASS);
    assert!(connect_relay_only(&mut net, a, b, Duration::from_secs(10)));
    for id in [a, b] {
        let kinds = local_kinds(&mut net, id);
        assert!(kinds.contains(&CandidateKind::Host));
        assert!(kinds.contains(&CandidateKind::Relay), "{kinds:?}");
        assert!(relay_failures(&mut net, id).is_empty());
        // The server's XOR-MAPPED-ADDRESS is a server-reflexive candidate
        // only when it differs from the host address (it does not here).
        let node = net.node::<IceNode>(id);
        let (local, remote) = node.agent.selected_candidates().unwrap();
        assert_eq!(local.kind, CandidateKind::Relay, "selected local of {id}");
        let relayed = node.agent.turn_clients().next().unwrap().relayed_addr();
        assert_eq!(local.address.socket_addr(), relayed);
        assert_eq!(
            local.priority,
            CandidateKind::Relay.priority(65535, 1),
            "type preference 0"
        );
        // The related address is the address the server saw.
        assert!(local.related.is_some());
        assert_eq!(remote.kind, CandidateKind::Relay);
        assert!(node
            .events
            .iter()
            .any(|(_, e)| *e == IceEvent::GatheringComplete));
    }
    exchange_datagrams(&mut net, a, b, 1000);

    // Data went as ChannelData once the channels were bound.
    let srv = net.node::<TurnServer>(s);
    assert!(srv.count(method::CHANNEL_BIND) >= 2);
    assert!(srv.channel_data.len() >= 1900, "{}", srv.channel_data.len());
    assert!(srv.relayed_in >= 2000 && srv.relayed_out >= 2000);
    for id in [a, b] {
        let node = net.node::<IceNode>(id);
        let c = node.agent.turn_clients().next().unwrap();
        let (_, remote) = node.agent.selected_pair().unwrap();
        assert!(c.channel_for(remote).is_some());
        // The first datagrams go in Send indications until the bind is
        // confirmed.
        let st = c.stats();
        assert!(st.channel_data_sent >= 900, "{id}: {st:?}");
        assert_eq!(node.dropped, 0, "nothing dropped by {id}");
    }
    // Every datagram on the wire went to or came from the server.
    let server_addrs = net.addrs(s).to_vec();
    assert!(net
        .log
        .iter()
        .all(|e| server_addrs.contains(&e.dest) || server_addrs.contains(&e.local)));
}

#[test]
fn relayed_paths_survive_hours_of_refreshes() {
    let (mut net, s, a, b) = setup(200, PASS);
    // Short allocations: refreshed every 48 s.
    net.node::<TurnServer>(s).grant_lifetime = 60;
    assert!(connect_relay_only(&mut net, a, b, Duration::from_secs(10)));
    exchange_datagrams(&mut net, a, b, 10);
    // The checks of host pairs (refused by the server: no permission for
    // host addresses) are over after 10 s.
    net.run_for(Duration::from_secs(15));
    let start = net.now();
    let seen_before = |net: &mut Network, m| net.node::<TurnServer>(s).count(m);
    let (r0, p0, c0) = (
        seen_before(&mut net, method::REFRESH),
        seen_before(&mut net, method::CREATE_PERMISSION),
        seen_before(&mut net, method::CHANNEL_BIND),
    );
    let refused0 = net.node::<TurnServer>(s).relay_refused;
    // Three hours, a burst of data every ten minutes.
    for _ in 0..18 {
        net.run_for(Duration::from_secs(600));
        exchange_datagrams(&mut net, a, b, 5);
        assert!(net.node::<IceNode>(a).state().is_connected());
        assert!(net.node::<IceNode>(b).state().is_connected());
    }
    let hours = (net.now() - start).as_secs_f64() / 3600.0;
    assert!(hours >= 3.0);
    let srv = net.node::<TurnServer>(s);
    let refreshes = srv.count(method::REFRESH) - r0;
    let permissions = srv.count(method::CREATE_PERMISSION) - p0;
    let binds = srv.count(method::CHANNEL_BIND) - c0;
    // Two allocations: every 48 s, permissions every 240 s, channels every
    // 540 s, each.
    assert!(refreshes >= 2 * 220, "{refreshes} refreshes");
    assert!(permissions >= 2 * 44, "{permissions} permission refreshes");
    assert!(binds >= 2 * 19, "{binds} channel refreshes");
    assert_eq!(srv.relay_refused, refused0, "nothing expired on the server");
    for id in [a, b] {
        let node = net.node::<IceNode>(id);
        let c = node.agent.turn_clients().next().unwrap();
        assert_eq!(c.state(), TurnState::Allocated);
        assert_eq!(c.lifetime(), 60);
        assert!(relay_failures(&mut net, id).is_empty());
    }
}

#[test]
fn wrong_credentials_fail_the_relay_and_host_candidates_connect() {
    let (mut net, _s, a, b) = setup(300, "wrong-password");
    net.run_for(Duration::from_secs(1));
    for id in [a, b] {
        assert_eq!(
            relay_failures(&mut net, id),
            vec![RelayFailure::Turn(TurnFailure::Unauthorized)]
        );
        assert_eq!(net.node::<IceNode>(id).agent.stats().relay_failures, 1);
        let kinds = local_kinds(&mut net, id);
        assert!(!kinds.contains(&CandidateKind::Relay));
        // End-of-candidates right after the 401, not at the gather timeout.
        let done = net
            .node::<IceNode>(id)
            .first_event(|e| *e == IceEvent::GatheringComplete);
        assert!(done.is_some_and(|t| t < harness::net::base_instant() + Duration::from_millis(500)));
    }
    give_credentials(&mut net, a, b);
    give_credentials(&mut net, b, a);
    let deadline = net.now() + Duration::from_secs(10);
    assert!(net.run_until(deadline, |n| {
        signal(n, a, b, true);
        signal(n, b, a, true);
        harness::ice_node::both_connected(n, a, b)
    }));
    exchange_datagrams(&mut net, a, b, 100);
}

#[test]
fn silent_server_ends_relay_gathering_at_the_gather_timeout() {
    let mut net = Network::new(400, LinkConfig::clean());
    let mut server = TurnServer::new(addr(SERVER));
    server.silent = true;
    let addrs = server.addrs();
    let _s = net.add_node(server, &addrs, Realm::Public);
    let cfg = AgentConfig {
        turn_servers: vec![turn(PASS, 1)],
        ..config(Role::Controlling, 401)
    };
    let a = harness::ice_node::add_agent(&mut net, cfg, &[addr("10.0.0.1:5000")], Realm::Public);
    net.run_for(Duration::from_secs(8));
    let node = net.node::<IceNode>(a);
    let done = node
        .first_event(|e| *e == IceEvent::GatheringComplete)
        .expect("end-of-candidates");
    let after = done - harness::net::base_instant();
    assert!(
        after >= Duration::from_secs(5) && after < Duration::from_millis(5100),
        "{after:?}"
    );
    assert_eq!(
        relay_failures(&mut net, a),
        vec![RelayFailure::GatherTimeout]
    );
    // The abandoned allocation is not retried.
    let sent = net.log.len();
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.log.len(), sent);
}

#[test]
fn server_going_silent_after_connecting_fails_the_relay_then_consent() {
    let (mut net, s, a, b) = setup(500, PASS);
    assert!(connect_relay_only(&mut net, a, b, Duration::from_secs(10)));
    exchange_datagrams(&mut net, a, b, 10);
    net.node::<TurnServer>(s).silent = true;
    // Consent expires after 30 s without answers; the allocation refresh
    // (at 480 s) then times out after 39.5 s.
    net.run_for(Duration::from_secs(40));
    for id in [a, b] {
        assert_eq!(net.node::<IceNode>(id).state(), IceState::Failed);
    }
    net.run_for(Duration::from_secs(600));
    for id in [a, b] {
        assert_eq!(
            relay_failures(&mut net, id),
            vec![RelayFailure::Turn(TurnFailure::Timeout)]
        );
    }
}

#[test]
fn close_deallocates() {
    let (mut net, s, a, b) = setup(600, PASS);
    assert!(connect_relay_only(&mut net, a, b, Duration::from_secs(10)));
    assert_eq!(net.node::<TurnServer>(s).allocations.len(), 2);
    agent(&mut net, a).close();
    net.run_for(Duration::from_secs(1));
    let srv = net.node::<TurnServer>(s);
    assert_eq!(srv.last(method::REFRESH).unwrap().lifetime, Some(0));
    assert_eq!(srv.allocations.len(), 1, "a's allocation is gone");
}

#[test]
fn turn_servers_announced_before_resolution() {
    let mut net = Network::new(700, LinkConfig::clean());
    let server = TurnServer::new(addr(SERVER));
    let addrs = server.addrs();
    net.add_node(server, &addrs, Realm::Public);
    let now = net.now();
    let mut agent_a = IceAgent::new(config(Role::Controlling, 701), now).unwrap();
    agent_a.add_host_candidate(addr("10.0.0.1:5000"));
    agent_a.expect_turn_servers(2);
    agent_a.gather(now).unwrap();
    let mut node = IceNode::new(agent_a, now);
    node.drain(now);
    let a = net.add_node(node, &[addr("10.0.0.1:5000")], Realm::Public);
    net.run_for(Duration::from_millis(100));
    let complete = |net: &mut Network| {
        net.node::<IceNode>(a)
            .first_event(|e| *e == IceEvent::GatheringComplete)
            .is_some()
    };
    assert!(!complete(&mut net), "waits for the servers being resolved");
    let now = net.now();
    net.node::<IceNode>(a)
        .agent
        .turn_server_unavailable(now, RelayFailure::Unresolved);
    net.node::<IceNode>(a)
        .agent
        .add_turn_server(now, turn(PASS, 702), None);
    net.run_for(Duration::from_millis(200));
    assert!(complete(&mut net));
    assert!(local_kinds(&mut net, a).contains(&CandidateKind::Relay));
    assert_eq!(relay_failures(&mut net, a), vec![RelayFailure::Unresolved]);

    // No host socket of the server's family: the relay fails at once.
    let now = net.now();
    let cfg = AgentConfig {
        turn_servers: vec![TurnConfig::new(addr("[2001:db8::1]:3478"), USER, PASS)],
        ..config(Role::Controlling, 703)
    };
    let mut v4_only = IceAgent::new(cfg, now).unwrap();
    v4_only.add_host_candidate(addr("10.0.0.3:5000"));
    v4_only.gather(now).unwrap();
    let evs: Vec<IceEvent> = std::iter::from_fn(|| v4_only.poll_event()).collect();
    assert!(evs.contains(&IceEvent::RelayFailed {
        server: Some(addr("[2001:db8::1]:3478")),
        reason: RelayFailure::NoLink
    }));
    assert_eq!(evs.last(), Some(&IceEvent::GatheringComplete));
}

/// A TURN server over TCP or TLS whose connection takes longer than the
/// gather timeout still gives its relay candidate: gathering waits for it.
#[test]
fn stream_turn_server_is_waited_for_past_the_gather_timeout() {
    let mut net = Network::new(720, LinkConfig::clean());
    let server = TurnServer::new(addr(SERVER));
    let addrs = server.addrs();
    net.add_node(server, &addrs, Realm::Public);
    let now = net.now();
    let mut agent_a = IceAgent::new(config(Role::Controlling, 721), now).unwrap();
    agent_a.add_host_candidate(addr("10.0.0.1:5000"));
    agent_a.expect_stream_turn_server();
    agent_a.gather(now).unwrap();
    let mut node = IceNode::new(agent_a, now);
    node.drain(now);
    let a = net.add_node(node, &[addr("10.0.0.1:5000")], Realm::Public);
    let complete = |net: &mut Network| {
        net.node::<IceNode>(a)
            .first_event(|e| *e == IceEvent::GatheringComplete)
            .is_some()
    };
    // Connecting (and the TLS handshake) takes 8 s.
    net.run_for(Duration::from_secs(8));
    assert!(!complete(&mut net), "gathering waits for the stream server");
    let now = net.now();
    let mut cfg = turn(PASS, 722);
    cfg.retransmit = STREAM_RETRANSMIT;
    net.node::<IceNode>(a)
        .agent
        .add_turn_server(now, cfg, Some(addr("10.0.0.1:5000")));
    net.run_for(Duration::from_millis(200));
    assert!(complete(&mut net));
    assert!(local_kinds(&mut net, a).contains(&CandidateKind::Relay));
    assert!(relay_failures(&mut net, a).is_empty());

    // A UDP server announced the same way is given up on at the timeout.
    let now = net.now();
    let mut agent_b = IceAgent::new(config(Role::Controlling, 723), now).unwrap();
    agent_b.add_host_candidate(addr("10.0.0.2:5000"));
    agent_b.expect_turn_servers(1);
    agent_b.gather(now).unwrap();
    let mut node = IceNode::new(agent_b, now);
    node.drain(now);
    let b = net.add_node(node, &[addr("10.0.0.2:5000")], Realm::Public);
    net.run_for(Duration::from_secs(6));
    assert!(net
        .node::<IceNode>(b)
        .first_event(|e| *e == IceEvent::GatheringComplete)
        .is_some());
}

#[test]
fn server_traffic_is_told_apart_by_source_and_first_byte() {
    use xp2p::ice::agent::Received;
    use xp2p::turn::ChannelData;
    let (mut net, s, a, b) = setup(800, PASS);
    assert!(connect_relay_only(&mut net, a, b, Duration::from_secs(10)));
    exchange_datagrams(&mut net, a, b, 5);
    let server = addr(SERVER);
    let link = addr("10.0.0.1:5000");
    let stranger = addr("203.0.113.9:3478");
    let now = net.now();
    let node = net.node::<IceNode>(a);
    let (_, peer) = node.agent.selected_pair().unwrap();
    let channel = node
        .agent
        .turn_clients()
        .next()
        .unwrap()
        .channel_for(peer)
        .unwrap();
    let mut frame = vec![0u8; 64];
    let n = ChannelData {
        channel,
        data: &[200, 1, 2, 3],
    }
    .encode(&mut frame)
    .unwrap();
    frame.truncate(n);

    // From the server on the link: the payload inside, from the peer.
    let input = node
        .agent
        .handle_datagram_payload(now, link, server, &frame);
    assert_eq!(input.received, Received::Data);
    assert_eq!(input.payload, &[200, 1, 2, 3]);
    assert_eq!(input.from, peer);

    // The same bytes from anyone else are not relayed data.
    let input = node
        .agent
        .handle_datagram_payload(now, link, stranger, &frame);
    assert_eq!(input.received, Received::ChannelData);
    // A Data indication from a stranger is not the server's.
    let ind = net.node::<TurnServer>(s).data_indication(peer, &[200, 9]);
    let node = net.node::<IceNode>(a);
    let input = node
        .agent
        .handle_datagram_payload(now, link, stranger, &ind);
    assert_eq!(input.received, Received::Dropped);
    // ChannelData on a channel that is not bound: the TURN client's, dropped.
    let unknown_before = node
        .agent
        .turn_clients()
        .next()
        .unwrap()
        .stats()
        .unknown_peer;
    let mut frame = vec![0u8; 64];
    let n = ChannelData {
        channel: 0x7FFE,
        data: &[200, 1],
    }
    .encode(&mut frame)
    .unwrap();
    let input = node
        .agent
        .handle_datagram_payload(now, link, server, &frame[..n]);
    assert_ne!(input.received, Received::Data);
    let c = node.agent.turn_clients().next().unwrap();
    assert_eq!(c.stats().unknown_peer, unknown_before + 1);
    // The connection is unharmed.
    exchange_datagrams(&mut net, a, b, 5);
}
