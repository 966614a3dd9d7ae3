//! The checklist (RFC 8445 §6.1.2): candidate pairs, their states, the
//! foundation-based unfreezing and the triggered-check queue.
//!
//! A pair joins a local *base* (a host candidate: server-reflexive local
//! candidates share their host's base, so their pairs would be pruned as
//! redundant, RFC 8445 §6.1.2.4) with a remote candidate. When a check
//! succeeds, the local candidate whose address matches the reported mapped
//! address (host, srflx, or a new prflx) makes the *valid pair*; it is kept
//! on the same entry (`valid_local`), since data always leaves from the base.
//!
//! Pair indices are stable: pairs are never removed, only failed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::ice::{CandidateKind, PairState};
use crate::stun::txn::RetransmitTimer;
use crate::stun::TransactionId;

use super::{IceAgent, IceEvent, Role};

/// The connectivity check in flight on a pair.
#[derive(Debug, Clone)]
pub(crate) struct CheckTxn {
    pub id: TransactionId,
    pub timer: RetransmitTimer<Instant>,
    /// The request bytes, sent again on each retransmission (same id).
    pub bytes: Vec<u8>,
    /// The request carried USE-CANDIDATE (a nomination by this agent).
    pub use_candidate: bool,
    /// The role the request asserted (for 487 repair).
    pub role: Role,
    /// The PRIORITY the request carried (the priority of a prflx local
    /// candidate learned from the response).
    pub priority: u32,
    /// When the request was first sent (round-trip time of an answer to
    /// a request never retransmitted).
    pub sent_at: Instant,
}

/// One candidate pair.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    /// Index of the local base (a host candidate).
    pub local: usize,
    /// Index of the remote candidate.
    pub remote: usize,
    pub priority: u64,
    pub state: PairState,
    /// `local foundation ":" remote foundation`.
    pub foundation: String,
    /// The local candidate of the valid pair once a check has succeeded.
    pub valid_local: Option<usize>,
    /// Priority of the valid pair.
    pub valid_priority: u64,
    /// Nominated (selected for data by the controlling agent).
    pub nominated: bool,
    /// Controlled side: a USE-CANDIDATE request arrived before this pair's
    /// own check succeeded; nominate when it does.
    pub nominate_on_success: bool,
    pub check: Option<CheckTxn>,
    /// The latest round-trip time measured on this pair (a check or
    /// consent request answered without retransmission).
    pub rtt: Option<Duration>,
}

impl Pair {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(local: usize, remote: usize, priority: u64, foundation: String) -> Pair {
        Pair {
            local,
            remote,
            priority,
            state: PairState::Frozen,
            foundation,
            valid_local: None,
            valid_priority: 0,
            nominated: false,
            nominate_on_success: false,
            check: None,
            rtt: None,
        }
    }

    /// Whether the pair is still to be checked or being checked.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_pending(&self) -> bool {
        matches!(
            self.state,
            PairState::Frozen | PairState::Waiting | PairState::InProgress
        )
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_valid(&self) -> bool {
        self.state == PairState::Succeeded && self.valid_local.is_some()
    }
}

/// The pairs of the (single) data stream and the triggered-check queue.
#[derive(Debug, Clone, Default)]
pub(crate) struct Checklist {
    pub pairs: Vec<Pair>,
    pub triggered: VecDeque<usize>,
}

