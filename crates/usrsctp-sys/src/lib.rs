//! Our declarations of the usrsctp 0.9.5 functions, types and constants that
//! libxp2p uses. Only what is declared here is callable; add declarations as
//! the SCTP layer needs them, checked against `/usr/include/usrsctp.h`.
//!
//! Struct layouts are verified by the `layouts_match_the_system_header` test:
//! it compiles a small C program against the installed `usrsctp.h` with the
//! system C compiler, runs it, and compares every `sizeof`/`offsetof` it
//! prints with `size_of`/`offset_of!` of the Rust declarations below.
#![allow(non_camel_case_types)]

use libc::{c_char, c_int, c_uint, c_void, size_t, sockaddr, socklen_t, ssize_t};

/// `sctp_assoc_t`.
pub type sctp_assoc_t = u32;

/// `AF_CONN`: the address family of usrsctp's user-supplied lower layer.
pub const AF_CONN: c_int = 123;
pub const IPPROTO_SCTP: c_int = 132;
pub const SOCK_STREAM: c_int = libc::SOCK_STREAM;
pub const SOCK_SEQPACKET: c_int = libc::SOCK_SEQPACKET;

/// `SCTP_DEBUG_NONE`: no debug output.
pub const SCTP_DEBUG_NONE: u32 = 0;

// Association ids for socket options.
pub const SCTP_FUTURE_ASSOC: sctp_assoc_t = 0;
pub const SCTP_CURRENT_ASSOC: sctp_assoc_t = 1;
pub const SCTP_ALL_ASSOC: sctp_assoc_t = 2;

// `usrsctp_get_events` / upcall event bits.
pub const SCTP_EVENT_READ: c_int = 0x0001;
pub const SCTP_EVENT_WRITE: c_int = 0x0002;
pub const SCTP_EVENT_ERROR: c_int = 0x0004;

// `usrsctp_recvv` info types.
pub const SCTP_RECVV_NOINFO: c_uint = 0;
pub const SCTP_RECVV_RCVINFO: c_uint = 1;
pub const SCTP_RECVV_NXTINFO: c_uint = 2;
pub const SCTP_RECVV_RN: c_uint = 3;

// `usrsctp_sendv` info types.
pub const SCTP_SENDV_NOINFO: c_uint = 0;
pub const SCTP_SENDV_SNDINFO: c_uint = 1;
pub const SCTP_SENDV_PRINFO: c_uint = 2;
pub const SCTP_SENDV_AUTHINFO: c_uint = 3;
pub const SCTP_SENDV_SPA: c_uint = 4;

// `sctp_sendv_spa.sendv_flags`.
pub const SCTP_SEND_SNDINFO_VALID: u32 = 0x0000_0001;
pub const SCTP_SEND_PRINFO_VALID: u32 = 0x0000_0002;
pub const SCTP_SEND_AUTHINFO_VALID: u32 = 0x0000_0004;

// Notification types.
pub const SCTP_ASSOC_CHANGE: u16 = 0x0001;
pub const SCTP_PEER_ADDR_CHANGE: u16 = 0x0002;
pub const SCTP_REMOTE_ERROR: u16 = 0x0003;
pub const SCTP_SEND_FAILED: u16 = 0x0004;
pub const SCTP_SHUTDOWN_EVENT: u16 = 0x0005;
pub const SCTP_ADAPTATION_INDICATION: u16 = 0x0006;
pub const SCTP_PARTIAL_DELIVERY_EVENT: u16 = 0x0007;
pub const SCTP_AUTHENTICATION_EVENT: u16 = 0x0008;
pub const SCTP_STREAM_RESET_EVENT: u16 = 0x0009;
pub const SCTP_SENDER_DRY_EVENT: u16 = 0x000a;
pub const SCTP_NOTIFICATIONS_STOPPED_EVENT: u16 = 0x000b;
pub const SCTP_ASSOC_RESET_EVENT: u16 = 0x000c;
pub const SCTP_STREAM_CHANGE_EVENT: u16 = 0x000d;
pub const SCTP_SEND_FAILED_EVENT: u16 = 0x000e;

// `sctp_assoc_change.sac_state`.
pub const SCTP_COMM_UP: u16 = 0x0001;
pub const SCTP_COMM_LOST: u16 = 0x0002;
pub const SCTP_RESTART: u16 = 0x0003;
pub const SCTP_SHUTDOWN_COMP: u16 = 0x0004;
pub const SCTP_CANT_STR_ASSOC: u16 = 0x0005;

