//! The opening shared by the PeerConnection tests on the in-memory network
//! and its virtual clock: two PeerConnections connected over one link and a
//! reliable channel from a to b. A test file that uses it also declares
//! `mod harness;` and includes this file with
//! `#[path = "peer_support/virtual_pair.rs"] mod virtual_pair;`.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use crate::harness::peer_node::{negotiate, StunFilter};
use crate::harness::{LinkConfig, Network, NodeId, PeerNode, Realm};
use xp2p::channel::{ChannelConfig, ChannelId};
use xp2p::peer::{PeerConfig, PeerEvent};

pub const A: &str = "10.0.0.1:40000";
pub const B: &str = "10.0.0.2:40000";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The default configuration with a fixed RNG seed.
pub fn config(seed: u64) -> PeerConfig {
    PeerConfig {
        rng_seed: Some(seed),
        ..PeerConfig::default()
    }
}

/// A clean link with 5 ms of delay each way and datagrams up to `mtu`.
pub fn link(mtu: usize) -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(5),
        mtu,
        ..LinkConfig::clean()
    }
}

/// Where the last virtual clock of a test binary stopped: usrsctp's timer
/// wheel is global and follows the latest `now` any association gave it,
/// so tests with PeerConnections run one at a time, each on a clock that
/// starts after the previous one ended.
static CLOCK: Mutex<Option<Instant>> = Mutex::new(None);

/// How a pair is opened: [`Opening::new`] and its fields.
pub struct Opening {
    pub seed: u64,
    pub link: LinkConfig,
    pub cfg_a: PeerConfig,
    pub cfg_b: PeerConfig,
    /// How b treats STUN requests with a given attribute.
    pub filter_b: StunFilter,
    /// The label of the channel from a to b.
    pub label: &'static str,
}

impl Opening {
    /// Seeds `seed * 10` and `seed * 10 + 1`, a clean link of 5 ms with
    /// the harness's default MTU, no STUN filter, channel `"bulk"`.
    pub fn new(seed: u64) -> Opening {
        Opening {
            seed,
            link: LinkConfig {
                delay: Duration::from_millis(5),
                ..LinkConfig::clean()
            },
            cfg_a: config(seed * 10),
            cfg_b: config(seed * 10 + 1),
            filter_b: StunFilter::None,
            label: "bulk",
        }
    }

    /// Connects the pair and opens the channel (within 20 s of virtual
    /// time, else the test fails with both sides' state).
    pub fn open(self) -> Setup {
        let clock = CLOCK.lock();
        let start = clock.unwrap_or_else(crate::harness::net::base_instant);
        let mut net = Network::starting_at(self.seed, self.link, start);
        let now = net.now();
        let a = net.add_node(
            PeerNode::new(self.cfg_a, addr(A), now),
            &[addr(A)],
            Realm::Public,
        );
        let mut pb = PeerNode::new(self.cfg_b, addr(B), now);
        pb.filter = self.filter_b;
        let b = net.add_node(pb, &[addr(B)], Realm::Public);
        negotiate(&mut net, a, b);
        let label = self.label;
        let tx = net
            .node::<PeerNode>(a)
            .pc
            .create_data_channel(ChannelConfig::new(label))
            .unwrap();
        let deadline = net.now() + Duration::from_secs(20);
        let ok = net.run_until(deadline, |n| {
            n.node::<PeerNode>(a)
                .events
                .contains(&PeerEvent::ChannelOpen(tx))
                && n.node::<PeerNode>(b).remote_channel(label).is_some()
        });
        assert!(ok, "not connected: {}", report(&mut net, a, b));
        let rx = net.node::<PeerNode>(b).remote_channel(label).unwrap();
        Setup {
            net,
            a,
            b,
            tx,
            rx,
            clock,
        }
    }
}

/// Two connected PeerConnections and a reliable channel from a to b (`tx`
/// on a, `rx` on b). Dropping it lets the next test's clock start after
/// this one's.
pub struct Setup {
    pub net: Network,
    pub a: NodeId,
    pub b: NodeId,
    pub tx: ChannelId,
    pub rx: ChannelId,
    clock: MutexGuard<'static, Option<Instant>>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        *self.clock = Some(self.net.now() + Duration::from_secs(1));
    }
}

/// Both sides' state and counters, and the network's, for failure messages.
pub fn report(net: &mut Network, a: NodeId, b: NodeId) -> String {
    let mut side = |id: NodeId| {
        let n = net.node::<PeerNode>(id);
        format!(
            "{:?} stats {:?} ice {:?} dtls {:?}",
            n.pc,
            n.pc.stats(),
            n.pc.ice().stats(),
            n.pc.dtls().map(|d| d.stats())
        )
    };
    let (sa, sb) = (side(a), side(b));
    format!("\n  a: {sa}\n  b: {sb}\n  net: {:?}", net.stats)
}
