//! ICE agent scenarios on the in-memory network: connecting over clean and
//! lossy links, pacing, role conflicts, total failure.

mod harness;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use harness::ice_node::{add_agent, agent, config, connect, exchange};
use harness::{IceNode, LinkConfig, Network, Realm};
use xp2p::ice::agent::{IceEvent, IceState, Role};
use xp2p::stun::{attr_type, Class, Message};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Both agents report the same path (mirrored).
fn assert_selected_agree(net: &mut Network, a: usize, b: usize) {
    let pa = agent(net, a).selected_pair().expect("a selected");
    let pb = agent(net, b).selected_pair().expect("b selected");
    assert_eq!(pa.0, pb.1, "a's local is b's remote");
    assert_eq!(pa.1, pb.0, "a's remote is b's local");
}

fn two_public(seed: u64, link: LinkConfig, role_a: Role, role_b: Role) -> (Network, usize, usize) {
    let mut net = Network::new(seed, link);
    let a = add_agent(
        &mut net,
        config(role_a, seed * 2 + 1),
        &[sa("10.0.0.1:5000"), sa("10.0.1.1:5000")],
        Realm::Public,
    );
    let b = add_agent(
        &mut net,
        config(role_b, seed * 2 + 2),
        &[sa("10.0.0.2:6000"), sa("10.0.1.2:6000")],
        Realm::Public,
    );
    (net, a, b)
}

fn exchange_data(net: &mut Network, a: usize, b: usize, n: usize) {
    for i in 0..n {
        let pa = format!("a->b #{i:04}").into_bytes();
        let pb = format!("b->a #{i:04} {}", "x".repeat(i % 300)).into_bytes();
        agent(net, a).send(&pa).unwrap();
        agent(net, b).send(&pb).unwrap();
        if i % 50 == 0 {
            net.run_for(Duration::from_millis(1));
        }
    }
    net.run_for(Duration::from_millis(200));
    let got_b = net.node::<IceNode>(b).data.clone();
    let got_a = net.node::<IceNode>(a).data.clone();
    assert_eq!(got_b.len(), n);
    assert_eq!(got_a.len(), n);
    for (i, d) in got_b.iter().enumerate() {
        assert_eq!(d, &format!("a->b #{i:04}").into_bytes());
    }
    for (i, d) in got_a.iter().enumerate() {
        assert_eq!(
            d,
            &format!("b->a #{i:04} {}", "x".repeat(i % 300)).into_bytes()
        );
    }
}

#[test]
fn clean_link_connects_and_carries_data_both_roles() {
    for (seed, ra, rb) in [
        (1, Role::Controlling, Role::Controlled),
        (2, Role::Controlled, Role::Controlling),
    ] {
        let (mut net, a, b) = two_public(seed, LinkConfig::clean(), ra, rb);
        assert!(connect(&mut net, a, b, secs(5)), "connects");
        assert!(net.elapsed() < secs(2), "took {:?}", net.elapsed());
        assert_selected_agree(&mut net, a, b);
        // Nothing lost: no retransmission needed on a clean link, no
        // conflicts, nothing dropped.
        for id in [a, b] {
            let st = agent(&mut net, id).stats();
            assert_eq!(st.role_conflicts, 0);
            assert_eq!(st.dropped_unauthenticated + st.dropped_malformed, 0);
            let node = net.node::<IceNode>(id);
            assert_eq!(
                node.count_events(|e| matches!(e, IceEvent::SelectedPair { .. })),
                1
            );
            assert_eq!(
                node.states()[..2],
                [IceState::Gathering, IceState::Checking]
            );
        }
        exchange_data(&mut net, a, b, 1000);
        // Checks settle, end-of-candidates was signalled: Completed.
        net.run_for(secs(12));
        assert_eq!(agent(&mut net, a).state(), IceState::Completed);
        assert_eq!(agent(&mut net, b).state(), IceState::Completed);
        assert_eq!(agent(&mut net, a).role(), ra);
    }
}

/// First sends of Binding requests by `node` (retransmissions reuse the
/// transaction id), as (time, carries USE-CANDIDATE), and the number of
/// retransmissions.
fn first_requests(net: &Network, node: usize) -> (Vec<(std::time::Instant, bool)>, usize) {
    let mut seen = HashSet::new();
    let mut times = Vec::new();
    let mut retransmits = 0;
    for e in net.log.iter().filter(|e| e.node == node) {
        let Ok(m) = Message::parse(&e.data) else {
            continue;
        };
        if m.class() != Class::Request || m.get(attr_type::USERNAME).is_none() {
            continue;
        }
        if seen.insert(*m.transaction_id()) {
            times.push((e.at, m.get(attr_type::USE_CANDIDATE).is_some()));
        } else {
            retransmits += 1;
        }
    }
    (times, retransmits)
}

