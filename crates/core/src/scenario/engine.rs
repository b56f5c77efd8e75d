//! The scenario's engine section: the scheduler and KV-cache settings of every replica, named
//! as in vLLM, with the engine presets that reproduce the documented defaults of vLLM V1,
//! SGLang and TensorRT-LLM, speculative decoding, the host KV tier and the scheduling
//! policies.
//!
//! A preset fills every field the scenario leaves out; a field the scenario gives wins
//! ([`EngineSettings::for_preset`], applied by [`super::Scenario::from_json`]). Some defaults
//! depend on the GPU and the parallelism, as they do in the engines themselves; `docs/model.md`
//! §Engine presets gives every value with its source.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Checker, ModelChoice};
use crate::perf::{GpuSpec, ModelSpec};

/// Per-replica engine settings, named as in vLLM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// The engine whose documented defaults fill the fields the scenario leaves out: `"vllm"`,
    /// `"sglang"` or `"trtllm"`; `null` (the default) keeps servesim's own defaults (vLLM V1's,
    /// with 256 sequences as on smaller GPUs).
    pub preset: Option<EnginePreset>,
    /// Most sequences in one batch. Default 256 (vLLM's `max_num_seqs`).
    pub max_num_seqs: u32,
    /// Token budget of one step (vLLM's `max_num_batched_tokens`). Default 8192.
    pub max_num_batched_tokens: u32,
    /// Split long prompts into chunks that fit the token budget. Default true.
    pub chunked_prefill: bool,
    /// Tokens per KV-cache block. Default 16.
    pub block_size: u32,
    /// Fraction of GPU memory the engine may use for weights, activations and KV. Default 0.9.
    pub gpu_memory_utilization: f64,
    /// Reuse the KV blocks of prompt prefixes already computed (vLLM V1's automatic prefix
    /// caching, on by default there too). Default true.
    pub prefix_caching: bool,
    /// The longest sequence (prompt + output) a request may reach, tokens; `null` (the default)
    /// takes the model's context length. Longer prompts are rejected and outputs stop there,
    /// as in vLLM.
    pub max_model_len: Option<u32>,
    /// Fraction of KV blocks kept free when admitting a waiting or preempted request while
    /// other requests are scheduled in the step (vLLM V1's optional KV-cache watermark).
    /// Default 0, as in vLLM V1.
    pub watermark: f64,
    /// Overlap the CPU's scheduling and sampling with the GPU's step (vLLM's
    /// `--async-scheduling`). Default false, as in vLLM.
    pub async_scheduling: bool,
    /// Speculative decoding; `null` (the default) decodes one token per step.
    pub speculative: Option<Speculative>,
    /// Host (CPU) memory per replica that holds KV blocks evicted from the GPUs, GB (10⁹
    /// bytes); hits there are loaded back over the GPU's host link. Default 0 (no host tier).
    pub host_kv_cache_gb: f64,
    /// The order waiting requests are admitted in: `"fcfs"` (the default) or `"priority"`
    /// (lower `class_priorities` value first, ties by arrival, ageing by
    /// `priority_ageing_s`).
    pub scheduling: Scheduling,
    /// Priority of each request class (the trace's `class` column or the generator's mix), as
    /// in vLLM: lower is served first; classes not listed have 0. Default `{}`.
    pub class_priorities: BTreeMap<String, i32>,
    /// Starvation protection under `"priority"` scheduling: a request that has waited this
    /// many seconds longer than another counts as one priority level more urgent. Default 10.
    pub priority_ageing_s: f64,
    /// What preemption does to the victim's KV: `"recompute"` (the default, as vLLM V1) frees
    /// it and recomputes later; `"swap"` copies it to the host tier and back (needs
    /// `host_kv_cache_gb`).
    pub preemption: Preemption,
    /// A request still waiting for its first admission this many seconds after it arrived is
    /// dropped with reason `queue_timeout`; `null` (the default) waits for ever.
    pub max_queue_time_s: Option<f64>,
    /// Admit a request only when the KV for its prompt and its whole output fits beside every
    /// running request's, so nothing is ever preempted (TensorRT-LLM's `GUARANTEED_NO_EVICT`).
    /// Default false: blocks are taken as tokens are computed, and preemption makes room
    /// (vLLM, SGLang).
    pub reserve_kv_for_output: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            preset: None,
            max_num_seqs: 256,
            max_num_batched_tokens: 8192,
            chunked_prefill: true,
            block_size: 16,
            gpu_memory_utilization: 0.9,
            prefix_caching: true,
            max_model_len: None,
            watermark: 0.0,
            async_scheduling: false,
            speculative: None,
            host_kv_cache_gb: 0.0,
            scheduling: Scheduling::Fcfs,
            class_priorities: BTreeMap::new(),
            priority_ageing_s: 10.0,
            preemption: Preemption::Recompute,
            max_queue_time_s: None,
            reserve_kv_for_output: false,
        }
    }
}

