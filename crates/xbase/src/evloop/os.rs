//! Thin wrappers over the Linux primitives the loop is built on: the clocks,
//! epoll, eventfd and signalfd. Each returns `io::Result` and owns its fds.

use libc::c_int;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Milliseconds of `clock` (CLOCK_MONOTONIC or CLOCK_REALTIME). The loop is
/// the clock-reading driver of libxbase, so it reads the clock directly.
pub(crate) fn clock_ms(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1000)
        .saturating_add(ts.tv_nsec as u64 / 1_000_000)
}

/// Milliseconds since an arbitrary fixed point (CLOCK_MONOTONIC).
pub(crate) fn mono_ms() -> u64 {
    clock_ms(libc::CLOCK_MONOTONIC)
}

/// Milliseconds since the Unix epoch (CLOCK_REALTIME).
pub(crate) fn wall_ms() -> u64 {
    clock_ms(libc::CLOCK_REALTIME)
}

fn cvt(r: c_int) -> io::Result<c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A new close-on-exec epoll instance.
pub(crate) fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success the fd is ours.
    let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    // SAFETY: `fd` is a fresh, owned descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `epoll_ctl(op)` for `fd` with interest `events` and user data `key`.
pub(crate) fn epoll_ctl(
    epfd: &OwnedFd,
    op: c_int,
    fd: RawFd,
    events: u32,
    key: u64,
) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: key };
    // SAFETY: `ev` is a valid epoll_event; the kernel validates the fds.
    cvt(unsafe { libc::epoll_ctl(epfd.as_raw_fd(), op, fd, &mut ev) }).map(|_| ())
}

/// Waits for events; an interrupted wait (EINTR) reports no events.
pub(crate) fn epoll_wait(
    epfd: &OwnedFd,
    events: &mut [libc::epoll_event],
    timeout_ms: c_int,
) -> io::Result<usize> {
    let max = events.len().min(c_int::MAX as usize) as c_int;
    // SAFETY: `events` has room for `max` entries.
    let n = unsafe { libc::epoll_wait(epfd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EINTR) {
            return Ok(0);
        }
        return Err(err);
    }
    Ok(n as usize)
}

/// A non-blocking, close-on-exec eventfd with counter 0.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success the fd is ours.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
    // SAFETY: `fd` is a fresh, owned descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds 1 to an eventfd counter (a full counter is already readable).
pub(crate) fn eventfd_signal(fd: &OwnedFd) -> io::Result<()> {
    let one: u64 = 1;
    loop {
        // SAFETY: writes 8 bytes from a valid u64.
        let r = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if r == 8 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(()),
            _ => return Err(err),
        }
    }
}

/// Resets an eventfd counter to 0.
pub(crate) fn eventfd_drain(fd: &OwnedFd) {
    let mut value: u64 = 0;
    // SAFETY: reads at most 8 bytes into a valid u64. A failure (EAGAIN:
    // already 0) needs no handling.
    unsafe { libc::read(fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
}

/// A signal set holding `signo` only.
fn sigset_of(signo: c_int) -> io::Result<libc::sigset_t> {
    // SAFETY: sigemptyset initialises the set; sigaddset validates `signo`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        cvt(libc::sigaddset(&mut set, signo))?;
        Ok(set)
    }
}

/// Blocks `signo` in the calling thread's signal mask.
pub(crate) fn block_signal(signo: c_int) -> io::Result<()> {
    let set = sigset_of(signo)?;
    // SAFETY: `set` is initialised; the old mask is not wanted.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

/// A non-blocking, close-on-exec signalfd accepting `signo`.
pub(crate) fn signalfd(signo: c_int) -> io::Result<OwnedFd> {
    let set = sigset_of(signo)?;
    // SAFETY: `set` is initialised; -1 asks for a new descriptor.
    let fd = cvt(unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) })?;
    // SAFETY: `fd` is a fresh, owned descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one pending signal from a signalfd; `None` when none is pending.
pub(crate) fn signalfd_read(fd: &OwnedFd) -> Option<c_int> {
    // SAFETY: all-zero is a valid signalfd_siginfo.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    loop {
        // SAFETY: reads at most `size` bytes into `info`.
        let r = unsafe {
            libc::read(
                fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if r == size as isize {
            return Some(info.ssi_signo as c_int);
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return None;
    }
}

/// Puts `fd` in non-blocking, close-on-exec mode.
pub(crate) fn set_nonblock_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a caller-provided fd; errors are reported by the kernel.
    unsafe {
        let fl = cvt(libc::fcntl(fd, libc::F_GETFL))?;
        if fl & libc::O_NONBLOCK == 0 {
            cvt(libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK))?;
        }
        let fdfl = cvt(libc::fcntl(fd, libc::F_GETFD))?;
        if fdfl & libc::FD_CLOEXEC == 0 {
            cvt(libc::fcntl(fd, libc::F_SETFD, fdfl | libc::FD_CLOEXEC))?;
        }
    }
    Ok(())
}

/// A new non-blocking, close-on-exec socket.
pub(crate) fn socket(family: c_int, ty: c_int, protocol: c_int) -> io::Result<OwnedFd> {
    let ty = ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain syscall; on success the fd is ours.
    let fd = cvt(unsafe { libc::socket(family, ty, protocol) })?;
    // SAFETY: `fd` is a fresh, owned descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
