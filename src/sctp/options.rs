//! usrsctp socket options: what a fresh association's socket is set up
//! with, and the settings changed later (SACK policy, path parameters).

use std::mem::size_of;
use std::time::Duration;

use libc::{c_int, socklen_t};
use usrsctp_sys as sys;

use super::config::{SctpConfig, SctpError};
use super::stack;

/// Taken off the creation MTU for `SCTP_MAXSEG`: the common header (12),
/// a DATA chunk header (16) and slack (usrsctp counts IP headers that
/// AF_CONN packets do not have, and may round up).
pub(super) const MAXSEG_OVERHEAD: u32 = 48;

/// The errno of the usrsctp call that just failed.
pub(super) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub(super) fn is_would_block(e: i32) -> bool {
    e == libc::EWOULDBLOCK || e == libc::EAGAIN
}

pub(super) fn ms_u32(d: Duration) -> u32 {
    d.as_millis().min(u128::from(u32::MAX)) as u32
}

/// `setsockopt` of a plain struct, under the usrsctp lock.
///
/// # Safety
/// `sock` must be a live usrsctp socket and the usrsctp lock held.
pub(super) unsafe fn set_opt<T>(
    sock: *mut sys::socket,
    level: c_int,
    opt: c_int,
    name: &'static str,
    value: &T,
) -> Result<(), SctpError> {
    // SAFETY: the caller guarantees a live socket under the usrsctp lock (# Safety); `value` is a
    // live `T` and the length passed is its size.
    unsafe {
        let r = sys::usrsctp_setsockopt(
            sock,
            level,
            opt,
            (value as *const T).cast(),
            size_of::<T>() as socklen_t,
        );
        if r < 0 {
            Err(SctpError::SocketOption(name, errno()))
        } else {
            Ok(())
        }
    }
}

