//! Path MTU discovery of the PeerConnection (RFC 8899 over STUN probes):
//! two PeerConnections on the in-memory network, whose link drops
//! datagrams above its MTU, on the virtual clock; and, on real loopback
//! sockets, the no-fragmentation socket option and the I/O thread's
//! handling of datagrams the kernel refuses as too large.
#![cfg(feature = "pmtu")]

mod harness;
#[path = "peer_support/virtual_pair.rs"]
mod virtual_pair;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::sha::Sha256;
use parking_lot::Mutex;

use harness::peer_node::StunFilter;
use harness::{Network, NodeId, PeerNode};
use virtual_pair::{config, link, report, Opening, Setup};
use xp2p::channel::{ChannelError, MessageKind};
use xp2p::driver::io::{self, Endpoint as IoEndpoint, SharedEndpoint, Transmit};
use xp2p::peer::{
    PathMtuConfig, PeerConfig, PeerError, PeerState, PeerStats, BASE_DATAGRAM, MAX_DATAGRAM,
};
use xp2p::stun::Message;

/// The STUN PADDING attribute the probes carry.
const PADDING: u16 = 0x0026;
const MESSAGE: usize = 64 * 1024;

fn setup(seed: u64, mtu: usize, cfg_a: PeerConfig, cfg_b: PeerConfig) -> Setup {
    setup_with(seed, mtu, cfg_a, cfg_b, StunFilter::None)
}

fn setup_with(
    seed: u64,
    mtu: usize,
    cfg_a: PeerConfig,
    cfg_b: PeerConfig,
    filter: StunFilter,
) -> Setup {
    Opening {
        link: link(mtu),
        cfg_a,
        cfg_b,
        filter_b: filter,
        ..Opening::new(seed)
    }
    .open()
}

/// What the datagrams logged so far looked like; the log is emptied.
#[derive(Debug, Default, Clone, Copy)]
struct Sizes {
    /// Largest DTLS datagram each way (a → b, b → a).
    dtls_max: [usize; 2],
    /// Largest STUN datagram a sent, and whether every STUN datagram above
    /// the base size carried PADDING (a probe).
    stun_max: usize,
    large_stun_unpadded: usize,
    /// DTLS datagrams a sent.
    dtls_sent: u64,
}

fn take_sizes(net: &mut Network, a: NodeId, sizes: &mut Sizes) {
    for e in net.log.drain(..) {
        let len = e.data.len();
        match e.data.first() {
            Some(20..=63) => {
                let dir = usize::from(e.node != a);
                sizes.dtls_max[dir] = sizes.dtls_max[dir].max(len);
                sizes.dtls_sent += u64::from(e.node == a);
            }
            Some(0..=3) if e.node == a => {
                sizes.stun_max = sizes.stun_max.max(len);
                if len > BASE_DATAGRAM {
                    let padded = Message::parse(&e.data).is_ok_and(|m| m.get(PADDING).is_some());
                    if !padded {
                        sizes.large_stun_unpadded += 1;
                    }
                }
            }
            _ => {}
        }
    }
}

/// Sends `total` bytes in 64 KiB messages from a to b while running the
/// network; `during` runs after every event with the bytes received so
/// far. Checks that b got exactly what was sent.
fn transfer(
    s: &mut Setup,
    total: usize,
    limit: Duration,
    sizes: &mut Sizes,
    during: impl FnMut(&mut Network, u64),
) {
    transfer_in(s, total, MESSAGE, limit, sizes, during);
}

