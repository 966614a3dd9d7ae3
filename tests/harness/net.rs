//! The in-memory network and its virtual clock.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The one real `Instant` every virtual timeline starts from.
pub fn base_instant() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    #[allow(clippy::disallowed_methods)]
    *BASE.get_or_init(Instant::now)
}

/// A datagram an endpoint sends from its socket at `local`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub local: SocketAddr,
    pub dest: SocketAddr,
    pub data: Vec<u8>,
}

/// A sans-IO endpoint as the network drives it.
pub trait Endpoint: Any {
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self) -> Option<Datagram>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn as_any(&mut self) -> &mut dyn Any;
}

/// Impairments applied to every datagram, each drawn from the network's
/// seeded RNG.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Probability a datagram is lost.
    pub loss: f64,
    /// One-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from 0..jitter.
    pub jitter: Duration,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability a datagram is held back by `reorder_delay` (so later
    /// ones overtake it).
    pub reorder: f64,
    pub reorder_delay: Duration,
    /// Larger datagrams are dropped.
    pub mtu: usize,
}

impl LinkConfig {
    /// 10 ms one way, nothing lost, nothing reordered.
    pub fn clean() -> LinkConfig {
        LinkConfig {
            loss: 0.0,
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(30),
            mtu: 1500,
        }
    }
}

/// NAT filtering behaviour (RFC 4787).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filtering {
    EndpointIndependent,
    AddressDependent,
    AddressAndPortDependent,
}

/// Where an endpoint's addresses live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Realm {
    /// Reachable from everywhere.
    Public,
    /// Behind NAT number n: reachable from the same realm directly, from
    /// outside only through the NAT's mappings.
    Nat(usize),
}

pub type NodeId = usize;

struct Node {
    ep: Box<dyn Endpoint>,
    addrs: Vec<SocketAddr>,
    realm: Realm,
}

/// An endpoint-independent-mapping NAT.
struct Nat {
    public_ip: IpAddr,
    filtering: Filtering,
    next_port: u16,
    out: HashMap<SocketAddr, u16>,
    back: HashMap<u16, SocketAddr>,
    contacted: HashMap<u16, HashSet<SocketAddr>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Instant,
    seq: u64,
    src: SocketAddr,
    dst: SocketAddr,
    data: Vec<u8>,
}

/// One datagram as an endpoint sent it (before NAT translation).
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub at: Instant,
    pub node: NodeId,
    pub local: SocketAddr,
    pub dest: SocketAddr,
    pub data: Vec<u8>,
}

/// Counters of what the network did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub unroutable: u64,
    pub filtered: u64,
    pub cut: u64,
}

type DropFilter = Box<dyn FnMut(SocketAddr, SocketAddr) -> bool>;

pub struct Network {
    now: Instant,
    rng: StdRng,
    pub link: LinkConfig,
    nodes: Vec<Node>,
    nats: Vec<Nat>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    cut: Option<DropFilter>,
    pub log: Vec<LogEntry>,
    pub stats: NetStats,
}

impl Network {
    pub fn new(seed: u64, link: LinkConfig) -> Network {
        Network::starting_at(seed, link, base_instant())
    }

    /// A network whose virtual clock starts at `start` (not before
    /// [`base_instant`]).
    pub fn starting_at(seed: u64, link: LinkConfig, start: Instant) -> Network {
        Network {
            now: start.max(base_instant()),
            rng: StdRng::seed_from_u64(seed),
            link,
            nodes: Vec::new(),
            nats: Vec::new(),
            in_flight: BinaryHeap::new(),
            seq: 0,
            cut: None,
            log: Vec::new(),
            stats: NetStats::default(),
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Time since the network was created.
    pub fn elapsed(&self) -> Duration {
        self.now - base_instant()
    }

    /// Adds a NAT whose public side is `public_ip`; returns its realm.
    pub fn add_nat(&mut self, public_ip: IpAddr, filtering: Filtering) -> Realm {
        self.nats.push(Nat {
            public_ip,
            filtering,
            next_port: 40000,
            out: HashMap::new(),
            back: HashMap::new(),
            contacted: HashMap::new(),
        });
        Realm::Nat(self.nats.len() - 1)
    }

    /// Adds an endpoint owning `addrs` in `realm`.
    pub fn add_node(&mut self, ep: impl Endpoint, addrs: &[SocketAddr], realm: Realm) -> NodeId {
        self.nodes.push(Node {
            ep: Box::new(ep),
            addrs: addrs.to_vec(),
            realm,
        });
        self.nodes.len() - 1
    }

    /// The endpoint of `id` as its concrete type.
    pub fn node<T: Endpoint>(&mut self, id: NodeId) -> &mut T {
        self.nodes[id]
            .ep
            .as_any()
            .downcast_mut::<T>()
            .expect("node of that type")
    }

    pub fn addrs(&self, id: NodeId) -> &[SocketAddr] {
        &self.nodes[id].addrs
    }

    /// Drops every datagram (src, dst as on the wire) the filter returns
    /// true for, from now on; `None` restores the link.
    pub fn set_cut(&mut self, filter: Option<DropFilter>) {
        self.cut = filter;
    }

    fn owner(&self, addr: SocketAddr) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.addrs.contains(&addr))
    }

    fn nat_of_public(&self, ip: IpAddr) -> Option<usize> {
        self.nats.iter().position(|n| n.public_ip == ip)
    }

