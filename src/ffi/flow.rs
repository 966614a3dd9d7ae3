//! `flow.h` (libxp2p extension): the receive bound of a PeerConnection.
//!
//! Received messages wait inside the library until the loop thread hands
//! them to `on_dc_message`. Per PeerConnection they are bounded (by default
//! `XP2P_RECV_BUFFER_DEFAULT`, 4 MiB, counting 64 bytes per message on top
//! of its payload): at the bound the library stops reading from SCTP, the
//! receive window it advertises closes, and the sending application sees
//! its buffered amount grow. Nothing is dropped on a reliable channel for
//! it. See README, "Receive flow control".

use super::boundary::ffi_boundary;
use super::peer_connection::{with_endpoint, xPeerConnection};
use xbase::types::*;

/// The receive bound of a PeerConnection unless set otherwise: 4 MiB.
pub const XP2P_RECV_BUFFER_DEFAULT: usize = 4194304;
/// The smallest receive bound; smaller values are raised to it.
pub const XP2P_RECV_BUFFER_MIN: usize = 65536;

const _: () = assert!(XP2P_RECV_BUFFER_DEFAULT == crate::peer::DEFAULT_RECV_BUFFER_LIMIT);
const _: () = assert!(XP2P_RECV_BUFFER_MIN == crate::peer::MIN_RECV_BUFFER_LIMIT);

/// Sets how many bytes of received messages (plus 64 per message) may wait
/// in the PeerConnection for `on_dc_message` before it stops reading from
/// the network; reading resumes once half of that is delivered. 0 restores
/// `XP2P_RECV_BUFFER_DEFAULT`; values below `XP2P_RECV_BUFFER_MIN` are
/// raised to it. Takes effect at once, also on a connected PeerConnection.
/// `xErrno_InvalidArg` for a NULL, stale or foreign `pc`. Safe from any
/// thread.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionSetRecvBufferLimit(
    pc: xPeerConnection,
    bytes: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        with_endpoint(pc as usize, xErrno_InvalidArg, |ep| {
            ep.pc.set_recv_buffer_limit(bytes);
            ep.kick();
            xErrno_Ok
        })
    })
}

/// The receive bound in effect (see `xPeerConnectionSetRecvBufferLimit`),
/// or 0 for a NULL, stale or foreign `pc`. Safe from any thread.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xPeerConnectionGetRecvBufferLimit(pc: xPeerConnection) -> usize {
    ffi_boundary!(0, {
        with_endpoint(pc as usize, 0, |ep| ep.pc.recv_buffer_limit())
    })
}

/// What the received messages not yet handed to `on_dc_message` cost
/// against the bound right now (bytes + 64 each), or 0 for a NULL, stale
/// or foreign `pc`. Safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn xPeerConnectionGetRecvBuffered(pc: xPeerConnection) -> usize {
    ffi_boundary!(0, {
        with_endpoint(pc as usize, 0, |ep| ep.pc.recv_queued())
    })
}