/// Sets every option of a fresh socket.
///
/// # Safety
/// `sock` must be a live usrsctp socket and the usrsctp lock held.
pub(super) unsafe fn configure_socket(
    sock: *mut sys::socket,
    id: usize,
    cfg: &SctpConfig,
) -> Result<(), SctpError> {
    // SAFETY: the caller guarantees a live socket under the usrsctp lock (# Safety); every option
    // value is a local of the struct type its option expects, and the all-zero `sctp_paddrparams`
    // is valid plain C data.
    unsafe {
        if sys::usrsctp_set_non_blocking(sock, 1) < 0 {
            return Err(SctpError::SocketOption("non-blocking", errno()));
        }
        if sys::usrsctp_set_upcall(sock, Some(stack::socket_upcall), stack::id_ptr(id)) < 0 {
            return Err(SctpError::SocketOption("upcall", errno()));
        }
        let sndbuf = cfg.send_space.min(i32::MAX as usize) as c_int;
        let rcvbuf = cfg.recv_space.min(i32::MAX as usize) as c_int;
        set_opt(
            sock,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            "SO_SNDBUF",
            &sndbuf,
        )?;
        set_opt(
            sock,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            "SO_RCVBUF",
            &rcvbuf,
        )?;
        let one: c_int = 1;
        let zero: c_int = 0;
        let sctp = sys::IPPROTO_SCTP;
        set_opt(sock, sctp, sys::SCTP_NODELAY, "SCTP_NODELAY", &one)?;
        // DATA chunks sized for the creation MTU (common header, DATA chunk
        // header and slack for usrsctp's overhead accounting taken off).
        let maxseg = sys::sctp_assoc_value {
            assoc_id: sys::SCTP_FUTURE_ASSOC,
            assoc_value: u32::from(cfg.mtu).saturating_sub(MAXSEG_OVERHEAD).max(64),
        };
        set_opt(sock, sctp, sys::SCTP_MAXSEG, "SCTP_MAXSEG", &maxseg)?;
        // The path MTU the association is created with. usrsctp cuts DATA
        // chunks for the smallest path MTU an association ever had (it only
        // lowers it), and without this default that starts at 1280 bytes for
        // AF_CONN addresses, whatever is set once the association exists.
        let mut future: sys::sctp_paddrparams = std::mem::zeroed();
        future.spp_assoc_id = sys::SCTP_FUTURE_ASSOC;
        future.spp_pathmtu = u32::from(cfg.mtu);
        future.spp_flags = sys::SPP_PMTUD_DISABLE;
        set_opt(
            sock,
            sctp,
            sys::SCTP_PEER_ADDR_PARAMS,
            "SCTP_PEER_ADDR_PARAMS",
            &future,
        )?;
        set_opt(sock, sctp, sys::SCTP_RECVRCVINFO, "SCTP_RECVRCVINFO", &one)?;
        set_opt(
            sock,
            sctp,
            sys::SCTP_EXPLICIT_EOR,
            "SCTP_EXPLICIT_EOR",
            &zero,
        )?;
        let ecn = sys::sctp_assoc_value {
            assoc_id: sys::SCTP_FUTURE_ASSOC,
            assoc_value: 0,
        };
        set_opt(
            sock,
            sctp,
            sys::SCTP_ECN_SUPPORTED,
            "SCTP_ECN_SUPPORTED",
            &ecn,
        )?;
        let pr = sys::sctp_assoc_value {
            assoc_id: sys::SCTP_FUTURE_ASSOC,
            assoc_value: 1,
        };
        set_opt(sock, sctp, sys::SCTP_PR_SUPPORTED, "SCTP_PR_SUPPORTED", &pr)?;
        let reset = sys::sctp_assoc_value {
            assoc_id: sys::SCTP_FUTURE_ASSOC,
            assoc_value: sys::SCTP_ENABLE_RESET_STREAM_REQ | sys::SCTP_ENABLE_CHANGE_ASSOC_REQ,
        };
        set_opt(
            sock,
            sctp,
            sys::SCTP_ENABLE_STREAM_RESET,
            "SCTP_ENABLE_STREAM_RESET",
            &reset,
        )?;
        for ty in [
            sys::SCTP_ASSOC_CHANGE,
            sys::SCTP_STREAM_RESET_EVENT,
            sys::SCTP_SEND_FAILED_EVENT,
            sys::SCTP_SENDER_DRY_EVENT,
        ] {
            let ev = sys::sctp_event {
                se_assoc_id: sys::SCTP_FUTURE_ASSOC,
                se_type: ty,
                se_on: 1,
            };
            set_opt(sock, sctp, sys::SCTP_EVENT, "SCTP_EVENT", &ev)?;
        }
        set_sack_policy(sock, cfg.sack_delay, cfg.mtu)?;
        let burst = sys::sctp_assoc_value {
            assoc_id: sys::SCTP_FUTURE_ASSOC,
            assoc_value: cfg.max_burst,
        };
        set_opt(sock, sctp, sys::SCTP_MAX_BURST, "SCTP_MAX_BURST", &burst)?;
        let cc = sys::sctp_assoc_value {
            assoc_id: sys::SCTP_FUTURE_ASSOC,
            assoc_value: cfg.congestion_control.module(),
        };
        set_opt(sock, sctp, sys::SCTP_PLUGGABLE_CC, "SCTP_PLUGGABLE_CC", &cc)?;
        let init = sys::sctp_initmsg {
            sinit_num_ostreams: cfg.max_streams,
            sinit_max_instreams: cfg.max_streams,
            sinit_max_attempts: cfg.max_init_retransmits,
            sinit_max_init_timeo: ms_u32(cfg.rto_max).min(u32::from(u16::MAX)) as u16,
        };
        set_opt(sock, sctp, sys::SCTP_INITMSG, "SCTP_INITMSG", &init)?;
        let rto = sys::sctp_rtoinfo {
            srto_assoc_id: sys::SCTP_FUTURE_ASSOC,
            srto_initial: ms_u32(cfg.rto_initial),
            srto_max: ms_u32(cfg.rto_max),
            srto_min: ms_u32(cfg.rto_min),
        };
        set_opt(sock, sctp, sys::SCTP_RTOINFO, "SCTP_RTOINFO", &rto)?;
        let assoc = sys::sctp_assocparams {
            sasoc_assoc_id: sys::SCTP_FUTURE_ASSOC,
            sasoc_asocmaxrxt: cfg.max_retransmits,
            ..Default::default()
        };
        set_opt(sock, sctp, sys::SCTP_ASSOCINFO, "SCTP_ASSOCINFO", &assoc)?;
        Ok(())
    }
}

