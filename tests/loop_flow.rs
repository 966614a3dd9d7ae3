//! Receive flow control through the C API, from the loop's side: two
//! PeerConnections on two event loops of this thread; while B's loop does
//! not run, B's queue of tasks for its loop stays a handful long and its
//! received messages stay within the PeerConnection's bound, whatever A
//! sends; when the loop runs again every message arrives in order.
//! Real time, loopback; waits end as soon as their condition holds.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libc::c_char;
use xbase::ffi::event::{xEventLoopCreate, xEventLoopDestroy, xEventWait};
use xbase::types::{xErrno_Ok, xEventLoop};
use xp2p::driver::loop_queue::pending_tasks;
use xp2p::ffi::datachannel::*;
use xp2p::ffi::flow::*;
use xp2p::ffi::peer_connection::*;

const MSG: usize = 64 * 1024;
/// 14 MiB: more than B's bound (4 MiB) and SCTP receive buffer (4 MiB)
/// hold, less than A's channel buffers (16 MiB).
const SEND_MSGS: usize = 224;

#[allow(clippy::disallowed_methods)] // real time: the library's I/O thread reads the clock
fn now() -> Instant {
    Instant::now()
}

#[derive(Default)]
struct Side {
    pc: AtomicPtr<c_void>,
    other: AtomicPtr<Side>,
    state: AtomicI32,
    remote: AtomicPtr<c_void>,
    opened: AtomicUsize,
    msgs: AtomicUsize,
    out_of_order: AtomicUsize,
}

fn side(arg: *mut c_void) -> &'static Side {
    // SAFETY: every ctx is a leaked `Side`.
    unsafe { &*(arg as *const Side) }
}

unsafe extern "C" fn on_state(_pc: xPeerConnection, s: xPeerConnectionState, arg: *mut c_void) {
    side(arg).state.store(s, Ordering::SeqCst);
}

unsafe extern "C" fn on_candidate(_pc: xPeerConnection, line: *const c_char, arg: *mut c_void) {
    let other = side(arg).other.load(Ordering::SeqCst);
    if line.is_null() || other.is_null() {
        return;
    }
    let pc = side(other.cast()).pc.load(Ordering::SeqCst);
    // SAFETY: a live PeerConnection and a C string valid for the call.
    unsafe { xPeerConnectionAddIceCandidate(pc, line) };
}

unsafe extern "C" fn on_datachannel(_pc: xPeerConnection, ch: xDataChannel, arg: *mut c_void) {
    side(arg).remote.store(ch, Ordering::SeqCst);
}

