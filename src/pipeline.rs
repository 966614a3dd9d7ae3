//! The DTLS → SCTP → channels pipeline, sans-IO: the one place where the
//! three layers are wired together, used by the PeerConnection
//! (`crate::peer`) and by the caller-driven `xDtlsTransport` /
//! `xSctpTransport` / `xDataChannelMgr` stack (`crate::object`).
//!
//! The owner keeps the layers (the PeerConnection in one struct, the C
//! stack in three objects) and calls the stages once per input, in this
//! order, each one until its layer has nothing more:
//!
//! 1. DTLS in: [`Pipeline::dtls_to_sctp`] / [`Pipeline::records_to_sctp`],
//!    the decrypted records to SCTP;
//! 2. SCTP in: [`Pipeline::sctp_to_channels`], the association's messages
//!    to the channels (or to the owner), within the read budget;
//! 3. channels: [`Pipeline::channels_to_sctp`], queued messages and stream
//!    resets to SCTP;
//! 4. SCTP out: [`Pipeline::sctp_to_dtls`], the association's packets into
//!    DTLS records (held while the handshake is not done);
//! 5. DTLS out: [`Pipeline::dtls_out`], the datagrams to the owner's wire.
//!
//! No stage feeds an earlier one, so one pass leaves nothing behind: there
//! is no loop until nothing changes. The owner handles the events of each
//! layer between the stages (it knows what they mean to it).

use crate::channel::{ChannelManager, SctpSend};
use crate::dtls::{DtlsSession, DtlsState};
use crate::sctp::{Reliability, SctpAssociation, SctpError};
use std::collections::VecDeque;
use std::time::Instant;

/// Messages smaller than this are bundled: while more follow, SCTP holds
/// small packets back (Nagle) until the batch fills the path MTU.
pub const BUNDLE_BELOW: usize = 1024;

/// What went wrong on the way, counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PipelineStats {
    /// SCTP packets DTLS could not take (not connected, or refused).
    pub dtls_send_errors: u64,
    /// Channel messages SCTP refused for good.
    pub sctp_send_errors: u64,
    /// SCTP packets dropped while the DTLS handshake was not done, beyond
    /// the bound of held packets.
    pub held_dropped: u64,
}

/// The pipeline's own state between passes: channel messages SCTP has not
/// taken yet, and SCTP packets waiting for the DTLS handshake.
#[derive(Debug, Default)]
pub struct Pipeline {
    /// Channel messages taken from the channels but not yet by SCTP (one
    /// refused with `WouldBlock`, and the one looked ahead at), sent first.
    pending_send: VecDeque<SctpSend>,
    /// SCTP packets produced before DTLS was connected (at most
    /// `max_held`; 0: none are held, they are counted as errors).
    held: VecDeque<Vec<u8>>,
    max_held: usize,
    stats: PipelineStats,
}

impl Pipeline {
    /// A pipeline that drops (and counts) SCTP packets produced before the
    /// DTLS handshake is done.
    pub fn new() -> Self {
        Pipeline::default()
    }

