//! DTLS sessions on the in-memory network with its virtual clock: handshake
//! in both role assignments with fingerprint pinning, application data both
//! ways, size limits, wrong fingerprints, close, start order, handshake
//! timeout. None of these needs OpenSSL's (real-clock) retransmission: the
//! links lose nothing.

mod harness;

use std::any::Any;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use harness::{Datagram, Endpoint, LinkConfig, Network, NodeId, Realm};
use xp2p::dtls::{
    Certificate, DtlsConfig, DtlsError, DtlsEvent, DtlsFailure, DtlsRole, DtlsSession, DtlsState,
    Fingerprint, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MTU,
};

/// A DTLS session as a network endpoint, logging its events and the
/// messages it received.
struct DtlsNode {
    s: DtlsSession,
    local: SocketAddr,
    peer: SocketAddr,
    events: Vec<(Instant, DtlsEvent)>,
    received: Vec<Vec<u8>>,
    largest_datagram: usize,
}

impl DtlsNode {
    fn new(s: DtlsSession, local: SocketAddr, peer: SocketAddr) -> DtlsNode {
        DtlsNode {
            s,
            local,
            peer,
            events: Vec::new(),
            received: Vec::new(),
            largest_datagram: 0,
        }
    }

    fn pump(&mut self, now: Instant) {
        while let Some(e) = self.s.poll_event() {
            if e == DtlsEvent::Readable {
                while let Some(m) = self.s.recv_vec() {
                    self.received.push(m);
                }
            }
            self.events.push((now, e));
        }
    }

    fn failure(&self) -> Option<DtlsFailure> {
        self.events.iter().find_map(|(_, e)| match e {
            DtlsEvent::Failed(f) => Some(f.clone()),
            _ => None,
        })
    }

    fn count(&self, want: &DtlsEvent) -> usize {
        self.events.iter().filter(|(_, e)| e == want).count()
    }
}

