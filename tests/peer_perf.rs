//! What the PeerConnection does for latency and for throughput on real
//! paths, on the in-memory network and its virtual clock: a small message
//! leaves in the drain that follows the send, with no timer turn between
//! them; SCTP cuts its DATA chunks for the validated path MTU, so a large
//! message travels in datagrams of the path's size.

mod harness;
#[path = "peer_support/virtual_pair.rs"]
mod virtual_pair;

use std::time::{Duration, Instant};

use harness::{Datagram, PeerNode};
use virtual_pair::{link, Opening, Setup};
use xp2p::channel::ChannelError;
use xp2p::channel::MessageKind;
use xp2p::peer::PeerError;

/// The first byte of a DTLS application-data record.
const DTLS_APPLICATION_DATA: u8 = 23;

/// A connected pair on a link of `mtu` bytes, channel `"c"`.
fn setup(seed: u64, mtu: usize) -> Setup {
    Opening {
        link: link(mtu),
        label: "c",
        ..Opening::new(seed)
    }
    .open()
}

/// Everything the node's PeerConnection has to send now.
fn drain_transmits(node: &mut PeerNode) -> Vec<Datagram> {
    let mut out = Vec::new();
    while let Some(t) = node.pc.poll_transmit() {
        out.push(Datagram {
            local: t.local,
            dest: t.dest,
            data: t.data,
        });
    }
    node.drain();
    out
}

/// Hands datagrams to the node at `now` (no timer of it runs).
fn deliver(node: &mut PeerNode, now: Instant, datagrams: &[Datagram]) {
    for d in datagrams {
        node.pc.handle_datagram(now, d.dest, d.local, &d.data);
    }
    node.drain();
}

/// A 100-byte message goes from a to b and its echo back from b to a at
/// one instant of the virtual clock: each send yields its datagram in the
/// drain that follows it, no deadline is due before it, and no
/// `handle_timeout` runs on either side.
#[test]
fn small_message_and_its_echo_leave_without_a_timer_turn() {
    let mut s = setup(3, 1500);
    // Let the path MTU search and the channel's DCEP exchange finish, so
    // nothing else is waiting to be sent.
    s.net.run_for(Duration::from_secs(3));
    let (a, b, tx, rx) = (s.a, s.b, s.tx, s.rx);
    let now = s.net.now();
    for round in 0..20u8 {
        let msg = [round; 100];
        let node = s.net.node::<PeerNode>(a);
        node.pc.send(tx, MessageKind::Binary, &msg).unwrap();
        // The previous echo acknowledged everything: this message goes
        // alone, so the driver lets the sending thread send it at once.
        assert!(node.pc.sends_alone(), "round {round}: not sent alone");
        assert!(
            node.pc.poll_timeout().is_some_and(|t| t > now),
            "round {round}: the send made a deadline due instead of a datagram"
        );
        let out = drain_transmits(node);
        assert!(
            out.iter()
                .any(|d| d.data.first() == Some(&DTLS_APPLICATION_DATA)),
            "round {round}: no DTLS record left a after its send: {} datagrams",
            out.len()
        );
        let before = s.net.node::<PeerNode>(b).received(rx);
        deliver(s.net.node::<PeerNode>(b), now, &out);
        let node_b = s.net.node::<PeerNode>(b);
        assert_eq!(node_b.received(rx), before + 100, "round {round}");

        // The echo: b sends the same size back on its side of the channel.
        node_b.pc.send(rx, MessageKind::Binary, &msg).unwrap();
        let back = drain_transmits(node_b);
        assert!(
            back.iter()
                .any(|d| d.data.first() == Some(&DTLS_APPLICATION_DATA)),
            "round {round}: no DTLS record left b after its send"
        );
        let before = s.net.node::<PeerNode>(a).received(tx);
        deliver(s.net.node::<PeerNode>(a), now, &back);
        assert_eq!(
            s.net.node::<PeerNode>(a).received(tx),
            before + 100,
            "round {round}"
        );
    }
    // A burst: the second message finds the first unacknowledged, so it
    // is left to the driver's turn, which bundles what is queued by then.
    let node = s.net.node::<PeerNode>(a);
    node.pc.send(tx, MessageKind::Binary, &[1; 100]).unwrap();
    assert!(node.pc.sends_alone());
    let _ = drain_transmits(node);
    node.pc.send(tx, MessageKind::Binary, &[2; 100]).unwrap();
    assert!(
        !node.pc.sends_alone(),
        "a message behind unacknowledged data"
    );
    node.pc.send(tx, MessageKind::Binary, &[3; 100]).unwrap();
    assert!(!node.pc.sends_alone(), "two messages queued");
}

