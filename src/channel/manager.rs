//! The DataChannel manager: DCEP handshake, stream id assignment, the
//! RFC 8831 close handshake, buffered amount and bounded queues.

use super::{
    ChannelConfig, ChannelError, ChannelEvent, ChannelId, ChannelState, ChannelStats, DtlsRole,
    Limits, MessageKind, SctpSend, RESERVED_STREAM_ID,
};
use crate::dcep::{
    ChannelType, DcepMessage, DcepOpen, Reliability, MAX_LABEL_LEN, MSG_OPEN, PPID_BINARY,
    PPID_BINARY_EMPTY, PPID_DCEP, PPID_STRING, PPID_STRING_EMPTY,
};
use crate::idhash::IdMap;
use crate::vecmap::VecMap;
use std::collections::VecDeque;

/// Where the SCTP association is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Assoc {
    Down,
    Up { max_streams: u16 },
    Lost,
}

#[derive(Debug)]
struct Channel {
    label: String,
    protocol: String,
    ordered: bool,
    reliability: Reliability,
    priority: u16,
    negotiated: bool,
    stream: Option<u16>,
    state: ChannelState,
    /// Our DATA_CHANNEL_OPEN is still in the send queue.
    open_queued: bool,
    buffered: usize,
    threshold: usize,
    recv: VecDeque<(MessageKind, Vec<u8>)>,
    recv_bytes: usize,
    /// A `RecvQueueFull` error was reported and the queue has not drained.
    overflow_reported: bool,
    reset_out_requested: bool,
    reset_out_done: bool,
    reset_in: bool,
    traffic: ChannelTraffic,
}

/// What went through one channel: messages and payload bytes the
/// application sent (accepted by `send`) and received (queued for it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelTraffic {
    pub messages_sent: u64,
    pub bytes_sent: u64,
    pub messages_received: u64,
    pub bytes_received: u64,
}

impl Channel {
    fn new(cfg: ChannelConfig, stream: Option<u16>, negotiated: bool) -> Self {
        Channel {
            label: cfg.label,
            protocol: cfg.protocol,
            ordered: cfg.ordered,
            reliability: cfg.reliability,
            priority: cfg.priority,
            negotiated,
            stream,
            state: ChannelState::Connecting,
            open_queued: false,
            buffered: 0,
            threshold: 0,
            recv: VecDeque::new(),
            recv_bytes: 0,
            overflow_reported: false,
            reset_out_requested: false,
            reset_out_done: false,
            reset_in: false,
            traffic: ChannelTraffic::default(),
        }
    }
}

/// The DataChannel state machine for one SCTP association.
///
/// Ordering contract for the SCTP layer: drain [`Self::poll_sctp_send`]
/// before [`Self::poll_stream_reset`]; the manager also holds back a reset
/// while its own queue still has messages for that stream, so data sent
/// before `close` is never cut off by the reset.
#[derive(Debug)]
pub struct ChannelManager {
    role: Option<DtlsRole>,
    assoc: Assoc,
    remote_max_message_size: usize,
    local_max_message_size: usize,
    limits: Limits,
    next_id: u32,
    channels: VecMap<ChannelId, Channel>,
    /// Stream id → channel, for every channel that holds a stream id and is
    /// not Closed.
    streams: IdMap<u16, ChannelId>,
    /// Channels not Closed.
    live: usize,
    /// Next stream id to try (our parity).
    cursor: u16,
    send_queue: VecDeque<SctpSend>,
    /// User messages in `send_queue` (DCEP messages are not counted).
    queued_user: usize,
    reset_queue: VecDeque<u16>,
    events: VecDeque<ChannelEvent>,
    stats: ChannelStats,
    /// What the messages waiting in every channel's receive queue cost:
    /// their bytes plus [`RECV_MESSAGE_COST`] each.
    recv_queued: usize,
}

/// What one queued received message costs on top of its payload (its
/// allocation and queue entry), so that a flood of tiny messages is bounded
/// like a few large ones.
pub const RECV_MESSAGE_COST: usize = 64;

impl ChannelManager {
    /// A manager for one association. `max_message_size_remote` is the
    /// peer's `a=max-message-size` (use
    /// [`super::DEFAULT_REMOTE_MAX_MESSAGE_SIZE`] when absent, 0 means
    /// unlimited); `max_message_size_local` is what we advertise
    /// ([`super::LOCAL_MAX_MESSAGE_SIZE`]; 0 means unlimited).
    pub fn new(max_message_size_remote: usize, max_message_size_local: usize) -> Self {
        ChannelManager {
            role: None,
            assoc: Assoc::Down,
            remote_max_message_size: max_message_size_remote,
            local_max_message_size: max_message_size_local,
            limits: Limits::default(),
            next_id: 0,
            channels: VecMap::new(),
            streams: IdMap::default(),
            live: 0,
            cursor: 0,
            send_queue: VecDeque::new(),
            queued_user: 0,
            reset_queue: VecDeque::new(),
            events: VecDeque::new(),
            stats: ChannelStats::default(),
            recv_queued: 0,
        }
    }

    /// What every channel's received messages not yet pulled with
    /// [`Self::recv`] cost: their bytes plus [`RECV_MESSAGE_COST`] each.
    /// The PeerConnection bounds this by not reading from SCTP.
    pub fn recv_queued(&self) -> usize {
        self.recv_queued
    }

    /// Replaces the queue bounds; existing contents are kept.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Sets our DTLS role once the handshake settled it. Stream ids are
    /// assigned only after this and [`Self::association_up`].
    pub fn set_role(&mut self, role: DtlsRole) {
        self.role = Some(role);
    }

