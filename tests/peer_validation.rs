//! Signaling input validated as browsers validate it, through the sans-IO
//! PeerConnection and ICE agent: credentials, ports, max-message-size,
//! candidates that can never work, the remote-candidate bound, the 64
//! channel limit and the offer/answer state machine (RFC 8829). Every
//! refusal leaves the connection able to go on, and the real captures in
//! `tests/fixtures/sdp/` are still accepted.

mod harness;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use harness::{LinkConfig, Network, PeerNode, Realm};
use xp2p::channel::{ChannelConfig, ChannelError, MessageKind};
use xp2p::ice::agent::{AgentConfig, IceAgent, MAX_REMOTE_CANDIDATES};
use xp2p::ice::{Candidate, IceError};
use xp2p::peer::{PeerConfig, PeerConnection, PeerError, PeerEvent, PeerState};
use xp2p::sdp::{SessionDescription, Setup};

/// usrsctp's timer wheel is process-wide and follows the latest `now` an
/// association gave it: the tests that connect run one at a time, each on a
/// virtual clock that starts after the previous one ended.
static CLOCK: Mutex<Option<Instant>> = Mutex::new(None);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn now() -> Instant {
    harness::net::base_instant()
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

/// An offer from a fresh offerer, and a PeerConnection that applies it.
fn offer() -> String {
    peer(90, "10.0.0.90:4000").create_offer(now()).unwrap()
}

/// Replaces the value of attribute `name` (every occurrence).
fn with_attr(sdp: &str, name: &str, value: &str) -> String {
    let prefix = format!("a={name}:");
    sdp.split_inclusive("\r\n")
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{prefix}{value}\r\n")
            } else {
                l.to_string()
            }
        })
        .collect()
}

fn refused_as_invalid(sdp: &str) -> bool {
    let mut b = peer(2, "10.0.0.2:4000");
    let r = b.set_remote_description(now(), sdp);
    let refused = matches!(r, Err(PeerError::InvalidDescription(_)));
    // Nothing was applied: the untouched offer still works afterwards.
    b.set_remote_description(now(), &offer())
        .expect("a good offer after a refused one");
    refused
}

fn accepted(sdp: &str) -> bool {
    peer(2, "10.0.0.2:4000")
        .set_remote_description(now(), sdp)
        .is_ok()
}

#[test]
fn real_captures_are_accepted_in_their_role() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sdp");
    let mut checked = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "sdp") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        let Ok(d) = SessionDescription::decode(&text) else {
            continue; // the fixtures that must be refused say so in .expect
        };
        if !d.is_webrtc {
            continue;
        }
        assert!(d.invalid_attributes.is_empty(), "{path:?}");
        let mut pc = peer(3, "10.0.0.3:4000");
        if d.setup != Some(Setup::Actpass) {
            pc.create_offer(now()).unwrap(); // an answer needs our offer
        }
        pc.set_remote_description(now(), &text)
            .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let usable = d
            .candidates
            .iter()
            .filter(|c| !c.address.is_mdns() && c.address.unreachable_reason().is_none())
            .count();
        assert_eq!(pc.ice().remote_candidates().count(), usable, "{path:?}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} WebRTC fixtures");
}

#[test]
fn ice_credentials_must_be_legal() {
    let o = offer();
    for ufrag in ["abc", "ab:cd", "abc!", "abc d", "ü123", &"u".repeat(257)] {
        assert!(
            refused_as_invalid(&with_attr(&o, "ice-ufrag", ufrag)),
            "ufrag {ufrag:?} accepted"
        );
    }
    for pwd in [
        "abcdefghijklmnopqrstu",       // 21
        "abcdefghijklmnopqrstu=",      // illegal char
        "abcdefghijklmnopqrst:v",      // illegal char
        "abcdefghijklmnopqrs\u{a0}uv", // illegal char
        &"p".repeat(257),
    ] {
        assert!(
            refused_as_invalid(&with_attr(&o, "ice-pwd", pwd)),
            "pwd {pwd:?} accepted"
        );
    }
    // The bounds themselves, and every ice-char.
    assert!(accepted(&with_attr(&o, "ice-ufrag", "a+/9")));
    assert!(accepted(&with_attr(&o, "ice-ufrag", &"u".repeat(256))));
    assert!(accepted(&with_attr(
        &o,
        "ice-pwd",
        "ABCDEFGHIJKLMNOPQRST+/"
    )));
    assert!(accepted(&with_attr(&o, "ice-pwd", &"p".repeat(256))));
}

