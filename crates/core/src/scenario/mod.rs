//! The scenario: everything needed to rerun a simulation, as plain serde data.
//!
//! A [`Scenario`] is the contract shared by the browser UI, share links, the CLI and the tests.
//! Every field except `version` has a documented default, unknown fields are rejected (a typo
//! must never be silently ignored), and [`Scenario::validate`] reports every problem at once,
//! each with the path of the field it concerns. `docs/scenario.md` documents every field.
//!
//! # Example
//!
//! ```
//! use servesim_core::scenario::{Deployment, Scenario};
//!
//! let scenario = Scenario::from_json(r#"{"version": 1, "seed": 7,
//!     "deployment": {"aggregated": {"replicas": 8}}}"#).unwrap();
//! assert_eq!(scenario.seed, 7);
//! assert_eq!(scenario.model.preset.as_deref(), Some("llama-3.1-8b")); // a default
//! assert!(matches!(&scenario.deployment, Deployment::Aggregated(pool) if pool.replicas == 8));
//! assert!(scenario.validate().is_ok());
//!
//! let broken = Scenario::from_json(r#"{"version": 1,
//!     "deployment": {"aggregated": {"replicas": 0}}}"#).unwrap();
//! let problems = broken.validate().unwrap_err();
//! assert_eq!(problems[0].to_string(), "deployment.aggregated.replicas: must be ≥ 1, got 0");
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::perf::{GpuSpec, ModelSpec, ReplicaConfig, StepModel};
pub use crate::workload::{FileRef, Workload, WorkloadSource};

mod deployment;
mod engine;
mod model;

pub use deployment::{Deployment, Disaggregated, NicLayout, PoolRole, ReplicaPool, Transfer};

pub use engine::{EnginePreset, EngineSettings, Preemption, PresetContext, Scheduling, Speculative, SpeculativeMethod};
pub use model::{Calibration, GpuChoice, ModelChoice};

/// The scenario format version this build reads and writes.
pub const SCENARIO_VERSION: u32 = 1;

/// A complete, reproducible description of one simulation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Format version; must be [`SCENARIO_VERSION`]. Required.
    pub version: u32,
    /// The one seed every random stream derives from. Default 42.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The model and the formats of its weights and KV cache. Written either as a preset id
    /// (`"llama-3.1-8b"`: the checkpoint's weight format, BF16 KV) or as an object, which may
    /// carry a Hugging Face `config.json` inline. Default `"llama-3.1-8b"`.
    #[serde(default)]
    pub model: ModelChoice,
    /// The GPUs the replicas run on.
    #[serde(default)]
    pub hardware: Hardware,
    /// How replicas are organised.
    #[serde(default)]
    pub deployment: Deployment,
    /// Engine (per-replica scheduler and KV cache) settings.
    #[serde(default)]
    pub engine: EngineSettings,
    /// How requests are spread over replicas.
    #[serde(default)]
    pub router: RouterSettings,
    /// Where requests come from.
    #[serde(default)]
    pub workload: Workload,
    /// Latency targets used for goodput and SLO attainment.
    #[serde(default)]
    pub slo: Slo,
    /// Bounds on the run itself.
    #[serde(default)]
    pub limits: Limits,
    /// Corrections fitted to a benchmark, or a measured step-time profile. Default `null`.
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// What the GPUs cost.
    #[serde(default)]
    pub cost: Cost,
}

/// The price of the GPUs, for the run's cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cost {
    /// US dollars per GPU-hour (every GPU of the deployment, busy or not); `null` reports no
    /// cost. Default `null`.
    pub usd_per_gpu_hour: Option<f64>,
}

fn default_seed() -> u64 {
    42
}

impl Scenario {
    /// The reference replay: the bundled Mooncake conversation trace on 8 Llama-3.1-8B replicas
    /// on H100s (TP 1) behind a round-robin router, every other field at its default. The app
    /// opens with it and `cargo xtask bench` times it.
    pub fn reference() -> Scenario {
        Scenario {
            deployment: Deployment::Aggregated(ReplicaPool { replicas: 8, ..ReplicaPool::default() }),
            ..Scenario::default()
        }
    }

    /// The reference replay behind `router` on 8 aggregated replicas sized like the defaults of
    /// DynoSim's mocker (64-token blocks, about 1.05 M KV tokens per worker: B200s at 0.82 of
    /// their memory; 256 sequences, an 8,192-token budget), so that prefix hit rates compare
    /// like for like (`docs/performance.md`).
    pub fn reference_like_dynosim(router: RouterKind) -> Scenario {
        let mut scenario = Scenario { router: RouterSettings::of(router), ..Scenario::reference() };
        scenario.hardware.gpu = "b200".into();
        scenario.engine = EngineSettings {
            block_size: 64,
            gpu_memory_utilization: 0.82,
            max_num_seqs: 256,
            max_num_batched_tokens: 8_192,
            ..EngineSettings::default()
        };
        scenario
    }

