//! `stats.h` (libxp2p extension): statistics of a PeerConnection, of a
//! data channel and of an ICE agent.
//!
//! Each struct starts with `size`, which the caller sets to
//! `sizeof(struct)` as its header declares it. The library writes only
//! that many bytes (fields added in later versions go at the end, so an
//! older program keeps working) and sets `size` to the number of bytes it
//! wrote. A `size` smaller than the `size` field itself is
//! `xErrno_InvalidArg`.

use super::boundary::{copy_to_c_array, ffi_boundary, std_to_storage};
use super::datachannel::{with_manager, xDataChannel, xDataChannelState};
use super::ice_agent::{with_ice, xIceAgent, xIceState};
use super::ice_private::xIceCandidateType;
use super::peer_connection::{with_endpoint, xPeerConnection, xPeerConnectionState};
use crate::channel::ChannelState;
use crate::ice::agent::IceAgent;
use crate::ice::{CandidateAddress, Transport};
use crate::peer::PeerConnection;
use libc::{c_char, c_int, c_void, sockaddr_storage};
use xbase::types::*;

/// `relay_transport` of a relayed selected pair: the TURN server is
/// reached over UDP.
pub const XP2P_RELAY_UDP: c_int = 0;
/// `relay_transport`: the TURN server is reached over TCP or TLS.
pub const XP2P_RELAY_STREAM: c_int = 1;
/// `relay_transport` when the selected pair is not relayed (or none is).
pub const XP2P_RELAY_NONE: c_int = -1;

/// Statistics of an ICE agent (`xIceAgentGetStats`). Addresses are
/// `AF_UNSPEC` (zero) and types -1 while no pair is selected.
#[repr(C)]
pub struct xIceStats {
    /// Set by the caller to `sizeof(xIceStats)`; set by the library to the
    /// bytes it wrote.
    pub size: usize,
    pub state: xIceState,
    /// A pair is selected (Connected/Completed).
    pub has_selected_pair: bool,
    /// The selected pair's local candidate is a relayed one (TURN).
    pub relayed: bool,
    /// `xIceCandidateType` of the selected pair's local and remote
    /// candidates.
    pub local_type: xIceCandidateType,
    pub remote_type: xIceCandidateType,
    /// Transport of the selected pair's candidates: 0 UDP, 1 TCP.
    pub protocol: c_int,
    /// `XP2P_RELAY_UDP`, `XP2P_RELAY_STREAM` or `XP2P_RELAY_NONE`.
    pub relay_transport: c_int,
    /// The selected pair's local candidate (for a relayed one, the
    /// relayed address) and remote candidate addresses.
    pub local_address: sockaddr_storage,
    pub remote_address: sockaddr_storage,
    /// The TURN server of a relayed selected pair.
    pub relay_server: sockaddr_storage,
    /// Round-trip time on the selected pair in microseconds (its latest
    /// consent check, or its connectivity check); -1 while unknown.
    pub rtt_us: i64,
    /// At the UDP layer (STUN, TURN framing, DTLS: every datagram the
    /// agent's sockets carried, TURN TCP/TLS messages counted alike).
    pub datagrams_sent: u64,
    pub bytes_sent: u64,
    pub datagrams_received: u64,
    pub bytes_received: u64,
    /// Connectivity checks started, and retransmissions of checks and
    /// server requests.
    pub checks_sent: u64,
    pub retransmits: u64,
    pub consent_checks_sent: u64,
    /// Input dropped: malformed, unauthenticated, unmatched, unknown
    /// source, or otherwise unexpected.
    pub dropped: u64,
    /// Relayed candidates that could not be gathered or were lost.
    pub relay_failures: u64,
}

