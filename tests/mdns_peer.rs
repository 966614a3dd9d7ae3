//! PeerConnections whose candidates carry mDNS `.local` names instead of
//! addresses (as browsers write them): the candidates wait for their name
//! to resolve, are added with the resolved address, or are dropped and
//! counted when the lookup fails; end-of-candidates waits for them.
//! Real time (DTLS and usrsctp read the clock), bounded loops.
#![cfg(feature = "mdns")]

mod peer_support;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use peer_support::{host_pc, now};
use xp2p::peer::{PeerConnection, PeerState};

struct Side {
    pc: PeerConnection,
    addr: SocketAddr,
    /// The name that stands for `addr` in what this side signals.
    name: String,
    trickled: Vec<String>,
}

impl Side {
    fn new(seed: u64, addr: &str, name: &str) -> Side {
        let (pc, addr) = host_pc(seed, addr);
        Side {
            pc,
            addr,
            name: name.to_owned(),
            trickled: Vec::new(),
        }
    }

    /// Replaces our address with our name, as a browser hides it.
    fn hide(&self, text: &str) -> String {
        text.replace(&self.addr.ip().to_string(), &self.name)
    }

    fn lookups(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.pc.poll_mdns_lookup()).collect()
    }

    fn drain(&mut self) {
        while let Some(ev) = self.pc.poll_event() {
            if let xp2p::peer::PeerEvent::IceCandidate(line) = ev {
                self.trickled.push(line.unwrap_or_default());
            }
        }
    }
}

fn shuttle(from: &mut Side, to: &mut Side, t: Instant) -> usize {
    let mut n = 0;
    while let Some(tx) = from.pc.poll_transmit() {
        if tx.dest == to.addr {
            n += 1;
            to.pc.handle_datagram(t, to.addr, from.addr, &tx.data);
        }
    }
    n
}