/// An engine whose documented defaults a scenario can start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnginePreset {
    /// vLLM V1 (v0.11), `vllm serve`.
    Vllm,
    /// SGLang (v0.5), `python -m sglang.launch_server`.
    Sglang,
    /// TensorRT-LLM (1.x, PyTorch backend), `trtllm-serve`.
    Trtllm,
}

impl EnginePreset {
    /// Every preset, in the order the page lists them.
    pub const ALL: [EnginePreset; 3] = [EnginePreset::Vllm, EnginePreset::Sglang, EnginePreset::Trtllm];

    /// The scenario name (`"vllm"`…).
    pub fn id(self) -> &'static str {
        match self {
            EnginePreset::Vllm => "vllm",
            EnginePreset::Sglang => "sglang",
            EnginePreset::Trtllm => "trtllm",
        }
    }

    /// The preset named `id`.
    pub fn from_id(id: &str) -> Option<EnginePreset> {
        EnginePreset::ALL.into_iter().find(|preset| preset.id() == id)
    }
}

/// The admission order of waiting requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheduling {
    /// First come, first served (preempted requests first).
    #[default]
    Fcfs,
    /// By class priority, then arrival, with ageing.
    Priority,
}

/// What preemption does with the victim's KV cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preemption {
    /// Free it; recompute the prompt and generated tokens on readmission.
    #[default]
    Recompute,
    /// Copy it to host memory, and back on readmission.
    Swap,
}

/// How draft tokens are proposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeculativeMethod {
    /// The checkpoint's own multi-token-prediction layers (DeepSeek's MTP), run once per draft
    /// token.
    Mtp,
    /// A draft head: one decoder layer of the target's shape plus an LM head, or the model
    /// `draft` gives, run once per draft token.
    Eagle,
    /// Prompt lookup (n-gram matching) on the CPU: no GPU cost.
    Ngram,
}

/// Speculative decoding: `k` draft tokens proposed per step and verified together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Speculative {
    /// `"mtp"`, `"eagle"` or `"ngram"`.
    pub method: SpeculativeMethod,
    /// Draft tokens proposed per step, `k` (SGLang's EAGLE "3-1-4" is 3).
    pub num_draft_tokens: u32,
    /// `[α₁, …, α_k]`: αᵢ is the probability that draft token i is accepted given that token
    /// i−1 was. Give this or `acceptance_lengths`.
    #[serde(default)]
    pub acceptance: Option<Vec<f64>>,
    /// The probabilities of accepting 0, 1, …, k draft tokens in a step (k + 1 numbers summing
    /// to 1), as SGLang and vLLM report them.
    #[serde(default)]
    pub acceptance_lengths: Option<Vec<f64>>,
    /// An EAGLE draft model (a preset id or `{"config": {…}}`) to cost instead of one layer of
    /// the target's shape. Default `null`.
    #[serde(default)]
    pub draft: Option<ModelChoice>,
}

