//! Helpers shared by the real-time PeerConnection tests: a peer with what
//! it observed ([`Side`]), the turn of a pair that moves candidates and
//! timers ([`trickle`], [`fire_timers`]) and the bounded real-time loop
//! ([`Drive`]).

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use xp2p::channel::{ChannelConfig, ChannelId, MessageKind};
use xp2p::peer::{PeerConfig, PeerConnection, PeerEvent, PeerState};

#[allow(clippy::disallowed_methods)] // real-time tests: DTLS and usrsctp read the real clock
pub fn now() -> Instant {
    Instant::now()
}

/// How much longer than its nominal limit a real-time test waits for
/// something it expects: a busy machine slows every step, and the wait ends
/// as soon as the condition holds, so only a failure takes longer to show.
pub const WAIT_SCALE: u32 = 4;

/// A PeerConnection with a fixed RNG seed and one host candidate at `addr`.
pub fn host_pc(seed: u64, addr: &str) -> (PeerConnection, SocketAddr) {
    host_pc_with(seed, addr, PeerConfig::default())
}

/// [`host_pc`] with the rest of the configuration from `base`.
pub fn host_pc_with(seed: u64, addr: &str, base: PeerConfig) -> (PeerConnection, SocketAddr) {
    let addr: SocketAddr = addr.parse().unwrap();
    let cfg = PeerConfig {
        rng_seed: Some(seed),
        ..base
    };
    let mut pc = PeerConnection::new(cfg, now()).unwrap();
    pc.add_host_candidate(addr);
    (pc, addr)
}

/// Where a [`Side`] puts the messages its channels receive.
pub trait Inbox: Default {
    /// Whether `ChannelMessage` events are also kept in [`Side::events`].
    const KEEPS_MESSAGE_EVENTS: bool;

    fn message(&mut self, id: ChannelId, kind: MessageKind, data: Vec<u8>);
}

/// One peer and what it observed.
pub struct Side<I> {
    pub pc: PeerConnection,
    pub addr: SocketAddr,
    pub events: Vec<PeerEvent>,
    /// What the channels received.
    pub rx: I,
    /// Local candidates to trickle to the other side (an empty line for
    /// the end of candidates).
    pub candidates: Vec<String>,
}

impl<I: Inbox> Side<I> {
    pub fn new(seed: u64, addr: &str, base: PeerConfig) -> Side<I> {
        let (pc, addr) = host_pc_with(seed, addr, base);
        Side {
            pc,
            addr,
            events: Vec::new(),
            rx: I::default(),
            candidates: Vec::new(),
        }
    }

    /// Drains events, pulling messages as they are signalled; returns
    /// whether there was any.
    pub fn drain(&mut self) -> bool {
        let mut any = false;
        while let Some(ev) = self.pc.poll_event() {
            any = true;
            match &ev {
                PeerEvent::ChannelMessage(id) => {
                    let (kind, data) = self.pc.recv(*id).expect("signalled message is there");
                    self.rx.message(*id, kind, data);
                    if !I::KEEPS_MESSAGE_EVENTS {
                        continue;
                    }
                }
                PeerEvent::IceCandidate(Some(line)) => self.candidates.push(line.clone()),
                PeerEvent::IceCandidate(None) => self.candidates.push(String::new()),
                _ => {}
            }
            self.events.push(ev);
        }
        any
    }
}

impl<I> Side<I> {
    /// Creates a reliable, ordered channel with this label.
    pub fn channel(&mut self, label: impl Into<String>) -> ChannelId {
        self.pc
            .create_data_channel(ChannelConfig::new(label))
            .unwrap()
    }

    pub fn state_changes(&self) -> Vec<PeerState> {
        self.events
            .iter()
            .filter_map(|e| match e {
                PeerEvent::StateChanged(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    pub fn has(&self, ev: &PeerEvent) -> bool {
        self.events.contains(ev)
    }

    pub fn position(&self, ev: &PeerEvent) -> Option<usize> {
        self.events.iter().position(|e| e == ev)
    }

    pub fn opened(&self, id: ChannelId) -> bool {
        self.has(&PeerEvent::ChannelOpen(id))
    }

    /// The channels the peer announced, in order.
    pub fn remote_channels(&self) -> Vec<ChannelId> {
        self.events
            .iter()
            .filter_map(|e| match e {
                PeerEvent::DataChannel(id) => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// The channel the peer announced with this label.
    pub fn remote_channel(&self, label: &str) -> Option<ChannelId> {
        self.remote_channels()
            .into_iter()
            .find(|&id| self.pc.channels().label(id) == Some(label))
    }
}

/// Hands the candidates each side trickled to the other; returns whether
/// there were any.
pub fn trickle<I>(a: &mut Side<I>, b: &mut Side<I>, t: Instant) -> bool {
    fn hand_over<I>(from: &mut Side<I>, to: &mut Side<I>, t: Instant) -> bool {
        let lines = std::mem::take(&mut from.candidates);
        for line in &lines {
            to.pc.add_remote_candidate(t, line).unwrap();
        }
        !lines.is_empty()
    }
    hand_over(a, b, t) | hand_over(b, a, t)
}

/// Runs the timers of both sides that are due at `t`; returns whether
/// there were any.
pub fn fire_timers<I>(a: &mut Side<I>, b: &mut Side<I>, t: Instant) -> bool {
    let mut any = false;
    for s in [a, b] {
        if s.pc.poll_timeout().is_some_and(|d| d <= t) {
            s.pc.handle_timeout(t);
            any = true;
        }
    }
    any
}

/// A pair of peers driven in turns on the real clock.
pub trait Drive {
    /// One turn; returns whether anything happened.
    fn step(&mut self) -> bool;

    /// Waits a little after a turn in which nothing happened.
    fn idle(&mut self) {
        std::thread::sleep(Duration::from_millis(1));
    }

    /// Runs until `done` holds or `limit` (stretched by [`WAIT_SCALE`])
    /// passes; returns `done`.
    fn run_until(&mut self, limit: Duration, done: impl FnMut(&Self) -> bool) -> bool
    where
        Self: Sized,
    {
        self.run_exactly_until(limit * WAIT_SCALE, done)
    }

    /// Runs for `d`, whatever happens.
    fn run_for(&mut self, d: Duration)
    where
        Self: Sized,
    {
        self.run_exactly_until(d, |_| false);
    }

    /// Runs until `done` holds or `limit` passes; returns `done`.
    fn run_exactly_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool
    where
        Self: Sized,
    {
        let end = now() + limit;
        loop {
            let busy = self.step();
            if done(self) {
                return true;
            }
            if now() >= end {
                return false;
            }
            if !busy {
                self.idle();
            }
        }
    }
}