// `sctp_stream_reset_event.strreset_flags`.
pub const SCTP_STREAM_RESET_INCOMING_SSN: u16 = 0x0001;
pub const SCTP_STREAM_RESET_OUTGOING_SSN: u16 = 0x0002;
pub const SCTP_STREAM_RESET_DENIED: u16 = 0x0004;
pub const SCTP_STREAM_RESET_FAILED: u16 = 0x0008;

// `sctp_reset_streams.srs_flags`.
pub const SCTP_STREAM_RESET_INCOMING: u16 = 0x0001;
pub const SCTP_STREAM_RESET_OUTGOING: u16 = 0x0002;

// `sctp_send_failed_event.ssfe_flags`.
pub const SCTP_DATA_UNSENT: u16 = 0x0001;
pub const SCTP_DATA_SENT: u16 = 0x0002;

// `snd_flags` / `rcv_flags` / msg flags.
pub const SCTP_NOTIFICATION: u16 = 0x0010;
pub const SCTP_COMPLETE: u16 = 0x0020;
pub const SCTP_EOF: u16 = 0x0100;
pub const SCTP_ABORT: u16 = 0x0200;
pub const SCTP_UNORDERED: u16 = 0x0400;
pub const SCTP_EOR: u16 = 0x2000;
pub const SCTP_SACK_IMMEDIATELY: u16 = 0x4000;
/// `MSG_EOR` as the recv flags report it (the Linux value).
pub const MSG_EOR: c_int = libc::MSG_EOR;
/// `MSG_NOTIFICATION` as usrsctp reports it in recv flags (`0x2000`).
pub const MSG_NOTIFICATION: c_int = 0x2000;

// PR-SCTP policies (`pr_policy`).
pub const SCTP_PR_SCTP_NONE: u16 = 0x0000;
pub const SCTP_PR_SCTP_TTL: u16 = 0x0001;
pub const SCTP_PR_SCTP_BUF: u16 = 0x0002;
pub const SCTP_PR_SCTP_RTX: u16 = 0x0003;

// Socket options (level IPPROTO_SCTP).
pub const SCTP_RTOINFO: c_int = 0x0000_0001;
pub const SCTP_ASSOCINFO: c_int = 0x0000_0002;
pub const SCTP_INITMSG: c_int = 0x0000_0003;
pub const SCTP_NODELAY: c_int = 0x0000_0004;
pub const SCTP_AUTOCLOSE: c_int = 0x0000_0005;
pub const SCTP_DISABLE_FRAGMENTS: c_int = 0x0000_0009;
pub const SCTP_PEER_ADDR_PARAMS: c_int = 0x0000_000a;
pub const SCTP_MAXSEG: c_int = 0x0000_000e;
pub const SCTP_DELAYED_SACK: c_int = 0x0000_000f;
pub const SCTP_FRAGMENT_INTERLEAVE: c_int = 0x0000_0010;
pub const SCTP_PARTIAL_DELIVERY_POINT: c_int = 0x0000_0011;
pub const SCTP_MAX_BURST: c_int = 0x0000_0019;
/// Congestion control module of a socket (`sctp_assoc_value`, one of the
/// `SCTP_CC_*` values).
pub const SCTP_PLUGGABLE_CC: c_int = 0x0000_1202;
pub const SCTP_CC_RFC2581: u32 = 0;
pub const SCTP_CC_HSTCP: u32 = 1;
pub const SCTP_CC_HTCP: u32 = 2;
pub const SCTP_CC_RTCC: u32 = 3;
pub const SCTP_EXPLICIT_EOR: c_int = 0x0000_001b;
pub const SCTP_EVENT: c_int = 0x0000_001e;
pub const SCTP_RECVRCVINFO: c_int = 0x0000_001f;
pub const SCTP_RECVNXTINFO: c_int = 0x0000_0020;
pub const SCTP_DEFAULT_SNDINFO: c_int = 0x0000_0021;
pub const SCTP_DEFAULT_PRINFO: c_int = 0x0000_0022;
pub const SCTP_ECN_SUPPORTED: c_int = 0x0000_0025;
pub const SCTP_PR_SUPPORTED: c_int = 0x0000_0026;
pub const SCTP_RECONFIG_SUPPORTED: c_int = 0x0000_0029;
pub const SCTP_ENABLE_STREAM_RESET: c_int = 0x0000_0900;
pub const SCTP_RESET_STREAMS: c_int = 0x0000_0901;
pub const SCTP_STATUS: c_int = 0x0000_0100;
/// Read-only: bytes queued in the socket's send and receive buffers, as a
/// [`sctp_sockstat`]. Not in the installed `usrsctp.h` (it is part of the
/// usrsctp socket API's own `netinet/sctp.h`, shared with FreeBSD); the
/// SCTP layer's tests check that the linked library answers it, and the
/// caller falls back to its own count when it does not.
pub const SCTP_GET_SNDBUF_USE: c_int = 0x0000_1101;

