//! SCTP over DTLS (RFC 8261) for DataChannels, on usrsctp.
//!
//! [`SctpAssociation`] is one association per DTLS connection, shaped like
//! the other sans-IO layers: decrypted DTLS payloads go in through
//! [`SctpAssociation::handle_packet`], SCTP packets to encrypt come out of
//! [`SctpAssociation::poll_transmit`], events out of
//! [`SctpAssociation::poll_event`], whole messages out of
//! [`SctpAssociation::recv`], and [`SctpAssociation::poll_timeout`] says when
//! to call [`SctpAssociation::handle_timeout`].
//!
//! usrsctp reads the real clock for RTT measurement and has no "next timer"
//! query in 0.9.5, so the association asks to be woken every
//! [`SctpConfig::timer_interval`] while it is alive, and each wake advances
//! usrsctp's (global) timer wheel by the time elapsed since the last advance
//! by any association.
//!
//! Both sides call `connect` (an SCTP simultaneous open, as browsers do), so
//! there is no client/server distinction at this layer.
//!
//! usrsctp's timers are global: a timer firing during one association's call
//! may queue packets or events for another association. Those wait in the
//! other association's outbox until it is next polled, which its own
//! `poll_timeout` bounds.

mod checksum;

/// Fuzzing hook: fills in the CRC32c of `packet`, so that fuzzed bytes get
/// past the checksum to usrsctp's parser.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn fuzz_seal(packet: &mut [u8]) {
    checksum::seal(packet);
}
mod config;
mod options;
mod stack;

pub use config::{
    CongestionControl, Reliability, ResetDirection, SctpConfig, SctpError, SctpEvent,
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_STREAMS, DEFAULT_PORT,
};
pub(crate) use options::max_chunks_on_queue;
use options::{configure_socket, errno, is_would_block, set_opt, set_path_params, set_sack_policy};

pub use stack::{data_activity_pending, has_ticked, take_data_activity, take_woken, tick};

use crate::idhash::IdMap;
use std::collections::VecDeque;
use std::fmt;
use std::mem::size_of;
use std::time::{Duration, Instant};

use libc::{c_int, c_uint, c_void, socklen_t};
use usrsctp_sys as sys;

/// Where the association is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Connecting,
    Connected,
    /// Lost, shut down or closed: no more timers.
    Done,
}

/// The chunk type of an SCTP ABORT (RFC 9260 §3.3.7).
const ABORT_CHUNK_TYPE: u8 = 6;
/// Size of the buffer each `usrsctp_recvv` reads into; larger messages
/// arrive in several reads and are reassembled.
const READ_CHUNK: usize = 64 * 1024;
/// A message read whole takes the read buffer itself from this size on;
/// a smaller one is copied out (a 64 KiB buffer per small message would
/// waste memory).
const HAND_OVER_FROM: usize = 4096;
/// What one whole message read costs against the read budget on top of
/// its bytes (as the channel layer counts what waits for the application).
const READ_MESSAGE_COST: usize = 64;
/// Notifications larger than this (a send-failed event carries the unsent
/// payload) are only decoded from their first bytes.
const NOTIFICATION_KEEP: usize = 256;

/// One SCTP association on an AF_CONN usrsctp socket.
pub struct SctpAssociation {
    id: usize,
    sock: *mut sys::socket,
    cfg: SctpConfig,
    state: State,
    last_now: Option<Instant>,
    events: VecDeque<SctpEvent>,
    inbox: VecDeque<(u16, u32, Vec<u8>)>,
    /// Message being reassembled per stream: (ppid, bytes, too large).
    partial: IdMap<u16, (u32, Vec<u8>, bool)>,
    /// Notification being reassembled.
    notification: Vec<u8>,
    read_buf: Vec<u8>,
    outbound_streams: u16,
    /// Bytes handed to usrsctp and not yet known to be acknowledged.
    buffered: usize,
    /// A send hit `WouldBlock`; report `Writable` when room comes back.
    blocked: bool,
    /// Size of the message refused with `WouldBlock`: `Writable` waits
    /// until usrsctp's send buffer has room for it (usrsctp's own
    /// writability only means "some room", which a large message may not
    /// fit; reporting it sent callers into a loop of refused sends).
    blocked_need: usize,
    /// What usrsctp had queued when that message was refused: `Writable`
    /// also waits for some of it to be acknowledged, so a refusal for
    /// another reason (usrsctp's limit on queued chunks) costs one retry
    /// per acknowledgement at most.
    blocked_queued: usize,
    /// usrsctp's send buffer limit (`SO_SNDBUF` as it reads back).
    send_limit: usize,
    /// Sends refused with `WouldBlock`.
    sends_refused: u64,
    /// Payload bytes copied from the read buffer into messages.
    payload_bytes_copied: u64,
    /// Outgoing resets not yet accepted by usrsctp (one may be in flight).
    pending_resets: Vec<u16>,
    /// Messages dropped for exceeding `max_message_size`.
    dropped_oversize: u64,
    /// Packets dropped for a wrong checksum or a truncated header.
    dropped_bad_checksum: u64,
    /// DATA chunks sent again (a TSN not above the highest sent before).
    retransmitted_chunks: u64,
    /// The highest TSN sent so far.
    highest_tsn: Option<u32>,
    /// Timers advanced by [`tick`], not by our own deadline.
    ticked: bool,
    /// Payload bytes this association may still read from usrsctp (`None`:
    /// no limit). At zero it stops reading, so usrsctp's receive buffer
    /// fills and the window it advertises to the peer closes.
    read_budget: Option<usize>,
}