/// [`transfer`] in messages of `message` bytes.
fn transfer_in(
    s: &mut Setup,
    total: usize,
    message: usize,
    limit: Duration,
    sizes: &mut Sizes,
    mut during: impl FnMut(&mut Network, u64),
) {
    let (a, b, tx, rx) = (s.a, s.b, s.tx, s.rx);
    let mut hash = Sha256::new();
    let mut sent = 0usize;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut msg = vec![0u8; message];
    let mut fill = |m: &mut [u8]| {
        for chunk in m.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
    };
    fill(&mut msg);
    let deadline = s.net.now() + limit;
    let ok = s.net.run_until(deadline, |n| {
        while sent < total {
            let len = message.min(total - sent);
            match n
                .node::<PeerNode>(a)
                .pc
                .send(tx, MessageKind::Binary, &msg[..len])
            {
                Ok(()) => {
                    hash.update(&msg[..len]);
                    sent += len;
                    fill(&mut msg);
                }
                Err(PeerError::Channel(ChannelError::QueueFull)) => break,
                Err(e) => panic!("send failed after {sent} bytes: {e}"),
            }
        }
        take_sizes(n, a, sizes);
        let got = n.node::<PeerNode>(b).received(rx);
        during(n, got);
        got >= total as u64
    });
    let report = report(&mut s.net, a, b);
    assert!(ok, "transfer incomplete: {report}");
    let got = s.net.node::<PeerNode>(b).rx.remove(&rx).unwrap();
    assert_eq!(got.bytes, total as u64);
    assert!(
        got.hash.finish() == hash.finish(),
        "received bytes differ from the sent ones: {report}"
    );
}

/// A configuration with path MTU discovery switched off.
fn no_discovery(seed: u64) -> PeerConfig {
    PeerConfig {
        path_mtu: PathMtuConfig {
            enabled: false,
            ..PathMtuConfig::default()
        },
        ..config(seed)
    }
}

impl Setup {
    fn node(&mut self, id: NodeId) -> &mut PeerNode {
        self.net.node::<PeerNode>(id)
    }

    fn stats(&mut self, id: NodeId) -> PeerStats {
        self.node(id).pc.stats()
    }

    fn path_mtu(&mut self, id: NodeId) -> usize {
        self.stats(id).path_mtu
    }

    fn report(&mut self) -> String {
        report(&mut self.net, self.a, self.b)
    }

    /// Runs until a's path MTU is `mtu`, at most 5 s; fails otherwise.
    fn settle_at(&mut self, mtu: usize) {
        let a = self.a;
        let deadline = self.net.now() + Duration::from_secs(5);
        let settled = self.net.run_until(deadline, |n| {
            n.node::<PeerNode>(a).pc.stats().path_mtu == mtu
        });
        assert!(settled, "{}", self.report());
    }

    /// Adds the datagrams logged since the last call to `sizes`.
    fn take_sizes(&mut self, sizes: &mut Sizes) {
        take_sizes(&mut self.net, self.a, sizes);
    }

    /// Gives the search time to finish (a lost 8972-byte probe takes
    /// 600 ms), then takes the sizes.
    fn finish_search(&mut self, sizes: &mut Sizes) {
        self.net.run_for(Duration::from_secs(2));
        self.take_sizes(sizes);
    }

    /// [`transfer`] with nothing to do during it.
    fn send(&mut self, total: usize, limit: Duration, sizes: &mut Sizes) {
        self.send_in(total, MESSAGE, limit, sizes);
    }

    /// [`Setup::send`] in messages of `message` bytes.
    fn send_in(&mut self, total: usize, message: usize, limit: Duration, sizes: &mut Sizes) {
        transfer_in(self, total, message, limit, sizes, |_, _| {});
    }
}

#[test]
fn ethernet_link_settles_at_1472_and_never_sends_larger_data() {
    let mut s = setup(1, 1500, config(10), config(11));
    let (a, b) = (s.a, s.b);
    let mut sizes = Sizes::default();
    s.send(4 << 20, Duration::from_secs(60), &mut sizes);
    s.finish_search(&mut sizes);
    assert_eq!(s.path_mtu(a), 1472, "{}", s.report());
    assert_eq!(s.path_mtu(b), 1472);
    // DATA chunks are cut for 1200-byte datagrams, so a 1472-byte packet
    // cannot bundle two of them: data keeps the base size here.
    assert!(sizes.dtls_max[0] <= 1472, "{sizes:?}");
    assert!(sizes.dtls_max[1] <= 1472, "{sizes:?}");
    // Larger probes went out (and were lost); nothing else that large.
    assert!(sizes.stun_max > 1472, "{sizes:?}");
    assert_eq!(sizes.large_stun_unpadded, 0, "{sizes:?}");
    let st = s.stats(a).path_mtu_probes;
    assert!(st.probes_lost >= 1 && st.black_holes == 0, "{st:?}");
}

