//! `dtls_backend.h`: the DTLS types shared by the transport API (roles,
//! states, the send callback, fingerprint sizes) and the fingerprint text
//! helper. The backend vtable of upstream is the seam for a second TLS
//! library; libxp2p's DTLS layer is `crate::dtls` over OpenSSL.

use libc::{c_int, c_void};
use xbase::types::xErrno;

pub const XDTLS_FINGERPRINT_SIZE: usize = 32;
pub const XDTLS_FINGERPRINT_STR_SIZE: usize = 96;
pub const XDTLS_MAX_CERT_SIZE: usize = 2048;

/// `xDtlsRole` (`XDEF_ENUM`).
pub type xDtlsRole = c_int;
pub const xDtlsRole_Active: xDtlsRole = 0;
pub const xDtlsRole_Passive: xDtlsRole = 1;
pub const xDtlsRole_Actpass: xDtlsRole = 2;

/// `xDtlsState` (`XDEF_ENUM`).
pub type xDtlsState = c_int;
pub const xDtlsState_New: xDtlsState = 0;
pub const xDtlsState_Connecting: xDtlsState = 1;
pub const xDtlsState_Connected: xDtlsState = 2;
pub const xDtlsState_Failed: xDtlsState = 3;
pub const xDtlsState_Closed: xDtlsState = 4;

/// Sends one DTLS datagram towards the peer.
pub type xDtlsSendFn =
    Option<unsafe extern "C" fn(data: *const u8, len: usize, arg: *mut c_void) -> xErrno>;
