//! Scheduling policies: the order in which waiting requests are admitted, and which running
//! request is preempted when KV blocks run out. The engine keeps only the mechanism.
//!
//! vLLM V1's defaults are first-come-first-served admission with head-of-line blocking, and
//! preemption of the most recently admitted request ([`Fcfs`], [`NewestFirst`]). Its priority
//! policy admits by `(priority, arrival)` and preempts the largest; here the two are one *rank*,
//! `arrival + priority × ageing`, so that a request that waited long enough overtakes more
//! urgent newcomers and nothing starves ([`ByRank`], [`LowestRankFirst`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::kv_cache::{BlockKey, KvCacheManager};
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
    /// When it arrived (what queue timeouts read; only kept for requests never admitted).
    pub arrived_at: SimTime,
    /// Its rank under priority scheduling: arrival plus priority × ageing, nanoseconds (lower
    /// first).
    pub rank: i64,
    /// Whether it was admitted before (a preempted request, or one whose prompt a prefill
    /// replica computed): only requests never admitted time out in the queue.
    pub admitted_before: bool,
    /// Whether its prompt's KV comes from a prefill replica: admitting it reserves the blocks
    /// and asks for the transfer (a disaggregated decode replica's request).
    pub kv_remote: bool,
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
    /// Moves the requests never admitted that arrived at or before `arrived_by` to `expired`.
    fn remove_expired(&mut self, arrived_by: SimTime, expired: &mut Vec<Waiting>);
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
    /// Preempted requests at the front; new arrivals follow them in arrival order.
    num_preempted: usize,
}

impl WaitingQueue for Fcfs {
    fn push(&mut self, waiting: Waiting) {
        self.queue.push_back(waiting);
    }

    fn push_preempted(&mut self, waiting: Waiting) {
        self.queue.push_front(waiting);
        self.num_preempted += 1;
    }

    fn peek(&self) -> Option<&Waiting> {
        self.queue.front()
    }

    fn pop(&mut self) -> Option<Waiting> {
        self.num_preempted = self.num_preempted.saturating_sub(1);
        self.queue.pop_front()
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    fn remove_expired(&mut self, arrived_by: SimTime, expired: &mut Vec<Waiting>) {
        // New arrivals are in arrival order behind the preempted ones: the expired come first.
        while self.queue.get(self.num_preempted).is_some_and(|waiting| waiting.arrived_at <= arrived_by) {
            expired.extend(self.queue.remove(self.num_preempted));
        }
    }
}

/// Lowest rank first (vLLM's priority policy, with ageing folded into the rank); ties by
/// request id, which follows arrival.
#[derive(Clone, Debug, Default)]
pub struct ByRank {
    queue: BTreeMap<(i64, RequestId), Waiting>,
    /// The requests never admitted, by arrival, for timeouts.
    never_admitted: BTreeSet<(SimTime, RequestId, i64)>,
}

impl WaitingQueue for ByRank {
    fn push(&mut self, waiting: Waiting) {
        if !waiting.admitted_before {
            self.never_admitted.insert((waiting.arrived_at, waiting.request, waiting.rank));
        }
        self.queue.insert((waiting.rank, waiting.request), waiting);
    }

    fn push_preempted(&mut self, waiting: Waiting) {
        self.push(waiting);
    }

    fn peek(&self) -> Option<&Waiting> {
        self.queue.values().next()
    }

    fn pop(&mut self) -> Option<Waiting> {
        let (_, waiting) = self.queue.pop_first()?;
        self.never_admitted.remove(&(waiting.arrived_at, waiting.request, waiting.rank));
        Some(waiting)
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    fn remove_expired(&mut self, arrived_by: SimTime, expired: &mut Vec<Waiting>) {
        while let Some(&(arrived_at, request, rank)) = self.never_admitted.first() {
            if arrived_at > arrived_by {
                break;
            }
            self.never_admitted.pop_first();
            expired.extend(self.queue.remove(&(rank, request)));
        }
    }
}

/// Picks the running request to preempt.
pub trait PreemptionPolicy: std::fmt::Debug {
    /// The admission number of the victim among the requests of `running` (keyed by admission
    /// number, oldest first) admitted at or after `eligible_from` (those the step has not
    /// scheduled yet); `None` when there are none.
    fn victim(&self, running: &BTreeMap<u64, Running>, eligible_from: u64) -> Option<u64>;
}

/// The most recently admitted request (vLLM V1's FCFS policy: `self.running.pop()`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NewestFirst;

impl PreemptionPolicy for NewestFirst {
    fn victim(&self, running: &BTreeMap<u64, Running>, eligible_from: u64) -> Option<u64> {
        running.range(eligible_from..).next_back().map(|(&admitted, _)| admitted)
    }
}

/// The eligible request of highest rank (least urgent), the newest among equals (vLLM's
/// priority policy: `max(running, key=(priority, arrival))`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LowestRankFirst;

impl PreemptionPolicy for LowestRankFirst {
    fn victim(&self, running: &BTreeMap<u64, Running>, eligible_from: u64) -> Option<u64> {
        running.range(eligible_from..).max_by_key(|(&admitted, r)| (r.rank, admitted)).map(|(&admitted, _)| admitted)
    }
}

/// What preemption does with the victim's KV once the engine has released it (its computed
/// private blocks cached under the victim's own key, [`BlockKey::Private`]).
pub trait PreemptionMode: std::fmt::Debug {
    /// Whether the victim's private blocks are kept and looked up again on readmission even
    /// without prefix caching.
    fn keeps_private_blocks(&self) -> bool;
    /// The victim's private blocks are cached under `victim`; returns how many blocks were
    /// copied over the host link for it in the step being planned.
    fn on_preempted(&mut self, kv: &mut KvCacheManager, victim: BlockKey) -> u32;
    /// The victim is readmitted, having loaded `loaded` of its blocks from the host.
    fn on_readmitted(&mut self, kv: &mut KvCacheManager, victim: BlockKey, loaded: u32);
}

/// vLLM V1's preemption: the victim's KV is freed (its full blocks stay cached, with prefix
/// caching, until evicted) and recomputed on readmission.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recompute;

impl PreemptionMode for Recompute {
    fn keeps_private_blocks(&self) -> bool {
        false
    }

