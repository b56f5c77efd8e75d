//! The cluster: replicas behind a router.
//!
//! The router may look at replicas when a request arrives (the requests each has in flight);
//! a replica it looks at is first advanced to the arrival instant, so it is seen as it is then.
//! Replicas interact only through such looks, which is why the driver may advance each one
//! lazily, only when something looks at it or hands it a request (`sim`'s module docs).

mod router;

pub use router::{policy_for, LeastOutstanding, PowerOfTwoChoices, RandomChoice, RoundRobin, RoutingPolicy};

use crate::engine::{Engine, Halt, StepContext};
use crate::ids::{ReplicaId, RequestId};
use crate::time::SimTime;

/// Replicas and their router.
pub struct Cluster {
    engines: Vec<Engine>,
    policy: Box<dyn RoutingPolicy>,
}

impl Cluster {
    /// A cluster of `engines` behind `policy`.
    ///
    /// # Panics
    ///
    /// Panics if `engines` is empty.
    pub fn new(engines: Vec<Engine>, policy: Box<dyn RoutingPolicy>) -> Cluster {
        assert!(!engines.is_empty(), "a cluster needs at least one replica");
        Cluster { engines, policy }
    }

    /// The replicas.
    pub fn engines(&self) -> &[Engine] {
        &self.engines
    }

    /// Routes `request`, arriving at `at`, to a replica and hands it over.
    ///
    /// # Errors
    ///
    /// Returns the [`Halt`] of a replica that could not be advanced to `at`.
    pub fn route(&mut self, request: RequestId, at: SimTime, ctx: &mut StepContext<'_>) -> Result<(), Halt> {
        let Cluster { engines, policy } = self;
        let mut halted = None;
        let chosen = policy.choose(engines.len(), &mut |index| {
            if let Err(halt) = engines[index].advance_to(at, ctx) {
                halted.get_or_insert(halt);
            }
            engines[index].num_outstanding()
        });
        if let Some(halt) = halted {
            return Err(halt);
        }
        let engine = &mut engines[chosen];
        engine.advance_to(at, ctx)?;
        engine.enqueue(request, at, ctx);
        Ok(())
    }

    /// Advances every replica to `until`.
    ///
    /// # Errors
    ///
    /// Returns the first [`Halt`].
    pub fn advance_all(&mut self, until: SimTime, ctx: &mut StepContext<'_>) -> Result<(), Halt> {
        self.engines.iter_mut().try_for_each(|engine| engine.advance_to(until, ctx))
    }

    /// Starts a step on every replica that has requests and none in progress; returns each
    /// replica with a step in flight and when it ends.
    ///
    /// # Errors
    ///
    /// Returns the first [`Halt`].
    pub fn start_pending_steps(
        &mut self,
        ctx: &mut StepContext<'_>,
        started: &mut Vec<(ReplicaId, SimTime)>,
    ) -> Result<(), Halt> {
        for engine in &mut self.engines {
            let before = engine.next_event_at();
            engine.start_pending_step(ctx)?;
            if let (None, Some(ends_at)) = (before, engine.next_event_at()) {
                started.push((engine.replica(), ends_at));
            }
        }
        Ok(())
    }
}
