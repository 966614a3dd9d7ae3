//! The DTLS session state machine over OpenSSL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use openssl::ssl::{
    ErrorCode, SslContext, SslMethod, SslOptions, SslSessionCacheMode, SslStream, SslVerifyMode,
    SslVersion,
};

use super::base::{mtu_in_range, SessionBase};
use super::common::{DtlsConfig, DtlsStats, AEAD_TAG_LEN, GCM_EXPLICIT_NONCE_LEN};
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
    base: SessionBase,
    certificate: Certificate,
    expected: Option<Fingerprint>,
    /// Set by the verify callback when the peer certificate is rejected.
    mismatch: Arc<AtomicBool>,
}

impl std::fmt::Debug for DtlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsSession")
            .field("role", &self.base.role)
            .field("state", &self.base.state)
            .field("local", &self.certificate.fingerprint())
            .field("remote", &self.base.remote_fingerprint)
            .field("stats", &self.base.stats)
            .finish_non_exhaustive()
    }
}

impl DtlsSession {
    /// Builds the OpenSSL context and session; nothing is sent until
    /// [`start`](Self::start).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(cfg: DtlsConfig) -> Result<DtlsSession, DtlsError> {
        let base = SessionBase::new(&cfg)?;
        let mismatch = Arc::new(AtomicBool::new(false));
        let stream =
            build_stream(&cfg, mismatch.clone()).map_err(|e| DtlsError::Crypto(e.to_string()))?;
        Ok(DtlsSession {
            stream,
            base,
            certificate: cfg.certificate,
            expected: cfg.remote_fingerprint,
            mismatch,
        })
    }

    pub fn state(&self) -> DtlsState {
        self.base.state
    }

    pub fn role(&self) -> DtlsRole {
        self.base.role
    }

    /// Changes the role; only before [`start`](Self::start). The certificate
    /// (and so the fingerprint) stays the same.
    pub fn set_role(&mut self, role: DtlsRole) -> Result<(), DtlsError> {
        self.base.check_role_change()?;
        self.base.role = role;
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
        self.base.remote_fingerprint
    }

    /// The negotiated cipher suite (OpenSSL name) once connected.
    pub fn cipher_name(&self) -> Option<&'static str> {
        if self.base.state != DtlsState::Connected {
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
        self.base.max_payload
    }

    pub fn mtu(&self) -> usize {
        self.base.mtu
    }

    /// Changes the datagram size limit at any time (path MTU discovery):
    /// records written from now on fit `mtu` bytes, and once connected
    /// [`max_payload`](Self::max_payload) follows (at most
    /// [`MAX_RECORD_PLAINTEXT`](crate::dtls::MAX_RECORD_PLAINTEXT)).
    /// [`DtlsError::InvalidConfig`] outside
    /// [`MIN_MTU`](crate::dtls::MIN_MTU)..=65535.
    pub fn set_mtu(&mut self, mtu: usize) -> Result<(), DtlsError> {
        if !mtu_in_range(mtu) || !ossl::set_mtu(self.stream.ssl(), mtu) {
            return Err(DtlsError::InvalidConfig("mtu"));
        }
        self.base.mtu = mtu;
        if self.base.state == DtlsState::Connected {
            self.update_max_payload();
        }
        Ok(())
    }

    /// Recomputes [`max_payload`](Self::max_payload) from the MTU and the
    /// negotiated cipher.
    fn update_max_payload(&mut self) {
        self.base.set_max_payload(ossl::data_mtu(self.stream.ssl()));
    }

    pub fn stats(&self) -> DtlsStats {
        self.base.stats
    }

    /// Starts the handshake: a client sends its ClientHello, a server
    /// waits (and answers datagrams that arrived before the start).
    pub fn start(&mut self, now: Instant) -> Result<(), DtlsError> {
        self.base.begin(now)?;
        let r = match self.base.role {
            DtlsRole::Client => self.stream.connect(),
            DtlsRole::Server => self.stream.accept(),
        };
        self.after_handshake_step(r);
        while let Some(d) = self.base.next_early() {
            self.process(&d);
        }
        self.update_timer(now);
        Ok(())
    }

    /// One datagram from the peer (already demultiplexed as DTLS). Never
    /// fails: anything malformed is dropped and counted.
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        if !self.base.admit(data, self.min_protected_record()) {
            return;
        }
        self.process(data);
        self.update_timer(now);
    }

    /// Handles the deadline reported by [`poll_timeout`](Self::poll_timeout):
    /// the overall handshake timeout, and OpenSSL's retransmission.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.base.timeout_continues(now) {
            return;
        }
        if self.base.retransmit_due(now) {
            match ossl::handle_timeout(self.stream.ssl()) {
                TimeoutOutcome::NotExpired => {}
                TimeoutOutcome::Retransmitted => {
                    log::debug!(target: "dtls", "handshake flight retransmitted");
                    self.base.stats.retransmits += 1
                }
                TimeoutOutcome::Failed => {
                    if self.base.state == DtlsState::Connecting {
                        self.base.fail(DtlsFailure::RetransmitLimit);
                        return;
                    }
                }
            }
        }
        self.update_timer(now);
    }

    /// The next datagram to send (each at most the MTU).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.base.poll_transmit(self.stream.get_mut())
    }

    /// Copies the next datagram into `buf`; its buffer is reused by later
    /// datagrams, so a driver that lends one buffer allocates nothing here.
    /// A buffer smaller than the datagram (never the case with `buf.len() >=
    /// mtu`) leaves it queued.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DtlsError> {
        self.base.poll_transmit_into(self.stream.get_mut(), buf)
    }

    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.base.poll_event()
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.base.poll_timeout()
    }

    /// Encrypts one message as one record in one datagram. Errors before
    /// the handshake completed, for an empty message, for a message larger
    /// than [`max_payload`](Self::max_payload), and when the send queue is
    /// full.
    pub fn send(&mut self, data: &[u8]) -> Result<(), DtlsError> {
        self.base
            .check_send(data.len(), self.stream.get_ref().output_len())?;
        match self.stream.ssl_write(data) {
            Ok(_) => {
                self.base.stats.messages_sent += 1;
                Ok(())
            }
            Err(e) => Err(DtlsError::Crypto(e.to_string())),
        }
    }

    /// Length of the next received message.
    pub fn next_message_len(&self) -> Option<usize> {
        self.base.next_message_len()
    }

    /// Copies the next received message into `buf`: `Ok(None)` when none
    /// is queued; a buffer that is too small leaves the message queued.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DtlsError> {
        self.base.recv(buf)
    }

    /// Hands the next received message to `f` without copying it where
    /// it can (through `scratch` otherwise, which must hold a message);
    /// whether there was one.
    pub fn recv_with(
        &mut self,
        scratch: &mut [u8],
        f: impl FnOnce(&[u8]),
    ) -> Result<bool, DtlsError> {
        self.base.recv_with(scratch, f)
    }

    /// The next received message as an owned vector.
    pub fn recv_vec(&mut self) -> Option<Vec<u8>> {
        self.base.recv_vec()
    }

    /// Sends close_notify (when connected) and closes the session; queued
    /// received messages can still be read.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn close(&mut self) {
        match self.base.state {
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
        self.base.closed_locally();
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
        match self.base.state {
            DtlsState::Connecting => {
                let r = self.stream.do_handshake();
                self.after_handshake_step(r);
                if self.base.state == DtlsState::Connected {
                    self.drain_app_data();
                }
            }
            DtlsState::Connected => self.drain_app_data(),
            _ => {}
        }
        self.stream.get_mut().clear_input();
    }

    #[cfg_attr(xp2p_device, optimize(size))]
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
                self.base.fail(reason);
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
        // The verify callback already pinned the certificate; checking the
        // final peer certificate again costs nothing.
        if !self.base.accept_fingerprint(fp, self.expected) {
            self.fail_and_notify(DtlsFailure::FingerprintMismatch);
            return;
        }
        self.update_max_payload();
        let cipher = self.stream.ssl().current_cipher().map(|c| c.name());
        self.base.connected(self.protocol_version(), cipher);
    }

    /// Decrypts every pending record into the receive queue.
    fn drain_app_data(&mut self) {
        loop {
            match self.stream.ssl_read(&mut self.base.scratch) {
                Ok(0) => break,
                Ok(n) => self.base.deliver(n),
                Err(e) if is_want(&e) => break,
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    // The peer's close_notify; answer it as TLS 1.2 asks.
                    let _ = self.stream.shutdown();
                    self.base.closed_by_peer();
                    break;
                }
                Err(e) => {
                    self.base.fail(DtlsFailure::Protocol(e.to_string()));
                    break;
                }
            }
        }
    }

    /// Fails after the handshake completed locally: the peer may think it is
    /// connected, so tell it with close_notify.
    fn fail_and_notify(&mut self, reason: DtlsFailure) {
        let _ = self.stream.shutdown();
        self.base.fail(reason);
    }

    /// Re-reads OpenSSL's retransmission timer and maps it onto `now`.
    fn update_timer(&mut self, now: Instant) {
        let deadline = ossl::get_timeout(self.stream.ssl()).map(|d| now + d);
        self.base.set_retransmit(deadline);
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
