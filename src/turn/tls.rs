//! TURN over TLS (RFC 8656 §3.1, port 5349), sans-IO: OpenSSL runs on
//! in-memory buffers, the caller moves the ciphertext.
//!
//! [`TlsClient::feed_ciphertext`] takes what the socket read,
//! [`TlsClient::poll_ciphertext`] gives what to write to it,
//! [`TlsClient::send`] frames one STUN or ChannelData message (see
//! [`super::stream`]) and [`TlsClient::poll_message`] returns the
//! messages received. Messages sent during the handshake wait for it.
//!
//! Trust: the server certificate must chain to the system trust store
//! (OpenSSL's default paths, unless [`TlsConfig::system_roots`] is off) or
//! to a CA in [`TlsConfig::extra_ca_file`], a PEM file; the environment
//! variable `XP2P_TURN_CA_FILE` ([`CA_FILE_ENV`]) fills that field through
//! [`TlsConfig::from_env`]. The certificate must name
//! [`TlsConfig::server_name`] (a DNS name, also sent as SNI, or an IP
//! address). A refused certificate is [`TlsError::CertificateRejected`]
//! with OpenSSL's reason; any other failure is
//! [`TlsError::ConnectionBroken`].

use std::path::PathBuf;

use super::stream::StreamError;

#[cfg(feature = "turn-tls")]
#[path = "tls_openssl.rs"]
mod client;
#[cfg(not(feature = "turn-tls"))]
#[path = "tls_off.rs"]
mod client;

pub use client::TlsClient;

/// The environment variable naming an extra CA file (PEM) to trust for
/// TURN servers, read by [`TlsConfig::from_env`].
pub const CA_FILE_ENV: &str = "XP2P_TURN_CA_FILE";

/// TLS settings for one TURN server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The name the certificate must carry: a DNS name (also sent as SNI)
    /// or an IP address.
    pub server_name: String,
    /// A PEM file of CA certificates trusted in addition to the system
    /// store.
    pub extra_ca_file: Option<PathBuf>,
    /// Trust the system store (OpenSSL's default verify paths).
    pub system_roots: bool,
}

impl TlsConfig {
    /// Trusts the system store only.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(server_name: &str) -> Self {
        TlsConfig {
            server_name: server_name.to_owned(),
            extra_ca_file: None,
            system_roots: true,
        }
    }

    /// As [`TlsConfig::new`], plus the CA file named by `XP2P_TURN_CA_FILE`
    /// when that variable is set and not empty.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn from_env(server_name: &str) -> Self {
        let mut cfg = TlsConfig::new(server_name);
        cfg.extra_ca_file = std::env::var_os(CA_FILE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        cfg
    }
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsState {
    Handshaking,
    Established,
    /// The server closed the connection (close_notify) or [`TlsClient::close`]
    /// was called.
    Closed,
    Failed,
}

/// Errors of the TLS transport.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// The configuration cannot be used (an unreadable CA file, a bad
    /// server name).
    Config(String),
    /// The server's certificate was refused: not signed by a trusted CA,
    /// expired, or not for [`TlsConfig::server_name`]. The text is
    /// OpenSSL's verification result.
    CertificateRejected(String),
    /// The TLS session failed otherwise (protocol error, alert, corrupt
    /// records): the connection is broken.
    ConnectionBroken(String),
    /// The decrypted bytes are not TURN stream framing.
    Framing(StreamError),
    /// The connection is closed.
    Closed,
}

impl std::fmt::Display for TlsError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::Config(s) => write!(f, "TLS configuration: {s}"),
            TlsError::CertificateRejected(s) => {
                write!(f, "TURN server certificate rejected: {s}")
            }
            TlsError::ConnectionBroken(s) => write!(f, "TLS connection broken: {s}"),
            TlsError::Framing(e) => write!(f, "TLS stream: {e}"),
            TlsError::Closed => f.write_str("TLS connection closed"),
        }
    }
}

impl std::error::Error for TlsError {}

impl TlsError {
    /// The failure of the connection this error ends.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn failure(&self) -> super::stream::StreamFailure {
        use super::stream::StreamFailure;
        match self {
            TlsError::CertificateRejected(_) => StreamFailure::CertificateRejected,
            TlsError::Framing(_) => StreamFailure::Framing,
            TlsError::Closed => StreamFailure::Closed,
            TlsError::Config(_) | TlsError::ConnectionBroken(_) => StreamFailure::Tls,
        }
    }
}