/// Statistics of a PeerConnection (`xPeerConnectionGetStats`). The ICE
/// fields (`ice_state` to `relay_failures`) mean what they mean in
/// `xIceStats`.
#[repr(C)]
pub struct xPeerConnectionStats {
    /// Set by the caller to `sizeof(xPeerConnectionStats)`; set by the
    /// library to the bytes it wrote.
    pub size: usize,
    pub state: xPeerConnectionState,
    pub ice_state: xIceState,
    pub has_selected_pair: bool,
    pub relayed: bool,
    pub local_type: xIceCandidateType,
    pub remote_type: xIceCandidateType,
    pub protocol: c_int,
    pub relay_transport: c_int,
    pub local_address: sockaddr_storage,
    pub remote_address: sockaddr_storage,
    pub relay_server: sockaddr_storage,
    pub rtt_us: i64,
    pub datagrams_sent: u64,
    pub bytes_sent: u64,
    pub datagrams_received: u64,
    pub bytes_received: u64,
    pub checks_sent: u64,
    pub retransmits: u64,
    pub consent_checks_sent: u64,
    pub dropped: u64,
    pub relay_failures: u64,
    /// `"DTLSv1.2"` and the OpenSSL cipher suite name once DTLS is
    /// connected, else empty.
    pub dtls_version: [c_char; 16],
    pub dtls_cipher: [c_char; 64],
    /// DTLS handshake flights retransmitted.
    pub dtls_retransmits: u64,
    /// SCTP, from usrsctp once the association is up (else 0): smoothed
    /// RTT and retransmission timeout in milliseconds, congestion window,
    /// the peer's receive window and the SCTP packet size in bytes.
    pub sctp_srtt_ms: u32,
    pub sctp_rto_ms: u32,
    pub sctp_cwnd: u32,
    pub sctp_peer_rwnd: u32,
    pub sctp_mtu: u32,
    /// DATA chunks sent, then sent again (fast retransmit or timeout).
    pub sctp_retransmitted_chunks: u64,
    /// The datagram size in use (path MTU discovery; 1200 before it).
    pub path_mtu: u32,
    /// Data channels in state Open.
    pub open_channels: u32,
    /// Received datagrams, packets and messages dropped above ICE (DTLS
    /// records malformed or out of state, SCTP bad checksums, channel
    /// messages on unknown streams or too large, …).
    pub dropped_above_ice: u64,
}

/// Statistics of a data channel (`xDataChannelGetStats`).
#[repr(C)]
pub struct xDataChannelStats {
    /// Set by the caller to `sizeof(xDataChannelStats)`; set by the library
    /// to the bytes it wrote.
    pub size: usize,
    pub state: xDataChannelState,
    /// SCTP stream id; -1 before one is assigned.
    pub stream_id: c_int,
    /// Messages and payload bytes the application sent (accepted by
    /// `xDataChannelSend*`) and received (delivered or queued for
    /// `on_message`).
    pub messages_sent: u64,
    pub bytes_sent: u64,
    pub messages_received: u64,
    pub bytes_received: u64,
    /// Bytes sent and not yet handed to the network (as
    /// `xDataChannelGetBufferedAmount`).
    pub buffered_amount: u64,
}

#[cfg_attr(xp2p_device, optimize(size))]
fn storage_of(a: &CandidateAddress) -> sockaddr_storage {
    match a {
        CandidateAddress::Ip(sa) => std_to_storage(sa),
        CandidateAddress::Mdns { .. } => super::boundary::empty_storage(),
    }
}

