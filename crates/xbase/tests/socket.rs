//! `xSocket` through its exported C functions.
#![cfg(feature = "abi")]

use libc::{c_int, c_void};
use std::ptr::null_mut;
use std::sync::Mutex;
use xbase::ffi::event::*;
use xbase::ffi::socket::*;
use xbase::ffi::time::xMonoMs;
use xbase::types::*;

#[derive(Default)]
struct Seen(Mutex<Vec<(xSocket, xEventMask)>>);

unsafe extern "C" fn on_sock(sock: xSocket, mask: xEventMask, arg: *mut c_void) {
    // SAFETY: `arg` is the pointer this test registered with the socket: a live value on the test's
    // stack that outlives the loop run calling it.
    unsafe {
        let seen = &*(arg as *const Seen);
        if mask & xEvent_Read != 0 {
            let mut buf = [0u8; 64];
            while libc::recv(xSocketFd(sock), buf.as_mut_ptr().cast(), buf.len(), 0) > 0 {}
        }
        seen.0.lock().unwrap().push((sock, mask));
    }
}

fn is_open(fd: c_int) -> bool {
    // SAFETY: fcntl F_GETFD on an fd, no pointers.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// The (device, inode) pair of what `fd` refers to, or None when `fd` is closed. Tests run on
/// parallel threads of one process, so a closed fd's number may already name another thread's new
/// socket: "closed" is checked as "no longer this file".
fn identity(fd: c_int) -> Option<(u64, u64)> {
    // SAFETY: `st` is a local of the size fstat writes.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::fstat(fd, &mut st) == 0).then_some((st.st_dev, st.st_ino))
    }
}

fn bind_loopback(fd: c_int) -> libc::sockaddr_in {
    // SAFETY: `sin` and `len` are locals of the sizes passed to bind/getsockname.
    unsafe {
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&sin as *const libc::sockaddr_in).cast(), len),
            0
        );
        libc::getsockname(fd, (&mut sin as *mut libc::sockaddr_in).cast(), &mut len);
        sin
    }
}

#[test]
fn udp_socket_receives_and_destroy_closes() {
    let lp = xEventLoopCreate();
    let seen = Seen::default();
    let arg = &seen as *const Seen as *mut c_void;
    let sock = xSocketCreate(
        lp,
        libc::AF_INET,
        libc::SOCK_DGRAM,
        0,
        xEvent_Read,
        Some(on_sock),
        arg,
    );
    assert!(!sock.is_null());
    let fd = xSocketFd(sock);
    assert!(fd >= 0);
    assert_eq!(xSocketMask(sock), xEvent_Read);
    // SAFETY: fcntl F_GETFL on an fd, no pointers.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert_ne!(fl & libc::O_NONBLOCK, 0);
    assert_ne!(
        // SAFETY: fcntl F_GETFD on an fd, no pointers.
        unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC,
        0
    );
    let addr = bind_loopback(fd);
    let file = identity(fd);
    assert!(file.is_some());

    let tx = xSocketCreate(lp, libc::AF_INET, libc::SOCK_DGRAM, 0, 0, None, null_mut());
    assert!(!tx.is_null());
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `data` and `to` are live locals of the lengths passed.
    let sent = unsafe {
        libc::sendto(
            xSocketFd(tx),
            b"ping".as_ptr().cast(),
            4,
            0,
            (&addr as *const libc::sockaddr_in).cast(),
            len,
        )
    };
    assert_eq!(sent, 4);
    assert_eq!(xEventWait(lp, 1000), 1);
    assert_eq!(*seen.0.lock().unwrap(), vec![(sock, xEvent_Read)]);

    assert_eq!(
        xSocketSetMask(lp, sock, xEvent_Read | xEvent_Write),
        xErrno_Ok
    );
    assert_eq!(xSocketMask(sock), xEvent_Read | xEvent_Write);
    assert_eq!(xEventWait(lp, 1000), 1);
    assert_eq!(seen.0.lock().unwrap().last(), Some(&(sock, xEvent_Write)));

    xSocketDestroy(lp, sock);
    assert_ne!(identity(fd), file);
    assert_eq!(xSocketFd(sock), -1);
    assert_eq!(xSocketMask(sock), 0);
    assert_eq!(xSocketSetMask(lp, sock, xEvent_Read), xErrno_InvalidArg);
    xSocketDestroy(lp, sock);
    xSocketDestroy(lp, tx);
    xEventLoopDestroy(lp);
}