impl Checklist {
    /// The pair of a local base and a remote candidate.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn find(&self, local: usize, remote: usize) -> Option<usize> {
        self.pairs
            .iter()
            .position(|p| p.local == local && p.remote == remote)
    }

    /// The pair whose in-flight check has transaction id `id`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn find_txn(&self, id: &TransactionId) -> Option<usize> {
        self.pairs
            .iter()
            .position(|p| p.check.as_ref().is_some_and(|c| &c.id == id))
    }

    /// Adds a pair unless the list holds `max` pairs already. A new pair
    /// waits unless a pair of the same foundation is already waiting or in
    /// progress, in which case it stays frozen until that one resolves.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn add(&mut self, mut pair: Pair, max: usize) -> Option<usize> {
        if self.pairs.len() >= max {
            return None;
        }
        let busy = self.pairs.iter().any(|p| {
            p.foundation == pair.foundation
                && matches!(p.state, PairState::Waiting | PairState::InProgress)
        });
        pair.state = if busy {
            PairState::Frozen
        } else {
            PairState::Waiting
        };
        self.pairs.push(pair);
        Some(self.pairs.len() - 1)
    }

    /// Queues a triggered check (RFC 8445 §7.3.1.4), once.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn trigger(&mut self, idx: usize) {
        if let Some(p) = self.pairs.get_mut(idx) {
            if p.state != PairState::InProgress && p.state != PairState::Succeeded {
                p.state = PairState::Waiting;
            }
            if !self.triggered.contains(&idx) {
                self.triggered.push_back(idx);
            }
        }
    }

    /// Whether a triggered entry can be sent now.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn triggerable(&self, idx: usize) -> bool {
        self.pairs
            .get(idx)
            .is_some_and(|p| p.check.is_none() && p.state == PairState::Waiting)
    }

    /// The first sendable triggered check.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn peek_triggered(&self) -> Option<usize> {
        self.triggered
            .iter()
            .copied()
            .find(|&i| self.triggerable(i))
    }

    /// Removes and returns the first sendable triggered check, dropping the
    /// stale entries before it.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn pop_triggered(&mut self) -> Option<usize> {
        while let Some(i) = self.triggered.pop_front() {
            if self.triggerable(i) {
                return Some(i);
            }
        }
        None
    }

    /// The next ordinary check (RFC 8445 §6.1.4.2): the highest-priority
    /// waiting pair, or else the highest-priority frozen pair whose
    /// foundation has nothing waiting or in progress.
    pub fn next_ordinary(&self) -> Option<usize> {
        let best = |pred: &dyn Fn(&Pair) -> bool| {
            self.pairs
                .iter()
                .enumerate()
                .filter(|(_, p)| p.check.is_none() && pred(p))
                .max_by_key(|(i, p)| (p.priority, std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
        };
        best(&|p| p.state == PairState::Waiting).or_else(|| {
            best(&|p| {
                p.state == PairState::Frozen
                    && !self.pairs.iter().any(|q| {
                        q.foundation == p.foundation
                            && matches!(q.state, PairState::Waiting | PairState::InProgress)
                    })
            })
        })
    }

    /// A check of this foundation succeeded: its frozen pairs may go.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn unfreeze_foundation(&mut self, foundation: &str) {
        for p in &mut self.pairs {
            if p.state == PairState::Frozen && p.foundation == foundation {
                p.state = PairState::Waiting;
            }
        }
    }

    /// The valid pair with the highest priority.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn best_valid(&self) -> Option<usize> {
        self.pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_valid())
            .max_by_key(|(i, p)| (p.valid_priority, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn any_valid(&self) -> bool {
        self.pairs.iter().any(Pair::is_valid)
    }

    /// Whether every pair has finished (succeeded or failed) and nothing is
    /// queued.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn all_done(&self) -> bool {
        !self.pairs.iter().any(Pair::is_pending) && self.peek_triggered().is_none()
    }

    /// Pairs waiting or in progress (for the RTO of RFC 8445 §14.3).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn active_count(&self) -> usize {
        self.pairs
            .iter()
            .filter(|p| matches!(p.state, PairState::Waiting | PairState::InProgress))
            .count()
    }
}

// ----- the agent's side: forming and ranking pairs, roles -----

impl IceAgent {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn pair_priority(&self, local_prio: u32, remote_prio: u32) -> u64 {
        if self.role.is_controlling() {
            crate::ice::pair_priority(local_prio, remote_prio)
        } else {
            crate::ice::pair_priority(remote_prio, local_prio)
        }
    }

