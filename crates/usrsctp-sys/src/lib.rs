//! Our declarations of the usrsctp 0.9.5 functions, types and constants that
//! libxp2p uses. Only what is declared here is callable; add declarations as
//! the SCTP layer needs them, checked against `/usr/include/usrsctp.h`.
#![allow(non_camel_case_types)]

use libc::{c_int, c_void, size_t, socklen_t, ssize_t};

/// `AF_CONN`: the address family of usrsctp's user-supplied lower layer.
pub const AF_CONN: c_int = 123;
pub const IPPROTO_SCTP: c_int = 132;
pub const SOCK_STREAM: c_int = libc::SOCK_STREAM;
pub const SOCK_SEQPACKET: c_int = libc::SOCK_SEQPACKET;

/// `SCTP_DEBUG_NONE`: no debug output.
pub const SCTP_DEBUG_NONE: u32 = 0;

/// `struct sockaddr_conn` from usrsctp.h.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sockaddr_conn {
    pub sconn_family: u16,
    pub sconn_port: u16,
    pub sconn_addr: *mut c_void,
}

/// The lower-layer output callback given to `usrsctp_init_nothreads`.
pub type ConnOutput = Option<
    unsafe extern "C" fn(
        addr: *mut c_void,
        buf: *mut c_void,
        len: size_t,
        tos: u8,
        set_df: u8,
    ) -> c_int,
>;
/// The debug printf callback given to `usrsctp_init_nothreads` (may be None).
pub type DebugPrintf = Option<unsafe extern "C" fn(format: *const libc::c_char, ...)>;

/// Opaque `struct socket`.
#[repr(C)]
pub struct socket {
    _private: [u8; 0],
}

extern "C" {
    pub fn usrsctp_init_nothreads(port: u16, conn_output: ConnOutput, debug_printf: DebugPrintf);
    pub fn usrsctp_finish() -> c_int;
    pub fn usrsctp_handle_timers(elapsed_milliseconds: u32);
    pub fn usrsctp_register_address(addr: *mut c_void);
    pub fn usrsctp_deregister_address(addr: *mut c_void);
    pub fn usrsctp_conninput(
        addr: *mut c_void,
        buffer: *const c_void,
        length: size_t,
        ecn_bits: u8,
    );
    pub fn usrsctp_socket(
        domain: c_int,
        type_: c_int,
        protocol: c_int,
        receive_cb: *const c_void,
        send_cb: *const c_void,
        sb_threshold: u32,
        ulp_info: *mut c_void,
    ) -> *mut socket;
    pub fn usrsctp_close(so: *mut socket);
    pub fn usrsctp_setsockopt(
        so: *mut socket,
        level: c_int,
        option_name: c_int,
        option_value: *const c_void,
        option_len: socklen_t,
    ) -> c_int;
    pub fn usrsctp_bind(so: *mut socket, name: *mut libc::sockaddr, namelen: socklen_t) -> c_int;
    pub fn usrsctp_connect(so: *mut socket, name: *mut libc::sockaddr, namelen: socklen_t)
        -> c_int;
    pub fn usrsctp_set_non_blocking(so: *mut socket, onoff: c_int) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_ecn_enable(value: u32) -> c_int;
    pub fn usrsctp_sysctl_get_sctp_ecn_enable() -> u32;
    pub fn usrsctp_sysctl_set_sctp_debug_on(value: u32) -> c_int;
    pub fn usrsctp_dumppacket(
        buf: *const c_void,
        len: size_t,
        outbound: c_int,
    ) -> *mut libc::c_char;
    pub fn usrsctp_freedumpbuffer(buf: *mut libc::c_char);
}

/// Keeps `ssize_t` referenced for the send/recv declarations added later.
pub type Ssize = ssize_t;

#[cfg(test)]
mod tests {
    use super::*;

    /// Links against the system library and calls into it: a sysctl round
    /// trip needs no association and no global init.
    #[test]
    fn links_and_calls_system_usrsctp() {
        unsafe {
            let before = usrsctp_sysctl_get_sctp_ecn_enable();
            assert_eq!(usrsctp_sysctl_set_sctp_ecn_enable(0), 0);
            assert_eq!(usrsctp_sysctl_get_sctp_ecn_enable(), 0);
            assert_eq!(usrsctp_sysctl_set_sctp_ecn_enable(1), 0);
            assert_eq!(usrsctp_sysctl_get_sctp_ecn_enable(), 1);
            usrsctp_sysctl_set_sctp_ecn_enable(before);
        }
    }

    #[test]
    fn sockaddr_conn_layout_matches_header() {
        assert_eq!(std::mem::size_of::<sockaddr_conn>(), 16);
        assert_eq!(std::mem::offset_of!(sockaddr_conn, sconn_addr), 8);
    }
}
