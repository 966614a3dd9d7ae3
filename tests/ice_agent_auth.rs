//! Hostile and malformed input at a live agent: dropped, counted, never
//! answered, nothing learned, state unchanged, never a panic.

mod harness;

use std::net::SocketAddr;
use std::time::Duration;

use harness::ice_node::{add_agent, agent, config, connect};
use harness::{IceNode, LinkConfig, Network, Realm};
use proptest::prelude::*;
use xp2p::ice::agent::{AgentStats, IceAgent, IceState, Received, Role};
use xp2p::stun::{Attribute, MessageBuilder, MessageType, TransactionId};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const ATTACKER: &str = "10.66.66.66:666";

struct Live {
    net: Network,
    a: usize,
    b: usize,
    local: SocketAddr,
    ufrag: String,
    pwd: String,
    peer_ufrag: String,
}

fn live() -> Live {
    let mut net = Network::new(50, LinkConfig::clean());
    let a = add_agent(
        &mut net,
        config(Role::Controlled, 51),
        &[sa("10.0.0.1:5000")],
        Realm::Public,
    );
    let b = add_agent(
        &mut net,
        config(Role::Controlling, 52),
        &[sa("10.0.0.2:6000")],
        Realm::Public,
    );
    assert!(connect(&mut net, a, b, Duration::from_secs(5)));
    let (ufrag, pwd) = {
        let (u, p) = agent(&mut net, a).local_credentials();
        (u.to_string(), p.to_string())
    };
    let peer_ufrag = agent(&mut net, b).local_credentials().0.to_string();
    Live {
        net,
        a,
        b,
        local: sa("10.0.0.1:5000"),
        ufrag,
        pwd,
        peer_ufrag,
    }
}

/// A Binding request built by hand.
fn request(
    id: TransactionId,
    username: Option<&str>,
    priority: Option<u32>,
    key: Option<&[u8]>,
    fingerprint: bool,
) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, &id).unwrap();
    if let Some(u) = username {
        b.add(&Attribute::Username(u)).unwrap();
    }
    if let Some(p) = priority {
        b.add(&Attribute::Priority(p)).unwrap();
    }
    b.add(&Attribute::IceControlling(7)).unwrap();
    if let Some(k) = key {
        b.message_integrity(k).unwrap();
    }
    if fingerprint {
        b.fingerprint().unwrap();
    }
    b.finish().to_vec()
}

/// Feeds `data` from the attacker straight into agent `a` and checks that
/// it was dropped with no reply, no new candidate and no state change.
fn inject(l: &mut Live, data: &[u8]) -> AgentStats {
    let now = l.net.now();
    let ag = agent(&mut l.net, l.a);
    while ag.poll_transmit().is_some() {}
    let before_state = ag.state();
    let before_remotes = ag.remote_candidates().count();
    let r = ag.handle_datagram(now, l.local, sa(ATTACKER), data);
    assert_eq!(r, Received::Dropped, "{data:02x?}");
    assert!(ag.poll_transmit().is_none(), "nothing answered");
    assert_eq!(ag.state(), before_state);
    assert_eq!(ag.remote_candidates().count(), before_remotes);
    assert!(ag
        .remote_candidates()
        .all(|c| c.address.socket_addr() != Some(sa(ATTACKER))));
    ag.stats()
}

