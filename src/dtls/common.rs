//! What both DTLS backends share: limits, configuration, counters, the
//! receive queue and the record framing check.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Certificate, DtlsError, DtlsRole, Fingerprint};

/// Default datagram size limit: fits a 1280-byte IPv6 path with room for
/// UDP, TURN ChannelData or a STUN header.
pub const DEFAULT_MTU: usize = 1200;
/// Smallest MTU accepted (OpenSSL's minimum for DTLS 1.2).
pub const MIN_MTU: usize = 256;
/// Largest datagram accepted as input (a UDP payload).
pub(crate) const MAX_DATAGRAM: usize = 65_535;
/// Default overall handshake timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default first retransmission timeout (RFC 6347 §4.2.4.1).
pub const DEFAULT_RETRANSMIT_INITIAL: Duration = Duration::from_secs(1);
/// Received application bytes queued before further records are dropped.
pub const MAX_RECV_QUEUE_BYTES: usize = 1 << 20;
/// Outgoing datagrams queued before `send` reports `QueueFull`.
pub const MAX_SEND_QUEUE_DATAGRAMS: usize = 1024;
/// Datagrams kept from before `start` (a peer that starts first).
pub(crate) const MAX_EARLY_DATAGRAMS: usize = 8;
/// Largest plaintext of one record (RFC 6347 §4.1: 2^14): the cap of
/// [`DtlsSession::max_payload`](crate::dtls::DtlsSession::max_payload)
/// whatever the MTU.
pub const MAX_RECORD_PLAINTEXT: usize = 16_384;
/// Largest record body: 2^14 plaintext + 2048 expansion (RFC 6347 §4.1).
pub(crate) const MAX_RECORD_BODY: usize = 16_384 + 2_048;
/// DTLS record header: type, version, epoch, sequence, length.
pub(crate) const RECORD_HEADER_LEN: usize = 13;
/// Decrypted record buffer size (largest plaintext).
pub(crate) const SCRATCH_LEN: usize = 16_384;
/// AEAD authentication tag of every offered suite.
pub(crate) const AEAD_TAG_LEN: usize = 16;
/// Explicit per-record nonce of the AES-GCM suites (RFC 5288).
pub(crate) const GCM_EXPLICIT_NONCE_LEN: usize = 8;

/// How a session is set up.
#[derive(Debug, Clone)]
pub struct DtlsConfig {
    pub role: DtlsRole,
    /// Our certificate; clones share it.
    pub certificate: Certificate,
    /// The peer's certificate must have this SHA-256 fingerprint. `None`
    /// accepts any certificate (the peer must still present one).
    pub remote_fingerprint: Option<Fingerprint>,
    /// Largest datagram the session emits, including record headers.
    pub mtu: usize,
    /// The handshake fails if not done this long after `start`.
    pub handshake_timeout: Duration,
    /// First handshake retransmission timeout; doubles on each expiry.
    pub retransmit_initial: Duration,
}

impl DtlsConfig {
    /// Defaults: any peer certificate, MTU 1200, 10 s handshake timeout,
    /// 1 s first retransmission.
    pub fn new(role: DtlsRole, certificate: Certificate) -> DtlsConfig {
        DtlsConfig {
            role,
            certificate,
            remote_fingerprint: None,
            mtu: DEFAULT_MTU,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            retransmit_initial: DEFAULT_RETRANSMIT_INITIAL,
        }
    }
}

/// Counters of what a session did with its input and output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DtlsStats {
    /// Datagrams handed to `handle_datagram`.
    pub datagrams_in: u64,
    /// Datagrams handed out by `poll_transmit`.
    pub datagrams_out: u64,
    /// Input dropped before OpenSSL saw it: not a well-formed sequence of
    /// DTLS records.
    pub malformed: u64,
    /// Input dropped because the session was failed or closed, or too much
    /// arrived before `start`.
    pub ignored: u64,
    /// Decrypted application messages dropped because the receive queue
    /// was full.
    pub recv_overflow: u64,
    /// Handshake flights OpenSSL retransmitted.
    pub retransmits: u64,
    /// Application messages sent and received.
    pub messages_sent: u64,
    pub messages_received: u64,
}

/// Received application messages, stored back to back without an
/// allocation per message.
#[derive(Debug, Default)]
pub(crate) struct RecvQueue {
    bytes: VecDeque<u8>,
    lens: VecDeque<usize>,
}

