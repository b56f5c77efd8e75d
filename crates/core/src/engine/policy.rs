//! Scheduling policies: the order in which waiting requests are admitted, and which running
//! request is preempted when KV blocks run out. The engine keeps only the mechanism.
//!
//! vLLM V1's defaults are first-come-first-served admission with head-of-line blocking, and
//! preemption of the most recently admitted request ([`Fcfs`], [`NewestFirst`]).

use std::collections::{BTreeMap, VecDeque};

use super::Running;
use crate::ids::RequestId;
use crate::time::SimTime;

/// A request waiting to be admitted (or re-admitted after a preemption).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// The request.
    pub request: RequestId,
    /// Tokens to compute before the next token is sampled: the prompt, plus the tokens
    /// generated before a preemption.
    pub num_tokens: u64,
    /// Output tokens generated so far (before a preemption).
    pub generated: u32,
    /// When its last token was emitted (for the gap a client sees across a preemption);
    /// [`SimTime::MAX`] before its first token.
    pub last_token_at: SimTime,
    /// Where its private blocks start (after its shared prefix blocks), once preempted.
    pub private_start: u32,
}

/// The order in which waiting requests are considered for admission.
pub trait WaitingQueue: std::fmt::Debug {
    /// Adds a newly arrived request.
    fn push(&mut self, waiting: Waiting);
    /// Puts back a request that was preempted.
    fn push_preempted(&mut self, waiting: Waiting);
    /// The request the scheduler considers next.
    fn peek(&self) -> Option<&Waiting>;
    /// Removes the request [`WaitingQueue::peek`] returned.
    fn pop(&mut self) -> Option<Waiting>;
    /// Requests waiting.
    fn len(&self) -> usize;
    /// Whether no request waits.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First come, first served; a preempted request goes back to the front (vLLM V1's
/// `prepend_request`), ahead of everything that arrived after it was first admitted.
#[derive(Clone, Debug, Default)]
pub struct Fcfs {
    queue: VecDeque<Waiting>,
}

impl WaitingQueue for Fcfs {
    fn push(&mut self, waiting: Waiting) {
        self.queue.push_back(waiting);
    }

    fn push_preempted(&mut self, waiting: Waiting) {
        self.queue.push_front(waiting);
    }

    fn peek(&self) -> Option<&Waiting> {
        self.queue.front()
    }

    fn pop(&mut self) -> Option<Waiting> {
        self.queue.pop_front()
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

/// Picks the running request to preempt.
pub trait PreemptionPolicy: std::fmt::Debug {
    /// The admission number of the victim among `running` (keyed by admission number, oldest
    /// first); `None` when nothing runs.
    fn victim(&self, running: &BTreeMap<u64, Running>) -> Option<u64>;
}

/// The most recently admitted request (vLLM V1's FCFS policy: `self.running.pop()`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NewestFirst;

impl PreemptionPolicy for NewestFirst {
    fn victim(&self, running: &BTreeMap<u64, Running>) -> Option<u64> {
        running.keys().next_back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(request: u32) -> Waiting {
        Waiting {
            request: RequestId(request),
            num_tokens: 10,
            generated: 0,
            last_token_at: SimTime::MAX,
            private_start: 0,
        }
    }

    #[test]
    fn fcfs_serves_arrivals_in_order_and_puts_preempted_requests_first() {
        let mut queue = Fcfs::default();
        queue.push(waiting(1));
        queue.push(waiting(2));
        queue.push_preempted(waiting(0));
        let order: Vec<u32> = std::iter::from_fn(|| queue.pop().map(|w| w.request.0)).collect();
        assert_eq!(order, vec![0, 1, 2]);
        assert!(queue.is_empty());
    }

    #[test]
    fn the_newest_admission_is_the_victim() {
        let running: BTreeMap<u64, Running> =
            [3, 9, 5].into_iter().map(|admitted| (admitted, Running::prefilling(RequestId(admitted as u32)))).collect();
        assert_eq!(NewestFirst.victim(&running), Some(9));
        assert_eq!(NewestFirst.victim(&BTreeMap::new()), None);
    }
}