#[test]
fn forged_and_malformed_stun_is_dropped_and_counted() {
    let mut l = live();
    let st0 = agent(&mut l.net, l.a).stats();
    let good_user = format!("{}:{}", l.ufrag, l.peer_ufrag);
    let pwd = l.pwd.clone();

    // No MESSAGE-INTEGRITY.
    let st = inject(
        &mut l,
        &request([1; 12], Some(&good_user), Some(1), None, true),
    );
    assert_eq!(st.dropped_unauthenticated, st0.dropped_unauthenticated + 1);
    // Wrong password.
    let wrong = b"wrong-password-0123456789".as_slice();
    let st = inject(
        &mut l,
        &request([2; 12], Some(&good_user), Some(1), Some(wrong), true),
    );
    assert_eq!(st.dropped_unauthenticated, st0.dropped_unauthenticated + 2);
    // Wrong ufrag, right password.
    let st = inject(
        &mut l,
        &request(
            [3; 12],
            Some("nobody:x"),
            Some(1),
            Some(pwd.as_bytes()),
            true,
        ),
    );
    assert_eq!(st.dropped_unauthenticated, st0.dropped_unauthenticated + 3);
    // No USERNAME.
    let st = inject(
        &mut l,
        &request([4; 12], None, Some(1), Some(pwd.as_bytes()), true),
    );
    assert_eq!(st.dropped_unauthenticated, st0.dropped_unauthenticated + 4);
    // No FINGERPRINT.
    let st = inject(
        &mut l,
        &request(
            [5; 12],
            Some(&good_user),
            Some(1),
            Some(pwd.as_bytes()),
            false,
        ),
    );
    assert_eq!(st.dropped_unauthenticated, st0.dropped_unauthenticated + 5);
    // Corrupted after signing: integrity and fingerprint break.
    let mut bad = request(
        [6; 12],
        Some(&good_user),
        Some(1),
        Some(pwd.as_bytes()),
        true,
    );
    bad[25] ^= 0x20;
    let st = inject(&mut l, &bad);
    assert_eq!(st.dropped_unauthenticated, st0.dropped_unauthenticated + 6);
    // Authenticated but without PRIORITY: malformed.
    let st = inject(
        &mut l,
        &request([7; 12], Some(&good_user), None, Some(pwd.as_bytes()), true),
    );
    assert_eq!(st.dropped_malformed, st0.dropped_malformed + 1);
    // Not STUN at all in the STUN range; truncated; trailing garbage.
    let good = request(
        [8; 12],
        Some(&good_user),
        Some(1),
        Some(pwd.as_bytes()),
        true,
    );
    let st = inject(&mut l, &[0, 1, 0, 0]);
    assert_eq!(st.dropped_malformed, st0.dropped_malformed + 2);
    let st = inject(&mut l, &good[..good.len() - 3]);
    assert_eq!(st.dropped_malformed, st0.dropped_malformed + 3);
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0; 4]);
    let st = inject(&mut l, &trailing);
    assert_eq!(st.dropped_malformed, st0.dropped_malformed + 4);
    let st = inject(&mut l, &[]);
    assert_eq!(st.dropped_malformed, st0.dropped_malformed + 5);
    // A response nobody asked for.
    let mut buf = [0u8; 128];
    let mut m = MessageBuilder::new(&mut buf, MessageType::BINDING_RESPONSE, &[9; 12]).unwrap();
    m.add(&Attribute::XorMappedAddress(sa(ATTACKER))).unwrap();
    m.fingerprint().unwrap();
    let st = inject(&mut l, m.finish());
    assert_eq!(st.dropped_unmatched, st0.dropped_unmatched + 1);
    // DTLS and data from an address that never authenticated.
    let st = inject(&mut l, &[22, 254, 253, 0, 0]);
    assert_eq!(st.dropped_unknown_source, st0.dropped_unknown_source + 1);
    let st = inject(&mut l, b"hello");
    assert_eq!(st.dropped_unknown_source, st0.dropped_unknown_source + 2);
    // Nothing answered: the only requests answered are the peer's.
    assert_eq!(st.requests_answered, st0.requests_answered);

    // The same valid request from the attacker *is* authenticated (it
    // knows the password): answered and learned. This proves the drops
    // above were for the forgery, not for the source.
    let now = l.net.now();
    let ag = agent(&mut l.net, l.a);
    let r = ag.handle_datagram(now, l.local, sa(ATTACKER), &good);
    assert_eq!(r, Received::Consumed);
    assert!(ag.poll_transmit().is_some());
    assert!(ag
        .remote_candidates()
        .any(|c| c.address.socket_addr() == Some(sa(ATTACKER))));

    // The connection is unaffected.
    assert!(agent(&mut l.net, l.a).state().is_connected());
    agent(&mut l.net, l.b).send(b"still here").unwrap();
    l.net.run_for(Duration::from_millis(100));
    assert_eq!(
        net_data(&mut l.net, l.a).last().map(Vec::as_slice),
        Some(&b"still here"[..])
    );
}

fn net_data(net: &mut Network, id: usize) -> Vec<Vec<u8>> {
    net.node::<IceNode>(id).data.clone()
}