impl RecvQueue {
    pub(crate) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// Queues a message; false if the queue is full.
    pub(crate) fn push(&mut self, msg: &[u8]) -> bool {
        if self.bytes.len() + msg.len() > MAX_RECV_QUEUE_BYTES {
            return false;
        }
        self.bytes.extend(msg);
        self.lens.push_back(msg.len());
        true
    }

    pub(crate) fn front_len(&self) -> Option<usize> {
        self.lens.front().copied()
    }

    /// Takes the next message and hands it to `f`: lent from the queue
    /// where it lies in one piece (the usual case: a queue emptied after
    /// each datagram starts over at its front), else copied through
    /// `scratch` first. Whether there was a message; a `scratch` too small
    /// for one that wraps leaves it queued.
    pub(crate) fn pop_with(
        &mut self,
        scratch: &mut [u8],
        f: impl FnOnce(&[u8]),
    ) -> Result<bool, DtlsError> {
        let Some(len) = self.front_len() else {
            return Ok(false);
        };
        let (a, _) = self.bytes.as_slices();
        if a.len() >= len {
            f(&a[..len]);
            self.bytes.drain(..len);
        } else {
            let Some(n) = self.pop_into(scratch)? else {
                return Ok(false);
            };
            f(&scratch[..n]);
            return Ok(true);
        }
        self.lens.pop_front();
        if self.lens.is_empty() {
            // Back to the front of the buffer: the next message is whole.
            self.bytes.clear();
        }
        Ok(true)
    }

    pub(crate) fn pop_into(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DtlsError> {
        let Some(len) = self.front_len() else {
            return Ok(None);
        };
        if buf.len() < len {
            return Err(DtlsError::BufferTooSmall { needed: len });
        }
        let (a, b) = self.bytes.as_slices();
        let first = a.len().min(len);
        buf[..first].copy_from_slice(&a[..first]);
        buf[first..len].copy_from_slice(&b[..len - first]);
        self.bytes.drain(..len);
        self.lens.pop_front();
        if self.lens.is_empty() {
            self.bytes.clear();
        }
        Ok(Some(len))
    }
}

/// True if `data` is one or more complete DTLS records with a known content
/// type (change_cipher_spec, alert, handshake, application_data), a DTLS
/// version, and, for protected records (epoch > 0), a body of at least
/// `min_protected` bytes.
pub(crate) fn records_well_formed(data: &[u8], min_protected: usize) -> bool {
    if data.is_empty() || data.len() > MAX_DATAGRAM {
        return false;
    }
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < RECORD_HEADER_LEN {
            return false;
        }
        if !(20..=23).contains(&rest[0]) || rest[1] != 0xfe {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([rest[11], rest[12]]));
        if len > MAX_RECORD_BODY || rest.len() < RECORD_HEADER_LEN + len {
            return false;
        }
        let epoch = u16::from_be_bytes([rest[3], rest[4]]);
        if epoch != 0 && len < min_protected {
            return false;
        }
        rest = &rest[RECORD_HEADER_LEN + len..];
    }
    true
}