#[test]
fn sctp_port_and_max_message_size_must_be_legal() {
    let o = offer();
    for port in ["0", "70000", "65536", "-1", "x"] {
        assert!(
            refused_as_invalid(&with_attr(&o, "sctp-port", port)),
            "sctp-port {port} accepted"
        );
    }
    for mms in ["-1", "-65536", "abc", "1.5", ""] {
        assert!(
            refused_as_invalid(&with_attr(&o, "max-message-size", mms)),
            "max-message-size {mms:?} accepted"
        );
    }
    assert!(accepted(&with_attr(&o, "sctp-port", "1")));
    assert!(accepted(&with_attr(&o, "sctp-port", "65535")));
    // 0 is "no limit" (RFC 8841 §6), not "use the default".
    let mut b = peer(2, "10.0.0.2:4000");
    b.set_remote_description(now(), &with_attr(&o, "max-message-size", "0"))
        .unwrap();
    assert_eq!(b.channels().remote_max_message_size(), 0);
    let mut c = peer(2, "10.0.0.2:4000");
    c.set_remote_description(now(), &with_attr(&o, "max-message-size", "100000"))
        .unwrap();
    assert_eq!(c.channels().remote_max_message_size(), 100_000);
}

const NEVER_WORK: [&str; 10] = [
    "candidate:1 1 UDP 2130706431 0.0.0.0 5000 typ host",
    "candidate:1 1 UDP 2130706431 :: 5000 typ host",
    "candidate:1 1 UDP 2130706431 255.255.255.255 5000 typ host",
    "candidate:1 1 UDP 2130706431 224.0.0.251 5353 typ host",
    "candidate:1 1 UDP 2130706431 239.1.2.3 5000 typ host",
    "candidate:1 1 UDP 2130706431 ff02::1 5000 typ host",
    "candidate:1 1 UDP 2130706431 ::ffff:224.0.0.1 5000 typ host",
    "candidate:1 1 UDP 2130706431 ::ffff:0.0.0.0 5000 typ host",
    "candidate:1 1 UDP 2130706431 10.0.0.9 0 typ host",
    "candidate:1 1 UDP 2130706431 9b36eaac-bb2e-49bb-bb78-21c41c499900.local 0 typ host",
];