#[test]
fn forged_response_to_a_real_check_is_dropped() {
    // An agent checking an unreachable remote: a response with the right
    // transaction id but the wrong key does not make the pair valid.
    let mut net = Network::new(60, LinkConfig::clean());
    let a = add_agent(
        &mut net,
        config(Role::Controlling, 61),
        &[sa("10.0.0.1:5000")],
        Realm::Public,
    );
    let now = net.now();
    let remote = sa("10.9.9.9:1000");
    let ag = agent(&mut net, a);
    ag.set_remote_credentials("ruf1", "remote-password-0123456789");
    ag.add_remote_candidate(now, xp2p::ice::Candidate::host(remote, 1, 65535))
        .unwrap();
    let check = ag.poll_transmit().expect("a check");
    let id = *xp2p::stun::Message::parse(&check.data)
        .unwrap()
        .transaction_id();
    let mut buf = [0u8; 128];
    let mut m = MessageBuilder::new(&mut buf, MessageType::BINDING_RESPONSE, &id).unwrap();
    m.add(&Attribute::XorMappedAddress(check.local)).unwrap();
    m.message_integrity(b"not-the-remote-password!!").unwrap();
    m.fingerprint().unwrap();
    let forged = m.finish().to_vec();
    let r = ag.handle_datagram(now, check.local, remote, &forged);
    assert_eq!(r, Received::Dropped);
    assert_eq!(ag.stats().dropped_unauthenticated, 1);
    assert_eq!(ag.state(), IceState::Checking);
    assert!(ag.selected_pair().is_none());
    // The genuine answer, keyed with the remote password, still works.
    let mut buf = [0u8; 128];
    let mut m = MessageBuilder::new(&mut buf, MessageType::BINDING_RESPONSE, &id).unwrap();
    m.add(&Attribute::XorMappedAddress(check.local)).unwrap();
    m.message_integrity(b"remote-password-0123456789").unwrap();
    m.fingerprint().unwrap();
    let genuine = m.finish().to_vec();
    assert_eq!(
        ag.handle_datagram(now, check.local, remote, &genuine),
        Received::Consumed
    );
    // Regular nomination follows: the pair is re-checked with USE-CANDIDATE.
    net.run_for(Duration::from_millis(100));
    let nomination = net
        .log
        .iter()
        .filter_map(|e| {
            xp2p::stun::Message::parse(&e.data)
                .ok()
                .map(|m| m.get(xp2p::stun::attr_type::USE_CANDIDATE).is_some())
        })
        .any(|x| x);
    assert!(nomination);
}

fn fresh_agent() -> (IceAgent, std::time::Instant) {
    let now = harness::net::base_instant();
    let mut ag = IceAgent::new(config(Role::Controlled, 70), now).unwrap();
    ag.add_host_candidate(sa("10.0.0.1:5000"));
    ag.set_remote_credentials("ruf1", "remote-password-0123456789");
    ag.add_remote_candidate(
        now,
        xp2p::ice::Candidate::host(sa("10.0.0.2:6000"), 1, 65535),
    )
    .unwrap();
    while ag.poll_transmit().is_some() {}
    (ag, now)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), stunish in any::<bool>()) {
        let (mut ag, now) = fresh_agent();
        let mut data = data;
        if stunish && data.len() >= 20 {
            // A plausible STUN header: cookie and a matching length.
            data[0] &= 0x01;
            data[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
            let len = (data.len() - 20) as u16 & !3;
            data.truncate(20 + len as usize);
            data[2..4].copy_from_slice(&len.to_be_bytes());
        }
        let r = ag.handle_datagram(now, sa("10.0.0.1:5000"), sa(ATTACKER), &data);
        prop_assert!(r != Received::Consumed || data.first().is_some_and(|b| *b < 4));
        prop_assert!(ag.remote_candidates().all(|c| c.address.socket_addr() != Some(sa(ATTACKER))));
        prop_assert!(ag.poll_transmit().is_none());
        ag.handle_timeout(now + Duration::from_secs(1));
    }
}

/// Authenticated checks from ever new addresses (a peer that knows the
/// password, or a flood through its path) teach at most
/// `MAX_REMOTE_CANDIDATES` peer-reflexive candidates; later ones are still
/// answered, and counted, but learn nothing.
#[test]
fn learned_peer_reflexive_candidates_are_bounded() {
    use xp2p::ice::agent::MAX_REMOTE_CANDIDATES;
    let (mut ag, now) = fresh_agent();
    let (ufrag, pwd) = {
        let (u, p) = ag.local_credentials();
        (u.to_string(), p.to_string())
    };
    let before = ag.remote_candidates().count();
    let extra = 50;
    for i in 0..MAX_REMOTE_CANDIDATES + extra {
        let id = [
            (i % 256) as u8,
            (i / 256) as u8,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
        ];
        let req = request(
            id,
            Some(&format!("{ufrag}:ruf1")),
            Some(1_853_824_767),
            Some(pwd.as_bytes()),
            true,
        );
        let from = SocketAddr::new(
            std::net::Ipv4Addr::new(10, 9, (i / 250) as u8, (i % 250) as u8 + 1).into(),
            7000,
        );
        let r = ag.handle_datagram(now, sa("10.0.0.1:5000"), from, &req);
        assert_eq!(r, Received::Consumed);
        // Every authenticated request is answered.
        assert!(std::iter::from_fn(|| ag.poll_transmit()).any(|t| t.dest == from));
    }
    assert_eq!(
        ag.remote_candidates().count(),
        before + MAX_REMOTE_CANDIDATES
    );
    let stats = ag.stats();
    assert_eq!(stats.prflx_remote_learned, MAX_REMOTE_CANDIDATES as u64);
    assert_eq!(stats.prflx_remote_refused, extra as u64);
}
