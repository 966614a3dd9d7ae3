//! The DTLS session state machine over mbedTLS.

use std::ffi::CStr;
use std::io::Write;
use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use xbase::ffi_boundary;
use xp2p_mbedtls as sys;

use super::error_text;
use super::hello::{Absorbed, HelloReassembly};
use super::records::{Dropped, RecordProtection, RecordStats};
use crate::dtls::base::{mtu_in_range, SessionBase};
use crate::dtls::common::{
    DtlsConfig, DtlsStats, AEAD_TAG_LEN, GCM_EXPLICIT_NONCE_LEN, RECORD_HEADER_LEN,
};
use crate::dtls::pipe::Pipe;
use crate::dtls::{
    Certificate, DtlsError, DtlsEvent, DtlsFailure, DtlsRole, DtlsState, Fingerprint,
};

/// RFC 6347 §4.2.4.1: the retransmission timer doubles up to 60 s; mbedTLS
/// gives up once it would exceed this.
const MAX_TIMER_MS: u32 = 60_000;

/// `MBEDTLS_ERR_SSL_INTERNAL_ERROR`.
const ERR_INTERNAL: c_int = -0x6C00;

/// Hands one outgoing datagram to the session's pipe.
unsafe extern "C" fn send_cb(arg: *mut c_void, buf: *const u8, len: usize) -> c_int {
    ffi_boundary!(ERR_INTERNAL, {
        // SAFETY: `arg` is the session's pipe (see `Raw::new`), alive as
        // long as the mbedTLS session, and not borrowed by Rust while
        // mbedTLS runs; `buf` is readable for `len` bytes.
        let pipe = unsafe { &mut *(arg as *mut Pipe) };
        // SAFETY: mbedTLS hands the send callback `len` readable bytes at `buf`.
        let data = unsafe { std::slice::from_raw_parts(buf, len) };
        let _ = pipe.write(data);
        c_int::try_from(len).unwrap_or(ERR_INTERNAL)
    })
}

/// The mbedTLS session and the pipe its datagrams go to, owned together.
struct Raw {
    ssl: NonNull<sys::xm_session>,
    pipe: NonNull<Pipe>,
}

// SAFETY: the mbedTLS session and the pipe are owned exclusively by this
// value and only used through `&mut self` (or `&self` for reads); mbedTLS
// keeps no thread-local state, and its process-wide random generator locks
// itself.
unsafe impl Send for Raw {}

impl Raw {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn new(cfg: &DtlsConfig, role: DtlsRole) -> Result<Raw, DtlsError> {
        let pipe = NonNull::from(Box::leak(Box::<Pipe>::default()));
        let cert: &Certificate = &cfg.certificate;
        let expected = cfg.remote_fingerprint.map(|f| f.0);
        let min_ms = u32::try_from(cfg.retransmit_initial.as_millis())
            .unwrap_or(MAX_TIMER_MS)
            .clamp(1, MAX_TIMER_MS);
        let mut err: c_int = 0;
        // SAFETY: every pointer is valid for the call; the shim copies the
        // certificate, key and fingerprint; `pipe` outlives the session
        // (freed after it in `Drop`).
        let ssl = unsafe {
            sys::xm_session_new(
                c_int::from(role == DtlsRole::Server),
                cert.der().as_ptr(),
                cert.der().len(),
                cert.key_der().as_ptr(),
                cert.key_der().len(),
                expected.as_ref().map_or(std::ptr::null(), |e| e.as_ptr()),
                u16::try_from(cfg.mtu).unwrap_or(u16::MAX),
                min_ms,
                MAX_TIMER_MS,
                send_cb,
                pipe.as_ptr() as *mut c_void,
                &mut err,
            )
        };
        match NonNull::new(ssl) {
            Some(ssl) => Ok(Raw { ssl, pipe }),
            None => {
                // SAFETY: the pipe came from `Box::leak` above and nothing
                // refers to it any more.
                drop(unsafe { Box::from_raw(pipe.as_ptr()) });
                Err(DtlsError::Crypto(error_text(err)))
            }
        }
    }

    fn s(&self) -> *mut sys::xm_session {
        self.ssl.as_ptr()
    }

    fn pipe(&mut self) -> &mut Pipe {
        // SAFETY: owned by `self`; mbedTLS only writes to it during shim
        // calls, which never overlap this borrow.
        unsafe { self.pipe.as_mut() }
    }