// `SCTP_ENABLE_STREAM_RESET` values.
pub const SCTP_ENABLE_RESET_STREAM_REQ: u32 = 0x0000_0001;
pub const SCTP_ENABLE_RESET_ASSOC_REQ: u32 = 0x0000_0002;
pub const SCTP_ENABLE_CHANGE_ASSOC_REQ: u32 = 0x0000_0004;

// `sctp_paddrparams.spp_flags`.
pub const SPP_HB_ENABLE: u32 = 0x0000_0001;
pub const SPP_HB_DISABLE: u32 = 0x0000_0002;
pub const SPP_PMTUD_ENABLE: u32 = 0x0000_0008;
pub const SPP_PMTUD_DISABLE: u32 = 0x0000_0010;

/// `struct sockaddr_conn` from usrsctp.h (the non-BSD layout).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sockaddr_conn {
    pub sconn_family: u16,
    pub sconn_port: u16,
    pub sconn_addr: *mut c_void,
}

/// `union sctp_sockstore`: any of the address families usrsctp knows.
#[repr(C)]
#[derive(Clone, Copy)]
pub union sctp_sockstore {
    pub sin: libc::sockaddr_in,
    pub sin6: libc::sockaddr_in6,
    pub sconn: sockaddr_conn,
    pub sa: sockaddr,
}

/// `struct sctp_rcvinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_rcvinfo {
    pub rcv_sid: u16,
    pub rcv_ssn: u16,
    pub rcv_flags: u16,
    pub rcv_ppid: u32,
    pub rcv_tsn: u32,
    pub rcv_cumtsn: u32,
    pub rcv_context: u32,
    pub rcv_assoc_id: sctp_assoc_t,
}

/// `struct sctp_nxtinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_nxtinfo {
    pub nxt_sid: u16,
    pub nxt_flags: u16,
    pub nxt_ppid: u32,
    pub nxt_length: u32,
    pub nxt_assoc_id: sctp_assoc_t,
}

/// `struct sctp_sndinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_sndinfo {
    pub snd_sid: u16,
    pub snd_flags: u16,
    pub snd_ppid: u32,
    pub snd_context: u32,
    pub snd_assoc_id: sctp_assoc_t,
}

/// `struct sctp_prinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_prinfo {
    pub pr_policy: u16,
    pub pr_value: u32,
}

/// `struct sctp_authinfo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_authinfo {
    pub auth_keynumber: u16,
}

/// `struct sctp_sendv_spa`: send info, PR-SCTP info and auth info together.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_sendv_spa {
    pub sendv_flags: u32,
    pub sendv_sndinfo: sctp_sndinfo,
    pub sendv_prinfo: sctp_prinfo,
    pub sendv_authinfo: sctp_authinfo,
}

/// `struct sctp_tlv`: the header shared by every notification.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_tlv {
    pub sn_type: u16,
    pub sn_flags: u16,
    pub sn_length: u32,
}

/// `struct sctp_assoc_change` (without the trailing `sac_info[]`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_assoc_change {
    pub sac_type: u16,
    pub sac_flags: u16,
    pub sac_length: u32,
    pub sac_state: u16,
    pub sac_error: u16,
    pub sac_outbound_streams: u16,
    pub sac_inbound_streams: u16,
    pub sac_assoc_id: sctp_assoc_t,
}

/// `struct sctp_stream_reset_event` (the `u16` stream list follows it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_stream_reset_event {
    pub strreset_type: u16,
    pub strreset_flags: u16,
    pub strreset_length: u32,
    pub strreset_assoc_id: sctp_assoc_t,
}

/// `struct sctp_sender_dry_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_sender_dry_event {
    pub sender_dry_type: u16,
    pub sender_dry_flags: u16,
    pub sender_dry_length: u32,
    pub sender_dry_assoc_id: sctp_assoc_t,
}

