//! Batched UDP socket I/O for the I/O thread: `sendmmsg` with UDP GSO
//! (`UDP_SEGMENT`) for runs of equal-sized datagrams to one destination,
//! and `recvmmsg`. One system call carries a turn's worth of datagrams
//! each way instead of one call per datagram.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Most datagrams handed to one `sendmmsg` (and iovecs in total).
pub const MAX_SEND_BATCH: usize = 64;
/// Most datagrams read by one `recvmmsg`.
pub const MAX_RECV_BATCH: usize = 32;
/// Largest UDP payload of one GSO send (the kernel takes at most 64 KiB
/// of UDP payload per call).
const GSO_MAX_BYTES: usize = 65_000;
/// Most segments in one GSO send (the kernel's `UDP_MAX_SEGMENTS`).
const GSO_MAX_SEGMENTS: usize = 64;
/// Room for one `UDP_SEGMENT` control message (a `u16`), 8-byte aligned.
const CMSG_WORDS: usize = 4;

/// The socket address as the kernel takes it.
pub fn to_storage(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// The address the kernel filled in, if it is IPv4 or IPv6.
pub fn from_storage(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: &libc::sockaddr_in = unsafe { &*(ss as *const libc::sockaddr_storage).cast() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6: &libc::sockaddr_in6 =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// What [`send_batch`] did with the datagrams it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendResult {
    /// Datagrams consumed from the front: sent, or dropped after an error
    /// that [`send_batch`] reported through its callback.
    pub done: usize,
    /// The socket buffer is full: the rest waits for writability.
    pub blocked: bool,
}

/// Sends `items` (at most [`MAX_SEND_BATCH`]; `datagram` gives each one's
/// payload and destination) from `fd` with as few `sendmmsg` calls as the
/// kernel allows. Runs of equal-sized datagrams to one destination go as
/// one GSO send while `*gso` holds; a GSO send refused with `EIO` or
/// `EINVAL` (no GSO on this path or device) clears `*gso` for good and the
/// datagrams go again one by one. Another error drops the datagrams of the
/// send it hit, reported to `dropped` with their count, and the rest carry
/// on.
pub fn send_batch<T>(
    fd: RawFd,
    gso: &mut bool,
    items: &[T],
    datagram: impl Fn(&T) -> (&[u8], SocketAddr),
    mut dropped: impl FnMut(&io::Error, usize),
) -> SendResult {
    let items = &items[..items.len().min(MAX_SEND_BATCH)];
    let mut done = 0;
    while done < items.len() {
        // SAFETY: all-zero values are valid for these plain C structs; the
        // pointers set below point into these arrays, which outlive the
        // call.
        let mut msgs: [libc::mmsghdr; MAX_SEND_BATCH] = unsafe { zeroed() };
        // SAFETY: mmsghdr is plain C data for which all-zero is valid (null pointers, zero
        // lengths).
        let mut iovs: [libc::iovec; MAX_SEND_BATCH] = unsafe { zeroed() };
        // SAFETY: iovec and sockaddr_storage are plain C data for which all-zero is valid.
        let mut addrs: [libc::sockaddr_storage; MAX_SEND_BATCH] = unsafe { zeroed() };
        let mut cmsgs = [[0u64; CMSG_WORDS]; MAX_SEND_BATCH];
        let mut counts = [0usize; MAX_SEND_BATCH];
        let mut nmsg = 0;
        let mut i = done;
        while i < items.len() {
            let first = i;
            let (data, dest) = datagram(&items[i]);
            let seg = data.len();
            let mut total = seg;
            i += 1;
            if *gso && seg > 0 {
                while i < items.len() && i - first < GSO_MAX_SEGMENTS {
                    let (next, next_dest) = datagram(&items[i]);
                    if next.len() != seg || next_dest != dest || total + seg > GSO_MAX_BYTES {
                        break;
                    }
                    total += seg;
                    i += 1;
                }
            }
            for (k, item) in items[first..i].iter().enumerate() {
                let (d, _) = datagram(item);
                iovs[first + k] = libc::iovec {
                    iov_base: d.as_ptr() as *mut libc::c_void,
                    iov_len: d.len(),
                };
            }
            let (ss, len) = to_storage(&dest);
            addrs[nmsg] = ss;
            let hdr = &mut msgs[nmsg].msg_hdr;
            hdr.msg_name = (&mut addrs[nmsg] as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = len;
            hdr.msg_iov = &mut iovs[first];
            hdr.msg_iovlen = i - first;
            if i - first > 1 {
                let buf = &mut cmsgs[nmsg];
                hdr.msg_control = buf.as_mut_ptr().cast();
                // SAFETY: CMSG_SPACE of a u16 fits the 32-byte buffer.
                hdr.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;
                // SAFETY: the control buffer is set and large enough for
                // one header and its u16 payload; CMSG_FIRSTHDR is non-NULL.
                unsafe {
                    let c = libc::CMSG_FIRSTHDR(hdr);
                    (*c).cmsg_level = libc::SOL_UDP;
                    (*c).cmsg_type = libc::UDP_SEGMENT;
                    (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as usize;
                    std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg as u16);
                }
            }
            counts[nmsg] = i - first;
            nmsg += 1;
        }
        // SAFETY: `msgs[..nmsg]` are initialised headers whose pointers
        // refer to live buffers (the items and the arrays above).
        let r = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), nmsg as libc::c_uint, 0) };
        if r > 0 {
            done += counts[..r as usize].iter().sum::<usize>();
            continue;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN) => {
                return SendResult {
                    done,
                    blocked: true,
                }
            }
            Some(libc::EINTR) => {}
            Some(libc::EIO) | Some(libc::EINVAL) if counts[0] > 1 => *gso = false,
            _ => {
                dropped(&err, counts[0]);
                done += counts[0];
            }
        }
    }
    SendResult {
        done,
        blocked: false,
    }
}

