//! mDNS lookups of remote `.local` candidates on the I/O thread.
//!
//! An [`MdnsClient`] is one registered endpoint of the I/O thread: a
//! [`Resolver`] (sans-IO, with the per-owner cache) plus its sockets:
//!
//! * a listener bound to `0.0.0.0:5353` (`SO_REUSEADDR`/`SO_REUSEPORT`, so it
//!   shares the port with the host's own responders) and joined to
//!   224.0.0.251 on every interface of [`netif::host_addresses`] (which
//!   honours `XP2P_INTERFACES`): responders such as Chromium's always answer
//!   to the group;
//! * one sender per interface address, bound to that address on an
//!   ephemeral port with `IP_MULTICAST_IF` set to it, from which the
//!   queries leave (a one-shot query, RFC 6762 §5.1: responders that answer
//!   by unicast answer to this socket, which is read as well).
//!
//! Results go to the owner's `sink` from the I/O thread, which must not
//! block or take the owner's endpoint lock (post and kick instead).

use super::io::{self, Endpoint, EndpointId, SharedEndpoint, Transmit};
use super::{clock, netif};
use crate::mdns::{MdnsError, Resolution, Resolver, ResolverStats, DEST_V4, GROUP_V4, PORT};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

type Sink = Box<dyn FnMut(Resolution) + Send>;

struct MdnsEndpoint {
    resolver: Resolver,
    /// Local addresses of the sender sockets: each query goes out of each.
    senders: Vec<SocketAddr>,
    out: VecDeque<Transmit>,
    sink: Sink,
}

impl Endpoint for MdnsEndpoint {
    fn handle_datagram(&mut self, now: Instant, _local: SocketAddr, _from: SocketAddr, d: &[u8]) {
        self.resolver.handle_datagram(now, d);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.resolver.handle_timeout(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.out.is_empty() {
            let query = self.resolver.poll_transmit()?;
            for &local in &self.senders {
                self.out.push_back(Transmit {
                    local,
                    dest: DEST_V4,
                    data: query.clone(),
                });
            }
        }
        self.out.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.resolver.poll_timeout()
    }

    fn dispatch_events(&mut self) {
        while let Some(r) = self.resolver.poll_event() {
            (self.sink)(r);
        }
    }
}

/// The lookups of one owner (a PeerConnection), driven by the I/O thread.
/// Dropping it stops them (no result is delivered after the drop returns).
pub struct MdnsClient {
    endpoint: Arc<Mutex<MdnsEndpoint>>,
    id: EndpointId,
}

impl MdnsClient {
    /// Opens the sockets on the host interfaces (IPv4) and registers with
    /// the I/O thread. `sink` receives every [`Resolution`] on the I/O
    /// thread. Fails when not one socket could be opened.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn start(sink: impl FnMut(Resolution) + Send + 'static) -> std::io::Result<Self> {
        let ifaces: Vec<Ipv4Addr> = netif::host_addresses(false)
            .into_iter()
            .filter_map(|ip| match ip {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
            .collect();
        let mut sockets = Vec::new();
        if let Some(l) = listener(&ifaces) {
            sockets.push(l);
        }
        let mut senders = Vec::new();
        for ip in &ifaces {
            if let Some(s) = sender(*ip) {
                if let Ok(local) = s.local_addr() {
                    senders.push(local);
                    sockets.push(s);
                }
            }
        }
        if senders.is_empty() {
            return Err(std::io::Error::other(
                "no interface to send mDNS queries on",
            ));
        }
        let endpoint = Arc::new(Mutex::new(MdnsEndpoint {
            resolver: Resolver::default(),
            senders,
            out: VecDeque::new(),
            sink: Box::new(sink),
        }));
        let shared: SharedEndpoint = endpoint.clone();
        let id = io::register(shared, sockets)?;
        Ok(MdnsClient { endpoint, id })
    }

    /// Starts looking `name` up (answered from the cache when known).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn resolve(&self, name: &str) -> Result<(), MdnsError> {
        let r = self.endpoint.lock().resolver.resolve(clock::now(), name);
        io::kick(self.id);
        r
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn stats(&self) -> ResolverStats {
        self.endpoint.lock().resolver.stats()
    }
}

impl Drop for MdnsClient {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn drop(&mut self) {
        io::unregister(self.id);
        // The I/O thread may still hold the endpoint for a last turn;
        // silence the sink so nothing is delivered after the drop.
        self.endpoint.lock().sink = Box::new(|_| {});
    }
}

/// The lookups of one endpoint of the I/O thread (a PeerConnection or a C
/// ICE agent): names go in from API calls ([`MdnsLookups::start`]), the
/// [`MdnsClient`] starts with the first, and results wait in an inbox that
/// the owner empties on its own turn ([`MdnsLookups::take_results`]); the
/// owner is kicked when one arrives. The client never takes the owner's
/// lock (API calls hold it while they start lookups).
#[derive(Default)]
pub struct MdnsLookups {
    client: Mutex<Option<MdnsClient>>,
    inbox: Arc<Inbox>,
}

#[derive(Default)]
struct Inbox {
    results: Mutex<Vec<Resolution>>,
    /// The owner's endpoint id, 0 until it is registered (results wait).
    owner: AtomicU64,
}

impl Inbox {
    fn deliver(&self, r: Resolution) {
        self.results.lock().push(r);
        let id = self.owner.load(Ordering::Acquire);
        if id != 0 {
            io::kick(id);
        }
    }
}

impl MdnsLookups {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new() -> Self {
        Self::default()
    }

