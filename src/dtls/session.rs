//! The DTLS session state machine over OpenSSL.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::ssl::{
    ErrorCode, SslContext, SslMethod, SslOptions, SslSessionCacheMode, SslStream, SslVerifyMode,
    SslVersion,
};

use super::common::{
    earliest, records_well_formed, DtlsConfig, DtlsStats, RecvQueue, AEAD_TAG_LEN,
    GCM_EXPLICIT_NONCE_LEN, MAX_DATAGRAM, MAX_EARLY_DATAGRAMS, MAX_RECORD_PLAINTEXT,
    MAX_SEND_QUEUE_DATAGRAMS, MIN_MTU, SCRATCH_LEN,
};
use super::ossl::{self, TimeoutOutcome};
use super::pipe::Pipe;
use super::{Certificate, DtlsError, DtlsEvent, DtlsFailure, DtlsRole, DtlsState, Fingerprint};

/// The cipher suites offered and accepted.
const CIPHERS: &str =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305";

/// One DTLS 1.2 connection, sans-IO.
///
/// Feed it with [`handle_datagram`](Self::handle_datagram) and
/// [`handle_timeout`](Self::handle_timeout); after every call drain
/// [`poll_transmit`](Self::poll_transmit) and
/// [`poll_event`](Self::poll_event), and arm a timer for
/// [`poll_timeout`](Self::poll_timeout).
pub struct DtlsSession {
    stream: SslStream<Pipe>,
    role: DtlsRole,
    state: DtlsState,
    certificate: Certificate,
    expected: Option<Fingerprint>,
    /// Set by the verify callback when the peer certificate is rejected.
    mismatch: Arc<AtomicBool>,
    remote_fingerprint: Option<Fingerprint>,
    mtu: usize,
    max_payload: usize,
    handshake_timeout: Duration,
    handshake_deadline: Option<Instant>,
    retransmit_deadline: Option<Instant>,
    early: VecDeque<Vec<u8>>,
    events: VecDeque<DtlsEvent>,
    recv: RecvQueue,
    scratch: Box<[u8]>,
    stats: DtlsStats,
}

