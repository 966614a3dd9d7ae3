//! The few OpenSSL DTLS calls the `openssl` crate does not wrap.
//!
//! `DTLSv1_get_timeout` and `DTLSv1_handle_timeout` are C macros over
//! `SSL_ctrl`; `DTLS_set_timer_cb` and `DTLS_get_data_mtu` are plain
//! functions. libssl itself is linked by the `openssl` crate, so declaring the
//! symbols here is enough.

use std::os::raw::{c_int, c_long, c_uint, c_void};
use std::sync::OnceLock;
use std::time::Duration;

use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslRef};
use xbase::ffi_boundary;

/// `DTLS_CTRL_GET_TIMEOUT` from `<openssl/ssl.h>`.
const DTLS_CTRL_GET_TIMEOUT: c_int = 73;
/// `DTLS_CTRL_HANDLE_TIMEOUT` from `<openssl/ssl.h>`.
const DTLS_CTRL_HANDLE_TIMEOUT: c_int = 74;
/// `SSL_CTRL_SET_MTU` from `<openssl/ssl.h>` (`SSL_set_mtu` is a macro).
const SSL_CTRL_SET_MTU: c_int = 17;

/// RFC 6347 §4.2.4.1: the retransmission timer doubles up to 60 s.
const MAX_TIMER_US: u64 = 60_000_000;

type TimerCb = unsafe extern "C" fn(ssl: *mut c_void, timer_us: c_uint) -> c_uint;

extern "C" {
    fn SSL_ctrl(ssl: *mut c_void, cmd: c_int, larg: c_long, parg: *mut c_void) -> c_long;
    fn DTLS_set_timer_cb(ssl: *mut c_void, cb: Option<TimerCb>);
    fn DTLS_get_data_mtu(ssl: *const c_void) -> usize;
}

/// The `SSL *` behind a reference. The `openssl` crate's reference types are
/// zero-sized views whose address is the C object's address.
fn raw(ssl: &SslRef) -> *mut c_void {
    ssl as *const SslRef as *mut c_void
}

/// Time left on OpenSSL's DTLS retransmission timer, measured by OpenSSL on
/// the real clock; `None` when no timer is running.
pub(crate) fn get_timeout(ssl: &SslRef) -> Option<Duration> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: `ssl` is a live SSL object; the control writes one timeval.
    let r = unsafe {
        SSL_ctrl(
            raw(ssl),
            DTLS_CTRL_GET_TIMEOUT,
            0,
            &mut tv as *mut libc::timeval as *mut c_void,
        )
    };
    if r != 1 {
        return None;
    }
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0).min(999_999);
    Some(Duration::new(secs, micros * 1000))
}

/// What `DTLSv1_handle_timeout` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeoutOutcome {
    /// The timer had not expired (by OpenSSL's clock) or was not running.
    NotExpired,
    /// The last flight was retransmitted.
    Retransmitted,
    /// OpenSSL gave up (too many retransmissions) or failed to resend.
    Failed,
}

/// Lets OpenSSL retransmit the last flight if its timer has expired.
pub(crate) fn handle_timeout(ssl: &SslRef) -> TimeoutOutcome {
    // SAFETY: `ssl` is a live SSL object; the control takes no argument.
    let r = unsafe { SSL_ctrl(raw(ssl), DTLS_CTRL_HANDLE_TIMEOUT, 0, std::ptr::null_mut()) };
    match r {
        0 => TimeoutOutcome::NotExpired,
        r if r > 0 => TimeoutOutcome::Retransmitted,
        _ => TimeoutOutcome::Failed,
    }
}

/// Largest application payload that fits one record in one datagram of the
/// configured MTU with the negotiated cipher; 0 before the handshake.
pub(crate) fn data_mtu(ssl: &SslRef) -> usize {
    // SAFETY: `ssl` is a live SSL object; the call only reads it.
    unsafe { DTLS_get_data_mtu(raw(ssl)) }
}

/// `SSL_set_mtu` on a live session (the datagram size, record headers
/// included, with `SSL_OP_NO_QUERY_MTU`); false when OpenSSL refuses it
/// (below its minimum).
pub(crate) fn set_mtu(ssl: &SslRef, mtu: usize) -> bool {
    let Ok(mtu) = c_long::try_from(mtu) else {
        return false;
    };
    // SAFETY: `ssl` is a live SSL object; the control stores one number.
    unsafe { SSL_ctrl(raw(ssl), SSL_CTRL_SET_MTU, mtu, std::ptr::null_mut()) > 0 }
}

/// The per-session initial retransmission timeout, in microseconds.
fn timer_index() -> Option<Index<Ssl, u32>> {
    static INDEX: OnceLock<Option<Index<Ssl, u32>>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index::<u32>().ok())
}

unsafe extern "C" fn timer_cb(ssl: *mut c_void, timer_us: c_uint) -> c_uint {
    ffi_boundary!(1_000_000, {
        if ssl.is_null() {
            return 1_000_000;
        }
        // SAFETY: OpenSSL passes the live SSL object the callback was set on;
        // the reference type is a zero-sized view of it.
        let ssl = unsafe { &*(ssl as *const SslRef) };
        let initial = timer_index()
            .and_then(|idx| ssl.ex_data(idx).copied())
            .unwrap_or(1_000_000);
        if timer_us == 0 {
            initial
        } else {
            let next = (u64::from(timer_us) * 2).min(MAX_TIMER_US);
            c_uint::try_from(next).unwrap_or(c_uint::MAX)
        }
    })
}

/// Makes OpenSSL start its retransmission timer at `initial` (instead of its
/// fixed 1 s) and double it on each expiry, up to 60 s.
pub(crate) fn set_initial_timeout(ssl: &mut SslRef, initial: Duration) {
    let Some(idx) = timer_index() else {
        return;
    };
    let us = u32::try_from(initial.as_micros())
        .unwrap_or(u32::MAX)
        .clamp(1_000, MAX_TIMER_US as u32);
    ssl.set_ex_data(idx, us);
    // SAFETY: `ssl` is a live SSL object; the callback is a plain function
    // that only reads the session's ex_data.
    unsafe { DTLS_set_timer_cb(raw(ssl), Some(timer_cb)) };
}
