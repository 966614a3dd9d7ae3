//! Local interface addresses for host candidates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// Most host addresses an agent gathers from (the C struct's candidate limit).
pub const MAX_HOST_ADDRESSES: usize = 32;

/// Environment variable restricting host candidates to some interfaces:
/// a comma-separated list of interface names (`XP2P_INTERFACES=eth0,wg0`;
/// `lo` allowed).
pub const INTERFACES_ENV: &str = "XP2P_INTERFACES";

/// The addresses to gather host candidates from: every up, non-loopback IPv4
/// address (and IPv6 when `ipv6`, without link-local ones). A host whose only
/// usable interface is loopback gets its loopback address(es), so two agents
/// on it still connect. `XP2P_INTERFACES` limits the interfaces considered.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn host_addresses(ipv6: bool) -> Vec<IpAddr> {
    let allowed: Option<Vec<String>> = std::env::var(INTERFACES_ENV).ok().map(|v| {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let all: Vec<(IpAddr, bool)> = interface_addresses()
        .into_iter()
        .filter(|(name, _, _)| allowed.as_ref().is_none_or(|a| a.contains(name)))
        .map(|(_, ip, lo)| (ip, lo))
        .collect();
    let wanted = |ip: &IpAddr| match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => ipv6 && !is_link_local(v6),
    };
    let mut out: Vec<IpAddr> = all
        .iter()
        .filter(|(ip, lo)| !lo && wanted(ip))
        .map(|(ip, _)| *ip)
        .collect();
    if out.is_empty() {
        out = all
            .iter()
            .filter(|(ip, lo)| *lo && wanted(ip))
            .map(|(ip, _)| *ip)
            .collect();
    }
    if out.is_empty() {
        out.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    out.dedup();
    out.truncate(MAX_HOST_ADDRESSES);
    out
}

/// One UDP socket on an ephemeral port per [`host_addresses`] entry, with
/// [`set_no_fragmentation`] applied; addresses that cannot be bound are
/// left out.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn bind_host_sockets(ipv6: bool) -> Vec<UdpSocket> {
    host_addresses(ipv6)
        .into_iter()
        .filter_map(|ip| UdpSocket::bind(SocketAddr::new(ip, 0)).ok())
        .inspect(|s| {
            // Without it the kernel fragments large datagrams, which path
            // MTU probes must never rely on; a socket that refuses it still
            // works at the default datagram size.
            let _ = set_no_fragmentation(s);
        })
        .collect()
}

/// `IP_MTU_DISCOVER = IP_PMTUDISC_PROBE` (IPv4) or `IPV6_MTU_DISCOVER =
/// IPV6_PMTUDISC_PROBE` (IPv6): datagrams leave with DF set and are never
/// fragmented; one larger than the interface MTU fails with `EMSGSIZE`
/// (the I/O thread counts and drops it, see
/// [`super::io::datagrams_too_large`]), and ICMP "fragmentation needed"
/// does not shrink what the kernel lets through: the PeerConnection's own
/// path MTU discovery (RFC 8899) decides the sizes.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn set_no_fragmentation(sock: &UdpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (level, opt, val) = match sock.local_addr()? {
        SocketAddr::V4(_) => (
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_PROBE,
        ),
        SocketAddr::V6(_) => (
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_PROBE,
        ),
    };
    // SAFETY: setsockopt on a valid fd with an int option value.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            opt,
            (&val as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn is_link_local(ip: &Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

/// (interface name, address, is loopback) of every up interface with an IP
/// address.
#[cfg_attr(xp2p_device, optimize(size))]
fn interface_addresses() -> Vec<(String, IpAddr, bool)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        let flags = ifa.ifa_flags;
        if flags & libc::IFF_UP as u32 == 0 || ifa.ifa_addr.is_null() {
            continue;
        }
        let loopback = flags & libc::IFF_LOOPBACK as u32 != 0;
        // SAFETY: ifa_addr is non-NULL and points to a sockaddr of its family.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        let ip = match family {
            libc::AF_INET => {
                // SAFETY: AF_INET addresses are sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
            }
            libc::AF_INET6 => {
                // SAFETY: AF_INET6 addresses are sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
            }
            _ => continue,
        };
        // SAFETY: ifa_name is a NUL-terminated string of the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        out.push((name, ip, loopback));
    }
    // SAFETY: head came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_addresses_are_never_empty_and_respect_ipv6_flag() {
        let v4 = host_addresses(false);
        assert!(!v4.is_empty());
        assert!(v4.iter().all(IpAddr::is_ipv4));
        assert!(v4.len() <= MAX_HOST_ADDRESSES);
        let both = host_addresses(true);
        assert!(both.iter().all(|ip| match ip {
            IpAddr::V6(v6) => !is_link_local(v6),
            IpAddr::V4(_) => true,
        }));
    }
}
