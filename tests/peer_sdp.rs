//! PeerConnection offer/answer without a network: the SDP it writes, the
//! roles it derives, and the descriptions and candidates it refuses.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use xp2p::dtls::DtlsRole;
use xp2p::peer::{PeerConfig, PeerConnection, PeerError, PeerEvent, PeerState};
use xp2p::sdp::{SessionDescription, Setup};

fn now() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    #[allow(clippy::disallowed_methods)] // a fixed base; no timing is measured
    *BASE.get_or_init(Instant::now)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn peer(seed: u64, host: &str) -> PeerConnection {
    let cfg = PeerConfig {
        rng_seed: Some(seed),
        ..PeerConfig::default()
    };
    let mut pc = PeerConnection::new(cfg, now()).unwrap();
    pc.add_host_candidate(addr(host));
    pc
}

fn events(pc: &mut PeerConnection) -> Vec<PeerEvent> {
    std::iter::from_fn(|| pc.poll_event()).collect()
}

#[test]
fn offer_has_the_webrtc_layout() {
    let mut a = peer(1, "10.0.0.1:4000");
    assert_eq!(a.state(), PeerState::New);
    let offer = a.create_offer(now()).unwrap();
    let lines: Vec<&str> = offer.split("\r\n").collect();
    let (ufrag, pwd) = a.ice().local_credentials();
    let fp = a.local_fingerprint();
    assert!(fp.starts_with("sha-256 "));
    assert_eq!(fp.len(), "sha-256 ".len() + 95);
    assert_eq!(fp, fp.to_uppercase().replace("SHA-256", "sha-256"));
    let expected_head = [
        "v=0".to_string(),
        "o=- 0 0 IN IP4 0.0.0.0".into(),
        "s=-".into(),
        "t=0 0".into(),
        "a=group:BUNDLE 0".into(),
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel".into(),
        "c=IN IP4 0.0.0.0".into(),
        "a=mid:0".into(),
        format!("a=ice-ufrag:{ufrag}"),
        format!("a=ice-pwd:{pwd}"),
        format!("a=fingerprint:{fp}"),
        "a=setup:actpass".into(),
        "a=sctp-port:5000".into(),
        "a=max-message-size:262144".into(),
        "a=ice-options:trickle".into(),
    ];
    assert_eq!(&lines[..expected_head.len()], &expected_head[..]);
    assert!(lines[expected_head.len()].starts_with("a=candidate:"));
    assert!(lines[expected_head.len()].contains("10.0.0.1 4000 typ host"));
    assert!(offer.ends_with("\r\n"));

    // Gathering started: the host candidate and end-of-candidates (no
    // STUN server) are reported as trickle events.
    let ev = events(&mut a);
    let cand_line = format!("{}\r\n", lines[expected_head.len()]);
    assert!(
        ev.contains(&PeerEvent::IceCandidate(Some(cand_line))),
        "{ev:?}"
    );
    assert!(ev.contains(&PeerEvent::IceCandidate(None)), "{ev:?}");

    // A second offer is the same description, and gathering stays started.
    assert_eq!(a.create_offer(now()).unwrap(), offer);
    a.set_local_description(now(), &offer).unwrap();
    a.gather(now()).unwrap();
}

#[test]
fn custom_port_and_message_size_are_advertised() {
    let cfg = PeerConfig {
        sctp_port: 5123,
        max_message_size: 100_000,
        rng_seed: Some(3),
        ..PeerConfig::default()
    };
    let mut a = PeerConnection::new(cfg, now()).unwrap();
    let offer = a.create_offer(now()).unwrap();
    let d = SessionDescription::decode(&offer).unwrap();
    assert_eq!(d.sctp_port, Some(5123));
    assert_eq!(d.max_message_size, Some(100_000));
    assert!(d.is_webrtc);
    assert_eq!(d.mid.as_deref(), Some("0"));

    let zero = PeerConfig {
        sctp_port: 0,
        max_message_size: 0,
        ..PeerConfig::default()
    };
    let mut z = PeerConnection::new(zero, now()).unwrap();
    let d = SessionDescription::decode(&z.create_offer(now()).unwrap()).unwrap();
    assert_eq!(d.sctp_port, Some(5000));
    assert_eq!(d.max_message_size, Some(262_144));
}