impl Endpoint for DtlsNode {
    fn handle_datagram(&mut self, now: Instant, _local: SocketAddr, from: SocketAddr, data: &[u8]) {
        assert_eq!(from, self.peer);
        self.s.handle_datagram(now, data);
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.s.handle_timeout(now);
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Datagram> {
        let data = self.s.poll_transmit()?;
        self.largest_datagram = self.largest_datagram.max(data.len());
        Some(Datagram {
            local: self.local,
            dest: self.peer,
            data,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.s.poll_timeout()
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

const A: &str = "10.0.0.1:5000";
const B: &str = "10.0.0.2:5000";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn node(net: &mut Network, id: NodeId) -> &mut DtlsNode {
    net.node::<DtlsNode>(id)
}

fn session(role: DtlsRole, cert: &Certificate, expect: Option<Fingerprint>) -> DtlsSession {
    let mut cfg = DtlsConfig::new(role, cert.clone());
    cfg.remote_fingerprint = expect;
    DtlsSession::new(cfg).unwrap()
}

/// Two nodes on a link capped at the DTLS MTU: a at A, b at B.
fn pair(seed: u64, link: LinkConfig, a: DtlsSession, b: DtlsSession) -> (Network, NodeId, NodeId) {
    let mut net = Network::new(seed, link);
    let ia = net.add_node(DtlsNode::new(a, sa(A), sa(B)), &[sa(A)], Realm::Public);
    let ib = net.add_node(DtlsNode::new(b, sa(B), sa(A)), &[sa(B)], Realm::Public);
    (net, ia, ib)
}

fn mtu_link() -> LinkConfig {
    LinkConfig {
        mtu: DEFAULT_MTU,
        ..LinkConfig::clean()
    }
}

/// Each side reports the other's certificate as the remote one.
fn assert_remote_fingerprints(
    net: &mut Network,
    a: NodeId,
    b: NodeId,
    ca: &Certificate,
    cb: &Certificate,
) {
    assert_eq!(node(net, a).s.remote_fingerprint(), Some(cb.fingerprint()));
    assert_eq!(node(net, b).s.remote_fingerprint(), Some(ca.fingerprint()));
}

fn start(net: &mut Network, id: NodeId) {
    let now = net.now();
    node(net, id).s.start(now).unwrap();
}

fn state(net: &mut Network, id: NodeId) -> DtlsState {
    node(net, id).s.state()
}

fn run_until_settled(net: &mut Network, a: NodeId, b: NodeId, limit: Duration) -> bool {
    let deadline = net.now() + limit;
    net.run_until(deadline, |n| {
        let sa = n.node::<DtlsNode>(a).s.state();
        let sb = n.node::<DtlsNode>(b).s.state();
        sa != DtlsState::Connecting
            && sa != DtlsState::New
            && sb != DtlsState::Connecting
            && sb != DtlsState::New
    })
}

/// Client at a, server at b, each pinning the other's real fingerprint;
/// returns the connected network.
fn connected(seed: u64, link: LinkConfig, client_is_a: bool) -> (Network, NodeId, NodeId) {
    let ca = Certificate::generate().unwrap();
    let cb = Certificate::generate().unwrap();
    let (ra, rb) = if client_is_a {
        (DtlsRole::Client, DtlsRole::Server)
    } else {
        (DtlsRole::Server, DtlsRole::Client)
    };
    let sa_ = session(ra, &ca, Some(cb.fingerprint()));
    let sb_ = session(rb, &cb, Some(ca.fingerprint()));
    let (mut net, a, b) = pair(seed, link, sa_, sb_);
    // The server starts first, as an answerer typically does.
    if client_is_a {
        start(&mut net, b);
        start(&mut net, a);
    } else {
        start(&mut net, a);
        start(&mut net, b);
    }
    assert!(
        run_until_settled(&mut net, a, b, Duration::from_secs(2)),
        "handshake did not settle"
    );
    assert_eq!(
        state(&mut net, a),
        DtlsState::Connected,
        "{:?}",
        node(&mut net, a).failure()
    );
    assert_eq!(
        state(&mut net, b),
        DtlsState::Connected,
        "{:?}",
        node(&mut net, b).failure()
    );
    assert_remote_fingerprints(&mut net, a, b, &ca, &cb);
    (net, a, b)
}

fn check_connection(net: &mut Network, a: NodeId, b: NodeId) {
    for id in [a, b] {
        let n = node(net, id);
        assert_eq!(n.count(&DtlsEvent::Connected), 1);
        assert_eq!(n.s.protocol_version(), "DTLSv1.2");
        let cipher = n.s.cipher_name().expect("cipher");
        assert!(
            [
                "ECDHE-ECDSA-AES128-GCM-SHA256",
                "ECDHE-ECDSA-AES256-GCM-SHA384",
                "ECDHE-ECDSA-CHACHA20-POLY1305"
            ]
            .contains(&cipher),
            "{cipher}"
        );
        assert!(n.largest_datagram <= DEFAULT_MTU, "{}", n.largest_datagram);
        assert!(n.s.poll_timeout().is_none(), "no timer once connected");
    }
    // Both sides agree on the suite.
    let ca = node(net, a).s.cipher_name();
    assert_eq!(ca, node(net, b).s.cipher_name());
}

#[test]
fn handshake_client_at_a() {
    let (mut net, a, b) = connected(1, mtu_link(), true);
    check_connection(&mut net, a, b);
    assert_eq!(node(&mut net, a).s.role(), DtlsRole::Client);
    // A clean handshake takes two round trips (10 ms one way).
    assert!(
        net.elapsed() < Duration::from_millis(100),
        "{:?}",
        net.elapsed()
    );
}

#[test]
fn handshake_client_at_b() {
    let (mut net, a, b) = connected(2, mtu_link(), false);
    check_connection(&mut net, a, b);
    assert_eq!(node(&mut net, b).s.role(), DtlsRole::Client);
}

#[test]
fn handshake_over_duplicating_link() {
    let link = LinkConfig {
        duplicate: 0.5,
        ..mtu_link()
    };
    for seed in 10..15 {
        let (mut net, a, b) = connected(seed, link, seed % 2 == 0);
        check_connection(&mut net, a, b);
    }
}

#[test]
fn handshake_without_fingerprint_check() {
    let ca = Certificate::generate().unwrap();
    let cb = Certificate::generate().unwrap();
    let (mut net, a, b) = pair(
        3,
        mtu_link(),
        session(DtlsRole::Client, &ca, None),
        session(DtlsRole::Server, &cb, None),
    );
    start(&mut net, b);
    start(&mut net, a);
    assert!(run_until_settled(&mut net, a, b, Duration::from_secs(2)));
    assert_eq!(state(&mut net, a), DtlsState::Connected);
    assert_eq!(state(&mut net, b), DtlsState::Connected);
    // The peer's fingerprint is still reported.
    assert_remote_fingerprints(&mut net, a, b, &ca, &cb);
}

/// Sends from `from` and runs the network until `to` received `n` messages.
fn deliver(net: &mut Network, from: NodeId, to: NodeId, msgs: &[Vec<u8>]) {
    let before = node(net, to).received.len();
    for m in msgs {
        node(net, from).s.send(m).unwrap();
    }
    let want = before + msgs.len();
    let deadline = net.now() + Duration::from_secs(1);
    assert!(net.run_until(deadline, |n| n.node::<DtlsNode>(to).received.len() >= want));
    assert_eq!(&node(net, to).received[before..], msgs);
}

#[test]
fn data_both_ways() {
    let (mut net, a, b) = connected(4, mtu_link(), true);
    let small: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 1 + usize::from(i) * 3]).collect();
    deliver(&mut net, a, b, &small);
    deliver(&mut net, b, a, &small);

    let big: Vec<u8> = (0..1100u32).map(|i| (i * 31 % 251) as u8).collect();
    deliver(&mut net, a, b, std::slice::from_ref(&big));
    deliver(&mut net, b, a, std::slice::from_ref(&big));

    // The largest message that fits one record in one 1200-byte datagram.
    let max = node(&mut net, a).s.max_payload();
    assert!(
        (1100..DEFAULT_MTU).contains(&max),
        "max payload {max} with {:?}",
        node(&mut net, a).s.cipher_name()
    );
    let full = vec![0x5a; max];
    deliver(&mut net, a, b, std::slice::from_ref(&full));
    deliver(&mut net, b, a, std::slice::from_ref(&full));
    for id in [a, b] {
        assert!(node(&mut net, id).largest_datagram <= DEFAULT_MTU);
    }

    // One byte more, or anything above the MTU, is refused, not split.
    let n = node(&mut net, a);
    assert_eq!(
        n.s.send(&vec![0; max + 1]),
        Err(DtlsError::MessageTooLarge { len: max + 1, max })
    );
    assert!(matches!(
        n.s.send(&vec![0; 4000]),
        Err(DtlsError::MessageTooLarge { len: 4000, .. })
    ));
    assert_eq!(n.s.send(&[]), Err(DtlsError::EmptyMessage));
    assert!(
        n.s.poll_transmit().is_none(),
        "nothing sent for refused writes"
    );
    let stats = n.s.stats();
    assert_eq!(stats.messages_sent, 20 + 1 + 1);
    assert_eq!(stats.messages_received, 20 + 1 + 1);
    assert_eq!(stats.malformed, 0);
}

#[test]
fn recv_into_borrowed_buffer() {
    let (mut net, a, b) = connected(5, mtu_link(), true);
    // Take the messages out of the session ourselves: stop the node's pump
    // from draining by reading straight after delivery.
    node(&mut net, a).s.send(b"hello").unwrap();
    node(&mut net, a).s.send(b"world!").unwrap();
    let now = net.now();
    let mut wire = Vec::new();
    while let Some(d) = node(&mut net, a).s.poll_transmit() {
        wire.push(d);
    }
    assert_eq!(wire.len(), 2, "one datagram per message");
    let nb = node(&mut net, b);
    for d in &wire {
        nb.s.handle_datagram(now, d);
    }
    assert_eq!(nb.s.poll_event(), Some(DtlsEvent::Readable));
    assert_eq!(
        nb.s.poll_event(),
        None,
        "Readable once while the queue is non-empty"
    );
    assert_eq!(nb.s.next_message_len(), Some(5));
    let mut buf = [0u8; 4];
    assert_eq!(
        nb.s.recv(&mut buf),
        Err(DtlsError::BufferTooSmall { needed: 5 })
    );
    let mut buf = [0u8; 64];
    assert_eq!(nb.s.recv(&mut buf), Ok(Some(5)));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(nb.s.recv(&mut buf), Ok(Some(6)));
    assert_eq!(&buf[..6], b"world!");
    assert_eq!(nb.s.recv(&mut buf), Ok(None));

    // The lent-buffer transmit path.
    node(&mut net, b).s.send(b"back").unwrap();
    let mut out = [0u8; DEFAULT_MTU];
    let n = node(&mut net, b)
        .s
        .poll_transmit_into(&mut out)
        .unwrap()
        .unwrap();
    assert!(n > 4 && n <= DEFAULT_MTU);
    assert_eq!(node(&mut net, b).s.poll_transmit_into(&mut out), Ok(None));
    let na = node(&mut net, a);
    na.s.handle_datagram(now, &out[..n]);
    assert_eq!(na.s.recv_vec().as_deref(), Some(&b"back"[..]));
}

#[test]
fn send_before_connected_is_refused() {
    let ca = Certificate::generate().unwrap();
    let mut s = session(DtlsRole::Client, &ca, None);
    assert_eq!(s.send(b"x"), Err(DtlsError::NotConnected));
    s.start(harness::net::base_instant()).unwrap();
    assert_eq!(s.send(b"x"), Err(DtlsError::NotConnected));
    assert!(s.poll_transmit().is_some(), "ClientHello");
    assert!(s.poll_transmit().is_none(), "no data record");
}

/// One side pins a fingerprint that is not its peer's.
fn wrong_fingerprint(client_verifies_wrong: bool) {
    let ca = Certificate::generate().unwrap();
    let cb = Certificate::generate().unwrap();
    let impostor = Certificate::generate().unwrap().fingerprint();
    let (exp_a, exp_b) = if client_verifies_wrong {
        (impostor, ca.fingerprint())
    } else {
        (cb.fingerprint(), impostor)
    };
    let (mut net, a, b) = pair(
        6,
        mtu_link(),
        session(DtlsRole::Client, &ca, Some(exp_a)),
        session(DtlsRole::Server, &cb, Some(exp_b)),
    );
    start(&mut net, b);
    start(&mut net, a);
    assert!(run_until_settled(&mut net, a, b, Duration::from_secs(2)));
    let (verifier, other) = if client_verifies_wrong {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(state(&mut net, verifier), DtlsState::Failed);
    assert_eq!(
        node(&mut net, verifier).failure(),
        Some(DtlsFailure::FingerprintMismatch)
    );
    // The peer learns through the bad_certificate alert.
    assert_eq!(state(&mut net, other), DtlsState::Failed);
    assert!(matches!(
        node(&mut net, other).failure(),
        Some(DtlsFailure::Handshake(_))
    ));
    for id in [a, b] {
        let n = node(&mut net, id);
        assert_eq!(n.count(&DtlsEvent::Connected), 0);
        assert_eq!(n.s.send(b"secret"), Err(DtlsError::NotConnected));
        assert!(n.received.is_empty());
        assert_eq!(n.s.stats().messages_received, 0);
        assert!(n.s.poll_timeout().is_none());
    }
    // Nothing more happens.
    net.run_for(Duration::from_secs(30));
    assert!(node(&mut net, a).received.is_empty());
    assert!(node(&mut net, b).received.is_empty());
}

#[test]
fn wrong_fingerprint_seen_by_client() {
    wrong_fingerprint(true);
}

#[test]
fn wrong_fingerprint_seen_by_server() {
    wrong_fingerprint(false);
}

#[test]
fn close_is_seen_by_peer() {
    for client_closes in [true, false] {
        let (mut net, a, b) = connected(7, mtu_link(), true);
        deliver(&mut net, a, b, &[b"before close".to_vec()]);
        let (closer, other) = if client_closes { (a, b) } else { (b, a) };
        node(&mut net, closer).s.close();
        assert_eq!(state(&mut net, closer), DtlsState::Closed);
        assert_eq!(
            node(&mut net, closer).s.send(b"late"),
            Err(DtlsError::NotConnected)
        );
        let deadline = net.now() + Duration::from_secs(1);
        assert!(
            net.run_until(deadline, |n| n.node::<DtlsNode>(other).s.state()
                == DtlsState::Closed)
        );
        net.run_for(Duration::from_millis(100));
        for id in [a, b] {
            let n = node(&mut net, id);
            n.pump(harness::net::base_instant());
            assert_eq!(n.s.state(), DtlsState::Closed);
            assert_eq!(n.count(&DtlsEvent::Closed), 1, "one Closed each");
            assert!(n.failure().is_none());
            assert!(n.s.poll_timeout().is_none());
        }
        // Closing again does nothing.
        node(&mut net, closer).s.close();
        assert!(node(&mut net, closer).s.poll_transmit().is_none());
    }
}

#[test]
fn client_hello_before_server_start_is_kept() {
    let ca = Certificate::generate().unwrap();
    let cb = Certificate::generate().unwrap();
    let (mut net, a, b) = pair(
        8,
        mtu_link(),
        session(DtlsRole::Client, &ca, Some(cb.fingerprint())),
        session(DtlsRole::Server, &cb, Some(ca.fingerprint())),
    );
    start(&mut net, a);
    net.run_for(Duration::from_millis(50));
    assert_eq!(state(&mut net, b), DtlsState::New);
    start(&mut net, b);
    assert!(run_until_settled(
        &mut net,
        a,
        b,
        Duration::from_millis(200)
    ));
    assert_eq!(state(&mut net, a), DtlsState::Connected);
    assert_eq!(state(&mut net, b), DtlsState::Connected);
}

#[test]
fn set_role_before_start() {
    let ca = Certificate::generate().unwrap();
    let cb = Certificate::generate().unwrap();
    // Both created as servers; one switches to client before starting.
    let mut sa_ = session(DtlsRole::Server, &ca, Some(cb.fingerprint()));
    sa_.set_role(DtlsRole::Client).unwrap();
    assert_eq!(sa_.local_fingerprint(), ca.fingerprint());
    let (mut net, a, b) = pair(
        9,
        mtu_link(),
        sa_,
        session(DtlsRole::Server, &cb, Some(ca.fingerprint())),
    );
    start(&mut net, b);
    start(&mut net, a);
    assert!(run_until_settled(&mut net, a, b, Duration::from_secs(1)));
    assert_eq!(state(&mut net, a), DtlsState::Connected);
    assert_eq!(state(&mut net, b), DtlsState::Connected);
    assert_eq!(
        node(&mut net, a).s.set_role(DtlsRole::Server),
        Err(DtlsError::InvalidState)
    );
}

/// The overall handshake timeout runs on the caller's clock, so on the
/// virtual clock it fires at exactly the configured time.
#[test]
fn handshake_timeout_on_virtual_clock() {
    let ca = Certificate::generate().unwrap();
    let cb = Certificate::generate().unwrap();
    let (mut net, a, b) = pair(
        11,
        mtu_link(),
        session(DtlsRole::Client, &ca, None),
        session(DtlsRole::Server, &cb, None),
    );
    // The server's side of the link is cut: it never hears anything.
    let server = sa(B);
    net.set_cut(Some(Box::new(move |_, dst| dst == server)));
    let t0 = net.now();
    start(&mut net, b);
    start(&mut net, a);
    assert!(run_until_settled(&mut net, a, b, Duration::from_secs(60)));
    let n = node(&mut net, a);
    assert_eq!(n.s.state(), DtlsState::Failed);
    assert_eq!(n.failure(), Some(DtlsFailure::HandshakeTimeout));
    let at = n
        .events
        .iter()
        .find(|(_, e)| matches!(e, DtlsEvent::Failed(_)))
        .unwrap()
        .0;
    assert_eq!(at - t0, DEFAULT_HANDSHAKE_TIMEOUT);
    assert!(n.s.poll_timeout().is_none());
    let s = node(&mut net, b);
    assert_eq!(s.s.state(), DtlsState::Failed);
    assert_eq!(s.failure(), Some(DtlsFailure::HandshakeTimeout));
}
