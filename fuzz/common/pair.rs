//! A connected pair of sans-IO PeerConnections on a virtual clock, shared
//! by the targets that feed what a peer controls into a live connection.
//! The pair is built once and reused; it is rebuilt when an input broke it
//! (which is not a finding: a peer may close or fail a connection).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use xp2p::channel::{ChannelConfig, ChannelId, MessageKind};
use xp2p::peer::{PeerConfig, PeerConnection, PeerEvent, PeerState};

pub const A: &str = "10.0.0.1:40000";
pub const B: &str = "10.0.0.2:40000";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub struct Pair {
    pub a: PeerConnection,
    pub b: PeerConnection,
    /// The channel `a` opened (its id on `a`).
    pub channel: ChannelId,
    pub now: Instant,
}

thread_local! {
    static PAIR: RefCell<Option<Pair>> = const { RefCell::new(None) };
    /// The virtual clock never goes back, also across rebuilt pairs
    /// (usrsctp's timer wheel is process-wide).
    static CLOCK: RefCell<Option<Instant>> = const { RefCell::new(None) };
}

fn drain(pc: &mut PeerConnection) -> Vec<PeerEvent> {
    let mut out = Vec::new();
    while let Some(ev) = pc.poll_event() {
        if let PeerEvent::ChannelMessage(id) = ev {
            while pc.recv(id).is_some() {}
        }
        out.push(ev);
    }
    out
}

impl Pair {
    fn connect(now: Instant) -> Pair {
        let cfg = |seed| PeerConfig {
            rng_seed: Some(seed),
            ..PeerConfig::default()
        };
        let mut a = PeerConnection::new(cfg(1), now).expect("peer a");
        let mut b = PeerConnection::new(cfg(2), now).expect("peer b");
        a.add_host_candidate(addr(A));
        b.add_host_candidate(addr(B));
        let channel = a
            .create_data_channel(ChannelConfig::new("fuzz"))
            .expect("channel");
        let offer = a.create_offer(now).expect("offer");
        b.set_remote_description(now, &offer)
            .expect("offer applies");
        let answer = b.create_answer(now).expect("answer");
        a.set_remote_description(now, &answer)
            .expect("answer applies");
        let mut p = Pair { a, b, channel, now };
        let (mut a_open, mut b_open) = (false, false);
        for _ in 0..100_000 {
            p.settle();
            a_open |= drain(&mut p.a).contains(&PeerEvent::ChannelOpen(channel));
            b_open |= drain(&mut p.b)
                .iter()
                .any(|e| matches!(e, PeerEvent::ChannelOpen(_)));
            if a_open && b_open {
                return p;
            }
            p.advance(Duration::from_millis(10));
        }
        panic!(
            "the pair did not connect: {:?} {:?}",
            p.a.state(),
            p.b.state()
        );
    }

    /// Delivers datagrams both ways until none is left (bounded).
    pub fn settle(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                moved = true;
                self.b.handle_datagram(self.now, t.dest, t.local, &t.data);
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                self.a.handle_datagram(self.now, t.dest, t.local, &t.data);
            }
            if !moved {
                break;
            }
        }
    }

    /// Moves the clock forward by `d`, fires what is due and settles.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        CLOCK.with(|c| *c.borrow_mut() = Some(self.now));
        for pc in [&mut self.a, &mut self.b] {
            if pc.poll_timeout().is_some_and(|t| t <= self.now) {
                pc.handle_timeout(self.now);
            }
        }
        self.settle();
    }

    /// Both sides still connected with the channel usable.
    fn healthy(&mut self) -> bool {
        drain(&mut self.a);
        drain(&mut self.b);
        self.a.state() == PeerState::Connected && self.b.state() == PeerState::Connected
    }

    /// A message each way on the channel, so the data path stays exercised.
    pub fn ping(&mut self) {
        let _ = self.a.send(self.channel, MessageKind::Binary, b"ping");
        self.advance(Duration::from_millis(1));
        drain(&mut self.a);
        drain(&mut self.b);
    }
}

/// Runs `f` on the shared connected pair, building (or rebuilding) it as
/// needed.
pub fn with_pair(f: impl FnOnce(&mut Pair)) {
    PAIR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if !slot.as_mut().is_some_and(Pair::healthy) {
            let now = CLOCK.with(|c| {
                #[allow(clippy::disallowed_methods)] // the fuzz binary's epoch
                let start = c.borrow().unwrap_or_else(Instant::now);
                start + Duration::from_secs(1)
            });
            if std::env::var_os("XP2P_FUZZ_TRACE").is_some() {
                // How often inputs break the pair (each rebuild costs a
                // certificate, a DTLS handshake and an association).
                let st = slot.as_ref().map(|p| (p.a.state(), p.b.state()));
                eprintln!("pair: (re)connecting after {st:?}");
            }
            *slot = Some(Pair::connect(now));
        }
        f(slot.as_mut().expect("pair"));
    });
}