/// Buffers for [`RecvBatch::recv`]: [`MAX_RECV_BATCH`] datagrams of up to
/// `slot` bytes each, allocated once.
pub struct RecvBatch {
    buf: Vec<u8>,
    slot: usize,
    lens: [usize; MAX_RECV_BATCH],
    froms: [libc::sockaddr_storage; MAX_RECV_BATCH],
}

impl RecvBatch {
    pub fn new(slot: usize) -> RecvBatch {
        RecvBatch {
            buf: vec![0; slot * MAX_RECV_BATCH],
            slot,
            lens: [0; MAX_RECV_BATCH],
            // SAFETY: an all-zero sockaddr_storage is a valid value.
            froms: unsafe { zeroed() },
        }
    }

    /// Reads up to `max` (at most [`MAX_RECV_BATCH`]) datagrams waiting on
    /// `fd` with one `recvmmsg`; how many arrived (an error such as
    /// `EAGAIN` when none did). [`datagram`](Self::datagram) gives each.
    pub fn recv(&mut self, fd: RawFd, max: usize) -> io::Result<usize> {
        let n = max.min(MAX_RECV_BATCH);
        // SAFETY: all-zero values are valid for these plain C structs.
        let mut msgs: [libc::mmsghdr; MAX_RECV_BATCH] = unsafe { zeroed() };
        // SAFETY: mmsghdr and iovec are plain C data for which all-zero is valid.
        let mut iovs: [libc::iovec; MAX_RECV_BATCH] = unsafe { zeroed() };
        for (k, chunk) in self.buf.chunks_exact_mut(self.slot).take(n).enumerate() {
            iovs[k] = libc::iovec {
                iov_base: chunk.as_mut_ptr().cast(),
                iov_len: chunk.len(),
            };
            let hdr = &mut msgs[k].msg_hdr;
            hdr.msg_name = (&mut self.froms[k] as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_iov = &mut iovs[k];
            hdr.msg_iovlen = 1;
        }
        // SAFETY: `msgs[..n]` point to `n` disjoint slots of `self.buf` and
        // to `self.froms`, all live for the call.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let r = r as usize;
        for (len, m) in self.lens.iter_mut().zip(&msgs[..r]) {
            *len = (m.msg_len as usize).min(self.slot);
        }
        Ok(r)
    }

    /// Datagram `i` of the last [`recv`](Self::recv): its sender (None for
    /// an address family other than IPv4/IPv6) and payload.
    pub fn datagram(&self, i: usize) -> (Option<SocketAddr>, &[u8]) {
        let start = i * self.slot;
        (
            from_storage(&self.froms[i]),
            &self.buf[start..start + self.lens[i]],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn addresses_round_trip() {
        for a in ["127.0.0.1:5000", "[::1]:6000", "[fe80::1%2]:7"] {
            let addr: SocketAddr = a.parse().unwrap();
            let (ss, _) = to_storage(&addr);
            assert_eq!(from_storage(&ss), Some(addr));
        }
    }

    /// Equal datagrams go as GSO runs (or one by one where the kernel has
    /// no GSO), a different size and another destination break the runs,
    /// and recvmmsg reads them back in order with their sender.
    #[test]
    fn batches_arrive_whole_and_in_order() {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx1 = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx2 = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&rx1, &rx2] {
            s.set_nonblocking(true).unwrap();
        }
        let (d1, d2) = (rx1.local_addr().unwrap(), rx2.local_addr().unwrap());
        let mut items: Vec<(Vec<u8>, SocketAddr)> = Vec::new();
        for i in 0..20u8 {
            items.push((vec![i; 1000], d1));
        }
        items.push((vec![99; 300], d1));
        for i in 0..5u8 {
            items.push((vec![100 + i; 1000], d2));
        }
        let mut gso = true;
        let r = send_batch(
            tx.as_raw_fd(),
            &mut gso,
            &items,
            |(d, a)| (d.as_slice(), *a),
            |e, n| panic!("{n} datagrams dropped: {e}"),
        );
        assert_eq!(
            r,
            SendResult {
                done: items.len(),
                blocked: false
            }
        );
        let mut batch = RecvBatch::new(2048);
        let from = tx.local_addr().unwrap();
        for (rx, want) in [(&rx1, &items[..21]), (&rx2, &items[21..])] {
            let mut got: Vec<Vec<u8>> = Vec::new();
            for _ in 0..1000 {
                if got.len() == want.len() {
                    break;
                }
                match batch.recv(rx.as_raw_fd(), MAX_RECV_BATCH) {
                    Ok(n) => {
                        for i in 0..n {
                            let (src, data) = batch.datagram(i);
                            assert_eq!(src, Some(from));
                            got.push(data.to_vec());
                        }
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
                }
            }
            let want: Vec<Vec<u8>> = want.iter().map(|(d, _)| d.clone()).collect();
            assert_eq!(got, want);
        }
    }
}
