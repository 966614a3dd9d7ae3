//! TURN over TLS left out of the build (feature `turn-tls` off): a
//! `turns:` server is refused with [`TlsError::Config`] when the client
//! is created, and nothing else changes.

use super::{TlsConfig, TlsError, TlsState};

/// Never constructed in this build: [`TlsClient::new`] always fails.
#[derive(Debug)]
pub enum TlsClient {}

impl TlsClient {
    /// Fails: this build has no TLS client for TURN.
    pub fn new(_cfg: &TlsConfig) -> Result<Self, TlsError> {
        Err(TlsError::Config(
            "TURN over TLS is not in this build (cargo feature `turn-tls`)".into(),
        ))
    }

    pub fn state(&self) -> TlsState {
        match *self {}
    }

    pub fn is_established(&self) -> bool {
        match *self {}
    }

    pub fn error(&self) -> Option<&TlsError> {
        match *self {}
    }

    pub fn feed_ciphertext(&mut self, _data: &[u8]) -> Result<(), TlsError> {
        match *self {}
    }

    pub fn poll_ciphertext(&mut self) -> Option<Vec<u8>> {
        match *self {}
    }

    pub fn send(&mut self, _msg: &[u8]) -> Result<(), TlsError> {
        match *self {}
    }

    pub fn poll_message(&mut self) -> Option<Vec<u8>> {
        match *self {}
    }

    pub fn close(&mut self) {
        match *self {}
    }
}