/// Runs both sides until `done` or `limit`; returns `done` and the
/// datagrams that reached a peer.
fn run(
    a: &mut Side,
    b: &mut Side,
    limit: Duration,
    done: impl Fn(&Side, &Side) -> bool,
) -> (bool, usize) {
    let end = now() + limit;
    let mut delivered = 0;
    loop {
        a.drain();
        b.drain();
        let t = now();
        for line in std::mem::take(&mut a.trickled) {
            let line = a.hide(&line);
            b.pc.add_remote_candidate(t, &line).unwrap();
        }
        for line in std::mem::take(&mut b.trickled) {
            let line = b.hide(&line);
            a.pc.add_remote_candidate(t, &line).unwrap();
        }
        delivered += shuttle(a, b, t) + shuttle(b, a, t);
        let t = now();
        for s in [&mut *a, &mut *b] {
            if s.pc.poll_timeout().is_some_and(|d| d <= t) {
                s.pc.handle_timeout(t);
            }
        }
        if done(a, b) {
            return (true, delivered);
        }
        if now() >= end {
            return (false, delivered);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

const A_NAME: &str = "1f0e5b5c-0000-4000-8000-00000000000a.local";
const B_NAME: &str = "1f0e5b5c-0000-4000-8000-00000000000b.local";

fn pair() -> (Side, Side) {
    let mut a = Side::new(71, "10.0.0.1:40000", A_NAME);
    let mut b = Side::new(72, "10.0.0.2:40000", B_NAME);
    let t = now();
    // Candidates in the descriptions (hidden), and trickled (hidden).
    let offer = a.pc.create_offer(t).unwrap();
    let offer = a.hide(&offer);
    assert!(offer.contains(A_NAME));
    b.pc.set_remote_description(t, &offer).unwrap();
    let answer = b.pc.create_answer(t).unwrap();
    let answer = b.hide(&answer);
    a.pc.set_remote_description(t, &answer).unwrap();
    (a, b)
}

fn connected(a: &Side, b: &Side) -> bool {
    a.pc.state() == PeerState::Connected && b.pc.state() == PeerState::Connected
}

#[test]
fn names_resolve_then_the_candidates_connect() {
    let (mut a, mut b) = pair();
    // Each side asks for the other's name once, however often it appears.
    let (la, lb) = (a.lookups(), b.lookups());
    assert_eq!(la, vec![B_NAME.to_owned()]);
    assert_eq!(lb, vec![A_NAME.to_owned()]);
    // Unresolved, nobody can send a check: nothing reaches the peer.
    let (ok, delivered) = run(&mut a, &mut b, Duration::from_millis(300), connected);
    assert!(!ok);
    assert_eq!(delivered, 0);
    assert!(a.pc.mdns_pending() >= 1 && b.pc.mdns_pending() >= 1);
    // The names resolve (in any case): the candidates join and connect.
    let t = now();
    a.pc.mdns_resolved(t, &B_NAME.to_uppercase(), Some(b.addr.ip()));
    b.pc.mdns_resolved(t, A_NAME, Some(a.addr.ip()));
    assert_eq!((a.pc.mdns_pending(), b.pc.mdns_pending()), (0, 0));
    let (ok, _) = run(&mut a, &mut b, Duration::from_secs(20), connected);
    assert!(ok, "a {:?}, b {:?}", a.pc, b.pc);
    assert!(a.pc.stats().mdns_resolved >= 1);
    assert!(b.pc.stats().mdns_resolved >= 1);
    assert_eq!(a.pc.stats().mdns_dropped, 0);
    // A trickled candidate of a name known by now: asked again (the
    // driver's cache answers), resolved the same way.
    let t = now();
    let line = format!("a=candidate:9 1 udp 2122194687 {B_NAME} 40001 typ host");
    a.pc.add_remote_candidate(t, &line).unwrap();
    assert_eq!(a.lookups(), vec![B_NAME.to_owned()]);
    a.pc.mdns_resolved(t, B_NAME, Some(b.addr.ip()));
    assert_eq!(a.pc.mdns_pending(), 0);
}

#[test]
fn failed_lookups_drop_the_candidates_and_end_of_candidates_waits_for_them() {
    let (mut a, mut b) = pair();
    let _ = (a.lookups(), b.lookups());
    let t = now();
    // End of candidates from both sides while the names are unresolved:
    // ICE must not give up yet.
    a.pc.add_remote_candidate(t, "a=end-of-candidates").unwrap();
    b.pc.add_remote_candidate(t, "a=end-of-candidates").unwrap();
    let (_, delivered) = run(&mut a, &mut b, Duration::from_millis(500), |a, b| {
        a.pc.state() == PeerState::Failed || b.pc.state() == PeerState::Failed
    });
    assert_eq!(delivered, 0);
    assert_ne!(a.pc.state(), PeerState::Failed);
    assert_ne!(b.pc.state(), PeerState::Failed);
    // The lookups time out: the candidates go, counted; with
    // end-of-candidates then delivered and nothing to check, both fail.
    let t = now();
    a.pc.mdns_resolved(t, B_NAME, None);
    b.pc.mdns_resolved(t, A_NAME, None);
    assert!(a.pc.stats().mdns_dropped >= 1);
    assert!(b.pc.stats().mdns_dropped >= 1);
    assert_eq!(a.pc.stats().mdns_resolved, 0);
    let failed =
        |a: &Side, b: &Side| a.pc.state() == PeerState::Failed && b.pc.state() == PeerState::Failed;
    let (ok, _) = run(&mut a, &mut b, Duration::from_secs(15), failed);
    assert!(ok, "a {:?}, b {:?}", a.pc, b.pc);
}

#[test]
fn one_side_resolving_is_enough_the_other_learns_a_peer_reflexive_address() {
    let (mut a, mut b) = pair();
    let _ = (a.lookups(), b.lookups());
    // Only b resolves a's name; a never resolves b's (as when the
    // browser's responder is out of reach), yet a learns b's address from
    // b's checks.
    b.pc.mdns_resolved(now(), A_NAME, Some(IpAddr::from([10, 0, 0, 1])));
    let (ok, _) = run(&mut a, &mut b, Duration::from_secs(20), connected);
    assert!(ok, "a {:?}, b {:?}", a.pc, b.pc);
    assert_eq!(a.pc.mdns_pending(), 2, "the offer's and the trickled one");
}
