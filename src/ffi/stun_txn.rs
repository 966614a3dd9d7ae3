//! `stun_txn.h`: STUN client transactions with retransmission on the
//! caller's event loop. The schedule is `stun::txn::Backoff` with the xKit
//! parameters (500 ms doubling, 7 retransmissions, timeout 127.5 s after
//! the first send); each step arms a one-shot `xEventLoopTimerAfter`.
//!
//! Memory safety: every transaction lives in a heap block that starts with
//! the C-visible `xStunTxn` (so `mgr.txns[i]` points at it) and is listed
//! in a process-wide registry under a unique id. Timers carry that id, not
//! a pointer, so a timer that fires after its transaction was freed finds
//! nothing and returns. No reference to a transaction is held while user
//! callbacks run, and the registry is re-checked after each one.
//!
//! Deviation from xKit (deliberate): a timed-out transaction is removed
//! from the manager (`count` decremented) before `on_complete(NULL, NULL,
//! ctx)` runs, so `count` always equals the number of live transactions.
//! As in xKit, `xStunTxnMgrCancelAll`/`Destroy` do not call `on_complete`.

use super::boundary::{bytes, ffi_boundary, opt_mut, opt_ref, sockaddr_to_std, std_to_storage};
use super::ice_private::{xStunMsgType, XSTUN_HEADER_SIZE, XSTUN_MAX_MSG_SIZE, XSTUN_TXN_ID_SIZE};
use super::stun_msg::xStunMsg;
use crate::stun::txn::{Backoff, RetransmitConfig, Step};
use crate::stun::Header;
use crate::vecmap::VecMap;
use libc::{c_int, c_void, sockaddr, sockaddr_storage};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use xbase::sys::{xEventLoopTimerAfter, xEventLoopTimerCancel};
use xbase::types::{
    xErrno, xErrno_InvalidArg, xErrno_NoMemory, xErrno_Ok, xErrno_Unknown, xEventLoop, xEventTimer,
};

/// Completion callback: the response and its source, or NULL/NULL on timeout.
pub type xStunTxnFunc =
    Option<unsafe extern "C" fn(msg: *const xStunMsg, addr: *const sockaddr, arg: *mut c_void)>;

/// Datagram output used for the first send and each retransmission.
pub type xStunTxnSendFunc = Option<
    unsafe extern "C" fn(
        data: *const u8,
        len: usize,
        addr: *const sockaddr,
        arg: *mut c_void,
    ) -> xErrno,
>;

/// One outstanding request.
#[repr(C)]
pub struct xStunTxn {
    pub txn_id: [u8; XSTUN_TXN_ID_SIZE],
    pub msg_buf: [u8; XSTUN_MAX_MSG_SIZE],
    pub msg_len: usize,
    pub dest: sockaddr_storage,
    pub on_complete: xStunTxnFunc,
    pub ctx: *mut c_void,
    pub send_fn: xStunTxnSendFunc,
    pub send_arg: *mut c_void,
    pub r#loop: xEventLoop,
    pub timer: xEventTimer,
    pub retransmit_count: c_int,
    pub rto_ms: u32,
    pub cancelled: bool,
}

/// Most transactions a manager holds at once.
pub const XSTUN_TXN_MAX: usize = 32;

/// The outstanding transactions of one client.
#[repr(C)]
pub struct xStunTxnMgr {
    pub txns: [*mut xStunTxn; XSTUN_TXN_MAX],
    pub count: c_int,
    pub r#loop: xEventLoop,
}

/// The heap block behind each `xStunTxn *`: the C part first.
#[repr(C)]
struct TxnBlock {
    txn: xStunTxn,
    backoff: Backoff,
    mgr: *mut xStunTxnMgr,
    id: usize,
}

/// Live transactions: id → block address.
static LIVE: Mutex<VecMap<usize, usize>> = Mutex::new(VecMap::new());
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

#[cfg_attr(xp2p_device, optimize(size))]
fn live() -> std::sync::MutexGuard<'static, VecMap<usize, usize>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

fn lookup(id: usize) -> Option<*mut TxnBlock> {
    live().get(&id).map(|&p| p as *mut TxnBlock)
}

