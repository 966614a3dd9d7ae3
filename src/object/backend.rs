//! The object behind an `xDtlsBackendCtx` of the backend vtable
//! (`xDtlsBackendGet`): a DTLS session driven synchronously by the caller,
//! whose datagrams leave through the caller's `send_fn`.

use super::cabi::SendFn;
use super::handle::{self, Handle};
use crate::driver::clock;
use crate::dtls::{Certificate, DtlsConfig, DtlsRole, DtlsSession, DtlsState};
use libc::c_void;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// The backend's handshake limit: the caller's transport keeps its own.
const BACKEND_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// One backend session: the sans-IO DTLS session and where its datagrams go.
pub struct BackendCtx {
    pub session: Mutex<DtlsSession>,
    send_fn: SendFn,
    send_arg: usize,
}

/// A new session with a fresh certificate; `None` if one cannot be made.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn create(
    role: DtlsRole,
    send_fn: SendFn,
    send_arg: *mut c_void,
) -> Option<Handle<BackendCtx>> {
    let cert = Certificate::generate().ok()?;
    let mut cfg = DtlsConfig::new(role, cert);
    cfg.handshake_timeout = BACKEND_HANDSHAKE_TIMEOUT;
    let session = DtlsSession::new(cfg).ok()?;
    Some(handle::insert(Arc::new(BackendCtx {
        session: Mutex::new(session),
        send_fn,
        send_arg: send_arg as usize,
    })))
}

impl BackendCtx {
    /// Sends every queued datagram through `send_fn`, without the session
    /// lock held (the callback may feed a peer that answers at once).
    pub fn flush(&self) {
        loop {
            let datagrams: Vec<Vec<u8>> = {
                let mut s = self.session.lock();
                while s.poll_event().is_some() {}
                std::iter::from_fn(|| s.poll_transmit()).collect()
            };
            if datagrams.is_empty() {
                return;
            }
            for d in datagrams {
                // SAFETY: the caller's send_fn with its own argument; the
                // datagram outlives the call and no lock is held.
                unsafe { (self.send_fn)(d.as_ptr(), d.len(), self.send_arg as *mut c_void) };
            }
        }
    }

    /// Starts the handshake on the first call; later calls let DTLS
    /// retransmit its last flight when its timer has expired. Sends what is
    /// due and returns the state; `None` when the session refuses to start.
    pub fn handshake_step(&self) -> Option<DtlsState> {
        {
            let now = clock::now();
            let mut s = self.session.lock();
            if s.state() == DtlsState::New {
                s.start(now).ok()?;
            } else if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
            }
        }
        self.flush();
        let state = self.session.lock().state();
        Some(state)
    }
}