#[test]
fn jumbo_link_settles_higher_and_50_mib_arrive_identical() {
    let mut s = setup(2, 9000, config(20), config(21));
    let a = s.a;
    let mut sizes = Sizes::default();
    s.send(50 << 20, Duration::from_secs(120), &mut sizes);
    s.finish_search(&mut sizes);
    assert_eq!(s.path_mtu(a), 8972, "{}", s.report());
    assert!(sizes.dtls_max[0] <= 8972, "{sizes:?}");
    assert!(sizes.dtls_max[0] > 4096, "{sizes:?}");
    assert_eq!(sizes.large_stun_unpadded, 0, "{sizes:?}");
    assert_eq!(s.node(a).state(), PeerState::Connected);
}

#[test]
fn unlimited_link_reaches_one_full_record() {
    let mut s = setup(3, 65_535, config(30), config(31));
    let a = s.a;
    let mut sizes = Sizes::default();
    s.send(8 << 20, Duration::from_secs(60), &mut sizes);
    s.take_sizes(&mut sizes);
    assert_eq!(s.path_mtu(a), MAX_DATAGRAM);
    // One SCTP packet per DTLS record of at most 2^14 bytes of plaintext.
    assert!(sizes.dtls_max[0] <= MAX_DATAGRAM, "{sizes:?}");
    assert!(sizes.dtls_max[0] > 8972, "{sizes:?}");
}

#[test]
fn black_hole_after_the_raise_falls_back_and_the_transfer_completes() {
    let mut s = setup(4, 9000, config(40), config(41));
    let (a, b) = (s.a, s.b);
    s.settle_at(8972);
    let mut sizes = Sizes::default();
    let mut holed_at = None;
    transfer(
        &mut s,
        16 << 20,
        Duration::from_secs(120),
        &mut sizes,
        |n, got| {
            // A quarter in, the path starts dropping what the probes
            // found to pass: the route changed to an Ethernet-sized one
            // and nothing reports it.
            if holed_at.is_none() && got >= 4 << 20 {
                n.link.mtu = 1500;
                holed_at = Some(n.now());
            }
        },
    );
    assert!(holed_at.is_some());
    // The search starts again 5 s after the fall-back.
    s.net.run_for(Duration::from_secs(8));
    let st = s.stats(a);
    assert!(st.path_mtu_probes.black_holes >= 1, "{st:?}");
    assert_eq!(st.path_mtu, 1472, "searched again and settled: {st:?}");
    assert_eq!(s.node(a).state(), PeerState::Connected);
    assert_eq!(s.node(b).state(), PeerState::Connected);
}

/// Small messages queued faster than SCTP takes them are handed over in
/// batches that SCTP bundles into large datagrams, not one datagram each.
#[test]
fn queued_small_messages_are_bundled_into_large_datagrams() {
    let mut s = setup(7, 65_535, config(70), config(71));
    s.settle_at(MAX_DATAGRAM);
    s.take_sizes(&mut Sizes::default());
    let mut sizes = Sizes::default();
    let total = 100 * 40_000;
    s.send_in(total, 100, Duration::from_secs(60), &mut sizes);
    s.take_sizes(&mut sizes);
    let messages = (total / 100) as u64;
    assert!(
        sizes.dtls_sent * 8 < messages,
        "{} datagrams for {messages} messages: {sizes:?}",
        sizes.dtls_sent
    );
    assert!(sizes.dtls_max[0] > 8972, "{sizes:?}");
}

