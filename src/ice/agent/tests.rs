//! Unit tests of the agent's credentials, gathering and pacing.

use super::*;

fn t0() -> Instant {
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

fn agent(seed: u64) -> IceAgent {
    IceAgent::new(
        AgentConfig {
            rng_seed: Some(seed),
            ..AgentConfig::default()
        },
        t0(),
    )
    .unwrap()
}

#[test]
fn generated_credentials_have_the_c_shape() {
    let a = agent(1);
    let (u, p) = a.local_credentials();
    assert_eq!(u.len(), 8);
    assert_eq!(p.len(), 24);
    assert!(valid_ice_string(u, 4) && valid_ice_string(p, 22));
    let b = agent(1);
    assert_eq!(a.local_credentials(), b.local_credentials());
    assert_eq!(a.tie_breaker(), b.tie_breaker());
    assert_ne!(agent(2).tie_breaker(), a.tie_breaker());
}

#[test]
fn given_credentials_are_checked() {
    let bad = AgentConfig {
        ufrag: Some("a:b!".into()),
        ..AgentConfig::default()
    };
    assert_eq!(
        IceAgent::new(bad, t0()).err(),
        Some(IceError::InvalidField("ufrag"))
    );
    let short = AgentConfig {
        pwd: Some("short".into()),
        ..AgentConfig::default()
    };
    assert_eq!(
        IceAgent::new(short, t0()).err(),
        Some(IceError::InvalidField("pwd"))
    );
}

#[test]
fn host_candidates_and_gathering_without_servers() {
    let now = t0();
    let mut a = agent(3);
    let c1 = a.add_host_candidate("10.0.0.1:5000".parse().unwrap());
    let c2 = a.add_host_candidate("10.0.0.2:5000".parse().unwrap());
    assert_eq!(c1.priority, CandidateKind::Host.priority(65535, 1));
    assert_eq!(c2.priority, CandidateKind::Host.priority(65534, 1));
    a.gather(now).unwrap();
    assert_eq!(a.gather(now), Err(IceError::InvalidState));
    let evs: Vec<IceEvent> = std::iter::from_fn(|| a.poll_event()).collect();
    assert_eq!(
        evs,
        vec![
            IceEvent::StateChanged(IceState::Gathering),
            IceEvent::LocalCandidate(c1),
            IceEvent::LocalCandidate(c2),
            IceEvent::GatheringComplete,
        ]
    );
    assert_eq!(a.state(), IceState::Gathering);
    assert!(a.send(b"x").is_err());
}

#[test]
fn gathering_waits_for_servers_being_resolved() {
    let now = t0();
    let mut a = agent(5);
    a.add_host_candidate("10.0.0.1:5000".parse().unwrap());
    a.expect_stun_servers();
    a.gather(now).unwrap();
    while a.poll_transmit().is_some() {}
    let evs: Vec<IceEvent> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(!evs.contains(&IceEvent::GatheringComplete), "{evs:?}");

    let server: SocketAddr = "192.0.2.7:3478".parse().unwrap();
    a.add_stun_servers(now, &[server]);
    let mut t = now;
    let mut to_server = 0;
    for _ in 0..10 {
        while let Some(tx) = a.poll_transmit() {
            to_server += usize::from(tx.dest == server);
        }
        if to_server > 0 {
            break;
        }
        t += Duration::from_millis(50);
        a.handle_timeout(t);
    }
    assert!(
        to_server > 0,
        "a Binding request goes to the resolved server"
    );

    // A failed resolution (no servers) completes gathering at once.
    let mut b = agent(6);
    b.add_host_candidate("10.0.0.1:5000".parse().unwrap());
    b.expect_stun_servers();
    b.gather(now).unwrap();
    b.add_stun_servers(now, &[]);
    let evs: Vec<IceEvent> = std::iter::from_fn(|| b.poll_event()).collect();
    assert_eq!(evs.last(), Some(&IceEvent::GatheringComplete));
}

#[test]
fn remote_candidates_checked_for_support() {
    let now = t0();
    let mut a = agent(4);
    let mdns = Candidate::parse("candidate:1 1 udp 2122260223 abc.local 5000 typ host").unwrap();
    assert!(matches!(
        a.add_remote_candidate(now, mdns),
        Err(IceError::Unsupported(_))
    ));
    let tcp = Candidate::parse("candidate:1 1 tcp 2122260223 10.0.0.9 9 typ host tcptype active")
        .unwrap();
    assert!(matches!(
        a.add_remote_candidate(now, tcp),
        Err(IceError::Unsupported(_))
    ));
}

#[test]
fn checks_are_paced_and_authenticated() {
    let now = t0();
    let mut a = agent(5);
    a.add_host_candidate("10.0.0.1:5000".parse().unwrap());
    a.set_remote_credentials("RUFR", "remote-password-0123456789");
    for port in [6000, 6001, 6002] {
        // Distinct addresses: distinct foundations, so none is frozen.
        let ip = [10, 0, 0, (port - 5990) as u8];
        let c = Candidate::host(SocketAddr::from((ip, port)), 1, 65535 - port);
        a.add_remote_candidate(now, c).unwrap();
    }
    assert_eq!(a.state(), IceState::Checking);
    let first = a.poll_transmit().expect("a check at once");
    assert!(a.poll_transmit().is_none(), "one new check per Ta");
    assert_eq!(a.next_timer().map(|t| t.0), Some(Timer::Pacing));
    let msg = Message::parse(&first.data).unwrap();
    assert!(msg.verify_integrity(b"remote-password-0123456789").is_ok());
    assert!(msg.verify_fingerprint().is_ok());
    a.handle_timeout(now + Duration::from_millis(49));
    assert!(a.poll_transmit().is_none());
    a.handle_timeout(now + Duration::from_millis(50));
    assert!(a.poll_transmit().is_some());
}
