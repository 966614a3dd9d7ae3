//! DTLS 1.2, sans-IO, over OpenSSL or mbedTLS (chosen at build time).
//!
//! [`DtlsSession`] is fed datagrams and timeouts with the caller's `now`, and
//! polled for datagrams to send, events and its next deadline. The TLS
//! library runs over an in-memory pipe: it never touches a socket. The
//! cargo feature `dtls-mbedtls` selects mbedTLS 2.28 (`mbed/`, over the
//! `xp2p-mbedtls` shim crate); otherwise `dtls-openssl` selects OpenSSL
//! (`session.rs`, `cert.rs`, `ossl.rs`). Both offer the same API and the
//! same guarantees; [`BACKEND`] names the one built.
//!
//! * Certificates: a fresh self-signed ECDSA P-256 certificate per
//!   connection ([`Certificate`]); trust comes from pinning the peer's
//!   SHA-256 [`Fingerprint`] (SDP `a=fingerprint`). A mismatch fails the
//!   handshake with a certificate alert, so no application data ever
//!   passes.
//! * Protocol: DTLS 1.2 only; ECDHE-ECDSA with AES-128-GCM, AES-256-GCM or
//!   ChaCha20-Poly1305; the peer must present a certificate; the use_srtp
//!   extension is negotiated (some peers require it) but no SRTP keys are
//!   used; no cookie exchange, no renegotiation, no session tickets.
//! * Datagrams: the MTU is explicit (1200 by default) and never queried;
//!   every record fits in one datagram. An application write larger than
//!   one record ([`DtlsSession::max_payload`]) is rejected with
//!   [`DtlsError::MessageTooLarge`] rather than split, because DTLS gives
//!   no message boundaries across records.
//! * Time: OpenSSL's retransmission timer reads the real clock. The session
//!   reports it as an `Instant` measured from the last `now` it was given,
//!   and lets OpenSSL retransmit when the caller says that instant has
//!   passed. On a virtual clock that runs ahead of real time OpenSSL finds
//!   its timer not yet expired and the session simply re-arms. mbedTLS's
//!   timer callbacks read the caller's `now` only, so there it retransmits
//!   on a virtual clock too. The overall handshake timeout uses the
//!   caller's clock only.

#[cfg(not(any(feature = "dtls-openssl", feature = "dtls-mbedtls-base")))]
compile_error!("enable a DTLS backend: feature `dtls-openssl` or `dtls-mbedtls`");

mod base;
#[cfg(test)]
mod cert_tests;
mod common;
mod fingerprint;
mod pipe;

// OpenSSL, unless mbedTLS is chosen.
#[cfg(not(feature = "dtls-mbedtls-base"))]
mod cert;
#[cfg(not(feature = "dtls-mbedtls-base"))]
mod ossl;
#[cfg(not(feature = "dtls-mbedtls-base"))]
mod session;

#[cfg(feature = "dtls-mbedtls-base")]
mod mbed;
#[cfg(feature = "dtls-mbedtls-base")]
use mbed::{cert, session};

pub use cert::Certificate;
pub use common::{
    DtlsConfig, DtlsStats, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MTU, DEFAULT_RETRANSMIT_INITIAL,
    MAX_RECORD_PLAINTEXT, MAX_RECV_QUEUE_BYTES, MAX_SEND_QUEUE_DATAGRAMS, MIN_MTU,
};
pub use fingerprint::{Fingerprint, CERT_COMMON_NAME, CERT_VALIDITY_DAYS, FINGERPRINT_LEN};
pub use session::DtlsSession;

/// The DTLS library this build uses: `"openssl"` or `"mbedtls"`.
#[cfg(not(feature = "dtls-mbedtls-base"))]
pub const BACKEND: &std::ffi::CStr = c"openssl";
/// The DTLS library this build uses: `"openssl"` or `"mbedtls"`.
#[cfg(feature = "dtls-mbedtls-base")]
pub const BACKEND: &std::ffi::CStr = c"mbedtls";