/// Path MTUs above this get a SACK for every packet rather than every
/// second one: with packets this large, a congestion window sized in
/// Ethernet packets holds a single one, which would otherwise wait for the
/// delayed SACK timer; and a SACK per large packet is still fewer SACKs per
/// byte than one per two Ethernet packets.
const SACK_EVERY_PACKET_ABOVE: u16 = 4000;

/// usrsctp's own default for [`max_chunks_on_queue`]: 512 chunks.
const USRSCTP_MAX_CHUNKS_ON_QUEUE: u32 = 512;

/// How many chunks an association may hold: one per 100 bytes of the larger
/// of its send and receive spaces (so the spaces bind for any message of 100
/// bytes or more), never below usrsctp's 512. usrsctp stops moving queued
/// data into chunks (and treats its receive window as full) at this count
/// whatever room the spaces have left: at its default of 512 chunks of about
/// 1370 bytes, a 1500-byte path carries at most ~700 KB per round trip
/// (14 MB/s at 50 ms), however large the send space and the peer's window.
pub(crate) fn max_chunks_on_queue(send_space: usize, recv_space: usize) -> u32 {
    let per_space = send_space.max(recv_space) / 100;
    u32::try_from(per_space)
        .unwrap_or(u32::MAX)
        .max(USRSCTP_MAX_CHUNKS_ON_QUEUE)
}

/// The delayed SACK timer, and how many packets a SACK waits for (one above
/// [`SACK_EVERY_PACKET_ABOVE`], else two).
///
/// # Safety
/// `sock` must be a live usrsctp socket and the usrsctp lock held.
pub(super) unsafe fn set_sack_policy(
    sock: *mut sys::socket,
    delay: Duration,
    mtu: u16,
) -> Result<(), SctpError> {
    // SAFETY: the caller guarantees a live socket under the usrsctp lock (# Safety); `sack` is the
    // struct SCTP_DELAYED_SACK expects.
    unsafe {
        let sack = sys::sctp_sack_info {
            sack_assoc_id: sys::SCTP_FUTURE_ASSOC,
            sack_delay: ms_u32(delay).max(1),
            sack_freq: if mtu > SACK_EVERY_PACKET_ABOVE { 1 } else { 2 },
        };
        set_opt(
            sock,
            sys::IPPROTO_SCTP,
            sys::SCTP_DELAYED_SACK,
            "SCTP_DELAYED_SACK",
            &sack,
        )
    }
}

/// Fixed path MTU, no PMTU discovery, heartbeats and the path
/// retransmission limit.
///
/// # Safety
/// `sock` must be a live usrsctp socket and the usrsctp lock held.
pub(super) unsafe fn set_path_params(
    sock: *mut sys::socket,
    cfg: &SctpConfig,
    remote: &sys::sockaddr_conn,
) -> Result<(), SctpError> {
    // SAFETY: the caller guarantees a live socket under the usrsctp lock (# Safety); all-zero is
    // valid for the plain C `sctp_paddrparams`, and the copy writes a `sockaddr_conn` into its
    // larger, separate `sockaddr_storage` field.
    unsafe {
        let mut params: sys::sctp_paddrparams = std::mem::zeroed();
        std::ptr::copy_nonoverlapping(
            (remote as *const sys::sockaddr_conn).cast::<u8>(),
            (&mut params.spp_address as *mut libc::sockaddr_storage).cast::<u8>(),
            size_of::<sys::sockaddr_conn>(),
        );
        params.spp_assoc_id = 0;
        params.spp_pathmtu = u32::from(cfg.mtu);
        params.spp_pathmaxrxt = cfg.max_retransmits;
        params.spp_flags = sys::SPP_PMTUD_DISABLE;
        match cfg.heartbeat_interval {
            Some(hb) => {
                params.spp_flags |= sys::SPP_HB_ENABLE;
                params.spp_hbinterval = ms_u32(hb).max(1);
            }
            None => params.spp_flags |= sys::SPP_HB_DISABLE,
        }
        set_opt(
            sock,
            sys::IPPROTO_SCTP,
            sys::SCTP_PEER_ADDR_PARAMS,
            "SCTP_PEER_ADDR_PARAMS",
            &params,
        )
    }
}