/// `struct sctp_send_failed_event` (the unsent data follows it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_send_failed_event {
    pub ssfe_type: u16,
    pub ssfe_flags: u16,
    pub ssfe_length: u32,
    pub ssfe_error: u32,
    pub ssfe_info: sctp_sndinfo,
    pub ssfe_assoc_id: sctp_assoc_t,
}

/// `struct sctp_event`: subscribe to one notification type.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_event {
    pub se_assoc_id: sctp_assoc_t,
    pub se_type: u16,
    pub se_on: u8,
}

/// `struct sctp_initmsg`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_initmsg {
    pub sinit_num_ostreams: u16,
    pub sinit_max_instreams: u16,
    pub sinit_max_attempts: u16,
    pub sinit_max_init_timeo: u16,
}

/// `struct sctp_rtoinfo` (milliseconds).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_rtoinfo {
    pub srto_assoc_id: sctp_assoc_t,
    pub srto_initial: u32,
    pub srto_max: u32,
    pub srto_min: u32,
}

/// `struct sctp_assocparams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_assocparams {
    pub sasoc_assoc_id: sctp_assoc_t,
    pub sasoc_peer_rwnd: u32,
    pub sasoc_local_rwnd: u32,
    pub sasoc_cookie_life: u32,
    pub sasoc_asocmaxrxt: u16,
    pub sasoc_number_peer_destinations: u16,
}

/// `struct sctp_paddrparams`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sctp_paddrparams {
    pub spp_address: libc::sockaddr_storage,
    pub spp_assoc_id: sctp_assoc_t,
    pub spp_hbinterval: u32,
    pub spp_pathmtu: u32,
    pub spp_flags: u32,
    pub spp_ipv6_flowlabel: u32,
    pub spp_pathmaxrxt: u16,
    pub spp_dscp: u8,
}

/// `struct sctp_assoc_value`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_assoc_value {
    pub assoc_id: sctp_assoc_t,
    pub assoc_value: u32,
}

/// `struct sctp_sack_info` (`SCTP_DELAYED_SACK`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_sack_info {
    pub sack_assoc_id: sctp_assoc_t,
    pub sack_delay: u32,
    pub sack_freq: u32,
}

/// `struct sctp_reset_streams` (the `u16` stream list follows it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_reset_streams {
    pub srs_assoc_id: sctp_assoc_t,
    pub srs_flags: u16,
    pub srs_number_streams: u16,
}

/// `struct sctp_paddrinfo`: one peer address (the primary path in
/// [`sctp_status`]).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sctp_paddrinfo {
    pub spinfo_address: libc::sockaddr_storage,
    pub spinfo_assoc_id: sctp_assoc_t,
    pub spinfo_state: i32,
    pub spinfo_cwnd: u32,
    pub spinfo_srtt: u32,
    pub spinfo_rto: u32,
    pub spinfo_mtu: u32,
}

/// `struct sctp_status`, the answer to [`SCTP_STATUS`].
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sctp_status {
    pub sstat_assoc_id: sctp_assoc_t,
    pub sstat_state: i32,
    pub sstat_rwnd: u32,
    pub sstat_unackdata: u16,
    pub sstat_penddata: u16,
    pub sstat_instrms: u16,
    pub sstat_outstrms: u16,
    pub sstat_fragmentation_point: u32,
    pub sstat_primary: sctp_paddrinfo,
}

/// `struct sctp_sockstat`, the answer to [`SCTP_GET_SNDBUF_USE`]. Three
/// 32-bit fields; not in the installed header, so not in the layout test.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sctp_sockstat {
    pub ss_assoc_id: sctp_assoc_t,
    pub ss_total_sndbuf: u32,
    pub ss_total_recv_buf: u32,
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
pub type DebugPrintf = Option<unsafe extern "C" fn(format: *const c_char, ...)>;

/// The socket's data callback (`receive_cb` of `usrsctp_socket`).
pub type ReceiveCb = Option<
    unsafe extern "C" fn(
        sock: *mut socket,
        addr: sctp_sockstore,
        data: *mut c_void,
        datalen: size_t,
        rcv: sctp_rcvinfo,
        flags: c_int,
        ulp_info: *mut c_void,
    ) -> c_int,
>;
/// The socket's send-space callback (`send_cb` of `usrsctp_socket`).
pub type SendCb =
    Option<unsafe extern "C" fn(sock: *mut socket, sb_free: u32, ulp_info: *mut c_void) -> c_int>;
