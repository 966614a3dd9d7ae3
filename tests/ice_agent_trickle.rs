//! Trickle ICE races: candidates before credentials, late candidates,
//! checks from the peer before its candidates (peer-reflexive, then
//! upgraded), end-of-candidates ordering.

mod harness;

use std::net::SocketAddr;
use std::time::Duration;

use harness::ice_node::{agent, both_connected, give_credentials, signal, two_agents};
use harness::{IceNode, Network};
use xp2p::ice::agent::IceState;
use xp2p::ice::{Candidate, CandidateKind};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn setup(seed: u64) -> (Network, usize, usize) {
    two_agents(seed)
}

fn run_connected(net: &mut Network, a: usize, b: usize, limit: Duration) -> bool {
    let deadline = net.now() + limit;
    net.run_until(deadline, |n| both_connected(n, a, b))
}

#[test]
fn candidates_before_credentials() {
    let (mut net, a, b) = setup(100);
    signal(&mut net, a, b, true);
    signal(&mut net, b, a, true);
    net.run_for(Duration::from_secs(1));
    // Nothing can be checked without the peer's password.
    assert!(net.log.is_empty());
    assert_eq!(agent(&mut net, a).state(), IceState::Gathering);
    give_credentials(&mut net, a, b);
    give_credentials(&mut net, b, a);
    assert!(run_connected(&mut net, a, b, Duration::from_secs(5)));
}

#[test]
fn late_candidate_after_checks_started() {
    let (mut net, a, b) = setup(110);
    give_credentials(&mut net, a, b);
    give_credentials(&mut net, b, a);
    // A first learns only a dead candidate of B; B learns nothing yet.
    let now = net.now();
    agent(&mut net, a)
        .add_remote_candidate(now, Candidate::host(sa("10.9.9.9:1"), 1, 60000))
        .unwrap();
    net.run_for(Duration::from_secs(2));
    assert_eq!(agent(&mut net, a).state(), IceState::Checking);
    assert!(agent(&mut net, a).stats().checks_sent > 0);
    // The real candidates arrive 2 s into the checks.
    signal(&mut net, b, a, false);
    signal(&mut net, a, b, false);
    assert!(run_connected(&mut net, a, b, Duration::from_secs(5)));
    assert_eq!(
        agent(&mut net, a).selected_pair(),
        Some((sa("10.0.0.1:5000"), sa("10.0.0.2:6000")))
    );
}

#[test]
fn checks_from_peer_before_its_candidates_learn_prflx_then_upgrade() {
    let (mut net, a, b) = setup(120);
    give_credentials(&mut net, a, b);
    give_credentials(&mut net, b, a);
    // A knows B's candidates; B does not know A's yet.
    signal(&mut net, b, a, true);
    assert!(run_connected(&mut net, a, b, Duration::from_secs(5)));
    let learned: Vec<Candidate> = agent(&mut net, b).remote_candidates().cloned().collect();
    assert_eq!(learned.len(), 1);
    assert_eq!(learned[0].kind, CandidateKind::Prflx);
    assert_eq!(learned[0].address.socket_addr(), Some(sa("10.0.0.1:5000")));
    assert_eq!(agent(&mut net, b).stats().prflx_remote_learned, 1);
    // Now A's host candidate trickles in: the prflx is upgraded in place.
    signal(&mut net, a, b, true);
    let now = net.now();
    agent(&mut net, b).handle_timeout(now);
    let after: Vec<Candidate> = agent(&mut net, b).remote_candidates().cloned().collect();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].kind, CandidateKind::Host);
    assert_eq!(agent(&mut net, b).stats().prflx_upgraded, 1);
    // Same path, still up, data flows.
    net.run_for(Duration::from_secs(1));
    assert!(agent(&mut net, b).state().is_connected());
    agent(&mut net, a).send(b"ping").unwrap();
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.node::<IceNode>(b).data, vec![b"ping".to_vec()]);
}

#[test]
fn end_of_candidates_ordering() {
    // End-of-candidates signalled right after the candidates: both reach
    // Completed once nothing is left to check.
    let (mut net, a, b) = setup(130);
    harness::ice_node::exchange(&mut net, a, b);
    assert!(agent(&mut net, a).remote_end_of_candidates_received());
    net.run_for(Duration::from_secs(3));
    assert_eq!(agent(&mut net, a).state(), IceState::Completed);
    assert_eq!(agent(&mut net, b).state(), IceState::Completed);

    // Without end-of-candidates the agents stay Connected (more may come).
    let (mut net, a, b) = setup(140);
    give_credentials(&mut net, a, b);
    give_credentials(&mut net, b, a);
    signal(&mut net, a, b, false);
    signal(&mut net, b, a, false);
    net.run_for(Duration::from_secs(3));
    assert_eq!(agent(&mut net, a).state(), IceState::Connected);
    // It arrives late: Completed follows.
    agent(&mut net, a).remote_end_of_candidates();
    agent(&mut net, b).remote_end_of_candidates();
    net.run_for(Duration::from_millis(10));
    assert_eq!(agent(&mut net, a).state(), IceState::Completed);
    assert_eq!(agent(&mut net, b).state(), IceState::Completed);

    // End-of-candidates before any candidate, with nothing to pair and no
    // peer checks arriving: Failed at once; a trickled candidate
    // afterwards restarts the checks and they connect.
    let (mut net, a, b) = setup(150);
    give_credentials(&mut net, a, b);
    give_credentials(&mut net, b, a);
    agent(&mut net, a).remote_end_of_candidates();
    net.run_for(Duration::from_millis(10));
    assert_eq!(agent(&mut net, a).state(), IceState::Failed);
    signal(&mut net, b, a, false);
    signal(&mut net, a, b, false);
    assert_eq!(agent(&mut net, a).state(), IceState::Checking);
    assert!(run_connected(&mut net, a, b, Duration::from_secs(5)));
}