#[test]
fn candidates_that_can_never_work_are_refused() {
    let o = offer();
    let mut b = peer(2, "10.0.0.2:4000");
    b.set_remote_description(now(), &o).unwrap();
    let before = b.ice().remote_candidates().count();
    for line in NEVER_WORK {
        let r = b.add_remote_candidate(now(), line);
        assert!(
            matches!(r, Err(PeerError::Ice(IceError::InvalidField(_)))),
            "{line}: {r:?}"
        );
    }
    assert_eq!(b.ice().remote_candidates().count(), before);
    assert_eq!(b.mdns_pending(), 0);
    // What upstream's AddRemoteCandidateWorks uses still works, and so do
    // private, public and link-local addresses.
    for line in [
        "candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host",
        "candidate:2 1 UDP 2130706431 192.168.1.20 1 typ host",
        "candidate:3 1 UDP 1694498815 203.0.113.7 65535 typ srflx raddr 0.0.0.0 rport 0",
        "candidate:4 1 UDP 2130706431 fe80::1 5000 typ host",
    ] {
        b.add_remote_candidate(now(), line)
            .unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    assert_eq!(b.ice().remote_candidates().count(), before + 4);

    // Inside a description they are skipped; the description is taken.
    let mut with_bad = o.clone();
    for line in NEVER_WORK {
        with_bad.push_str(&format!("a={line}\r\n"));
    }
    let mut c = peer(3, "10.0.0.3:4000");
    c.set_remote_description(now(), &with_bad).unwrap();
    assert_eq!(c.ice().remote_candidates().count(), before);
    assert_eq!(c.mdns_pending(), 0);
}

#[test]
fn the_ice_agent_refuses_them_too() {
    let mut agent = IceAgent::new(AgentConfig::default(), now()).unwrap();
    for line in NEVER_WORK.iter().filter(|l| !l.contains(".local")) {
        let r = agent.add_remote_candidate(now(), Candidate::parse(line).unwrap());
        assert!(matches!(r, Err(IceError::InvalidField(_))), "{line}: {r:?}");
    }
    let ok = Candidate::parse("candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host").unwrap();
    agent.add_remote_candidate(now(), ok).unwrap();
    assert_eq!(agent.remote_candidates().count(), 1);
}

fn nth_candidate(i: usize) -> String {
    format!(
        "candidate:{i} 1 UDP 2130706431 10.{}.{}.{} 5000 typ host",
        i / 62500 % 250,
        i / 250 % 250,
        i % 250 + 1
    )
}

#[test]
fn remote_candidates_are_bounded() {
    let mut agent = IceAgent::new(AgentConfig::default(), now()).unwrap();
    agent.add_host_candidate(addr("10.255.0.1:4000"));
    for i in 0..MAX_REMOTE_CANDIDATES {
        let c = Candidate::parse(&nth_candidate(i)).unwrap();
        agent.add_remote_candidate(now(), c).unwrap();
    }
    let one_more = Candidate::parse(&nth_candidate(MAX_REMOTE_CANDIDATES)).unwrap();
    assert_eq!(
        agent.add_remote_candidate(now(), one_more),
        Err(IceError::Limit("remote candidates"))
    );
    // A candidate already known is not a new one: still fine.
    let again = Candidate::parse(&nth_candidate(7)).unwrap();
    agent.add_remote_candidate(now(), again).unwrap();
    assert_eq!(agent.remote_candidates().count(), MAX_REMOTE_CANDIDATES);

    // Through the PeerConnection: the same bound, and a flood of adds is
    // refused without growing anything.
    let mut b = peer(2, "10.0.0.2:4000");
    let o = offer();
    b.set_remote_description(now(), &o).unwrap();
    let from_offer = b.ice().remote_candidates().count();
    let mut refused = 0;
    for i in 0..10 * MAX_REMOTE_CANDIDATES {
        match b.add_remote_candidate(now(), &nth_candidate(i)) {
            Ok(()) => {}
            Err(PeerError::Ice(IceError::Limit(_))) => refused += 1,
            Err(e) => panic!("{i}: {e}"),
        }
    }
    assert_eq!(b.ice().remote_candidates().count(), MAX_REMOTE_CANDIDATES);
    assert_eq!(
        refused,
        10 * MAX_REMOTE_CANDIDATES - (MAX_REMOTE_CANDIDATES - from_offer)
    );
    // mDNS names waiting for their lookup are bounded as well.
    for i in 0..2 * MAX_REMOTE_CANDIDATES {
        let line = format!("candidate:{i} 1 UDP 2130706431 n{i}.local 5000 typ host");
        let _ = b.add_remote_candidate(now(), &line);
    }
    assert_eq!(b.mdns_pending(), MAX_REMOTE_CANDIDATES);
}

#[test]
fn sixty_four_channels_at_most() {
    let mut a = peer(1, "10.0.0.1:4000");
    for i in 0..64 {
        a.create_data_channel(ChannelConfig::new(format!("c{i}")))
            .unwrap();
    }
    assert_eq!(
        a.create_data_channel(ChannelConfig::new("c64")),
        Err(PeerError::Channel(ChannelError::TooManyChannels))
    );
    assert_eq!(a.channels().limits().max_channels, 64);
}

/// Two PeerConnections on the virtual clock of the harness.
struct Setup2 {
    net: Network,
    a: harness::NodeId,
    b: harness::NodeId,
    clock: parking_lot::MutexGuard<'static, Option<Instant>>,
}

impl Drop for Setup2 {
    fn drop(&mut self) {
        *self.clock = Some(self.net.now() + Duration::from_secs(1));
    }
}

fn two_peers(seed: u64) -> Setup2 {
    let clock = CLOCK.lock();
    let start = clock.unwrap_or_else(harness::net::base_instant);
    let mut net = Network::starting_at(seed, LinkConfig::clean(), start);
    let now = net.now();
    let cfg = |s| PeerConfig {
        rng_seed: Some(s),
        ..PeerConfig::default()
    };
    let (aa, ba) = (addr("10.0.0.1:40000"), addr("10.0.0.2:40000"));
    let a = net.add_node(PeerNode::new(cfg(seed), aa, now), &[aa], Realm::Public);
    let b = net.add_node(PeerNode::new(cfg(seed + 1), ba, now), &[ba], Realm::Public);
    Setup2 { net, a, b, clock }
}

#[test]
fn offer_answer_state_machine_refuses_the_wrong_description_and_goes_on() {
    let mut s = two_peers(40);
    let (a, b) = (s.a, s.b);
    let now = s.net.now();
    let tx = s
        .net
        .node::<PeerNode>(a)
        .pc
        .create_data_channel(ChannelConfig::new("after-refusals"))
        .unwrap();
    let offer = s.net.node::<PeerNode>(a).pc.create_offer(now).unwrap();
    let stranger_offer = peer(77, "10.0.0.77:4000").create_offer(now).unwrap();
    let mut stranger_answerer = peer(78, "10.0.0.78:4000");
    stranger_answerer
        .set_remote_description(now, &stranger_offer)
        .unwrap();
    let stranger_answer = stranger_answerer.create_answer(now).unwrap();
    let passive_answer = stranger_answer.replace("a=setup:active", "a=setup:passive");

    let expect_state = |r: Result<(), PeerError>, what: &str| {
        assert!(
            matches!(r, Err(PeerError::InvalidState(_))),
            "{what}: {r:?}"
        );
    };
    // The offerer: its own offer, and an offer while it waits for the answer.
    let pa = &mut s.net.node::<PeerNode>(a).pc;
    expect_state(pa.set_remote_description(now, &offer), "own offer");
    expect_state(
        pa.set_remote_description(now, &stranger_offer),
        "second offer on the offerer",
    );
    // The answerer-to-be: an answer without an offer.
    let pb = &mut s.net.node::<PeerNode>(b).pc;
    expect_state(
        pb.set_remote_description(now, &passive_answer),
        "answer without an offer",
    );
    assert!(pb.create_answer(now).is_err(), "an answer to nothing");
    // Now the real exchange, then more wrong descriptions on both sides.
    pb.set_remote_description(now, &offer).unwrap();
    expect_state(
        pb.set_remote_description(now, &stranger_offer),
        "second offer on the answerer",
    );
    let answer = pb.create_answer(now).unwrap();
    expect_state(pb.set_remote_description(now, &answer), "own answer");
    let pa = &mut s.net.node::<PeerNode>(a).pc;
    pa.set_remote_description(now, &answer).unwrap();
    expect_state(pa.set_remote_description(now, &answer), "answer twice");
    expect_state(
        pa.set_remote_description(now, &stranger_answer),
        "a second answer",
    );
    s.net.node::<PeerNode>(a).drain();
    s.net.node::<PeerNode>(b).drain();

    // The connection works: the channel opens and a message arrives.
    let deadline = s.net.now() + Duration::from_secs(30);
    let open = s.net.run_until(deadline, |n| {
        n.node::<PeerNode>(a)
            .events
            .contains(&PeerEvent::ChannelOpen(tx))
            && n.node::<PeerNode>(b)
                .remote_channel("after-refusals")
                .is_some()
    });
    assert!(open, "no channel after the refusals");
    s.net
        .node::<PeerNode>(a)
        .pc
        .send(tx, MessageKind::Binary, b"still here")
        .unwrap();
    let rx = s
        .net
        .node::<PeerNode>(b)
        .remote_channel("after-refusals")
        .unwrap();
    let deadline = s.net.now() + Duration::from_secs(30);
    assert!(s
        .net
        .run_until(deadline, |n| n.node::<PeerNode>(b).received(rx) == 10));
    assert_eq!(s.net.node::<PeerNode>(a).state(), PeerState::Connected);
    assert_eq!(s.net.node::<PeerNode>(b).state(), PeerState::Connected);
}

#[test]
fn sixty_four_channels_with_the_peer_too() {
    let mut s = two_peers(50);
    let (a, b) = (s.a, s.b);
    for i in 0..64 {
        s.net
            .node::<PeerNode>(a)
            .pc
            .create_data_channel(ChannelConfig::new(format!("c{i}")))
            .unwrap();
    }
    harness::peer_node::negotiate(&mut s.net, a, b);
    let deadline = s.net.now() + Duration::from_secs(30);
    let all = s.net.run_until(deadline, |n| {
        n.node::<PeerNode>(b)
            .events
            .iter()
            .filter(|e| matches!(e, PeerEvent::DataChannel(_)))
            .count()
            == 64
    });
    assert!(all, "the peer did not get all 64 channels");
    // Both sides are at the limit: neither can add one.
    for id in [a, b] {
        let pc = &mut s.net.node::<PeerNode>(id).pc;
        assert_eq!(pc.channels().live_channels(), 64);
        assert_eq!(
            pc.create_data_channel(ChannelConfig::new("one-more")),
            Err(PeerError::Channel(ChannelError::TooManyChannels))
        );
    }
}