impl std::fmt::Debug for DtlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsSession")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("local", &self.certificate.fingerprint())
            .field("remote", &self.remote_fingerprint)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl DtlsSession {
    /// Builds the OpenSSL context and session; nothing is sent until
    /// [`start`](Self::start).
    pub fn new(cfg: DtlsConfig) -> Result<DtlsSession, DtlsError> {
        crate::logging::init();
        if cfg.mtu < MIN_MTU || cfg.mtu > MAX_DATAGRAM {
            return Err(DtlsError::InvalidConfig("mtu"));
        }
        if cfg.handshake_timeout.is_zero() {
            return Err(DtlsError::InvalidConfig("handshake_timeout"));
        }
        if cfg.retransmit_initial.is_zero() {
            return Err(DtlsError::InvalidConfig("retransmit_initial"));
        }
        let mismatch = Arc::new(AtomicBool::new(false));
        let stream =
            build_stream(&cfg, mismatch.clone()).map_err(|e| DtlsError::Crypto(e.to_string()))?;
        Ok(DtlsSession {
            stream,
            role: cfg.role,
            state: DtlsState::New,
            certificate: cfg.certificate,
            expected: cfg.remote_fingerprint,
            mismatch,
            remote_fingerprint: None,
            mtu: cfg.mtu,
            max_payload: 0,
            handshake_timeout: cfg.handshake_timeout,
            handshake_deadline: None,
            retransmit_deadline: None,
            early: VecDeque::new(),
            events: VecDeque::new(),
            recv: RecvQueue::default(),
            scratch: vec![0u8; SCRATCH_LEN].into_boxed_slice(),
            stats: DtlsStats::default(),
        })
    }

    pub fn state(&self) -> DtlsState {
        self.state
    }

    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// Changes the role; only before [`start`](Self::start). The certificate
    /// (and so the fingerprint) stays the same.
    pub fn set_role(&mut self, role: DtlsRole) -> Result<(), DtlsError> {
        if self.state != DtlsState::New {
            return Err(DtlsError::InvalidState);
        }
        self.role = role;
        Ok(())
    }

    /// Our certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Our certificate's fingerprint.
    pub fn local_fingerprint(&self) -> Fingerprint {
        self.certificate.fingerprint()
    }

    /// The fingerprint of the certificate the peer presented, once the
    /// handshake has completed (also set when it completed with a
    /// certificate that did not match).
    pub fn remote_fingerprint(&self) -> Option<Fingerprint> {
        self.remote_fingerprint
    }

    /// The negotiated cipher suite (OpenSSL name) once connected.
    pub fn cipher_name(&self) -> Option<&'static str> {
        if self.state != DtlsState::Connected {
            return None;
        }
        self.stream.ssl().current_cipher().map(|c| c.name())
    }

    /// The negotiated protocol version, e.g. `"DTLSv1.2"`.
    pub fn protocol_version(&self) -> &'static str {
        self.stream.ssl().version_str()
    }

    /// Largest message [`send`](Self::send) accepts: one record in one
    /// datagram of the MTU with the negotiated cipher. 0 before connected.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Changes the datagram size limit at any time (path MTU discovery):
    /// records written from now on fit `mtu` bytes, and once connected
    /// [`max_payload`](Self::max_payload) follows (at most
    /// [`MAX_RECORD_PLAINTEXT`]). [`DtlsError::InvalidConfig`] outside
    /// [`MIN_MTU`]..=65535.
    pub fn set_mtu(&mut self, mtu: usize) -> Result<(), DtlsError> {
        if !(MIN_MTU..=MAX_DATAGRAM).contains(&mtu) || !ossl::set_mtu(self.stream.ssl(), mtu) {
            return Err(DtlsError::InvalidConfig("mtu"));
        }
        self.mtu = mtu;
        if self.state == DtlsState::Connected {
            self.update_max_payload();
        }
        Ok(())
    }

    /// Recomputes [`max_payload`](Self::max_payload) from the MTU and the
    /// negotiated cipher.
    fn update_max_payload(&mut self) {
        let data_mtu = ossl::data_mtu(self.stream.ssl());
        // 13-byte header, 8-byte explicit nonce and 16-byte tag for AES-GCM,
        // the largest overhead of the offered suites.
        let payload = if data_mtu > 0 {
            data_mtu.min(self.mtu)
        } else {
            self.mtu - 37
        };
        self.max_payload = payload.min(MAX_RECORD_PLAINTEXT);
    }

    pub fn stats(&self) -> DtlsStats {
        self.stats
    }

    /// Starts the handshake: a client sends its ClientHello, a server
    /// waits (and answers datagrams that arrived before the start).
    pub fn start(&mut self, now: Instant) -> Result<(), DtlsError> {
        if self.state != DtlsState::New {
            return Err(DtlsError::InvalidState);
        }
        self.state = DtlsState::Connecting;
        log::info!(target: "dtls", "handshake started as {:?}", self.role);
        self.handshake_deadline = Some(now + self.handshake_timeout);
        let r = match self.role {
            DtlsRole::Client => self.stream.connect(),
            DtlsRole::Server => self.stream.accept(),
        };
        self.after_handshake_step(r);
        while let Some(d) = self.early.pop_front() {
            if self.state != DtlsState::Connecting && self.state != DtlsState::Connected {
                break;
            }
            self.process(&d);
        }
        self.update_timer(now);
        Ok(())
    }

    /// One datagram from the peer (already demultiplexed as DTLS). Never
    /// fails: anything malformed is dropped and counted.
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        self.stats.datagrams_in += 1;
        if !records_well_formed(data, self.min_protected_record()) {
            log::debug!(target: "dtls", "dropped a malformed datagram ({} bytes)", data.len());
            self.stats.malformed += 1;
            return;
        }
        match self.state {
            DtlsState::New => {
                if self.early.len() < MAX_EARLY_DATAGRAMS {
                    self.early.push_back(data.to_vec());
                } else {
                    self.stats.ignored += 1;
                }
                return;
            }
            DtlsState::Failed | DtlsState::Closed => {
                self.stats.ignored += 1;
                return;
            }
            DtlsState::Connecting | DtlsState::Connected => {}
        }
        self.process(data);
        self.update_timer(now);
    }

    /// Handles the deadline reported by [`poll_timeout`](Self::poll_timeout):
    /// the overall handshake timeout, and OpenSSL's retransmission.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == DtlsState::Connecting && self.handshake_deadline.is_some_and(|d| now >= d)
        {
            self.fail(DtlsFailure::HandshakeTimeout);
            return;
        }
        if !matches!(self.state, DtlsState::Connecting | DtlsState::Connected) {
            return;
        }
        if self.retransmit_deadline.is_some_and(|d| now >= d) {
            match ossl::handle_timeout(self.stream.ssl()) {
                TimeoutOutcome::NotExpired => {}
                TimeoutOutcome::Retransmitted => {
                    log::debug!(target: "dtls", "handshake flight retransmitted");
                    self.stats.retransmits += 1
                }
                TimeoutOutcome::Failed => {
                    if self.state == DtlsState::Connecting {
                        self.fail(DtlsFailure::RetransmitLimit);
                        return;
                    }
                }
            }
        }
        self.update_timer(now);
    }

    /// The next datagram to send (each at most the MTU).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let d = self.stream.get_mut().pop_output()?;
        self.stats.datagrams_out += 1;
        Some(d)
    }

    /// Copies the next datagram into `buf`; its buffer is reused by later
    /// datagrams, so a driver that lends one buffer allocates nothing here.
    /// A buffer smaller than the datagram (never the case with `buf.len() >=
    /// mtu`) leaves it queued.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DtlsError> {
        let n = self
            .stream
            .get_mut()
            .pop_output_into(buf)
            .map_err(|needed| DtlsError::BufferTooSmall { needed })?;
        self.stats.datagrams_out += u64::from(n.is_some());
        Ok(n)
    }

    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            DtlsState::Connecting | DtlsState::Connected => {
                earliest(self.handshake_deadline, self.retransmit_deadline)
            }
            _ => None,
        }
    }

    /// Encrypts one message as one record in one datagram. Errors before
    /// the handshake completed, for an empty message, for a message larger
    /// than [`max_payload`](Self::max_payload), and when the send queue is
    /// full.
    pub fn send(&mut self, data: &[u8]) -> Result<(), DtlsError> {
        if self.state != DtlsState::Connected {
            return Err(DtlsError::NotConnected);
        }
        if data.is_empty() {
            return Err(DtlsError::EmptyMessage);
        }
        if data.len() > self.max_payload {
            return Err(DtlsError::MessageTooLarge {
                len: data.len(),
                max: self.max_payload,
            });
        }
        if self.stream.get_ref().output_len() >= MAX_SEND_QUEUE_DATAGRAMS {
            return Err(DtlsError::QueueFull);
        }
        match self.stream.ssl_write(data) {
            Ok(_) => {
                self.stats.messages_sent += 1;
                Ok(())
            }
            Err(e) => Err(DtlsError::Crypto(e.to_string())),
        }
    }

    /// Length of the next received message.
    pub fn next_message_len(&self) -> Option<usize> {
        self.recv.front_len()
    }

    /// Copies the next received message into `buf`: `Ok(None)` when none
    /// is queued; a buffer that is too small leaves the message queued.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DtlsError> {
        self.recv.pop_into(buf)
    }

    /// Hands the next received message to `f` without copying it where
    /// it can (through `scratch` otherwise, which must hold a message);
    /// whether there was one.
    pub fn recv_with(
        &mut self,
        scratch: &mut [u8],
        f: impl FnOnce(&[u8]),
    ) -> Result<bool, DtlsError> {
        self.recv.pop_with(scratch, f)
    }

    /// The next received message as an owned vector.
    pub fn recv_vec(&mut self) -> Option<Vec<u8>> {
        let len = self.recv.front_len()?;
        let mut v = vec![0u8; len];
        match self.recv.pop_into(&mut v) {
            Ok(Some(_)) => Some(v),
            _ => None,
        }
    }

    /// Sends close_notify (when connected) and closes the session; queued
    /// received messages can still be read.
    pub fn close(&mut self) {
        match self.state {
            DtlsState::Connected => {
                // The alert lands in the outbox; the result only says
                // whether the peer's close_notify was seen too.
                let _ = self.stream.shutdown();
            }
            DtlsState::New | DtlsState::Connecting => {
                self.stream.get_mut().clear_output();
            }
            DtlsState::Failed | DtlsState::Closed => return,
        }
        self.early.clear();
        log::debug!(target: "dtls", "closing ({:?})", self.state);
        self.set_state_closed();
    }

    // ---- internals ----

    /// Smallest body a protected record (epoch > 0) can have with the
    /// negotiated cipher: AES-GCM adds an 8-byte explicit nonce and a
    /// 16-byte tag, ChaCha20-Poly1305 only the tag. OpenSSL turns a shorter
    /// one into a fatal internal error instead of discarding it, which would
    /// let anyone on the path kill the connection with one datagram, so
    /// such records are dropped before OpenSSL sees them.
    fn min_protected_record(&self) -> usize {
        match self.stream.ssl().current_cipher() {
            Some(c) if !c.name().contains("CHACHA20") => AEAD_TAG_LEN + GCM_EXPLICIT_NONCE_LEN,
            _ => AEAD_TAG_LEN,
        }
    }

    /// Hands one datagram to OpenSSL.
    fn process(&mut self, data: &[u8]) {
        self.stream.get_mut().set_input(data);
        match self.state {
            DtlsState::Connecting => {
                let r = self.stream.do_handshake();
                self.after_handshake_step(r);
                if self.state == DtlsState::Connected {
                    self.drain_app_data();
                }
            }
            DtlsState::Connected => self.drain_app_data(),
            _ => {}
        }
        self.stream.get_mut().clear_input();
    }

    fn after_handshake_step(&mut self, r: Result<(), openssl::ssl::Error>) {
        match r {
            Ok(()) => self.on_handshake_done(),
            Err(e) if is_want(&e) => {}
            Err(e) => {
                let reason = if self.mismatch.load(Ordering::Relaxed) {
                    DtlsFailure::FingerprintMismatch
                } else {
                    DtlsFailure::Handshake(e.to_string())
                };
                self.fail(reason);
            }
        }
    }

    fn on_handshake_done(&mut self) {
        let Some(cert) = self.stream.ssl().peer_certificate() else {
            self.fail_and_notify(DtlsFailure::NoPeerCertificate);
            return;
        };
        let fp = match Fingerprint::of(&cert) {
            Ok(fp) => fp,
            Err(e) => {
                self.fail_and_notify(DtlsFailure::Handshake(e.to_string()));
                return;
            }
        };
        self.remote_fingerprint = Some(fp);
        // The verify callback already pinned the certificate; checking the
        // final peer certificate again costs nothing.
        if let Some(expected) = self.expected.filter(|&e| e != fp) {
            log::error!(target: "dtls", "peer certificate fingerprint {} does not match a=fingerprint {}", fp.to_sdp(), expected.to_sdp());
            self.fail_and_notify(DtlsFailure::FingerprintMismatch);
            return;
        }
        self.update_max_payload();
        self.state = DtlsState::Connected;
        self.handshake_deadline = None;
        log::info!(target: "dtls", "connected as {:?}: {}, cipher {}, peer fingerprint {}", self.role, self.protocol_version(), self.cipher_name().unwrap_or("?"), fp.to_sdp());
        self.events.push_back(DtlsEvent::Connected);
    }

    /// Decrypts every pending record into the receive queue.
    fn drain_app_data(&mut self) {
        loop {
            match self.stream.ssl_read(&mut self.scratch) {
                Ok(0) => break,
                Ok(n) => {
                    let was_empty = self.recv.is_empty();
                    if self.recv.push(&self.scratch[..n]) {
                        self.stats.messages_received += 1;
                        if was_empty {
                            self.events.push_back(DtlsEvent::Readable);
                        }
                    } else {
                        log::debug!(target: "dtls", "dropped a received message of {n} bytes: receive queue full");
                        self.stats.recv_overflow += 1;
                    }
                }
                Err(e) if is_want(&e) => break,
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    // The peer's close_notify; answer it as TLS 1.2 asks.
                    let _ = self.stream.shutdown();
                    self.set_closed();
                    break;
                }
                Err(e) => {
                    self.fail(DtlsFailure::Protocol(e.to_string()));
                    break;
                }
            }
        }
    }

    /// The peer's close_notify.
    fn set_closed(&mut self) {
        log::info!(target: "dtls", "closed by the peer (close_notify)");
        self.set_state_closed();
    }

    fn set_state_closed(&mut self) {
        self.state = DtlsState::Closed;
        self.handshake_deadline = None;
        self.retransmit_deadline = None;
        self.events.push_back(DtlsEvent::Closed);
    }

    fn fail(&mut self, reason: DtlsFailure) {
        log::warn!(target: "dtls", "failed: {reason}");
        self.state = DtlsState::Failed;
        self.handshake_deadline = None;
        self.retransmit_deadline = None;
        self.early.clear();
        self.events.push_back(DtlsEvent::Failed(reason));
    }

    /// Fails after the handshake completed locally: the peer may think it is
    /// connected, so tell it with close_notify.
    fn fail_and_notify(&mut self, reason: DtlsFailure) {
        let _ = self.stream.shutdown();
        self.fail(reason);
    }

    /// Re-reads OpenSSL's retransmission timer and maps it onto `now`.
    fn update_timer(&mut self, now: Instant) {
        self.retransmit_deadline = match self.state {
            DtlsState::Connecting | DtlsState::Connected => {
                ossl::get_timeout(self.stream.ssl()).map(|d| now + d)
            }
            _ => None,
        };
    }
}