use std::fmt;

/// Which side of the handshake this session plays. In SDP terms
/// `a=setup:active` is the client and `passive` the server; `actpass`
/// answers as server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    Client,
    Server,
}

/// Lifecycle of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsState {
    /// Created, not started.
    New,
    /// Handshake in progress.
    Connecting,
    /// Handshake done and the peer's certificate checked; data flows.
    Connected,
    /// The handshake or the connection failed; see the `Failed` event.
    Failed,
    /// Closed by either side (close_notify).
    Closed,
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtlsFailure {
    /// The handshake did not complete within the configured timeout.
    HandshakeTimeout,
    /// The peer's certificate does not match the expected fingerprint.
    FingerprintMismatch,
    /// The handshake completed without a peer certificate.
    NoPeerCertificate,
    /// The TLS library gave up retransmitting the handshake.
    RetransmitLimit,
    /// The handshake failed (alert received or sent, protocol error).
    Handshake(String),
    /// A fatal error on an established connection.
    Protocol(String),
}

impl fmt::Display for DtlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtlsFailure::HandshakeTimeout => f.write_str("handshake timed out"),
            DtlsFailure::FingerprintMismatch => {
                f.write_str("peer certificate does not match the expected fingerprint")
            }
            DtlsFailure::NoPeerCertificate => f.write_str("peer sent no certificate"),
            DtlsFailure::RetransmitLimit => f.write_str("too many handshake retransmissions"),
            DtlsFailure::Handshake(m) => write!(f, "handshake failed: {m}"),
            DtlsFailure::Protocol(m) => write!(f, "connection failed: {m}"),
        }
    }
}

/// What a session reports. Events signal; application data is pulled with
/// [`DtlsSession::recv`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtlsEvent {
    /// Handshake done and the peer certificate accepted.
    Connected,
    /// Application data was queued while the queue was empty.
    Readable,
    /// The peer sent close_notify, or [`DtlsSession::close`] was called.
    Closed,
    /// The session failed; no more data passes.
    Failed(DtlsFailure),
}

/// Errors of the DTLS layer's calls. Network input never produces one: bad
/// datagrams are dropped and counted, and a dead connection is an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DtlsError {
    /// The TLS library failed to create a key, certificate or context.
    Crypto(String),
    /// A configuration value is out of range; the name says which.
    InvalidConfig(&'static str),
    /// The call is not allowed in the current state (e.g. `start` twice,
    /// `set_role` after `start`).
    InvalidState,
    /// Application data before the handshake completed or after close.
    NotConnected,
    /// Empty application writes are not sent.
    EmptyMessage,
    /// The message does not fit one record in one datagram.
    MessageTooLarge { len: usize, max: usize },
    /// Too many datagrams are waiting in the send queue; drain
    /// `poll_transmit` first.
    QueueFull,
    /// The caller's buffer is smaller than the next message or datagram,
    /// which stays queued.
    BufferTooSmall { needed: usize },
    /// A fingerprint string is malformed.
    InvalidFingerprint,
}

impl fmt::Display for DtlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtlsError::Crypto(m) => write!(f, "{}: {m}", BACKEND.to_string_lossy()),
            DtlsError::InvalidConfig(what) => write!(f, "invalid configuration: {what}"),
            DtlsError::InvalidState => f.write_str("invalid state for this call"),
            DtlsError::NotConnected => f.write_str("not connected"),
            DtlsError::EmptyMessage => f.write_str("empty message"),
            DtlsError::MessageTooLarge { len, max } => {
                write!(
                    f,
                    "message of {len} bytes exceeds the {max}-byte record limit"
                )
            }
            DtlsError::QueueFull => f.write_str("send queue full"),
            DtlsError::BufferTooSmall { needed } => {
                write!(f, "buffer too small: {needed} bytes needed")
            }
            DtlsError::InvalidFingerprint => f.write_str("malformed fingerprint"),
        }
    }
}

impl std::error::Error for DtlsError {}
