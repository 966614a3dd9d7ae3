//! What a DTLS session is apart from its TLS library: lifecycle, deadlines,
//! events, the datagrams kept from before `start`, the receive queue and the
//! counters, with every rule that does not depend on the library. Each
//! backend's `DtlsSession` holds one [`SessionBase`] beside its library
//! session and leaves these rules to it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::common::{
    earliest, records_well_formed, DtlsConfig, DtlsStats, RecvQueue, MAX_DATAGRAM,
    MAX_EARLY_DATAGRAMS, MAX_RECORD_PLAINTEXT, MAX_SEND_QUEUE_DATAGRAMS, MIN_MTU, SCRATCH_LEN,
};
use super::pipe::Pipe;
use super::{DtlsError, DtlsEvent, DtlsFailure, DtlsRole, DtlsState, Fingerprint};

/// Record overhead assumed while the library cannot say: a 13-byte header,
/// an 8-byte explicit nonce and a 16-byte tag (AES-GCM, the largest of the
/// offered suites).
const WORST_RECORD_OVERHEAD: usize = 37;

/// The library-independent half of a DTLS session. (No `Debug`: each
/// session prints what matters, not its 16 KiB decryption buffer.)
pub(crate) struct SessionBase {
    pub(crate) role: DtlsRole,
    pub(crate) state: DtlsState,
    pub(crate) remote_fingerprint: Option<Fingerprint>,
    pub(crate) mtu: usize,
    pub(crate) max_payload: usize,
    handshake_timeout: Duration,
    handshake_deadline: Option<Instant>,
    pub(crate) retransmit_deadline: Option<Instant>,
    early: VecDeque<Vec<u8>>,
    events: VecDeque<DtlsEvent>,
    recv: RecvQueue,
    /// Where the library decrypts one record.
    pub(crate) scratch: Box<[u8]>,
    pub(crate) stats: DtlsStats,
}

