//! Receive flow control of the PeerConnection, on the in-memory network
//! and its virtual clock: an application that does not pull its messages
//! makes the stack stop reading from SCTP once the receive bound is
//! reached, the receive window closes and the sender's buffered amount
//! grows; nothing is lost, and when the application pulls again the
//! transfer completes and the sender drains.

mod harness;
#[path = "peer_support/virtual_pair.rs"]
mod virtual_pair;

use std::time::Duration;

use openssl::sha::Sha256;

use harness::{Network, PeerNode};
use virtual_pair::Opening;
use xp2p::channel::{ChannelError, MessageKind};
use xp2p::peer::{PeerError, DEFAULT_RECV_BUFFER_LIMIT};

const MSG: usize = 64 * 1024;
const TOTAL: usize = 48 << 20;

fn message(i: usize) -> Vec<u8> {
    (0..MSG).map(|j| ((i * 31 + j) % 251) as u8).collect()
}

#[test]
fn receiver_that_does_not_pull_pushes_back_on_the_sender_and_loses_nothing() {
    let mut s = Opening::new(21).open();
    let (a, b, tx) = (s.a, s.b, s.tx);
    let net = &mut s.net;
    let rx = net.node::<PeerNode>(b).remote_channel("bulk").unwrap();
    assert_eq!(
        net.node::<PeerNode>(b).pc.recv_buffer_limit(),
        DEFAULT_RECV_BUFFER_LIMIT
    );

    // b's application stops reading; a sends as fast as its channel
    // accepts for 10 s of virtual time.
    net.node::<PeerNode>(b).paused = true;
    let mut sent = 0usize;
    let mut want = Sha256::new();
    let mut max_queued = 0;
    let stall_end = net.now() + Duration::from_secs(10);
    let send_more = |n: &mut Network, sent: &mut usize, want: &mut Sha256| {
        while *sent < TOTAL {
            let msg = message(*sent / MSG);
            match n.node::<PeerNode>(a).pc.send(tx, MessageKind::Binary, &msg) {
                Ok(()) => {
                    want.update(&msg);
                    *sent += MSG;
                }
                Err(PeerError::Channel(ChannelError::QueueFull)) => break,
                Err(e) => panic!("send failed after {sent} bytes: {e}"),
            }
        }
    };
    net.run_until(stall_end, |n| {
        send_more(n, &mut sent, &mut want);
        max_queued = max_queued.max(n.node::<PeerNode>(b).pc.recv_queued());
        false
    });
    let node_b = net.node::<PeerNode>(b);
    let queued = node_b.pc.recv_queued();
    assert!(node_b.pc.is_read_paused(), "b still reads from SCTP");
    assert_eq!(node_b.received(rx), 0);
    assert!(node_b.signalled > 0);
    // The bound holds (one read of at most 64 KiB past it, and the one
    // message always accepted).
    assert!(
        max_queued <= DEFAULT_RECV_BUFFER_LIMIT + 2 * MSG,
        "{max_queued} bytes queued at b"
    );
    assert!(queued >= DEFAULT_RECV_BUFFER_LIMIT / 2, "{queued} queued");
    let stats = node_b.pc.channels().stats();
    assert_eq!(stats.recv_overflow, 0);
    let buffered = net.node::<PeerNode>(a).pc.channels().buffered_amount(tx);
    println!("stalled: sent {sent}, b queued {queued}, a buffered {buffered}");
    // Everything sent and not held by b's stack (its queue, usrsctp's
    // receive buffer of 4 MiB) nor by a's usrsctp send buffer (2 MiB)
    // waits at a's channel.
    assert!(
        buffered >= sent - queued - (7 << 20),
        "a buffered only {buffered} of {sent}"
    );
    assert!(buffered >= 4 << 20, "a buffered only {buffered}");
    assert!(sent < TOTAL, "the sender was never held back");

    // The application reads again: the rest flows, every byte in order.
    net.node::<PeerNode>(b).paused = false;
    while net.node::<PeerNode>(b).take(rx) {}
    net.node::<PeerNode>(b).drain();
    let deadline = net.now() + Duration::from_secs(120);
    let done = net.run_until(deadline, |n| {
        send_more(n, &mut sent, &mut want);
        while n.node::<PeerNode>(b).take(rx) {}
        n.node::<PeerNode>(b).drain();
        sent == TOTAL && n.node::<PeerNode>(b).received(rx) == TOTAL as u64
    });
    let node_b = net.node::<PeerNode>(b);
    assert!(done, "received {} of {TOTAL} bytes", node_b.received(rx));
    assert_eq!(node_b.pc.recv_queued(), 0);
    assert!(!node_b.pc.is_read_paused());
    let got = node_b.rx.remove(&rx).unwrap();
    assert_eq!(got.hash.finish(), want.finish());
    let deadline = net.now() + Duration::from_secs(10);
    let drained = net.run_until(deadline, |n| {
        n.node::<PeerNode>(a).pc.channels().buffered_amount(tx) == 0
    });
    assert!(drained, "a's buffered amount did not drain");
}

/// Messages larger than the bound (256 KiB against the 64 KiB minimum)
/// pass one at a time: reading stops and resumes inside each, and the
/// application pulling one message at a time gets all of them.
#[test]
fn messages_larger_than_the_bound_still_flow() {
    let mut s = Opening::new(22).open();
    let (a, b, tx) = (s.a, s.b, s.tx);
    let net = &mut s.net;
    let rx = net.node::<PeerNode>(b).remote_channel("bulk").unwrap();
    net.node::<PeerNode>(b).pc.set_recv_buffer_limit(1);
    assert_eq!(net.node::<PeerNode>(b).pc.recv_buffer_limit(), 64 * 1024);
    net.node::<PeerNode>(b).paused = true;
    let big: Vec<u8> = (0..256 * 1024).map(|i| (i % 241) as u8).collect();
    for _ in 0..16 {
        net.node::<PeerNode>(a)
            .pc
            .send(tx, MessageKind::Binary, &big)
            .unwrap();
    }
    net.run_for(Duration::from_secs(5));
    let node_b = net.node::<PeerNode>(b);
    assert!(node_b.pc.is_read_paused());
    assert_eq!(node_b.pc.recv_queued(), big.len() + 64, "one message waits");
    // Pull one message per turn of the network.
    let deadline = net.now() + Duration::from_secs(60);
    let all = net.run_until(deadline, |n| {
        let node = n.node::<PeerNode>(b);
        node.take(rx);
        node.drain();
        node.received(rx) == 16 * big.len() as u64
    });
    assert!(
        all,
        "received {} of {}",
        net.node::<PeerNode>(b).received(rx),
        16 * big.len()
    );
    let mut want = Sha256::new();
    for _ in 0..16 {
        want.update(&big);
    }
    let got = net.node::<PeerNode>(b).rx.remove(&rx).unwrap();
    assert_eq!(got.hash.finish(), want.finish());
}