    /// The reference replay disaggregated on the same 8 GPUs: 4 prefill + 4 decode replicas,
    /// KV-aware prefill routing on load signals 50 ms stale, least-KV decode routing, and
    /// uncached prompts under 512 tokens prefilled on their decode replica. `cargo xtask
    /// bench` times it too.
    pub fn reference_disaggregated() -> Scenario {
        Scenario {
            deployment: Deployment::Disaggregated(Disaggregated {
                prefill: ReplicaPool { replicas: 4, ..ReplicaPool::default() },
                decode: ReplicaPool { replicas: 4, ..ReplicaPool::default() },
                conditional_threshold: Some(512),
                ..Disaggregated::default()
            }),
            router: RouterSettings {
                signal_delay_ms: 50.0,
                decode_kind: Some(RouterKind::LeastKv),
                ..RouterSettings::of(RouterKind::KvAware)
            },
            ..Scenario::default()
        }
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            version: SCENARIO_VERSION,
            seed: default_seed(),
            model: ModelChoice::default(),
            hardware: Hardware::default(),
            deployment: Deployment::default(),
            engine: EngineSettings::default(),
            router: RouterSettings::default(),
            workload: Workload::default(),
            slo: Slo::default(),
            limits: Limits::default(),
            calibration: None,
            cost: Cost::default(),
        }
    }
}

/// The GPU type and node shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hardware {
    /// A GPU preset id (see [`crate::perf::catalog::gpus`]) or a custom GPU written inline.
    /// Default `"h100-sxm"`.
    pub gpu: GpuChoice,
    /// GPUs per node; tensor parallelism spans nodes only with data-parallel attention, and
    /// pipeline hops between nodes go over the NIC. Default 8.
    pub gpus_per_node: u32,
}

impl Default for Hardware {
    fn default() -> Self {
        Hardware { gpu: GpuChoice::default(), gpus_per_node: 8 }
    }
}

/// The router section: which policy places requests on replicas, and how fresh its view of
/// them is. `docs/model.md` §Routers gives each policy's source.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterSettings {
    /// Which routing policy (for a disaggregated deployment: the prefill worker's). Default
    /// `round_robin`.
    pub kind: RouterKind,
    /// A disaggregated deployment's policy for the decode worker; `null` takes `kind`. Default
    /// `null`.
    pub decode_kind: Option<RouterKind>,
    /// How stale the load signals the router reads are, ms (0, live, or at least 1): it sees
    /// each replica as it was at the last refresh, every `signal_delay_ms`. Prefix-cache
    /// contents, which the KV router learns from KV events, stay live. Default 0.
    pub signal_delay_ms: f64,
    /// The KV-aware router's weight on the blocks a worker would still have to prefill against
    /// the blocks it holds (Dynamo's `kv-overlap-score-weight`). Default 1.
    pub kv_overlap_weight: f64,
    /// The KV-aware router's softmax temperature: 0 picks the cheapest worker, higher spreads
    /// the choice (Dynamo's `router-temperature`). Default 0.
    pub temperature: f64,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            kind: RouterKind::default(),
            decode_kind: None,
            signal_delay_ms: 0.0,
            kv_overlap_weight: 1.0,
            temperature: 0.0,
        }
    }
}

impl RouterSettings {
    /// The settings of a `kind` router, every knob at its default.
    pub fn of(kind: RouterKind) -> RouterSettings {
        RouterSettings { kind, ..RouterSettings::default() }
    }

    fn check(&self, check: &mut Checker, disaggregated: bool) {
        let delay = self.signal_delay_ms;
        if !(delay == 0.0 || (1.0..=3_600_000.0).contains(&delay)) {
            check.fail("router.signal_delay_ms", format!("must be 0 (live) or from 1 to 3,600,000 ms, got {delay}"));
        }
        let weight = self.kv_overlap_weight;
        if !(weight.is_finite() && (0.0..=1000.0).contains(&weight)) {
            check.fail("router.kv_overlap_weight", format!("must be from 0 to 1000, got {weight}"));
        }
        let temperature = self.temperature;
        if !(temperature.is_finite() && (0.0..=100.0).contains(&temperature)) {
            check.fail("router.temperature", format!("must be from 0 to 100, got {temperature}"));
        }
        if self.decode_kind.is_some() && !disaggregated {
            check.fail("router.decode_kind", "applies to a disaggregated deployment only; use kind".to_owned());
        }
    }
}

/// The request router in front of the replicas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterKind {
    /// Replicas in turn. The default.
    #[default]
    RoundRobin,
    /// A uniformly random replica (from the `ROUTER` random stream).
    Random,
    /// The replica with the fewest requests in flight.
    LeastOutstanding,
    /// The less loaded of two random replicas.
    PowerOfTwo,
    /// The replica with the smallest fraction of its KV cache in use.
    LeastKv,
    /// Dynamo's KV router: the lowest `kv_overlap_weight × blocks still to prefill + blocks in
    /// use`, or a softmax draw over it at a positive `temperature`.
    KvAware,
    /// A session's requests stay on the replica its first went to (placed by least
    /// outstanding; requests without a session are placed the same way).
    SessionAffinity,
}

