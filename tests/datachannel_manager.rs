//! Two DataChannel managers wired back to back through a tiny in-memory
//! "SCTP" that moves messages and stream resets across in order.

use std::collections::HashSet;
use xp2p::channel::{
    ChannelConfig, ChannelError, ChannelEvent, ChannelId, ChannelManager, ChannelState, DtlsRole,
    Limits, MessageKind, SctpSend, C_MAX_CHANNELS, DEFAULT_REMOTE_MAX_MESSAGE_SIZE,
    LOCAL_MAX_MESSAGE_SIZE,
};
use xp2p::dcep::{
    ChannelType, DcepMessage, DcepOpen, Reliability, PPID_BINARY, PPID_BINARY_EMPTY, PPID_DCEP,
    PPID_STRING, PPID_STRING_EMPTY,
};

/// Which manager of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// The in-memory association. `auto_ack` reports every delivered message
/// back to its sender with `on_sent` at once; otherwise the reports wait in
/// `unacked` for the test to release.
struct Pair {
    client: ChannelManager,
    server: ChannelManager,
    auto_ack: bool,
    unacked: Vec<(Side, u16, usize)>,
    client_events: Vec<ChannelEvent>,
    server_events: Vec<ChannelEvent>,
    /// Every message that crossed the wire: (sender, record).
    wire: Vec<(Side, SctpSend)>,
}

impl Pair {
    fn new() -> Self {
        Pair::with_sizes(DEFAULT_REMOTE_MAX_MESSAGE_SIZE)
    }

    fn with_sizes(remote_max: usize) -> Self {
        let mut client = ChannelManager::new(remote_max, LOCAL_MAX_MESSAGE_SIZE);
        let mut server = ChannelManager::new(remote_max, LOCAL_MAX_MESSAGE_SIZE);
        client.set_role(DtlsRole::Client);
        server.set_role(DtlsRole::Server);
        Pair {
            client,
            server,
            auto_ack: true,
            unacked: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            wire: Vec::new(),
        }
    }

    fn up(&mut self, max_streams: u16) {
        self.client.association_up(max_streams).unwrap();
        self.server.association_up(max_streams).unwrap();
        self.pump();
    }

