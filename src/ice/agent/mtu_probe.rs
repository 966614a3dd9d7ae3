//! Path MTU probes (RFC 8899 packetization-layer PMTUD, the probe packets).
//!
//! A probe is a connectivity check on the selected pair (USERNAME,
//! PRIORITY, the role attribute, MESSAGE-INTEGRITY, FINGERPRINT) padded
//! with a PADDING attribute (0x0026, RFC 5780 §7.6) to the datagram size
//! being tested. Any authenticated response with the probe's transaction
//! id, success or error (a strict agent that does not know PADDING answers
//! 420), proves that a datagram of that size reached the peer. The response
//! itself is small, so each side measures its own sending direction.
//!
//! One probe is in flight at a time; it is sent up to [`MTU_PROBE_TRIES`]
//! times, [`MTU_PROBE_INTERVAL`] apart, outside the Ta pacing of checks
//! (one small transaction at a time does not need it). Relayed pairs are
//! never probed. The result comes out of [`IceAgent::poll_mtu_probe`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{local_pref_of, IceAgent, IceState, Role};
use crate::ice::CandidateKind;
use crate::stun::{Attribute, Message, MessageBuilder, MessageType, TransactionId};

/// The PADDING attribute (RFC 5780 §7.6).
pub const PADDING: u16 = 0x0026;
/// Sends of one probe before it counts as lost.
pub const MTU_PROBE_TRIES: u32 = 3;
/// Time between the sends of a probe, and after the last one.
pub const MTU_PROBE_INTERVAL: Duration = Duration::from_millis(200);
/// Largest probe: the largest UDP payload over IPv4.
pub const MAX_MTU_PROBE: usize = 65_507;

/// The outcome of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtuProbeResult {
    /// The datagram size asked for.
    pub size: usize,
    /// An authenticated response arrived: a datagram of `size` bytes
    /// reached the peer.
    pub acked: bool,
}

/// The probe in flight.
#[derive(Debug, Clone)]
pub(crate) struct MtuProbe {
    id: TransactionId,
    size: usize,
    bytes: Vec<u8>,
    local: SocketAddr,
    dest: SocketAddr,
    sends: u32,
    next: Instant,
}

impl MtuProbe {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn deadline(&self) -> Instant {
        self.next
    }
}

/// A probe request of exactly `size` bytes (`size` a multiple of 4), or
/// `None` when even the unpadded request is larger.
#[cfg_attr(xp2p_device, optimize(size))]
fn build_probe(
    id: &TransactionId,
    size: usize,
    username: &str,
    priority: u32,
    role: Role,
    tie_breaker: u64,
    key: &[u8],
) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; size];
    let head = |b: &mut MessageBuilder<'_>| -> Option<()> {
        b.add(&Attribute::Username(username)).ok()?;
        b.add(&Attribute::Priority(priority)).ok()?;
        match role {
            Role::Controlling => b.add(&Attribute::IceControlling(tie_breaker)).ok()?,
            Role::Controlled => b.add(&Attribute::IceControlled(tie_breaker)).ok()?,
        }
        Some(())
    };
    // Attribute header plus MESSAGE-INTEGRITY and FINGERPRINT after the
    // padding.
    const TAIL: usize = 4 + (4 + 20) + (4 + 4);
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, id).ok()?;
    head(&mut b)?;
    let pad = size.checked_sub(b.len() + TAIL)?;
    b.add_raw(PADDING, &vec![0u8; pad]).ok()?;
    b.message_integrity(key).ok()?;
    b.fingerprint().ok()?;
    let len = b.finish().len();
    buf.truncate(len);
    (len == size).then_some(buf)
}

impl IceAgent {
    /// Sends a path MTU probe of `size` bytes (rounded up to a multiple of
    /// 4) on the selected pair. False, and nothing sent, when no pair is
    /// selected, the pair is relayed, a probe is already in flight, or
    /// `size` is outside 64..=[`MAX_MTU_PROBE`]. The result comes out of
    /// [`IceAgent::poll_mtu_probe`].
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn probe_path_mtu(&mut self, now: Instant, size: usize) -> bool {
        let size = size.div_ceil(4) * 4;
        if self.mtu_probe.is_some() || !(64..=MAX_MTU_PROBE).contains(&size) {
            return false;
        }
        if !self.state.is_connected() {
            return false;
        }
        let Some(pi) = self.selected else {
            return false;
        };
        let Some((rufrag, rpwd)) = self.remote_creds.clone() else {
            return false;
        };
        let p = &self.list.pairs[pi];
        let local_kind = self.locals[p.valid_local.unwrap_or(p.local)].cand.kind;
        if local_kind == CandidateKind::Relay
            || self.remotes[p.remote].cand.kind == CandidateKind::Relay
        {
            return false;
        }
        let base = &self.locals[p.local].cand;
        let priority = CandidateKind::Prflx.priority(local_pref_of(base.priority), base.component);
        let (local, dest) = (self.locals[p.local].addr, self.remotes[p.remote].addr);
        let username = format!("{rufrag}:{}", self.local_ufrag);
        let id = self.new_txn_id();
        let Some(bytes) = build_probe(
            &id,
            size,
            &username,
            priority,
            self.role,
            self.tie_breaker,
            rpwd.as_bytes(),
        ) else {
            return false;
        };
        self.touch(now);
        self.transmits.push_back(super::Transmit {
            local,
            dest,
            data: bytes.clone(),
        });
        self.mtu_probe = Some(MtuProbe {
            id,
            size,
            bytes,
            local,
            dest,
            sends: 1,
            next: now + MTU_PROBE_INTERVAL,
        });
        true
    }

