//! The engine's settings, resolved from a scenario.

use crate::scenario::{Preemption, Scenario, Scheduling};
use crate::time::SimDuration;

/// The scheduler and KV-cache settings of one replica (vLLM's `SchedulerConfig` and
/// `CacheConfig`), with `max_model_len` resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Most sequences in a step.
    pub max_num_seqs: u32,
    /// Token budget of a step.
    pub max_num_batched_tokens: u32,
    /// Whether prompts may be split across steps.
    pub chunked_prefill: bool,
    /// Tokens per KV block.
    pub block_size: u32,
    /// The longest sequence (prompt + output) a request may reach, tokens: longer prompts are
    /// refused.
    pub max_model_len: u64,
    /// Where outputs stop: the longest sequence of the replica that decodes (the decode pool's,
    /// for a prefill replica), tokens.
    pub decode_max_model_len: u64,
    /// Whether computed prompt prefixes are cached and reused.
    pub prefix_caching: bool,
    /// Fraction of KV blocks kept free when admitting while other requests are scheduled.
    pub watermark: f64,
    /// The admission order.
    pub scheduling: Scheduling,
    /// Waiting this much longer counts as one priority level more urgent.
    pub priority_ageing: SimDuration,
    /// What preemption does with the victim's KV.
    pub preemption: Preemption,
    /// Requests never admitted this long after arriving are dropped.
    pub max_queue_time: Option<SimDuration>,
    /// Under speculative decoding, the probabilities of accepting 0..=k draft tokens.
    pub accepted_distribution: Option<Vec<f64>>,
    /// The scenario's seed (for the acceptance draws).
    pub seed: u64,
    /// Host memory for evicted KV blocks, GB (0: no host tier).
    pub host_kv_cache_gb: f64,
    /// Admit only when the prompt's and the whole output's KV fit beside the running requests'.
    pub reserve_kv_for_output: bool,
}

impl SchedulerConfig {
    /// The settings of `scenario`'s engine.
    ///
    /// # Panics
    ///
    /// Panics if the scenario's model preset is unknown (validation rules that out).
    pub fn from_scenario(scenario: &Scenario) -> SchedulerConfig {
        let engine = &scenario.engine;
        SchedulerConfig {
            max_num_seqs: engine.max_num_seqs,
            max_num_batched_tokens: engine.max_num_batched_tokens,
            chunked_prefill: engine.chunked_prefill,
            block_size: engine.block_size,
            max_model_len: u64::from(scenario.max_model_len().expect("a validated model preset")),
            decode_max_model_len: u64::from(scenario.max_model_len().expect("a validated model preset")),
            prefix_caching: engine.prefix_caching,
            watermark: engine.watermark,
            scheduling: engine.scheduling,
            priority_ageing: SimDuration::from_secs_f64(engine.priority_ageing_s),
            preemption: engine.preemption,
            max_queue_time: engine.max_queue_time_s.map(SimDuration::from_secs_f64),
            accepted_distribution: engine.speculative.as_ref().and_then(|s| s.accepted_distribution()),
            seed: scenario.seed,
            host_kv_cache_gb: engine.host_kv_cache_gb,
            reserve_kv_for_output: engine.reserve_kv_for_output,
        }
    }
}