/// The manager's transactions (count clamped to the array).
#[cfg_attr(xp2p_device, optimize(size))]
fn slots(mgr: &xStunTxnMgr) -> &[*mut xStunTxn] {
    let n = usize::try_from(mgr.count).unwrap_or(0).min(XSTUN_TXN_MAX);
    &mgr.txns[..n]
}

/// Takes `txn` out of the manager's array: the last entry fills the hole.
#[cfg_attr(xp2p_device, optimize(size))]
fn remove_slot(mgr: &mut xStunTxnMgr, txn: *mut xStunTxn) -> bool {
    let n = slots(mgr).len();
    let Some(i) = slots(mgr).iter().position(|&t| t == txn) else {
        return false;
    };
    mgr.txns[i] = mgr.txns[n - 1];
    mgr.txns[n - 1] = std::ptr::null_mut();
    mgr.count = (n - 1) as c_int;
    true
}

/// Cancels the block's timer, unlists it and frees it.
///
/// # Safety
/// `b` must be a live block created by `start`.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn free_block(b: *mut TxnBlock) {
    // SAFETY: `b` came from `Box::into_raw` in `start` and is still registered (callers take it
    // from a live slot), so it is valid and freed exactly once here.
    unsafe {
        let (lp, timer, id) = ((*b).txn.r#loop, (*b).txn.timer, (*b).id);
        if !timer.is_null() && !lp.is_null() {
            xEventLoopTimerCancel(lp, timer);
        }
        live().remove(&id);
        drop(Box::from_raw(b));
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Arms the block's retransmission timer for `delay_ms`.
///
/// # Safety
/// `b` must be a live block.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn arm(b: *mut TxnBlock, delay_ms: u64) {
    // SAFETY: `b` is a live block from `start` or `lookup`; its loop pointer is the caller's
    // `xEventLoop` given to `xStunTxnMgrInit`.
    unsafe {
        let t = &mut (*b).txn;
        if !t.r#loop.is_null() && t.timer.is_null() {
            t.timer =
                xEventLoopTimerAfter(t.r#loop, Some(on_timer), (*b).id as *mut c_void, delay_ms);
        }
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe extern "C" fn on_timer(arg: *mut c_void) {
    ffi_boundary!((), {
        // SAFETY: `arg` is a transaction id, not a pointer; `timer_fired` looks it up in the live
        // registry before touching any block.
        unsafe { timer_fired(arg as usize) }
    })
}

/// One retransmission timer expiry of transaction `id`.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn timer_fired(id: usize) {
    // SAFETY: `lookup` returns only blocks still registered as live, so `b` is valid; the send
    // callback and its argument are the caller's, given with the transaction.
    unsafe {
        let Some(b) = lookup(id) else { return };
        (*b).txn.timer = std::ptr::null_mut();
        if (*b).txn.cancelled {
            return;
        }
        match (*b).backoff.on_elapsed() {
            Step::Retransmit(wait) => {
                let t = &mut (*b).txn;
                t.retransmit_count += 1;
                t.rto_ms = u32::try_from(ms(wait)).unwrap_or(u32::MAX);
                let (send, data, len, dest, arg) = (
                    t.send_fn,
                    t.msg_buf.as_ptr(),
                    t.msg_len,
                    std::ptr::addr_of!(t.dest).cast::<sockaddr>(),
                    t.send_arg,
                );
                if let Some(send) = send {
                    // A failed retransmission is not fatal: the next one or the
                    // timeout follows.
                    send(data, len, dest, arg);
                }
                // The send callback may have cancelled everything.
                if let Some(b) = lookup(id) {
                    if !(*b).txn.cancelled {
                        arm(b, ms(wait));
                    }
                }
            }
            Step::TimedOut => {
                (*b).txn.cancelled = true;
                if let Some(mgr) = opt_mut((*b).mgr) {
                    remove_slot(mgr, b.cast());
                }
                let (cb, ctx) = ((*b).txn.on_complete, (*b).txn.ctx);
                free_block(b);
                if let Some(cb) = cb {
                    cb(std::ptr::null(), std::ptr::null(), ctx);
                }
            }
        }
    }
}

/// Zeroes the manager and remembers the loop its timers run on.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunTxnMgrInit(mgr: *mut xStunTxnMgr, r#loop: xEventLoop) {
    ffi_boundary!((), {
        // SAFETY: `mgr` is NULL or a writable manager, as `stun_txn.h` requires of its caller (NULL
        // is skipped); `loop` is only stored, for the timers.
        unsafe {
            if let Some(m) = opt_mut(mgr) {
                *m = xStunTxnMgr {
                    txns: [std::ptr::null_mut(); XSTUN_TXN_MAX],
                    count: 0,
                    r#loop,
                };
            }
        }
    })
}

/// Same as `xStunTxnMgrCancelAll`. NULL: nothing happens.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunTxnMgrDestroy(mgr: *mut xStunTxnMgr) {
    ffi_boundary!((), {
        // SAFETY: `mgr` is NULL or a manager initialised by `xStunTxnMgrInit`, as `stun_txn.h`
        // requires of its caller.
        unsafe { cancel_all(mgr) }
    })
}

