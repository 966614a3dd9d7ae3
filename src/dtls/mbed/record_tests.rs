//! The mbedTLS session's own record protection (`records.rs`) against
//! another mbedTLS session and against OpenSSL's DTLS (the `openssl` crate,
//! a dev-dependency), sans-IO: records sealed here must open in OpenSSL and
//! the other way round, replayed, forged and truncated records are dropped
//! and counted, and close_notify after application data still gets through.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Instant;

use openssl::pkey::PKey;
use openssl::ssl::{
    ErrorCode, Ssl, SslContextBuilder, SslMethod, SslOptions, SslStream, SslVerifyMode, SslVersion,
};
use openssl::x509::X509;

use super::records::RecordStats;
use crate::dtls::{Certificate, DtlsConfig, DtlsEvent, DtlsRole, DtlsSession, DtlsState};

fn now() -> Instant {
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

fn session(role: DtlsRole) -> DtlsSession {
    DtlsSession::new(DtlsConfig::new(role, Certificate::generate().unwrap())).unwrap()
}

/// Two mbedTLS sessions, connected.
fn mbed_pair() -> (DtlsSession, DtlsSession) {
    let t = now();
    let mut c = session(DtlsRole::Client);
    let mut s = session(DtlsRole::Server);
    s.start(t).unwrap();
    c.start(t).unwrap();
    for _ in 0..20 {
        while let Some(d) = c.poll_transmit() {
            s.handle_datagram(t, &d);
        }
        while let Some(d) = s.poll_transmit() {
            c.handle_datagram(t, &d);
        }
    }
    assert_eq!(c.state(), DtlsState::Connected, "{:?}", c.poll_event());
    assert_eq!(s.state(), DtlsState::Connected, "{:?}", s.poll_event());
    (c, s)
}

fn messages(s: &mut DtlsSession) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.recv_vec()).collect()
}

/// Sends `msg` from `a` and returns the one datagram it became.
fn one_datagram(a: &mut DtlsSession, msg: &[u8]) -> Vec<u8> {
    a.send(msg).unwrap();
    let d = a.poll_transmit().expect("a datagram");
    assert!(a.poll_transmit().is_none(), "one record, one datagram");
    d
}

/// Record number (epoch << 48 | sequence) of a datagram's first record.
fn record_number(d: &[u8]) -> u64 {
    u64::from_be_bytes(d[3..11].try_into().unwrap())
}

#[test]
fn mbed_pair_seals_and_opens_application_data_itself() {
    let (mut c, mut s) = mbed_pair();
    assert_eq!(c.cipher_name(), Some("ECDHE-ECDSA-AES128-GCM-SHA256"));
    let t = now();
    for i in 0..20u8 {
        let d = one_datagram(&mut c, &[i; 1000]);
        assert_eq!(d.len(), 13 + 8 + 1000 + 16, "header, nonce, data, tag");
        assert_eq!(&d[13..21], &d[3..11], "explicit nonce = epoch || seq");
        s.handle_datagram(t, &d);
        let d = one_datagram(&mut s, &[i; 7]);
        c.handle_datagram(t, &d);
    }
    let got = messages(&mut s);
    assert_eq!(got.len(), 20);
    assert!(got.iter().enumerate().all(|(i, m)| m == &[i as u8; 1000]));
    assert_eq!(messages(&mut c).len(), 20);
    let both = RecordStats {
        sealed: 20,
        opened: 20,
        replayed: 0,
        forged: 0,
    };
    assert_eq!(c.record_stats(), both);
    assert_eq!(s.record_stats(), both);
}