    /// A pipeline that keeps up to `max_held` SCTP packets produced before
    /// the DTLS handshake is done and sends them once it is.
    pub fn holding(max_held: usize) -> Self {
        Pipeline {
            max_held,
            ..Pipeline::default()
        }
    }

    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Forgets the channel messages SCTP has not taken (the association is
    /// gone).
    pub fn clear_pending(&mut self) {
        self.pending_send.clear();
    }

    /// Whether channel messages wait for room in SCTP's send buffer.
    pub fn has_pending(&self) -> bool {
        !self.pending_send.is_empty()
    }

    /// Stage 1, DTLS in: every record DTLS has decrypted goes to SCTP, through
    /// `scratch`; `on_record` sees each first. Whether there was any.
    pub fn dtls_to_sctp(
        &mut self,
        now: Instant,
        dtls: &mut DtlsSession,
        sctp: &mut SctpAssociation,
        scratch: &mut [u8],
        mut on_record: impl FnMut(&[u8]),
    ) -> bool {
        let mut moved = false;
        // Each decrypted packet goes to SCTP from DTLS's queue itself.
        while let Ok(true) = dtls.recv_with(scratch, |packet| {
            on_record(packet);
            sctp.handle_packet(now, packet);
        }) {
            moved = true;
        }
        moved
    }

    /// Stage 1, DTLS in, for records already taken from DTLS (by a transport
    /// that hands them over after releasing its lock).
    pub fn records_to_sctp(
        &mut self,
        now: Instant,
        sctp: &mut SctpAssociation,
        records: impl IntoIterator<Item = Vec<u8>>,
    ) -> bool {
        let mut moved = false;
        for r in records {
            moved = true;
            sctp.handle_packet(now, &r);
        }
        moved
    }

    /// Stage 2, SCTP in: the association's messages to `deliver`, until it has
    /// none (or its read budget is spent). Whether there was any.
    pub fn sctp_to_channels(
        &mut self,
        sctp: &mut SctpAssociation,
        mut deliver: impl FnMut(u16, u32, Vec<u8>),
    ) -> bool {
        let mut moved = false;
        while let Some((stream, ppid, data)) = sctp.recv() {
            moved = true;
            deliver(stream, ppid, data);
        }
        moved
    }

    /// Stage 3, Channels → SCTP: the messages the channels queued, then their
    /// stream resets. A message SCTP refuses for want of room waits here
    /// for the next pass; one it refuses for good is reported to
    /// `on_error` with its stream (its bytes no longer count as buffered).
    /// Whether anything moved.
    pub fn channels_to_sctp(
        &mut self,
        channels: &mut ChannelManager,
        sctp: &mut SctpAssociation,
        mut on_error: impl FnMut(&mut ChannelManager, u16, SctpError),
    ) -> bool {
        let mut moved = false;
        // A full send buffer takes nothing until SCTP reports it writable
        // again (a SACK freed room): trying each message meanwhile costs a
        // refused send per call.
        if !sctp.is_connected() || sctp.is_blocked() {
            return false;
        }
        // While more messages follow a small one, SCTP holds small packets
        // back (Nagle) so the batch is bundled up to the path MTU; the last
        // one goes with NODELAY and sends what is held. Held data always
        // has data in flight before it, whose SACK sends it if the batch
        // ends in `WouldBlock`. A lone message, and a large one (it fills
        // packets by itself), go with NODELAY as set at creation: no socket
        // option call for them.
        let mut corked = false;
        while let Some(next) = self
            .pending_send
            .pop_front()
            .or_else(|| channels.poll_sctp_send())
        {
            if self.pending_send.is_empty() {
                self.pending_send.extend(channels.poll_sctp_send());
            }
            let more = !self.pending_send.is_empty() && next.data.len() < BUNDLE_BELOW;
            if more != corked && sctp.set_nodelay(!more).is_ok() {
                corked = more;
            }
            let r = sctp.send(
                next.stream,
                next.ppid,
                &next.data,
                next.ordered,
                Reliability::from(next.reliability),
            );
            match r {
                Ok(()) => {
                    moved = true;
                    if next.counted > 0 {
                        channels.on_sent(next.stream, next.counted);
                    }
                }
                Err(SctpError::WouldBlock) => {
                    self.pending_send.push_front(next);
                    break;
                }
                Err(e) => {
                    moved = true;
                    self.stats.sctp_send_errors += 1;
                    if next.counted > 0 {
                        channels.on_sent(next.stream, next.counted);
                    }
                    on_error(channels, next.stream, e);
                }
            }
        }
        if corked {
            let _ = sctp.set_nodelay(true);
        }
        if self.pending_send.is_empty() {
            while let Some(stream) = channels.poll_stream_reset() {
                moved = true;
                let _ = sctp.reset_stream(stream);
            }
        }
        moved
    }

    /// Stage 4, SCTP out: the association's packets into DTLS records. Without
    /// a connected DTLS session they are held (up to the bound) or counted
    /// as errors; held ones go first once it is connected. Whether any
    /// packet moved.
    pub fn sctp_to_dtls(
        &mut self,
        sctp: &mut SctpAssociation,
        dtls: Option<&mut DtlsSession>,
        mut after_each: impl FnMut(&mut DtlsSession),
    ) -> bool {
        let mut moved = false;
        match dtls {
            Some(dtls) if dtls.state() == DtlsState::Connected => {
                while let Some(pkt) = self.held.pop_front().or_else(|| sctp.poll_transmit()) {
                    moved = true;
                    if dtls.send(&pkt).is_err() {
                        self.stats.dtls_send_errors += 1;
                    }
                    crate::datagram::recycle(pkt);
                    // Drained after every packet, so DTLS's queue never fills.
                    after_each(dtls);
                }
            }
            Some(dtls) if matches!(dtls.state(), DtlsState::Failed | DtlsState::Closed) => {
                self.stats.dtls_send_errors += self.held.len() as u64;
                self.held.clear();
                while sctp.poll_transmit().is_some() {
                    moved = true;
                    self.stats.dtls_send_errors += 1;
                }
            }
            _ => {
                while let Some(pkt) = sctp.poll_transmit() {
                    moved = true;
                    if self.max_held == 0 {
                        self.stats.dtls_send_errors += 1;
                        continue;
                    }
                    if self.held.len() == self.max_held {
                        self.held.pop_front();
                        self.stats.held_dropped += 1;
                    }
                    self.held.push_back(pkt);
                }
            }
        }
        moved
    }

    /// Stage 5, DTLS out: every datagram DTLS has queued to `send`. Each
    /// record's buffer (from the datagram pool) is handed over as it is: no
    /// copy and no allocation between DTLS and the socket. Whether there
    /// was any.
    pub fn dtls_out(dtls: &mut DtlsSession, mut send: impl FnMut(Vec<u8>)) -> bool {
        let mut moved = false;
        while let Some(d) = dtls.poll_transmit() {
            moved = true;
            send(d);
        }
        moved
    }
}