/// Cancels the timers of and frees every transaction (count → 0) without
/// calling `on_complete`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunTxnMgrCancelAll(mgr: *mut xStunTxnMgr) {
    ffi_boundary!((), {
        // SAFETY: `mgr` is NULL or a manager initialised by `xStunTxnMgrInit`, as `stun_txn.h`
        // requires of its caller.
        unsafe { cancel_all(mgr) }
    })
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn cancel_all(mgr: *mut xStunTxnMgr) {
    // SAFETY: `mgr` is NULL or a manager initialised by `xStunTxnMgrInit` (the caller's contract);
    // its non-NULL slots are live blocks from `start`.
    unsafe {
        let Some(m) = opt_mut(mgr) else { return };
        let n = slots(m).len();
        for i in 0..n {
            let t = std::mem::replace(&mut m.txns[i], std::ptr::null_mut());
            if !t.is_null() {
                free_block(t.cast());
            }
        }
        m.count = 0;
    }
}

/// Records and sends a request whose bytes `fill` writes into the
/// transaction buffer (returning their length).
#[allow(clippy::too_many_arguments)]
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn start(
    mgr: *mut xStunTxnMgr,
    fill: impl FnOnce(&mut [u8; XSTUN_MAX_MSG_SIZE]) -> usize,
    txn_id: [u8; XSTUN_TXN_ID_SIZE],
    dest: *const sockaddr,
    send_fn: xStunTxnSendFunc,
    send_arg: *mut c_void,
    on_complete: xStunTxnFunc,
    cb_arg: *mut c_void,
) -> xErrno {
    // SAFETY: `mgr` and `dest` come from the public send functions, whose caller guarantees each is
    // NULL or valid; NULL is rejected before use, and the block is owned by the manager until
    // freed.
    unsafe {
        let (Some(m), Some(dest), Some(send)) = (opt_ref(mgr), sockaddr_to_std(dest), send_fn)
        else {
            return xErrno_InvalidArg;
        };
        if slots(m).len() >= XSTUN_TXN_MAX {
            return xErrno_NoMemory;
        }
        let cfg = RetransmitConfig::XKIT;
        let backoff = Backoff::new(cfg);
        let mut block = Box::new(TxnBlock {
            txn: xStunTxn {
                txn_id,
                msg_buf: [0; XSTUN_MAX_MSG_SIZE],
                msg_len: 0,
                dest: std_to_storage(&dest),
                on_complete,
                ctx: cb_arg,
                send_fn,
                send_arg,
                r#loop: m.r#loop,
                timer: std::ptr::null_mut(),
                retransmit_count: 0,
                rto_ms: u32::try_from(ms(backoff.current_wait())).unwrap_or(u32::MAX),
                cancelled: false,
            },
            backoff,
            mgr,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        });
        block.txn.msg_len = fill(&mut block.txn.msg_buf);
        let b = Box::into_raw(block);
        live().insert((*b).id, b as usize);
        let t = std::ptr::addr_of!((*b).txn);
        let rc = send(
            (*t).msg_buf.as_ptr(),
            (*t).msg_len,
            std::ptr::addr_of!((*t).dest).cast(),
            send_arg,
        );
        // The callback may have filled the manager meanwhile.
        let full = opt_ref(mgr).is_none_or(|m| slots(m).len() >= XSTUN_TXN_MAX);
        if rc != xErrno_Ok || full {
            free_block(b);
            return if rc != xErrno_Ok { rc } else { xErrno_NoMemory };
        }
        arm(b, ms(cfg.initial_rto));
        let m = &mut *mgr;
        let n = slots(m).len();
        m.txns[n] = b.cast();
        m.count = (n + 1) as c_int;
        xErrno_Ok
    }
}