#[test]
fn replayed_forged_and_truncated_records_are_dropped_and_counted() {
    let (mut c, mut s) = mbed_pair();
    let t = now();
    let first = one_datagram(&mut c, b"first");
    let second = one_datagram(&mut c, b"second");
    s.handle_datagram(t, &second);
    s.handle_datagram(t, &first); // reordered: still fresh
    assert_eq!(
        messages(&mut s),
        vec![b"second".to_vec(), b"first".to_vec()]
    );

    // Replays, in and out of order.
    s.handle_datagram(t, &first);
    s.handle_datagram(t, &second);
    assert_eq!(s.record_stats().replayed, 2);

    // Flipped bits: header (sequence number to an unseen one, version),
    // explicit nonce, ciphertext, tag.
    let fresh = one_datagram(&mut c, b"a message to tamper with");
    let mut forged_count = 0;
    for at in [10, 8, 2, 14, 13 + 8 + 3, fresh.len() - 1] {
        let mut bad = fresh.clone();
        bad[at] ^= 0x40;
        s.handle_datagram(t, &bad);
        forged_count += 1;
    }
    // Another epoch: not ours, mbedTLS drops it.
    let mut other_epoch = fresh.clone();
    other_epoch[4] ^= 0x01;
    s.handle_datagram(t, &other_epoch);
    // Truncated by one byte with the length field adjusted: fails the tag.
    let mut cut = fresh[..fresh.len() - 1].to_vec();
    let len = u16::from_be_bytes([cut[11], cut[12]]) - 1;
    cut[11..13].copy_from_slice(&len.to_be_bytes());
    s.handle_datagram(t, &cut);
    forged_count += 1;
    assert_eq!(s.record_stats().forged, forged_count);
    // Truncated without adjusting the length: not a record at all.
    let malformed = s.stats().malformed;
    s.handle_datagram(t, &fresh[..fresh.len() - 5]);
    assert_eq!(s.stats().malformed, malformed + 1);
    assert!(messages(&mut s).is_empty(), "nothing tampered got through");

    // The genuine record still opens after all that: a failed record does
    // not mark its number as seen.
    s.handle_datagram(t, &fresh);
    assert_eq!(messages(&mut s), vec![b"a message to tamper with".to_vec()]);
    assert_eq!(s.state(), DtlsState::Connected);
    assert_eq!(s.stats().messages_received, 3);
    assert_eq!(s.record_stats().opened, 3);

    // Far behind the window (64 records): dropped as a replay.
    for i in 0..70u8 {
        let d = one_datagram(&mut c, &[i]);
        s.handle_datagram(t, &d);
    }
    let replayed = s.record_stats().replayed;
    let stale = first.clone();
    s.handle_datagram(t, &stale);
    assert_eq!(s.record_stats().replayed, replayed + 1);
    assert_eq!(messages(&mut s).len(), 70);
}

#[test]
fn close_notify_follows_application_data_in_the_same_sequence_space() {
    let (mut c, mut s) = mbed_pair();
    let t = now();
    let mut last = 0;
    for _ in 0..5 {
        let d = one_datagram(&mut c, b"data");
        last = record_number(&d);
        s.handle_datagram(t, &d);
    }
    c.close();
    let alert = c.poll_transmit().expect("close_notify");
    assert_eq!(alert[0], 21, "an alert record");
    assert_eq!(record_number(&alert), last + 1, "the next record number");
    s.handle_datagram(t, &alert);
    assert_eq!(messages(&mut s).len(), 5);
    assert_eq!(s.state(), DtlsState::Closed);
    let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert!(events.contains(&DtlsEvent::Closed), "{events:?}");
    // The answer to close_notify also follows the server's own records.
    let mut c2 = mbed_pair();
    let d = one_datagram(&mut c2.1, b"x");
    c2.0.handle_datagram(t, &d);
    c2.0.close();
    let alert = c2.0.poll_transmit().unwrap();
    c2.1.handle_datagram(t, &alert);
    let answer = c2.1.poll_transmit().expect("close_notify answered");
    assert_eq!(record_number(&answer), record_number(&d) + 1);
}

// ---- against OpenSSL ----

/// OpenSSL's transport: every write one datagram, every read one datagram.
#[derive(Default)]
struct Datagrams {
    inbox: VecDeque<Vec<u8>>,
    outbox: Vec<Vec<u8>>,
}

impl Read for Datagrams {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let d = self.inbox.pop_front().ok_or(io::ErrorKind::WouldBlock)?;
        let n = d.len().min(buf.len());
        buf[..n].copy_from_slice(&d[..n]);
        Ok(n)
    }
}

impl Write for Datagrams {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbox.push(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct OpensslPeer {
    tls: SslStream<Datagrams>,
    connected: bool,
    received: Vec<Vec<u8>>,
    closed: bool,
}

impl OpensslPeer {
    fn new(server: bool, cipher: &str) -> OpensslPeer {
        let cert = Certificate::generate().unwrap();
        let mut b = SslContextBuilder::new(SslMethod::dtls()).unwrap();
        b.set_min_proto_version(Some(SslVersion::DTLS1_2)).unwrap();
        b.set_max_proto_version(Some(SslVersion::DTLS1_2)).unwrap();
        b.set_cipher_list(cipher).unwrap();
        b.set_certificate(&X509::from_der(cert.der()).unwrap())
            .unwrap();
        b.set_private_key(&PKey::private_key_from_der(cert.key_der()).unwrap())
            .unwrap();
        b.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            |_, _| true,
        );
        b.set_options(SslOptions::NO_QUERY_MTU);
        let mut ssl = Ssl::new(&b.build()).unwrap();
        ssl.set_mtu(1200).unwrap();
        if server {
            ssl.set_accept_state();
        } else {
            ssl.set_connect_state();
        }
        OpensslPeer {
            tls: SslStream::new(ssl, Datagrams::default()).unwrap(),
            connected: false,
            received: Vec::new(),
            closed: false,
        }
    }

    /// Runs OpenSSL over what arrived.
    fn step(&mut self) {
        if !self.connected {
            match self.tls.do_handshake() {
                Ok(()) => self.connected = true,
                Err(e) if e.code() == ErrorCode::WANT_READ => return,
                Err(e) => panic!("OpenSSL handshake: {e}"),
            }
        }
        let mut buf = vec![0u8; 65536];
        loop {
            match self.tls.ssl_read(&mut buf) {
                Ok(n) => self.received.push(buf[..n].to_vec()),
                Err(e) if e.code() == ErrorCode::WANT_READ => break,
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.closed = true;
                    break;
                }
                Err(e) => panic!("OpenSSL read: {e}"),
            }
        }
    }
}