impl SessionBase {
    /// Checks the configuration's limits.
    pub(crate) fn new(cfg: &DtlsConfig) -> Result<SessionBase, DtlsError> {
        crate::logging::init();
        if !mtu_in_range(cfg.mtu) {
            return Err(DtlsError::InvalidConfig("mtu"));
        }
        if cfg.handshake_timeout.is_zero() {
            return Err(DtlsError::InvalidConfig("handshake_timeout"));
        }
        if cfg.retransmit_initial.is_zero() {
            return Err(DtlsError::InvalidConfig("retransmit_initial"));
        }
        Ok(SessionBase {
            role: cfg.role,
            state: DtlsState::New,
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

    /// Handshaking or connected: the states in which the library runs.
    pub(crate) fn is_live(&self) -> bool {
        matches!(self.state, DtlsState::Connecting | DtlsState::Connected)
    }

    /// The role may change only before `start`.
    pub(crate) fn check_role_change(&self) -> Result<(), DtlsError> {
        if self.state != DtlsState::New {
            return Err(DtlsError::InvalidState);
        }
        Ok(())
    }

    /// Enters the handshake (once) and arms its overall deadline.
    pub(crate) fn begin(&mut self, now: Instant) -> Result<(), DtlsError> {
        self.check_role_change()?;
        self.state = DtlsState::Connecting;
        self.handshake_deadline = Some(now + self.handshake_timeout);
        log::info!(target: "dtls", "handshake started as {:?}", self.role);
        Ok(())
    }

    /// The next datagram kept from before `start`, while the handshake may
    /// still take it.
    pub(crate) fn next_early(&mut self) -> Option<Vec<u8>> {
        if !self.is_live() {
            return None;
        }
        self.early.pop_front()
    }

    /// Counts one received datagram and says whether the library should
    /// see it now: malformed datagrams (`min_protected`: the smallest body
    /// a protected record may have) are dropped, those before `start` kept
    /// (a few), those after the end ignored.
    pub(crate) fn admit(&mut self, data: &[u8], min_protected: usize) -> bool {
        self.stats.datagrams_in += 1;
        if !records_well_formed(data, min_protected) {
            log::debug!(target: "dtls", "dropped a malformed datagram ({} bytes)", data.len());
            self.stats.malformed += 1;
            return false;
        }
        match self.state {
            DtlsState::New => {
                if self.early.len() < MAX_EARLY_DATAGRAMS {
                    self.early.push_back(data.to_vec());
                } else {
                    self.stats.ignored += 1;
                }
                false
            }
            DtlsState::Failed | DtlsState::Closed => {
                self.stats.ignored += 1;
                false
            }
            DtlsState::Connecting | DtlsState::Connected => true,
        }
    }

    /// The timeout rules before the library's own timer: fails a
    /// handshake past its overall deadline; whether the library's timer
    /// is still to be looked at.
    pub(crate) fn timeout_continues(&mut self, now: Instant) -> bool {
        if self.state == DtlsState::Connecting && self.handshake_deadline.is_some_and(|d| now >= d)
        {
            self.fail(DtlsFailure::HandshakeTimeout);
            return false;
        }
        self.is_live()
    }

    /// The library's retransmission timer has expired by `now`.
    pub(crate) fn retransmit_due(&self, now: Instant) -> bool {
        self.retransmit_deadline.is_some_and(|d| now >= d)
    }

    /// The library's retransmission deadline, kept only while it runs.
    pub(crate) fn set_retransmit(&mut self, deadline: Option<Instant>) {
        self.retransmit_deadline = deadline.filter(|_| self.is_live());
    }

    pub(crate) fn poll_transmit(&mut self, pipe: &mut Pipe) -> Option<Vec<u8>> {
        let d = pipe.pop_output()?;
        self.stats.datagrams_out += 1;
        Some(d)
    }

    pub(crate) fn poll_transmit_into(
        &mut self,
        pipe: &mut Pipe,
        buf: &mut [u8],
    ) -> Result<Option<usize>, DtlsError> {
        let n = pipe
            .pop_output_into(buf)
            .map_err(|needed| DtlsError::BufferTooSmall { needed })?;
        self.stats.datagrams_out += u64::from(n.is_some());
        Ok(n)
    }

    pub(crate) fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if !self.is_live() {
            return None;
        }
        earliest(self.handshake_deadline, self.retransmit_deadline)
    }

    /// Why a message of `len` bytes cannot be sent now, with `queued`
    /// datagrams waiting in the pipe.
    pub(crate) fn check_send(&self, len: usize, queued: usize) -> Result<(), DtlsError> {
        if self.state != DtlsState::Connected {
            return Err(DtlsError::NotConnected);
        }
        if len == 0 {
            return Err(DtlsError::EmptyMessage);
        }
        if len > self.max_payload {
            return Err(DtlsError::MessageTooLarge {
                len,
                max: self.max_payload,
            });
        }
        if queued >= MAX_SEND_QUEUE_DATAGRAMS {
            return Err(DtlsError::QueueFull);
        }
        Ok(())
    }

    /// Queues the message decrypted into `scratch[..n]`.
    pub(crate) fn deliver(&mut self, n: usize) {
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

    pub(crate) fn next_message_len(&self) -> Option<usize> {
        self.recv.front_len()
    }

    pub(crate) fn recv(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DtlsError> {
        self.recv.pop_into(buf)
    }

    pub(crate) fn recv_with(
        &mut self,
        scratch: &mut [u8],
        f: impl FnOnce(&[u8]),
    ) -> Result<bool, DtlsError> {
        self.recv.pop_with(scratch, f)
    }

    pub(crate) fn recv_vec(&mut self) -> Option<Vec<u8>> {
        let len = self.recv.front_len()?;
        let mut v = vec![0u8; len];
        match self.recv.pop_into(&mut v) {
            Ok(Some(_)) => Some(v),
            _ => None,
        }
    }

    /// [`max_payload`](Self::max_payload) from the MTU and what the library
    /// says one datagram's record can carry (`data_mtu`, 0 if it cannot
    /// say), at most one record's plaintext.
    pub(crate) fn set_max_payload(&mut self, data_mtu: usize) {
        let payload = if data_mtu > 0 {
            data_mtu.min(self.mtu)
        } else {
            self.mtu - WORST_RECORD_OVERHEAD
        };
        self.max_payload = payload.min(MAX_RECORD_PLAINTEXT);
    }

    /// Records the certificate the peer presented; false (and says so) if
    /// it is not the one `expected`.
    pub(crate) fn accept_fingerprint(
        &mut self,
        fp: Fingerprint,
        expected: Option<Fingerprint>,
    ) -> bool {
        self.remote_fingerprint = Some(fp);
        match expected.filter(|&e| e != fp) {
            Some(e) => {
                log::error!(target: "dtls", "peer certificate fingerprint {} does not match a=fingerprint {}", fp.to_sdp(), e.to_sdp());
                false
            }
            None => true,
        }
    }

    /// The handshake is done with the peer's certificate accepted.
    pub(crate) fn connected(&mut self, version: &str, cipher: Option<&str>) {
        self.state = DtlsState::Connected;
        self.handshake_deadline = None;
        let fp = self.remote_fingerprint.map(|f| f.to_sdp());
        log::info!(target: "dtls", "connected as {:?}: {version}, cipher {}, peer fingerprint {}", self.role, cipher.unwrap_or("?"), fp.as_deref().unwrap_or("?"));
        self.events.push_back(DtlsEvent::Connected);
    }

    /// Closed on our side (`close`), after the library sent close_notify or
    /// dropped what it had queued.
    pub(crate) fn closed_locally(&mut self) {
        self.early.clear();
        log::debug!(target: "dtls", "closing ({:?})", self.state);
        self.closed();
    }

    /// The peer's close_notify.
    pub(crate) fn closed_by_peer(&mut self) {
        log::info!(target: "dtls", "closed by the peer (close_notify)");
        self.closed();
    }

    fn closed(&mut self) {
        self.state = DtlsState::Closed;
        self.handshake_deadline = None;
        self.retransmit_deadline = None;
        self.events.push_back(DtlsEvent::Closed);
    }

    pub(crate) fn fail(&mut self, reason: DtlsFailure) {
        log::warn!(target: "dtls", "failed: {reason}");
        self.state = DtlsState::Failed;
        self.handshake_deadline = None;
        self.retransmit_deadline = None;
        self.early.clear();
        self.events.push_back(DtlsEvent::Failed(reason));
    }
}

/// An MTU both backends accept.
pub(crate) fn mtu_in_range(mtu: usize) -> bool {
    (MIN_MTU..=MAX_DATAGRAM).contains(&mtu)
}