impl RouterKind {
    /// Every router kind, in the order the UI lists them.
    pub const ALL: [RouterKind; 7] = [
        RouterKind::RoundRobin,
        RouterKind::Random,
        RouterKind::LeastOutstanding,
        RouterKind::PowerOfTwo,
        RouterKind::LeastKv,
        RouterKind::KvAware,
        RouterKind::SessionAffinity,
    ];

    /// The `kind` string used in JSON.
    pub fn kind(self) -> &'static str {
        match self {
            RouterKind::RoundRobin => "round_robin",
            RouterKind::Random => "random",
            RouterKind::LeastOutstanding => "least_outstanding",
            RouterKind::PowerOfTwo => "power_of_two",
            RouterKind::LeastKv => "least_kv",
            RouterKind::KvAware => "kv_aware",
            RouterKind::SessionAffinity => "session_affinity",
        }
    }

    /// The router with the given `kind` string, if any.
    pub fn from_kind(kind: &str) -> Option<RouterKind> {
        RouterKind::ALL.into_iter().find(|router| router.kind() == kind)
    }
}

/// Latency targets: a request is "good" when it meets every target given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Slo {
    /// Time-to-first-token target in ms. Default 2000; `null` for none.
    pub ttft_ms: Option<f64>,
    /// Time-per-output-token target in ms. Default 100; `null` for none.
    pub tpot_ms: Option<f64>,
    /// End-to-end latency target in ms. Default none.
    pub e2e_ms: Option<f64>,
    /// The percentile at which targets are judged (e.g. 95 for p95). Default 95.
    pub percentile: f64,
}

impl Default for Slo {
    fn default() -> Self {
        Slo { ttft_ms: Some(2000.0), tpot_ms: Some(100.0), e2e_ms: None, percentile: 95.0 }
    }
}

/// Bounds on a run, so that no scenario can run forever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The most events (arrivals and engine steps) a run may process; a run that reaches it
    /// stops there and says so. Default 1,000,000,000.
    pub max_events: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_events: 1_000_000_000 }
    }
}