/// Fills the ICE fields of `$s`, an `xIceStats` or an
/// `xPeerConnectionStats` (the same names in both), from `$agent`: one
/// writer for both structs.
macro_rules! write_ice_fields {
    ($s:expr, $agent:expr) => {{
        let s = &mut $s;
        let agent: &IceAgent = $agent;
        let st = agent.stats();
        let empty = super::boundary::empty_storage;
        s.has_selected_pair = false;
        s.relayed = false;
        s.local_type = -1;
        s.remote_type = -1;
        s.protocol = 0;
        s.relay_transport = XP2P_RELAY_NONE;
        s.local_address = empty();
        s.remote_address = empty();
        s.relay_server = empty();
        s.rtt_us = agent
            .selected_rtt()
            .map_or(-1, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        s.datagrams_sent = st.datagrams_sent;
        s.bytes_sent = st.bytes_sent;
        s.datagrams_received = st.datagrams_received;
        s.bytes_received = st.bytes_received;
        s.checks_sent = st.checks_sent;
        s.retransmits = st.retransmits;
        s.consent_checks_sent = st.consent_checks_sent;
        s.dropped = st.dropped_malformed
            + st.dropped_unauthenticated
            + st.dropped_unmatched
            + st.dropped_unknown_source
            + st.dropped_other;
        s.relay_failures = st.relay_failures;
        if let Some((local, remote)) = agent.selected_candidates() {
            s.has_selected_pair = true;
            s.local_type = local.kind as xIceCandidateType;
            s.remote_type = remote.kind as xIceCandidateType;
            s.protocol = c_int::from(local.transport != Transport::Udp);
            s.local_address = storage_of(&local.address);
            s.remote_address = storage_of(&remote.address);
            if let Some((server, stream)) = agent.selected_relay() {
                s.relayed = true;
                s.relay_server = std_to_storage(&server);
                s.relay_transport = if stream {
                    XP2P_RELAY_STREAM
                } else {
                    XP2P_RELAY_UDP
                };
            }
        }
    }};
}

#[cfg_attr(xp2p_device, optimize(size))]
fn pc_stats(pc: &PeerConnection) -> xPeerConnectionStats {
    let pst = pc.stats();
    let dtls_stats = pc.dtls().map(|d| d.stats()).unwrap_or_default();
    let sctp = pc.sctp().map(|s| s.stats()).unwrap_or_default();
    let ch = pc.channels().stats();
    // SAFETY: all-zero is a valid value of this plain C struct (and leaves
    // its padding zero).
    let mut s: xPeerConnectionStats = unsafe { std::mem::zeroed() };
    s.state = pc.state().code();
    s.ice_state = pc.ice().state().code();
    write_ice_fields!(s, pc.ice());
    if let Some(d) = pc.dtls() {
        if let Some(cipher) = d.cipher_name() {
            copy_to_c_array(&mut s.dtls_version, d.protocol_version().as_bytes());
            copy_to_c_array(&mut s.dtls_cipher, cipher.as_bytes());
        }
    }
    s.dtls_retransmits = dtls_stats.retransmits;
    s.sctp_srtt_ms = sctp.srtt_ms;
    s.sctp_rto_ms = sctp.rto_ms;
    s.sctp_cwnd = sctp.cwnd;
    s.sctp_peer_rwnd = sctp.peer_rwnd;
    s.sctp_mtu = sctp.mtu;
    s.sctp_retransmitted_chunks = sctp.retransmitted_chunks;
    s.path_mtu = u32::try_from(pst.path_mtu).unwrap_or(u32::MAX);
    s.open_channels = u32::try_from(pc.channels().open_channels()).unwrap_or(u32::MAX);
    s.dropped_above_ice = pst.early_dtls_dropped
        + pst.raw_data_dropped
        + dtls_stats.malformed
        + dtls_stats.ignored
        + dtls_stats.recv_overflow
        + sctp.dropped_bad_checksum
        + sctp.dropped_oversize
        + ch.unknown_stream
        + ch.unknown_ppid
        + ch.malformed_dcep
        + ch.unexpected_dcep
        + ch.not_open
        + ch.oversize
        + ch.recv_overflow;
    s
}

#[cfg_attr(xp2p_device, optimize(size))]
fn ice_stats(agent: &IceAgent) -> xIceStats {
    // SAFETY: all-zero is a valid value of this plain C struct (and leaves
    // its padding zero).
    let mut s: xIceStats = unsafe { std::mem::zeroed() };
    s.state = agent.state().code();
    write_ice_fields!(s, agent);
    s
}

/// The caller's `size` (the struct's first field), or `None` when `out`
/// is NULL or `size` does not even cover itself.
///
/// # Safety
/// A non-NULL `out` must point to at least `size_of::<usize>()` bytes.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn caller_size(out: *const c_void) -> Option<usize> {
    // SAFETY: `out` is non-NULL (checked) and the caller guarantees (# Safety) at least one `usize`
    // there; the read is unaligned-safe.
    unsafe {
        if out.is_null() {
            return None;
        }
        let size = std::ptr::read_unaligned(out.cast::<usize>());
        (size >= std::mem::size_of::<usize>()).then_some(size)
    }
}

/// Writes the first `min(size, sizeof T)` bytes of `full` to `out` and
/// sets `size` there to that count.
///
/// # Safety
/// `out` must point to `size` writable bytes; `T` starts with a `usize`.
unsafe fn write_prefix<T>(out: *mut c_void, size: usize, full: &T) {
    // SAFETY: the caller guarantees (# Safety) `size` writable bytes at `out`; we copy at most
    // `min(size, size_of::<T>())` bytes from a valid `T`, and `size` is at least one `usize`.
    unsafe {
        let n = size.min(std::mem::size_of::<T>());
        std::ptr::copy_nonoverlapping((full as *const T).cast::<u8>(), out.cast::<u8>(), n);
        std::ptr::write_unaligned(out.cast::<usize>(), n);
    }
}

/// Fills `stats` (whose `size` the caller set) for the PeerConnection.
/// `xErrno_InvalidArg` for a NULL, stale or foreign `pc`, a NULL `stats`
/// or a `size` below `sizeof(size_t)`. Safe from any thread.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionGetStats(
    pc: xPeerConnection,
    stats: *mut xPeerConnectionStats,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `stats` is NULL or points to the caller's struct of at least its `size` bytes
        // (`stats.h`); `pc` is only looked up in the handle registry, never dereferenced.
        unsafe {
            let Some(size) = caller_size(stats.cast()) else {
                return xErrno_InvalidArg;
            };
            let Some(full) = with_endpoint(pc as usize, None, |ep| Some(pc_stats(&ep.pc))) else {
                return xErrno_InvalidArg;
            };
            write_prefix(stats.cast(), size, &full);
            xErrno_Ok
        }
    })
}