/// The earlier of two optional deadlines (a session's handshake timeout and
/// its retransmission timer).
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtls::{DtlsSession, DtlsState};
    use std::time::Instant;

    /// A message taken as it arrived (pushed, then popped: what a
    /// PeerConnection does per datagram) is lent from the queue: no
    /// scratch space is needed. One that lies across the ring's end is
    /// copied through the scratch buffer, whole.
    #[test]
    fn recv_queue_lends_whole_messages() {
        let mut q = RecvQueue::default();
        for i in 0..50u8 {
            let msg = vec![i; 1000 + usize::from(i)];
            assert!(q.push(&msg));
            let mut got = Vec::new();
            assert_eq!(q.pop_with(&mut [], |m| got = m.to_vec()), Ok(true));
            assert_eq!(got, msg);
        }
        assert_eq!(q.pop_with(&mut [], |_| panic!("empty queue")), Ok(false));
        // Two queued: the second may wrap; through scratch it arrives whole.
        let mut scratch = vec![0; 4096];
        for i in 0..20u8 {
            assert!(q.push(&[i; 1500]));
            assert!(q.push(&[i + 100; 700]));
            let mut got = Vec::new();
            while q.pop_with(&mut scratch, |m| got.push(m.to_vec())) == Ok(true) {}
            assert_eq!(got, vec![vec![i; 1500], vec![i + 100; 700]]);
        }
    }

    fn rec(ct: u8, body: usize) -> Vec<u8> {
        let mut v = vec![ct, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1];
        v.extend_from_slice(&(body as u16).to_be_bytes());
        v.extend(std::iter::repeat_n(0xaa, body));
        v
    }

    fn records_well_formed_test(data: &[u8]) -> bool {
        records_well_formed(data, 24)
    }

    #[test]
    fn record_framing() {
        assert!(records_well_formed_test(&rec(22, 10)));
        let mut two = rec(20, 1);
        two.extend(rec(22, 40));
        assert!(records_well_formed_test(&two));
        assert!(records_well_formed_test(&rec(23, 0)));
        assert!(!records_well_formed_test(&[]));
        assert!(!records_well_formed_test(&rec(24, 3)));
        assert!(!records_well_formed_test(&rec(19, 3)));
        let mut short = rec(22, 10);
        short.pop();
        assert!(!records_well_formed_test(&short));
        let mut trailing = rec(22, 10);
        trailing.push(0x16);
        assert!(!records_well_formed_test(&trailing));
        let mut tls = rec(22, 10);
        tls[1] = 0x03;
        assert!(!records_well_formed_test(&tls));
        // Protected records shorter than nonce + tag.
        let mut short_protected = rec(21, 18);
        short_protected[4] = 1;
        assert!(!records_well_formed_test(&short_protected));
        assert!(records_well_formed(&short_protected, 16), "fits ChaCha20");
        let mut ok_protected = rec(23, 24);
        ok_protected[4] = 1;
        assert!(records_well_formed_test(&ok_protected));
    }

    #[test]
    fn recv_queue_wraps_and_bounds() {
        let mut q = RecvQueue::default();
        let mut buf = [0u8; 8];
        for round in 0..50u8 {
            assert!(q.push(&[round; 5]));
            assert!(q.push(&[round + 1; 3]));
            assert_eq!(
                q.pop_into(&mut buf[..2]),
                Err(DtlsError::BufferTooSmall { needed: 5 })
            );
            assert_eq!(q.pop_into(&mut buf), Ok(Some(5)));
            assert_eq!(&buf[..5], &[round; 5]);
            assert_eq!(q.pop_into(&mut buf), Ok(Some(3)));
            assert_eq!(&buf[..3], &[round + 1; 3]);
        }
        assert_eq!(q.pop_into(&mut buf), Ok(None));
        let big = vec![1u8; MAX_RECV_QUEUE_BYTES];
        assert!(q.push(&big));
        assert!(!q.push(&[1]));
    }

    #[test]
    fn session_moves_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<DtlsSession>();
        assert_send::<DtlsConfig>();
    }

    #[test]
    fn config_validation() {
        let cert = Certificate::generate().unwrap();
        let mut cfg = DtlsConfig::new(DtlsRole::Client, cert);
        cfg.mtu = 100;
        assert_eq!(
            DtlsSession::new(cfg.clone()).unwrap_err(),
            DtlsError::InvalidConfig("mtu")
        );
        cfg.mtu = DEFAULT_MTU;
        cfg.handshake_timeout = Duration::ZERO;
        assert_eq!(
            DtlsSession::new(cfg).unwrap_err(),
            DtlsError::InvalidConfig("handshake_timeout")
        );
    }

    #[test]
    fn role_changes_only_before_start() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let cert = Certificate::generate().unwrap();
        let mut s = DtlsSession::new(DtlsConfig::new(DtlsRole::Client, cert.clone())).unwrap();
        assert_eq!(s.state(), DtlsState::New);
        assert_eq!(s.send(b"x"), Err(DtlsError::NotConnected));
        s.set_role(DtlsRole::Server).unwrap();
        assert_eq!(s.role(), DtlsRole::Server);
        assert_eq!(s.local_fingerprint(), cert.fingerprint());
        s.start(now).unwrap();
        assert_eq!(s.state(), DtlsState::Connecting);
        assert!(s.poll_transmit().is_none(), "a server waits");
        assert_eq!(s.set_role(DtlsRole::Client), Err(DtlsError::InvalidState));
        assert_eq!(s.start(now), Err(DtlsError::InvalidState));
        assert_eq!(s.poll_timeout(), Some(now + DEFAULT_HANDSHAKE_TIMEOUT));
    }

    #[test]
    fn client_hello_fits_mtu_and_arms_timer() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let cert = Certificate::generate().unwrap();
        let mut s = DtlsSession::new(DtlsConfig::new(DtlsRole::Client, cert)).unwrap();
        s.start(now).unwrap();
        let hello = s.poll_transmit().expect("ClientHello");
        assert!(hello.len() <= DEFAULT_MTU);
        assert_eq!(hello[0], 22, "handshake record");
        let t = s.poll_timeout().expect("deadline");
        assert!(t > now && t <= now + DEFAULT_RETRANSMIT_INITIAL);
    }
}