/// One thing wrong with a scenario, with the path of the field it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path from the scenario root, e.g. `deployment.aggregated.tp`.
    pub path: String,
    /// What is wrong, e.g. `must be ≥ 1, got 0`.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A scenario document that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// Dotted path of the offending field (`.` for the document itself).
    pub path: String,
    /// The parser's message, including line and column.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// Reads a scenario from JSON. Missing fields take their defaults.
    ///
    /// # Errors
    ///
    /// Returns a [`ScenarioError`] naming the field path when the text is not JSON, a field has
    /// the wrong type, a field is unknown, or `version` is missing. Semantic checks (ranges,
    /// known presets) are [`Scenario::validate`]'s job.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let scenario = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| ScenarioError { path: error.path().to_string(), message: error.inner().to_string() })?;
        deserializer.end().map_err(|error| ScenarioError { path: ".".to_owned(), message: error.to_string() })?;
        let mut scenario: Scenario = scenario;
        let document: serde_json::Value = serde_json::from_str(text).expect("read once already");
        if scenario.engine.preset.is_some() {
            let given = document.get("engine").and_then(|engine| engine.as_object()).cloned().unwrap_or_default();
            scenario.apply_engine_preset(&given);
        }
        scenario.resolve_pool_engines(&document)?;
        Ok(scenario)
    }

    /// Switches the engine to `preset`'s defaults (the page's preset choice), keeping the
    /// policies that no preset sets: speculative decoding, the host tier, scheduling,
    /// preemption and queue timeouts. `None` keeps every field and drops the preset's name.
    pub fn set_engine_preset(&mut self, preset: Option<EnginePreset>) {
        self.set_pool_engine_presets(preset);
        self.engine.preset = preset;
        if preset.is_none() {
            return;
        }
        let engine = serde_json::to_value(&self.engine).expect("settings serialise");
        let kept = [
            "preset",
            "speculative",
            "host_kv_cache_gb",
            "scheduling",
            "class_priorities",
            "priority_ageing_s",
            "preemption",
            "max_queue_time_s",
        ];
        let given = kept.iter().map(|&field| (field.to_owned(), engine[field].clone())).collect();
        self.apply_engine_preset(&given);
    }

    /// Fills the engine fields not in `given` from the engine's preset. Where the model's
    /// full context would not fit the KV cache (the engine would refuse to start), the preset
    /// sets `max_model_len` to what fits, as the engines' start-up errors tell one to.
    fn apply_engine_preset(&mut self, given: &serde_json::Map<String, serde_json::Value>) {
        let context = self.preset_context();
        self.engine.resolve_preset(given, &context);
        if given.contains_key("max_model_len") {
            return;
        }
        let Ok(model) = self.model.spec() else { return };
        // A rule's length (TensorRT-LLM's token budget) never exceeds the model's context.
        if self.engine.max_model_len.is_some_and(|len| u64::from(len) > model.max_context) {
            self.engine.max_model_len = u32::try_from(model.max_context).ok();
        }
        // The KV capacity, once everything else validates (the scenario is not checked yet).
        let mut probe = self.clone();
        probe.engine.max_model_len = Some(1);
        if probe.validate().is_err() {
            return;
        }
        let Ok(step_model) = StepModel::from_scenario(self) else { return };
        let block_size = u64::from(self.engine.block_size);
        let fits = step_model.kv_capacity_tokens() / block_size * block_size;
        let wanted = self.engine.max_model_len.map_or(model.max_context, u64::from);
        if wanted > fits && fits > 0 {
            self.engine.max_model_len = u32::try_from(fits).ok();
        }
    }

    /// What the engine presets' rules read: the GPU and the GPUs per replica.
    pub fn preset_context(&self) -> PresetContext {
        let pool = self.deployment.primary_pool();
        PresetContext { gpu: self.hardware.gpu.spec().cloned(), gpus_per_replica: pool.gpus_per_replica() }
    }

    /// The canonical JSON text: compact, every field present, fields in declaration order.
    /// Two equal scenarios always give the same text, which is what share links encode.
    pub fn to_canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a Scenario always serialises")
    }

    /// The longest sequence a request may reach: `engine.max_model_len`, or the model's
    /// context length when that is `null`. `None` when the model is unknown or unreadable.
    pub fn max_model_len(&self) -> Option<u32> {
        Some(self.max_model_len_within(self.model.spec().ok()?.max_context))
    }

    /// `engine.max_model_len`, or `context` (the model's context length) when that is `null`.
    fn max_model_len_within(&self, context: u64) -> u32 {
        self.engine.max_model_len.unwrap_or(u32::try_from(context).unwrap_or(u32::MAX))
    }

    /// The replica shape, formats and calibration the performance model needs for `model` on
    /// `gpu`: of the first pool (take a disaggregated pool's [`Scenario::pool_view`] first).
    pub fn replica_config(&self, model: &ModelSpec, gpu: &GpuSpec) -> ReplicaConfig {
        let pool = self.deployment.primary_pool();
        let engine = &self.engine;
        ReplicaConfig {
            tp: pool.tp,
            pp: pool.pp,
            ep: pool.ep,
            dp_attention: pool.dp_attention,
            redundant_experts: pool.redundant_experts,
            expert_imbalance: pool.expert_imbalance,
            weights: self.model.weights_for(model, gpu),
            kv_cache: self.model.kv_cache,
            gpu_memory_utilization: engine.gpu_memory_utilization,
            max_num_batched_tokens: engine.max_num_batched_tokens,
            max_num_seqs: engine.max_num_seqs,
            gpus_per_node: self.hardware.gpus_per_node,
            async_scheduling: engine.async_scheduling,
            factors: self.calibration.as_ref().map(Calibration::factors).unwrap_or_default(),
        }
    }

    /// Checks every semantic rule and returns all problems at once.
    ///
    /// Field rules come first, in field order. When they all hold, the deployment is checked
    /// the way vLLM checks it at start-up: the parallelism and formats suit the model and GPU,
    /// the weights fit the GPUs, and one request of `engine.max_model_len` tokens fits a
    /// replica's KV cache.
    ///
    /// # Errors
    ///
    /// Returns the list of [`Problem`]s when any rule is broken.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut check = Checker::default();
        if self.version != SCENARIO_VERSION {
            check.fail("version", format!("must be {SCENARIO_VERSION}, got {}", self.version));
        }
        let model = match self.model.spec() {
            Ok(model) => Some(model),
            Err(message) => {
                check.fail(self.model.spec_path(), message);
                None
            }
        };
        if self.model.kv_cache.kv_bytes().is_none() {
            check.fail("model.kv_cache", format!("must be bf16 or fp8, got {}", self.model.kv_cache.name()));
        }
        match &self.hardware.gpu {
            GpuChoice::Preset(id) if self.hardware.gpu.spec().is_none() => {
                check.fail("hardware.gpu", format!("unknown GPU \"{id}\"; known: {}", crate::perf::catalog::gpu_ids()));
            }
            GpuChoice::Custom(spec) => {
                for (field, message) in spec.problems() {
                    check.fail(&format!("hardware.gpu.{field}"), message);
                }
            }
            GpuChoice::Preset(_) => {}
        }
        check.range("hardware.gpus_per_node", self.hardware.gpus_per_node, 1, 72);
        match &self.deployment {
            Deployment::Aggregated(pool) => self.check_pool(&mut check, pool),
            Deployment::Disaggregated(disaggregated) => return self.validate_disaggregated(disaggregated, check),
        }
        let context = model.as_ref().map(|model| model.max_context);
        self.engine.check(&mut check, model.as_ref());
        self.router.check(&mut check, false);
        self.validate_workload(&mut check);
        for (path, target) in
            [("slo.ttft_ms", self.slo.ttft_ms), ("slo.tpot_ms", self.slo.tpot_ms), ("slo.e2e_ms", self.slo.e2e_ms)]
        {
            if let Some(ms) = target {
                if !(ms.is_finite() && ms > 0.0) {
                    check.fail(path, format!("must be a positive number of ms, got {ms}"));
                }
            }
        }
        let percentile = self.slo.percentile;
        if !(percentile > 0.0 && percentile < 100.0) {
            check.fail("slo.percentile", format!("must be in (0, 100), got {percentile}"));
        }
        check.range("limits.max_events", self.limits.max_events, 1, u64::MAX);
        if let Some(usd) = self.cost.usd_per_gpu_hour {
            if !(usd.is_finite() && usd > 0.0 && usd <= 10_000.0) {
                check.fail("cost.usd_per_gpu_hour", format!("must be above 0 and at most 10,000, got {usd}"));
            }
        }
        if let Some(calibration) = &self.calibration {
            for (field, message) in calibration.factors().problems() {
                check.fail(&format!("calibration.{field}"), message);
            }
        }
        if let (true, Some(context)) = (check.problems.is_empty(), context) {
            self.validate_fit(&mut check, u64::from(self.max_model_len_within(context)));
        }
        check.finish()
    }

    /// The rules of the aggregated pool (a disaggregated pool's view has one too).
    fn check_pool(&self, check: &mut Checker, pool: &ReplicaPool) {
        check.range("deployment.aggregated.replicas", pool.replicas, 1, 4096);
        check.power_of_two("deployment.aggregated.tp", pool.tp, 256);
        if pool.tp > self.hardware.gpus_per_node && !pool.dp_attention {
            check.fail(
                "deployment.aggregated.tp",
                format!(
                    "must not exceed hardware.gpus_per_node ({}) without dp_attention, got {}",
                    self.hardware.gpus_per_node, pool.tp
                ),
            );
        }
        check.range("deployment.aggregated.pp", pool.pp, 1, 64);
        check.power_of_two("deployment.aggregated.ep", pool.ep, 256);
        if pool.ep > pool.tp {
            check.fail("deployment.aggregated.ep", format!("must not exceed tp ({}), got {}", pool.tp, pool.ep));
        }
        check.range("deployment.aggregated.redundant_experts", pool.redundant_experts, 0, 4096);
        let imbalance = pool.expert_imbalance;
        if !(imbalance.is_finite() && (1.0..=16.0).contains(&imbalance)) {
            check.fail("deployment.aggregated.expert_imbalance", format!("must be from 1 to 16, got {imbalance}"));
        }
        for (field, set) in [("gpu", pool.gpu.is_some()), ("engine", pool.engine.is_some())] {
            if set {
                let top = if field == "gpu" { "hardware.gpu" } else { "engine" };
                check.fail(
                    &format!("deployment.aggregated.{field}"),
                    format!("only a disaggregated pool has its own {field}; set {top} instead"),
                );
            }
        }
    }

    fn validate_workload(&self, check: &mut Checker) {
        for (path, message) in self.workload.problems() {
            check.fail(&path, message);
        }
    }

    /// vLLM's start-up checks: the weights fit, and a replica's KV cache holds one request of
    /// `max_model_len` tokens.
    fn validate_fit(&self, check: &mut Checker, max_model_len: u64) {
        let step_model = match StepModel::from_scenario(self) {
            Ok(step_model) => step_model,
            Err(error) => return check.fail(error.path, error.message),
        };
        let block_size = u64::from(self.engine.block_size);
        let host_gb = self.engine.host_kv_cache_gb;
        if host_gb > 0.0 && step_model.host_kv_blocks(host_gb, self.engine.block_size) == 0 {
            check.fail(
                "engine.host_kv_cache_gb",
                format!(
                    "{host_gb} GB holds no KV block ({:.0} bytes per block of {block_size} tokens); raise it or set 0",
                    step_model.kv_bytes_per_token_per_replica() * block_size as f64
                ),
            );
        }
        let num_blocks = step_model.kv_capacity_tokens() / block_size;
        let needed = max_model_len.div_ceil(block_size);
        if needed > num_blocks {
            check.fail(
                "engine.max_model_len",
                format!(
                    "one request of max_model_len ({max_model_len} tokens) needs {needed} KV blocks, but a replica \
                     holds {num_blocks} ({} tokens); lower engine.max_model_len to at most {}, or raise \
                     engine.gpu_memory_utilization, tp or pp, or use an fp8 KV cache (vLLM refuses to start)",
                    num_blocks * block_size,
                    num_blocks * block_size
                ),
            );
        }
    }
}