fn is_want(e: &openssl::ssl::Error) -> bool {
    e.code() == ErrorCode::WANT_READ || e.code() == ErrorCode::WANT_WRITE
}

/// SRTP protection profiles offered in the use_srtp extension.
const SRTP_PROFILES: &str = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";

fn build_stream(
    cfg: &DtlsConfig,
    mismatch: Arc<AtomicBool>,
) -> Result<SslStream<Pipe>, openssl::error::ErrorStack> {
    let mut b = SslContext::builder(SslMethod::dtls())?;
    b.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
    b.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
    b.set_cipher_list(CIPHERS)?;
    // Offer and accept the use_srtp extension (RFC 5764) although data
    // channels never use SRTP keys: some stacks (aiortc) refuse a handshake
    // that negotiated no SRTP profile, and browsers offer it anyway.
    b.set_tlsext_use_srtp(SRTP_PROFILES)?;
    b.set_certificate(cfg.certificate.x509())?;
    b.set_private_key(cfg.certificate.private_key())?;
    b.check_private_key()?;
    b.set_options(
        SslOptions::NO_QUERY_MTU
            | SslOptions::NO_TICKET
            | SslOptions::NO_RENEGOTIATION
            | SslOptions::NO_COMPRESSION,
    );
    b.set_session_cache_mode(SslSessionCacheMode::OFF);
    let ctx = b.build();

    let mut ssl = openssl::ssl::Ssl::new(&ctx)?;
    ssl.set_mtu(cfg.mtu as u32)?;
    ossl::set_initial_timeout(&mut ssl, cfg.retransmit_initial);
    let expected = cfg.remote_fingerprint;
    // Any certificate passes chain validation (they are self-signed); the
    // leaf must match the expected fingerprint when one is set. Returning
    // false aborts the handshake with a bad_certificate alert.
    ssl.set_verify_callback(
        SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
        move |_preverified, store| {
            if store.error_depth() != 0 {
                return true;
            }
            let Some(expected) = expected else {
                return true;
            };
            let actual = store.current_cert().and_then(|c| Fingerprint::of(c).ok());
            let ok = actual.is_some_and(|fp| fp == expected);
            if !ok {
                log::error!(
                    target: "dtls",
                    "peer certificate fingerprint {} does not match a=fingerprint {}",
                    actual.map_or_else(|| "(unreadable)".to_string(), |a| a.to_sdp()),
                    expected.to_sdp()
                );
                mismatch.store(true, Ordering::Relaxed);
            }
            ok
        },
    );
    SslStream::new(ssl, Pipe::default())
}