/// Moves datagrams both ways until neither side has anything to say.
fn pump(m: &mut DtlsSession, o: &mut OpensslPeer) {
    let t = now();
    for _ in 0..100 {
        let mut moved = false;
        while let Some(d) = m.poll_transmit() {
            o.tls.get_mut().inbox.push_back(d);
            moved = true;
        }
        o.step();
        for d in std::mem::take(&mut o.tls.get_mut().outbox) {
            m.handle_datagram(t, &d);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn against_openssl(mbed_role: DtlsRole, cipher: &str, ours: bool) {
    let mut m = session(mbed_role);
    let mut o = OpensslPeer::new(mbed_role == DtlsRole::Client, cipher);
    m.start(now()).unwrap();
    pump(&mut m, &mut o);
    assert_eq!(m.state(), DtlsState::Connected, "{:?}", m.poll_event());
    assert!(o.connected, "OpenSSL connected");
    assert_eq!(m.cipher_name(), Some(cipher));
    let max = m.max_payload();
    assert!(max >= 1100, "{max}");
    let sizes = [1, 100, max, 999, max];
    for (i, &n) in sizes.iter().enumerate() {
        m.send(&vec![i as u8; n]).unwrap();
        let msg = vec![0x80 | i as u8; n];
        o.tls.ssl_write(&msg).unwrap();
    }
    pump(&mut m, &mut o);
    let from_mbed: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| vec![i as u8; n])
        .collect();
    assert_eq!(o.received, from_mbed, "OpenSSL opened what we sealed");
    let from_openssl: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| vec![0x80 | i as u8; n])
        .collect();
    assert_eq!(
        messages(&mut m),
        from_openssl,
        "we opened what OpenSSL sealed"
    );
    let n = sizes.len() as u64;
    let expected = if ours {
        RecordStats {
            sealed: n,
            opened: n,
            ..RecordStats::default()
        }
    } else {
        RecordStats::default()
    };
    assert_eq!(m.record_stats(), expected, "{cipher}");
    // close_notify after data, from us: OpenSSL takes it (its replay
    // window would drop a reused record number).
    m.close();
    pump(&mut m, &mut o);
    assert!(o.closed, "OpenSSL saw close_notify ({cipher})");
}

#[test]
fn client_against_openssl_aes128_gcm() {
    against_openssl(DtlsRole::Client, "ECDHE-ECDSA-AES128-GCM-SHA256", true);
}

#[test]
fn server_against_openssl_aes128_gcm() {
    against_openssl(DtlsRole::Server, "ECDHE-ECDSA-AES128-GCM-SHA256", true);
}

#[test]
fn client_against_openssl_aes256_gcm() {
    against_openssl(DtlsRole::Client, "ECDHE-ECDSA-AES256-GCM-SHA384", true);
}

#[test]
fn server_against_openssl_aes256_gcm() {
    against_openssl(DtlsRole::Server, "ECDHE-ECDSA-AES256-GCM-SHA384", true);
}

#[test]
fn chacha20_stays_with_mbedtls() {
    against_openssl(DtlsRole::Client, "ECDHE-ECDSA-CHACHA20-POLY1305", false);
    against_openssl(DtlsRole::Server, "ECDHE-ECDSA-CHACHA20-POLY1305", false);
}

#[test]
fn openssl_close_notify_after_data_closes_us() {
    let mut m = session(DtlsRole::Server);
    let mut o = OpensslPeer::new(false, "ECDHE-ECDSA-AES128-GCM-SHA256");
    m.start(now()).unwrap();
    pump(&mut m, &mut o);
    assert_eq!(m.state(), DtlsState::Connected);
    for _ in 0..3 {
        m.send(b"ping").unwrap();
        o.tls.ssl_write(b"pong").unwrap();
    }
    pump(&mut m, &mut o);
    assert_eq!(o.received.len(), 3);
    let _ = o.tls.shutdown();
    pump(&mut m, &mut o);
    assert_eq!(messages(&mut m).len(), 3);
    assert_eq!(m.state(), DtlsState::Closed);
    assert!(o.closed, "our answering close_notify reached OpenSSL");
}
