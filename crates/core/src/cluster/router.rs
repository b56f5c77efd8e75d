//! Routing policies: which replica of a pool gets the next request.
//!
//! A policy sees the pool through a [`PoolView`]: each replica's [`LoadSignals`] (live, or as
//! the last refresh saw them when signals are stale) and, for the KV-aware policy, how much of
//! the request's prompt each replica has cached. Sources of each policy: `docs/model.md`
//! §Routers.

use std::collections::BTreeMap;

use crate::rng::{RngStream, StreamId};
use crate::scenario::{RouterKind, RouterSettings};

/// What a router knows of one replica's load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadSignals {
    /// Requests routed there and not finished (or handed on).
    pub outstanding: u64,
    /// KV blocks referenced by its requests.
    pub used_blocks: u64,
    /// KV blocks it has.
    pub total_blocks: u64,
    /// Blocks of the prompts waiting in its queue.
    pub waiting_blocks: u64,
}

impl LoadSignals {
    /// Adds `other`'s requests and blocks to these.
    pub fn add(&mut self, other: &LoadSignals) {
        self.outstanding += other.outstanding;
        self.used_blocks += other.used_blocks;
        self.total_blocks += other.total_blocks;
        self.waiting_blocks += other.waiting_blocks;
    }

    /// Takes `other`'s requests and blocks, added before, away again.
    pub fn remove(&mut self, other: &LoadSignals) {
        self.outstanding -= other.outstanding;
        self.used_blocks -= other.used_blocks;
        self.total_blocks -= other.total_blocks;
        self.waiting_blocks -= other.waiting_blocks;
    }
}

/// The request being placed, as a policy sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouteRequest {
    /// Its session, if the trace has one.
    pub session: Option<u32>,
    /// KV blocks of its prompt.
    pub prompt_blocks: u64,
}

/// A pool's replicas as a policy sees them. Looking at a replica brings it to the routing
/// instant, so policies look only at the replicas they need.
pub trait PoolView {
    /// Replicas in the pool.
    fn num_replicas(&self) -> usize;
    /// Replica `index`'s load signals.
    fn load(&mut self, index: usize) -> LoadSignals;
    /// Blocks of the request's prompt replica `index` has cached.
    fn cached_blocks(&mut self, index: usize) -> u64;
}

/// Chooses a replica for each request.
pub trait RoutingPolicy {
    /// Picks one of `pool`'s replicas (an index below `pool.num_replicas()`).
    fn choose(&mut self, request: &RouteRequest, pool: &mut dyn PoolView) -> usize;
}

/// Replicas in turn.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: usize,
}

impl RoutingPolicy for RoundRobin {
    fn choose(&mut self, _request: &RouteRequest, pool: &mut dyn PoolView) -> usize {
        let chosen = self.next % pool.num_replicas();
        self.next = chosen + 1;
        chosen
    }
}

/// A uniformly random replica.
#[derive(Debug)]
pub struct RandomChoice {
    rng: RngStream,
}

impl RoutingPolicy for RandomChoice {
    fn choose(&mut self, _request: &RouteRequest, pool: &mut dyn PoolView) -> usize {
        self.rng.below(pool.num_replicas() as u64) as usize
    }
}

/// The replica with the fewest requests in flight; ties go to the lowest index.
#[derive(Debug, Default)]
pub struct LeastOutstanding;

impl RoutingPolicy for LeastOutstanding {
    fn choose(&mut self, _request: &RouteRequest, pool: &mut dyn PoolView) -> usize {
        least_outstanding(pool)
    }
}

fn least_outstanding(pool: &mut dyn PoolView) -> usize {
    (0..pool.num_replicas()).min_by_key(|&index| (pool.load(index).outstanding, index)).expect("at least one replica")
}

/// Two distinct random replicas; the one with fewer requests in flight wins (ties go to the
/// first drawn).
#[derive(Debug)]
pub struct PowerOfTwoChoices {
    rng: RngStream,
}

impl RoutingPolicy for PowerOfTwoChoices {
    fn choose(&mut self, _request: &RouteRequest, pool: &mut dyn PoolView) -> usize {
        let num_replicas = pool.num_replicas() as u64;
        if num_replicas == 1 {
            return 0;
        }
        let first = self.rng.below(num_replicas) as usize;
        let second = (first + 1 + self.rng.below(num_replicas - 1) as usize) % pool.num_replicas();
        if pool.load(second).outstanding < pool.load(first).outstanding {
            second
        } else {
            first
        }
    }
}

/// The replica with the smallest fraction of its KV cache in use (counting the blocks its
/// waiting prompts will take); ties go to the lowest index.
#[derive(Debug, Default)]
pub struct LeastKv;