#[test]
fn peer_ignoring_probes_keeps_the_base_size() {
    let mut s = setup_with(5, 9000, config(50), config(51), StunFilter::Drop(PADDING));
    let (a, b) = (s.a, s.b);
    let mut sizes = Sizes::default();
    s.send(4 << 20, Duration::from_secs(60), &mut sizes);
    s.finish_search(&mut sizes);
    assert!(s.node(b).filtered >= 3, "probes were sent");
    assert_eq!(s.path_mtu(a), BASE_DATAGRAM);
    assert!(sizes.dtls_max[0] <= BASE_DATAGRAM, "{sizes:?}");
}

#[test]
fn strict_peer_answering_420_still_acknowledges_probes() {
    let filter = StunFilter::Answer420(PADDING);
    let mut s = setup_with(8, 9000, config(80), config(81), filter);
    let b = s.b;
    s.settle_at(8972);
    assert!(s.node(b).filtered >= 2);
    let mut sizes = Sizes::default();
    s.send(4 << 20, Duration::from_secs(60), &mut sizes);
    assert!(
        sizes.dtls_max[0] <= 8972 && sizes.dtls_max[0] > 4096,
        "{sizes:?}"
    );
}

/// A peer that answers probes but neither probes itself nor reads records
/// above 1500 bytes (as aiortc): sizes above Ethernet are probed but never
/// used for data.
#[test]
fn peer_that_does_not_probe_gets_at_most_ethernet_records() {
    let mut s = setup(9, 65_535, config(90), no_discovery(91));
    let (a, b) = (s.a, s.b);
    s.node(b).dtls_read_limit = Some(1500);
    let mut sizes = Sizes::default();
    s.send_in(4 << 20, 100, Duration::from_secs(60), &mut sizes);
    s.send(4 << 20, Duration::from_secs(60), &mut sizes);
    s.take_sizes(&mut sizes);
    let st = s.stats(a);
    assert_eq!(st.path_mtu, 1472, "{}", s.report());
    assert!(sizes.stun_max > 1472, "larger sizes were probed: {sizes:?}");
    assert!(sizes.dtls_max[0] <= 1472, "{sizes:?}");
    assert!(
        sizes.dtls_max[0] > BASE_DATAGRAM,
        "small messages bundle up to it: {sizes:?}"
    );
    assert_eq!(st.path_mtu_probes.data_stalls, 0);
    assert_eq!(s.node(b).dtls_too_large, 0);
}

/// A peer that probes large sizes itself but does not take our large
/// records: the stall is detected, the size drops to Ethernet for good and
/// the transfer completes.
#[test]
fn peer_dropping_large_records_is_detected_and_capped() {
    let mut s = setup(10, 65_535, config(100), config(101));
    let (a, b) = (s.a, s.b);
    s.settle_at(MAX_DATAGRAM);
    s.node(b).dtls_read_limit = Some(1500);
    let mut sizes = Sizes::default();
    s.send(8 << 20, Duration::from_secs(120), &mut sizes);
    let st = s.stats(a);
    assert!(s.node(b).dtls_too_large > 0);
    assert_eq!(st.path_mtu_probes.data_stalls, 1, "{st:?}");
    assert_eq!(st.path_mtu, 1472, "{st:?}");
    s.net.run_for(Duration::from_secs(700));
    assert_eq!(s.path_mtu(a), 1472);
    assert_eq!(s.node(a).state(), PeerState::Connected);
}

#[test]
fn disabled_discovery_sends_no_probe() {
    let mut s = setup(6, 9000, no_discovery(60), config(61));
    let a = s.a;
    let mut sizes = Sizes::default();
    s.send(1 << 20, Duration::from_secs(60), &mut sizes);
    s.finish_search(&mut sizes);
    assert_eq!(s.path_mtu(a), BASE_DATAGRAM);
    assert!(sizes.stun_max <= BASE_DATAGRAM, "{sizes:?}");
    assert!(sizes.dtls_max[0] <= BASE_DATAGRAM, "{sizes:?}");
    assert_eq!(s.stats(a).path_mtu_probes.probes_sent, 0);
}

