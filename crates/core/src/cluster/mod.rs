//! The cluster: replicas behind a router.
//!
//! Replicas advance lazily: the driver hands each arrival to [`Cluster::route`], which first
//! advances only the replicas the routing policy looks at (round-robin and random look at
//! none), then the chosen one, to the arrival instant. Replicas never interact otherwise, so
//! this gives the same result as stepping every replica through one global event queue.

mod router;

pub use router::{policy_for, LeastOutstanding, PowerOfTwoChoices, RandomChoice, RoundRobin, RoutingPolicy};

use crate::engine::Engine;
use crate::ids::RequestId;
use crate::metrics::Recorder;
use crate::time::SimTime;

/// Replicas, their router and the run's records.
pub struct Cluster {
    engines: Vec<Engine>,
    policy: Box<dyn RoutingPolicy>,
    /// What the run recorded so far.
    pub recorder: Recorder,
}

impl Cluster {
    /// A cluster of `engines` behind `policy`.
    ///
    /// # Panics
    ///
    /// Panics if `engines` is empty.
    pub fn new(engines: Vec<Engine>, policy: Box<dyn RoutingPolicy>, recorder: Recorder) -> Cluster {
        assert!(!engines.is_empty(), "a cluster needs at least one replica");
        Cluster { engines, policy, recorder }
    }

    /// The replicas.
    pub fn engines(&self) -> &[Engine] {
        &self.engines
    }

    /// Routes `request`, arriving at `at`, to a replica.
    pub fn route(&mut self, request: RequestId, at: SimTime) {
        self.recorder.timeline.add_arrival(at);
        let Cluster { engines, policy, recorder } = self;
        let chosen = policy.choose(engines.len(), &mut |index| {
            engines[index].advance_until(at, recorder);
            engines[index].outstanding_at(at)
        });
        let engine = &mut engines[chosen];
        engine.advance_until(at, recorder);
        let prompt = u64::from(recorder.requests.prompt_tokens[request.index()]);
        let output = u64::from(recorder.requests.output_tokens[request.index()]);
        engine.enqueue(request, at, prompt, output, recorder);
    }

    /// Runs every replica until it has no work left.
    pub fn drain(&mut self) {
        for engine in &mut self.engines {
            engine.advance_until(SimTime::MAX, &mut self.recorder);
        }
    }
}
