//! Property tests for the DataChannel manager: arbitrary network input and
//! arbitrary API call sequences never panic and keep its books consistent;
//! two managers wired back to back always converge to matching channels.

use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use xp2p::channel::{
    ChannelConfig, ChannelId, ChannelManager, ChannelState, DtlsRole, Limits, MessageKind,
};
use xp2p::dcep::{
    ChannelType, DcepMessage, DcepOpen, Reliability, PPID_BINARY, PPID_BINARY_EMPTY, PPID_DCEP,
    PPID_STRING, PPID_STRING_EMPTY,
};

/// Checks the manager's own accounting against what its getters say.
fn check_books(m: &ChannelManager) -> Result<(), TestCaseError> {
    let ids: Vec<ChannelId> = m.channel_ids().collect();
    let live: Vec<ChannelId> = ids
        .iter()
        .copied()
        .filter(|&id| m.state(id) != Some(ChannelState::Closed))
        .collect();
    prop_assert_eq!(m.live_channels(), live.len());
    let mut streams = HashSet::new();
    for &id in &live {
        if let Some(stream) = m.stream_id(id) {
            prop_assert!(streams.insert(stream), "stream {} used twice", stream);
            prop_assert_eq!(m.channel_by_stream(stream), Some(id));
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Input {
    Message(u16, u32, Vec<u8>),
    Open(u16, u8, Vec<u8>),
    Reset(u16, bool),
    Create(Option<u16>),
    Send(usize, bool, usize),
    Close(usize),
    OnSent(u16, usize),
    Up(u16),
    Lost,
    PollSend,
    PollReset,
    Recv(usize),
    Remove(usize),
}

fn arb_input() -> impl Strategy<Value = Input> {
    let ppid = prop_oneof![
        Just(PPID_DCEP),
        Just(PPID_STRING),
        Just(PPID_BINARY),
        Just(PPID_STRING_EMPTY),
        Just(PPID_BINARY_EMPTY),
        any::<u32>(),
    ];
    let stream = 0u16..10;
    prop_oneof![
        (
            stream.clone(),
            ppid,
            proptest::collection::vec(any::<u8>(), 0..24)
        )
            .prop_map(|(s, p, d)| Input::Message(s, p, d)),
        (
            stream.clone(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(|(s, t, l)| Input::Open(s, t, l)),
        (stream.clone(), any::<bool>()).prop_map(|(s, i)| Input::Reset(s, i)),
        proptest::option::of(0u16..12).prop_map(Input::Create),
        (0usize..8, any::<bool>(), 0usize..100).prop_map(|(i, t, n)| Input::Send(i, t, n)),
        (0usize..8).prop_map(Input::Close),
        (stream, 0usize..200).prop_map(|(s, n)| Input::OnSent(s, n)),
        (0u16..12).prop_map(Input::Up),
        Just(Input::Lost),
        Just(Input::PollSend),
        Just(Input::PollReset),
        (0usize..8).prop_map(Input::Recv),
        (0usize..8).prop_map(Input::Remove),
    ]
}

fn apply(m: &mut ChannelManager, input: Input) {
    let ids: Vec<ChannelId> = m.channel_ids().collect();
    let pick = |i: usize| ids.get(i % ids.len().max(1)).copied();
    match input {
        Input::Message(stream, ppid, data) => m.handle_sctp_message(stream, ppid, &data),
        Input::Open(stream, type_byte, label) => {
            // A DCEP OPEN with an arbitrary type byte and label bytes, so
            // well-formed, malformed and refused opens all occur.
            let mut data = vec![0x03, type_byte, 0, 0, 0, 0, 0, 3];
            data.extend_from_slice(&(label.len() as u16).to_be_bytes());
            data.extend_from_slice(&[0, 0]);
            data.extend_from_slice(&label);
            m.handle_sctp_message(stream, PPID_DCEP, &data);
        }
        Input::Reset(stream, incoming) => m.handle_stream_reset(stream, incoming),
        Input::Create(negotiated_id) => {
            let _ = m.create_channel(ChannelConfig {
                negotiated_id,
                ..ChannelConfig::new("p")
            });
        }
        Input::Send(i, text, len) => {
            if let Some(id) = pick(i) {
                let kind = if text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let _ = m.send(id, kind, &vec![b'z'; len]);
            }
        }
        Input::Close(i) => {
            if let Some(id) = pick(i) {
                m.close(id);
            }
        }
        Input::OnSent(stream, bytes) => m.on_sent(stream, bytes),
        Input::Up(max_streams) => {
            let _ = m.association_up(max_streams);
        }
        Input::Lost => m.association_lost(),
        Input::PollSend => {
            let _ = m.poll_sctp_send();
        }
        Input::PollReset => {
            let _ = m.poll_stream_reset();
        }
        Input::Recv(i) => {
            if let Some(id) = pick(i) {
                let _ = m.recv(id);
            }
        }
        Input::Remove(i) => {
            if let Some(id) = pick(i) {
                let _ = m.remove(id);
            }
        }
    }
}

/// One step of the back-to-back pair.
#[derive(Debug, Clone)]
enum Step {
    Create(bool, bool, u8),
    Send(bool, usize, bool, usize),
    Close(bool, usize),
    /// Move one message (or, if none, one reset) from this side across.
    Deliver(bool),
    Ack(usize),
    Recv(bool, usize),
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<bool>(), any::<bool>(), 0u8..4).prop_map(|(c, o, r)| Step::Create(c, o, r)),
        (any::<bool>(), 0usize..16, any::<bool>(), 0usize..300)
            .prop_map(|(c, i, t, n)| Step::Send(c, i, t, n)),
        (any::<bool>(), 0usize..16).prop_map(|(c, i)| Step::Close(c, i)),
        any::<bool>().prop_map(Step::Deliver),
        any::<bool>().prop_map(Step::Deliver),
        any::<bool>().prop_map(Step::Deliver),
        (0usize..8).prop_map(Step::Ack),
        (any::<bool>(), 0usize..16).prop_map(|(c, i)| Step::Recv(c, i)),
    ]
}

struct Pair {
    sides: [ChannelManager; 2],
    /// Channels each side created itself.
    created: [Vec<ChannelId>; 2],
    unacked: Vec<(usize, u16, usize)>,
}

impl Pair {
    fn new(max_streams: u16) -> Self {
        let mut client = ChannelManager::new(1000, 1000);
        let mut server = ChannelManager::new(1000, 1000);
        client.set_role(DtlsRole::Client);
        server.set_role(DtlsRole::Server);
        for m in [&mut client, &mut server] {
            m.set_limits(Limits {
                max_queued_sends: 8,
                max_buffered_amount: 600,
                max_recv_messages: 6,
                ..Limits::default()
            });
            m.association_up(max_streams).unwrap();
        }
        Pair {
            sides: [client, server],
            created: [Vec::new(), Vec::new()],
            unacked: Vec::new(),
        }
    }

    /// Moves one message, else one reset, from `from` to the other side.
    fn deliver(&mut self, from: usize) -> bool {
        let to = 1 - from;
        if let Some(send) = self.sides[from].poll_sctp_send() {
            self.sides[to].handle_sctp_message(send.stream, send.ppid, &send.data);
            if send.counted > 0 {
                self.unacked.push((from, send.stream, send.counted));
            }
            return true;
        }
        if let Some(stream) = self.sides[from].poll_stream_reset() {
            self.sides[to].handle_stream_reset(stream, true);
            self.sides[from].handle_stream_reset(stream, false);
            return true;
        }
        false
    }

    fn step(&mut self, step: Step) {
        let side = |c: bool| usize::from(!c);
        match step {
            Step::Create(c, ordered, r) => {
                let reliability = match r {
                    0 | 1 => Reliability::Reliable,
                    2 => Reliability::MaxRetransmits(2),
                    _ => Reliability::MaxLifetime(50),
                };
                let s = side(c);
                let n = self.created[s].len();
                if let Ok(id) = self.sides[s].create_channel(ChannelConfig {
                    ordered,
                    reliability,
                    ..ChannelConfig::new(format!("{s}-{n}"))
                }) {
                    self.created[s].push(id);
                }
            }
            Step::Send(c, i, text, len) => {
                let s = side(c);
                let ids: Vec<ChannelId> = self.sides[s].channel_ids().collect();
                if let Some(&id) = ids.get(i % ids.len().max(1)) {
                    let kind = if text {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    let _ = self.sides[s].send(id, kind, &vec![1; len]);
                }
            }
            Step::Close(c, i) => {
                let s = side(c);
                let ids: Vec<ChannelId> = self.sides[s].channel_ids().collect();
                if let Some(&id) = ids.get(i % ids.len().max(1)) {
                    self.sides[s].close(id);
                }
            }
            Step::Deliver(c) => {
                self.deliver(side(c));
            }
            Step::Ack(i) => {
                if !self.unacked.is_empty() {
                    let (s, stream, bytes) = self.unacked.remove(i % self.unacked.len());
                    self.sides[s].on_sent(stream, bytes);
                }
            }
            Step::Recv(c, i) => {
                let s = side(c);
                let ids: Vec<ChannelId> = self.sides[s].channel_ids().collect();
                if let Some(&id) = ids.get(i % ids.len().max(1)) {
                    let _ = self.sides[s].recv(id);
                }
            }
        }
        for m in &mut self.sides {
            while m.poll_event().is_some() {}
        }
    }

    fn settle(&mut self) {
        while self.deliver(0) || self.deliver(1) {}
        for (s, stream, bytes) in std::mem::take(&mut self.unacked) {
            self.sides[s].on_sent(stream, bytes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_input_never_panics(
        role in any::<bool>(),
        inputs in proptest::collection::vec(arb_input(), 0..60),
    ) {
        let mut m = ChannelManager::new(64, 64);
        m.set_role(if role { DtlsRole::Client } else { DtlsRole::Server });
        m.set_limits(Limits {
            max_channels: 5,
            max_queued_sends: 4,
            max_buffered_amount: 150,
            max_recv_bytes: 40,
            max_recv_messages: 3,
        });
        for input in inputs {
            apply(&mut m, input);
            check_books(&m)?;
            while m.poll_event().is_some() {}
        }
    }

    #[test]
    fn arbitrary_messages_on_an_open_manager_never_panic(
        messages in proptest::collection::vec(
            (0u16..6, prop_oneof![Just(PPID_DCEP), any::<u32>()],
             proptest::collection::vec(any::<u8>(), 0..40)),
            0..40),
    ) {
        let mut m = ChannelManager::new(0, 0);
        m.set_role(DtlsRole::Server);
        m.association_up(6).unwrap();
        let open = DcepMessage::Open(DcepOpen {
            channel_type: ChannelType::default(),
            priority: 0,
            label: "x".into(),
            protocol: String::new(),
        })
        .encode()
        .unwrap();
        m.handle_sctp_message(0, PPID_DCEP, &open);
        for (stream, ppid, data) in messages {
            m.handle_sctp_message(stream, ppid, &data);
            check_books(&m)?;
        }
    }

    #[test]
    fn back_to_back_managers_converge(
        max_streams in 2u16..24,
        steps in proptest::collection::vec(arb_step(), 0..120),
    ) {
        let mut p = Pair::new(max_streams);
        for step in steps {
            p.step(step);
            check_books(&p.sides[0])?;
            check_books(&p.sides[1])?;
        }
        p.settle();
        for m in &mut p.sides {
            while m.poll_event().is_some() {}
        }
        // Our own channels use our parity only.
        for (s, parity) in [(0usize, 0u16), (1, 1)] {
            for &id in &p.created[s] {
                if let Some(stream) = p.sides[s].stream_id(id) {
                    prop_assert_eq!(stream % 2, parity);
                }
            }
        }
        // Once quiet, every live channel is Open and has an Open twin with
        // the same label on the same stream; every byte was reported sent.
        let mut labels: [HashMap<u16, String>; 2] = [HashMap::new(), HashMap::new()];
        for (s, map) in labels.iter_mut().enumerate() {
            let m = &p.sides[s];
            for id in m.channel_ids() {
                let state = m.state(id).unwrap();
                prop_assert!(
                    matches!(state, ChannelState::Open | ChannelState::Closed),
                    "side {} channel {:?} left {:?}", s, id, state
                );
                if state == ChannelState::Open {
                    map.insert(m.stream_id(id).unwrap(), m.label(id).unwrap().to_owned());
                    prop_assert_eq!(m.buffered_amount(id), 0);
                }
            }
        }
        prop_assert_eq!(&labels[0], &labels[1]);
    }
}