/// Sends `total` bytes from a to b in 64 KiB messages and returns the
/// largest DTLS datagram a sent meanwhile; checks that every byte arrived.
fn bulk_max_datagram(s: &mut Setup, total: usize) -> usize {
    let (a, b, tx, rx) = (s.a, s.b, s.tx, s.rx);
    let msg: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let start = s.net.node::<PeerNode>(b).received(rx);
    s.net.log.clear();
    let mut sent = 0;
    let mut largest = 0;
    let deadline = s.net.now() + Duration::from_secs(60);
    let ok = s.net.run_until(deadline, |n| {
        while sent < total {
            match n.node::<PeerNode>(a).pc.send(tx, MessageKind::Binary, &msg) {
                Ok(()) => sent += msg.len(),
                Err(PeerError::Channel(ChannelError::QueueFull)) => break,
                Err(e) => panic!("send failed after {sent} bytes: {e}"),
            }
        }
        for e in n.log.drain(..) {
            if e.node == a && e.data.first() == Some(&DTLS_APPLICATION_DATA) {
                largest = largest.max(e.data.len());
            }
        }
        n.node::<PeerNode>(b).received(rx) - start >= sent as u64 && sent >= total
    });
    assert!(ok, "transfer incomplete after {sent} bytes sent");
    largest
}

/// Runs until a's path MTU is `mtu` (at most 10 s of virtual time).
fn settle_at(s: &mut Setup, mtu: usize) {
    let a = s.a;
    let deadline = s.net.now() + Duration::from_secs(10);
    let settled = s.net.run_until(deadline, |n| {
        n.node::<PeerNode>(a).pc.stats().path_mtu == mtu
    });
    assert!(
        settled,
        "path MTU {} instead of {mtu}",
        s.net.node::<PeerNode>(a).pc.stats().path_mtu
    );
}

/// On an Ethernet path the search settles at 1472 bytes and a bulk
/// transfer fills datagrams close to it: the DATA chunks follow the raised
/// MTU instead of keeping the size the 1200-byte start gave them.
#[test]
fn chunks_follow_the_path_mtu_raised_to_ethernet() {
    let mut s = setup(5, 1500);
    settle_at(&mut s, 1472);
    let largest = bulk_max_datagram(&mut s, 2 << 20);
    assert!(largest <= 1472, "a datagram of {largest} bytes");
    assert!(
        largest >= 1400,
        "largest data datagram {largest} bytes on a 1472-byte path"
    );
}

/// On a path that carries full DTLS records (loopback), the first 64 KiB
/// message after the channel opened and its echo take a few round trips
/// of the virtual clock: no packet waits for a delayed SACK (200 ms in
/// usrsctp by default) because the congestion window holds a single large
/// packet.
#[test]
fn first_large_message_after_open_is_echoed_within_a_few_round_trips() {
    let mut s = setup(8, 65_535);
    settle_at(&mut s, xp2p::peer::MAX_DATAGRAM);
    let (a, b, tx, rx) = (s.a, s.b, s.tx, s.rx);
    let msg: Vec<u8> = (0..64 * 1024).map(|i| (i % 253) as u8).collect();
    let start = s.net.now();
    s.net
        .node::<PeerNode>(a)
        .pc
        .send(tx, MessageKind::Binary, &msg)
        .unwrap();
    let deadline = start + Duration::from_secs(10);
    let arrived = s.net.run_until(deadline, |n| {
        n.node::<PeerNode>(b).received(rx) >= msg.len() as u64
    });
    assert!(arrived, "the message did not arrive");
    s.net
        .node::<PeerNode>(b)
        .pc
        .send(rx, MessageKind::Binary, &msg)
        .unwrap();
    let echoed = s.net.run_until(deadline, |n| {
        n.node::<PeerNode>(a).received(tx) >= msg.len() as u64
    });
    assert!(echoed, "the echo did not arrive");
    // The link delays each datagram by 5 ms: a round trip is 10 ms.
    let took = s.net.now() - start;
    assert!(
        took <= Duration::from_millis(100),
        "64 KiB there and back took {took:?} of virtual time"
    );
}