/// The association's transport state as usrsctp reports it
/// (`SCTP_STATUS`), and our own counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SctpStats {
    /// Smoothed round-trip time of the primary path, milliseconds.
    pub srtt_ms: u32,
    /// Retransmission timeout, milliseconds.
    pub rto_ms: u32,
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// The peer's receive window, bytes.
    pub peer_rwnd: u32,
    /// The path MTU usrsctp uses (SCTP packet size).
    pub mtu: u32,
    /// DATA chunks sent but not acknowledged, and waiting to be sent.
    pub unacked_chunks: u16,
    pub pending_chunks: u16,
    /// DATA chunks retransmitted (fast or on timeout).
    pub retransmitted_chunks: u64,
    /// Received packets dropped for a bad checksum; messages dropped for
    /// exceeding the maximum message size.
    pub dropped_bad_checksum: u64,
    pub dropped_oversize: u64,
    /// Sends refused with `WouldBlock` (each refused message counts once
    /// per attempt: a sender that retries only after
    /// [`SctpEvent::Writable`] sees about one per blocking).
    pub sends_refused: u64,
    /// Payload bytes copied out of usrsctp's read buffer into messages: a
    /// message read whole from 4 KiB on takes the buffer itself and
    /// counts nothing; smaller ones and messages read in parts are copied.
    pub payload_bytes_copied: u64,
}

// SAFETY: the socket pointer is only ever used under the global usrsctp
// lock, from whichever thread owns the association; usrsctp keeps no
// thread affinity in no-threads mode.
unsafe impl Send for SctpAssociation {}

impl fmt::Debug for SctpAssociation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SctpAssociation")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("buffered", &self.buffered)
            .finish_non_exhaustive()
    }
}