unsafe extern "C" fn on_open(_ch: xDataChannel, arg: *mut c_void) {
    side(arg).opened.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn on_message(
    _ch: xDataChannel,
    _type: xDataChannelMsgType,
    data: *const u8,
    len: usize,
    arg: *mut c_void,
) {
    let s = side(arg);
    let i = s.msgs.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the library passes `len` readable bytes.
    let data = unsafe { std::slice::from_raw_parts(data, len) };
    let want = (i % 251) as u8;
    if len != MSG || data[0] != want || data[len - 1] != want {
        s.out_of_order.fetch_add(1, Ordering::SeqCst);
    }
}

fn conf(s: &'static Side) -> xPeerConnectionConf {
    // SAFETY: all-zero is a valid conf (NULL strings and callbacks).
    let mut c: xPeerConnectionConf = unsafe { std::mem::zeroed() };
    c.on_state_change = Some(on_state);
    c.on_ice_candidate = Some(on_candidate);
    c.on_datachannel = Some(on_datachannel);
    c.on_dc_open = Some(on_open);
    c.on_dc_message = Some(on_message);
    c.ctx = s as *const Side as *mut c_void;
    c
}

fn spin(loops: &[xEventLoop], limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = now() + limit;
    while now() < end {
        if done() {
            return true;
        }
        for &lp in loops {
            xEventWait(lp, 1);
        }
    }
    done()
}

#[test]
fn stalled_loop_keeps_its_queue_short_and_its_messages_bounded() {
    // Host candidates on loopback only.
    std::env::set_var("XP2P_INTERFACES", "lo");
    // SAFETY: the C API as a C program uses it, all on this thread.
    unsafe {
        let la = xEventLoopCreate();
        let lb = xEventLoopCreate();
        let a: &'static Side = Box::leak(Box::default());
        let b: &'static Side = Box::leak(Box::default());
        a.other
            .store(b as *const Side as *mut Side, Ordering::SeqCst);
        b.other
            .store(a as *const Side as *mut Side, Ordering::SeqCst);
        let pa = xPeerConnectionCreate(la, &conf(a));
        let pb = xPeerConnectionCreate(lb, &conf(b));
        assert!(!pa.is_null() && !pb.is_null());
        a.pc.store(pa, Ordering::SeqCst);
        b.pc.store(pb, Ordering::SeqCst);

        let mut dc: xDataChannelConf = std::mem::zeroed();
        dc.label[0] = b'f' as c_char;
        dc.ordered = true;
        let ch = xPeerConnectionCreateDataChannel(pa, &dc);
        assert!(!ch.is_null());
        let offer = xPeerConnectionCreateOffer(pa);
        assert!(!offer.is_null());
        assert_eq!(xPeerConnectionSetLocalDescription(pa, offer), xErrno_Ok);
        assert_eq!(xPeerConnectionSetRemoteDescription(pb, offer), xErrno_Ok);
        let answer = xPeerConnectionCreateAnswer(pb);
        assert!(!answer.is_null());
        assert_eq!(xPeerConnectionSetLocalDescription(pb, answer), xErrno_Ok);
        assert_eq!(xPeerConnectionSetRemoteDescription(pa, answer), xErrno_Ok);
        libc::free(offer.cast());
        libc::free(answer.cast());
        let connected = spin(&[la, lb], Duration::from_secs(120), || {
            a.state.load(Ordering::SeqCst) == xPeerConnectionState_Connected
                && b.state.load(Ordering::SeqCst) == xPeerConnectionState_Connected
                && a.opened.load(Ordering::SeqCst) >= 1
                && !b.remote.load(Ordering::SeqCst).is_null()
        });
        assert!(connected, "not connected");

        // B's loop stops; A sends 14 MiB, running only its own loop.
        let mut payload = vec![0u8; MSG];
        let mut sent = 0;
        let mut max_tasks = 0;
        let mut max_queued = 0;
        let mut observe = || {
            max_tasks = max_tasks.max(pending_tasks(lb));
            max_queued = max_queued.max(xPeerConnectionGetRecvBuffered(pb));
        };
        let end = now() + Duration::from_secs(120);
        while sent < SEND_MSGS && now() < end {
            payload.fill((sent % 251) as u8);
            if xDataChannelSendBinary(ch, payload.as_ptr(), MSG) == xErrno_Ok {
                sent += 1;
            } else {
                xEventWait(la, 5);
            }
            observe();
        }
        assert_eq!(sent, SEND_MSGS);
        let backed_up = spin(&[la], Duration::from_secs(120), || {
            observe();
            xPeerConnectionGetRecvBuffered(pb) >= XP2P_RECV_BUFFER_DEFAULT / 2
        });
        assert!(backed_up, "B's stack took no data");
        // Nothing more for B while its loop is stalled (not scaled: this
        // waits for nothing to happen).
        spin(&[la], Duration::from_secs(2), || {
            observe();
            false
        });
        let buffered = xDataChannelGetBufferedAmount(ch);
        println!(
            "stalled: {max_tasks} tasks at most on B's loop, B queued at most {max_queued}, \
             A buffered {buffered}"
        );
        assert_eq!(b.msgs.load(Ordering::SeqCst), 0);
        assert!(max_tasks <= 8, "{max_tasks} tasks queued for B's loop");
        assert!(
            max_queued <= XP2P_RECV_BUFFER_DEFAULT + 2 * MSG + 64,
            "B queued {max_queued}"
        );
        assert!(buffered >= 2 << 20, "A buffered only {buffered}");

        // B's loop runs again: every message, in order.
        let all = spin(&[la, lb], Duration::from_secs(240), || {
            b.msgs.load(Ordering::SeqCst) >= SEND_MSGS
        });
        assert!(
            all,
            "B got {} of {SEND_MSGS}",
            b.msgs.load(Ordering::SeqCst)
        );
        assert_eq!(b.msgs.load(Ordering::SeqCst), SEND_MSGS);
        assert_eq!(b.out_of_order.load(Ordering::SeqCst), 0);
        assert_eq!(xPeerConnectionGetRecvBuffered(pb), 0);

        xPeerConnectionDestroy(pa);
        xPeerConnectionDestroy(pb);
        a.pc.store(ptr::null_mut(), Ordering::SeqCst);
        b.pc.store(ptr::null_mut(), Ordering::SeqCst);
        xEventLoopDestroy(la);
        xEventLoopDestroy(lb);
    }
}
