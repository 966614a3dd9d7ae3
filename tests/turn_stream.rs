//! TURN over byte streams: the framing of STUN and ChannelData on TCP (every
//! split point of a multi-message stream, garbage, oversized frames), the
//! sans-IO TLS client against an in-memory OpenSSL server with a CA made
//! here (messages both ways, wrong CA, wrong name, bad CA file), and the
//! sans-IO TURN client over TCP and over TLS against coturn on loopback:
//! an allocation with long-term credentials, a permission, a channel, and
//! data to and from a local UDP peer through Send/Data indications and
//! ChannelData.
// The TLS cases need the OpenSSL TURN client.
#![cfg(feature = "turn-tls")]

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{ErrorCode, Ssl, SslAcceptor, SslMethod, SslStream};
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};
use xp2p::driver::clock;
use xp2p::stun::{method, Attribute, Class, MessageBuilder, MessageType};
use xp2p::turn::client::{TurnClient, TurnConfig, TurnEvent, TurnState};
use xp2p::turn::stream::{encode_frame, FrameDecoder, StreamError, MAX_FEED, STREAM_RETRANSMIT};
use xp2p::turn::tls::{TlsClient, TlsConfig, TlsError, TlsState, CA_FILE_ENV};

// ---- framing ----

fn stun(method: u16, class: Class, id: u8, attrs: &[Attribute<'_>]) -> Vec<u8> {
    let mut buf = vec![0u8; 1500];
    let mut b = MessageBuilder::new(&mut buf, MessageType::new(method, class), &[id; 12]).unwrap();
    for a in attrs {
        b.add(a).unwrap();
    }
    let n = b.len();
    buf.truncate(n);
    buf
}

fn channel_data(channel: u16, data: &[u8]) -> Vec<u8> {
    let mut v = channel.to_be_bytes().to_vec();
    v.extend_from_slice(&(data.len() as u16).to_be_bytes());
    v.extend_from_slice(data);
    v
}

/// Four messages of different kinds and paddings, and the stream of them.
fn sample() -> (Vec<Vec<u8>>, Vec<u8>) {
    let peer: SocketAddr = "192.0.2.7:5000".parse().unwrap();
    let msgs = vec![
        stun(
            method::SEND,
            Class::Indication,
            1,
            &[Attribute::XorPeerAddress(peer), Attribute::Data(b"hello")],
        ),
        channel_data(0x4000, b"odd"),
        channel_data(0x4FFF, b""),
        stun(
            method::ALLOCATE,
            Class::Request,
            2,
            &[Attribute::RequestedTransport(17)],
        ),
        channel_data(0x4001, &[7u8; 300]),
    ];
    let mut stream = Vec::new();
    for m in &msgs {
        encode_frame(m, &mut stream).unwrap();
    }
    (msgs, stream)
}

fn drain(d: &mut FrameDecoder, out: &mut Vec<Vec<u8>>) {
    while let Some(m) = d.poll().unwrap() {
        out.push(m);
    }
}

#[test]
fn framing_pads_channel_data_only() {
    let (msgs, stream) = sample();
    let expected: usize = msgs.iter().map(|m| (m.len() + 3) & !3).sum();
    assert_eq!(stream.len(), expected);
    // "odd" (3 bytes) is followed by one zero byte on the stream.
    let off = msgs[0].len();
    assert_eq!(&stream[off..off + 8], &[0x40, 0, 0, 3, b'o', b'd', b'd', 0]);
}

#[test]
fn framing_survives_every_split_point() {
    let (msgs, stream) = sample();
    for i in 0..=stream.len() {
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        d.feed(&stream[..i]).unwrap();
        drain(&mut d, &mut got);
        d.feed(&stream[i..]).unwrap();
        drain(&mut d, &mut got);
        assert_eq!(got, msgs, "split at {i}");
        assert_eq!(d.buffered(), 0);
    }
    // Two split points, and byte by byte.
    for i in (0..stream.len()).step_by(7) {
        for j in (i..=stream.len()).step_by(5) {
            let mut d = FrameDecoder::new();
            let mut got = Vec::new();
            for part in [&stream[..i], &stream[i..j], &stream[j..]] {
                d.feed(part).unwrap();
                drain(&mut d, &mut got);
            }
            assert_eq!(got, msgs, "split at {i} and {j}");
        }
    }
    let mut d = FrameDecoder::new();
    let mut got = Vec::new();
    for b in &stream {
        d.feed(std::slice::from_ref(b)).unwrap();
        drain(&mut d, &mut got);
    }
    assert_eq!(got, msgs);
}

#[test]
fn framing_rejects_garbage_at_once() {
    let (msgs, stream) = sample();
    // A first byte that is neither STUN nor ChannelData.
    // Reserved channels 0x5000-0x7FFF ("POST ..." looks like one) too.
    for first in [0x80u8, 0xC0, 0xFF, b'P', 0x7F, 0x16] {
        let mut d = FrameDecoder::new();
        d.feed(&[first]).unwrap();
        let r = d.poll();
        if first == 0x16 {
            // 0x16 could start STUN: decided once the length/cookie arrive.
            assert_eq!(r, Ok(None));
            d.feed(&[0x03, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00]).unwrap();
            assert_eq!(d.poll(), Err(StreamError::Garbage));
        } else {
            assert_eq!(r, Err(StreamError::Garbage));
        }
        // The error sticks.
        assert_eq!(d.poll(), Err(StreamError::Garbage));
        assert_eq!(d.feed(&stream), Err(StreamError::Garbage));
    }
    // A STUN length that is not a multiple of 4.
    let mut d = FrameDecoder::new();
    d.feed(&[0x00, 0x01, 0x00, 0x05]).unwrap();
    assert_eq!(d.poll(), Err(StreamError::Garbage));
    // A wrong magic cookie.
    let mut bad = msgs[3].clone();
    bad[5] ^= 0xFF;
    let mut d = FrameDecoder::new();
    d.feed(&bad).unwrap();
    assert_eq!(d.poll(), Err(StreamError::Garbage));
    // Good messages, then garbage: the good ones come out first.
    let mut d = FrameDecoder::new();
    let mut with_junk = stream.clone();
    // A TLS ClientHello sent to the plain TCP port.
    with_junk.extend_from_slice(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
    d.feed(&with_junk).unwrap();
    for m in &msgs {
        assert_eq!(d.poll().unwrap().as_ref(), Some(m));
    }
    assert_eq!(d.poll(), Err(StreamError::Garbage));
    assert_eq!(d.buffered(), 0);
}

#[test]
fn framing_rejects_oversized_frames_from_the_header() {
    let mut d = FrameDecoder::with_max_frame(1024);
    // ChannelData announcing 2000 bytes: refused before the data arrives.
    d.feed(&[0x40, 0x00, 0x07, 0xD0]).unwrap();
    assert_eq!(
        d.poll(),
        Err(StreamError::Oversized {
            len: 2004,
            max: 1024
        })
    );
    let mut d = FrameDecoder::with_max_frame(1024);
    d.feed(&[0x01, 0x01, 0x10, 0x00]).unwrap();
    assert_eq!(
        d.poll(),
        Err(StreamError::Oversized {
            len: 4116,
            max: 1024
        })
    );
    // Exactly at the limit is fine.
    let mut d = FrameDecoder::with_max_frame(1024);
    let m = channel_data(0x4000, &[1u8; 1020]);
    d.feed(&m).unwrap();
    assert_eq!(d.poll(), Ok(Some(m)));
    // The largest ChannelData the length field allows passes the default.
    let mut d = FrameDecoder::new();
    let big = channel_data(0x4000, &vec![9u8; 65535]);
    let mut framed = Vec::new();
    encode_frame(&big, &mut framed).unwrap();
    assert_eq!(framed.len(), 65540);
    d.feed(&framed).unwrap();
    assert_eq!(d.poll(), Ok(Some(big)));
}

#[test]
fn framing_buffer_is_bounded() {
    let mut d = FrameDecoder::with_max_frame(1024);
    let msg = channel_data(0x4000, &[0u8; 96]);
    let mut lots = Vec::new();
    while lots.len() <= 1024 + MAX_FEED {
        lots.extend_from_slice(&msg);
    }
    assert_eq!(d.feed(&lots), Err(StreamError::BufferFull));
    assert_eq!(d.buffered(), 0);
    // Fed in reads of 4 KiB and polled in between, the same bytes pass.
    let mut n = 0;
    for chunk in lots.chunks(4096) {
        d.feed(chunk).unwrap();
        while let Some(m) = d.poll().unwrap() {
            assert_eq!(m, msg);
            n += 1;
        }
    }
    assert_eq!(n, lots.len() / msg.len());
}

// ---- certificates ----

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn serial() -> openssl::asn1::Asn1Integer {
    let mut bn = BigNum::new().unwrap();
    bn.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    bn.to_asn1_integer().unwrap()
}

struct Ca {
    cert: X509,
    key: PKey<Private>,
}

fn make_ca(cn: &str) -> Ca {
    let key = ec_key();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    Ca {
        cert: b.build(),
        key,
    }
}

/// A server certificate signed by `ca` for the DNS names and IP addresses.
fn make_leaf(ca: &Ca, dns: &[&str], ips: &[&str]) -> (X509, PKey<Private>) {
    let key = ec_key();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", dns.first().copied().unwrap_or("server"))
        .unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(ca.cert.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    let mut san = SubjectAlternativeName::new();
    for d in dns {
        san.dns(d);
    }
    for ip in ips {
        san.ip(ip);
    }
    let san = san.build(&b.x509v3_context(Some(&ca.cert), None)).unwrap();
    b.append_extension(san).unwrap();
    b.sign(&ca.key, MessageDigest::sha256()).unwrap();
    (b.build(), key)
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("xp2p-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- TLS against an in-memory server ----

#[derive(Default)]
struct Mem {
    incoming: VecDeque<u8>,
    outgoing: Vec<u8>,
}

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.incoming.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.incoming.read(buf)
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct MemServer {
    stream: SslStream<Mem>,
    accepted: bool,
    decoder: FrameDecoder,
    received: Vec<Vec<u8>>,
}

impl MemServer {
    fn new(ca: &Ca, dns: &[&str]) -> MemServer {
        let (cert, key) = make_leaf(ca, dns, &[]);
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        b.set_certificate(&cert).unwrap();
        b.set_private_key(&key).unwrap();
        let acceptor = b.build();
        let ssl = Ssl::new(acceptor.context()).unwrap();
        MemServer {
            stream: SslStream::new(ssl, Mem::default()).unwrap(),
            accepted: false,
            decoder: FrameDecoder::new(),
            received: Vec::new(),
        }
    }

    fn step(&mut self) {
        if !self.accepted {
            match self.stream.accept() {
                Ok(()) => self.accepted = true,
                Err(e) if e.code() == ErrorCode::WANT_READ => return,
                // The client aborted (certificate refused): nothing more.
                Err(_) => return,
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.ssl_read(&mut buf) {
                Ok(n) if n > 0 => {
                    self.decoder.feed(&buf[..n]).unwrap();
                    while let Some(m) = self.decoder.poll().unwrap() {
                        self.received.push(m);
                    }
                }
                _ => break,
            }
        }
    }

    fn send(&mut self, msg: &[u8]) {
        let mut framed = Vec::new();
        encode_frame(msg, &mut framed).unwrap();
        self.stream.ssl_write(&framed).unwrap();
    }
}

/// Moves bytes both ways until neither side has anything to say; returns
/// the first error the client reported.
fn pump(client: &mut TlsClient, server: &mut MemServer) -> Result<(), TlsError> {
    for _ in 0..50 {
        let mut moved = false;
        while let Some(c) = client.poll_ciphertext() {
            server.stream.get_mut().incoming.extend(c);
            moved = true;
        }
        server.step();
        let out = std::mem::take(&mut server.stream.get_mut().outgoing);
        if !out.is_empty() {
            moved = true;
            client.feed_ciphertext(&out)?;
        }
        if !moved {
            break;
        }
    }
    Ok(())
}

fn tls_config(name: &str, ca_file: Option<&Path>) -> TlsConfig {
    let mut cfg = TlsConfig::new(name);
    cfg.extra_ca_file = ca_file.map(Path::to_path_buf);
    cfg
}

#[test]
fn tls_carries_turn_messages_both_ways() {
    let dir = TempDir::new("tls-ok");
    let ca = make_ca("xp2p test CA");
    let ca_file = dir.write("ca.pem", &ca.cert.to_pem().unwrap());
    let mut server = MemServer::new(&ca, &["turn.test"]);
    let mut client = TlsClient::new(&tls_config("turn.test", Some(&ca_file))).unwrap();
    assert_eq!(client.state(), TlsState::Handshaking);
    // Sent during the handshake: waits for it.
    let (msgs, _) = sample();
    client.send(&msgs[3]).unwrap();
    client.send(&msgs[1]).unwrap();
    pump(&mut client, &mut server).unwrap();
    assert!(client.is_established());
    assert_eq!(server.received, vec![msgs[3].clone(), msgs[1].clone()]);
    for m in &msgs {
        server.send(m);
    }
    pump(&mut client, &mut server).unwrap();
    let mut got = Vec::new();
    while let Some(m) = client.poll_message() {
        got.push(m);
    }
    assert_eq!(got, msgs);
    // Not a TURN message: refused before anything is written.
    assert!(matches!(
        client.send(b"junk"),
        Err(TlsError::Framing(StreamError::NotAMessage))
    ));
    // Garbage inside the TLS stream breaks the connection clearly.
    server.stream.ssl_write(b"\xFFgarbage").unwrap();
    let r = pump(&mut client, &mut server);
    assert_eq!(r, Err(TlsError::Framing(StreamError::Garbage)));
    assert_eq!(client.state(), TlsState::Failed);
    assert!(client.send(&msgs[0]).is_err());
}

#[test]
fn tls_close_notify_both_ways() {
    let dir = TempDir::new("tls-close");
    let ca = make_ca("xp2p test CA");
    let ca_file = dir.write("ca.pem", &ca.cert.to_pem().unwrap());
    let mut server = MemServer::new(&ca, &["turn.test"]);
    let mut client = TlsClient::new(&tls_config("turn.test", Some(&ca_file))).unwrap();
    pump(&mut client, &mut server).unwrap();
    assert!(client.is_established());
    let _ = server.stream.shutdown();
    pump(&mut client, &mut server).unwrap();
    assert_eq!(client.state(), TlsState::Closed);
    assert_eq!(client.send(&sample().0[0]), Err(TlsError::Closed));
}

#[test]
fn tls_rejects_an_unknown_ca() {
    let dir = TempDir::new("tls-ca");
    let ca = make_ca("xp2p test CA");
    let other = make_ca("some other CA");
    let other_file = dir.write("other.pem", &other.cert.to_pem().unwrap());
    let mut server = MemServer::new(&ca, &["turn.test"]);
    let mut client = TlsClient::new(&tls_config("turn.test", Some(&other_file))).unwrap();
    let r = pump(&mut client, &mut server);
    let Err(TlsError::CertificateRejected(reason)) = r else {
        panic!("expected a rejected certificate, got {r:?}");
    };
    assert!(reason.contains("issuer"), "{reason}");
    assert_eq!(client.state(), TlsState::Failed);
    assert!(matches!(
        client.error(),
        Some(TlsError::CertificateRejected(_))
    ));
    // No CA file at all: the system store does not know the test CA.
    let mut server = MemServer::new(&ca, &["turn.test"]);
    let mut client = TlsClient::new(&tls_config("turn.test", None)).unwrap();
    assert!(matches!(
        pump(&mut client, &mut server),
        Err(TlsError::CertificateRejected(_))
    ));
}

#[test]
fn tls_rejects_a_certificate_for_another_name() {
    let dir = TempDir::new("tls-name");
    let ca = make_ca("xp2p test CA");
    let ca_file = dir.write("ca.pem", &ca.cert.to_pem().unwrap());
    let mut server = MemServer::new(&ca, &["turn.test"]);
    let mut client = TlsClient::new(&tls_config("other.test", Some(&ca_file))).unwrap();
    let r = pump(&mut client, &mut server);
    let Err(TlsError::CertificateRejected(reason)) = r else {
        panic!("expected a rejected certificate, got {r:?}");
    };
    assert!(reason.contains("hostname mismatch"), "{reason}");
}

#[test]
fn tls_config_errors_and_the_environment_knob() {
    let missing = TlsConfig {
        server_name: "turn.test".into(),
        extra_ca_file: Some("/nonexistent/xp2p-ca.pem".into()),
        system_roots: true,
    };
    assert!(matches!(TlsClient::new(&missing), Err(TlsError::Config(_))));
    let dir = TempDir::new("tls-env");
    let ca = make_ca("xp2p env CA");
    let ca_file = dir.write("ca.pem", &ca.cert.to_pem().unwrap());
    std::env::set_var(CA_FILE_ENV, &ca_file);
    let cfg = TlsConfig::from_env("turn.test");
    std::env::remove_var(CA_FILE_ENV);
    assert_eq!(cfg.extra_ca_file.as_deref(), Some(ca_file.as_path()));
    assert!(cfg.system_roots);
    // Only the test CA (no system store): still verifies.
    let mut only = cfg.clone();
    only.system_roots = false;
    let mut server = MemServer::new(&ca, &["turn.test"]);
    let mut client = TlsClient::new(&only).unwrap();
    pump(&mut client, &mut server).unwrap();
    assert!(client.is_established());
}

// ---- against coturn ----

const USER: &str = "alice";
const PASS: &str = "secret";
const REALM: &str = "xp2p.test";

struct Coturn {
    child: Child,
    tcp_port: u16,
    tls_port: u16,
    _dir: TempDir,
    ca_file: PathBuf,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn start_coturn() -> Coturn {
    let dir = TempDir::new("coturn");
    let ca = make_ca("xp2p coturn CA");
    let (cert, key) = make_leaf(&ca, &["localhost"], &["127.0.0.1"]);
    let ca_file = dir.write("ca.pem", &ca.cert.to_pem().unwrap());
    let cert_file = dir.write("cert.pem", &cert.to_pem().unwrap());
    let key_file = dir.write("key.pem", &key.private_key_to_pem_pkcs8().unwrap());
    let log = std::fs::File::create(dir.0.join("coturn.log")).unwrap();
    let tcp_port = free_tcp_port();
    let tls_port = free_tcp_port();
    let child = Command::new("turnserver")
        .args(["-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
        .arg(format!("--listening-port={tcp_port}"))
        .arg(format!("--tls-listening-port={tls_port}"))
        .arg(format!("--cert={}", cert_file.display()))
        .arg(format!("--pkey={}", key_file.display()))
        .args(["--lt-cred-mech", &format!("--user={USER}:{PASS}")])
        .arg(format!("--realm={REALM}"))
        .args([
            "--allow-loopback-peers",
            "--no-cli",
            "--no-dtls",
            "--no-udp",
        ])
        .args(["--log-file=stdout", "--simple-log"])
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("turnserver (coturn) must be installed: scripts/deps.sh");
    let c = Coturn {
        child,
        tcp_port,
        tls_port,
        _dir: dir,
        ca_file,
    };
    for _ in 0..100 {
        let up = |p| TcpStream::connect((Ipv4Addr::LOCALHOST, p)).is_ok();
        if up(c.tcp_port) && up(c.tls_port) {
            return c;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(c._dir.0.join("coturn.log")).unwrap_or_default();
    panic!("coturn did not start listening:\n{log}");
}

/// The two stream transports behind one interface.
enum Transport {
    Tcp(FrameDecoder),
    Tls(Box<TlsClient>),
}

impl Transport {
    /// Bytes for the socket carrying `msg`.
    fn send(&mut self, msg: &[u8]) -> Vec<u8> {
        match self {
            Transport::Tcp(_) => {
                let mut out = Vec::new();
                encode_frame(msg, &mut out).unwrap();
                out
            }
            Transport::Tls(t) => {
                t.send(msg).unwrap();
                self.ciphertext()
            }
        }
    }

    fn ciphertext(&mut self) -> Vec<u8> {
        match self {
            Transport::Tcp(_) => Vec::new(),
            Transport::Tls(t) => {
                let mut out = Vec::new();
                while let Some(c) = t.poll_ciphertext() {
                    out.extend(c);
                }
                out
            }
        }
    }

    /// Messages carried by bytes read from the socket.
    fn receive(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut msgs = Vec::new();
        match self {
            Transport::Tcp(d) => {
                d.feed(bytes).unwrap();
                while let Some(m) = d.poll().unwrap() {
                    msgs.push(m);
                }
            }
            Transport::Tls(t) => {
                t.feed_ciphertext(bytes).unwrap();
                while let Some(m) = t.poll_message() {
                    msgs.push(m);
                }
            }
        }
        msgs
    }
}

/// The TURN client, a transport and the TCP socket under them.
struct Session {
    client: TurnClient,
    transport: Transport,
    sock: TcpStream,
    server: SocketAddr,
    events: Vec<TurnEvent>,
}

impl Session {
    fn new(server: SocketAddr, transport: Transport) -> Session {
        let sock = TcpStream::connect(server).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        sock.set_nodelay(true).unwrap();
        let mut cfg = TurnConfig::new(server, USER, PASS);
        cfg.retransmit = STREAM_RETRANSMIT;
        let mut s = Session {
            client: TurnClient::new(cfg),
            transport,
            sock,
            server,
            events: Vec::new(),
        };
        let hello = s.transport.ciphertext();
        s.sock.write_all(&hello).unwrap();
        s
    }

    /// Writes the client's queued messages to the socket.
    fn flush(&mut self) {
        while let Some(d) = self.client.poll_transmit() {
            let bytes = self.transport.send(&d);
            self.sock.write_all(&bytes).unwrap();
        }
    }

    /// Runs the I/O until `done` holds for an event (then returns it) or
    /// 30 s pass.
    fn run_until(&mut self, done: impl Fn(&TurnEvent) -> bool) -> TurnEvent {
        let end = clock::now() + Duration::from_secs(30);
        let mut buf = [0u8; 8192];
        while clock::now() < end {
            let now = clock::now();
            if self.client.poll_timeout().is_some_and(|t| t <= now) {
                self.client.handle_timeout(now);
            }
            self.flush();
            let more = self.transport.ciphertext();
            if !more.is_empty() {
                self.sock.write_all(&more).unwrap();
            }
            while let Some(ev) = self.client.poll_event() {
                self.events.push(ev);
                if done(&ev) {
                    return ev;
                }
            }
            match self.sock.read(&mut buf) {
                Ok(0) => panic!("coturn closed the connection"),
                Ok(n) => {
                    for m in self.transport.receive(&buf[..n]) {
                        assert!(self.client.handle_datagram(clock::now(), self.server, &m));
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        panic!("timed out; events so far: {:?}", self.events);
    }
}

/// Allocation, permission, Send/Data indications, channel and ChannelData
/// through coturn over the given transport.
fn relay_round_trip(server: SocketAddr, transport: Transport) {
    let mut s = Session::new(server, transport);
    s.client.allocate(clock::now()).unwrap();
    let ev = s.run_until(|e| matches!(e, TurnEvent::Allocated { .. } | TurnEvent::Failed(_)));
    let TurnEvent::Allocated { relayed, .. } = ev else {
        panic!("allocation failed: {ev:?}");
    };
    assert_eq!(s.client.state(), TurnState::Allocated);
    assert_eq!(s.client.realm(), Some(REALM));

    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let peer_addr = peer.local_addr().unwrap();
    s.client
        .create_permission(clock::now(), peer_addr.ip())
        .unwrap();
    s.run_until(|e| matches!(e, TurnEvent::PermissionCreated(_)));

    // Send indication out, Data indication back.
    s.client
        .send_to(clock::now(), peer_addr, b"via Send indication")
        .unwrap();
    s.flush();
    let mut buf = [0u8; 2048];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"via Send indication");
    assert_eq!(from, relayed);
    peer.send_to(b"via Data indication", relayed).unwrap();
    s.run_until(|e| matches!(e, TurnEvent::Data { .. }));
    assert_eq!(
        s.client.recv(),
        Some((peer_addr, b"via Data indication".to_vec()))
    );

    // A channel; odd payload sizes exercise the stream padding.
    let number = s.client.bind_channel(clock::now(), peer_addr).unwrap();
    s.run_until(|e| matches!(e, TurnEvent::ChannelBound { .. }));
    assert_eq!(s.client.channel_for(peer_addr), Some(number));
    s.client
        .send_to(clock::now(), peer_addr, b"via ChannelData!")
        .unwrap();
    s.flush();
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"via ChannelData!");
    assert_eq!(from, relayed);
    for len in [1usize, 2, 3, 5, 1000] {
        let payload = vec![len as u8; len];
        peer.send_to(&payload, relayed).unwrap();
        s.run_until(|e| matches!(e, TurnEvent::Data { .. }));
        assert_eq!(s.client.recv(), Some((peer_addr, payload)));
    }
    let stats = s.client.stats();
    println!("{server}: relayed {relayed}, {stats:?}");
    assert!(stats.channel_data_sent >= 1);
    assert_eq!(stats.malformed, 0);
    assert_eq!(stats.retransmits, 0);
    assert_eq!(stats.integrity_failures, 0);

    // Deallocation.
    s.client.close(clock::now());
    s.run_until(|e| matches!(e, TurnEvent::Deallocated));
}

#[test]
fn coturn_over_tcp_and_tls() {
    let coturn = start_coturn();
    let tcp: SocketAddr = (Ipv4Addr::LOCALHOST, coturn.tcp_port).into();
    relay_round_trip(tcp, Transport::Tcp(FrameDecoder::new()));

    let tls: SocketAddr = (Ipv4Addr::LOCALHOST, coturn.tls_port).into();
    for name in ["localhost", "127.0.0.1"] {
        let cfg = tls_config(name, Some(&coturn.ca_file));
        let client = TlsClient::new(&cfg).unwrap();
        relay_round_trip(tls, Transport::Tls(Box::new(client)));
    }

    // The same server with a name its certificate does not carry.
    let mut s = Session::new(
        tls,
        Transport::Tls(Box::new(
            TlsClient::new(&tls_config("turn.invalid", Some(&coturn.ca_file))).unwrap(),
        )),
    );
    let Transport::Tls(t) = &mut s.transport else {
        unreachable!()
    };
    let mut buf = [0u8; 8192];
    let mut r = Ok(());
    let end = clock::now() + Duration::from_secs(30);
    while r.is_ok() && clock::now() < end {
        if let Ok(n) = s.sock.read(&mut buf) {
            r = t.feed_ciphertext(&buf[..n]);
        }
    }
    assert!(
        matches!(&r, Err(TlsError::CertificateRejected(m)) if m.contains("hostname")),
        "{r:?}"
    );
}