    fn on_preempted(&mut self, _kv: &mut KvCacheManager, _victim: BlockKey) -> u32 {
        0
    }

    fn on_readmitted(&mut self, _kv: &mut KvCacheManager, _victim: BlockKey, _loaded: u32) {}
}

/// Swapping to host memory (vLLM V0's `swap` mode): the victim's private blocks are copied to the
/// host tier, pinned until it returns, and loaded back unless the GPU cache still holds them.
/// Without room on the host it is recomputed.
#[derive(Clone, Copy, Debug, Default)]
pub struct SwapToHost;

impl PreemptionMode for SwapToHost {
    fn keeps_private_blocks(&self) -> bool {
        true
    }

    fn on_preempted(&mut self, kv: &mut KvCacheManager, victim: BlockKey) -> u32 {
        let Some(blocks) = kv.lookup(victim).map(|cached| cached.num_blocks) else { return 0 };
        let copied = kv.host_mut().is_some_and(|host| host.swap_out(victim, 0, blocks));
        if copied {
            blocks
        } else {
            0
        }
    }

    fn on_readmitted(&mut self, kv: &mut KvCacheManager, victim: BlockKey, loaded: u32) {
        if let Some(host) = kv.host_mut() {
            host.swap_in(victim, loaded);
        }
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
            arrived_at: SimTime::from_secs_f64(f64::from(request)),
            rank: i64::from(request),
            admitted_before: false,
            kv_remote: false,
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
        let running: BTreeMap<u64, Running> = [3, 9, 5]
            .into_iter()
            .map(|admitted| (admitted, Running::prefilling(RequestId(admitted as u32), 0)))
            .collect();
        assert_eq!(NewestFirst.victim(&running, 0), Some(9));
        assert_eq!(NewestFirst.victim(&running, 10), None, "nothing eligible");
        assert_eq!(NewestFirst.victim(&BTreeMap::new(), 0), None);
    }

    #[test]
    fn the_least_urgent_eligible_request_is_the_priority_victim() {
        // Admission 3 has the highest rank (least urgent); 9 is newest.
        let running: BTreeMap<u64, Running> = [(3, 50), (9, 10), (5, 20)]
            .into_iter()
            .map(|(admitted, rank)| (admitted, Running::prefilling(RequestId(admitted as u32), rank)))
            .collect();
        assert_eq!(LowestRankFirst.victim(&running, 0), Some(3));
        assert_eq!(LowestRankFirst.victim(&running, 4), Some(5), "admission 3 is already scheduled");
    }

    #[test]
    fn rank_order_admits_urgent_requests_first_and_ties_by_arrival() {
        let mut queue = ByRank::default();
        for (request, rank) in [(0, 30), (1, 10), (2, 10), (3, 20)] {
            queue.push(Waiting { rank, ..waiting(request) });
        }
        let order: Vec<u32> = std::iter::from_fn(|| queue.pop().map(|w| w.request.0)).collect();
        assert_eq!(order, vec![1, 2, 3, 0]);
    }

    #[test]
    fn only_requests_never_admitted_time_out_oldest_first() {
        for mut queue in [Box::new(Fcfs::default()) as Box<dyn WaitingQueue>, Box::new(ByRank::default())] {
            // Arrivals at 0, 1, 2 and 3 s; request 0 was admitted once and preempted.
            queue.push(waiting(1));
            queue.push(waiting(2));
            queue.push(waiting(3));
            queue.push_preempted(Waiting { admitted_before: true, ..waiting(0) });
            let mut expired = Vec::new();
            queue.remove_expired(SimTime::from_secs_f64(2.0), &mut expired);
            let ids: Vec<u32> = expired.iter().map(|w| w.request.0).collect();
            assert_eq!(ids, vec![1, 2]);
            let left: Vec<u32> = std::iter::from_fn(|| queue.pop().map(|w| w.request.0)).collect();
            assert_eq!(left, vec![0, 3]);
        }
    }
}