    pub fn role(&self) -> Option<DtlsRole> {
        self.role
    }

    /// Updates the peer's `a=max-message-size` (0 = unlimited).
    pub fn set_remote_max_message_size(&mut self, max: usize) {
        self.remote_max_message_size = max;
    }

    pub fn remote_max_message_size(&self) -> usize {
        self.remote_max_message_size
    }

    pub fn local_max_message_size(&self) -> usize {
        self.local_max_message_size
    }

    /// Whether the association is up.
    pub fn is_up(&self) -> bool {
        matches!(self.assoc, Assoc::Up { .. })
    }

    /// Counters of dropped input.
    pub fn stats(&self) -> ChannelStats {
        self.stats
    }

    /// Channels not Closed (local and remote).
    pub fn live_channels(&self) -> usize {
        self.live
    }

    /// Every channel still held (including Closed ones not yet removed), in
    /// creation order.
    pub fn channel_ids(&self) -> impl Iterator<Item = ChannelId> + '_ {
        self.channels.keys().copied()
    }

    /// The channel on this stream, if one holds it.
    pub fn channel_by_stream(&self, stream: u16) -> Option<ChannelId> {
        self.streams.get(&stream).copied()
    }

    fn channel_limit(&self) -> usize {
        let streams = match self.assoc {
            Assoc::Up { max_streams } => usize::from(max_streams),
            _ => usize::from(RESERVED_STREAM_ID),
        };
        self.limits.max_channels.min(streams)
    }

    /// Creates a channel. The handle is usable at once: before the
    /// association is up the channel is Connecting and its OPEN is sent when
    /// [`Self::association_up`] runs. Negotiated channels open without DCEP
    /// when the association is up.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn create_channel(&mut self, cfg: ChannelConfig) -> Result<ChannelId, ChannelError> {
        if self.assoc == Assoc::Lost {
            return Err(ChannelError::AssociationClosed);
        }
        if cfg.label.len() > MAX_LABEL_LEN {
            return Err(ChannelError::LabelTooLong(cfg.label.len()));
        }
        if cfg.protocol.len() > MAX_LABEL_LEN {
            return Err(ChannelError::ProtocolTooLong(cfg.protocol.len()));
        }
        if self.live >= self.channel_limit() {
            return Err(ChannelError::TooManyChannels);
        }
        let up_streams = match self.assoc {
            Assoc::Up { max_streams } => Some(max_streams),
            _ => None,
        };
        let id = ChannelId(self.next_id);
        match cfg.negotiated_id {
            Some(stream) => {
                let max_streams = up_streams.unwrap_or(RESERVED_STREAM_ID);
                if stream >= max_streams {
                    return Err(ChannelError::StreamIdOutOfRange {
                        id: stream,
                        max_streams,
                    });
                }
                if self.streams.contains_key(&stream) {
                    return Err(ChannelError::StreamIdInUse(stream));
                }
                self.streams.insert(stream, id);
                let mut ch = Channel::new(cfg, Some(stream), true);
                if up_streams.is_some() {
                    ch.state = ChannelState::Open;
                    self.events.push_back(ChannelEvent::Open(id));
                }
                self.channels.insert(id, ch);
            }
            None => {
                let mut ch = Channel::new(cfg, None, false);
                if up_streams.is_some() {
                    let stream = self
                        .allocate_stream()
                        .ok_or(ChannelError::NoStreamAvailable)?;
                    ch.stream = Some(stream);
                    self.streams.insert(stream, id);
                    self.queue_open(stream, &mut ch);
                }
                self.channels.insert(id, ch);
            }
        }
        self.next_id += 1;
        self.live += 1;
        Ok(id)
    }

    /// The association is up with `max_streams` streams each way (the
    /// smaller of the negotiated inbound and outbound counts). Assigns
    /// stream ids to waiting channels in creation order and queues their
    /// OPENs; opens negotiated channels. Channels that cannot get a stream
    /// get an `Error` and `Closed` event.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn association_up(&mut self, max_streams: u16) -> Result<(), ChannelError> {
        let role = self.role.ok_or(ChannelError::RoleNotSet)?;
        match self.assoc {
            Assoc::Lost => return Err(ChannelError::AssociationClosed),
            Assoc::Up { .. } => return Ok(()),
            Assoc::Down => {}
        }
        self.assoc = Assoc::Up { max_streams };
        self.cursor = role.first_stream_id();
        let waiting: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, ch)| ch.state == ChannelState::Connecting)
            .map(|(&id, _)| id)
            .collect();
        for id in waiting {
            let Some(mut ch) = self.channels.remove(&id) else {
                continue;
            };
            let failure = if ch.negotiated {
                match ch.stream {
                    Some(stream) if stream < max_streams => {
                        ch.state = ChannelState::Open;
                        self.events.push_back(ChannelEvent::Open(id));
                        None
                    }
                    Some(stream) => Some(ChannelError::StreamIdOutOfRange {
                        id: stream,
                        max_streams,
                    }),
                    None => Some(ChannelError::NoStreamAvailable),
                }
            } else {
                match self.allocate_stream() {
                    Some(stream) => {
                        ch.stream = Some(stream);
                        self.streams.insert(stream, id);
                        self.queue_open(stream, &mut ch);
                        None
                    }
                    None => Some(ChannelError::NoStreamAvailable),
                }
            };
            self.channels.insert(id, ch);
            if let Some(err) = failure {
                self.events.push_back(ChannelEvent::Error(id, err));
                self.set_closed(id);
            }
        }
        Ok(())
    }

    /// The association is gone: every channel not yet Closed gets an
    /// `Error(AssociationLost)` and `Closed` event. Queued sends and resets
    /// are discarded and buffered amounts drop to zero (without
    /// `BufferedAmountLow`). Creating channels fails from now on.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn association_lost(&mut self) {
        self.assoc = Assoc::Lost;
        self.send_queue.clear();
        self.queued_user = 0;
        self.reset_queue.clear();
        let ids: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, ch)| ch.state != ChannelState::Closed)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.events
                .push_back(ChannelEvent::Error(id, ChannelError::AssociationLost));
            self.set_closed(id);
        }
        for ch in self.channels.values_mut() {
            ch.buffered = 0;
            ch.open_queued = false;
        }
    }

    /// Next free stream id of our parity below the association's stream
    /// count, scanning from the cursor and wrapping once.
    fn allocate_stream(&mut self) -> Option<u16> {
        let (Some(role), Assoc::Up { max_streams }) = (self.role, self.assoc) else {
            return None;
        };
        let first = role.first_stream_id();
        if max_streams <= first {
            return None;
        }
        let candidates = (max_streams - first).div_ceil(2);
        let mut id = if self.cursor >= max_streams || self.cursor % 2 != first {
            first
        } else {
            self.cursor
        };
        for _ in 0..candidates {
            if !self.streams.contains_key(&id) {
                self.cursor = id.saturating_add(2);
                return Some(id);
            }
            id = match id.checked_add(2) {
                Some(next) if next < max_streams => next,
                _ => first,
            };
        }
        None
    }

    fn queue_open(&mut self, stream: u16, ch: &mut Channel) {
        let msg = DcepMessage::Open(DcepOpen {
            channel_type: ChannelType {
                reliability: ch.reliability,
                ordered: ch.ordered,
            },
            priority: ch.priority,
            label: ch.label.clone(),
            protocol: ch.protocol.clone(),
        });
        let mut data = Vec::with_capacity(msg.encoded_len());
        // Labels and protocols are at most 255 bytes here, so this cannot
        // fail.
        let encoded = msg.encode_into(&mut data);
        debug_assert!(encoded.is_ok());
        ch.open_queued = true;
        self.send_queue.push_back(dcep_send(stream, data));
    }

    /// One SCTP user message arrived. DCEP OPEN creates a remote channel and
    /// queues its ACK; ACK (or any message) opens a channel we announced;
    /// user messages on an open channel are queued for [`Self::recv`] and
    /// signalled by [`ChannelEvent::Message`]. Everything else is dropped
    /// and counted in [`Self::stats`].
    pub fn handle_sctp_message(&mut self, stream: u16, ppid: u32, data: &[u8]) {
        self.take_sctp_message(stream, ppid, Payload::Borrowed(data));
    }

    /// [`handle_sctp_message`](Self::handle_sctp_message) of a message the
    /// caller owns: a user message is queued as it is, without a copy.
    pub fn handle_sctp_message_owned(&mut self, stream: u16, ppid: u32, data: Vec<u8>) {
        self.take_sctp_message(stream, ppid, Payload::Owned(data));
    }

    fn take_sctp_message(&mut self, stream: u16, ppid: u32, data: Payload<'_>) {
        if !self.is_up() {
            log::debug!(target: "dc", "dropped a message on stream {stream}: association not up");
            self.stats.unknown_stream += 1;
            return;
        }
        let (kind, empty) = match ppid {
            PPID_DCEP => {
                self.handle_dcep(stream, data.as_slice());
                return;
            }
            PPID_STRING => (MessageKind::Text, false),
            PPID_BINARY => (MessageKind::Binary, false),
            PPID_STRING_EMPTY => (MessageKind::Text, true),
            PPID_BINARY_EMPTY => (MessageKind::Binary, true),
            _ => {
                log::debug!(target: "dc", "dropped a message on stream {stream}: unknown PPID {ppid}");
                if self.streams.contains_key(&stream) {
                    self.stats.unknown_ppid += 1;
                } else {
                    self.stats.unknown_stream += 1;
                }
                return;
            }
        };
        let Some(&id) = self.streams.get(&stream) else {
            log::debug!(target: "dc", "dropped a message on stream {stream}: no channel");
            self.stats.unknown_stream += 1;
            return;
        };
        let Some(ch) = self.channels.get_mut(&id) else {
            self.stats.unknown_stream += 1;
            return;
        };
        match ch.state {
            ChannelState::Open => {}
            // Any message from the peer on a channel we announced means it
            // has seen our OPEN (RFC 8832 §6): an unordered message may
            // overtake the ACK.
            ChannelState::Connecting if !ch.negotiated && !ch.open_queued => {
                ch.state = ChannelState::Open;
                self.events.push_back(ChannelEvent::Open(id));
            }
            _ => {
                log::debug!(target: "dc", "dropped a message on stream {stream}: channel {:?}", ch.state);
                self.stats.not_open += 1;
                return;
            }
        }
        let payload = if empty { Payload::Borrowed(&[]) } else { data };
        if self.local_max_message_size != 0 && payload.len() > self.local_max_message_size {
            log::debug!(target: "dc", "dropped a message of {} bytes on stream {stream}: above our max-message-size", payload.len());
            self.stats.oversize += 1;
            return;
        }
        // Reliable channels never drop: their bound is the flow control
        // of the layer above (it stops reading from SCTP, so the peer's
        // window closes). Partially reliable ones may lose messages anyway.
        let full = ch.reliability != Reliability::Reliable
            && !ch.recv.is_empty()
            && (ch.recv.len() >= self.limits.max_recv_messages
                || ch.recv_bytes + payload.len() > self.limits.max_recv_bytes);
        if full {
            log::debug!(target: "dc", "dropped a message on stream {stream}: receive queue full");
            self.stats.recv_overflow += 1;
            if !ch.overflow_reported {
                ch.overflow_reported = true;
                self.events
                    .push_back(ChannelEvent::Error(id, ChannelError::RecvQueueFull));
            }
            return;
        }
        ch.recv_bytes += payload.len();
        self.recv_queued += payload.len() + RECV_MESSAGE_COST;
        ch.traffic.messages_received += 1;
        ch.traffic.bytes_received += payload.len() as u64;
        ch.recv.push_back((kind, payload.into_vec()));
        self.events.push_back(ChannelEvent::Message(id, kind));
    }

    fn handle_dcep(&mut self, stream: u16, data: &[u8]) {
        let msg = match DcepMessage::decode(data) {
            Ok(msg) => msg,
            Err(_) => {
                self.stats.malformed_dcep += 1;
                return;
            }
        };
        match msg {
            DcepMessage::Ack => {
                let Some(&id) = self.streams.get(&stream) else {
                    self.stats.unknown_stream += 1;
                    return;
                };
                match self.channels.get_mut(&id) {
                    Some(ch)
                        if ch.state == ChannelState::Connecting
                            && !ch.negotiated
                            && !ch.open_queued =>
                    {
                        ch.state = ChannelState::Open;
                        self.events.push_back(ChannelEvent::Open(id));
                    }
                    _ => self.stats.unexpected_dcep += 1,
                }
            }
            DcepMessage::Open(open) => self.handle_remote_open(stream, open),
        }
    }

    fn handle_remote_open(&mut self, stream: u16, open: DcepOpen) {
        if let Some(&old) = self.streams.get(&stream) {
            // The peer reuses a stream whose close handshake we have not
            // seen finish: it has reset its side and could only reuse the
            // stream after processing our reset, so the old channel is done
            // (the confirmation of our reset is still on its way).
            let reset_sent = !self.reset_queue.contains(&stream);
            if let Some(ch) = self.channels.get_mut(&old) {
                if ch.state == ChannelState::Closing
                    && ch.reset_in
                    && ch.reset_out_requested
                    && reset_sent
                {
                    ch.reset_out_done = true;
                    self.set_closed(old);
                }
            }
        }
        if stream == RESERVED_STREAM_ID || self.streams.contains_key(&stream) {
            // A stream in use: the peer broke the even/odd rule or repeated
            // itself. Resetting would kill our channel; ignore the OPEN.
            self.stats.unexpected_dcep += 1;
            return;
        }
        if open.label.len() > MAX_LABEL_LEN
            || open.protocol.len() > MAX_LABEL_LEN
            || self.live >= self.channel_limit()
        {
            // Refuse the channel by resetting the stream (RFC 8832 §6).
            self.stats.rejected_opens += 1;
            self.reset_queue.push_back(stream);
            return;
        }
        let id = ChannelId(self.next_id);
        self.next_id += 1;
        let cfg = ChannelConfig {
            label: open.label,
            protocol: open.protocol,
            ordered: open.channel_type.ordered,
            reliability: open.channel_type.reliability,
            priority: open.priority,
            negotiated_id: None,
        };
        let mut ch = Channel::new(cfg, Some(stream), false);
        ch.state = ChannelState::Open;
        self.channels.insert(id, ch);
        self.streams.insert(stream, id);
        self.live += 1;
        let mut ack = Vec::with_capacity(1);
        let encoded = DcepMessage::Ack.encode_into(&mut ack);
        debug_assert!(encoded.is_ok());
        self.send_queue.push_back(dcep_send(stream, ack));
        self.events.push_back(ChannelEvent::RemoteOpen(id));
        self.events.push_back(ChannelEvent::Open(id));
    }

    /// A stream reset completed: `incoming` for a reset the peer made of its
    /// outgoing stream (we answer with ours, RFC 8831 §6.7), otherwise our
    /// own outgoing reset took effect. The channel is Closed when both
    /// directions are reset.
    pub fn handle_stream_reset(&mut self, stream: u16, incoming: bool) {
        let Some(&id) = self.streams.get(&stream) else {
            return;
        };
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        if incoming {
            ch.reset_in = true;
            if matches!(ch.state, ChannelState::Connecting | ChannelState::Open) {
                ch.state = ChannelState::Closing;
                self.events.push_back(ChannelEvent::Closing(id));
            }
            if !ch.reset_out_requested {
                ch.reset_out_requested = true;
                self.reset_queue.push_back(stream);
            }
        } else if ch.reset_out_requested {
            // Only a reset we asked for counts; a late confirmation of a
            // previous channel's reset on this stream is ignored.
            ch.reset_out_done = true;
        }
        if ch.reset_in && ch.reset_out_done {
            self.set_closed(id);
        }
    }

    /// A stream reset completed whose direction the caller does not know
    /// (the C API's `xDataChannelMgrOnStreamClose` carries only the stream
    /// id). A channel that has not asked to reset its outgoing side takes it
    /// as the peer's reset (and answers with its own); one that has asked
    /// takes the first as the confirmation of its own and the next as the
    /// peer's. After both, the channel is Closed, whichever came first.
    pub fn handle_stream_closed(&mut self, stream: u16) {
        let Some(ch) = self
            .streams
            .get(&stream)
            .and_then(|id| self.channels.get(id))
        else {
            return;
        };
        let incoming = !ch.reset_out_requested || ch.reset_out_done;
        self.handle_stream_reset(stream, incoming);
    }

    /// Queues a message. Fails when the channel is not Open, when the
    /// message exceeds the peer's max-message-size (`TooLarge`), or on
    /// back-pressure (`QueueFull`). Every byte counts toward the buffered
    /// amount until [`Self::on_sent`] reports it.
    pub fn send(
        &mut self,
        id: ChannelId,
        kind: MessageKind,
        data: &[u8],
    ) -> Result<(), ChannelError> {
        let ch = self
            .channels
            .get_mut(&id)
            .ok_or(ChannelError::UnknownChannel)?;
        if ch.state != ChannelState::Open {
            return Err(ChannelError::NotOpen(ch.state));
        }
        let max = self.remote_max_message_size;
        if max != 0 && data.len() > max {
            return Err(ChannelError::TooLarge {
                size: data.len(),
                max,
            });
        }
        if self.queued_user >= self.limits.max_queued_sends
            || (ch.buffered > 0
                && ch.buffered.saturating_add(data.len()) > self.limits.max_buffered_amount)
        {
            return Err(ChannelError::QueueFull);
        }
        let Some(stream) = ch.stream else {
            return Err(ChannelError::NotOpen(ch.state));
        };
        let (ppid, payload) = match (kind, data.is_empty()) {
            (MessageKind::Text, false) => (PPID_STRING, data.to_vec()),
            (MessageKind::Binary, false) => (PPID_BINARY, data.to_vec()),
            // SCTP cannot carry an empty message: one zero byte stands in.
            (MessageKind::Text, true) => (PPID_STRING_EMPTY, vec![0]),
            (MessageKind::Binary, true) => (PPID_BINARY_EMPTY, vec![0]),
        };
        ch.buffered += data.len();
        ch.traffic.messages_sent += 1;
        ch.traffic.bytes_sent += data.len() as u64;
        self.queued_user += 1;
        self.send_queue.push_back(SctpSend {
            stream,
            ppid,
            data: payload,
            ordered: ch.ordered,
            reliability: ch.reliability,
            counted: data.len(),
        });
        Ok(())
    }

    /// Starts closing. Before the channel ever reached the wire it is
    /// Closed at once; otherwise it goes Closing and our outgoing stream is
    /// reset. No-op for unknown, Closing and Closed channels.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn close(&mut self, id: ChannelId) {
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        match ch.state {
            ChannelState::Closing | ChannelState::Closed => {}
            ChannelState::Connecting if ch.stream.is_none() || ch.negotiated => {
                self.set_closed(id);
            }
            ChannelState::Connecting if ch.open_queued => {
                let stream = ch.stream;
                ch.open_queued = false;
                self.send_queue
                    .retain(|s| !(Some(s.stream) == stream && s.ppid == PPID_DCEP));
                self.set_closed(id);
            }
            ChannelState::Connecting | ChannelState::Open => {
                ch.state = ChannelState::Closing;
                self.events.push_back(ChannelEvent::Closing(id));
                if !ch.reset_out_requested {
                    ch.reset_out_requested = true;
                    if let Some(stream) = ch.stream {
                        self.reset_queue.push_back(stream);
                    }
                }
            }
        }
    }

    fn set_closed(&mut self, id: ChannelId) {
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        if ch.state == ChannelState::Closed {
            return;
        }
        ch.state = ChannelState::Closed;
        if let Some(stream) = ch.stream {
            if self.streams.get(&stream) == Some(&id) {
                self.streams.remove(&stream);
            }
        }
        self.live -= 1;
        self.events.push_back(ChannelEvent::Closed(id));
    }

    /// Forgets a Closed channel (its id becomes unknown). Returns false, and
    /// keeps it, if the channel is not Closed.
    pub fn remove(&mut self, id: ChannelId) -> bool {
        match self.channels.get(&id) {
            Some(ch) if ch.state == ChannelState::Closed => {
                self.channels.remove(&id);
                true
            }
            _ => false,
        }
    }

    /// The next message the SCTP layer must send, without taking it (to
    /// check it fits the SCTP send buffer first).
    pub fn peek_sctp_send(&self) -> Option<&SctpSend> {
        self.send_queue.front()
    }

    /// Messages waiting for [`Self::poll_sctp_send`].
    pub fn queued_sctp_sends(&self) -> usize {
        self.send_queue.len()
    }

    /// Takes the next message the SCTP layer must send. DCEP messages are
    /// always ordered and reliable.
    pub fn poll_sctp_send(&mut self) -> Option<SctpSend> {
        let send = self.send_queue.pop_front()?;
        if send.ppid == PPID_DCEP {
            if send.data.first() == Some(&MSG_OPEN) {
                if let Some(ch) = self
                    .streams
                    .get(&send.stream)
                    .and_then(|id| self.channels.get_mut(id))
                {
                    ch.open_queued = false;
                }
            }
        } else {
            self.queued_user -= 1;
        }
        Some(send)
    }

    /// The next outgoing stream reset to request. A reset waits while
    /// messages for its stream are still in the send queue.
    pub fn poll_stream_reset(&mut self) -> Option<u16> {
        let pos = self
            .reset_queue
            .iter()
            .position(|&stream| !self.send_queue.iter().any(|s| s.stream == stream))?;
        self.reset_queue.remove(pos)
    }

    /// The SCTP layer has taken care of `bytes` (the [`SctpSend::counted`]
    /// of messages) on `stream`: the buffered amount drops, and crossing the
    /// low threshold from above emits [`ChannelEvent::BufferedAmountLow`].
    pub fn on_sent(&mut self, stream: u16, bytes: usize) {
        let Some(&id) = self.streams.get(&stream) else {
            return;
        };
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        let before = ch.buffered;
        ch.buffered = before.saturating_sub(bytes);
        if before > ch.threshold && ch.buffered <= ch.threshold {
            self.events.push_back(ChannelEvent::BufferedAmountLow(id));
        }
    }

    /// Next event, oldest first.
    pub fn poll_event(&mut self) -> Option<ChannelEvent> {
        let ev = self.events.pop_front()?;
        if log::log_enabled!(target: "dc", log::Level::Info) {
            self.log_event(&ev);
        }
        Some(ev)
    }

    fn log_event(&self, ev: &ChannelEvent) {
        let name = |id: &ChannelId| {
            let label = self.label(*id).unwrap_or("?");
            match self.stream_id(*id) {
                Some(s) => format!("\"{label}\" (stream {s})"),
                None => format!("\"{label}\""),
            }
        };
        match ev {
            ChannelEvent::Open(id) => log::info!(target: "dc", "channel {} open", name(id)),
            ChannelEvent::RemoteOpen(id) => {
                log::info!(target: "dc", "channel {} opened by the peer", name(id));
            }
            ChannelEvent::Closing(id) => log::debug!(target: "dc", "channel {} closing", name(id)),
            ChannelEvent::Closed(id) => log::info!(target: "dc", "channel {} closed", name(id)),
            // Expected when the connection closes; the cause is logged by
            // the layer that lost it.
            ChannelEvent::Error(id, ChannelError::AssociationLost) => {
                log::debug!(target: "dc", "channel {}: association gone", name(id));
            }
            ChannelEvent::Error(id, e) => log::warn!(target: "dc", "channel {}: {e}", name(id)),
            ChannelEvent::Message(..) | ChannelEvent::BufferedAmountLow(_) => {}
        }
    }

    /// Takes the oldest received message of the channel.
    pub fn recv(&mut self, id: ChannelId) -> Option<(MessageKind, Vec<u8>)> {
        let ch = self.channels.get_mut(&id)?;
        let msg = ch.recv.pop_front()?;
        ch.recv_bytes -= msg.1.len();
        self.recv_queued -= msg.1.len() + RECV_MESSAGE_COST;
        ch.overflow_reported = false;
        Some(msg)
    }

    /// Length of the oldest received message, if any.
    pub fn peek_message_len(&self, id: ChannelId) -> Option<usize> {
        self.channels.get(&id)?.recv.front().map(|m| m.1.len())
    }

    pub fn state(&self, id: ChannelId) -> Option<ChannelState> {
        self.channels.get(&id).map(|ch| ch.state)
    }

    pub fn label(&self, id: ChannelId) -> Option<&str> {
        self.channels.get(&id).map(|ch| ch.label.as_str())
    }

    pub fn protocol(&self, id: ChannelId) -> Option<&str> {
        self.channels.get(&id).map(|ch| ch.protocol.as_str())
    }

    /// The SCTP stream id, once assigned.
    pub fn stream_id(&self, id: ChannelId) -> Option<u16> {
        self.channels.get(&id).and_then(|ch| ch.stream)
    }

    pub fn ordered(&self, id: ChannelId) -> Option<bool> {
        self.channels.get(&id).map(|ch| ch.ordered)
    }

    pub fn reliability(&self, id: ChannelId) -> Option<Reliability> {
        self.channels.get(&id).map(|ch| ch.reliability)
    }

    pub fn priority(&self, id: ChannelId) -> Option<u16> {
        self.channels.get(&id).map(|ch| ch.priority)
    }

    pub fn negotiated(&self, id: ChannelId) -> Option<bool> {
        self.channels.get(&id).map(|ch| ch.negotiated)
    }

    /// Bytes handed to `send` and not yet reported by `on_sent` (0 for an
    /// unknown channel).
    /// Messages and bytes sent and received on the channel.
    pub fn traffic(&self, id: ChannelId) -> Option<ChannelTraffic> {
        self.channels.get(&id).map(|c| c.traffic)
    }

    /// Channels in state Open.
    pub fn open_channels(&self) -> usize {
        self.channels
            .values()
            .filter(|c| c.state == ChannelState::Open)
            .count()
    }

    pub fn buffered_amount(&self, id: ChannelId) -> usize {
        self.channels.get(&id).map_or(0, |ch| ch.buffered)
    }

    pub fn buffered_amount_low_threshold(&self, id: ChannelId) -> usize {
        self.channels.get(&id).map_or(0, |ch| ch.threshold)
    }

    /// Sets the threshold (default 0). Setting it does not emit an event by
    /// itself; the next crossing does.
    pub fn set_buffered_amount_low_threshold(&mut self, id: ChannelId, threshold: usize) {
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.threshold = threshold;
        }
    }
}