/// The upcall of `usrsctp_set_upcall`: `(socket, arg, waitflag)`.
pub type Upcall = Option<unsafe extern "C" fn(sock: *mut socket, arg: *mut c_void, flags: c_int)>;

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
        receive_cb: ReceiveCb,
        send_cb: SendCb,
        sb_threshold: u32,
        ulp_info: *mut c_void,
    ) -> *mut socket;
    pub fn usrsctp_close(so: *mut socket);
    pub fn usrsctp_shutdown(so: *mut socket, how: c_int) -> c_int;
    pub fn usrsctp_setsockopt(
        so: *mut socket,
        level: c_int,
        option_name: c_int,
        option_value: *const c_void,
        option_len: socklen_t,
    ) -> c_int;
    pub fn usrsctp_getsockopt(
        so: *mut socket,
        level: c_int,
        option_name: c_int,
        option_value: *mut c_void,
        option_len: *mut socklen_t,
    ) -> c_int;
    pub fn usrsctp_bind(so: *mut socket, name: *mut sockaddr, namelen: socklen_t) -> c_int;
    pub fn usrsctp_connect(so: *mut socket, name: *mut sockaddr, namelen: socklen_t) -> c_int;
    pub fn usrsctp_set_non_blocking(so: *mut socket, onoff: c_int) -> c_int;
    pub fn usrsctp_get_non_blocking(so: *mut socket) -> c_int;
    pub fn usrsctp_set_upcall(so: *mut socket, upcall: Upcall, arg: *mut c_void) -> c_int;
    pub fn usrsctp_get_events(so: *mut socket) -> c_int;
    pub fn usrsctp_sendv(
        so: *mut socket,
        data: *const c_void,
        len: size_t,
        to: *mut sockaddr,
        addrcnt: c_int,
        info: *mut c_void,
        infolen: socklen_t,
        infotype: c_uint,
        flags: c_int,
    ) -> ssize_t;
    pub fn usrsctp_recvv(
        so: *mut socket,
        dbuf: *mut c_void,
        len: size_t,
        from: *mut sockaddr,
        fromlen: *mut socklen_t,
        info: *mut c_void,
        infolen: *mut socklen_t,
        infotype: *mut c_uint,
        msg_flags: *mut c_int,
    ) -> ssize_t;
    pub fn usrsctp_dumppacket(buf: *const c_void, len: size_t, outbound: c_int) -> *mut c_char;
    pub fn usrsctp_freedumpbuffer(buf: *mut c_char);
    pub fn usrsctp_crc32c(buf: *mut c_void, len: size_t) -> u32;
    pub fn usrsctp_enable_crc32c_offload();
    pub fn usrsctp_disable_crc32c_offload();

    pub fn usrsctp_sysctl_set_sctp_sendspace(value: u32) -> c_int;
    pub fn usrsctp_sysctl_get_sctp_sendspace() -> u32;
    pub fn usrsctp_sysctl_set_sctp_recvspace(value: u32) -> c_int;
    pub fn usrsctp_sysctl_get_sctp_recvspace() -> u32;
    pub fn usrsctp_sysctl_set_sctp_ecn_enable(value: u32) -> c_int;
    pub fn usrsctp_sysctl_get_sctp_ecn_enable() -> u32;
    pub fn usrsctp_sysctl_set_sctp_pr_enable(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_reconfig_enable(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_auth_enable(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_asconf_enable(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_nr_outgoing_streams_default(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_nr_incoming_streams_default(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_blackhole(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_enable_sack_immediately(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_max_chunks_on_queue(value: u32) -> c_int;
    pub fn usrsctp_sysctl_get_sctp_max_chunks_on_queue() -> u32;
    pub fn usrsctp_sysctl_set_sctp_default_frag_interleave(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_delayed_sack_time_default(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_initial_cwnd(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_max_burst_default(value: u32) -> c_int;
    pub fn usrsctp_sysctl_set_sctp_debug_on(value: u32) -> c_int;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Links against the system library and calls into it: a sysctl round
    /// trip needs no association and no global init.
    #[test]
    fn links_and_calls_system_usrsctp() {
        // SAFETY: sysctl getters and setters take and return plain integers; usrsctp needs no init
        // for them.
        unsafe {
            let before = usrsctp_sysctl_get_sctp_ecn_enable();
            assert_eq!(usrsctp_sysctl_set_sctp_ecn_enable(0), 0);
            assert_eq!(usrsctp_sysctl_get_sctp_ecn_enable(), 0);
            assert_eq!(usrsctp_sysctl_set_sctp_ecn_enable(1), 0);
            assert_eq!(usrsctp_sysctl_get_sctp_ecn_enable(), 1);
            usrsctp_sysctl_set_sctp_ecn_enable(before);
        }
    }

    /// `(name, rust value)` for every size and offset the C program prints.
    fn rust_layouts() -> Vec<(&'static str, usize)> {
        macro_rules! size {
            ($t:ident) => {
                (concat!("sizeof ", stringify!($t)), size_of::<$t>())
            };
        }
        macro_rules! off {
            ($t:ident, $f:ident) => {
                (
                    concat!("offsetof ", stringify!($t), ".", stringify!($f)),
                    offset_of!($t, $f),
                )
            };
        }
        vec![
            size!(sockaddr_conn),
            off!(sockaddr_conn, sconn_port),
            off!(sockaddr_conn, sconn_addr),
            size!(sctp_sockstore),
            size!(sctp_rcvinfo),
            off!(sctp_rcvinfo, rcv_flags),
            off!(sctp_rcvinfo, rcv_ppid),
            off!(sctp_rcvinfo, rcv_tsn),
            off!(sctp_rcvinfo, rcv_cumtsn),
            off!(sctp_rcvinfo, rcv_context),
            off!(sctp_rcvinfo, rcv_assoc_id),
            size!(sctp_nxtinfo),
            off!(sctp_nxtinfo, nxt_ppid),
            off!(sctp_nxtinfo, nxt_length),
            off!(sctp_nxtinfo, nxt_assoc_id),
            size!(sctp_sndinfo),
            off!(sctp_sndinfo, snd_flags),
            off!(sctp_sndinfo, snd_ppid),
            off!(sctp_sndinfo, snd_context),
            off!(sctp_sndinfo, snd_assoc_id),
            size!(sctp_prinfo),
            off!(sctp_prinfo, pr_value),
            size!(sctp_authinfo),
            size!(sctp_sendv_spa),
            off!(sctp_sendv_spa, sendv_sndinfo),
            off!(sctp_sendv_spa, sendv_prinfo),
            off!(sctp_sendv_spa, sendv_authinfo),
            size!(sctp_tlv),
            off!(sctp_tlv, sn_length),
            size!(sctp_assoc_change),
            off!(sctp_assoc_change, sac_state),
            off!(sctp_assoc_change, sac_error),
            off!(sctp_assoc_change, sac_outbound_streams),
            off!(sctp_assoc_change, sac_inbound_streams),
            off!(sctp_assoc_change, sac_assoc_id),
            size!(sctp_stream_reset_event),
            off!(sctp_stream_reset_event, strreset_assoc_id),
            size!(sctp_sender_dry_event),
            off!(sctp_sender_dry_event, sender_dry_assoc_id),
            size!(sctp_send_failed_event),
            off!(sctp_send_failed_event, ssfe_error),
            off!(sctp_send_failed_event, ssfe_info),
            off!(sctp_send_failed_event, ssfe_assoc_id),
            size!(sctp_event),
            off!(sctp_event, se_type),
            off!(sctp_event, se_on),
            size!(sctp_initmsg),
            off!(sctp_initmsg, sinit_max_instreams),
            off!(sctp_initmsg, sinit_max_attempts),
            off!(sctp_initmsg, sinit_max_init_timeo),
            size!(sctp_rtoinfo),
            off!(sctp_rtoinfo, srto_initial),
            off!(sctp_rtoinfo, srto_max),
            off!(sctp_rtoinfo, srto_min),
            size!(sctp_assocparams),
            off!(sctp_assocparams, sasoc_cookie_life),
            off!(sctp_assocparams, sasoc_asocmaxrxt),
            off!(sctp_assocparams, sasoc_number_peer_destinations),
            size!(sctp_paddrparams),
            off!(sctp_paddrparams, spp_assoc_id),
            off!(sctp_paddrparams, spp_hbinterval),
            off!(sctp_paddrparams, spp_pathmtu),
            off!(sctp_paddrparams, spp_flags),
            off!(sctp_paddrparams, spp_ipv6_flowlabel),
            off!(sctp_paddrparams, spp_pathmaxrxt),
            off!(sctp_paddrparams, spp_dscp),
            size!(sctp_assoc_value),
            off!(sctp_assoc_value, assoc_value),
            size!(sctp_sack_info),
            off!(sctp_sack_info, sack_delay),
            off!(sctp_sack_info, sack_freq),
            size!(sctp_reset_streams),
            off!(sctp_reset_streams, srs_flags),
            off!(sctp_reset_streams, srs_number_streams),
            size!(sctp_paddrinfo),
            off!(sctp_paddrinfo, spinfo_assoc_id),
            off!(sctp_paddrinfo, spinfo_cwnd),
            off!(sctp_paddrinfo, spinfo_srtt),
            off!(sctp_paddrinfo, spinfo_mtu),
            size!(sctp_status),
            off!(sctp_status, sstat_rwnd),
            off!(sctp_status, sstat_fragmentation_point),
            off!(sctp_status, sstat_primary),
        ]
    }

    /// The C program that prints the same names with the header's values,
    /// one `name=value` per line. Flexible array members are checked by
    /// their offset, which for these structs equals the Rust size.
    fn c_program(layouts: &[(&'static str, usize)]) -> String {
        let mut src = String::from(
            "#include <stddef.h>\n#include <stdio.h>\n#include <stdint.h>\n\
             #include <sys/socket.h>\n#include <netinet/in.h>\n#include <usrsctp.h>\n\
             int main(void) {\n",
        );
        for (name, _) in layouts {
            let expr = if let Some(t) = name.strip_prefix("sizeof ") {
                if t == "sctp_sockstore" {
                    "sizeof(union sctp_sockstore)".to_string()
                } else {
                    format!("sizeof(struct {t})")
                }
            } else {
                let (t, f) = name["offsetof ".len()..].split_once('.').unwrap();
                format!("offsetof(struct {t}, {f})")
            };
            src.push_str(&format!(
                "  printf(\"%s=%zu\\n\", \"{name}\", (size_t){expr});\n"
            ));
        }
        // The variable-length tails start right after the fixed parts.
        for (t, f) in [
            ("sctp_assoc_change", "sac_info"),
            ("sctp_stream_reset_event", "strreset_stream_list"),
            ("sctp_send_failed_event", "ssfe_data"),
            ("sctp_reset_streams", "srs_stream_list"),
        ] {
            src.push_str(&format!(
                "  printf(\"%s=%zu\\n\", \"tail {t}\", (size_t)offsetof(struct {t}, {f}));\n"
            ));
        }
        src.push_str("  return 0;\n}\n");
        src
    }

    /// Compiles the C program against the installed usrsctp.h with the
    /// system C compiler (`$CC`, else `cc`) and compares every value.
    #[test]
    fn layouts_match_the_system_header() {
        let mut layouts = rust_layouts();
        let dir = std::env::temp_dir().join(format!("usrsctp-sys-layout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c_file = dir.join("layout.c");
        let exe = dir.join("layout");
        std::fs::write(&c_file, c_program(&layouts)).unwrap();
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let out = std::process::Command::new(&cc)
            .arg(&c_file)
            .arg("-o")
            .arg(&exe)
            .output()
            .expect("a C compiler to check layouts against usrsctp.h");
        assert!(
            out.status.success(),
            "compiling the layout program failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = std::process::Command::new(&exe).output().unwrap();
        assert!(run.status.success());
        let text = String::from_utf8(run.stdout).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        layouts.extend([
            ("tail sctp_assoc_change", size_of::<sctp_assoc_change>()),
            (
                "tail sctp_stream_reset_event",
                size_of::<sctp_stream_reset_event>(),
            ),
            (
                "tail sctp_send_failed_event",
                size_of::<sctp_send_failed_event>(),
            ),
            ("tail sctp_reset_streams", size_of::<sctp_reset_streams>()),
        ]);
        let mut checked = 0;
        for line in text.lines() {
            let (name, value) = line.split_once('=').unwrap();
            let c_value: usize = value.parse().unwrap();
            let rust = layouts
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("no Rust value for {name}"))
                .1;
            assert_eq!(rust, c_value, "{name}: Rust {rust}, C {c_value}");
            checked += 1;
        }
        assert_eq!(checked, layouts.len());
    }

    #[test]
    fn sockaddr_conn_layout_matches_header() {
        assert_eq!(size_of::<sockaddr_conn>(), 16);
        assert_eq!(offset_of!(sockaddr_conn, sconn_addr), 8);
    }
}