impl SctpAssociation {
    /// Creates the association's socket with every option set; nothing is
    /// sent until [`start`](Self::start).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(mut cfg: SctpConfig) -> Result<Self, SctpError> {
        crate::logging::init();
        if cfg.zero_checksum {
            return Err(SctpError::Unsupported("zero checksum in usrsctp 0.9.5"));
        }
        if cfg.local_port == 0 {
            cfg.local_port = DEFAULT_PORT;
        }
        if cfg.remote_port == 0 {
            cfg.remote_port = DEFAULT_PORT;
        }
        cfg.max_streams = cfg.max_streams.max(1);
        cfg.max_message_size = cfg.max_message_size.max(1);
        cfg.send_space = cfg.send_space.max(cfg.max_message_size);
        cfg.recv_space = cfg.recv_space.max(cfg.max_message_size);
        cfg.timer_interval = cfg.timer_interval.max(Duration::from_millis(1));
        let settings = stack::GlobalSettings {
            send_space: cfg.send_space.min(u32::MAX as usize) as u32,
            recv_space: cfg.recv_space.min(u32::MAX as usize) as u32,
            max_streams: cfg.max_streams,
            initial_cwnd: cfg.initial_cwnd,
            max_chunks_on_queue: max_chunks_on_queue(cfg.send_space, cfg.recv_space),
        };
        let id = stack::next_id();
        let _guard = stack::lock(&settings);
        stack::register(id);
        // SAFETY: under the usrsctp lock; the id is registered before the
        // address so every callback for it finds its shared state.
        let sock = unsafe {
            sys::usrsctp_register_address(stack::id_ptr(id));
            sys::usrsctp_socket(
                sys::AF_CONN,
                sys::SOCK_STREAM,
                sys::IPPROTO_SCTP,
                None,
                None,
                0,
                std::ptr::null_mut(),
            )
        };
        if sock.is_null() {
            let e = errno();
            // SAFETY: under the usrsctp lock.
            unsafe { sys::usrsctp_deregister_address(stack::id_ptr(id)) };
            stack::unregister(id);
            return Err(SctpError::Socket(e));
        }
        // SAFETY: `sock` is live and the lock held.
        if let Err(e) = unsafe { configure_socket(sock, id, &cfg) } {
            // SAFETY: as above; the socket is not used afterwards.
            unsafe {
                sys::usrsctp_close(sock);
                sys::usrsctp_deregister_address(stack::id_ptr(id));
            }
            stack::unregister(id);
            return Err(e);
        }
        let mut limit: c_int = 0;
        let mut len = size_of::<c_int>() as socklen_t;
        // SAFETY: `sock` is live and the lock held; `limit` is sized as
        // passed.
        let r = unsafe {
            sys::usrsctp_getsockopt(
                sock,
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&mut limit as *mut c_int).cast(),
                &mut len,
            )
        };
        let send_limit = if r == 0 && limit > 0 {
            limit as usize
        } else {
            cfg.send_space
        };
        Ok(SctpAssociation {
            id,
            sock,
            outbound_streams: cfg.max_streams,
            cfg,
            state: State::New,
            last_now: None,
            events: VecDeque::new(),
            inbox: VecDeque::new(),
            partial: IdMap::default(),
            notification: Vec::new(),
            read_buf: Vec::with_capacity(READ_CHUNK),
            buffered: 0,
            blocked: false,
            blocked_need: 0,
            blocked_queued: 0,
            send_limit,
            sends_refused: 0,
            payload_bytes_copied: 0,
            pending_resets: Vec::new(),
            dropped_oversize: 0,
            dropped_bad_checksum: 0,
            retransmitted_chunks: 0,
            highest_tsn: None,
            ticked: false,
            read_budget: None,
        })
    }

    /// The association's id: its AF_CONN address inside usrsctp.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The configuration in effect (after defaults were filled in).
    pub fn config(&self) -> &SctpConfig {
        &self.cfg
    }

    /// A send failed with [`SctpError::WouldBlock`] and
    /// [`SctpEvent::Writable`] has not been reported since: another send
    /// would only fail again.
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Whether the association is established.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Sets the largest message sent or accepted (the smaller of ours and
    /// the peer's `a=max-message-size`; 0 from the peer means "no limit",
    /// so pass ours then).
    pub fn set_max_message_size(&mut self, max: usize) {
        self.cfg.max_message_size = max.max(1);
    }

    /// Changes the path MTU of the established (or establishing)
    /// association: packets built from now on, retransmissions included,
    /// fit `mtu` bytes. DATA chunks keep the size the creation MTU gave
    /// them (see [`SctpConfig::mtu`]).
    pub fn set_mtu(&mut self, mtu: u16) -> Result<(), SctpError> {
        if self.sock.is_null() || self.state == State::New || self.state == State::Done {
            return Err(SctpError::NotConnected);
        }
        let _stack = stack::lock_initialised();
        let mut cfg = self.cfg.clone();
        cfg.mtu = mtu;
        let remote = self.sockaddr(self.cfg.remote_port);
        // SAFETY: live socket under the lock; the association exists.
        unsafe {
            set_path_params(self.sock, &cfg, &remote)?;
            set_sack_policy(self.sock, cfg.sack_delay, mtu)?;
        }
        self.cfg.mtu = mtu;
        Ok(())
    }

    /// `SCTP_NODELAY` on (the default: every send goes out at once) or off
    /// (Nagle: while data is in flight, small sends wait to fill a
    /// packet). The PeerConnection turns it off while it hands over a batch
    /// of messages and on again for the batch's last one, which sends what
    /// is held, so a batch is bundled into few packets.
    pub fn set_nodelay(&mut self, on: bool) -> Result<(), SctpError> {
        if self.sock.is_null() {
            return Err(SctpError::NotConnected);
        }
        let v: c_int = c_int::from(on);
        let _stack = stack::lock_initialised();
        // SAFETY: live socket under the lock.
        unsafe {
            set_opt(
                self.sock,
                sys::IPPROTO_SCTP,
                sys::SCTP_NODELAY,
                "SCTP_NODELAY",
                &v,
            )
        }
    }

    /// Binds our port and connects to the peer's; the handshake packets
    /// come out of [`poll_transmit`](Self::poll_transmit).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn start(&mut self, now: Instant) -> Result<(), SctpError> {
        if self.state != State::New {
            return Ok(());
        }
        log::info!(target: "sctp", "association starting: port {} to {}, packets up to {} bytes", self.cfg.local_port, self.cfg.remote_port, self.cfg.mtu);
        self.last_now = Some(now);
        {
            let mut stack = stack::lock_initialised();
            if !self.ticked {
                stack.advance_timers(now);
            }
            let mut local = self.sockaddr(self.cfg.local_port);
            let mut remote = self.sockaddr(self.cfg.remote_port);
            let len = size_of::<sys::sockaddr_conn>() as socklen_t;
            // SAFETY: live socket under the lock; the addresses outlive the calls.
            unsafe {
                if sys::usrsctp_bind(
                    self.sock,
                    (&mut local as *mut sys::sockaddr_conn).cast(),
                    len,
                ) < 0
                {
                    return Err(SctpError::Connect(errno()));
                }
                let r = sys::usrsctp_connect(
                    self.sock,
                    (&mut remote as *mut sys::sockaddr_conn).cast(),
                    len,
                );
                if r < 0 && errno() != libc::EINPROGRESS {
                    return Err(SctpError::Connect(errno()));
                }
                // Path parameters exist once the association does.
                set_path_params(self.sock, &self.cfg, &remote)?;
            }
            self.state = State::Connecting;
        }
        self.drain();
        Ok(())
    }

    /// Feeds one SCTP packet (a decrypted DTLS record). Malformed packets
    /// are dropped by usrsctp.
    pub fn handle_packet(&mut self, now: Instant, data: &[u8]) {
        self.last_now = Some(now);
        if data.is_empty() || self.state == State::New {
            return;
        }
        if !checksum::verify(data) {
            log::debug!(target: "sctp", "dropped a packet of {} bytes: bad checksum", data.len());
            self.dropped_bad_checksum += 1;
            return;
        }
        {
            let mut stack = stack::lock_initialised();
            // A ticked association leaves the (process-wide) timers to
            // `tick`: each advance walks every pending usrsctp timer.
            if !self.ticked {
                stack.advance_timers(now);
            }
            // SAFETY: under the lock; usrsctp copies the packet.
            unsafe {
                sys::usrsctp_conninput(stack::id_ptr(self.id), data.as_ptr().cast(), data.len(), 0)
            };
        }
        self.drain();
    }

    /// Advances usrsctp's timers to `now` (unless [`tick`] drives them:
    /// see [`set_ticked_by`](Self::set_ticked_by)) and collects what they
    /// produced.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = Some(now);
        if self.state == State::New {
            return;
        }
        if !self.ticked {
            stack::lock_initialised().advance_timers(now);
        }
        self.drain();
    }

    /// The next SCTP packet to encrypt and send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let pkt = stack::with_shared(self.id, |s| s.outbox.pop_front()).flatten()?;
        self.note_sent(&pkt);
        Some(pkt)
    }

    /// Counts the DATA (and I-DATA) chunks of an outgoing packet whose TSN
    /// was sent before: retransmissions.
    fn note_sent(&mut self, pkt: &[u8]) {
        let mut at = 12; // the common header
        while at + 8 <= pkt.len() {
            let kind = pkt[at];
            let len = usize::from(u16::from_be_bytes([pkt[at + 2], pkt[at + 3]]));
            if len < 4 {
                break;
            }
            if kind == 0 || kind == 64 {
                let tsn = u32::from_be_bytes([pkt[at + 4], pkt[at + 5], pkt[at + 6], pkt[at + 7]]);
                match self.highest_tsn {
                    // Serial number arithmetic (RFC 1982).
                    Some(h) if tsn.wrapping_sub(h) as i32 <= 0 => {
                        self.retransmitted_chunks += 1;
                        log::trace!(target: "sctp", "DATA chunk TSN {tsn} retransmitted");
                    }
                    _ => self.highest_tsn = Some(tsn),
                }
            }
            at += (len + 3) & !3;
        }
    }

    /// Transport figures from usrsctp (`SCTP_STATUS`: srtt, cwnd, peer
    /// receive window, path MTU) and our counts; the usrsctp part is zero
    /// before the association is up.
    pub fn stats(&self) -> SctpStats {
        let mut out = SctpStats {
            retransmitted_chunks: self.retransmitted_chunks,
            dropped_bad_checksum: self.dropped_bad_checksum,
            dropped_oversize: self.dropped_oversize,
            sends_refused: self.sends_refused,
            payload_bytes_copied: self.payload_bytes_copied,
            ..SctpStats::default()
        };
        if self.sock.is_null() || self.state != State::Connected {
            return out;
        }
        // SAFETY: all-zero is a valid sctp_status.
        let mut st: sys::sctp_status = unsafe { std::mem::zeroed() };
        let mut len = size_of::<sys::sctp_status>() as socklen_t;
        let r = {
            let _stack = stack::lock_initialised();
            // SAFETY: live socket under the lock; `st` is sized as passed.
            unsafe {
                sys::usrsctp_getsockopt(
                    self.sock,
                    sys::IPPROTO_SCTP,
                    sys::SCTP_STATUS,
                    (&mut st as *mut sys::sctp_status).cast(),
                    &mut len,
                )
            }
        };
        if r == 0 {
            out.srtt_ms = st.sstat_primary.spinfo_srtt;
            out.rto_ms = st.sstat_primary.spinfo_rto;
            out.cwnd = st.sstat_primary.spinfo_cwnd;
            out.mtu = st.sstat_primary.spinfo_mtu;
            out.peer_rwnd = st.sstat_rwnd;
            out.unacked_chunks = st.sstat_unackdata;
            out.pending_chunks = st.sstat_penddata;
        }
        out
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SctpEvent> {
        self.events.pop_front()
    }

    /// The next whole received message: `(stream, ppid, payload)`.
    pub fn recv(&mut self) -> Option<(u16, u32, Vec<u8>)> {
        self.inbox.pop_front()
    }

    /// Limits how many more payload bytes are read from usrsctp (`None`:
    /// unlimited, the default). Each read takes its length (plus 64 for the
    /// end of a message) off the budget
    /// (a read is at most 64 KiB, so the budget is overshot by less than
    /// that); at zero reading stops until a new budget is given, the
    /// messages stay in usrsctp's receive buffer and the peer sees the
    /// window close. Raising the budget reads what is waiting at once.
    /// Only a dead association is read beyond it (to learn that it died).
    pub fn set_read_budget(&mut self, budget: Option<usize>) {
        let was_stopped = self.read_budget == Some(0);
        self.read_budget = budget;
        if was_stopped && budget != Some(0) {
            // Reading resumes: usrsctp sends the window update as we read.
            self.drain_with(true);
        }
    }

    /// The remaining read budget (see [`Self::set_read_budget`]).
    pub fn read_budget(&self) -> Option<usize> {
        self.read_budget
    }

    /// Hands the periodic advance of usrsctp's timers to the caller of
    /// [`tick`], which then calls this association's
    /// [`handle_timeout`](Self::handle_timeout) only when
    /// [`take_woken`] returns `owner`: when usrsctp produced packets or
    /// events for it. [`poll_timeout`](Self::poll_timeout) no longer asks
    /// for the periodic wake, so an idle association costs nothing between
    /// its own usrsctp timers. One driver ticks for every association of
    /// the process this way.
    pub fn set_ticked_by(&mut self, owner: u64) {
        self.ticked = true;
        stack::set_owner(self.id, Some(owner));
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ticked {
            return None;
        }
        match self.state {
            State::Connecting | State::Connected => {
                self.last_now.map(|t| t + self.cfg.timer_interval)
            }
            State::New | State::Done => None,
        }
    }

    /// Packets dropped because their CRC32c did not check out (or they
    /// were shorter than the SCTP common header).
    pub fn dropped_bad_checksum(&self) -> u64 {
        self.dropped_bad_checksum
    }

    /// Bytes handed to usrsctp and not yet acknowledged: usrsctp's own
    /// send-buffer count (`SCTP_GET_SNDBUF_USE`), capped by the payload
    /// bytes sent since the sender last ran dry.
    pub fn buffered_amount(&self) -> usize {
        if self.sock.is_null() || self.buffered == 0 {
            return self.buffered;
        }
        // usrsctp counts a little chunk overhead too; our count is exact for
        // payload, so the smaller of the two is the best bound.
        self.send_queue_use()
            .map_or(self.buffered, |used| self.buffered.min(used))
    }

    /// Sends one whole message. `ordered == false` delivers it as soon as it
    /// arrives; `reliability` bounds its retransmission.
    pub fn send(
        &mut self,
        stream: u16,
        ppid: u32,
        data: &[u8],
        ordered: bool,
        reliability: Reliability,
    ) -> Result<(), SctpError> {
        if self.state != State::Connected {
            return Err(SctpError::NotConnected);
        }
        if data.is_empty() {
            return Err(SctpError::EmptyMessage);
        }
        if data.len() > self.cfg.max_message_size {
            return Err(SctpError::MessageTooLarge {
                size: data.len(),
                max: self.cfg.max_message_size,
            });
        }
        if stream >= self.outbound_streams {
            return Err(SctpError::InvalidStream(stream));
        }
        let (policy, value) = match reliability {
            Reliability::Reliable => (sys::SCTP_PR_SCTP_NONE, 0),
            Reliability::MaxRetransmits(n) => (sys::SCTP_PR_SCTP_RTX, n),
            Reliability::MaxLifetime(ms) => (sys::SCTP_PR_SCTP_TTL, ms),
        };
        let mut spa = sys::sctp_sendv_spa {
            sendv_flags: sys::SCTP_SEND_SNDINFO_VALID,
            sendv_sndinfo: sys::sctp_sndinfo {
                snd_sid: stream,
                snd_flags: if ordered { 0 } else { sys::SCTP_UNORDERED }
                    | if data.len() > usize::from(self.cfg.mtu) {
                        // The message ends in a packet that likely travels
                        // alone: its SACK should not wait for the delayed
                        // SACK timer (RFC 7053 I bit), or a sender whose
                        // window holds a few large packets stalls on it.
                        sys::SCTP_SACK_IMMEDIATELY
                    } else {
                        0
                    },
                // usrsctp carries the PPID bytes as given: network order.
                snd_ppid: ppid.to_be(),
                snd_context: 0,
                snd_assoc_id: 0,
            },
            ..Default::default()
        };
        if policy != sys::SCTP_PR_SCTP_NONE {
            spa.sendv_flags |= sys::SCTP_SEND_PRINFO_VALID;
            spa.sendv_prinfo = sys::sctp_prinfo {
                pr_policy: policy,
                pr_value: value,
            };
        }
        let result = {
            let _stack = stack::lock_initialised();
            // SAFETY: live socket under the lock; `data` and `spa` outlive
            // the call, which copies the payload.
            let n = unsafe {
                sys::usrsctp_sendv(
                    self.sock,
                    data.as_ptr().cast(),
                    data.len(),
                    std::ptr::null_mut(),
                    0,
                    (&mut spa as *mut sys::sctp_sendv_spa).cast(),
                    size_of::<sys::sctp_sendv_spa>() as socklen_t,
                    sys::SCTP_SENDV_SPA,
                    0,
                )
            };
            if n < 0 {
                let e = errno();
                if is_would_block(e) {
                    self.blocked = true;
                    self.blocked_need = data.len();
                    self.sends_refused += 1;
                    Err(SctpError::WouldBlock)
                } else {
                    Err(SctpError::Io(e))
                }
            } else {
                self.buffered += n as usize;
                stack::note_data_activity();
                Ok(())
            }
        };
        if result == Err(SctpError::WouldBlock) {
            self.blocked_queued = self.send_queue_use().unwrap_or(0);
        }
        self.drain();
        result
    }

    /// Resets our outgoing side of `stream` (RFC 6525); the peer sees an
    /// incoming reset. Requests made while another is in flight are queued.
    pub fn reset_stream(&mut self, stream: u16) -> Result<(), SctpError> {
        if self.state != State::Connected {
            return Err(SctpError::NotConnected);
        }
        if stream >= self.outbound_streams {
            return Err(SctpError::InvalidStream(stream));
        }
        if !self.pending_resets.contains(&stream) {
            self.pending_resets.push(stream);
        }
        let r = self.flush_resets();
        self.drain();
        r
    }

    /// Aborts the association and releases the socket. The ABORT for the
    /// peer comes out of [`poll_transmit`](Self::poll_transmit).
    pub fn close(&mut self) {
        if self.sock.is_null() {
            return;
        }
        {
            let _stack = stack::lock_initialised();
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: live socket under the lock; not used after close.
            unsafe {
                let _ = set_opt(
                    self.sock,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    "SO_LINGER",
                    &linger,
                );
                sys::usrsctp_close(self.sock);
            }
        }
        self.sock = std::ptr::null_mut();
        if self.state != State::Done {
            self.state = State::Done;
        }
    }

    fn sockaddr(&self, port: u16) -> sys::sockaddr_conn {
        sys::sockaddr_conn {
            sconn_family: sys::AF_CONN as u16,
            sconn_port: port.to_be(),
            sconn_addr: stack::id_ptr(self.id),
        }
    }

    /// Hands queued outgoing resets to usrsctp, one request for all of them.
    fn flush_resets(&mut self) -> Result<(), SctpError> {
        if self.pending_resets.is_empty() || self.sock.is_null() {
            return Ok(());
        }
        let n = self.pending_resets.len();
        let header = size_of::<sys::sctp_reset_streams>();
        // u32-aligned storage for the header and the stream list.
        let mut buf = vec![0u32; (header + 2 * n).div_ceil(4)];
        let hdr = sys::sctp_reset_streams {
            srs_assoc_id: 0,
            srs_flags: sys::SCTP_STREAM_RESET_OUTGOING,
            srs_number_streams: n as u16,
        };
        // SAFETY: `buf` holds at least `header + 2n` bytes, aligned for the
        // header (4) and the u16 list that follows it.
        let r = unsafe {
            let base = buf.as_mut_ptr().cast::<u8>();
            std::ptr::write(base.cast::<sys::sctp_reset_streams>(), hdr);
            let list = base.add(header).cast::<u16>();
            for (i, s) in self.pending_resets.iter().enumerate() {
                list.add(i).write(*s);
            }
            let _stack = stack::lock_initialised();
            sys::usrsctp_setsockopt(
                self.sock,
                sys::IPPROTO_SCTP,
                sys::SCTP_RESET_STREAMS,
                base.cast::<c_void>(),
                (header + 2 * n) as socklen_t,
            )
        };
        if r < 0 {
            let e = errno();
            // Another reset is in flight: retry when it completes.
            if e == libc::EALREADY || e == libc::EINPROGRESS || e == libc::EBUSY {
                return Ok(());
            }
            self.pending_resets.clear();
            return Err(SctpError::Io(e));
        }
        self.pending_resets.clear();
        Ok(())
    }

    /// Reads everything usrsctp has for us, messages and notifications, up
    /// to the read budget.
    fn drain(&mut self) {
        self.drain_with(false);
    }

    /// Whether usrsctp's send buffer has room for the refused message of
    /// `len` bytes: what it queues (payload and chunk overhead, a little
    /// more than the count usrsctp refuses on) plus `len` within its
    /// limit, and less queued than at the refusal. True with nothing queued
    /// and when usrsctp cannot tell, so that a sender is never stranded.
    fn room_for(&self, len: usize) -> bool {
        match self.send_queue_use() {
            Some(0) | None => true,
            Some(queued) => queued < self.blocked_queued && queued + len <= self.send_limit,
        }
    }

    /// Bytes usrsctp holds in its send buffer (`SCTP_GET_SNDBUF_USE`).
    fn send_queue_use(&self) -> Option<usize> {
        let mut stat = sys::sctp_sockstat::default();
        let mut optlen = size_of::<sys::sctp_sockstat>() as socklen_t;
        let r = {
            let _stack = stack::lock_initialised();
            // SAFETY: live socket under the lock; `stat` is sized as passed.
            unsafe {
                sys::usrsctp_getsockopt(
                    self.sock,
                    sys::IPPROTO_SCTP,
                    sys::SCTP_GET_SNDBUF_USE,
                    (&mut stat as *mut sys::sctp_sockstat).cast(),
                    &mut optlen,
                )
            }
        };
        (r == 0 && optlen as usize >= size_of::<sys::sctp_sockstat>())
            .then_some(stat.ss_total_sndbuf as usize)
    }

    /// [`Self::drain`]; `resume`: read even without a readiness upcall
    /// (data left waiting while the budget was spent).
    fn drain_with(&mut self, resume: bool) {
        if self.sock.is_null() {
            return;
        }
        let upcall = stack::with_shared(self.id, |s| std::mem::take(&mut s.upcall))
            .unwrap_or(false)
            || resume;
        let events = {
            let _stack = stack::lock_initialised();
            // SAFETY: live socket under the lock.
            unsafe { sys::usrsctp_get_events(self.sock) }
        };
        if self.blocked
            && events & sys::SCTP_EVENT_WRITE != 0
            && self.state == State::Connected
            && self.room_for(self.blocked_need)
        {
            self.blocked = false;
            self.events.push_back(SctpEvent::Writable);
        }
        if !upcall && events & (sys::SCTP_EVENT_READ | sys::SCTP_EVENT_ERROR) == 0 {
            return;
        }
        let dead = events & sys::SCTP_EVENT_ERROR != 0;
        loop {
            if self.read_budget == Some(0) && !dead {
                break;
            }
            let mut info = sys::sctp_rcvinfo::default();
            let mut infolen = size_of::<sys::sctp_rcvinfo>() as socklen_t;
            let mut infotype: c_uint = 0;
            let mut flags: c_int = 0;
            self.read_buf.clear();
            self.read_buf.reserve(READ_CHUNK);
            let n = {
                let _stack = stack::lock_initialised();
                // SAFETY: live socket under the lock; every out pointer is
                // valid and sized as passed.
                unsafe {
                    sys::usrsctp_recvv(
                        self.sock,
                        self.read_buf.as_mut_ptr().cast(),
                        READ_CHUNK,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        (&mut info as *mut sys::sctp_rcvinfo).cast(),
                        &mut infolen,
                        &mut infotype,
                        &mut flags,
                    )
                }
            };
            if n < 0 {
                let e = errno();
                if !is_would_block(e) && self.state == State::Connected {
                    // ECONNRESET and friends: the association is gone.
                    log::warn!(target: "sctp", "association lost: receive error {e}");
                    self.finish(SctpEvent::Lost);
                }
                break;
            }
            if n == 0 {
                // End of stream: the peer shut down.
                if self.state == State::Connected {
                    log::info!(target: "sctp", "the peer shut the association down");
                    self.finish(SctpEvent::Closed);
                }
                break;
            }
            let n = (n as usize).min(READ_CHUNK);
            // SAFETY: the buffer has room for READ_CHUNK bytes (reserved
            // above) and usrsctp wrote the first `n` of them.
            unsafe { self.read_buf.set_len(n) };
            let eor = flags & sys::MSG_EOR != 0;
            if let Some(budget) = self.read_budget.as_mut() {
                let cost = if eor { n + READ_MESSAGE_COST } else { n };
                *budget = budget.saturating_sub(cost);
            }
            if flags & sys::MSG_NOTIFICATION != 0 {
                let keep = NOTIFICATION_KEEP
                    .saturating_sub(self.notification.len())
                    .min(n);
                self.notification.extend_from_slice(&self.read_buf[..keep]);
                if eor {
                    let note = std::mem::take(&mut self.notification);
                    self.handle_notification(&note);
                }
            } else {
                let stream = info.rcv_sid;
                let ppid = u32::from_be(info.rcv_ppid);
                self.take_data(stream, ppid, n, eor);
                stack::note_data_activity();
            }
        }
        if !self.pending_resets.is_empty() && self.state == State::Connected {
            let _ = self.flush_resets();
        }
    }

    fn take_data(&mut self, stream: u16, ppid: u32, n: usize, eor: bool) {
        let max = self.cfg.max_message_size;
        if eor && n >= HAND_OVER_FROM && n <= max && !self.partial.contains_key(&stream) {
            // A whole message in one read: the read buffer itself becomes
            // the message (no copy), and a new one takes its place.
            let mut data = std::mem::replace(&mut self.read_buf, Vec::with_capacity(READ_CHUNK));
            if data.capacity() >= 2 * n {
                data.shrink_to_fit();
            }
            self.events.push_back(SctpEvent::Message {
                stream,
                ppid,
                len: data.len(),
            });
            self.inbox.push_back((stream, ppid, data));
            return;
        }
        let entry = self
            .partial
            .entry(stream)
            .or_insert_with(|| (ppid, Vec::new(), false));
        if !entry.2 {
            if entry.1.len() + n > max {
                entry.2 = true;
                entry.1 = Vec::new();
            } else {
                entry.1.extend_from_slice(&self.read_buf[..n]);
                self.payload_bytes_copied += n as u64;
            }
        }
        if eor {
            let (ppid, data, too_large) = self.partial.remove(&stream).unwrap_or_default();
            if too_large {
                log::debug!(target: "sctp", "dropped a message on stream {stream}: larger than {max} bytes");
                self.dropped_oversize += 1;
            } else {
                self.events.push_back(SctpEvent::Message {
                    stream,
                    ppid,
                    len: data.len(),
                });
                self.inbox.push_back((stream, ppid, data));
            }
        }
    }

    /// Enters the terminal state, reporting `event` once.
    fn finish(&mut self, event: SctpEvent) {
        if self.state != State::Done {
            self.state = State::Done;
            self.events.push_back(event);
        }
    }

    fn handle_notification(&mut self, note: &[u8]) {
        fn read<T: Copy + Default>(note: &[u8]) -> Option<T> {
            if note.len() < size_of::<T>() {
                return None;
            }
            // SAFETY: at least size_of::<T>() bytes; T is a plain C struct
            // for which any bit pattern is valid.
            Some(unsafe { std::ptr::read_unaligned(note.as_ptr().cast::<T>()) })
        }
        let Some(tlv) = read::<sys::sctp_tlv>(note) else {
            return;
        };
        match tlv.sn_type {
            sys::SCTP_ASSOC_CHANGE => {
                let Some(ac) = read::<sys::sctp_assoc_change>(note) else {
                    return;
                };
                match ac.sac_state {
                    sys::SCTP_COMM_UP | sys::SCTP_RESTART if self.state == State::Connecting => {
                        log::info!(target: "sctp", "association up: {} outbound, {} inbound streams", ac.sac_outbound_streams, ac.sac_inbound_streams);
                        self.state = State::Connected;
                        self.outbound_streams = ac.sac_outbound_streams;
                        self.events.push_back(SctpEvent::Connected {
                            outbound_streams: ac.sac_outbound_streams,
                            inbound_streams: ac.sac_inbound_streams,
                        });
                    }
                    sys::SCTP_COMM_LOST | sys::SCTP_CANT_STR_ASSOC => {
                        // usrsctp appends the peer's ABORT chunk to the
                        // notification when the peer aborted; a loss it
                        // detected itself (timeouts) carries none.
                        let header = size_of::<sys::sctp_assoc_change>();
                        let from_peer = ac.sac_length as usize > header
                            && note.get(header) == Some(&ABORT_CHUNK_TYPE);
                        if from_peer {
                            log::info!(target: "sctp", "association aborted by the peer (ABORT)");
                        } else if ac.sac_state == sys::SCTP_CANT_STR_ASSOC {
                            log::warn!(target: "sctp", "association could not be set up: INIT not answered or refused (error {})", ac.sac_error);
                        } else {
                            log::warn!(target: "sctp", "association lost: peer unreachable (retransmission limit, error {})", ac.sac_error);
                        }
                        self.finish(if from_peer {
                            SctpEvent::Aborted
                        } else {
                            SctpEvent::Lost
                        });
                    }
                    sys::SCTP_SHUTDOWN_COMP => {
                        log::info!(target: "sctp", "association shut down");
                        self.finish(SctpEvent::Closed)
                    }
                    _ => {}
                }
            }
            sys::SCTP_STREAM_RESET_EVENT => {
                let Some(ev) = read::<sys::sctp_stream_reset_event>(note) else {
                    return;
                };
                let failed = sys::SCTP_STREAM_RESET_DENIED | sys::SCTP_STREAM_RESET_FAILED;
                if ev.strreset_flags & failed != 0 {
                    return;
                }
                let header = size_of::<sys::sctp_stream_reset_event>();
                let end = (ev.strreset_length as usize).min(note.len());
                let list: Vec<u16> = note
                    .get(header..end)
                    .unwrap_or(&[])
                    .chunks_exact(2)
                    .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                    .collect();
                for (flag, direction) in [
                    (
                        sys::SCTP_STREAM_RESET_INCOMING_SSN,
                        ResetDirection::Incoming,
                    ),
                    (
                        sys::SCTP_STREAM_RESET_OUTGOING_SSN,
                        ResetDirection::Outgoing,
                    ),
                ] {
                    if ev.strreset_flags & flag != 0 {
                        for &stream in &list {
                            if direction == ResetDirection::Incoming {
                                // A half-read message on a reset stream is gone.
                                self.partial.remove(&stream);
                            }
                            log::debug!(target: "sctp", "stream {stream} reset ({direction:?})");
                            self.events
                                .push_back(SctpEvent::StreamReset { stream, direction });
                        }
                    }
                }
            }
            sys::SCTP_SEND_FAILED_EVENT => {
                let Some(ev) = read::<sys::sctp_send_failed_event>(note) else {
                    return;
                };
                log::debug!(target: "sctp", "send failed on stream {} (error {})", ev.ssfe_info.snd_sid, ev.ssfe_error);
                self.events.push_back(SctpEvent::SendFailed {
                    stream: ev.ssfe_info.snd_sid,
                    ppid: u32::from_be(ev.ssfe_info.snd_ppid),
                });
            }
            sys::SCTP_SENDER_DRY_EVENT => {
                self.buffered = 0;
                self.events.push_back(SctpEvent::SenderDry);
            }
            _ => {}
        }
    }
}

impl Drop for SctpAssociation {
    fn drop(&mut self) {
        self.close();
        {
            let _stack = stack::lock_initialised();
            // SAFETY: under the lock; the address was registered in `new`.
            unsafe { sys::usrsctp_deregister_address(stack::id_ptr(self.id)) };
        }
        stack::unregister(self.id);
    }
}