impl Speculative {
    /// The probabilities of accepting 0..=k draft tokens in a step, from whichever of
    /// `acceptance` and `acceptance_lengths` is given (normalised to sum to 1); `None` when
    /// neither or both are.
    pub fn accepted_distribution(&self) -> Option<Vec<f64>> {
        match (&self.acceptance, &self.acceptance_lengths) {
            (Some(alphas), None) => {
                let mut distribution = Vec::with_capacity(alphas.len() + 1);
                let mut reached = 1.0;
                for &alpha in alphas {
                    distribution.push(reached * (1.0 - alpha));
                    reached *= alpha;
                }
                distribution.push(reached);
                Some(distribution)
            }
            (None, Some(lengths)) => {
                let total: f64 = lengths.iter().sum();
                Some(lengths.iter().map(|p| p / total).collect())
            }
            _ => None,
        }
    }

    /// Expected draft tokens accepted per verification step.
    pub fn expected_accepted(&self) -> f64 {
        self.accepted_distribution()
            .map_or(0.0, |distribution| distribution.iter().enumerate().map(|(n, p)| n as f64 * p).sum())
    }

    fn check(&self, check: &mut Checker, model: Option<&ModelSpec>) {
        let k = self.num_draft_tokens;
        check.range("engine.speculative.num_draft_tokens", k, 1, 16);
        match (&self.acceptance, &self.acceptance_lengths) {
            (Some(_), Some(_)) => check
                .fail("engine.speculative.acceptance", "give acceptance or acceptance_lengths, not both".to_owned()),
            (None, None) => check.fail(
                "engine.speculative.acceptance",
                "give acceptance ([α₁…α_k]) or acceptance_lengths (P(0)…P(k))".to_owned(),
            ),
            (Some(alphas), None) => {
                if alphas.len() != k as usize {
                    check.fail(
                        "engine.speculative.acceptance",
                        format!("needs num_draft_tokens ({k}) values, got {}", alphas.len()),
                    );
                }
                if let Some(bad) = alphas.iter().find(|a| !(a.is_finite() && (0.0..=1.0).contains(*a))) {
                    check.fail("engine.speculative.acceptance", format!("each αᵢ must be in [0, 1], got {bad}"));
                }
            }
            (None, Some(lengths)) => {
                if lengths.len() != k as usize + 1 {
                    check.fail(
                        "engine.speculative.acceptance_lengths",
                        format!(
                            "needs num_draft_tokens + 1 ({}) probabilities, got {}",
                            u64::from(k) + 1,
                            lengths.len()
                        ),
                    );
                }
                let total: f64 = lengths.iter().sum();
                if lengths.iter().any(|p| !(p.is_finite() && *p >= 0.0)) || (total - 1.0).abs() > 0.01 {
                    check.fail(
                        "engine.speculative.acceptance_lengths",
                        format!("must be non-negative probabilities summing to 1, got a sum of {total}"),
                    );
                }
            }
        }
        if self.draft.is_some() && self.method != SpeculativeMethod::Eagle {
            check.fail("engine.speculative.draft", "a draft model is for method \"eagle\" only".to_owned());
        }
        if let Some(draft) = &self.draft {
            if let Err(message) = draft.spec() {
                check.fail("engine.speculative.draft", message);
            }
        }
        if let (SpeculativeMethod::Mtp, Some(model)) = (self.method, model) {
            if model.mtp_layers == 0 {
                check.fail(
                    "engine.speculative.method",
                    "\"mtp\" runs the checkpoint's own MTP layers, and this model has none \
                     (num_nextn_predict_layers); use \"eagle\" or \"ngram\""
                        .to_owned(),
                );
            }
        }
    }
}

/// What a preset's rules read from the rest of the scenario.
#[derive(Clone, Debug)]
pub struct PresetContext {
    /// The GPU (`None` when the scenario names an unknown one: the H100 tier applies).
    pub gpu: Option<GpuSpec>,
    /// GPUs per replica (`tp × pp`).
    pub gpus_per_replica: u32,
}

/// GiB of device memory, as the engines' tiers read it.
fn gpu_gib(gpu: Option<&GpuSpec>) -> f64 {
    gpu.map_or(80.0, |gpu| gpu.memory_mib as f64 / 1024.0)
}

