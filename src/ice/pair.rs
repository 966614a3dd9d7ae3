//! Candidate pairs (RFC 8445 §6.1.2): priority, state and ordering.

use std::cmp::Ordering;

/// The state of a pair in the checklist. The discriminants are the C
/// `xIcePairState` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairState {
    Frozen = 0,
    Waiting = 1,
    InProgress = 2,
    Succeeded = 3,
    Failed = 4,
}

impl PairState {
    /// The C enum value.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The state of a C enum value, `None` outside 0–4.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(PairState::Frozen),
            1 => Some(PairState::Waiting),
            2 => Some(PairState::InProgress),
            3 => Some(PairState::Succeeded),
            4 => Some(PairState::Failed),
            _ => None,
        }
    }
}

/// Pair priority `2^32·min(G,D) + 2·max(G,D) + (G > D ? 1 : 0)`, where G is
/// the controlling agent's candidate priority and D the controlled one's.
/// Computed modulo 2^64 like the C API (RFC priorities stay below 2^31, where
/// nothing wraps).
#[cfg_attr(xp2p_device, optimize(size))]
pub fn pair_priority(controlling: u32, controlled: u32) -> u64 {
    let (g, d) = (u64::from(controlling), u64::from(controlled));
    g.min(d)
        .wrapping_shl(32)
        .wrapping_add(g.max(d).wrapping_mul(2))
        .wrapping_add(u64::from(g > d))
}

/// Orders pair priorities highest first.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn compare_priority_desc(a: u64, b: u64) -> Ordering {
    b.cmp(&a)
}

/// Sorts `items` by descending priority; equal priorities keep their order.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn sort_by_priority_desc<T>(items: &mut [T], priority: impl Fn(&T) -> u64) {
    items.sort_by(|a, b| compare_priority_desc(priority(a), priority(b)));
}

/// A pair of a local and a remote candidate, by index into the agent's
/// candidate lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandidatePair {
    pub local: usize,
    pub remote: usize,
    pub priority: u64,
    pub state: PairState,
    pub nominated: bool,
}

impl CandidatePair {
    /// A frozen pair; `controlling` says which side this agent is on, so
    /// that G and D are assigned correctly.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(
        local: usize,
        local_priority: u32,
        remote: usize,
        remote_priority: u32,
        controlling: bool,
    ) -> Self {
        let priority = if controlling {
            pair_priority(local_priority, remote_priority)
        } else {
            pair_priority(remote_priority, local_priority)
        };
        CandidatePair {
            local,
            remote,
            priority,
            state: PairState::Frozen,
            nominated: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_priority_formula() {
        assert_eq!(pair_priority(100, 50), (50u64 << 32) + 201);
        assert_eq!(pair_priority(50, 100), (50u64 << 32) + 200);
        assert_ne!(pair_priority(100, 50), pair_priority(50, 100));
        assert_eq!(pair_priority(100, 100), (100u64 << 32) + 200);
        // Wraps instead of panicking for out-of-RFC-range priorities.
        let _ = pair_priority(u32::MAX, u32::MAX);
    }

    #[test]
    fn sorts_descending_and_stable() {
        let mut v = [(100u64, 'a'), (300, 'b'), (200, 'c'), (300, 'd')];
        sort_by_priority_desc(&mut v, |p| p.0);
        assert_eq!(v, [(300, 'b'), (300, 'd'), (200, 'c'), (100, 'a')]);
    }

    #[test]
    fn new_pair_uses_role() {
        let a = CandidatePair::new(0, 100, 1, 50, true);
        let b = CandidatePair::new(0, 50, 1, 100, false);
        assert_eq!(a.priority, b.priority);
        assert_eq!(a.state, PairState::Frozen);
        for s in 0..5 {
            assert_eq!(PairState::from_code(s).unwrap().code() as i64, s);
        }
        assert_eq!(PairState::from_code(5), None);
    }
}
