//! The I/O thread's TCP and TLS connections to TURN servers
//! (`src/driver/turn_stream.rs`), against a plain TCP listener (and an
//! OpenSSL acceptor) playing the server: the endpoint's messages for the
//! link arrive framed, the server's frames arrive whole whatever the
//! segmentation, and every way the connection can end is reported once as
//! the link's failure, a refused certificate included. The last messages
//! of an endpoint are written before its connection closes.
// The TLS cases need the OpenSSL TURN client.
#![cfg(feature = "turn-tls")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};
use parking_lot::Mutex;
use xp2p::driver::clock;
use xp2p::driver::io::{self, Endpoint, SharedEndpoint, Transmit};
use xp2p::driver::turn_stream::CONNECT_TIMEOUT;
use xp2p::turn::stream::StreamFailure;
use xp2p::turn::tls::{TlsClient, TlsConfig};

/// Records what the I/O thread hands it and sends what the test queues.
#[derive(Default)]
struct Probe {
    out: Vec<Transmit>,
    got: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    failed: Vec<(SocketAddr, StreamFailure)>,
}

impl Probe {
    /// Queues `data` from `local` to `dest` for the I/O thread to send.
    fn queue(&mut self, local: SocketAddr, dest: SocketAddr, data: Vec<u8>) {
        self.out.push(Transmit { local, dest, data });
    }
}

impl Endpoint for Probe {
    fn handle_datagram(&mut self, _now: Instant, local: SocketAddr, from: SocketAddr, d: &[u8]) {
        self.got.push((local, from, d.to_vec()));
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        (!self.out.is_empty()).then(|| self.out.remove(0))
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
    fn dispatch_events(&mut self) {}
    fn handle_link_failed(&mut self, _now: Instant, link: SocketAddr, why: StreamFailure) {
        self.failed.push((link, why));
    }
}

/// A STUN Binding request with transaction id `n`.
fn stun(n: u8) -> Vec<u8> {
    let mut m = vec![0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42];
    m.extend_from_slice(&[n; 12]);
    m
}

/// ChannelData on 0x4000 carrying `data`, unpadded.
fn channel_data(data: &[u8]) -> Vec<u8> {
    let mut m = vec![0x40, 0x00, 0, data.len() as u8];
    m.extend_from_slice(data);
    m
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = clock::now() + Duration::from_secs(60);
    while !cond() {
        assert!(clock::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Registers a probe and opens a connection to `server`; returns the
/// probe, its id and the link (or the immediate failure).
fn open(server: SocketAddr) -> (Arc<Mutex<Probe>>, u64, Result<SocketAddr, StreamFailure>) {
    open_with(server, None)
}

fn open_with(
    server: SocketAddr,
    tls: Option<Box<TlsClient>>,
) -> (Arc<Mutex<Probe>>, u64, Result<SocketAddr, StreamFailure>) {
    let probe = Arc::new(Mutex::new(Probe::default()));
    let shared: SharedEndpoint = probe.clone();
    let id = io::register(shared, Vec::new()).unwrap();
    let (tx, rx) = mpsc::channel();
    io::open_turn_stream(
        id,
        server,
        tls,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let r = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    (probe, id, r)
}

fn read_exact_timeout(s: &mut TcpStream, n: usize) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn messages_cross_a_tcp_link_framed_and_whole() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let (probe, id, link) = open(server);
    let link = link.unwrap();
    let (mut conn, peer) = listener.accept().unwrap();
    assert_eq!(peer, link, "the link is the connection's local address");

    // Out: STUN unchanged, ChannelData padded to 4 bytes.
    {
        let mut p = probe.lock();
        for data in [stun(1), channel_data(b"hello")] {
            p.queue(link, server, data);
        }
    }
    io::kick(id);
    let mut want = stun(1);
    want.extend_from_slice(&channel_data(b"hello"));
    want.extend_from_slice(&[0, 0, 0]);
    assert_eq!(read_exact_timeout(&mut conn, want.len()), want);

    // In: three frames cut at awkward places arrive as three messages.
    let mut bytes = stun(2);
    bytes.extend_from_slice(&channel_data(b"abc"));
    bytes.push(0); // padding
    bytes.extend_from_slice(&stun(3));
    for piece in [&bytes[..3], &bytes[3..21], &bytes[21..27], &bytes[27..]] {
        conn.write_all(piece).unwrap();
        conn.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_for("three messages", || probe.lock().got.len() == 3);
    {
        let p = probe.lock();
        let want = [stun(2), channel_data(b"abc"), stun(3)];
        for (g, w) in p.got.iter().zip(want.iter()) {
            assert_eq!((g.0, g.1, &g.2), (link, server, w));
        }
        assert!(p.failed.is_empty());
    }

    // Last words: queued just before unregistering, written before the
    // close, which the server then sees as end of stream.
    probe.lock().queue(link, server, stun(4));
    io::unregister(id);
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, stun(4));
    assert!(probe.lock().failed.is_empty(), "a close is not a failure");
}

#[test]
fn every_end_of_the_connection_fails_the_link_once() {
    // The server closes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let (probe, id, link) = open(server);
    let link = link.unwrap();
    let (conn, _) = listener.accept().unwrap();
    drop(conn);
    wait_for("closed", || !probe.lock().failed.is_empty());
    assert_eq!(probe.lock().failed, vec![(link, StreamFailure::Closed)]);
    // Later messages for the link go nowhere, and nothing more is reported.
    probe.lock().queue(link, server, stun(1));
    io::kick(id);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(probe.lock().failed.len(), 1);
    io::unregister(id);

    // The server sends bytes that are not TURN framing.
    let (probe, id, link) = open(server);
    let link = link.unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    conn.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").unwrap();
    wait_for("framing", || !probe.lock().failed.is_empty());
    assert_eq!(probe.lock().failed, vec![(link, StreamFailure::Framing)]);
    assert!(probe.lock().got.is_empty());
    io::unregister(id);
    drop(listener);

    // Nobody listens: refused (a refusal, not the connect timeout).
    let (probe, id, link) = open(server);
    match link {
        Ok(link) => {
            wait_for("refused", || !probe.lock().failed.is_empty());
            assert_eq!(
                probe.lock().failed,
                vec![(link, StreamFailure::ConnectFailed)]
            );
        }
        Err(why) => assert_eq!(why, StreamFailure::ConnectFailed),
    }
    io::unregister(id);
}

#[test]
fn a_connection_that_never_completes_times_out() {
    // A listener whose accept queue is full: further SYNs are dropped, so
    // the connect neither succeeds nor fails (Linux with a backlog of 0
    // still queues one connection; fill it first).
    let listener = socket2_listener();
    let server = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let s = std::net::TcpStream::connect_timeout(&server, Duration::from_millis(200));
        match s {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    let start = clock::now();
    let (probe, id, link) = open(server);
    let link = link.unwrap();
    let end = clock::now() + Duration::from_secs(60);
    while probe.lock().failed.is_empty() && clock::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    assert_eq!(
        probe.lock().failed,
        vec![(link, StreamFailure::ConnectTimeout)],
        "after {took:?}"
    );
    // Not before the connect timeout.
    assert!(
        took >= CONNECT_TIMEOUT - Duration::from_millis(100),
        "{took:?}"
    );
    io::unregister(id);
}

/// A TCP listener on loopback with a backlog of 0.
fn socket2_listener() -> TcpListener {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a fresh descriptor, checked; the
    // descriptor is handed to the TcpListener, which owns it from then on.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&sa as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        TcpListener::from_raw_fd(fd)
    }
}

/// A self-signed certificate (its own CA) for 127.0.0.1.
fn self_signed() -> (X509, PKey<Private>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "xp2p test TURN").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().ca().build().unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    (b.build(), key)
}

/// What the TLS server read: the first message and the rest until the
/// close; `None` when no session was established.
type ServerRead = std::thread::JoinHandle<Option<(Vec<u8>, Vec<u8>)>>;

/// A TLS server on loopback: answers the first message with `stun(2)`,
/// then returns everything else it reads until the client closes.
fn tls_server(cert: X509, key: PKey<Private>) -> (SocketAddr, ServerRead) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    b.set_certificate(&cert).unwrap();
    b.set_private_key(&key).unwrap();
    let acceptor = b.build();
    let h = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // A refused certificate ends the handshake here.
        let mut tls = acceptor.accept(conn).ok()?;
        let mut first = vec![0u8; 20];
        tls.read_exact(&mut first).unwrap();
        tls.write_all(&stun(2)).unwrap();
        let mut rest = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            match tls.ssl_read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => rest.extend_from_slice(&buf[..n]),
            }
        }
        Some((first, rest))
    });
    (addr, h)
}