#[test]
fn lossy_link_still_connects_with_pacing_and_retransmissions() {
    let link = LinkConfig {
        loss: 0.2,
        delay: Duration::from_millis(25),
        jitter: Duration::from_millis(30),
        duplicate: 0.05,
        reorder: 0.1,
        reorder_delay: Duration::from_millis(40),
        mtu: 1500,
    };
    let mut total_retransmits = 0;
    for seed in 10..18 {
        let (mut net, a, b) = two_public(seed, link, Role::Controlling, Role::Controlled);
        assert!(connect(&mut net, a, b, secs(20)), "seed {seed} connects");
        assert_selected_agree(&mut net, a, b);
        net.run_for(secs(15));
        for id in [a, b] {
            assert!(agent(&mut net, id).state().is_connected(), "seed {seed}");
            let (times, retransmits) = first_requests(&net, id);
            assert!(times.len() >= 4);
            // New transactions are Ta apart; the nominating check alone
            // goes out at once (it repeats a check on a validated pair).
            let mut nominations = 0;
            for w in times.windows(2) {
                let ((t0, _), (t1, nominating)) = (w[0], w[1]);
                if nominating {
                    nominations += 1;
                    continue;
                }
                assert!(
                    t1 - t0 >= Duration::from_millis(50),
                    "seed {seed}: new checks {:?} apart",
                    t1 - t0
                );
            }
            assert!(
                nominations <= 2,
                "seed {seed}: {nominations} unpaced nominations"
            );
            total_retransmits += retransmits;
            assert_eq!(
                u64::try_from(retransmits).unwrap(),
                agent(&mut net, id).stats().retransmits
            );
        }
    }
    assert!(
        total_retransmits > 0,
        "losses were repaired by retransmission"
    );
}

#[test]
fn role_conflicts_are_repaired_by_tie_breaker() {
    for (seed, role) in [
        (20, Role::Controlling),
        (21, Role::Controlled),
        (22, Role::Controlling),
    ] {
        let (mut net, a, b) = two_public(seed, LinkConfig::clean(), role, role);
        assert!(connect(&mut net, a, b, secs(10)), "seed {seed} connects");
        assert_selected_agree(&mut net, a, b);
        let (ra, rb) = (agent(&mut net, a).role(), agent(&mut net, b).role());
        assert_ne!(ra, rb, "roles differ after repair");
        let (ta, tb) = (
            agent(&mut net, a).tie_breaker(),
            agent(&mut net, b).tie_breaker(),
        );
        // The larger tie-breaker ends up controlling.
        assert_eq!(ra == Role::Controlling, ta > tb);
        let conflicts =
            agent(&mut net, a).stats().role_conflicts + agent(&mut net, b).stats().role_conflicts;
        assert!(conflicts > 0);
        let switched = if ra == role { b } else { a };
        assert_eq!(
            net.node::<IceNode>(switched)
                .count_events(|e| matches!(e, IceEvent::RoleChanged(_))),
            1
        );
        exchange_data(&mut net, a, b, 10);
    }
}

#[test]
fn unreachable_remote_fails_within_bound() {
    // With end-of-candidates: fails once every pair failed (~9.5 s).
    // Without: fails at the 10 s bound.
    for eoc in [true, false] {
        let mut net = Network::new(30, LinkConfig::clean());
        let a = add_agent(
            &mut net,
            config(Role::Controlling, 31),
            &[sa("10.0.0.1:5000")],
            Realm::Public,
        );
        let now = net.now();
        let start = now;
        {
            let ag = agent(&mut net, a);
            ag.set_remote_credentials("ruf1", "remote-password-0123456789");
            for (i, addr) in ["10.9.9.9:1000", "10.9.9.10:1000"].iter().enumerate() {
                let c = xp2p::ice::Candidate::host(sa(addr), 1, 65535 - i as u16);
                ag.add_remote_candidate(now, c).unwrap();
            }
            if eoc {
                ag.remote_end_of_candidates();
            }
        }
        let done = net.run_until(now + secs(20), |n| {
            n.node::<IceNode>(a).state() == IceState::Failed
        });
        assert!(done);
        let took = net.now() - start;
        assert!(took <= secs(10), "failed after {took:?}");
        if eoc {
            assert!(took < secs(10));
        } else {
            assert!(took >= secs(10));
        }
        assert!(agent(&mut net, a).send(b"x").is_err());
        assert_eq!(
            net.node::<IceNode>(a).states(),
            [IceState::Gathering, IceState::Checking, IceState::Failed]
        );
        // Nothing more goes out after failure.
        let sent = net.log.len();
        net.run_for(secs(30));
        assert_eq!(net.log.len(), sent);
    }
}

#[test]
fn exchange_before_gathering_of_peer_completes() {
    // Credentials and candidates are signalled once, up front; the agents
    // connect without further signalling.
    let (mut net, a, b) = two_public(40, LinkConfig::clean(), Role::Controlling, Role::Controlled);
    exchange(&mut net, a, b);
    let deadline = net.now() + secs(5);
    assert!(net.run_until(deadline, |n| harness::ice_node::both_connected(n, a, b)));
}

#[test]
fn full_send_queue_reports_back_pressure_not_loss() {
    use xp2p::ice::agent::MAX_QUEUED_TRANSMITS;
    use xp2p::ice::IceError;
    let (mut net, a, b) = two_public(7, LinkConfig::clean(), Role::Controlling, Role::Controlled);
    assert!(connect(&mut net, a, b, secs(5)), "connects");
    let before = net.node::<IceNode>(b).data.len();
    // Nothing polls between these sends: the queue fills, then refuses.
    for i in 0..MAX_QUEUED_TRANSMITS {
        assert_eq!(agent(&mut net, a).send(&[200, (i % 256) as u8]), Ok(()));
    }
    assert_eq!(agent(&mut net, a).send(&[200]), Err(IceError::WouldBlock));
    // Once the network has drained the queue, sending works again and
    // everything that was accepted arrives.
    net.run_for(Duration::from_millis(100));
    assert_eq!(agent(&mut net, a).send(&[200]), Ok(()));
    net.run_for(Duration::from_millis(100));
    assert_eq!(
        net.node::<IceNode>(b).data.len() - before,
        MAX_QUEUED_TRANSMITS + 1
    );
}
