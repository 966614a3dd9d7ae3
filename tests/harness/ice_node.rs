//! An ICE agent as a network endpoint, plus signalling helpers.

use std::any::Any;
use std::net::SocketAddr;
use std::time::Instant;

use xp2p::ice::agent::{IceAgent, IceEvent, IceState, Received};
use xp2p::ice::Candidate;

use super::net::{Datagram, Endpoint, Network, NodeId};

/// An agent and everything it reported, with the virtual time of each event.
pub struct IceNode {
    pub agent: IceAgent,
    pub events: Vec<(Instant, IceEvent)>,
    /// Application datagrams received (`Received::Data`), in order.
    pub data: Vec<Vec<u8>>,
    /// How many of each `Received` kind.
    pub dropped: u64,
    pub dtls: u64,
    /// Index into `events` up to which candidates were signalled.
    pub signalled: usize,
    now: Instant,
}

impl IceNode {
    pub fn new(agent: IceAgent, now: Instant) -> IceNode {
        IceNode {
            agent,
            events: Vec::new(),
            data: Vec::new(),
            dropped: 0,
            dtls: 0,
            signalled: 0,
            now,
        }
    }

    /// Moves the agent's pending events into `events`, stamped `now`.
    pub fn drain(&mut self, now: Instant) {
        self.now = self.now.max(now);
        while let Some(e) = self.agent.poll_event() {
            self.events.push((self.now, e));
        }
    }

    pub fn state(&self) -> IceState {
        self.agent.state()
    }

    /// The states reported, in order.
    pub fn states(&self) -> Vec<IceState> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                IceEvent::StateChanged(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    /// When the first event matching `pred` was reported.
    pub fn first_event(&self, pred: impl Fn(&IceEvent) -> bool) -> Option<Instant> {
        self.events.iter().find(|(_, e)| pred(e)).map(|(t, _)| *t)
    }

    pub fn count_events(&self, pred: impl Fn(&IceEvent) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| pred(e)).count()
    }

    /// Local candidates reported and not yet signalled, and whether
    /// gathering completed among those events.
    pub fn take_signals(&mut self) -> (Vec<Candidate>, bool) {
        let mut cands = Vec::new();
        let mut complete = false;
        for (_, e) in &self.events[self.signalled..] {
            match e {
                IceEvent::LocalCandidate(c) => cands.push(c.clone()),
                IceEvent::GatheringComplete => complete = true,
                _ => {}
            }
        }
        self.signalled = self.events.len();
        (cands, complete)
    }
}