    fn pipe_ref(&self) -> &Pipe {
        // SAFETY: as in `pipe`.
        unsafe { self.pipe.as_ref() }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: both were created in `Raw::new` and are freed once; the
        // session goes first since it refers to the pipe.
        unsafe {
            sys::xm_session_free(self.ssl.as_ptr());
            drop(Box::from_raw(self.pipe.as_ptr()));
        }
    }
}

/// One DTLS 1.2 connection, sans-IO.
///
/// Feed it with [`handle_datagram`](Self::handle_datagram) and
/// [`handle_timeout`](Self::handle_timeout); after every call drain
/// [`poll_transmit`](Self::poll_transmit) and
/// [`poll_event`](Self::poll_event), and arm a timer for
/// [`poll_timeout`](Self::poll_timeout).
pub struct DtlsSession {
    raw: Raw,
    cfg: DtlsConfig,
    base: SessionBase,
    /// Smallest body of a protected record with the negotiated cipher
    /// (see `min_protected_for`), fixed once connected.
    min_protected: usize,
    /// The caller's clock at `start`: mbedTLS's timer counts milliseconds
    /// from here.
    origin: Option<Instant>,
    /// A server's fragmented ClientHello being put back together.
    hello: HelloReassembly,
    /// Application data of the established epoch, sealed and opened here
    /// (AES-GCM suites; see `records.rs`). `None`: mbedTLS does it.
    records: Option<RecordProtection>,
    /// The record being sealed.
    sealed: Vec<u8>,
    record_stats: RecordStats,
}

impl std::fmt::Debug for DtlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsSession")
            .field("role", &self.base.role)
            .field("state", &self.base.state)
            .field("local", &self.cfg.certificate.fingerprint())
            .field("remote", &self.base.remote_fingerprint)
            .field("stats", &self.base.stats)
            .finish_non_exhaustive()
    }
}

impl DtlsSession {
    /// Builds the mbedTLS configuration and session; nothing is sent until
    /// [`start`](Self::start).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(cfg: DtlsConfig) -> Result<DtlsSession, DtlsError> {
        let base = SessionBase::new(&cfg)?;
        let raw = Raw::new(&cfg, cfg.role)?;
        Ok(DtlsSession {
            raw,
            base,
            min_protected: AEAD_TAG_LEN,
            origin: None,
            hello: HelloReassembly::default(),
            records: None,
            sealed: Vec::new(),
            record_stats: RecordStats::default(),
            cfg,
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
        if role != self.base.role {
            let mut cfg = self.cfg.clone();
            cfg.mtu = self.base.mtu;
            self.raw = Raw::new(&cfg, role)?;
            self.base.role = role;
        }
        Ok(())
    }

    /// Our certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cfg.certificate
    }

    /// Our certificate's fingerprint.
    pub fn local_fingerprint(&self) -> Fingerprint {
        self.cfg.certificate.fingerprint()
    }

    /// The fingerprint of the certificate the peer presented, once the
    /// handshake has completed (also set when it completed with a
    /// certificate that did not match).
    pub fn remote_fingerprint(&self) -> Option<Fingerprint> {
        self.base.remote_fingerprint
    }

