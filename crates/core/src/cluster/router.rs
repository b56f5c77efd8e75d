//! Routing policies: which replica gets the next request.

use crate::rng::{RngStream, StreamId};
use crate::scenario::RouterKind;

/// Chooses a replica for each arriving request.
pub trait RoutingPolicy {
    /// Picks one of `num_replicas`; `load(i)` gives replica `i`'s requests in flight (calling
    /// it advances that replica to the arrival instant, so policies call it only as needed).
    fn choose(&mut self, num_replicas: usize, load: &mut dyn FnMut(usize) -> u64) -> usize;
}

/// Replicas in turn.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: usize,
}

impl RoutingPolicy for RoundRobin {
    fn choose(&mut self, num_replicas: usize, _load: &mut dyn FnMut(usize) -> u64) -> usize {
        let chosen = self.next % num_replicas;
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
    fn choose(&mut self, num_replicas: usize, _load: &mut dyn FnMut(usize) -> u64) -> usize {
        self.rng.below(num_replicas as u64) as usize
    }
}

/// The replica with the fewest requests in flight; ties go to the lowest index.
#[derive(Debug, Default)]
pub struct LeastOutstanding;

impl RoutingPolicy for LeastOutstanding {
    fn choose(&mut self, num_replicas: usize, load: &mut dyn FnMut(usize) -> u64) -> usize {
        (0..num_replicas).min_by_key(|&index| (load(index), index)).expect("at least one replica")
    }
}

/// Two distinct random replicas; the less loaded wins (ties go to the first drawn).
#[derive(Debug)]
pub struct PowerOfTwoChoices {
    rng: RngStream,
}

impl RoutingPolicy for PowerOfTwoChoices {
    fn choose(&mut self, num_replicas: usize, load: &mut dyn FnMut(usize) -> u64) -> usize {
        if num_replicas == 1 {
            return 0;
        }
        let first = self.rng.below(num_replicas as u64) as usize;
        let second = (first + 1 + self.rng.below(num_replicas as u64 - 1) as usize) % num_replicas;
        if load(second) < load(first) {
            second
        } else {
            first
        }
    }
}

/// The policy a scenario's `router` names, drawing randomness from the `ROUTER` stream.
pub fn policy_for(router: RouterKind, seed: u64) -> Box<dyn RoutingPolicy> {
    let rng = RngStream::new(seed, StreamId::ROUTER);
    match router {
        RouterKind::RoundRobin => Box::new(RoundRobin::default()),
        RouterKind::Random => Box::new(RandomChoice { rng }),
        RouterKind::LeastOutstanding => Box::new(LeastOutstanding),
        RouterKind::PowerOfTwo => Box::new(PowerOfTwoChoices { rng }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_cycles_and_least_outstanding_takes_the_lowest_load() {
        let mut round_robin = RoundRobin::default();
        let picks: Vec<usize> = (0..5).map(|_| round_robin.choose(3, &mut |_| 0)).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1]);
        let loads = [4, 2, 2, 7];
        assert_eq!(LeastOutstanding.choose(4, &mut |i| loads[i]), 1);
    }

    #[test]
    fn power_of_two_picks_distinct_replicas_and_the_lighter_one() {
        let mut policy = PowerOfTwoChoices { rng: RngStream::new(1, StreamId::ROUTER) };
        let loads = [9, 0, 9, 9];
        let mut asked = Vec::new();
        let mut wins = 0;
        for _ in 0..1_000 {
            asked.clear();
            let chosen = policy.choose(4, &mut |i| {
                asked.push(i);
                loads[i]
            });
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
        let mut policy = policy_for(RouterKind::Random, 3);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[policy.choose(4, &mut |_| 0)] += 1;
        }
        assert!(counts.iter().all(|&c| (9_500..10_500).contains(&c)), "{counts:?}");
    }
}
