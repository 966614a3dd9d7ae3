//! Consent freshness (RFC 7675) on the selected pair: a cut link goes
//! stale, then fails; a link restored in time recovers.

mod harness;

use std::time::Duration;

use harness::ice_node::{agent, connect, two_agents};
use harness::{IceNode, Network};
use xp2p::ice::agent::{IceEvent, IceState};
use xp2p::stun::{attr_type, Class, Message};

fn connected(seed: u64) -> (Network, usize, usize) {
    let (mut net, a, b) = two_agents(seed);
    assert!(connect(&mut net, a, b, Duration::from_secs(5)));
    (net, a, b)
}

fn is_stale(e: &IceEvent) -> bool {
    matches!(e, IceEvent::ConsentStale)
}

fn is_restored(e: &IceEvent) -> bool {
    matches!(e, IceEvent::ConsentRestored)
}

#[test]
fn healthy_idle_link_stays_fresh() {
    let (mut net, a, b) = connected(200);
    let start = net.now();
    net.run_for(Duration::from_secs(120));
    for id in [a, b] {
        let node = net.node::<IceNode>(id);
        assert_eq!(node.count_events(is_stale), 0);
        assert!(node.state().is_connected());
        let sent = node.agent.stats().consent_checks_sent;
        // Every 5 s ±20 %, sooner when the peer was quiet for 2.5 s.
        assert!((20..=60).contains(&sent), "{sent} consent checks in 120 s");
    }
    // Consent checks are authenticated Binding requests on the selected pair.
    let pair = agent(&mut net, a).selected_pair().unwrap();
    let late: Vec<_> = net
        .log
        .iter()
        .filter(|e| e.at > start && e.node == a)
        .filter_map(|e| {
            Message::parse(&e.data).ok().map(|m| {
                (
                    e.local,
                    e.dest,
                    m.class(),
                    m.get(attr_type::MESSAGE_INTEGRITY).is_some(),
                )
            })
        })
        .filter(|x| x.2 == Class::Request)
        .collect();
    assert!(!late.is_empty());
    assert!(late.iter().all(|&(l, d, _, mi)| (l, d) == pair && mi));
}

#[test]
fn cut_link_goes_stale_then_fails() {
    let (mut net, a, b) = connected(210);
    net.run_for(Duration::from_secs(7));
    let cut_at = net.now();
    net.set_cut(Some(Box::new(|_, _| true)));
    net.run_for(Duration::from_secs(40));
    for id in [a, b] {
        let node = net.node::<IceNode>(id);
        let stale = node.first_event(is_stale).expect("stale");
        assert!(stale > cut_at);
        assert!(
            stale - cut_at <= Duration::from_secs(6),
            "stale after {:?}",
            stale - cut_at
        );
        let failed = node
            .first_event(|e| matches!(e, IceEvent::StateChanged(IceState::Failed)))
            .expect("failed");
        assert!(
            failed - cut_at <= Duration::from_secs(30),
            "failed after {:?}",
            failed - cut_at
        );
        assert!(failed - cut_at >= Duration::from_secs(20));
        assert_eq!(node.state(), IceState::Failed);
        assert!(node.agent.send(b"x").is_err());
    }
    // Restoring the link after failure does not bring it back.
    net.set_cut(None);
    net.run_for(Duration::from_secs(10));
    assert_eq!(agent(&mut net, a).state(), IceState::Failed);
}

#[test]
fn link_restored_in_time_recovers() {
    let (mut net, a, b) = connected(220);
    net.run_for(Duration::from_secs(3));
    let cut_at = net.now();
    net.set_cut(Some(Box::new(|_, _| true)));
    net.run_for(Duration::from_secs(15));
    for id in [a, b] {
        assert!(net.node::<IceNode>(id).first_event(is_stale).is_some());
        assert!(agent(&mut net, id).is_consent_stale());
    }
    net.set_cut(None);
    let restored_at = net.now();
    net.run_for(Duration::from_secs(60));
    for id in [a, b] {
        let node = net.node::<IceNode>(id);
        let r = node.first_event(is_restored).expect("restored");
        assert!(
            r - restored_at <= Duration::from_secs(3),
            "restored after {:?}",
            r - restored_at
        );
        assert_eq!(node.count_events(is_stale), 1);
        assert!(node.state().is_connected());
        assert!(!node.agent.is_consent_stale());
        assert!(node
            .first_event(|e| matches!(e, IceEvent::StateChanged(IceState::Failed)))
            .is_none());
    }
    assert!(cut_at < restored_at);
    agent(&mut net, a).send(b"back").unwrap();
    net.run_for(Duration::from_millis(50));
    assert_eq!(
        net.node::<IceNode>(b).data.last().map(Vec::as_slice),
        Some(&b"back"[..])
    );
}