/// Starts a transaction: a random 12-byte id, the header and `attrs`
/// encoded into the transaction buffer, sent once now, then retransmitted
/// on the manager's loop until a response or the timeout. InvalidArg for
/// NULL `mgr`/`dest`/`send_fn`, a non-IP `dest` or NULL `attrs` with a
/// non-zero length; NoMemory when 32 are pending or the message exceeds
/// 1280 bytes; the send callback's error if the first send fails (nothing
/// is recorded then).
#[no_mangle]
pub unsafe extern "C" fn xStunTxnMgrSend(
    mgr: *mut xStunTxnMgr,
    msg_type: xStunMsgType,
    attrs: *const u8,
    attrs_len: u16,
    dest: *const sockaddr,
    send_fn: xStunTxnSendFunc,
    send_arg: *mut c_void,
    on_complete: xStunTxnFunc,
    cb_arg: *mut c_void,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `mgr`, `attrs` (`attrs_len` bytes) and `dest` are NULL or valid, as `stun_txn.h`
        // requires of its caller, and NULL is rejected before any read; `send_arg` and `cb_arg` are
        // only handed back to the caller's callbacks.
        unsafe {
            let Some(attrs) = bytes(attrs, usize::from(attrs_len)) else {
                return xErrno_InvalidArg;
            };
            let total = XSTUN_HEADER_SIZE + attrs.len();
            if opt_ref(mgr).is_some() && total > XSTUN_MAX_MSG_SIZE {
                return xErrno_NoMemory;
            }
            let mut id = [0u8; XSTUN_TXN_ID_SIZE];
            crate::rng::os_fill(&mut id);
            let header = Header {
                typ: msg_type as u16,
                length: attrs_len,
                txn_id: id,
            };
            let fill = |buf: &mut [u8; XSTUN_MAX_MSG_SIZE]| {
                let (head, body) = buf.split_at_mut(XSTUN_HEADER_SIZE);
                header.write(head.try_into().expect("20-byte header"));
                body[..attrs.len()].copy_from_slice(attrs);
                total
            };
            start(mgr, fill, id, dest, send_fn, send_arg, on_complete, cb_arg)
        }
    })
}

/// As `xStunTxnMgrSend` for a message already encoded in `msg_buf` (its
/// transaction id is taken from bytes 8..20). InvalidArg for NULL
/// `msg_buf` or `msg_len` outside 20..=1280.
#[no_mangle]
pub unsafe extern "C" fn xStunTxnMgrSendRaw(
    mgr: *mut xStunTxnMgr,
    msg_buf: *const u8,
    msg_len: usize,
    dest: *const sockaddr,
    send_fn: xStunTxnSendFunc,
    send_arg: *mut c_void,
    on_complete: xStunTxnFunc,
    cb_arg: *mut c_void,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `mgr`, `msg_buf` (`msg_len` bytes) and `dest` are NULL or valid, as `stun_txn.h`
        // requires of its caller, and NULL is rejected before any read; `send_arg` and `cb_arg` are
        // only handed back to the caller's callbacks.
        unsafe {
            if msg_buf.is_null() || !(XSTUN_HEADER_SIZE..=XSTUN_MAX_MSG_SIZE).contains(&msg_len) {
                return xErrno_InvalidArg;
            }
            let Some(msg) = bytes(msg_buf, msg_len) else {
                return xErrno_InvalidArg;
            };
            let mut id = [0u8; XSTUN_TXN_ID_SIZE];
            id.copy_from_slice(&msg[8..XSTUN_HEADER_SIZE]);
            let fill = |buf: &mut [u8; XSTUN_MAX_MSG_SIZE]| {
                buf[..msg.len()].copy_from_slice(msg);
                msg.len()
            };
            start(mgr, fill, id, dest, send_fn, send_arg, on_complete, cb_arg)
        }
    })
}