    fn mgr(&mut self, side: Side) -> &mut ChannelManager {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    fn events(&mut self, side: Side) -> &mut Vec<ChannelEvent> {
        match side {
            Side::Client => &mut self.client_events,
            Side::Server => &mut self.server_events,
        }
    }

    /// Moves everything across until both sides are quiet.
    fn pump(&mut self) {
        loop {
            let mut progress = false;
            for (from, to) in [(Side::Client, Side::Server), (Side::Server, Side::Client)] {
                while let Some(send) = self.mgr(from).poll_sctp_send() {
                    progress = true;
                    self.mgr(to)
                        .handle_sctp_message(send.stream, send.ppid, &send.data);
                    if send.counted > 0 {
                        if self.auto_ack {
                            self.mgr(from).on_sent(send.stream, send.counted);
                        } else {
                            self.unacked.push((from, send.stream, send.counted));
                        }
                    }
                    self.wire.push((from, send));
                }
                while let Some(stream) = self.mgr(from).poll_stream_reset() {
                    progress = true;
                    self.mgr(to).handle_stream_reset(stream, true);
                    self.mgr(from).handle_stream_reset(stream, false);
                }
            }
            for side in [Side::Client, Side::Server] {
                while let Some(ev) = self.mgr(side).poll_event() {
                    progress = true;
                    self.events(side).push(ev);
                }
            }
            if !progress {
                break;
            }
        }
    }

    /// Reports the oldest held-back `on_sent`.
    fn ack_one(&mut self) {
        let (side, stream, bytes) = self.unacked.remove(0);
        self.mgr(side).on_sent(stream, bytes);
        self.pump();
    }

    fn take_events(&mut self, side: Side) -> Vec<ChannelEvent> {
        std::mem::take(self.events(side))
    }

    /// The peer's channel on the same stream.
    fn peer_of(&self, side: Side, id: ChannelId) -> ChannelId {
        let (mine, theirs) = match side {
            Side::Client => (&self.client, &self.server),
            Side::Server => (&self.server, &self.client),
        };
        let stream = mine.stream_id(id).unwrap();
        theirs.channel_by_stream(stream).unwrap()
    }
}

fn count<F: Fn(&ChannelEvent) -> bool>(events: &[ChannelEvent], f: F) -> usize {
    events.iter().filter(|e| f(e)).count()
}

/// An open channel created by the client, and its server twin.
fn open_pair() -> (Pair, ChannelId, ChannelId) {
    let mut p = Pair::new();
    p.up(64);
    let c = p.client.create_channel(ChannelConfig::new("chat")).unwrap();
    p.pump();
    let s = p.peer_of(Side::Client, c);
    assert_eq!(p.client.state(c), Some(ChannelState::Open));
    assert_eq!(p.server.state(s), Some(ChannelState::Open));
    p.take_events(Side::Client);
    p.take_events(Side::Server);
    (p, c, s)
}

#[test]
fn both_sides_open_64_channels_at_once_without_collisions() {
    let mut p = Pair::new();
    let mut client_ids = Vec::new();
    let mut server_ids = Vec::new();
    for i in 0..64 {
        client_ids.push(
            p.client
                .create_channel(ChannelConfig::new(format!("c{i}")))
                .unwrap(),
        );
        server_ids.push(
            p.server
                .create_channel(ChannelConfig::new(format!("s{i}")))
                .unwrap(),
        );
    }
    p.up(256);

    let client_streams: Vec<u16> = client_ids
        .iter()
        .map(|&id| p.client.stream_id(id).unwrap())
        .collect();
    let server_streams: Vec<u16> = server_ids
        .iter()
        .map(|&id| p.server.stream_id(id).unwrap())
        .collect();
    assert_eq!(client_streams, (0..64).map(|i| i * 2).collect::<Vec<_>>());
    assert_eq!(
        server_streams,
        (0..64).map(|i| i * 2 + 1).collect::<Vec<_>>()
    );

    for side in [Side::Client, Side::Server] {
        let events = p.take_events(side);
        assert_eq!(count(&events, |e| matches!(e, ChannelEvent::Open(_))), 128);
        assert_eq!(
            count(&events, |e| matches!(e, ChannelEvent::RemoteOpen(_))),
            64
        );
        assert_eq!(p.mgr(side).live_channels(), 128);
        assert_eq!(p.mgr(side).stats(), Default::default());
    }
    for (i, &id) in client_ids.iter().enumerate() {
        let peer = p.peer_of(Side::Client, id);
        assert_eq!(p.server.label(peer), Some(format!("c{i}").as_str()));
        assert_eq!(p.client.state(id), Some(ChannelState::Open));
    }
    for (i, &id) in server_ids.iter().enumerate() {
        let peer = p.peer_of(Side::Server, id);
        assert_eq!(p.client.label(peer), Some(format!("s{i}").as_str()));
    }

    // Every channel carries its own traffic to its own twin.
    for (side, ids) in [(Side::Client, &client_ids), (Side::Server, &server_ids)] {
        for &id in ids.iter() {
            let label = p.mgr(side).label(id).unwrap().to_owned();
            p.mgr(side)
                .send(id, MessageKind::Text, label.as_bytes())
                .unwrap();
        }
    }
    p.pump();
    for (side, ids) in [(Side::Client, &client_ids), (Side::Server, &server_ids)] {
        let other = if side == Side::Client {
            Side::Server
        } else {
            Side::Client
        };
        for &id in ids.iter() {
            let label = p.mgr(side).label(id).unwrap().to_owned();
            let peer = p.peer_of(side, id);
            let (kind, data) = p.mgr(other).recv(peer).unwrap();
            assert_eq!(kind, MessageKind::Text);
            assert_eq!(data, label.as_bytes());
        }
    }
}

#[test]
fn create_before_association_up_opens_after() {
    let mut p = Pair::new();
    let cfg = ChannelConfig {
        label: "early".into(),
        protocol: "proto".into(),
        ordered: false,
        reliability: Reliability::MaxRetransmits(5),
        priority: 512,
        negotiated_id: None,
    };
    let c = p.client.create_channel(cfg).unwrap();
    assert_eq!(p.client.state(c), Some(ChannelState::Connecting));
    assert_eq!(p.client.stream_id(c), None);
    assert_eq!(
        p.client.send(c, MessageKind::Text, b"x"),
        Err(ChannelError::NotOpen(ChannelState::Connecting))
    );
    p.pump();
    assert!(p.wire.is_empty());

    p.up(16);
    assert_eq!(p.client.state(c), Some(ChannelState::Open));
    assert_eq!(p.take_events(Side::Client), [ChannelEvent::Open(c)]);
    let s = p.peer_of(Side::Client, c);
    assert_eq!(
        p.take_events(Side::Server),
        [ChannelEvent::RemoteOpen(s), ChannelEvent::Open(s)]
    );
    assert_eq!(p.server.label(s), Some("early"));
    assert_eq!(p.server.protocol(s), Some("proto"));
    assert_eq!(p.server.ordered(s), Some(false));
    assert_eq!(p.server.priority(s), Some(512));
    assert_eq!(
        p.server.reliability(s),
        Some(Reliability::MaxRetransmits(5))
    );

    // OPEN and ACK travel ordered and reliable; the OPEN names the type.
    let dcep: Vec<&SctpSend> = p
        .wire
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.ppid == PPID_DCEP)
        .collect();
    assert_eq!(dcep.len(), 2);
    assert!(dcep
        .iter()
        .all(|s| s.ordered && s.reliability == Reliability::Reliable && s.counted == 0));
    assert_eq!(dcep[0].data[0], 0x03);
    assert_eq!(dcep[0].data[1], 0x81);
    assert_eq!(dcep[1].data, [0x02]);

