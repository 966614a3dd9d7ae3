//! Agents behind NATs: host candidates unreachable, server-reflexive ones
//! from an in-process STUN server, peer-reflexive ones from checks.

mod harness;

use std::net::SocketAddr;
use std::time::Duration;

use harness::ice_node::{add_agent, agent, connect};
use harness::{Filtering, IceNode, LinkConfig, Network, Realm, StunServer};
use xp2p::ice::agent::{AgentConfig, IceEvent, Role};
use xp2p::ice::CandidateKind;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn cfg(role: Role, seed: u64, stun: SocketAddr) -> AgentConfig {
    AgentConfig {
        role,
        rng_seed: Some(seed),
        stun_servers: vec![stun],
        ..AgentConfig::default()
    }
}

fn srflx_of(net: &mut Network, id: usize) -> Vec<SocketAddr> {
    net.node::<IceNode>(id)
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            IceEvent::LocalCandidate(c) if c.kind == CandidateKind::Srflx => {
                c.address.socket_addr()
            }
            _ => None,
        })
        .collect()
}

#[test]
fn both_behind_nats_connect_through_reflexive_candidates() {
    for (seed, filtering) in [
        (300, Filtering::EndpointIndependent),
        (310, Filtering::AddressDependent),
        (320, Filtering::AddressAndPortDependent),
    ] {
        let mut net = Network::new(seed, LinkConfig::clean());
        let stun = sa("198.51.100.1:3478");
        net.add_node(StunServer::new(stun), &[stun], Realm::Public);
        let nat_a = net.add_nat("203.0.113.1".parse().unwrap(), filtering);
        let nat_b = net.add_nat("203.0.113.2".parse().unwrap(), filtering);
        // Private addresses in two realms: host pairs cannot work.
        let a = add_agent(
            &mut net,
            cfg(Role::Controlling, seed + 1, stun),
            &[sa("192.168.1.10:5000")],
            nat_a,
        );
        let b = add_agent(
            &mut net,
            cfg(Role::Controlled, seed + 2, stun),
            &[sa("192.168.1.20:5000")],
            nat_b,
        );
        assert!(
            connect(&mut net, a, b, Duration::from_secs(15)),
            "{filtering:?}"
        );
        let (sa_a, sa_b) = (srflx_of(&mut net, a), srflx_of(&mut net, b));
        assert_eq!(sa_a.len(), 1);
        assert_eq!(sa_b.len(), 1);
        assert_eq!(sa_a[0].ip().to_string(), "203.0.113.1");
        assert_eq!(sa_b[0].ip().to_string(), "203.0.113.2");
        // Both see the other's public (NAT) address as remote.
        let (la, ra) = agent(&mut net, a).selected_pair().unwrap();
        let (lb, rb) = agent(&mut net, b).selected_pair().unwrap();
        assert_eq!(la, sa("192.168.1.10:5000"));
        assert_eq!(lb, sa("192.168.1.20:5000"));
        assert_eq!(ra, sa_b[0]);
        assert_eq!(rb, sa_a[0]);
        let (lc, _) = agent(&mut net, a).selected_candidates().unwrap();
        assert!(matches!(
            lc.kind,
            CandidateKind::Srflx | CandidateKind::Prflx
        ));
        // Gathering completed before the 5 s timeout, after the answer.
        let gc = net
            .node::<IceNode>(a)
            .first_event(|e| matches!(e, IceEvent::GatheringComplete))
            .unwrap();
        assert!(gc - harness::net::base_instant() < Duration::from_secs(1));
        for i in 0..20u8 {
            agent(&mut net, a).send(&[0x80, i]).unwrap();
            agent(&mut net, b).send(&[0x90, i]).unwrap();
        }
        net.run_for(Duration::from_millis(100));
        assert_eq!(net.node::<IceNode>(b).data.len(), 20);
        assert_eq!(net.node::<IceNode>(a).data.len(), 20);
    }
}

#[test]
fn one_side_public_learns_prflx() {
    // B is public and has no STUN server; A is behind a NAT and signals
    // only its host candidate. B learns A's NAT address from A's checks.
    let mut net = Network::new(330, LinkConfig::clean());
    let nat_a = net.add_nat("203.0.113.1".parse().unwrap(), Filtering::AddressDependent);
    let a = add_agent(
        &mut net,
        AgentConfig {
            role: Role::Controlled,
            rng_seed: Some(331),
            ..AgentConfig::default()
        },
        &[sa("192.168.1.10:5000")],
        nat_a,
    );
    let b = add_agent(
        &mut net,
        AgentConfig {
            role: Role::Controlling,
            rng_seed: Some(332),
            ..AgentConfig::default()
        },
        &[sa("198.51.100.7:6000")],
        Realm::Public,
    );
    assert!(connect(&mut net, a, b, Duration::from_secs(15)));
    let (_, rb) = agent(&mut net, b).selected_pair().unwrap();
    assert_eq!(rb.ip().to_string(), "203.0.113.1");
    let remote_kinds: Vec<CandidateKind> = agent(&mut net, b)
        .remote_candidates()
        .filter(|c| c.address.socket_addr() == Some(rb))
        .map(|c| c.kind)
        .collect();
    assert_eq!(remote_kinds, [CandidateKind::Prflx]);
    assert!(agent(&mut net, b).stats().prflx_remote_learned >= 1);
    assert!(agent(&mut net, a).stats().prflx_local_learned >= 1);
}

#[test]
fn stun_server_silence_ends_gathering_at_the_timeout() {
    let mut net = Network::new(340, LinkConfig::clean());
    let a = add_agent(
        &mut net,
        cfg(Role::Controlling, 341, sa("198.51.100.99:3478")),
        &[sa("10.0.0.1:5000")],
        Realm::Public,
    );
    let start = net.now();
    let deadline = start + Duration::from_secs(10);
    assert!(net.run_until(deadline, |n| {
        n.node::<IceNode>(a)
            .first_event(|e| matches!(e, IceEvent::GatheringComplete))
            .is_some()
    }));
    assert_eq!(net.now() - start, Duration::from_secs(5));
    assert!(agent(&mut net, a).stats().retransmits > 0);
}
