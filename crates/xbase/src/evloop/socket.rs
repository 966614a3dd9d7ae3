//! `xSocket`: a library-owned, non-blocking socket registered on a loop.
//! The handle is the id of its loop source; a process-wide table maps it to
//! the owning loop and the fd, so `xSocketFd`/`xSocketMask` need no loop and
//! a destroyed or unknown handle is simply not found.

use super::{lookup, os, Callback, EventLoop, SocketFn, UserPtr};
use crate::types::*;
use libc::c_int;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

struct SocketEntry {
    loop_id: usize,
    fd: OwnedFd,
    mask: xEventMask,
}

// A hash map, as every other table of this crate: one map type less in
// the library (README, "Building for a device").
static SOCKETS: LazyLock<Mutex<HashMap<usize, SocketEntry>>> = LazyLock::new(Default::default);

fn sockets() -> MutexGuard<'static, HashMap<usize, SocketEntry>> {
    SOCKETS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers an owned fd as a socket of loop `loop_id`; on failure the fd
/// is handed back.
pub(crate) fn register(
    loop_id: usize,
    lp: &EventLoop,
    fd: OwnedFd,
    mask: xEventMask,
    callback: Option<SocketFn>,
    userp: UserPtr,
) -> Result<usize, OwnedFd> {
    let id = super::timers::next_id();
    let raw = fd.as_raw_fd();
    // The table entry exists before the first callback can run.
    sockets().insert(id, SocketEntry { loop_id, fd, mask });
    match lp.add_with_id(id, raw, mask, Callback::Socket(callback), userp) {
        Ok(()) => Ok(id),
        Err(_) => Err(sockets().remove(&id).expect("inserted above").fd),
    }
}

/// `xSocketCreate`: a new non-blocking, close-on-exec socket on the loop.
pub(crate) fn create(
    loop_id: usize,
    family: c_int,
    ty: c_int,
    protocol: c_int,
    mask: xEventMask,
    callback: Option<SocketFn>,
    userp: UserPtr,
) -> Option<usize> {
    let lp = lookup(loop_id)?;
    let fd = os::socket(family, ty, protocol).ok()?;
    register(loop_id, &lp, fd, mask, callback, userp).ok()
}

/// `xSocketCreateFromFd`: adopts `fd` (made non-blocking and close-on-exec).
/// On failure the caller keeps the fd: it is not closed.
pub(crate) fn adopt(
    loop_id: usize,
    fd: RawFd,
    mask: xEventMask,
    callback: Option<SocketFn>,
    userp: UserPtr,
) -> Option<usize> {
    let lp = lookup(loop_id)?;
    if fd < 0 || os::set_nonblock_cloexec(fd).is_err() {
        return None;
    }
    // SAFETY: the caller hands the fd over; on failure it is released again
    // without being closed.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    match register(loop_id, &lp, owned, mask, callback, userp) {
        Ok(id) => Some(id),
        Err(owned) => {
            std::mem::forget(owned);
            None
        }
    }
}

/// `xSocketDestroy`: unregisters the socket from its loop (if the loop is
/// still alive) and closes the fd.
pub(crate) fn destroy(id: usize) {
    let Some(entry) = sockets().remove(&id) else {
        return;
    };
    if let Some(lp) = lookup(entry.loop_id) {
        lp.delete(id);
    }
    drop(entry.fd);
}

/// The loop of a socket, checked against the loop the caller named.
fn owner(loop_id: usize, id: usize) -> Option<Arc<EventLoop>> {
    let owner = sockets().get(&id).map(|e| e.loop_id)?;
    if owner != loop_id {
        return None;
    }
    lookup(owner)
}

/// `xSocketSetMask`.
pub(crate) fn set_mask(loop_id: usize, id: usize, mask: xEventMask) -> xErrno {
    let Some(lp) = owner(loop_id, id) else {
        return xErrno_InvalidArg;
    };
    let r = lp.modify(id, mask);
    if r == xErrno_Ok {
        if let Some(e) = sockets().get_mut(&id) {
            e.mask = mask;
        }
    }
    r
}

/// `xSocketSetTimeout`.
pub(crate) fn set_timeout(id: usize, read_ms: c_int, write_ms: c_int) -> xErrno {
    let Some(loop_id) = sockets().get(&id).map(|e| e.loop_id) else {
        return xErrno_InvalidArg;
    };
    let Some(lp) = lookup(loop_id) else {
        return xErrno_InvalidState;
    };
    lp.set_idle_timeouts(id, read_ms, write_ms)
}

/// `xSocketFd`: -1 for an unknown socket.
pub(crate) fn fd(id: usize) -> RawFd {
    sockets().get(&id).map_or(-1, |e| e.fd.as_raw_fd())
}

/// `xSocketMask`: 0 for an unknown socket.
pub(crate) fn mask(id: usize) -> xEventMask {
    sockets().get(&id).map_or(0, |e| e.mask)
}