    // User messages carry the channel's own ordering and reliability.
    p.client.send(c, MessageKind::Binary, b"data").unwrap();
    let send = p.client.peek_sctp_send().unwrap();
    assert!(!send.ordered);
    assert_eq!(send.reliability, Reliability::MaxRetransmits(5));
}

#[test]
fn messages_of_every_kind_flow_both_ways() {
    let (mut p, c, s) = open_pair();
    let cases: [(MessageKind, &[u8], u32); 4] = [
        (MessageKind::Text, b"hello", PPID_STRING),
        (MessageKind::Binary, &[0, 1, 2, 255], PPID_BINARY),
        (MessageKind::Text, b"", PPID_STRING_EMPTY),
        (MessageKind::Binary, b"", PPID_BINARY_EMPTY),
    ];
    for (from, to, from_id, to_id) in [
        (Side::Client, Side::Server, c, s),
        (Side::Server, Side::Client, s, c),
    ] {
        p.wire.clear();
        for (kind, data, _) in cases {
            p.mgr(from).send(from_id, kind, data).unwrap();
        }
        p.pump();
        let ppids: Vec<u32> = p.wire.iter().map(|(_, s)| s.ppid).collect();
        assert_eq!(ppids, cases.map(|c| c.2));
        // Empty messages travel as one zero byte.
        assert_eq!(p.wire[2].1.data, [0]);
        assert_eq!(p.wire[3].1.data, [0]);
        let events: Vec<ChannelEvent> = p
            .take_events(to)
            .into_iter()
            .filter(|e| matches!(e, ChannelEvent::Message(..)))
            .collect();
        let kinds: Vec<ChannelEvent> = cases
            .iter()
            .map(|c| ChannelEvent::Message(to_id, c.0))
            .collect();
        assert_eq!(events, kinds);
        for (kind, data, _) in cases {
            assert_eq!(p.mgr(to).recv(to_id), Some((kind, data.to_vec())));
        }
        assert_eq!(p.mgr(to).recv(to_id), None);
    }
}

#[test]
fn too_large_messages_are_rejected() {
    let (mut p, c, _) = open_pair();
    let max = DEFAULT_REMOTE_MAX_MESSAGE_SIZE;
    let big = vec![7u8; max + 1];
    let err = p.client.send(c, MessageKind::Binary, &big).unwrap_err();
    assert_eq!(err, ChannelError::TooLarge { size: max + 1, max });
    assert!(err.to_string().contains("max-message-size"));
    let crate_err: xp2p::Error = err.into();
    assert!(crate_err.to_string().starts_with("datachannel:"));
    assert_eq!(p.client.buffered_amount(c), 0);
    p.client.send(c, MessageKind::Binary, &big[..max]).unwrap();
    // Strings too.
    let text = "x".repeat(max + 1);
    assert!(matches!(
        p.client.send(c, MessageKind::Text, text.as_bytes()),
        Err(ChannelError::TooLarge { .. })
    ));

    // The peer advertised 256 KiB: the larger limit is honoured.
    p.client.set_remote_max_message_size(LOCAL_MAX_MESSAGE_SIZE);
    p.client
        .send(c, MessageKind::Binary, &vec![1u8; LOCAL_MAX_MESSAGE_SIZE])
        .unwrap();
    p.pump();
    let s = p.peer_of(Side::Client, c);
    assert_eq!(p.server.recv(s).unwrap().1.len(), max);
    assert_eq!(p.server.recv(s).unwrap().1.len(), LOCAL_MAX_MESSAGE_SIZE);

    // 0 means unlimited (RFC 8841).
    p.client.set_remote_max_message_size(0);
    p.client
        .send(c, MessageKind::Binary, &vec![1u8; 1 << 20])
        .unwrap();
    p.pump();
    // ... but we drop and count what exceeds our own advertised size.
    assert_eq!(p.server.stats().oversize, 1);
    assert_eq!(p.server.recv(s), None);
}