    /// The negotiated cipher suite (OpenSSL's name, as the OpenSSL backend
    /// reports it) once connected.
    pub fn cipher_name(&self) -> Option<&'static str> {
        if self.base.state != DtlsState::Connected {
            return None;
        }
        // SAFETY: the shim returns NULL or a static NUL-terminated string.
        unsafe { static_str(sys::xm_cipher_name(self.raw.s())) }
    }

    /// The negotiated protocol version, e.g. `"DTLSv1.2"`.
    pub fn protocol_version(&self) -> &'static str {
        // SAFETY: mbedTLS returns a static NUL-terminated string.
        unsafe { static_str(sys::xm_version(self.raw.s())) }.unwrap_or("unknown")
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
        let Some(m) = u16::try_from(mtu).ok().filter(|_| mtu_in_range(mtu)) else {
            return Err(DtlsError::InvalidConfig("mtu"));
        };
        // SAFETY: live session.
        unsafe { sys::xm_set_mtu(self.raw.s(), m) };
        self.base.mtu = mtu;
        if self.base.state == DtlsState::Connected {
            self.update_max_payload();
        }
        Ok(())
    }

    fn update_max_payload(&mut self) {
        // SAFETY: live session.
        let n = unsafe { sys::xm_max_payload(self.raw.s()) };
        self.base.set_max_payload(usize::try_from(n).unwrap_or(0));
    }

    pub fn stats(&self) -> DtlsStats {
        self.base.stats
    }

    /// What the session's own record protection did (all zero when mbedTLS
    /// protects every record, e.g. with ChaCha20-Poly1305).
    // Read by record_tests.rs (tests of a build with `ring`).
    #[cfg_attr(not(all(test, feature = "dtls-mbedtls")), allow(dead_code))]
    pub(crate) fn record_stats(&self) -> RecordStats {
        self.record_stats
    }

    /// Starts the handshake: a client sends its ClientHello, a server
    /// waits (and answers datagrams that arrived before the start).
    pub fn start(&mut self, now: Instant) -> Result<(), DtlsError> {
        self.base.begin(now)?;
        self.origin = Some(now);
        self.set_now(now);
        // SAFETY: live session.
        let r = unsafe { sys::xm_handshake(self.raw.s()) };
        self.after_handshake_step(r);
        while let Some(d) = self.base.next_early() {
            self.process(&d);
        }
        self.update_timer();
        Ok(())
    }

    /// One datagram from the peer (already demultiplexed as DTLS). Never
    /// fails: anything malformed is dropped and counted.
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        if !self.base.admit(data, self.min_protected) {
            return;
        }
        self.set_now(now);
        self.process(data);
        self.update_timer();
    }

    /// Handles the deadline reported by [`poll_timeout`](Self::poll_timeout):
    /// the overall handshake timeout, and mbedTLS's retransmission.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.base.timeout_continues(now) {
            return;
        }
        if self.base.retransmit_due(now) {
            self.set_now(now);
            // SAFETY: live session.
            let before = unsafe { sys::xm_timer_expirations(self.raw.s()) };
            if self.base.state == DtlsState::Connecting {
                // SAFETY: live session.
                let r = unsafe { sys::xm_handshake(self.raw.s()) };
                if r == sys::XM_ERR_TIMEOUT {
                    self.base.fail(DtlsFailure::RetransmitLimit);
                    return;
                }
                self.after_handshake_step(r);
            } else {
                self.drain_app_data();
            }
            // SAFETY: live session.
            let after = unsafe { sys::xm_timer_expirations(self.raw.s()) };
            self.base.stats.retransmits += after - before;
        }
        self.update_timer();
    }

    /// The next datagram to send (each at most the MTU).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.base.poll_transmit(self.raw.pipe())
    }

    /// Copies the next datagram into `buf`; its buffer is reused by later
    /// datagrams, so a driver that lends one buffer allocates nothing here.
    /// A buffer smaller than the datagram (never the case with `buf.len() >=
    /// mtu`) leaves it queued.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DtlsError> {
        self.base.poll_transmit_into(self.raw.pipe(), buf)
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
            .check_send(data.len(), self.raw.pipe_ref().output_len())?;
        if let Some(records) = &self.records {
            // SAFETY: live session, used by nothing else meanwhile.
            if !unsafe { records.seal(self.raw.s(), data, &mut self.sealed) } {
                return Err(DtlsError::Crypto(
                    "record sequence numbers exhausted".into(),
                ));
            }
            let _ = self.raw.pipe().write(&self.sealed);
            self.base.stats.messages_sent += 1;
            self.record_stats.sealed += 1;
            return Ok(());
        }
        // SAFETY: live session; `data` is readable for its length.
        let r = unsafe { sys::xm_write(self.raw.s(), data.as_ptr(), data.len()) };
        if r == sys::XM_OK {
            self.base.stats.messages_sent += 1;
            Ok(())
        } else {
            Err(DtlsError::Crypto(error_text(r)))
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
                // SAFETY: live session; the alert lands in the pipe.
                let _ = unsafe { sys::xm_close_notify(self.raw.s()) };
            }
            DtlsState::New | DtlsState::Connecting => self.raw.pipe().clear_output(),
            DtlsState::Failed | DtlsState::Closed => return,
        }
        self.base.closed_locally();
    }

    // ---- internals ----

    fn set_now(&mut self, now: Instant) {
        let ms = self
            .origin
            .map_or(0, |o| now.saturating_duration_since(o).as_millis());
        // SAFETY: live session.
        unsafe { sys::xm_set_now(self.raw.s(), u64::try_from(ms).unwrap_or(u64::MAX)) };
    }

    /// Smallest body a protected record (epoch > 0) can have with the
    /// negotiated cipher: AES-GCM adds an 8-byte explicit nonce and a
    /// 16-byte tag, ChaCha20-Poly1305 only the tag. Shorter records are
    /// dropped before mbedTLS sees them, as in the OpenSSL backend. (Looked
    /// up once: mbedTLS finds the suite by name with a linear search.)
    fn min_protected_for(&self) -> usize {
        // SAFETY: the shim returns NULL or a static string.
        match unsafe { static_str(sys::xm_cipher_name(self.raw.s())) } {
            Some(c) if !c.contains("CHACHA20") => AEAD_TAG_LEN + GCM_EXPLICIT_NONCE_LEN,
            _ => AEAD_TAG_LEN,
        }
    }

    /// Hands one datagram to mbedTLS; a server first reassembles a
    /// fragmented ClientHello, which mbedTLS cannot (see `hello.rs`).
    fn process(&mut self, data: &[u8]) {
        if self.base.role == DtlsRole::Server && self.base.state == DtlsState::Connecting {
            match self.hello.absorb(data) {
                Absorbed::No => {}
                Absorbed::Partial => return,
                Absorbed::Complete(record) => return self.process_records(&record),
            }
        }
        if self.base.state == DtlsState::Connected && self.records.is_some() {
            return self.process_split(data);
        }
        self.process_records(data);
    }

    /// Once connected with our own record protection: application data of
    /// the epoch is opened here, every other record (alerts, handshake
    /// retransmissions, other epochs) goes to mbedTLS one by one, in the
    /// datagram's order. `data` holds well-formed records (checked by
    /// `handle_datagram`).
    fn process_split(&mut self, data: &[u8]) {
        let mut rest = data;
        while self.base.state == DtlsState::Connected {
            let Some(header) = rest.get(..RECORD_HEADER_LEN) else {
                break;
            };
            let len = RECORD_HEADER_LEN + usize::from(u16::from_be_bytes([header[11], header[12]]));
            let Some((record, tail)) = rest.split_at_checked(len) else {
                break;
            };
            rest = tail;
            match &self.records {
                Some(r) if r.is_ours(record) => {
                    // SAFETY: live session, used by nothing else meanwhile.
                    let opened = unsafe { r.open(self.raw.s(), record, &mut self.base.scratch) };
                    match opened {
                        Ok(n) => {
                            self.record_stats.opened += 1;
                            self.base.deliver(n);
                        }
                        Err(Dropped::Replayed) => self.record_stats.replayed += 1,
                        Err(Dropped::Forged) => self.record_stats.forged += 1,
                    }
                }
                _ => self.process_records(record),
            }
        }
    }

    fn process_records(&mut self, data: &[u8]) {
        let s = self.raw.s();
        // SAFETY: live session; `data` outlives the calls below, and the
        // input is cleared before returning.
        unsafe { sys::xm_set_input(s, data.as_ptr(), data.len()) };
        match self.base.state {
            DtlsState::Connecting => {
                // SAFETY: live session.
                let mut r = unsafe { sys::xm_handshake(s) };
                // An expired timer makes mbedTLS retransmit before it
                // reads: give it the datagram again.
                // SAFETY: live session.
                if r == sys::XM_WANT && unsafe { sys::xm_clear_input(s) } != 0 {
                    // SAFETY: as above.
                    unsafe { sys::xm_set_input(s, data.as_ptr(), data.len()) };
                    // SAFETY: live session.
                    r = unsafe { sys::xm_handshake(s) };
                }
                self.after_handshake_step(r);
                if self.base.state == DtlsState::Connected {
                    self.drain_app_data();
                }
            }
            DtlsState::Connected => self.drain_app_data(),
            _ => {}
        }
        // SAFETY: live session.
        unsafe { sys::xm_clear_input(s) };
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn after_handshake_step(&mut self, r: c_int) {
        match r {
            sys::XM_OK => self.on_handshake_done(),
            sys::XM_WANT => {}
            sys::XM_ERR_TIMEOUT => self.base.fail(DtlsFailure::RetransmitLimit),
            r => {
                // SAFETY: live session.
                let reason = if unsafe { sys::xm_mismatch(self.raw.s()) } != 0 {
                    DtlsFailure::FingerprintMismatch
                } else {
                    DtlsFailure::Handshake(error_text(r))
                };
                self.base.fail(reason);
            }
        }
    }

    fn on_handshake_done(&mut self) {
        let mut fp = [0u8; 32];
        // SAFETY: live session; `fp` is writable for 32 bytes.
        if unsafe { sys::xm_remote_fingerprint(self.raw.s(), fp.as_mut_ptr()) } == 0 {
            self.fail_and_notify(DtlsFailure::NoPeerCertificate);
            return;
        }
        if !self
            .base
            .accept_fingerprint(Fingerprint(fp), self.cfg.remote_fingerprint)
        {
            self.fail_and_notify(DtlsFailure::FingerprintMismatch);
            return;
        }
        self.update_max_payload();
        self.min_protected = self.min_protected_for();
        // SAFETY: live session, used by nothing else meanwhile.
        self.records = unsafe { RecordProtection::take(self.raw.s(), self.base.role) };
        // SAFETY: the shim returns NULL or a static NUL-terminated string.
        let cipher = unsafe { static_str(sys::xm_cipher_name(self.raw.s())) };
        self.base.connected(self.protocol_version(), cipher);
    }

    /// Decrypts every pending record into the receive queue.
    fn drain_app_data(&mut self) {
        loop {
            let mut status: c_int = 0;
            // SAFETY: live session; `scratch` is writable for its length.
            let n = unsafe {
                sys::xm_read(
                    self.raw.s(),
                    self.base.scratch.as_mut_ptr(),
                    self.base.scratch.len(),
                    &mut status,
                )
            };
            match status {
                sys::XM_OK => {
                    let n = usize::try_from(n).unwrap_or(0).min(self.base.scratch.len());
                    self.base.deliver(n);
                }
                sys::XM_WANT => break,
                sys::XM_CLOSED => {
                    // The peer's close_notify; answer it as TLS 1.2 asks.
                    // SAFETY: live session.
                    let _ = unsafe { sys::xm_close_notify(self.raw.s()) };
                    self.base.closed_by_peer();
                    break;
                }
                e => {
                    self.base.fail(DtlsFailure::Protocol(error_text(e)));
                    break;
                }
            }
        }
    }

    /// Fails after the handshake completed locally: the peer may think it is
    /// connected, so tell it with close_notify.
    fn fail_and_notify(&mut self, reason: DtlsFailure) {
        // SAFETY: live session.
        let _ = unsafe { sys::xm_close_notify(self.raw.s()) };
        self.base.fail(reason);
    }

    /// Maps mbedTLS's timer (milliseconds from `origin` on the caller's
    /// clock) to an `Instant`.
    fn update_timer(&mut self) {
        let deadline = self.origin.and_then(|origin| {
            // SAFETY: live session.
            let ms = unsafe { sys::xm_timer_deadline(self.raw.s()) };
            (ms != u64::MAX).then(|| origin + Duration::from_millis(ms))
        });
        self.base.set_retransmit(deadline);
    }
}