#[test]
fn read_idle_timeout_reports_timeout() {
    let lp = xEventLoopCreate();
    let seen = Seen::default();
    let arg = &seen as *const Seen as *mut c_void;
    let sock = xSocketCreate(
        lp,
        libc::AF_INET,
        libc::SOCK_DGRAM,
        0,
        xEvent_Read,
        Some(on_sock),
        arg,
    );
    bind_loopback(xSocketFd(sock));
    let start = xMonoMs();
    assert_eq!(xSocketSetTimeout(sock, 30, 0), xErrno_Ok);
    while seen.0.lock().unwrap().is_empty() && xMonoMs() - start < 2000 {
        xEventWait(lp, 10);
    }
    assert!(xMonoMs() - start >= 30);
    assert_eq!(
        *seen.0.lock().unwrap(),
        vec![(sock, xEvent_Timeout | xEvent_Read)]
    );
    // Disabled: no more timeouts.
    assert_eq!(xSocketSetTimeout(sock, 0, 0), xErrno_Ok);
    assert_eq!(xEventWait(lp, 60), 0);
    xSocketDestroy(lp, sock);
    xEventLoopDestroy(lp);
}

#[test]
fn create_from_fd_adopts_the_fd() {
    let lp = xEventLoopCreate();
    // SAFETY: plain socket call, no pointers.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    let sock = xSocketCreateFromFd(lp, fd, xEvent_Write, None, null_mut());
    assert!(!sock.is_null());
    assert_eq!(xSocketFd(sock), fd);
    let file = identity(fd);
    assert!(file.is_some());
    assert_ne!(
        // SAFETY: fcntl F_GETFL on an fd, no pointers.
        unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK,
        0
    );
    // A NULL callback: readiness is ignored and counts no callback.
    assert_eq!(xEventWait(lp, 20), 0);
    // The same fd cannot be adopted twice; the caller keeps it then.
    assert!(xSocketCreateFromFd(lp, fd, xEvent_Read, None, null_mut()).is_null());
    assert!(is_open(fd));
    // Destroy after the loop: still closes the fd.
    xEventLoopDestroy(lp);
    assert_eq!(xSocketSetTimeout(sock, 10, 10), xErrno_InvalidState);
    xSocketDestroy(lp, sock);
    assert_ne!(identity(fd), file);
}

#[test]
fn null_and_unknown_sockets() {
    let lp = xEventLoopCreate();
    let n = null_mut();
    assert!(xSocketCreate(n, libc::AF_INET, libc::SOCK_DGRAM, 0, xEvent_Read, None, n).is_null());
    assert!(xSocketCreate(lp, -1, libc::SOCK_DGRAM, 0, xEvent_Read, None, n).is_null());
    assert!(xSocketCreateFromFd(n, 0, xEvent_Read, None, n).is_null());
    assert!(xSocketCreateFromFd(lp, -1, xEvent_Read, None, n).is_null());
    xSocketDestroy(lp, n);
    xSocketDestroy(n, n);
    assert_eq!(xSocketSetMask(n, n, xEvent_Read), xErrno_InvalidArg);
    assert_eq!(xSocketSetMask(lp, n, xEvent_Read), xErrno_InvalidArg);
    assert_eq!(xSocketSetTimeout(n, 1, 1), xErrno_InvalidArg);
    assert_eq!(xSocketSetTimeout(0xbad as xSocket, 1, 1), xErrno_InvalidArg);
    assert_eq!(xSocketFd(n), -1);
    assert_eq!(xSocketMask(n), 0);
    assert_eq!(xSocketFd(0xbad as xSocket), -1);
    let other = xEventLoopCreate();
    let sock = xSocketCreate(lp, libc::AF_INET, libc::SOCK_DGRAM, 0, xEvent_Read, None, n);
    assert_eq!(xSocketSetMask(other, sock, xEvent_Write), xErrno_InvalidArg);
    xSocketDestroy(lp, sock);
    xEventLoopDestroy(other);
    xEventLoopDestroy(lp);
}