impl RoutingPolicy for LeastKv {
    fn choose(&mut self, _request: &RouteRequest, pool: &mut dyn PoolView) -> usize {
        let mut best: Option<(usize, u128, u128)> = None;
        for index in 0..pool.num_replicas() {
            let load = pool.load(index);
            let (used, total) =
                (u128::from(load.used_blocks + load.waiting_blocks), u128::from(load.total_blocks.max(1)));
            // used / total < best_used / best_total, compared exactly.
            if best.is_none_or(|(_, best_used, best_total)| used * best_total < best_used * total) {
                best = Some((index, used, total));
            }
        }
        best.expect("at least one replica").0
    }
}

/// Dynamo's KV router: each replica costs `weight × blocks of the prompt it would still have to
/// prefill + blocks its requests hold or wait for`; at temperature 0 the cheapest wins (ties
/// drawn at random), above it a softmax over the costs normalised to [0, 1] draws the replica.
#[derive(Debug)]
pub struct KvAware {
    weight: f64,
    temperature: f64,
    rng: RngStream,
    costs: Vec<f64>,
}

impl KvAware {
    /// A KV-aware policy with Dynamo's `kv-overlap-score-weight` and `router-temperature`.
    pub fn new(weight: f64, temperature: f64, rng: RngStream) -> KvAware {
        KvAware { weight, temperature, rng, costs: Vec::new() }
    }
}

impl RoutingPolicy for KvAware {
    fn choose(&mut self, request: &RouteRequest, pool: &mut dyn PoolView) -> usize {
        self.costs.clear();
        for index in 0..pool.num_replicas() {
            let to_prefill = request.prompt_blocks.saturating_sub(pool.cached_blocks(index));
            let load = pool.load(index);
            self.costs.push(self.weight * to_prefill as f64 + (load.used_blocks + load.waiting_blocks) as f64);
        }
        let min = self.costs.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.costs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if self.temperature > 0.0 && max > min {
            let weights: Vec<f64> =
                self.costs.iter().map(|cost| libm::exp(-(cost - min) / (max - min) / self.temperature)).collect();
            let mut draw = self.rng.next_f64() * weights.iter().sum::<f64>();
            for (index, weight) in weights.iter().enumerate() {
                if draw < *weight {
                    return index;
                }
                draw -= weight;
            }
            return weights.len() - 1;
        }
        let cheapest: Vec<usize> = (0..self.costs.len()).filter(|&index| self.costs[index] == min).collect();
        if cheapest.len() == 1 {
            cheapest[0]
        } else {
            cheapest[self.rng.below(cheapest.len() as u64) as usize]
        }
    }
}

/// A session's requests go where its first went; a session's first request, and every request
/// without a session, goes to the replica with the fewest requests in flight.
#[derive(Debug, Default)]
pub struct SessionAffinity {
    placed: BTreeMap<u32, usize>,
}

impl RoutingPolicy for SessionAffinity {
    fn choose(&mut self, request: &RouteRequest, pool: &mut dyn PoolView) -> usize {
        let Some(session) = request.session else { return least_outstanding(pool) };
        if let Some(&replica) = self.placed.get(&session) {
            return replica;
        }
        let replica = least_outstanding(pool);
        self.placed.insert(session, replica);
        replica
    }
}