impl EngineSettings {
    /// The documented defaults of `preset` on the scenario's hardware (`None`: servesim's
    /// own). `docs/model.md` §Engine presets cites each value.
    pub fn for_preset(preset: Option<EnginePreset>, context: &PresetContext) -> EngineSettings {
        let base = EngineSettings { preset, ..EngineSettings::default() };
        let gib = gpu_gib(context.gpu.as_ref());
        match preset {
            None => base,
            Some(EnginePreset::Vllm) => {
                // `EngineArgs._set_default_args`: larger defaults on ≥ 70 GiB GPUs but A100s.
                let is_a100 = context.gpu.as_ref().is_some_and(|gpu| gpu.name.to_lowercase().contains("a100"));
                let large = gib >= 70.0 && !is_a100;
                let max_num_batched_tokens = if large { 8192 } else { 2048 };
                EngineSettings {
                    max_num_batched_tokens,
                    max_num_seqs: (if large { 1024 } else { 256 }).min(max_num_batched_tokens),
                    ..base
                }
            }
            Some(EnginePreset::Sglang) => {
                // `ServerArgs._handle_gpu_memory_settings`: chunk and CUDA-graph tiers by memory.
                let gib_tier = |small: u32, h100: u32, large: u32| match gib {
                    g if g < 60.0 => small,
                    g if g < 160.0 => h100,
                    _ => large,
                };
                let chunk = if gib < 35.0 { 2048 } else { gib_tier(4096, 8192, 16384) };
                let cuda_graph_max_bs = if context.gpus_per_replica >= 4 { 512 } else { 256 };
                // mem_fraction_static: reserve (MB) for activations and graphs, at least 10 GB
                // on GPUs over 60 GB.
                let mib = gib * 1024.0;
                let mut reserved = 512.0
                    + f64::from(chunk.max(2048)) * 1.5
                    + f64::from(cuda_graph_max_bs) * 2.0
                    + f64::from(context.gpus_per_replica) / 8.0 * 1024.0;
                if gib > 60.0 {
                    reserved = reserved.max(10.0 * 1024.0);
                }
                EngineSettings {
                    max_num_batched_tokens: chunk,
                    max_num_seqs: 2048,
                    block_size: 1,
                    gpu_memory_utilization: ((mib - reserved) / mib * 1000.0).round() / 1000.0,
                    async_scheduling: true,
                    ..base
                }
            }
            Some(EnginePreset::Trtllm) => EngineSettings {
                max_num_seqs: 2048,
                max_num_batched_tokens: 8192,
                chunked_prefill: false,
                block_size: 32,
                async_scheduling: true,
                reserve_kv_for_output: true,
                ..base
            },
        }
    }

    /// Rules that follow from other fields once the preset and the scenario's own fields are
    /// merged: TensorRT-LLM without chunked context cannot take prompts longer than its token
    /// budget, so its `max_model_len` is the budget; SGLang with speculative decoding runs at
    /// most 48 requests and without its overlap scheduler.
    fn derive_from_preset(&mut self, given: &dyn Fn(&str) -> bool) {
        match self.preset {
            Some(EnginePreset::Trtllm) if !self.chunked_prefill && !given("max_model_len") => {
                self.max_model_len = Some(self.max_num_batched_tokens);
            }
            Some(EnginePreset::Sglang) if self.speculative.is_some() => {
                if !given("max_num_seqs") {
                    self.max_num_seqs = 48;
                }
                if !given("async_scheduling") {
                    self.async_scheduling = false;
                }
            }
            _ => {}
        }
        // Every sequence verifies k + 1 tokens within the budget: a preset's sequence count
        // shrinks to what its budget holds.
        if let (Some(speculative), false) = (&self.speculative, given("max_num_seqs")) {
            let per_sequence = speculative.num_draft_tokens.saturating_add(1).max(1);
            self.max_num_seqs = self.max_num_seqs.min(self.max_num_batched_tokens / per_sequence).max(1);
        }
    }

    /// The settings a scenario's engine section means: `given` (the section's fields as
    /// written) over `self.preset`'s defaults.
    ///
    /// # Panics
    ///
    /// Never: `given` deserialised into `self` already, so the merge deserialises too.
    pub(super) fn resolve_preset(
        &mut self,
        given: &serde_json::Map<String, serde_json::Value>,
        context: &PresetContext,
    ) {
        if self.preset.is_none() {
            return;
        }
        let defaults = EngineSettings::for_preset(self.preset, context);
        let mut merged = serde_json::to_value(defaults).expect("settings serialise");
        for (key, value) in given {
            merged[key.as_str()] = value.clone();
        }
        *self = serde_json::from_value(merged).expect("the given fields read once already");
        self.derive_from_preset(&|field| given.contains_key(field));
    }