/// Fills `stats` (whose `size` the caller set) for the channel of a
/// PeerConnection or of a manager. `xErrno_InvalidArg` for a NULL, stale
/// or foreign `channel`, a NULL `stats` or a `size` below `sizeof(size_t)`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xDataChannelGetStats(
    channel: xDataChannel,
    stats: *mut xDataChannelStats,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `stats` is NULL or points to the caller's struct of at least its `size` bytes
        // (`stats.h`); `channel` is only looked up in the handle registry, never dereferenced.
        unsafe {
            let Some(size) = caller_size(stats.cast()) else {
                return xErrno_InvalidArg;
            };
            let full = with_manager(channel, None, |m, id| {
                let t = m.traffic(id)?;
                Some(xDataChannelStats {
                    size: 0,
                    state: match m.state(id)? {
                        ChannelState::Connecting => 0,
                        ChannelState::Open => 1,
                        ChannelState::Closing => 2,
                        ChannelState::Closed => 3,
                    },
                    stream_id: m.stream_id(id).map_or(-1, c_int::from),
                    messages_sent: t.messages_sent,
                    bytes_sent: t.bytes_sent,
                    messages_received: t.messages_received,
                    bytes_received: t.bytes_received,
                    buffered_amount: m.buffered_amount(id) as u64,
                })
            });
            let Some(full) = full else {
                return xErrno_InvalidArg;
            };
            write_prefix(stats.cast(), size, &full);
            xErrno_Ok
        }
    })
}

/// Fills `stats` (whose `size` the caller set) for an ICE agent of
/// `xIceAgentCreate` or the agent view of a PeerConnection
/// (`xPeerConnectionGetIceAgent`). `xErrno_InvalidArg` for a NULL, stale
/// or foreign `agent`, a NULL `stats` or a `size` below `sizeof(size_t)`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceAgentGetStats(agent: xIceAgent, stats: *mut xIceStats) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `stats` is NULL or points to the caller's struct of at least its `size` bytes
        // (`stats.h`); `agent` is only looked up in the handle registry, never dereferenced.
        unsafe {
            let Some(size) = caller_size(stats.cast()) else {
                return xErrno_InvalidArg;
            };
            let Some(full) = with_ice(agent, None, |a| Some(ice_stats(a))) else {
                return xErrno_InvalidArg;
            };
            write_prefix(stats.cast(), size, &full);
            xErrno_Ok
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layouts_start_with_size_and_grow_only_at_the_end() {
        assert_eq!(offset_of!(xIceStats, size), 0);
        assert_eq!(offset_of!(xPeerConnectionStats, size), 0);
        assert_eq!(offset_of!(xDataChannelStats, size), 0);
        assert_eq!(size_of::<xDataChannelStats>(), 56);
    }

    #[test]
    fn prefix_write_honours_a_smaller_size() {
        let full = xDataChannelStats {
            size: 0,
            state: 1,
            stream_id: 3,
            messages_sent: 10,
            bytes_sent: 20,
            messages_received: 30,
            bytes_received: 40,
            buffered_amount: 50,
        };
        let mut buf = [0xAAu8; 64];
        let old = offset_of!(xDataChannelStats, messages_received);
        buf[..8].copy_from_slice(&old.to_ne_bytes());
        // SAFETY: `buf` is a live 64-byte buffer starting with a usize size.
        unsafe {
            let size = caller_size(buf.as_ptr().cast()).unwrap();
            write_prefix(buf.as_mut_ptr().cast(), size, &full);
        }
        assert_eq!(usize::from_ne_bytes(buf[..8].try_into().unwrap()), old);
        assert!(buf[old..].iter().all(|&b| b == 0xAA));
        assert_eq!(
            u64::from_ne_bytes(buf[24..32].try_into().unwrap()),
            20,
            "bytes_sent written"
        );
        let tiny = [4u8, 0, 0, 0, 0, 0, 0, 0];
        // SAFETY: `tiny` holds 8 readable bytes.
        assert_eq!(unsafe { caller_size(tiny.as_ptr().cast()) }, None);
        // SAFETY: NULL is allowed and yields None.
        assert_eq!(unsafe { caller_size(std::ptr::null()) }, None);
    }
}