/// A static C string as `&'static str`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that lives for the
/// whole program.
unsafe fn static_str(p: *const std::os::raw::c_char) -> Option<&'static str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: see the function's contract.
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `d`, one record holding a whole ClientHello, as two records holding
    /// its first `at` bytes and the rest.
    fn split_hello(d: &[u8], at: usize) -> (Vec<u8>, Vec<u8>) {
        let (rec, hs, body) = (&d[..13], &d[13..25], &d[25..]);
        let piece = |seq_add: u8, off: usize, part: &[u8]| {
            let mut v = rec[..11].to_vec();
            v[10] += seq_add;
            v.extend_from_slice(&((12 + part.len()) as u16).to_be_bytes());
            v.extend_from_slice(&hs[..6]);
            v.extend_from_slice(&(off as u32).to_be_bytes()[1..]);
            v.extend_from_slice(&(part.len() as u32).to_be_bytes()[1..]);
            v.extend_from_slice(part);
            v
        };
        (piece(0, 0, &body[..at]), piece(1, at, &body[at..]))
    }

    #[test]
    fn server_takes_a_fragmented_client_hello() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let cfg = |role| DtlsConfig::new(role, Certificate::generate().unwrap());
        let mut c = DtlsSession::new(cfg(DtlsRole::Client)).unwrap();
        let mut s = DtlsSession::new(cfg(DtlsRole::Server)).unwrap();
        s.start(now).unwrap();
        c.start(now).unwrap();
        let hello = c.poll_transmit().expect("ClientHello");
        assert_eq!((hello[0], hello[13]), (22, 1), "one ClientHello record");
        let (first, second) = split_hello(&hello, 60);
        // The second half first: order does not matter.
        s.handle_datagram(now, &second);
        assert!(s.poll_transmit().is_none(), "waits for the rest");
        s.handle_datagram(now, &first);
        for _ in 0..10 {
            while let Some(d) = s.poll_transmit() {
                c.handle_datagram(now, &d);
            }
            while let Some(d) = c.poll_transmit() {
                s.handle_datagram(now, &d);
            }
        }
        assert_eq!(c.state(), DtlsState::Connected, "{:?}", c.poll_event());
        assert_eq!(s.state(), DtlsState::Connected, "{:?}", s.poll_event());
        assert_eq!(s.remote_fingerprint(), Some(c.local_fingerprint()));
    }
}