#[test]
fn tls_links_carry_messages_and_refuse_untrusted_certificates() {
    let (cert, key) = self_signed();
    let ca = std::env::temp_dir().join(format!("xp2p-turn-driver-{}.pem", std::process::id()));
    std::fs::write(&ca, cert.to_pem().unwrap()).unwrap();

    // Trusted through the CA file: messages both ways, then the last
    // words and a close_notify when the endpoint goes.
    let (server, h) = tls_server(cert.clone(), key.clone());
    let mut cfg = TlsConfig::new("127.0.0.1");
    cfg.system_roots = false;
    cfg.extra_ca_file = Some(ca.clone());
    let client = Box::new(TlsClient::new(&cfg).unwrap());
    let (probe, id, link) = open_with(server, Some(client));
    let link = link.unwrap();
    probe.lock().queue(link, server, stun(1));
    io::kick(id);
    wait_for("the answer", || !probe.lock().got.is_empty());
    assert_eq!(probe.lock().got, vec![(link, server, stun(2))]);
    probe.lock().queue(link, server, stun(3));
    io::unregister(id);
    let (first, rest) = h.join().unwrap().expect("handshake");
    assert_eq!((first, rest), (stun(1), stun(3)));
    assert!(probe.lock().failed.is_empty());

    // Without the CA: refused in the handshake, reported as such.
    let (server, h) = tls_server(cert, key);
    let mut cfg = TlsConfig::new("127.0.0.1");
    cfg.system_roots = false;
    let client = Box::new(TlsClient::new(&cfg).unwrap());
    let (probe, id, link) = open_with(server, Some(client));
    let link = link.unwrap();
    probe.lock().queue(link, server, stun(1));
    io::kick(id);
    wait_for("the refusal", || !probe.lock().failed.is_empty());
    assert_eq!(
        probe.lock().failed,
        vec![(link, StreamFailure::CertificateRejected)]
    );
    assert!(probe.lock().got.is_empty());
    io::unregister(id);
    assert!(h.join().unwrap().is_none(), "no session was established");
    let _ = std::fs::remove_file(&ca);
}
