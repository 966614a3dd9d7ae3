//! Declarations of the `xm_*` functions of `shim.c`, the C side of
//! libxp2p's mbedTLS DTLS backend. The shim owns every mbedTLS context (their
//! layout depends on mbedTLS's build configuration), so only opaque handles
//! and plain values cross this boundary. The safe wrapper lives in the
//! `xp2p` crate (`src/dtls/mbed/`).

#![allow(non_camel_case_types)]

use libc::{c_char, c_int, c_uint, c_void, size_t};

/// Call succeeded (handshake done, record read, record written).
pub const XM_OK: c_int = 0;
/// Needs more input or a timer expiry.
pub const XM_WANT: c_int = 1;
/// The peer sent close_notify.
pub const XM_CLOSED: c_int = 2;
/// mbedTLS gave up retransmitting the handshake.
pub const XM_ERR_TIMEOUT: c_int = -2;

/// An mbedTLS DTLS session with its configuration, certificate and key.
#[repr(C)]
pub struct xm_session {
    _private: [u8; 0],
}

/// Receives one outgoing datagram; returns its length (or a negative
/// mbedTLS error).
pub type xm_send_fn = unsafe extern "C" fn(arg: *mut c_void, buf: *const u8, len: size_t) -> c_int;

extern "C" {
    pub fn xm_sha256(data: *const u8, len: size_t, out: *mut u8) -> c_int;
    pub fn xm_strerror(code: c_int, buf: *mut c_char, len: size_t);
    pub fn xm_cert_generate(
        cn: *const c_char,
        days: c_uint,
        cert: *mut u8,
        cert_len: *mut size_t,
        key: *mut u8,
        key_len: *mut size_t,
    ) -> c_int;

    pub fn xm_session_new(
        server: c_int,
        cert: *const u8,
        cert_len: size_t,
        key: *const u8,
        key_len: size_t,
        expected: *const u8,
        mtu: u16,
        retransmit_min_ms: u32,
        retransmit_max_ms: u32,
        send: xm_send_fn,
        send_arg: *mut c_void,
        err: *mut c_int,
    ) -> *mut xm_session;
    pub fn xm_session_free(s: *mut xm_session);
    pub fn xm_set_now(s: *mut xm_session, now_ms: u64);
    pub fn xm_set_input(s: *mut xm_session, data: *const u8, len: size_t);
    pub fn xm_clear_input(s: *mut xm_session) -> c_int;
    pub fn xm_handshake(s: *mut xm_session) -> c_int;
    pub fn xm_mismatch(s: *const xm_session) -> c_int;
    pub fn xm_remote_fingerprint(s: *const xm_session, out: *mut u8) -> c_int;
    pub fn xm_has_peer_cert(s: *const xm_session) -> c_int;
    pub fn xm_read(s: *mut xm_session, buf: *mut u8, len: size_t, status: *mut c_int) -> c_int;
    pub fn xm_write(s: *mut xm_session, data: *const u8, len: size_t) -> c_int;
    pub fn xm_close_notify(s: *mut xm_session) -> c_int;
    pub fn xm_set_mtu(s: *mut xm_session, mtu: u16);
    pub fn xm_max_payload(s: *const xm_session) -> c_int;
    pub fn xm_timer_deadline(s: *const xm_session) -> u64;
    pub fn xm_timer_expirations(s: *const xm_session) -> u64;
    pub fn xm_handshake_over(s: *const xm_session) -> c_int;
    pub fn xm_cipher_name(s: *const xm_session) -> *const c_char;
    pub fn xm_version(s: *const xm_session) -> *const c_char;
    pub fn xm_srtp_profile(s: *const xm_session) -> c_uint;

    pub fn xm_record_keys(
        s: *const xm_session,
        suite: *mut u16,
        client_key: *mut u8,
        server_key: *mut u8,
        keylen: *mut size_t,
        client_iv: *mut u8,
        server_iv: *mut u8,
        ivlen: *mut size_t,
    ) -> c_int;
    pub fn xm_forget_keys(s: *mut xm_session);
    pub fn xm_in_epoch(s: *const xm_session) -> u16;
    pub fn xm_take_out_seq(s: *mut xm_session, epoch_seq: *mut u64) -> c_int;
    pub fn xm_replay_check(s: *const xm_session, seq: u64) -> c_int;
    pub fn xm_replay_update(s: *mut xm_session, seq: u64);
}