    /// Collects every endpoint's transmits and puts them on the wire.
    fn flush(&mut self) {
        for id in 0..self.nodes.len() {
            while let Some(d) = self.nodes[id].ep.poll_transmit() {
                self.send(id, d);
            }
        }
    }

    fn send(&mut self, id: NodeId, d: Datagram) {
        self.route(id, &d);
        // Done with it, as the I/O thread is once the kernel has it.
        xp2p::datagram::recycle(d.data);
    }

    fn route(&mut self, id: NodeId, d: &Datagram) {
        self.stats.sent += 1;
        self.log.push(LogEntry {
            at: self.now,
            node: id,
            local: d.local,
            dest: d.dest,
            data: d.data.clone(),
        });
        // Routing and NAT translation of the source.
        let realm = self.nodes[id].realm;
        let dest_realm = self.owner(d.dest).map(|o| self.nodes[o].realm);
        let dest_public =
            dest_realm == Some(Realm::Public) || self.nat_of_public(d.dest.ip()).is_some();
        let src = match realm {
            Realm::Public if dest_public => d.local,
            Realm::Nat(k) if dest_realm == Some(Realm::Nat(k)) => d.local,
            Realm::Nat(k) if dest_public => {
                let nat = &mut self.nats[k];
                let port = match nat.out.get(&d.local) {
                    Some(&p) => p,
                    None => {
                        let p = nat.next_port;
                        nat.next_port += 1;
                        nat.out.insert(d.local, p);
                        nat.back.insert(p, d.local);
                        p
                    }
                };
                nat.contacted.entry(port).or_default().insert(d.dest);
                SocketAddr::new(nat.public_ip, port)
            }
            _ => {
                self.stats.unroutable += 1;
                return;
            }
        };
        if d.data.len() > self.link.mtu {
            self.stats.lost += 1;
            return;
        }
        if let Some(cut) = &mut self.cut {
            if cut(src, d.dest) {
                self.stats.cut += 1;
                return;
            }
        }
        if self.rng.gen_bool(self.link.loss.clamp(0.0, 1.0)) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.gen_bool(self.link.duplicate.clamp(0.0, 1.0)) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut at = self.now + self.link.delay;
            if !self.link.jitter.is_zero() {
                at += self.link.jitter.mul_f64(self.rng.gen_range(0.0..1.0));
            }
            if self.rng.gen_bool(self.link.reorder.clamp(0.0, 1.0)) {
                at += self.link.reorder_delay;
            }
            self.seq += 1;
            self.in_flight.push(Reverse(InFlight {
                at,
                seq: self.seq,
                src,
                dst: d.dest,
                data: d.data.clone(),
            }));
        }
    }

    /// Delivers one datagram that reached its destination address.
    fn deliver(&mut self, p: InFlight) {
        let mut dst = p.dst;
        if let Some(k) = self.nat_of_public(dst.ip()) {
            let nat = &self.nats[k];
            let Some(&inner) = nat.back.get(&dst.port()) else {
                self.stats.filtered += 1;
                return;
            };
            let allowed = match nat.filtering {
                Filtering::EndpointIndependent => true,
                Filtering::AddressDependent => nat
                    .contacted
                    .get(&dst.port())
                    .is_some_and(|s| s.iter().any(|a| a.ip() == p.src.ip())),
                Filtering::AddressAndPortDependent => nat
                    .contacted
                    .get(&dst.port())
                    .is_some_and(|s| s.contains(&p.src)),
            };
            if !allowed {
                self.stats.filtered += 1;
                return;
            }
            dst = inner;
        }
        let Some(id) = self.owner(dst) else {
            self.stats.unroutable += 1;
            return;
        };
        self.stats.delivered += 1;
        let now = self.now;
        self.nodes[id].ep.handle_datagram(now, dst, p.src, &p.data);
    }

    fn next_event(&self) -> Option<Instant> {
        let wire = self.in_flight.peek().map(|Reverse(p)| p.at);
        let timers = self.nodes.iter().filter_map(|n| n.ep.poll_timeout()).min();
        match (wire, timers) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs until `done` holds (checked after every event) or the virtual
    /// clock reaches `deadline`; returns whether `done` held.
    pub fn run_until(
        &mut self,
        deadline: Instant,
        mut done: impl FnMut(&mut Network) -> bool,
    ) -> bool {
        let mut stuck = 0u32;
        loop {
            self.flush();
            if done(self) {
                return true;
            }
            let Some(next) = self.next_event().filter(|&t| t <= deadline) else {
                self.now = self.now.max(deadline);
                super::wall_clock::note_virtual_now(self.now);
                self.flush();
                return done(self);
            };
            if next > self.now {
                self.now = next;
                super::wall_clock::note_virtual_now(next);
                stuck = 0;
            } else {
                stuck += 1;
                assert!(
                    stuck < 100_000,
                    "an endpoint makes no progress at {:?}",
                    self.elapsed()
                );
            }
            let now = self.now;
            while self.in_flight.peek().is_some_and(|Reverse(p)| p.at <= now) {
                let Some(Reverse(p)) = self.in_flight.pop() else {
                    break;
                };
                self.deliver(p);
                self.flush();
            }
            for id in 0..self.nodes.len() {
                if self.nodes[id].ep.poll_timeout().is_some_and(|t| t <= now) {
                    self.nodes[id].ep.handle_timeout(now);
                    self.flush();
                }
            }
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let deadline = self.now + d;
        self.run_until(deadline, |_| false);
    }
}