#[test]
fn close_from_the_client_closes_both_sides() {
    let (mut p, c, s) = open_pair();
    p.client.send(c, MessageKind::Text, b"last words").unwrap();
    p.client.close(c);
    assert_eq!(p.client.state(c), Some(ChannelState::Closing));
    assert_eq!(
        p.client.send(c, MessageKind::Text, b"late"),
        Err(ChannelError::NotOpen(ChannelState::Closing))
    );
    p.pump();
    assert_eq!(p.client.state(c), Some(ChannelState::Closed));
    assert_eq!(p.server.state(s), Some(ChannelState::Closed));
    // The one message was reported sent: threshold 0 crossed once.
    assert_eq!(
        p.take_events(Side::Client),
        [
            ChannelEvent::Closing(c),
            ChannelEvent::BufferedAmountLow(c),
            ChannelEvent::Closed(c)
        ]
    );
    assert_eq!(
        p.take_events(Side::Server),
        [
            ChannelEvent::Message(s, MessageKind::Text),
            ChannelEvent::Closing(s),
            ChannelEvent::Closed(s)
        ]
    );
    // Data sent before close arrived before the reset.
    assert_eq!(
        p.server.recv(s),
        Some((MessageKind::Text, b"last words".to_vec()))
    );
    assert_eq!(p.client.live_channels(), 0);
    assert_eq!(p.server.live_channels(), 0);
    assert_eq!(p.client.channel_by_stream(0), None);
    assert!(p.client.remove(c));
    assert!(p.server.remove(s));
}

#[test]
fn close_from_the_server_closes_both_sides() {
    let (mut p, c, s) = open_pair();
    p.server.close(s);
    p.pump();
    assert_eq!(p.client.state(c), Some(ChannelState::Closed));
    assert_eq!(p.server.state(s), Some(ChannelState::Closed));
    assert!(p
        .take_events(Side::Client)
        .ends_with(&[ChannelEvent::Closing(c), ChannelEvent::Closed(c)]));
    assert!(p
        .take_events(Side::Server)
        .ends_with(&[ChannelEvent::Closing(s), ChannelEvent::Closed(s)]));
    // A closed stream can carry a new channel later.
    let again = p
        .client
        .create_channel(ChannelConfig::new("again"))
        .unwrap();
    p.pump();
    assert_eq!(p.client.state(again), Some(ChannelState::Open));
}

#[test]
fn simultaneous_close_completes() {
    let (mut p, c, s) = open_pair();
    p.client.close(c);
    p.server.close(s);
    p.pump();
    assert_eq!(p.client.state(c), Some(ChannelState::Closed));
    assert_eq!(p.server.state(s), Some(ChannelState::Closed));
    for side in [Side::Client, Side::Server] {
        let events = p.take_events(side);
        assert_eq!(count(&events, |e| matches!(e, ChannelEvent::Closed(_))), 1);
        assert_eq!(count(&events, |e| matches!(e, ChannelEvent::Closing(_))), 1);
    }
}