/// Collects problems while [`Scenario::validate`] walks the fields.
#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn fail(&mut self, path: &str, message: String) {
        self.problems.push(Problem { path: path.to_owned(), message });
    }

    fn range<T: PartialOrd + fmt::Display + Copy>(&mut self, path: &str, value: T, min: T, max: T) {
        if value < min {
            self.fail(path, format!("must be ≥ {min}, got {value}"));
        } else if value > max {
            self.fail(path, format!("must be ≤ {max}, got {value}"));
        }
    }

    fn power_of_two(&mut self, path: &str, value: u32, max: u32) {
        if !value.is_power_of_two() || value > max {
            self.fail(path, format!("must be a power of two from 1 to {max}, got {value}"));
        }
    }

    fn finish(self) -> Result<(), Vec<Problem>> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self.problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::Dtype;
    use crate::workload::{Generator, GeneratorClass};

    fn messages(scenario: &Scenario) -> Vec<String> {
        scenario.validate().unwrap_err().iter().map(Problem::to_string).collect()
    }

    #[test]
    fn the_issue_minimal_scenario_reads_with_defaults_and_validates() {
        let scenario = Scenario::from_json(
            r#"{"version":1,"seed":42,"model":"llama-3.1-8b","hardware":{"gpu":"h100-sxm"},
              "deployment":{"aggregated":{"replicas":8,"tp":1}},"router":{"kind":"round_robin"},
              "workload":{"sample":"mooncake-conversation"}}"#,
        )
        .unwrap();
        assert_eq!(scenario.hardware.gpus_per_node, 8);
        assert_eq!(scenario.deployment, Deployment::Aggregated(ReplicaPool { replicas: 8, ..ReplicaPool::default() }));
        assert_eq!(scenario.engine, EngineSettings::default());
        assert_eq!(scenario.validate(), Ok(()));
    }

    #[test]
    fn validation_reports_every_problem_with_its_field_path() {
        let scenario = Scenario {
            version: 2,
            model: ModelChoice::preset("gpt-9"),
            hardware: Hardware { gpu: GpuChoice::Preset("tpu".into()), gpus_per_node: 4 },
            deployment: Deployment::Aggregated(ReplicaPool { replicas: 0, tp: 8, ep: 16, ..ReplicaPool::default() }),
            engine: EngineSettings { block_size: 24, gpu_memory_utilization: 1.5, ..EngineSettings::default() },
            workload: Workload::from(WorkloadSource::File(FileRef { name: " ".into(), rows: 0, sha256: "xyz".into() })),
            slo: Slo { ttft_ms: Some(-1.0), percentile: 100.0, ..Slo::default() },
            ..Scenario::default()
        };
        assert_eq!(
            messages(&scenario),
            vec![
                "version: must be 1, got 2",
                "model.preset: unknown model \"gpt-9\"; known: llama-3.1-8b, llama-3.1-70b, llama-3.1-405b, qwen2.5-72b, \
                 qwen3-32b, qwen3-235b-a22b, mixtral-8x7b, deepseek-v3, deepseek-r1, gpt-oss-120b",
                "hardware.gpu: unknown GPU \"tpu\"; known: a100-80gb, h100-sxm, h200, b200, b300, gb200, gb300, mi300x, \
                 mi325x, l40s",
                "deployment.aggregated.replicas: must be ≥ 1, got 0",
                "deployment.aggregated.tp: must not exceed hardware.gpus_per_node (4) without dp_attention, got 8",
                "deployment.aggregated.ep: must not exceed tp (8), got 16",
                "engine.block_size: must be a power of two from 1 to 1024, got 24",
                "engine.gpu_memory_utilization: must be in (0, 1], got 1.5",
                "workload.file.name: must not be empty",
                "workload.file.rows: must be ≥ 1, got 0",
                "workload.file.sha256: must be 64 lower-case hex digits, got \"xyz\"",
                "slo.ttft_ms: must be a positive number of ms, got -1",
                "slo.percentile: must be in (0, 100), got 100",
            ]
        );
    }

    #[test]
    fn unknown_sample_and_non_power_of_two_tp_are_rejected() {
        let scenario = Scenario {
            deployment: Deployment::Aggregated(ReplicaPool { tp: 3, pp: 0, ..ReplicaPool::default() }),
            workload: Workload::from(WorkloadSource::Sample("nope".into())),
            ..Scenario::default()
        };
        assert_eq!(
            messages(&scenario),
            vec![
                "deployment.aggregated.tp: must be a power of two from 1 to 256, got 3",
                "deployment.aggregated.pp: must be ≥ 1, got 0",
                "workload.sample: unknown sample \"nope\"; known: mooncake-conversation, mooncake-synthetic, azure-code-2023, \
                 azure-conv-2023, sharegpt-lengths",
            ]
        );
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_path() {
        let error = Scenario::from_json(r#"{"version":1,"deployment":{"aggregated":{"replica":8}}}"#).unwrap_err();
        assert_eq!(error.path, "deployment.aggregated.replica");
        assert!(error.message.starts_with("unknown field `replica`"), "{error}");

        let error = Scenario::from_json(r#"{"version":1,"router":{"kind":"fastest"}}"#).unwrap_err();
        assert_eq!(error.path, "router.kind");
        assert!(error.message.contains("unknown variant `fastest`"), "{error}");

        let error = Scenario::from_json(r#"{"version":1,"router":{"kind":"random","seed":3}}"#).unwrap_err();
        assert_eq!(error.path, "router.seed");
    }

    #[test]
    fn wrong_types_missing_version_and_trailing_text_are_reported() {
        let error = Scenario::from_json(r#"{"version":1,"seed":"x"}"#).unwrap_err();
        assert_eq!(error.path, "seed");
        assert!(error.message.contains("invalid type: string \"x\""), "{error}");

        let error = Scenario::from_json(r#"{"seed":1}"#).unwrap_err();
        assert!(error.message.contains("missing field `version`"), "{error}");

        let error = Scenario::from_json(r#"{"version":1} x"#).unwrap_err();
        assert!(error.message.contains("trailing characters"), "{error}");
    }

    #[test]
    fn canonical_json_round_trips_and_includes_every_field() {
        let scenario = Scenario {
            seed: u64::MAX,
            router: RouterSettings::of(RouterKind::PowerOfTwo),
            slo: Slo { e2e_ms: Some(12.5), ..Slo::default() },
            ..Scenario::default()
        };
        let json = scenario.to_canonical_json();
        assert!(json.starts_with(
            r#"{"version":1,"seed":18446744073709551615,"model":{"preset":"llama-3.1-8b","config":null,"weights":null,"kv_cache":"bf16"},"#
        ));
        assert!(
            json.contains(r#""router":{"kind":"power_of_two","decode_kind":null,"signal_delay_ms":0.0,"#),
            "{json}"
        );
        assert_eq!(Scenario::from_json(&json).unwrap(), scenario);
    }

    #[test]
    fn the_model_is_a_preset_id_or_an_object_with_formats() {
        let short = Scenario::from_json(r#"{"version":1,"model":"qwen3-32b"}"#).unwrap();
        assert_eq!(short.model, ModelChoice::preset("qwen3-32b"));
        let long = Scenario::from_json(r#"{"version":1,"model":{"preset":"qwen3-32b","weights":"fp8"}}"#).unwrap();
        assert_eq!((long.model.weights, long.model.kv_cache), (Some(Dtype::Fp8), Dtype::Bf16));
        let error = Scenario::from_json(r#"{"version":1,"model":{"preset":"qwen3-32b","kv":"fp8"}}"#).unwrap_err();
        assert_eq!(error.path, "model.kv");
        let error = Scenario::from_json(r#"{"version":1,"model":{"weights":"int3"}}"#).unwrap_err();
        assert_eq!(error.path, "model.weights");
        assert!(error.message.contains("unknown variant `int3`"), "{error}");
        let error = Scenario::from_json(r#"{"version":1,"model":7}"#).unwrap_err();
        assert!(error.message.contains("a model preset id or"), "{error}");
    }

    #[test]
    fn a_generator_workload_reads_and_validates_every_parameter() {
        let scenario = Scenario::from_json(
            r#"{"version":1,"workload":{"generator":{"arrivals":{"poisson":{"rate_per_s":0}},"num_requests":0,
                "prompt_tokens":{"uniform":{"min":5,"max":2}},"output_tokens":{"lognormal":{"median":0.5,"sigma":9,"max":0}}}}}"#,
        )
        .unwrap();
        assert_eq!(
            messages(&scenario),
            vec![
                "workload.generator.arrivals.poisson.rate_per_s: must be > 0, got 0",
                "workload.generator.num_requests: must be ≥ 1, got 0",
                "workload.generator.prompt_tokens.uniform.max: must be ≥ min (5), got 2",
                "workload.generator.output_tokens.lognormal.median: must be ≥ 1, got 0.5",
                "workload.generator.output_tokens.lognormal.sigma: must be in [0, 5], got 9",
                "workload.generator.output_tokens.lognormal.max: must be ≥ 1, got 0",
            ]
        );
        let sparse = Scenario::from_json(
            r#"{"version":1,"workload":{"generator":{"arrivals":{"poisson":{"rate_per_s":1e-12}},"num_requests":2000000}}}"#,
        )
        .unwrap();
        assert_eq!(
            messages(&sparse),
            vec![
                "workload.generator.arrivals.poisson.rate_per_s: 0.000000000001 req/s spreads the requests over 2e18 s; the limit is 1e9 s",
                "workload.generator.num_requests: must be ≤ 1000000, got 2000000",
            ]
        );
        let partial = Scenario::from_json(r#"{"version":1,"workload":{"generator":{"num_requests":5}}}"#).unwrap();
        let generator = &partial.workload.generator().expect("a generator").classes[0];
        assert_eq!((generator.num_requests, generator.arrivals), (5, GeneratorClass::default().arrivals));
        let fine = Scenario { workload: WorkloadSource::Generator(Generator::default()).into(), ..Scenario::default() };
        assert_eq!(Scenario::from_json(&fine.to_canonical_json()).unwrap(), fine);
        assert_eq!(fine.validate(), Ok(()));
    }

    #[test]
    fn engine_limits_follow_vllms_start_up_checks() {
        // max_model_len within the model's context, watermark and the event budget in range.
        let mut scenario = Scenario::default();
        scenario.engine.max_model_len = Some(200_000);
        scenario.engine.watermark = 1.0;
        scenario.limits.max_events = 0;
        assert_eq!(
            messages(&scenario),
            vec![
                "engine.max_model_len: must not exceed the model's context length (131072), got 200000",
                "engine.watermark: must be in [0, 1), got 1",
                "limits.max_events: must be ≥ 1, got 0",
            ]
        );
        // Chunked prefill off: the budget must hold a whole max_model_len prompt.
        let mut scenario = Scenario::default();
        scenario.engine.chunked_prefill = false;
        let problems = messages(&scenario);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("engine.max_num_batched_tokens: 8192 is smaller than max_model_len (131072)"));
        scenario.engine.max_model_len = Some(8_192);
        assert_eq!(scenario.validate(), Ok(()));
        // One request of max_model_len must fit a replica's KV cache: 39,872 tokens at 0.3.
        let mut scenario = Scenario::default();
        scenario.engine.gpu_memory_utilization = 0.3;
        assert_eq!(
            messages(&scenario),
            vec![
                "engine.max_model_len: one request of max_model_len (131072 tokens) needs 8192 KV blocks, but a \
                  replica holds 2492 (39872 tokens); lower engine.max_model_len to at most 39872, or raise \
                  engine.gpu_memory_utilization, tp or pp, or use an fp8 KV cache (vLLM refuses to start)"
            ]
        );
        scenario.engine.max_model_len = Some(39_872);
        assert_eq!(scenario.validate(), Ok(()));
        assert_eq!(scenario.max_model_len(), Some(39_872));
        assert_eq!(Scenario::default().max_model_len(), Some(131_072), "the model's context length");
    }

    #[test]
    fn router_kinds_round_trip_through_their_names() {
        for router in RouterKind::ALL {
            assert_eq!(RouterKind::from_kind(router.kind()), Some(router));
            let json = serde_json::to_string(&RouterSettings::of(router)).unwrap();
            assert!(json.starts_with(&format!(r#"{{"kind":"{}","#, router.kind())), "{json}");
        }
        assert_eq!(RouterKind::from_kind("nearest"), None);
    }

    #[test]
    fn workload_arrivals_resampling_and_transforms_are_read_validated_and_round_trip() {
        let json = r#"{"version":1,"workload":{"sample":"sharegpt-lengths","arrivals":{"gamma":{"rate_per_s":6,"cv":2}},
            "num_requests":5000,"skip_bad_rows":true,"transform":{"rate_scale":2,"window":{"start_s":0,"end_s":60}}}}"#;
        let scenario = Scenario::from_json(json).unwrap();
        assert_eq!(scenario.validate(), Ok(()));
        assert_eq!(scenario.workload.num_requests, Some(5000));
        assert_eq!(scenario.workload.transform.rate_scale, 2.0);
        assert_eq!(Scenario::from_json(&scenario.to_canonical_json()).unwrap(), scenario);
        // Defaults stay out of the canonical JSON, so older links keep their form.
        assert!(!Scenario::default().to_canonical_json().contains("transform"));

        let bad = r#"{"version":1,"workload":{"generator":{"classes":[{"name":"a"},{"name":"a",
            "arrivals":{"closed_loop":{"concurrency":0,"think_time_s":1}}}]},"num_requests":5,
            "transform":{"sample_fraction":0}}}"#;
        assert_eq!(
            messages(&Scenario::from_json(bad).unwrap()),
            vec![
                "workload.generator.classes[1].name: \"a\" names two classes",
                "workload.generator.classes[1].arrivals.closed_loop.concurrency: must be in 1..=100000, got 0",
                "workload.num_requests: applies to a trace; a generator has its own",
                "workload.num_requests: resampled requests need new arrival times: set arrivals",
                "workload.transform.sample_fraction: must be in (0, 1], got 0",
            ]
        );
        let two_sources = Scenario::from_json(r#"{"version":1,"workload":{"sample":"x","generator":{}}}"#).unwrap_err();
        assert!(
            two_sources.to_string().contains("give exactly one of `sample`, `file` or `generator`"),
            "{two_sources}"
        );
    }
}