    /// The endpoint to kick when a result arrives.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn set_owner(&self, id: EndpointId) {
        self.inbox.owner.store(id, Ordering::Release);
        if !self.inbox.results.lock().is_empty() {
            io::kick(id);
        }
    }

    /// Looks `names` up. A name that cannot be (no socket, bad name, too
    /// many lookups) fails at once: its result is `None`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn start(&self, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        let mut client = self.client.lock();
        // Built without the `mdns` feature: no client, every name fails.
        if client.is_none() && cfg!(feature = "mdns") {
            let inbox = self.inbox.clone();
            *client = MdnsClient::start(move |r| inbox.deliver(r)).ok();
        }
        for name in names {
            let ok = client.as_ref().is_some_and(|c| c.resolve(&name).is_ok());
            if !ok {
                self.inbox.deliver(Resolution { name, addr: None });
            }
        }
    }

    /// The results arrived since the last call.
    pub fn take_results(&self) -> Vec<Resolution> {
        std::mem::take(&mut *self.inbox.results.lock())
    }

    /// Stops the lookups and closes the sockets; nothing is delivered
    /// afterwards. Call it without holding the owner's lock.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn stop(&self) {
        let client = self.client.lock().take();
        drop(client);
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn stats(&self) -> Option<ResolverStats> {
        self.client.lock().as_ref().map(MdnsClient::stats)
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn set_int(fd: i32, level: i32, opt: i32, value: libc::c_int) -> bool {
    // SAFETY: setsockopt with a valid fd and an int option value.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
    }
}

/// `0.0.0.0:5353`, address reuse on, joined to the group on each of
/// `ifaces`; None if it cannot be bound or joins nowhere.
#[cfg_attr(xp2p_device, optimize(size))]
fn listener(ifaces: &[Ipv4Addr]) -> Option<UdpSocket> {
    // SAFETY: plain socket creation; the fd is owned by the UdpSocket below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh socket nobody else owns.
    let sock = unsafe { UdpSocket::from_raw_fd(fd) };
    set_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1);
    set_int(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1);
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: PORT.to_be(),
        sin_addr: libc::in_addr { s_addr: 0 },
        sin_zero: [0; 8],
    };
    // SAFETY: binding a valid sockaddr_in of the right length.
    let bound = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if bound != 0 {
        return None;
    }
    let joined = ifaces
        .iter()
        .filter(|ip| sock.join_multicast_v4(&GROUP_V4, ip).is_ok())
        .count();
    (joined > 0).then_some(sock)
}

/// A socket on `ip`, ephemeral port, sending multicast out of `ip`'s
/// interface with TTL 255 (RFC 6762 §11).
fn sender(ip: Ipv4Addr) -> Option<UdpSocket> {
    let sock = UdpSocket::bind(SocketAddr::new(IpAddr::V4(ip), 0)).ok()?;
    let _ = sock.set_multicast_ttl_v4(255);
    let _ = sock.set_multicast_loop_v4(true);
    let addr = libc::in_addr {
        s_addr: u32::from(ip).to_be(),
    };
    // SAFETY: IP_MULTICAST_IF takes an in_addr; valid fd and length.
    let ok = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&addr as *const libc::in_addr).cast(),
            std::mem::size_of::<libc::in_addr>() as libc::socklen_t,
        )
    } == 0;
    ok.then_some(sock)
}
