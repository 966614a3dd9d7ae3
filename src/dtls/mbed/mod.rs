//! The mbedTLS 2.28 backend: the same sans-IO session and certificate API
//! as the OpenSSL backend, over the `xm_*` shim of the `xp2p-mbedtls`
//! crate, which owns every mbedTLS context.
//!
//! Differences worth knowing: mbedTLS reads no clock at all (its
//! retransmission timer callbacks are fed from the caller's `now`, so the
//! handshake retransmits on a virtual clock too), and its use_srtp offer is
//! `SRTP_AES128_CM_SHA1_80` only (mbedTLS 2.28 has no AEAD profile).
//! Application data of the AES-GCM suites is sealed and opened in
//! `records.rs` with the keys mbedTLS derived, not by mbedTLS (speed),
//! unless the build leaves `ring` out (feature `dtls-mbedtls-base` without
//! `dtls-mbedtls`): then mbedTLS protects every record.

pub(crate) mod cert;
mod hello;
#[cfg(all(test, feature = "dtls-mbedtls"))]
mod record_tests;
pub(crate) mod records;
pub(crate) mod session;

use std::os::raw::c_char;

/// mbedTLS's text for an error code.
pub(crate) fn error_text(code: i32) -> String {
    let mut buf = [0 as c_char; 160];
    // SAFETY: the buffer is writable for its length; mbedTLS NUL-terminates.
    unsafe { xp2p_mbedtls::xm_strerror(code, buf.as_mut_ptr(), buf.len()) };
    // SAFETY: NUL-terminated within the buffer (see above).
    let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    format!(
        "{} (-0x{:04x})",
        text.to_string_lossy(),
        code.unsigned_abs()
    )
}