/// The policy `kind` names with `settings`' knobs, drawing randomness from `stream`.
pub fn policy_for(kind: RouterKind, settings: &RouterSettings, seed: u64, stream: StreamId) -> Box<dyn RoutingPolicy> {
    let rng = RngStream::new(seed, stream);
    match kind {
        RouterKind::RoundRobin => Box::new(RoundRobin::default()),
        RouterKind::Random => Box::new(RandomChoice { rng }),
        RouterKind::LeastOutstanding => Box::new(LeastOutstanding),
        RouterKind::PowerOfTwo => Box::new(PowerOfTwoChoices { rng }),
        RouterKind::LeastKv => Box::new(LeastKv),
        RouterKind::KvAware => Box::new(KvAware::new(settings.kv_overlap_weight, settings.temperature, rng)),
        RouterKind::SessionAffinity => Box::new(SessionAffinity::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool with fixed signals, recording which replicas were looked at.
    struct Fixed {
        loads: Vec<LoadSignals>,
        cached: Vec<u64>,
        looked: Vec<usize>,
    }

    impl Fixed {
        fn outstanding(loads: &[u64]) -> Fixed {
            let loads =
                loads.iter().map(|&outstanding| LoadSignals { outstanding, ..LoadSignals::default() }).collect();
            Fixed { loads, cached: Vec::new(), looked: Vec::new() }
        }
    }

    impl PoolView for Fixed {
        fn num_replicas(&self) -> usize {
            self.loads.len()
        }
        fn load(&mut self, index: usize) -> LoadSignals {
            self.looked.push(index);
            self.loads[index]
        }
        fn cached_blocks(&mut self, index: usize) -> u64 {
            self.cached[index]
        }
    }

    const ANY: RouteRequest = RouteRequest { session: None, prompt_blocks: 0 };

    #[test]
    fn round_robin_cycles_and_least_outstanding_takes_the_lowest_load() {
        let mut round_robin = RoundRobin::default();
        let mut idle = Fixed::outstanding(&[0, 0, 0]);
        let picks: Vec<usize> = (0..5).map(|_| round_robin.choose(&ANY, &mut idle)).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1]);
        assert_eq!(LeastOutstanding.choose(&ANY, &mut Fixed::outstanding(&[4, 2, 2, 7])), 1);
    }

    #[test]
    fn power_of_two_picks_distinct_replicas_and_the_lighter_one() {
        let mut policy = PowerOfTwoChoices { rng: RngStream::new(1, StreamId::ROUTER) };
        let mut pool = Fixed::outstanding(&[9, 0, 9, 9]);
        let mut wins = 0;
        for _ in 0..1_000 {
            pool.looked.clear();
            let chosen = policy.choose(&ANY, &mut pool);
            let asked = pool.looked.clone();
            assert!(asked.len() <= 2 && asked.first() != asked.get(1), "asked {asked:?}");
            if asked.contains(&1) {
                assert_eq!(chosen, 1);
                wins += 1;
            }
        }
        // Replica 1 is among the two drawn half the time (1 − 3/4 · 2/3).
        assert!((430..570).contains(&wins), "{wins}");
    }

    #[test]
    fn random_spreads_uniformly() {
        let mut policy = policy_for(RouterKind::Random, &RouterSettings::default(), 3, StreamId::ROUTER);
        let mut pool = Fixed::outstanding(&[0; 4]);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[policy.choose(&ANY, &mut pool)] += 1;
        }
        assert!(counts.iter().all(|&c| (9_500..10_500).contains(&c)), "{counts:?}");
    }

    #[test]
    fn least_kv_compares_fractions_of_each_cache_including_waiting_prompts() {
        let load = |used, waiting, total| LoadSignals {
            used_blocks: used,
            waiting_blocks: waiting,
            total_blocks: total,
            outstanding: 0,
        };
        // 50 %, 40 % (30 used + 10 waiting of 100), 45 %: the second.
        let mut pool = Fixed {
            loads: vec![load(50, 0, 100), load(30, 10, 100), load(90, 0, 200)],
            cached: vec![],
            looked: vec![],
        };
        assert_eq!(LeastKv.choose(&ANY, &mut pool), 1);
    }

    #[test]
    fn kv_aware_weighs_blocks_to_prefill_against_blocks_in_use() {
        let load = |used| LoadSignals { used_blocks: used, total_blocks: 1_000, ..LoadSignals::default() };
        // A 100-block prompt: replica 0 has 80 cached and 50 in use (cost 20 + 50 = 70); replica
        // 1 has nothing cached and 10 in use (100 + 10 = 110); replica 2 has 40 cached, 5 in use
        // (60 + 5 = 65): replica 2 is cheapest at weight 1.
        let mut pool = Fixed { loads: vec![load(50), load(10), load(5)], cached: vec![80, 0, 40], looked: vec![] };
        let request = RouteRequest { session: None, prompt_blocks: 100 };
        let rng = || RngStream::new(5, StreamId::ROUTER);
        assert_eq!(KvAware::new(1.0, 0.0, rng()).choose(&request, &mut pool), 2);
        // At weight 2 the prefill side dominates: 90, 210, 125: replica 0.
        assert_eq!(KvAware::new(2.0, 0.0, rng()).choose(&request, &mut pool), 0);
        // At weight 0 only the load counts: replica 2 (5 blocks).
        assert_eq!(KvAware::new(0.0, 0.0, rng()).choose(&request, &mut pool), 2);
        // A softmax at temperature 1 over normalised costs (70, 110, 65 → 1/9, 1, 0) picks
        // each with probability ∝ e^{-x}: e^{-1/9} = 0.8948, e^{-1} = 0.3679 and 1 over their sum
        // 2.2627, i.e. 0.3955, 0.1626, 0.4419 (hand-computed).
        let mut policy = KvAware::new(1.0, 1.0, rng());
        let mut counts = [0u32; 3];
        for _ in 0..100_000 {
            counts[policy.choose(&request, &mut pool)] += 1;
        }
        let expected = [0.3955, 0.1626, 0.4419];
        for (count, p) in counts.iter().zip(expected) {
            assert!((f64::from(*count) / 100_000.0 - p).abs() < 0.006, "{counts:?}");
        }
    }

    #[test]
    fn session_affinity_keeps_a_session_on_its_first_replica() {
        let mut policy = SessionAffinity::default();
        let session = |id| RouteRequest { session: Some(id), prompt_blocks: 0 };
        assert_eq!(policy.choose(&session(7), &mut Fixed::outstanding(&[3, 1, 2])), 1);
        // Replica 1 is now the busiest, but session 7 stays; session 8 goes to the lightest.
        assert_eq!(policy.choose(&session(7), &mut Fixed::outstanding(&[0, 9, 2])), 1);
        assert_eq!(policy.choose(&session(8), &mut Fixed::outstanding(&[0, 9, 2])), 0);
        assert_eq!(policy.choose(&ANY, &mut Fixed::outstanding(&[5, 9, 2])), 2);
    }
}