    /// The largest path MTU probe (authenticated check with PADDING) the
    /// peer sent us, in bytes; 0 when none came. A peer that probes large
    /// sizes runs this discovery itself, so it reads records that large.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn largest_peer_probe(&self) -> usize {
        self.peer_probe_max
    }

    /// Notes the size of a verified incoming check if it is a probe.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn note_peer_probe(&mut self, msg: &Message<'_>) {
        if msg.get(PADDING).is_some() {
            self.peer_probe_max = self.peer_probe_max.max(msg.as_bytes().len());
        }
    }

    /// Whether a path MTU probe is in flight.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn mtu_probe_pending(&self) -> bool {
        self.mtu_probe.is_some()
    }

    /// Forgets the probe in flight (no result will be reported for it).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn cancel_mtu_probe(&mut self) {
        self.mtu_probe = None;
    }

    /// The outcome of a finished probe.
    pub fn poll_mtu_probe(&mut self) -> Option<MtuProbeResult> {
        self.mtu_results.pop_front()
    }

    /// Retransmits or gives up the probe in flight.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn run_mtu_probe_timer(&mut self, now: Instant) {
        let selected = self.selected_pair();
        let connected = matches!(self.state, IceState::Connected | IceState::Completed);
        let Some(p) = self.mtu_probe.as_mut() else {
            return;
        };
        if now < p.next {
            return;
        }
        let lost = p.sends >= MTU_PROBE_TRIES || !connected || selected != Some((p.local, p.dest));
        if lost {
            let size = p.size;
            self.mtu_probe = None;
            self.mtu_results
                .push_back(MtuProbeResult { size, acked: false });
            return;
        }
        p.sends += 1;
        p.next = now + MTU_PROBE_INTERVAL;
        let tx = super::Transmit {
            local: p.local,
            dest: p.dest,
            data: p.bytes.clone(),
        };
        self.transmits.push_back(tx);
    }

    /// Whether `id` is the probe in flight.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn owns_mtu_probe(&self, id: &TransactionId) -> bool {
        self.mtu_probe.as_ref().is_some_and(|p| &p.id == id)
    }

    /// A response to the probe in flight: acknowledged when authenticated
    /// (success or error) and from where the probe went.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn on_mtu_probe_response(
        &mut self,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> super::Received {
        let authentic = self.remote_creds.as_ref().is_some_and(|(_, pwd)| {
            msg.verify_fingerprint().is_ok() && msg.verify_integrity(pwd.as_bytes()).is_ok()
        });
        let Some(p) = self.mtu_probe.as_ref() else {
            return super::Received::Dropped;
        };
        if !authentic || (local, from) != (p.local, p.dest) {
            self.stats.dropped_unauthenticated += 1;
            return super::Received::Dropped;
        }
        let size = p.size;
        self.mtu_probe = None;
        self.mtu_results
            .push_back(MtuProbeResult { size, acked: true });
        super::Received::Consumed
    }
}

/// Whether an unknown comprehension-required attribute type is one the
/// agent accepts and ignores in checks (PADDING from a peer's MTU probe).
#[cfg_attr(xp2p_device, optimize(size))]
pub(crate) fn ignorable(t: u16) -> bool {
    t == PADDING
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun::attr_type;

    #[test]
    fn probe_has_the_exact_size_and_verifies() {
        let id = [3u8; 12];
        for size in [128usize, 1200, 1472, 8972, 16424] {
            let b = build_probe(&id, size, "R:L", 7, Role::Controlled, 9, b"pw").unwrap();
            assert_eq!(b.len(), size);
            let m = Message::parse(&b).unwrap();
            assert!(m.verify_integrity(b"pw").is_ok());
            assert!(m.verify_fingerprint().is_ok());
            assert!(m.get(PADDING).is_some());
            assert!(m.get(attr_type::USERNAME).is_some());
        }
        assert!(build_probe(&id, 40, "R:L", 7, Role::Controlled, 9, b"pw").is_none());
    }
}