#[test]
fn answer_takes_the_client_role_unless_the_offer_is_active() {
    let mut a = peer(1, "10.0.0.1:4000");
    let mut b = peer(2, "10.0.0.2:4000");
    let offer = a.create_offer(now()).unwrap();
    assert!(b.create_answer(now()).is_err(), "no remote offer yet");
    b.set_remote_description(now(), &offer).unwrap();
    assert_eq!(b.dtls_role(), Some(DtlsRole::Client));
    assert!(!b.ice().role().is_controlling());
    let answer = b.create_answer(now()).unwrap();
    let d = SessionDescription::decode(&answer).unwrap();
    assert_eq!(d.setup, Some(Setup::Active));
    assert_eq!(d.fingerprint().unwrap().text, b.local_fingerprint());
    a.set_remote_description(now(), &answer).unwrap();
    assert_eq!(a.dtls_role(), Some(DtlsRole::Server));
    assert!(a.ice().role().is_controlling());
    // Both have a host candidate and the remote credentials: checks run.
    assert_eq!(a.state(), PeerState::Connecting);
    assert!(a.poll_transmit().is_some());

    // No renegotiation, no offer from the answerer.
    assert!(matches!(
        a.set_remote_description(now(), &answer),
        Err(PeerError::InvalidState(_))
    ));
    assert!(matches!(
        b.create_offer(now()),
        Err(PeerError::InvalidState(_))
    ));

    // An offer that says active makes the answerer passive (server).
    let mut c = peer(4, "10.0.0.3:4000");
    let active_offer = offer.replace("a=setup:actpass", "a=setup:active");
    c.set_remote_description(now(), &active_offer).unwrap();
    assert_eq!(c.dtls_role(), Some(DtlsRole::Server));
    let d = SessionDescription::decode(&c.create_answer(now()).unwrap()).unwrap();
    assert_eq!(d.setup, Some(Setup::Passive));

    // An offerer whose answer says passive is the client.
    let mut e = peer(5, "10.0.0.4:4000");
    e.create_offer(now()).unwrap();
    let passive = answer.replace("a=setup:active", "a=setup:passive");
    e.set_remote_description(now(), &passive).unwrap();
    assert_eq!(e.dtls_role(), Some(DtlsRole::Client));
}

#[test]
fn bad_descriptions_are_refused() {
    let mut a = peer(1, "10.0.0.1:4000");
    let offer = a.create_offer(now()).unwrap();
    let fp_line = format!("a=fingerprint:{}\r\n", a.local_fingerprint());

    let cases: Vec<(&str, String)> = vec![
        ("garbage", "this is not sdp".into()),
        ("empty", String::new()),
        ("no fingerprint", offer.replace(&fp_line, "")),
        (
            "sha-1 only",
            offer.replace(
                &fp_line,
                "a=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\r\n",
            ),
        ),
        (
            "short sha-256",
            offer.replace(&fp_line, "a=fingerprint:sha-256 00:11:22\r\n"),
        ),
        (
            "no ufrag",
            offer
                .lines()
                .filter(|l| !l.starts_with("a=ice-ufrag"))
                .map(|l| format!("{l}\r\n"))
                .collect(),
        ),
        (
            "ice-only",
            "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/ICE 0\r\n\
             c=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
                .into(),
        ),
    ];
    for (what, sdp) in cases {
        let mut b = peer(2, "10.0.0.2:4000");
        let r = b.set_remote_description(now(), &sdp);
        assert!(r.is_err(), "{what}: accepted");
        // Nothing was applied: a good offer still works afterwards.
        b.set_remote_description(now(), &offer)
            .unwrap_or_else(|e| panic!("{what}: good offer refused after bad one: {e}"));
    }
}

#[test]
fn remote_candidates_in_every_form() {
    let mut a = peer(1, "10.0.0.1:4000");
    let mut b = peer(2, "10.0.0.2:4000");
    let offer = a.create_offer(now()).unwrap();
    b.set_remote_description(now(), &offer).unwrap();
    let line = "candidate:1 1 UDP 2130706431 10.0.0.9 5000 typ host";
    b.add_remote_candidate(now(), &format!("a={line}\r\n"))
        .unwrap();
    b.add_remote_candidate(now(), line).unwrap();
    b.add_remote_candidate(now(), "2 1 UDP 2130706430 10.0.0.9 5001 typ host")
        .unwrap();
    // TCP candidates are skipped, not errors.
    b.add_remote_candidate(
        now(),
        "candidate:3 1 TCP 2105524479 10.0.0.9 9 typ host tcptype active",
    )
    .unwrap();
    assert!(b.add_remote_candidate(now(), "candidate:garbage").is_err());
    assert!(b
        .add_remote_candidate(now(), "a=candidate:1 1 UDP")
        .is_err());
    b.add_remote_candidate(now(), "a=end-of-candidates")
        .unwrap();
    b.add_remote_candidate(now(), "").unwrap();
    assert!(b.ice().remote_end_of_candidates_received());
    let remotes: Vec<_> = b
        .ice()
        .remote_candidates()
        .map(|c| c.address.port())
        .collect();
    assert!(
        remotes.contains(&5000) && remotes.contains(&5001),
        "{remotes:?}"
    );
}

#[test]
fn closed_connection_refuses_calls() {
    let mut a = peer(1, "10.0.0.1:4000");
    let offer = a.create_offer(now()).unwrap();
    a.close();
    assert_eq!(a.state(), PeerState::Closed);
    let ev = events(&mut a);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, PeerEvent::StateChanged(_)))
            .collect::<Vec<_>>(),
        vec![&PeerEvent::StateChanged(PeerState::Closed)]
    );
    assert!(a.create_offer(now()).is_err());
    assert!(a.set_remote_description(now(), &offer).is_err());
    assert!(a
        .create_data_channel(xp2p::channel::ChannelConfig::new("x"))
        .is_err());
    assert_eq!(a.poll_timeout(), None);
    a.close();
    assert!(a.poll_event().is_none());
}

#[test]
fn state_codes_match_the_c_enum() {
    let all = [
        PeerState::New,
        PeerState::Connecting,
        PeerState::Connected,
        PeerState::Disconnected,
        PeerState::Failed,
        PeerState::Closed,
    ];
    for (i, s) in all.iter().enumerate() {
        assert_eq!(s.code(), i as i32);
    }
}