#[test]
fn buffered_amount_low_fires_once_per_crossing() {
    let (mut p, c, _) = open_pair();
    p.auto_ack = false;
    p.client.set_buffered_amount_low_threshold(c, 1000);
    assert_eq!(p.client.buffered_amount_low_threshold(c), 1000);
    p.client.send(c, MessageKind::Binary, &[0; 1000]).unwrap();
    p.client.send(c, MessageKind::Text, &[b'a'; 1000]).unwrap();
    p.client.send(c, MessageKind::Binary, &[0; 1000]).unwrap();
    p.client.send(c, MessageKind::Text, b"").unwrap();
    assert_eq!(p.client.buffered_amount(c), 3000);
    p.pump();
    // Delivered but not yet reported: still buffered.
    assert_eq!(p.client.buffered_amount(c), 3000);
    let low = |p: &mut Pair| {
        count(&p.take_events(Side::Client), |e| {
            *e == ChannelEvent::BufferedAmountLow(c)
        })
    };
    p.ack_one();
    assert_eq!(p.client.buffered_amount(c), 2000);
    assert_eq!(low(&mut p), 0);
    p.ack_one();
    assert_eq!(p.client.buffered_amount(c), 1000);
    assert_eq!(low(&mut p), 1);
    p.ack_one();
    assert_eq!(p.client.buffered_amount(c), 0);
    assert_eq!(low(&mut p), 0);
    assert!(p.unacked.is_empty(), "empty messages add nothing");

    // A second crossing fires again.
    p.client.send(c, MessageKind::Text, &[b'b'; 2500]).unwrap();
    p.pump();
    assert_eq!(p.client.buffered_amount(c), 2500);
    p.ack_one();
    assert_eq!(p.client.buffered_amount(c), 0);
    assert_eq!(low(&mut p), 1);

    // Threshold 0: fires when everything is reported.
    p.client.set_buffered_amount_low_threshold(c, 0);
    p.client.send(c, MessageKind::Binary, &[1; 10]).unwrap();
    p.client.send(c, MessageKind::Binary, &[1; 10]).unwrap();
    p.pump();
    p.ack_one();
    assert_eq!(low(&mut p), 0);
    p.ack_one();
    assert_eq!(low(&mut p), 1);
}

#[test]
fn association_lost_closes_every_channel_with_an_error() {
    let (mut p, c, s) = open_pair();
    let pending = p
        .client
        .create_channel(ChannelConfig::new("pending"))
        .unwrap();
    p.client.send(c, MessageKind::Text, b"never sent").unwrap();
    p.client.association_lost();
    p.server.association_lost();
    p.pump();
    for (side, ids) in [(Side::Client, vec![c, pending]), (Side::Server, vec![s])] {
        let events = p.take_events(side);
        for id in ids {
            assert_eq!(p.mgr(side).state(id), Some(ChannelState::Closed));
            let err = events
                .iter()
                .position(|e| *e == ChannelEvent::Error(id, ChannelError::AssociationLost))
                .unwrap();
            let closed = events
                .iter()
                .position(|e| *e == ChannelEvent::Closed(id))
                .unwrap();
            assert!(err < closed);
        }
        assert_eq!(p.mgr(side).live_channels(), 0);
    }
    assert_eq!(p.client.buffered_amount(c), 0);
    assert!(p.client.poll_sctp_send().is_none());
    assert_eq!(
        p.client.create_channel(ChannelConfig::new("late")),
        Err(ChannelError::AssociationClosed)
    );
    assert_eq!(
        p.client.send(c, MessageKind::Text, b"x"),
        Err(ChannelError::NotOpen(ChannelState::Closed))
    );
}

#[test]
fn association_lost_before_up_closes_waiting_channels() {
    let mut p = Pair::new();
    let c = p.client.create_channel(ChannelConfig::new("w")).unwrap();
    p.client.association_lost();
    assert_eq!(p.client.state(c), Some(ChannelState::Closed));
    assert_eq!(
        p.client.association_up(8),
        Err(ChannelError::AssociationClosed)
    );
}

#[test]
fn unknown_streams_and_ppids_are_dropped_and_counted() {
    let (mut p, _, s) = open_pair();
    let stream = p.server.stream_id(s).unwrap();
    p.server.handle_sctp_message(40, PPID_STRING, b"nobody");
    p.server.handle_sctp_message(41, PPID_BINARY_EMPTY, &[0]);
    p.server.handle_sctp_message(stream, 52, b"deprecated");
    p.server.handle_sctp_message(stream, 0, b"zero");
    p.server.handle_sctp_message(stream, PPID_DCEP, &[0x07]);
    p.server.handle_sctp_message(stream, PPID_DCEP, &[]);
    p.server.handle_sctp_message(stream, PPID_DCEP, &[0x02]);
    p.server.handle_sctp_message(42, PPID_DCEP, &[0x02]);
    let stats = p.server.stats();
    assert_eq!(stats.unknown_stream, 3);
    assert_eq!(stats.unknown_ppid, 2);
    assert_eq!(stats.malformed_dcep, 2);
    assert_eq!(stats.unexpected_dcep, 1);
    assert!(p.server.poll_event().is_none());
    assert_eq!(p.server.recv(s), None);
    assert!(p.server.poll_sctp_send().is_none());

    // Before the association is up nothing is accepted.
    let mut fresh = ChannelManager::new(0, 0);
    fresh.handle_sctp_message(0, PPID_STRING, b"early");
    assert_eq!(fresh.stats().unknown_stream, 1);
}

