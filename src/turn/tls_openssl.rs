//! The TURN-over-TLS client on OpenSSL (feature `turn-tls`).

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use openssl::ssl::{ErrorCode, SslConnector, SslMethod, SslStream, SslVersion};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509VerifyResult;

use super::{TlsConfig, TlsError, TlsState};
use crate::turn::stream::{encode_frame, FrameDecoder, StreamError};

/// Plaintext read from OpenSSL at a time.
const READ_CHUNK: usize = 16 * 1024;

/// The in-memory "socket" OpenSSL reads from and writes to.
#[derive(Debug, Default)]
struct MemIo {
    incoming: VecDeque<u8>,
    outgoing: Vec<u8>,
}

impl Read for MemIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.incoming.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.incoming.read(buf)
    }
}

impl Write for MemIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The TLS client of one TURN connection. See the module docs.
pub struct TlsClient {
    stream: SslStream<MemIo>,
    state: TlsState,
    decoder: FrameDecoder,
    /// Framed plaintext waiting for the handshake.
    pending: Vec<u8>,
    messages: VecDeque<Vec<u8>>,
    error: Option<TlsError>,
}

impl std::fmt::Debug for TlsClient {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("state", &self.state)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn config_err(e: impl std::fmt::Display) -> TlsError {
    TlsError::Config(e.to_string())
}

impl TlsClient {
    /// Starts the handshake: the ClientHello is ready in
    /// [`TlsClient::poll_ciphertext`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(cfg: &TlsConfig) -> Result<Self, TlsError> {
        let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(config_err)?;
        b.set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(config_err)?;
        if !cfg.system_roots {
            let store = X509StoreBuilder::new().map_err(config_err)?.build();
            b.set_cert_store(store);
        }
        if let Some(path) = &cfg.extra_ca_file {
            b.set_ca_file(path)
                .map_err(|e| TlsError::Config(format!("CA file {}: {e}", path.display())))?;
        }
        let mut ssl = b
            .build()
            .configure()
            .and_then(|c| c.into_ssl(&cfg.server_name))
            .map_err(config_err)?;
        ssl.set_connect_state();
        let stream = SslStream::new(ssl, MemIo::default()).map_err(config_err)?;
        let mut client = TlsClient {
            stream,
            state: TlsState::Handshaking,
            decoder: FrameDecoder::new(),
            pending: Vec::new(),
            messages: VecDeque::new(),
            error: None,
        };
        client.advance();
        match client.error.clone() {
            Some(e) => Err(e),
            None => Ok(client),
        }
    }

    /// Where the connection is.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn state(&self) -> TlsState {
        self.state
    }

    /// Whether the handshake is done and the connection open.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_established(&self) -> bool {
        self.state == TlsState::Established
    }

    /// Why the connection failed, if it did.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn error(&self) -> Option<&TlsError> {
        self.error.as_ref()
    }

    /// Takes bytes read from the socket. Errors once the connection failed
    /// (the first error, again) or closed.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn feed_ciphertext(&mut self, data: &[u8]) -> Result<(), TlsError> {
        self.check()?;
        self.stream.get_mut().incoming.extend(data);
        self.advance();
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Bytes to write to the socket, if any (handshake, records, alerts).
    pub fn poll_ciphertext(&mut self) -> Option<Vec<u8>> {
        let out = &mut self.stream.get_mut().outgoing;
        (!out.is_empty()).then(|| std::mem::take(out))
    }

    /// Sends one STUN or ChannelData message (ChannelData is padded for the
    /// stream); during the handshake it waits for the handshake.
    pub fn send(&mut self, msg: &[u8]) -> Result<(), TlsError> {
        self.check()?;
        let mut framed = Vec::with_capacity(msg.len() + 3);
        encode_frame(msg, &mut framed).map_err(TlsError::Framing)?;
        if self.state == TlsState::Handshaking {
            self.pending.extend_from_slice(&framed);
            return Ok(());
        }
        self.write_all(&framed);
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The next message received (ChannelData without padding).
    pub fn poll_message(&mut self) -> Option<Vec<u8>> {
        self.messages.pop_front()
    }

    /// Closes the connection: a close_notify goes out through
    /// [`TlsClient::poll_ciphertext`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn close(&mut self) {
        if self.state == TlsState::Established {
            // With memory buffers the alert is written at once; a failure
            // leaves nothing to send.
            let _ = self.stream.shutdown();
        }
        if self.state != TlsState::Failed {
            self.state = TlsState::Closed;
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn check(&self) -> Result<(), TlsError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.state == TlsState::Closed {
            return Err(TlsError::Closed);
        }
        Ok(())
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn fail(&mut self, e: TlsError) {
        self.state = TlsState::Failed;
        self.pending.clear();
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// A failed handshake or record: the certificate's verdict when it was
    /// refused, else OpenSSL's error.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn classify(&self, e: &openssl::ssl::Error) -> TlsError {
        let verdict = self.stream.ssl().verify_result();
        if verdict != X509VerifyResult::OK {
            return TlsError::CertificateRejected(verdict.error_string().to_owned());
        }
        let text = match e.ssl_error() {
            Some(stack) => stack.to_string(),
            None => e.to_string(),
        };
        TlsError::ConnectionBroken(text)
    }

    /// Runs the handshake and reads what has arrived.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn advance(&mut self) {
        if self.state == TlsState::Handshaking {
            match self.stream.do_handshake() {
                Ok(()) => {
                    self.state = TlsState::Established;
                    let pending = std::mem::take(&mut self.pending);
                    if !pending.is_empty() {
                        self.write_all(&pending);
                    }
                }
                Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => {
                    return
                }
                Err(e) => {
                    let err = self.classify(&e);
                    self.fail(err);
                    return;
                }
            }
        }
        let mut buf = vec![0u8; READ_CHUNK];
        while self.state == TlsState::Established {
            match self.stream.ssl_read(&mut buf) {
                Ok(0) => self.state = TlsState::Closed,
                Ok(n) => {
                    if let Err(e) = self.decode(n, &buf) {
                        self.fail(TlsError::Framing(e));
                    }
                }
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => self.state = TlsState::Closed,
                Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => break,
                Err(e) => {
                    let err = self.classify(&e);
                    self.fail(err);
                }
            }
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn decode(&mut self, n: usize, buf: &[u8]) -> Result<(), StreamError> {
        self.decoder.feed(&buf[..n])?;
        while let Some(m) = self.decoder.poll()? {
            self.messages.push_back(m);
        }
        Ok(())
    }

    fn write_all(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.stream.ssl_write(data) {
                Ok(n) => data = &data[n..],
                Err(e) => {
                    let err = self.classify(&e);
                    self.fail(err);
                    return;
                }
            }
        }
    }
}