/// Matches a received response to a pending transaction by id. On a
/// match: its timer is cancelled, it leaves the manager (the last entry
/// fills its slot), `on_complete(msg, from, ctx)` runs, and true is
/// returned. False for NULL `mgr`/`msg` or an unknown id. No integrity
/// check happens here (the caller verifies with its key).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunTxnMgrOnResponse(
    mgr: *mut xStunTxnMgr,
    msg: *const xStunMsg,
    raw_buf: *const u8,
    raw_len: usize,
    from: *const sockaddr,
) -> bool {
    ffi_boundary!(false, {
        // SAFETY: `mgr` and `msg` are NULL or valid, as `stun_txn.h` requires of its caller; the
        // slots of a live manager hold only live blocks from `start`.
        unsafe {
            let _ = (raw_buf, raw_len);
            let (Some(m), Some(resp)) = (opt_mut(mgr), opt_ref(msg)) else {
                return false;
            };
            let found = slots(m)
                .iter()
                .copied()
                .find(|&t| !t.is_null() && !(*t).cancelled && (*t).txn_id == resp.txn_id);
            let Some(t) = found else { return false };
            remove_slot(m, t);
            let b: *mut TxnBlock = t.cast();
            let (cb, ctx) = ((*b).txn.on_complete, (*b).txn.ctx);
            free_block(b);
            if let Some(cb) = cb {
                cb(msg, from, ctx);
            }
            true
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::ice_private::xStunMsgType_BindingRequest;
    use std::cell::RefCell;
    use std::mem::{offset_of, size_of};
    use std::net::SocketAddr;

    #[test]
    fn layouts_match_the_spec() {
        assert_eq!(size_of::<xStunTxn>(), 1496);
        assert_eq!(offset_of!(xStunTxn, msg_buf), 12);
        assert_eq!(offset_of!(xStunTxn, msg_len), 1296);
        assert_eq!(offset_of!(xStunTxn, dest), 1304);
        assert_eq!(offset_of!(xStunTxn, on_complete), 1432);
        assert_eq!(offset_of!(xStunTxn, ctx), 1440);
        assert_eq!(offset_of!(xStunTxn, send_fn), 1448);
        assert_eq!(offset_of!(xStunTxn, send_arg), 1456);
        assert_eq!(offset_of!(xStunTxn, r#loop), 1464);
        assert_eq!(offset_of!(xStunTxn, timer), 1472);
        assert_eq!(offset_of!(xStunTxn, retransmit_count), 1480);
        assert_eq!(offset_of!(xStunTxn, rto_ms), 1484);
        assert_eq!(offset_of!(xStunTxn, cancelled), 1488);
        assert_eq!(size_of::<xStunTxnMgr>(), 272);
        assert_eq!(offset_of!(xStunTxnMgr, count), 256);
        assert_eq!(offset_of!(xStunTxnMgr, r#loop), 264);
        assert_eq!(offset_of!(TxnBlock, txn), 0);
    }

    #[derive(Default)]
    struct Log {
        sends: Vec<Vec<u8>>,
        fail: bool,
        completions: Vec<(bool, bool)>,
    }

    thread_local! {
        static LOG: RefCell<Log> = RefCell::new(Log::default());
    }

    unsafe extern "C" fn send(
        data: *const u8,
        len: usize,
        _addr: *const sockaddr,
        _arg: *mut c_void,
    ) -> xErrno {
        ffi_boundary!(xErrno_Unknown, {
            // SAFETY: test callback: the manager passes `data` with `len` readable bytes of the
            // transaction's buffer.
            unsafe {
                LOG.with(|l| {
                    let mut l = l.borrow_mut();
                    l.sends.push(std::slice::from_raw_parts(data, len).to_vec());
                    if l.fail {
                        xErrno_Unknown
                    } else {
                        xErrno_Ok
                    }
                })
            }
        })
    }

    unsafe extern "C" fn done(msg: *const xStunMsg, addr: *const sockaddr, _arg: *mut c_void) {
        ffi_boundary!((), {
            LOG.with(|l| {
                l.borrow_mut()
                    .completions
                    .push((!msg.is_null(), !addr.is_null()))
            })
        })
    }

    fn reset() {
        LOG.with(|l| *l.borrow_mut() = Log::default());
    }

    fn dest() -> sockaddr_storage {
        std_to_storage(&"127.0.0.1:3478".parse::<SocketAddr>().unwrap())
    }

    unsafe fn send_one(m: &mut xStunTxnMgr) -> xErrno {
        // SAFETY: test helper: `m` is a live manager and every pointer passed is to a local that
        // outlives the call.
        unsafe {
            let d = dest();
            xStunTxnMgrSend(
                m,
                xStunMsgType_BindingRequest,
                std::ptr::null(),
                0,
                std::ptr::addr_of!(d).cast(),
                Some(send),
                std::ptr::null_mut(),
                Some(done),
                std::ptr::null_mut(),
            )
        }
    }

    #[test]
    fn send_response_and_limits_without_a_loop() {
        reset();
        // SAFETY: `m` is a zeroed manager this test initialises and destroys; all other pointers
        // are live locals.
        unsafe {
            let mut m: xStunTxnMgr = std::mem::zeroed();
            xStunTxnMgrInit(&mut m, std::ptr::null_mut());
            assert_eq!(send_one(&mut m), xErrno_Ok);
            assert_eq!(m.count, 1);
            let sent = LOG.with(|l| l.borrow().sends[0].clone());
            assert_eq!(sent.len(), 20);
            assert!(crate::stun::looks_like_stun(&sent));
            assert_eq!(&sent[8..20], &(*m.txns[0]).txn_id);
            // A response with another id does nothing.
            let mut resp: xStunMsg = std::mem::zeroed();
            resp.txn_id = [0xEE; 12];
            assert!(!xStunTxnMgrOnResponse(
                &mut m,
                &resp,
                std::ptr::null(),
                0,
                std::ptr::null()
            ));
            resp.txn_id = (*m.txns[0]).txn_id;
            let from = dest();
            let from_p = std::ptr::addr_of!(from).cast();
            assert!(xStunTxnMgrOnResponse(
                &mut m,
                &resp,
                std::ptr::null(),
                0,
                from_p
            ));
            assert_eq!(m.count, 0);
            assert_eq!(LOG.with(|l| l.borrow().completions.clone()), [(true, true)]);
            // Fill up to the limit.
            for _ in 0..XSTUN_TXN_MAX {
                assert_eq!(send_one(&mut m), xErrno_Ok);
            }
            assert_eq!(send_one(&mut m), xErrno_NoMemory);
            assert_eq!(m.count, 32);
            xStunTxnMgrCancelAll(&mut m);
            assert_eq!(m.count, 0);
            assert!(m.txns.iter().all(|t| t.is_null()));
            // A failing send records nothing.
            LOG.with(|l| l.borrow_mut().fail = true);
            assert_eq!(send_one(&mut m), xErrno_Unknown);
            assert_eq!(m.count, 0);
            assert_eq!(LOG.with(|l| l.borrow().completions.len()), 1);
            xStunTxnMgrDestroy(&mut m);
        }
    }

    #[test]
    fn null_and_bad_arguments() {
        reset();
        // SAFETY: `m` is a zeroed manager this test initialises and destroys; all other pointers
        // are live locals.
        unsafe {
            let mut m: xStunTxnMgr = std::mem::zeroed();
            xStunTxnMgrInit(&mut m, std::ptr::null_mut());
            let d = dest();
            let dp: *const sockaddr = std::ptr::addr_of!(d).cast();
            let nm: *mut xStunTxnMgr = std::ptr::null_mut();
            let null: *mut c_void = std::ptr::null_mut();
            let ty = xStunMsgType_BindingRequest;
            let np: *const u8 = std::ptr::null();
            assert_eq!(
                xStunTxnMgrSend(nm, ty, np, 0, dp, Some(send), null, None, null),
                xErrno_InvalidArg
            );
            assert_eq!(
                xStunTxnMgrSend(&mut m, ty, np, 0, np.cast(), Some(send), null, None, null),
                xErrno_InvalidArg
            );
            assert_eq!(
                xStunTxnMgrSend(&mut m, ty, np, 0, dp, None, null, None, null),
                xErrno_InvalidArg
            );
            assert_eq!(
                xStunTxnMgrSend(&mut m, ty, np, 4, dp, Some(send), null, None, null),
                xErrno_InvalidArg
            );
            let big = vec![0u8; 1261];
            assert_eq!(
                xStunTxnMgrSend(
                    &mut m,
                    ty,
                    big.as_ptr(),
                    1261,
                    dp,
                    Some(send),
                    null,
                    None,
                    null
                ),
                xErrno_NoMemory
            );
            let unspec = crate::ffi::boundary::empty_storage();
            let up = std::ptr::addr_of!(unspec).cast();
            assert_eq!(
                xStunTxnMgrSend(&mut m, ty, np, 0, up, Some(send), null, None, null),
                xErrno_InvalidArg
            );
            let raw = [0u8; 19];
            assert_eq!(
                xStunTxnMgrSendRaw(&mut m, raw.as_ptr(), 19, dp, Some(send), null, None, null),
                xErrno_InvalidArg
            );
            assert_eq!(
                xStunTxnMgrSendRaw(&mut m, np, 20, dp, Some(send), null, None, null),
                xErrno_InvalidArg
            );
            assert_eq!(m.count, 0);
            assert!(!xStunTxnMgrOnResponse(nm, np.cast(), np, 0, np.cast()));
            assert!(!xStunTxnMgrOnResponse(&mut m, np.cast(), np, 0, np.cast()));
            xStunTxnMgrCancelAll(nm);
            xStunTxnMgrDestroy(nm);
            xStunTxnMgrInit(nm, null);
        }
    }

    #[test]
    fn timer_steps_retransmit_then_time_out_and_leave_the_manager() {
        reset();
        // SAFETY: `m` is a zeroed manager this test initialises and destroys; all other pointers
        // are live locals.
        unsafe {
            let mut m: xStunTxnMgr = std::mem::zeroed();
            xStunTxnMgrInit(&mut m, std::ptr::null_mut());
            let mut raw = [0u8; 20];
            Header {
                typ: 1,
                length: 0,
                txn_id: *b"0123456789ab",
            }
            .write(&mut raw);
            let d = dest();
            let null = std::ptr::null_mut();
            assert_eq!(
                xStunTxnMgrSendRaw(
                    &mut m,
                    raw.as_ptr(),
                    20,
                    std::ptr::addr_of!(d).cast(),
                    Some(send),
                    null,
                    Some(done),
                    null
                ),
                xErrno_Ok
            );
            assert_eq!(&(*m.txns[0]).txn_id, b"0123456789ab");
            let id = (*m.txns[0].cast::<TxnBlock>()).id;
            let mut rtos = Vec::new();
            for _ in 0..7 {
                timer_fired(id);
                rtos.push((*m.txns[0]).rto_ms);
            }
            assert_eq!(rtos, [1000, 2000, 4000, 8000, 16000, 32000, 64000]);
            assert_eq!((*m.txns[0]).retransmit_count, 7);
            assert_eq!(LOG.with(|l| l.borrow().sends.len()), 8);
            assert!(LOG.with(|l| l.borrow().sends.iter().all(|s| s[..] == raw[..])));
            timer_fired(id);
            assert_eq!(m.count, 0);
            assert_eq!(
                LOG.with(|l| l.borrow().completions.clone()),
                [(false, false)]
            );
            // A late expiry of the freed transaction is ignored.
            timer_fired(id);
            assert_eq!(LOG.with(|l| l.borrow().sends.len()), 8);
            assert_eq!(LOG.with(|l| l.borrow().completions.len()), 1);
        }
    }
}