    /// `max_model_len` within the model's `context`, and prompts that long schedulable.
    fn check_max_model_len(&self, check: &mut Checker, context: u64) {
        match self.max_model_len {
            Some(0) => check.fail("engine.max_model_len", "must be ≥ 1, got 0".to_owned()),
            Some(len) if u64::from(len) > context => check.fail(
                "engine.max_model_len",
                format!("must not exceed the model's context length ({context}), got {len}"),
            ),
            _ => {}
        }
        let max_model_len = self.max_model_len.map_or(context, u64::from);
        if !self.chunked_prefill && u64::from(self.max_num_batched_tokens) < max_model_len {
            check.fail(
                "engine.max_num_batched_tokens",
                format!(
                    "{} is smaller than max_model_len ({max_model_len}) with chunked prefill off, which would reject \
                     longer prompts (as vLLM refuses to start); raise it, lower engine.max_model_len or turn chunked \
                     prefill on",
                    self.max_num_batched_tokens
                ),
            );
        }
    }

    /// Every field rule of the section, in field order.
    pub(super) fn check(&self, check: &mut Checker, model: Option<&ModelSpec>) {
        check.range("engine.max_num_seqs", self.max_num_seqs, 1, 65_536);
        check.range("engine.max_num_batched_tokens", self.max_num_batched_tokens, 1, 1 << 20);
        if self.max_num_batched_tokens < self.max_num_seqs {
            check.fail(
                "engine.max_num_batched_tokens",
                format!("must be ≥ engine.max_num_seqs ({}), got {}", self.max_num_seqs, self.max_num_batched_tokens),
            );
        }
        check.power_of_two("engine.block_size", self.block_size, 1024);
        let utilization = self.gpu_memory_utilization;
        if !(utilization > 0.0 && utilization <= 1.0) {
            check.fail("engine.gpu_memory_utilization", format!("must be in (0, 1], got {utilization}"));
        }
        if let Some(context) = model.map(|model| model.max_context) {
            self.check_max_model_len(check, context);
        }
        if !(self.watermark.is_finite() && (0.0..1.0).contains(&self.watermark)) {
            check.fail("engine.watermark", format!("must be in [0, 1), got {}", self.watermark));
        }
        if let Some(speculative) = &self.speculative {
            speculative.check(check, model);
            let verified = self.max_num_seqs.saturating_mul(speculative.num_draft_tokens.saturating_add(1));
            if self.max_num_batched_tokens < verified {
                check.fail(
                    "engine.max_num_batched_tokens",
                    format!(
                        "must hold max_num_seqs × (num_draft_tokens + 1) = {verified} verified tokens with \
                         speculative decoding, got {}",
                        self.max_num_batched_tokens
                    ),
                );
            }
        }
        let host = self.host_kv_cache_gb;
        if !(host.is_finite() && (0.0..=1e6).contains(&host)) {
            check.fail("engine.host_kv_cache_gb", format!("must be from 0 to 1000000 GB, got {host}"));
        }
        if self.preemption == Preemption::Swap && host <= 0.0 {
            check.fail(
                "engine.preemption",
                "\"swap\" copies preempted requests to host memory: set engine.host_kv_cache_gb".to_owned(),
            );
        }
        // At least a microsecond: shorter would round to nothing in the simulation's nanoseconds.
        let ageing = self.priority_ageing_s;
        if !(ageing.is_finite() && ageing >= 1e-6) {
            check.fail("engine.priority_ageing_s", format!("must be at least 0.000001 s, got {ageing}"));
        }
        if let Some(limit) = self.max_queue_time_s {
            if !(limit.is_finite() && limit >= 1e-6) {
                check.fail("engine.max_queue_time_s", format!("must be at least 0.000001 s, got {limit}"));
            }
        }
    }
}