    /// Pairs local base `l` with remote `r` when they match (host or
    /// usable relayed local, same component and family) and the pair does
    /// not exist yet. A relayed local asks its server for a permission for
    /// the remote's address right away, so the first check can pass.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn form_pair(&mut self, l: usize, r: usize) -> Option<usize> {
        let relay = match self.locals[l].cand.kind {
            CandidateKind::Host => None,
            CandidateKind::Relay => Some(self.relays.of_relayed(self.locals[l].addr)?),
            _ => return None,
        };
        let (lc, rc) = (&self.locals[l], &self.remotes[r]);
        if lc.cand.component != rc.cand.component || lc.addr.is_ipv4() != rc.addr.is_ipv4() {
            return None;
        }
        if let Some(p) = self.list.find(l, r) {
            return Some(p);
        }
        let priority = self.pair_priority(lc.cand.priority, rc.cand.priority);
        let foundation = format!("{}:{}", lc.cand.foundation, rc.cand.foundation);
        let raddr = rc.addr;
        let added = self
            .list
            .add(Pair::new(l, r, priority, foundation), self.cfg.max_pairs);
        if added.is_none() {
            self.stats.pairs_dropped += 1;
        }
        if let (Some(ri), Some(_)) = (relay, added) {
            let now = self.last_now;
            self.relays.permit(now, ri, raddr, &mut self.transmits);
        }
        self.dirty = true;
        added
    }

    /// Recomputes priority, foundation and valid priority of a pair.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn refresh_pair(&mut self, pi: usize) {
        let p = &self.list.pairs[pi];
        let (lc, rc) = (&self.locals[p.local].cand, &self.remotes[p.remote].cand);
        let priority = self.pair_priority(lc.priority, rc.priority);
        let foundation = format!("{}:{}", lc.foundation, rc.foundation);
        let valid_priority = p
            .valid_local
            .map(|v| self.pair_priority(self.locals[v].cand.priority, rc.priority))
            .unwrap_or(0);
        let p = &mut self.list.pairs[pi];
        p.priority = priority;
        p.foundation = foundation;
        p.valid_priority = valid_priority;
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn refresh_pairs_of_remote(&mut self, r: usize) {
        for pi in 0..self.list.pairs.len() {
            if self.list.pairs[pi].remote == r {
                self.refresh_pair(pi);
            }
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn apply_role(&mut self, role: Role) {
        self.role = role;
        for pi in 0..self.list.pairs.len() {
            self.refresh_pair(pi);
        }
        if !role.is_controlling() {
            self.nominate_next = None;
            self.nominating = None;
        }
    }

    /// Switches role after a conflict and reports it.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn switch_role(&mut self, role: Role) {
        if role != self.role {
            self.apply_role(role);
            self.events.push_back(IceEvent::RoleChanged(role));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(local: usize, remote: usize, prio: u64, f: &str) -> Pair {
        Pair::new(local, remote, prio, f.to_string())
    }

    #[test]
    fn same_foundation_waits_behind_the_first() {
        let mut cl = Checklist::default();
        let a = cl.add(pair(0, 0, 10, "x"), 100).unwrap();
        let b = cl.add(pair(0, 1, 20, "x"), 100).unwrap();
        let c = cl.add(pair(0, 2, 5, "y"), 100).unwrap();
        assert_eq!(cl.pairs[a].state, PairState::Waiting);
        assert_eq!(cl.pairs[b].state, PairState::Frozen);
        assert_eq!(cl.pairs[c].state, PairState::Waiting);
        assert_eq!(cl.next_ordinary(), Some(a));
        cl.pairs[a].state = PairState::InProgress;
        assert_eq!(cl.next_ordinary(), Some(c));
        cl.pairs[c].state = PairState::InProgress;
        // b's foundation is in progress: nothing to do.
        assert_eq!(cl.next_ordinary(), None);
        cl.pairs[a].state = PairState::Succeeded;
        cl.unfreeze_foundation("x");
        assert_eq!(cl.next_ordinary(), Some(b));
    }

    #[test]
    fn failed_foundation_lets_frozen_pairs_go() {
        let mut cl = Checklist::default();
        let a = cl.add(pair(0, 0, 10, "x"), 100).unwrap();
        let b = cl.add(pair(0, 1, 20, "x"), 100).unwrap();
        cl.pairs[a].state = PairState::Failed;
        assert_eq!(cl.next_ordinary(), Some(b));
    }

    #[test]
    fn limit_and_triggered_queue() {
        let mut cl = Checklist::default();
        assert!(cl.add(pair(0, 0, 1, "a"), 1).is_some());
        assert!(cl.add(pair(0, 1, 1, "b"), 1).is_none());
        cl.pairs[0].state = PairState::Failed;
        cl.trigger(0);
        cl.trigger(0);
        assert_eq!(cl.triggered.len(), 1);
        assert_eq!(cl.pairs[0].state, PairState::Waiting);
        assert_eq!(cl.peek_triggered(), Some(0));
        assert_eq!(cl.pop_triggered(), Some(0));
        assert_eq!(cl.pop_triggered(), None);
        assert!(!cl.all_done());
        cl.pairs[0].state = PairState::Succeeded;
        assert!(cl.all_done());
    }
}