#[test]
fn negotiated_channels_open_without_dcep() {
    let mut p = Pair::new();
    let cfg = ChannelConfig {
        negotiated_id: Some(7),
        ..ChannelConfig::new("neg")
    };
    let c = p.client.create_channel(cfg.clone()).unwrap();
    let s = p.server.create_channel(cfg.clone()).unwrap();
    assert_eq!(
        p.client.create_channel(cfg),
        Err(ChannelError::StreamIdInUse(7))
    );
    p.up(16);
    assert!(p.wire.is_empty());
    assert_eq!(p.take_events(Side::Client), [ChannelEvent::Open(c)]);
    assert_eq!(p.take_events(Side::Server), [ChannelEvent::Open(s)]);
    assert_eq!(p.client.negotiated(c), Some(true));
    p.client.send(c, MessageKind::Text, b"ping").unwrap();
    p.pump();
    assert_eq!(
        p.server.recv(s),
        Some((MessageKind::Text, b"ping".to_vec()))
    );
    // Our allocator steps around the negotiated id.
    // Odd ids below 16 are 1..=15; 7 is taken, so seven are left.
    let others: Vec<u16> = (0..7)
        .map(|_| {
            let id = p.server.create_channel(ChannelConfig::new("o")).unwrap();
            p.server.stream_id(id).unwrap()
        })
        .collect();
    assert!(!others.contains(&7));
    assert!(others.iter().all(|id| id % 2 == 1));
    assert_eq!(
        p.server.create_channel(ChannelConfig::new("full")),
        Err(ChannelError::NoStreamAvailable)
    );
    assert_eq!(
        p.client.create_channel(ChannelConfig {
            negotiated_id: Some(16),
            ..ChannelConfig::new("out")
        }),
        Err(ChannelError::StreamIdOutOfRange {
            id: 16,
            max_streams: 16
        })
    );
}

#[test]
fn back_pressure_is_reported() {
    let (mut p, c, _) = open_pair();
    p.client.set_limits(Limits {
        max_queued_sends: 3,
        max_buffered_amount: 100,
        ..Limits::default()
    });
    for _ in 0..3 {
        p.client.send(c, MessageKind::Binary, &[0; 10]).unwrap();
    }
    assert_eq!(
        p.client.send(c, MessageKind::Binary, &[0; 10]),
        Err(ChannelError::QueueFull)
    );
    p.auto_ack = false;
    p.pump();
    p.client.send(c, MessageKind::Binary, &[0; 70]).unwrap();
    assert_eq!(p.client.buffered_amount(c), 100);
    assert_eq!(
        p.client.send(c, MessageKind::Binary, &[0; 1]),
        Err(ChannelError::QueueFull)
    );
    p.pump();
    while !p.unacked.is_empty() {
        p.ack_one();
    }
    assert_eq!(p.client.buffered_amount(c), 0);
    // An idle channel always takes one message, even above the bound.
    p.client.send(c, MessageKind::Binary, &[0; 500]).unwrap();
    assert_eq!(
        p.client.send(c, MessageKind::Binary, &[0; 1]),
        Err(ChannelError::QueueFull)
    );
}

#[test]
fn channel_limit_of_the_c_api_refuses_remote_opens() {
    let mut p = Pair::new();
    p.server.set_limits(Limits {
        max_channels: C_MAX_CHANNELS,
        ..Limits::default()
    });
    p.up(1024);
    for _ in 0..C_MAX_CHANNELS {
        p.server.create_channel(ChannelConfig::new("s")).unwrap();
    }
    assert_eq!(
        p.server.create_channel(ChannelConfig::new("s")),
        Err(ChannelError::TooManyChannels)
    );
    p.pump();
    p.take_events(Side::Client);
    let c = p
        .client
        .create_channel(ChannelConfig::new("one too many"))
        .unwrap();
    p.pump();
    assert_eq!(p.server.stats().rejected_opens, 1);
    assert_eq!(p.server.live_channels(), C_MAX_CHANNELS);
    // The refusal is a stream reset: the opener sees its channel close.
    assert_eq!(p.client.state(c), Some(ChannelState::Closed));
    assert_eq!(
        p.take_events(Side::Client),
        [ChannelEvent::Closing(c), ChannelEvent::Closed(c)]
    );
}

