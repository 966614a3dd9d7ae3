//! One-shot timers: a min-heap of `(deadline, seq, id)` with lazy
//! cancellation. A cancelled timer leaves its heap entry behind; the entry
//! is skipped when it reaches the top, and the heap is compacted when stale
//! entries outnumber live ones.
//!
//! Ids come from one process-wide counter, so a timer handle is never reused
//! and never matches a timer of another loop: cancelling a fired, cancelled
//! or foreign handle finds nothing.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// A fresh, process-wide unique, non-zero id (timers, sources, sockets).
pub(crate) fn next_id() -> usize {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A pending timer: its creation order and what it does.
pub(crate) struct Timer<A> {
    pub seq: u64,
    pub action: A,
}

/// The timers of one loop; `A` is what a timer does when it fires.
pub(crate) struct Timers<A> {
    heap: BinaryHeap<Reverse<(u64, u64, usize)>>,
    live: HashMap<usize, Timer<A>>,
    next_seq: u64,
}

impl<A> Timers<A> {
    pub fn new() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            live: HashMap::new(),
            next_seq: 0,
        }
    }

    /// Schedules `action` at `deadline` (xMonoMs time); returns its id.
    pub fn insert(&mut self, deadline: u64, action: A) -> usize {
        let id = next_id();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse((deadline, seq, id)));
        self.live.insert(id, Timer { seq, action });
        id
    }

    /// Removes a pending timer; `None` if it fired, was cancelled or is unknown.
    pub fn remove(&mut self, id: usize) -> Option<Timer<A>> {
        let t = self.live.remove(&id)?;
        if self.heap.len() > 64 && self.heap.len() > 2 * self.live.len() {
            self.compact();
        }
        Some(t)
    }

    /// Looks at a pending timer.
    pub fn get(&self, id: usize) -> Option<&Timer<A>> {
        self.live.get(&id)
    }

    /// The sequence number the next timer will get: timers created from
    /// now on have a `seq` at least this large.
    pub fn seq_mark(&self) -> u64 {
        self.next_seq
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&mut self) -> Option<u64> {
        self.drop_stale_top();
        self.heap.peek().map(|Reverse((d, _, _))| *d)
    }

    /// Takes, in deadline then creation order, the ids of timers due at `now`
    /// that were created before `seq_mark`. They stay pending (cancellable)
    /// until `remove` takes them.
    pub fn take_due(&mut self, now: u64, seq_mark: u64, out: &mut Vec<usize>) {
        let mut later = Vec::new();
        loop {
            self.drop_stale_top();
            match self.heap.peek() {
                Some(Reverse((d, seq, id))) if *d <= now => {
                    let (seq, id) = (*seq, *id);
                    let entry = self.heap.pop().expect("peeked");
                    if seq < seq_mark {
                        out.push(id);
                    } else {
                        later.push(entry);
                    }
                }
                _ => break,
            }
        }
        self.heap.extend(later);
    }

    /// Number of pending timers.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.live.len()
    }

    fn is_live(&self, seq: u64, id: usize) -> bool {
        self.live.get(&id).is_some_and(|t| t.seq == seq)
    }

    fn drop_stale_top(&mut self) {
        while let Some(Reverse((_, seq, id))) = self.heap.peek() {
            if self.is_live(*seq, *id) {
                break;
            }
            self.heap.pop();
        }
    }

    fn compact(&mut self) {
        let live = &self.live;
        self.heap
            .retain(|Reverse((_, seq, id))| live.get(id).is_some_and(|t| t.seq == *seq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(t: &mut Timers<u32>, now: u64) -> Vec<u32> {
        let mut ids = Vec::new();
        t.take_due(now, t.seq_mark(), &mut ids);
        ids.into_iter()
            .filter_map(|id| t.remove(id))
            .map(|t| t.action)
            .collect()
    }

    #[test]
    fn fires_in_deadline_then_creation_order() {
        let mut t = Timers::new();
        t.insert(30, 3);
        t.insert(10, 1);
        t.insert(20, 2);
        t.insert(10, 11);
        assert_eq!(t.next_deadline(), Some(10));
        assert_eq!(due(&mut t, 9), Vec::<u32>::new());
        assert_eq!(due(&mut t, 20), vec![1, 11, 2]);
        assert_eq!(due(&mut t, 100), vec![3]);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn cancelled_timers_are_skipped_and_compacted() {
        let mut t = Timers::new();
        let ids: Vec<usize> = (0..1000).map(|i| t.insert(1000 + i, i as u32)).collect();
        for id in &ids[..990] {
            assert!(t.remove(*id).is_some());
            assert!(t.remove(*id).is_none());
        }
        assert!(t.heap.len() <= 2 * t.len() + 64);
        assert_eq!(t.next_deadline(), Some(1990));
        assert_eq!(due(&mut t, 5000), (990..1000).collect::<Vec<u32>>());
    }

    #[test]
    fn timers_created_after_the_mark_wait() {
        let mut t = Timers::new();
        t.insert(5, 1);
        let mark = t.seq_mark();
        t.insert(0, 2);
        let mut ids = Vec::new();
        t.take_due(10, mark, &mut ids);
        assert_eq!(ids.len(), 1);
        assert_eq!(t.remove(ids[0]).map(|t| t.action), Some(1));
        assert_eq!(t.next_deadline(), Some(0));
        assert_eq!(due(&mut t, 10), vec![2]);
    }
}
