//! The `(time, seq)` event queue.
//!
//! A binary min-heap ordered by the instant an event is due and, for equal instants, by a
//! sequence number stamped at insertion. Events due at the same instant therefore come out in the
//! order they were pushed, which keeps runs deterministic without any tie-breaking by event
//! content.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::time::SimTime;

/// A priority queue of events keyed by `(due time, insertion order)`.
///
/// # Example
///
/// ```
/// use servesim_core::sim::EventQueue;
/// use servesim_core::time::SimTime;
///
/// let mut queue = EventQueue::new();
/// queue.push(SimTime::from_nanos(20), "late");
/// queue.push(SimTime::from_nanos(10), "first");
/// queue.push(SimTime::from_nanos(10), "second");
/// assert_eq!(queue.pop(), Some((SimTime::from_nanos(10), "first")));
/// assert_eq!(queue.pop(), Some((SimTime::from_nanos(10), "second")));
/// assert_eq!(queue.pop(), Some((SimTime::from_nanos(20), "late")));
/// assert_eq!(queue.pop(), None);
/// ```
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
}

#[derive(Debug)]
struct Entry<E> {
    due_at: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.due_at, self.seq) == (other.due_at, other.seq)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, so that the max-heap `BinaryHeap` pops the earliest `(due_at, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due_at, other.seq).cmp(&(self.due_at, self.seq))
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), next_seq: 0 }
    }

    /// Schedules `event` at `due_at`, after every event already scheduled for that instant.
    pub fn push(&mut self, due_at: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { due_at, seq, event });
    }

    /// Removes and returns the earliest event with its due time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.heap.pop().map(|entry| (entry.due_at, entry.event))
    }

    /// The due time of the earliest event, without removing it.
    pub fn next_due_at(&self) -> Option<SimTime> {
        self.heap.peek().map(|entry| entry.due_at)
    }

    /// The number of scheduled events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_events_pop_in_insertion_order_even_when_interleaved() {
        let mut queue = EventQueue::new();
        let t = SimTime::from_nanos(1_000);
        for i in 0..100u32 {
            queue.push(t, i);
            // Interleave pushes at other times so the heap reorders internally.
            queue.push(SimTime::from_nanos(u64::from(i) * 37 % 2_000), 1_000 + i);
        }
        let mut at_t = Vec::new();
        let mut last_due = SimTime::ZERO;
        while let Some((due_at, event)) = queue.pop() {
            assert!(due_at >= last_due, "time went backwards: {due_at} after {last_due}");
            last_due = due_at;
            if due_at == t && event < 1_000 {
                at_t.push(event);
            }
        }
        assert_eq!(at_t, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn events_come_out_in_time_order() {
        let mut queue = EventQueue::new();
        for nanos in [50u64, 10, 40, 30, 20] {
            queue.push(SimTime::from_nanos(nanos), nanos);
        }
        assert_eq!(queue.len(), 5);
        assert_eq!(queue.next_due_at(), Some(SimTime::from_nanos(10)));
        let order: Vec<u64> = std::iter::from_fn(|| queue.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![10, 20, 30, 40, 50]);
        assert!(queue.is_empty());
    }
}