#[test]
fn data_before_ack_opens_the_channel() {
    let mut p = Pair::new();
    p.client.association_up(8).unwrap();
    p.server.association_up(8).unwrap();
    let c = p
        .client
        .create_channel(ChannelConfig {
            ordered: false,
            ..ChannelConfig::new("u")
        })
        .unwrap();
    let open = p.client.poll_sctp_send().unwrap();
    p.server
        .handle_sctp_message(open.stream, open.ppid, &open.data);
    let s = p.server.channel_by_stream(open.stream).unwrap();
    p.server.send(s, MessageKind::Binary, b"fast").unwrap();
    let ack = p.server.poll_sctp_send().unwrap();
    let data = p.server.poll_sctp_send().unwrap();
    // The unordered message overtakes the ACK.
    p.client
        .handle_sctp_message(data.stream, data.ppid, &data.data);
    assert_eq!(p.client.state(c), Some(ChannelState::Open));
    assert_eq!(p.client.poll_event(), Some(ChannelEvent::Open(c)));
    assert_eq!(
        p.client.poll_event(),
        Some(ChannelEvent::Message(c, MessageKind::Binary))
    );
    p.client
        .handle_sctp_message(ack.stream, ack.ppid, &ack.data);
    assert_eq!(p.client.poll_event(), None);
    assert_eq!(p.client.stats().unexpected_dcep, 1);
}

#[test]
fn remote_open_with_an_oversized_label_is_refused() {
    let mut p = Pair::new();
    p.up(8);
    let open = DcepMessage::Open(DcepOpen {
        channel_type: ChannelType::default(),
        priority: 0,
        label: "l".repeat(300),
        protocol: String::new(),
    })
    .encode()
    .unwrap();
    p.server.handle_sctp_message(2, PPID_DCEP, &open);
    assert_eq!(p.server.stats().rejected_opens, 1);
    assert_eq!(p.server.channel_by_stream(2), None);
    assert_eq!(p.server.poll_stream_reset(), Some(2));
    assert_eq!(
        p.client.create_channel(ChannelConfig::new("x".repeat(256))),
        Err(ChannelError::LabelTooLong(256))
    );
    assert_eq!(
        p.client.create_channel(ChannelConfig {
            protocol: "p".repeat(300),
            ..ChannelConfig::new("ok")
        }),
        Err(ChannelError::ProtocolTooLong(300))
    );
}

#[test]
fn stream_ids_are_unique_across_many_open_close_cycles() {
    let mut p = Pair::new();
    p.up(12);
    let mut seen = HashSet::new();
    for round in 0..20 {
        let ids: Vec<(Side, ChannelId)> = (0..4)
            .flat_map(|_| {
                [
                    (
                        Side::Client,
                        p.client.create_channel(ChannelConfig::new("c")),
                    ),
                    (
                        Side::Server,
                        p.server.create_channel(ChannelConfig::new("s")),
                    ),
                ]
            })
            .map(|(side, r)| (side, r.unwrap()))
            .collect();
        p.pump();
        let streams: HashSet<u16> = ids
            .iter()
            .map(|&(side, id)| p.mgr(side).stream_id(id).unwrap())
            .collect();
        assert_eq!(streams.len(), 8, "round {round}");
        for &(side, id) in &ids {
            assert_eq!(p.mgr(side).state(id), Some(ChannelState::Open));
            seen.insert(p.mgr(side).stream_id(id).unwrap());
        }
        for (i, &(side, id)) in ids.iter().enumerate() {
            // Alternate which end closes.
            if i % 2 == 0 {
                p.mgr(side).close(id);
            } else {
                let other = if side == Side::Client {
                    Side::Server
                } else {
                    Side::Client
                };
                let peer = p.peer_of(side, id);
                p.mgr(other).close(peer);
            }
        }
        p.pump();
        for &(side, id) in &ids {
            assert_eq!(p.mgr(side).state(id), Some(ChannelState::Closed));
            assert!(p.mgr(side).remove(id));
        }
        assert_eq!(p.client.live_channels(), 0);
        assert_eq!(p.server.live_channels(), 0);
    }
    assert!(seen.iter().all(|&s| s < 12));
}
