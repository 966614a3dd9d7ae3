//! The PeerConnection's send path allocates no buffer per datagram: SCTP
//! packets, DTLS records and the transmits carrying them take their
//! buffers from `xp2p::datagram`'s pool, and the driver gives them back
//! once sent. A counting allocator counts what the sender's own calls
//! (send, poll_transmit, the SACKs it handles) allocate during a bulk
//! transfer on the in-memory network.

mod harness;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use harness::peer_node::negotiate;
use harness::{LinkConfig, Network, NodeId, PeerNode, Realm};
use xp2p::channel::{ChannelConfig, ChannelError, MessageKind};
use xp2p::peer::{PeerConfig, PeerError, PeerEvent};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; the count has no effect on
// the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` with this thread's allocations counted.
fn counted<R>(f: impl FnOnce() -> R) -> R {
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    r
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// a's datagrams to b as the I/O thread sends them: at most 64 per turn
/// (a's calls counted), each given back to the pool once delivered. The
/// number sent.
fn pump(net: &mut Network, a: NodeId, b: NodeId, now: Instant) -> u64 {
    let mut out = Vec::with_capacity(64);
    let mut sent = 0u64;
    loop {
        let node_a = net.node::<PeerNode>(a);
        while out.len() < 64 {
            match counted(|| node_a.pc.poll_transmit()) {
                Some(t) => out.push(t),
                None => break,
            }
        }
        node_a.drain();
        if out.is_empty() {
            return sent;
        }
        sent += out.len() as u64;
        let node_b = net.node::<PeerNode>(b);
        for t in out.drain(..) {
            node_b.pc.handle_datagram(now, t.dest, t.local, &t.data);
            xp2p::datagram::recycle(t.data);
        }
    }
}

#[test]
fn bulk_send_allocates_no_buffer_per_datagram() {
    let link = LinkConfig {
        delay: Duration::from_millis(5),
        mtu: 1500,
        ..LinkConfig::clean()
    };
    let mut net = Network::starting_at(41, link, harness::net::base_instant());
    let now = net.now();
    let (pa, pb) = (addr("10.0.0.1:40000"), addr("10.0.0.2:40000"));
    let cfg = |seed| PeerConfig {
        rng_seed: Some(seed),
        ..PeerConfig::default()
    };
    let a = net.add_node(PeerNode::new(cfg(410), pa, now), &[pa], Realm::Public);
    let b = net.add_node(PeerNode::new(cfg(411), pb, now), &[pb], Realm::Public);
    negotiate(&mut net, a, b);
    let tx = net
        .node::<PeerNode>(a)
        .pc
        .create_data_channel(ChannelConfig::new("bulk"))
        .unwrap();
    let deadline = net.now() + Duration::from_secs(20);
    assert!(net.run_until(deadline, |n| n
        .node::<PeerNode>(a)
        .events
        .contains(&PeerEvent::ChannelOpen(tx))
        && n.node::<PeerNode>(b).remote_channel("bulk").is_some()));
    let rx = net.node::<PeerNode>(b).remote_channel("bulk").unwrap();
    // The path MTU search settles and the DCEP exchange ends.
    net.run_for(Duration::from_secs(3));

    // a → b by hand at the virtual clock: a's calls counted, b's and the
    // wire's not; what reaches b is given back to the pool, as the driver
    // does once the kernel has it.
    let msg = vec![0x5a; 64 * 1024];
    let rounds = [1 << 20, 4 << 20, 4 << 20];
    let mut now = net.now();
    let mut figures = Vec::new();
    for total in rounds {
        let start_rx = net.node::<PeerNode>(b).received(rx);
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let (mut sent, mut datagrams, mut idle) = (0usize, 0u64, 0);
        while net.node::<PeerNode>(b).received(rx) - start_rx < total as u64 {
            assert!(idle < 10_000, "stalled after {sent} bytes");
            let node_a = net.node::<PeerNode>(a);
            counted(|| {
                while sent < total {
                    match node_a.pc.send(tx, MessageKind::Binary, &msg) {
                        Ok(()) => sent += msg.len(),
                        Err(PeerError::Channel(ChannelError::QueueFull)) => break,
                        Err(e) => panic!("send failed after {sent} bytes: {e}"),
                    }
                }
            });
            // As the I/O thread: at most a turn's 64 datagrams at a time,
            // each given back to the pool once sent, and what arrives in
            // reads of at most 32 datagrams, each followed by a flush.
            let mut sent_now = pump(&mut net, a, b, now);
            let node_b = net.node::<PeerNode>(b);
            node_b.drain();
            let mut back = Vec::new();
            while let Some(t) = node_b.pc.poll_transmit() {
                back.push(t);
            }
            let moved = sent_now > 0 && !back.is_empty();
            let mut back = back.into_iter().peekable();
            while back.peek().is_some() {
                let node_a = net.node::<PeerNode>(a);
                for t in back.by_ref().take(32) {
                    counted(|| node_a.pc.handle_datagram(now, t.dest, t.local, &t.data));
                    xp2p::datagram::recycle(t.data);
                }
                node_a.drain();
                sent_now += pump(&mut net, a, b, now);
            }
            datagrams += sent_now;
            net.node::<PeerNode>(b).drain();
            if !moved {
                idle += 1;
                now += Duration::from_millis(5);
                for n in [a, b] {
                    let node = net.node::<PeerNode>(n);
                    if node.pc.poll_timeout().is_some_and(|d| d <= now) {
                        counted(|| node.pc.handle_timeout(now));
                        node.drain();
                    }
                }
            }
        }
        figures.push((datagrams, ALLOCATIONS.load(Ordering::Relaxed) - before));
    }
    // The last transfer runs on a warm pool (the earlier ones filled it up
    // to what the growing congestion window keeps in flight). Per 64 KiB
    // message the channel queue takes one allocation (the message's copy)
    // over about 48 datagrams; a buffer per datagram (SCTP packet,
    // transmit) was at least two allocations per datagram.
    let (datagrams, allocations) = figures[2];
    assert!(datagrams > 2500, "only {datagrams} datagrams");
    assert!(
        allocations * 4 < datagrams,
        "{allocations} allocations in the sender's calls for {datagrams} datagrams (rounds: {figures:?})"
    );
    eprintln!("sender allocations: {figures:?} (datagrams, allocations) per round");
}