impl Endpoint for IceNode {
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        let input = self.agent.handle_datagram_payload(now, local, from, data);
        match input.received {
            Received::Data => self.data.push(input.payload.to_vec()),
            Received::Dtls => self.dtls += 1,
            Received::Dropped => self.dropped += 1,
            Received::Consumed | Received::ChannelData => {}
        }
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.agent.handle_timeout(now);
        self.drain(now);
    }

    fn poll_transmit(&mut self) -> Option<Datagram> {
        let now = self.now;
        self.drain(now);
        self.agent.poll_transmit().map(|t| Datagram {
            local: t.local,
            dest: t.dest,
            data: t.data,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.agent.poll_timeout()
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

/// The agent of node `id`.
pub fn agent(net: &mut Network, id: NodeId) -> &mut IceAgent {
    &mut net.node::<IceNode>(id).agent
}

/// Gives `to` the credentials of `from`.
pub fn give_credentials(net: &mut Network, from: NodeId, to: NodeId) {
    let (u, p) = {
        let a = agent(net, from);
        let (u, p) = a.local_credentials();
        (u.to_string(), p.to_string())
    };
    agent(net, to).set_remote_credentials(&u, &p);
}

/// Signals the candidates `from` reported since the last call to `to`
/// (and end-of-candidates once its gathering completed, if `eoc`).
pub fn signal(net: &mut Network, from: NodeId, to: NodeId, eoc: bool) {
    signal_where(net, from, to, eoc, |_| true);
}

/// [`signal`], passing on only the candidates `keep` accepts.
pub fn signal_where(
    net: &mut Network,
    from: NodeId,
    to: NodeId,
    eoc: bool,
    keep: impl Fn(&Candidate) -> bool,
) {
    let now = net.now();
    net.node::<IceNode>(from).drain(now);
    let (cands, complete) = net.node::<IceNode>(from).take_signals();
    let target = net.node::<IceNode>(to);
    for c in cands.into_iter().filter(|c| keep(c)) {
        target
            .agent
            .add_remote_candidate(now, c)
            .expect("signalled candidate accepted");
    }
    if complete && eoc {
        target.agent.remote_end_of_candidates();
    }
    target.drain(now);
}

/// Whether both nodes are connected.
pub fn both_connected(net: &mut Network, a: NodeId, b: NodeId) -> bool {
    net.node::<IceNode>(a).state().is_connected() && net.node::<IceNode>(b).state().is_connected()
}

/// An agent configuration with a fixed seed.
pub fn config(role: xp2p::ice::agent::Role, seed: u64) -> xp2p::ice::agent::AgentConfig {
    xp2p::ice::agent::AgentConfig {
        role,
        rng_seed: Some(seed),
        ..Default::default()
    }
}

/// Adds an agent with host candidates on `addrs` (all in `realm`) and
/// starts its gathering.
pub fn add_agent(
    net: &mut Network,
    cfg: xp2p::ice::agent::AgentConfig,
    addrs: &[SocketAddr],
    realm: super::net::Realm,
) -> NodeId {
    let now = net.now();
    let mut agent = IceAgent::new(cfg, now).expect("valid config");
    for a in addrs {
        agent.add_host_candidate(*a);
    }
    agent.gather(now).expect("first gather");
    let mut node = IceNode::new(agent, now);
    node.drain(now);
    net.add_node(node, addrs, realm)
}

/// Full signalling both ways: credentials, the candidates so far and
/// end-of-candidates when gathering is complete.
pub fn exchange(net: &mut Network, a: NodeId, b: NodeId) {
    give_credentials(net, a, b);
    give_credentials(net, b, a);
    signal(net, a, b, true);
    signal(net, b, a, true);
}

/// Runs with trickle signalling both ways until both are connected or
/// `limit` of virtual time passes; returns whether they connected.
pub fn connect(net: &mut Network, a: NodeId, b: NodeId, limit: std::time::Duration) -> bool {
    exchange(net, a, b);
    let deadline = net.now() + limit;
    net.run_until(deadline, |n| {
        signal(n, a, b, true);
        signal(n, b, a, true);
        both_connected(n, a, b)
    })
}

/// A controlling agent at 10.0.0.1:5000 and a controlled one at
/// 10.0.0.2:6000, both public, on a clean link (seeds `seed + 1`, `seed + 2`).
pub fn two_agents(seed: u64) -> (Network, NodeId, NodeId) {
    use super::net::{LinkConfig, Realm};
    use xp2p::ice::agent::Role;
    let mut net = Network::new(seed, LinkConfig::clean());
    let addr = |s: &str| s.parse::<SocketAddr>().expect("literal address");
    let a = add_agent(
        &mut net,
        config(Role::Controlling, seed + 1),
        &[addr("10.0.0.1:5000")],
        Realm::Public,
    );
    let b = add_agent(
        &mut net,
        config(Role::Controlled, seed + 2),
        &[addr("10.0.0.2:6000")],
        Realm::Public,
    );
    (net, a, b)
}

/// The reasons of the `RelayFailed` events the agent reported, in order.
pub fn relay_failures(net: &mut Network, id: NodeId) -> Vec<xp2p::ice::agent::RelayFailure> {
    net.node::<IceNode>(id)
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            IceEvent::RelayFailed { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

/// The kinds of the local candidates the agent gathered, in order.
pub fn local_kinds(net: &mut Network, id: NodeId) -> Vec<xp2p::ice::CandidateKind> {
    net.node::<IceNode>(id)
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            IceEvent::LocalCandidate(c) => Some(c.kind),
            _ => None,
        })
        .collect()
}