/// The agent's probe API on its own: answered probes are acknowledged
/// (the peer agent accepts PADDING), lost ones are retried 3 times 200 ms
/// apart and reported lost, one at a time.
#[test]
fn agent_probes_are_answered_or_reported_lost() {
    use harness::ice_node::{agent, connect, two_agents};
    use xp2p::ice::agent::{MtuProbeResult, MTU_PROBE_INTERVAL, MTU_PROBE_TRIES};
    let (mut net, a, b) = two_agents(300);
    net.link.mtu = 1500;
    assert!(connect(&mut net, a, b, Duration::from_secs(5)));
    let answered = agent(&mut net, b).stats().requests_answered;
    let now = net.now();
    assert!(agent(&mut net, a).probe_path_mtu(now, 1472));
    assert!(
        !agent(&mut net, a).probe_path_mtu(now, 1000),
        "one probe at a time"
    );
    let done = net.run_until(now + Duration::from_secs(2), |n| {
        !agent(n, a).mtu_probe_pending()
    });
    assert!(done);
    assert_eq!(
        agent(&mut net, a).poll_mtu_probe(),
        Some(MtuProbeResult {
            size: 1472,
            acked: true
        })
    );
    assert!(agent(&mut net, b).stats().requests_answered > answered);
    net.log.clear();
    let start = net.now();
    assert!(agent(&mut net, a).probe_path_mtu(start, 8972));
    let done = net.run_until(start + Duration::from_secs(5), |n| {
        !agent(n, a).mtu_probe_pending()
    });
    assert!(done);
    let lost_at = net.now();
    assert_eq!(
        agent(&mut net, a).poll_mtu_probe(),
        Some(MtuProbeResult {
            size: 8972,
            acked: false
        })
    );
    assert_eq!(lost_at - start, MTU_PROBE_INTERVAL * MTU_PROBE_TRIES);
    let sends = net
        .log
        .iter()
        .filter(|e| e.node == a && e.data.len() == 8972)
        .count();
    assert_eq!(sends, MTU_PROBE_TRIES as usize);
    assert!(agent(&mut net, a).state().is_connected());
}

// ---------------------------------------------------------------------------
// Real loopback sockets
// ---------------------------------------------------------------------------

#[test]
fn host_sockets_never_fragment() {
    use std::os::fd::AsRawFd;
    let socks = xp2p::driver::netif::bind_host_sockets(true);
    assert!(!socks.is_empty());
    for s in &socks {
        let (level, opt, want) = match s.local_addr().unwrap() {
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
        let mut val: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt on a live fd into an int.
        let r = unsafe {
            libc::getsockopt(
                s.as_raw_fd(),
                level,
                opt,
                (&mut val as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0);
        assert_eq!(val, want, "{:?}", s.local_addr());
    }
}

/// Sends what it is given once, then nothing.
struct Burst {
    out: VecDeque<Transmit>,
}

impl IoEndpoint for Burst {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
    fn dispatch_events(&mut self) {}
}

#[test]
fn too_large_datagram_is_counted_and_the_socket_carries_on() {
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    xp2p::driver::netif::set_no_fragmentation(&sender).unwrap();
    let local = sender.local_addr().unwrap();
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let dest = receiver.local_addr().unwrap();
    let tx = |data: Vec<u8>| Transmit { local, dest, data };
    // Beyond what one UDP datagram can carry: the kernel says EMSGSIZE.
    let before = io::datagrams_too_large();
    let ep: SharedEndpoint = Arc::new(Mutex::new(Burst {
        out: VecDeque::from([tx(vec![7; 70_000]), tx(vec![1; 16_424]), tx(vec![2; 100])]),
    }));
    let id = io::register(ep, vec![sender]).unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, from) = receiver.recv_from(&mut buf).unwrap();
    assert_eq!(
        (n, from),
        (16_424, local),
        "the next datagram still goes out"
    );
    let (n, _) = receiver.recv_from(&mut buf).unwrap();
    assert_eq!(n, 100);
    assert_eq!(io::datagrams_too_large(), before + 1);
    io::unregister(id);
}