fn dcep_send(stream: u16, data: Vec<u8>) -> SctpSend {
    SctpSend {
        stream,
        ppid: PPID_DCEP,
        data,
        ordered: true,
        reliability: Reliability::Reliable,
        counted: 0,
    }
}

/// A received message, borrowed or owned by the caller.
enum Payload<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Payload<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Borrowed(d) => d,
            Payload::Owned(v) => v,
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn into_vec(self) -> Vec<u8> {
        match self {
            Payload::Borrowed(d) => d.to_vec(),
            Payload::Owned(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{DEFAULT_REMOTE_MAX_MESSAGE_SIZE, LOCAL_MAX_MESSAGE_SIZE};

    fn mgr(role: DtlsRole) -> ChannelManager {
        let mut m = ChannelManager::new(DEFAULT_REMOTE_MAX_MESSAGE_SIZE, LOCAL_MAX_MESSAGE_SIZE);
        m.set_role(role);
        m
    }

    /// A DCEP OPEN of a reliable, ordered channel `label` without protocol.
    fn open_msg(label: &str) -> Vec<u8> {
        DcepMessage::Open(DcepOpen {
            channel_type: ChannelType::default(),
            priority: 0,
            label: label.into(),
            protocol: String::new(),
        })
        .encode()
        .unwrap()
    }

    fn drain(m: &mut ChannelManager) -> Vec<ChannelEvent> {
        std::iter::from_fn(|| m.poll_event()).collect()
    }

    #[test]
    fn channel_ids_follow_dtls_role() {
        let mut client = mgr(DtlsRole::Client);
        let mut server = mgr(DtlsRole::Server);
        let c: Vec<_> = (0..3)
            .map(|_| client.create_channel(ChannelConfig::new("c")).unwrap())
            .collect();
        let s: Vec<_> = (0..3)
            .map(|_| server.create_channel(ChannelConfig::new("s")).unwrap())
            .collect();
        assert!(c.iter().all(|&id| client.stream_id(id).is_none()));
        client.association_up(16).unwrap();
        server.association_up(16).unwrap();
        let cs: Vec<_> = c.iter().map(|&id| client.stream_id(id).unwrap()).collect();
        let ss: Vec<_> = s.iter().map(|&id| server.stream_id(id).unwrap()).collect();
        assert_eq!(cs, [0, 2, 4]);
        assert_eq!(ss, [1, 3, 5]);
    }

    #[test]
    fn channel_association_up_needs_role() {
        let mut m = ChannelManager::new(0, 0);
        assert_eq!(m.association_up(8), Err(ChannelError::RoleNotSet));
        assert!(!m.is_up());
    }

    #[test]
    fn channel_allocation_skips_negotiated_ids_and_runs_out() {
        let mut m = mgr(DtlsRole::Client);
        let neg = m
            .create_channel(ChannelConfig {
                negotiated_id: Some(0),
                ..ChannelConfig::new("n")
            })
            .unwrap();
        let a = m.create_channel(ChannelConfig::new("a")).unwrap();
        let b = m.create_channel(ChannelConfig::new("b")).unwrap();
        m.association_up(4).unwrap();
        assert_eq!(m.stream_id(neg), Some(0));
        assert_eq!(m.state(neg), Some(ChannelState::Open));
        assert_eq!(m.stream_id(a), Some(2));
        assert_eq!(m.state(b), Some(ChannelState::Closed));
        let events = drain(&mut m);
        assert!(events.contains(&ChannelEvent::Error(b, ChannelError::NoStreamAvailable)));
        assert!(events.contains(&ChannelEvent::Closed(b)));
        assert_eq!(
            m.create_channel(ChannelConfig::new("c")),
            Err(ChannelError::NoStreamAvailable)
        );
    }

    #[test]
    fn channel_close_before_open_is_immediate() {
        let mut m = mgr(DtlsRole::Server);
        let early = m.create_channel(ChannelConfig::new("early")).unwrap();
        m.close(early);
        assert_eq!(m.state(early), Some(ChannelState::Closed));
        m.association_up(8).unwrap();
        let queued = m.create_channel(ChannelConfig::new("q")).unwrap();
        m.close(queued);
        assert_eq!(m.state(queued), Some(ChannelState::Closed));
        assert!(m.poll_sctp_send().is_none());
        assert!(m.poll_stream_reset().is_none());
        assert!(m.remove(early));
        assert_eq!(m.state(early), None);
    }

    #[test]
    fn channel_reset_waits_for_queued_data() {
        let mut m = mgr(DtlsRole::Client);
        let id = m.create_channel(ChannelConfig::new("x")).unwrap();
        m.association_up(8).unwrap();
        let open = m.poll_sctp_send().unwrap();
        assert_eq!(open.ppid, PPID_DCEP);
        m.handle_sctp_message(0, PPID_DCEP, &[0x02]);
        assert_eq!(m.state(id), Some(ChannelState::Open));
        m.send(id, MessageKind::Text, b"bye").unwrap();
        m.close(id);
        assert_eq!(m.poll_stream_reset(), None);
        assert_eq!(m.poll_sctp_send().unwrap().data, b"bye");
        assert_eq!(m.poll_stream_reset(), Some(0));
    }

    #[test]
    fn channel_open_on_a_closing_stream_finishes_the_old_channel() {
        let mut m = mgr(DtlsRole::Server);
        m.association_up(8).unwrap();
        let open = open_msg("old");
        m.handle_sctp_message(0, PPID_DCEP, &open);
        let old = m.channel_by_stream(0).unwrap();
        assert_eq!(m.poll_sctp_send().unwrap().data, [0x02]);
        m.handle_stream_reset(0, true);
        assert_eq!(m.state(old), Some(ChannelState::Closing));
        // While our reset has not even been requested, the OPEN is ignored.
        m.handle_sctp_message(0, PPID_DCEP, &open);
        assert_eq!(m.channel_by_stream(0), Some(old));
        assert_eq!(m.stats().unexpected_dcep, 1);
        assert_eq!(m.poll_stream_reset(), Some(0));
        m.handle_sctp_message(0, PPID_DCEP, &open);
        let new = m.channel_by_stream(0).unwrap();
        assert_ne!(new, old);
        assert_eq!(m.state(old), Some(ChannelState::Closed));
        assert_eq!(m.state(new), Some(ChannelState::Open));
        assert_eq!(m.live_channels(), 1);
        assert!(drain(&mut m).contains(&ChannelEvent::Closed(old)));
        // The late confirmation of the old reset does not touch the new one.
        m.handle_stream_reset(0, false);
        assert_eq!(m.state(new), Some(ChannelState::Open));
        assert_eq!(m.poll_sctp_send().unwrap().data, [0x02]);
        m.handle_stream_reset(0, true);
        assert_eq!(m.state(new), Some(ChannelState::Closing));
        assert_eq!(m.poll_stream_reset(), Some(0));
        m.handle_stream_reset(0, false);
        assert_eq!(m.state(new), Some(ChannelState::Closed));
    }

    #[test]
    fn channel_stream_close_without_direction_closes_both_ways() {
        // We close: our reset's confirmation, then the peer's reset.
        let mut m = mgr(DtlsRole::Client);
        let id = m.create_channel(ChannelConfig::new("x")).unwrap();
        m.association_up(8).unwrap();
        m.poll_sctp_send().unwrap();
        m.handle_sctp_message(0, PPID_DCEP, &[0x02]);
        m.close(id);
        assert_eq!(m.poll_stream_reset(), Some(0));
        m.handle_stream_closed(0);
        assert_eq!(m.state(id), Some(ChannelState::Closing));
        m.handle_stream_closed(0);
        assert_eq!(m.state(id), Some(ChannelState::Closed));
        // The peer closes: its reset, then the confirmation of ours.
        let mut m = mgr(DtlsRole::Server);
        m.association_up(8).unwrap();
        let open = open_msg("r");
        m.handle_sctp_message(0, PPID_DCEP, &open);
        let id = m.channel_by_stream(0).unwrap();
        m.poll_sctp_send().unwrap();
        m.handle_stream_closed(0);
        assert_eq!(m.state(id), Some(ChannelState::Closing));
        assert_eq!(m.poll_stream_reset(), Some(0), "answers with its own reset");
        m.handle_stream_closed(0);
        assert_eq!(m.state(id), Some(ChannelState::Closed));
        assert!(drain(&mut m).contains(&ChannelEvent::Closed(id)));
        // A stream without a channel is ignored.
        m.handle_stream_closed(7);
    }

    #[test]
    fn reliable_channel_recv_queue_never_drops() {
        let mut m = mgr(DtlsRole::Server);
        m.set_limits(Limits {
            max_recv_messages: 2,
            max_recv_bytes: 4,
            ..Limits::default()
        });
        m.association_up(8).unwrap();
        m.handle_sctp_message(0, PPID_DCEP, &open_msg("r"));
        let id = m.channel_by_stream(0).unwrap();
        for _ in 0..10 {
            m.handle_sctp_message(0, PPID_BINARY, b"abc");
        }
        assert_eq!(m.stats().recv_overflow, 0);
        assert_eq!(m.recv_queued(), 10 * (3 + RECV_MESSAGE_COST));
        for _ in 0..10 {
            assert_eq!(m.recv(id), Some((MessageKind::Binary, b"abc".to_vec())));
        }
        assert_eq!(m.recv(id), None);
        assert_eq!(m.recv_queued(), 0);
    }

    /// An owned message is queued as it is: the application receives the
    /// very buffer SCTP handed over, not a copy.
    #[test]
    fn owned_messages_are_queued_without_a_copy() {
        let mut m = mgr(DtlsRole::Server);
        m.association_up(8).unwrap();
        m.handle_sctp_message(0, PPID_DCEP, &open_msg("o"));
        let id = m.channel_by_stream(0).unwrap();
        let msg = vec![7u8; 65536];
        let at = msg.as_ptr();
        m.handle_sctp_message_owned(0, PPID_BINARY, msg);
        m.handle_sctp_message_owned(0, PPID_BINARY_EMPTY, vec![0]);
        let (kind, got) = m.recv(id).unwrap();
        assert_eq!((kind, got.len()), (MessageKind::Binary, 65536));
        assert_eq!(got.as_ptr(), at);
        assert_eq!(m.recv(id), Some((MessageKind::Binary, Vec::new())));
        assert_eq!(m.recv_queued(), 0);
    }

    #[test]
    fn unreliable_channel_recv_queue_is_bounded() {
        let mut m = mgr(DtlsRole::Server);
        m.set_limits(Limits {
            max_recv_messages: 2,
            ..Limits::default()
        });
        m.association_up(8).unwrap();
        let open = DcepMessage::Open(DcepOpen {
            channel_type: ChannelType {
                reliability: Reliability::MaxRetransmits(0),
                ordered: false,
            },
            priority: 0,
            label: "r".into(),
            protocol: String::new(),
        })
        .encode()
        .unwrap();
        m.handle_sctp_message(0, PPID_DCEP, &open);
        let id = m.channel_by_stream(0).unwrap();
        for _ in 0..4 {
            m.handle_sctp_message(0, PPID_BINARY, b"abc");
        }
        assert_eq!(m.stats().recv_overflow, 2);
        let errors = drain(&mut m)
            .into_iter()
            .filter(|e| matches!(e, ChannelEvent::Error(_, ChannelError::RecvQueueFull)))
            .count();
        assert_eq!(errors, 1);
        assert_eq!(m.peek_message_len(id), Some(3));
        assert_eq!(m.recv(id), Some((MessageKind::Binary, b"abc".to_vec())));
        assert_eq!(m.recv(id), Some((MessageKind::Binary, b"abc".to_vec())));
        assert_eq!(m.recv(id), None);
        assert_eq!(m.peek_message_len(id), None);
    }
}
