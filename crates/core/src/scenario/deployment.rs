//! The deployment: one pool of aggregated replicas, or a prefill pool and a decode pool joined
//! by the links that carry the KV cache between them.
//!
//! A disaggregated pool may name its own GPU (Splitwise-style mixed hardware) and engine
//! settings; what it leaves out comes from the scenario's `hardware` and `engine`. Each pool is
//! then simulated, sized and validated as the aggregated scenario [`Scenario::pool_view`]
//! gives, so one set of rules (parallelism, memory fit, engine limits) serves every layout, and
//! a problem in a pool is reported at that pool's path.

use serde::{Deserialize, Serialize};

use super::{Checker, EngineSettings, GpuChoice, Problem, Scenario};

/// How the serving cluster is organised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[allow(clippy::large_enum_variant, reason = "plain scenario data, built and cloned a few times per run")]
pub enum Deployment {
    /// N identical replicas, each doing both prefill and decode.
    Aggregated(ReplicaPool),
    /// A prefill pool that computes prompts and first tokens, a decode pool that generates the
    /// rest, and the transfer of each prompt's KV cache between them.
    Disaggregated(Disaggregated),
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment::Aggregated(ReplicaPool::default())
    }
}

/// A pool of identical replicas and the parallelism of each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaPool {
    /// Number of replicas. Default 1.
    pub replicas: u32,
    /// Tensor-parallel degree (GPUs per pipeline stage). Default 1.
    pub tp: u32,
    /// Pipeline-parallel degree (stages). Default 1.
    pub pp: u32,
    /// Expert-parallel degree for a mixture-of-experts model: the stage's GPUs its experts are
    /// spread over (divides `tp`). Default 1 (experts split tensor-parallel).
    pub ep: u32,
    /// Attention data-parallel over the stage's `tp` GPUs (SGLang's `--enable-dp-attention`):
    /// each GPU runs whole attention for its share of the sequences and keeps their KV, so an
    /// MLA model's KV capacity grows with `tp`. Default false.
    pub dp_attention: bool,
    /// Extra expert copies per layer that EPLB places on the hottest experts. Default 0.
    pub redundant_experts: u32,
    /// Load of the busiest expert-parallel rank over the mean, before redundant experts
    /// (1 = perfectly balanced). Default 1.
    pub expert_imbalance: f64,
    /// A disaggregated pool's own GPU; `null` takes `hardware.gpu`. Default `null`.
    pub gpu: Option<GpuChoice>,
    /// A disaggregated pool's own engine settings, merged field by field over the top-level
    /// `engine` when the scenario is read; `null` takes `engine` as it is. Default `null`.
    pub engine: Option<EngineSettings>,
}

impl Default for ReplicaPool {
    fn default() -> Self {
        ReplicaPool {
            replicas: 1,
            tp: 1,
            pp: 1,
            ep: 1,
            dp_attention: false,
            redundant_experts: 0,
            expert_imbalance: 1.0,
            gpu: None,
            engine: None,
        }
    }
}

impl ReplicaPool {
    /// GPUs one replica uses (`tp × pp`).
    pub fn gpus_per_replica(&self) -> u32 {
        self.tp.saturating_mul(self.pp)
    }

    /// GPUs of the whole pool.
    pub fn num_gpus(&self) -> u64 {
        u64::from(self.replicas) * u64::from(self.gpus_per_replica())
    }
}

/// The prefill and decode pools of a disaggregated deployment and the KV transfer between them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Disaggregated {
    /// The replicas that compute prompts and first tokens. Default 1 replica.
    pub prefill: ReplicaPool,
    /// The replicas that generate every later token. Default 1 replica.
    pub decode: ReplicaPool,
    /// The links the KV cache moves over.
    pub transfer: Transfer,
    /// Conditional disaggregation: a request whose prompt, less what the chosen decode
    /// replica already has cached, is shorter than this many tokens is prefilled on that decode
    /// replica (Dynamo's `max_local_prefill_length`). Default `null`: always disaggregate.
    pub conditional_threshold: Option<u32>,
}

/// The links that carry KV from prefill to decode replicas. Replicas are placed on nodes in
/// order, prefill pool first (the decode pool starts a new node when its GPU differs); a transfer
/// between replicas in one NVLink domain goes over NVLink, any other over the NICs. Sources of
/// the defaults: `docs/model.md` §KV transfer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Transfer {
    /// One NIC per GPU (DGX/HGX compute fabric) or one per node. Default `per_gpu`.
    pub nics: NicLayout,
    /// Bandwidth of one NIC per direction, GB/s; `null` takes the GPU's (`nic_gb_s` in the
    /// catalog: 50 for 400 Gb/s ConnectX-7). Default `null`.
    pub nic_gb_s: Option<f64>,
    /// Fraction of the NIC's line rate a KV transfer achieves. Default 0.7 (Mooncake's transfer
    /// engine measured 0.87 on 4×200 Gb/s and 0.475 on 8×400 Gb/s).
    pub nic_efficiency: f64,
    /// GPUs that share one NVLink domain; `null` takes `hardware.gpus_per_node` (72 on an
    /// NVL72 rack). Default `null`.
    pub nvlink_domain_gpus: Option<u32>,
    /// Fixed cost of each transfer before its bytes flow (registration, handshake,
    /// notification), µs. Default 100.
    pub latency_us: f64,
}

impl Default for Transfer {
    fn default() -> Self {
        Transfer {
            nics: NicLayout::PerGpu,
            nic_gb_s: None,
            nic_efficiency: 0.7,
            nvlink_domain_gpus: None,
            latency_us: 100.0,
        }
    }
}

/// Where the NICs are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NicLayout {
    /// One NIC per GPU: a replica sends and receives over all of its GPUs' NICs.
    #[default]
    PerGpu,
    /// One NIC per node, shared by every replica on the node.
    PerNode,
}

/// What a pool of replicas does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolRole {
    /// Prefill and decode on the same replicas.
    Aggregated,
    /// Prompts and first tokens.
    Prefill,
    /// Every token after the first.
    Decode,
}

impl PoolRole {
    /// The role's name in JSON and the UI.
    pub fn name(self) -> &'static str {
        match self {
            PoolRole::Aggregated => "aggregated",
            PoolRole::Prefill => "prefill",
            PoolRole::Decode => "decode",
        }
    }

    /// The dotted path of the pool's section.
    pub fn path(self) -> &'static str {
        match self {
            PoolRole::Aggregated => "deployment.aggregated",
            PoolRole::Prefill => "deployment.disaggregated.prefill",
            PoolRole::Decode => "deployment.disaggregated.decode",
        }
    }
}

impl Deployment {
    /// The pools with their roles: one aggregated pool, or the prefill and the decode pool.
    pub fn pools(&self) -> Vec<(PoolRole, &ReplicaPool)> {
        match self {
            Deployment::Aggregated(pool) => vec![(PoolRole::Aggregated, pool)],
            Deployment::Disaggregated(d) => vec![(PoolRole::Prefill, &d.prefill), (PoolRole::Decode, &d.decode)],
        }
    }

    /// The pool of `role`, if the deployment has it.
    pub fn pool(&self, role: PoolRole) -> Option<&ReplicaPool> {
        self.pools().into_iter().find(|&(r, _)| r == role).map(|(_, pool)| pool)
    }

    /// [`Deployment::pool`], to change.
    pub fn pool_mut(&mut self, role: PoolRole) -> Option<&mut ReplicaPool> {
        match (self, role) {
            (Deployment::Aggregated(pool), PoolRole::Aggregated) => Some(pool),
            (Deployment::Disaggregated(d), PoolRole::Prefill) => Some(&mut d.prefill),
            (Deployment::Disaggregated(d), PoolRole::Decode) => Some(&mut d.decode),
            _ => None,
        }
    }

    /// The first pool: the aggregated one, or the prefill pool.
    pub fn primary_pool(&self) -> &ReplicaPool {
        self.pools()[0].1
    }

    /// [`Deployment::primary_pool`], to change.
    pub fn primary_pool_mut(&mut self) -> &mut ReplicaPool {
        match self {
            Deployment::Aggregated(pool) => pool,
            Deployment::Disaggregated(d) => &mut d.prefill,
        }
    }

    /// GPUs of every pool.
    pub fn num_gpus(&self) -> u64 {
        self.pools().iter().map(|(_, pool)| pool.num_gpus()).sum()
    }

    /// Replicas of every pool.
    pub fn num_replicas(&self) -> u32 {
        self.pools().iter().map(|(_, pool)| pool.replicas).sum()
    }

    /// The disaggregated sections, if the deployment is disaggregated.
    pub fn disaggregated(&self) -> Option<&Disaggregated> {
        match self {
            Deployment::Aggregated(_) => None,
            Deployment::Disaggregated(d) => Some(d),
        }
    }
}

impl Scenario {
    /// The aggregated scenario one pool runs as: its replicas, its GPU and its engine, every
    /// other section as it is. An aggregated scenario is its own view.
    pub fn pool_view(&self, role: PoolRole) -> Scenario {
        let pool = self.deployment.pool(role).unwrap_or_else(|| self.deployment.primary_pool());
        let mut view = self.clone();
        if let Some(gpu) = &pool.gpu {
            view.hardware.gpu = gpu.clone();
        }
        if let Some(engine) = &pool.engine {
            view.engine = engine.clone();
        }
        view.deployment = Deployment::Aggregated(ReplicaPool { gpu: None, engine: None, ..pool.clone() });
        view
    }

    /// Gives each disaggregated pool its engine: the top-level `engine` JSON object with the
    /// pool's own `engine` object merged over it (`document` is the scenario as read), with
    /// the preset's rules applied for that pool's GPU and size. A pool that sets nothing of its
    /// own under a preset-less engine keeps `null`.
    ///
    /// # Errors
    ///
    /// Returns the path and message of a merged field of the wrong type.
    pub(super) fn resolve_pool_engines(&mut self, document: &serde_json::Value) -> Result<(), super::ScenarioError> {
        if !matches!(self.deployment, Deployment::Disaggregated(_)) {
            return Ok(());
        }
        for role in [PoolRole::Prefill, PoolRole::Decode] {
            let own = document.pointer(&format!("/deployment/disaggregated/{}/engine", role.name()));
            let own = own.and_then(serde_json::Value::as_object);
            if own.is_none() && self.engine.preset.is_none() {
                continue;
            }
            let mut merged = document.get("engine").and_then(serde_json::Value::as_object).cloned().unwrap_or_default();
            merged.extend(own.cloned().unwrap_or_default());
            let settings: EngineSettings = serde_path_to_error::deserialize(serde_json::Value::Object(merged.clone()))
                .map_err(|error| super::ScenarioError {
                    path: format!("{}.engine.{}", role.path(), error.path()),
                    message: error.inner().to_string(),
                })?;
            let mut view = self.pool_view(role);
            view.engine = settings;
            if view.engine.preset.is_some() {
                view.apply_engine_preset(&merged);
            }
            self.deployment.pool_mut(role).expect("disaggregated").engine = Some(view.engine);
        }
        Ok(())
    }

    /// [`Scenario::set_engine_preset`] for each disaggregated pool: a pool with an engine of its
    /// own switches it; under a preset every pool gets the preset's values for its GPU and size.
    pub(super) fn set_pool_engine_presets(&mut self, preset: Option<super::EnginePreset>) {
        for role in [PoolRole::Prefill, PoolRole::Decode] {
            let Some(pool) = self.deployment.pool(role) else { continue };
            if pool.engine.is_none() && preset.is_none() {
                continue;
            }
            let mut view = self.pool_view(role);
            view.set_engine_preset(preset);
            self.deployment.pool_mut(role).expect("listed").engine = Some(view.engine);
        }
    }

    /// Checks a disaggregated scenario after the top-level rules `check` has applied: each
    /// pool's view under every rule (problems reported at the pool's paths, each once), then the
    /// transfer section.
    pub(super) fn validate_disaggregated(
        &self,
        disaggregated: &Disaggregated,
        check: Checker,
    ) -> Result<(), Vec<Problem>> {
        let mut problems = check.problems;
        for role in [PoolRole::Prefill, PoolRole::Decode] {
            let pool = self.deployment.pool(role).expect("disaggregated");
            let mut view = self.pool_view(role);
            view.router = super::RouterSettings::default(); // checked once below
            for problem in view.validate().err().unwrap_or_default() {
                let problem = Problem { path: pool_path(&problem.path, role, pool), message: problem.message };
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
            }
        }
        let mut check = Checker { problems };
        self.router.check(&mut check, true);
        let transfer = &disaggregated.transfer;
        if let Some(gb_s) = transfer.nic_gb_s {
            if !(gb_s.is_finite() && (0.01..=100_000.0).contains(&gb_s)) {
                check.fail(
                    "deployment.disaggregated.transfer.nic_gb_s",
                    format!("must be from 0.01 to 100,000 GB/s, got {gb_s}"),
                );
            }
        }
        let efficiency = transfer.nic_efficiency;
        if !(0.01..=1.0).contains(&efficiency) {
            check.fail(
                "deployment.disaggregated.transfer.nic_efficiency",
                format!("must be from 0.01 to 1, got {efficiency}"),
            );
        }
        if let Some(domain) = transfer.nvlink_domain_gpus {
            check.range("deployment.disaggregated.transfer.nvlink_domain_gpus", domain, 1, 576);
        }
        let latency = transfer.latency_us;
        if !(latency.is_finite() && (0.0..=1e7).contains(&latency)) {
            check.fail(
                "deployment.disaggregated.transfer.latency_us",
                format!("must be from 0 to 10,000,000 µs, got {latency}"),
            );
        }
        let shape = |role: PoolRole| {
            let view = self.pool_view(role);
            let pool = view.deployment.primary_pool().clone();
            (view.hardware.gpu, pool.tp, pool.pp, pool.ep)
        };
        if self.calibration.is_some() && shape(PoolRole::Prefill) != shape(PoolRole::Decode) {
            check.fail(
                "calibration",
                "was fitted to one replica shape, and the pools differ in GPU or parallelism; give both pools the \
                 same GPU, tp, pp and ep, or remove the calibration"
                    .to_owned(),
            );
        }
        if let Some(threshold) = disaggregated.conditional_threshold {
            check.range("deployment.disaggregated.conditional_threshold", threshold, 1, 1 << 24);
        }
        check.finish()
    }
}

/// Where a problem a pool's view reports belongs in the full scenario: the view's aggregated
/// pool is the pool; its GPU and engine are the pool's own when the pool sets them.
fn pool_path(path: &str, role: PoolRole, pool: &ReplicaPool) -> String {
    let moved = [
        ("deployment.aggregated", true, ""),
        ("hardware.gpu", pool.gpu.is_some(), ".gpu"),
        ("engine", pool.engine.is_some(), ".engine"),
    ];
    for (prefix, owned, replacement) in moved {
        let rest = path.strip_prefix(prefix).filter(|rest| rest.is_empty() || rest.starts_with('.'));
        if let (Some(rest), true) = (rest, owned) {
            return format!("{}{replacement}{rest}", role.path());
        }
    }
    path.to_owned()
}

impl Scenario {
    /// Every engine section: the top-level `engine`, then each pool's own.
    pub fn engines(&self) -> impl Iterator<Item = &EngineSettings> {
        let pools = self.deployment.pools().into_iter().filter_map(|(_, pool)| pool.engine.as_ref());
        std::iter::once(&self.engine).chain(pools)
    }

    /// [`Scenario::engines`], to change.
    pub fn engines_mut(&mut self) -> impl Iterator<Item = &mut EngineSettings> {
        let pools: Vec<&mut ReplicaPool> = match &mut self.deployment {
            Deployment::Aggregated(pool) => vec![pool],
            Deployment::Disaggregated(d) => vec![&mut d.prefill, &mut d.decode],
        };
        std::iter::once(&mut self.engine).chain(pools.into_iter().filter_map(|pool| pool.engine.as_mut()))
    }
}

impl Scenario {
    /// Copies the top-level engine fields that differ from `before` into each pool's own engine:
    /// an edit of the top-level `engine` (the page's engine panel) reaches every pool, and a
    /// pool keeps the fields it set itself that the edit did not touch.
    pub fn propagate_engine_edit(&mut self, before: &EngineSettings) {
        let (Ok(serde_json::Value::Object(old)), Ok(serde_json::Value::Object(new))) =
            (serde_json::to_value(before), serde_json::to_value(&self.engine))
        else {
            return;
        };
        let changed: Vec<(&String, &serde_json::Value)> =
            new.iter().filter(|(field, value)| old.get(*field) != Some(*value)).collect();
        if changed.is_empty() {
            return;
        }
        for engine in self.engines_mut().skip(1) {
            let Ok(serde_json::Value::Object(mut own)) = serde_json::to_value(&*engine) else { continue };
            for &(field, value) in &changed {
                own.insert(field.clone(), value.clone());
            }
            if let Ok(merged) = serde_json::from_value(serde_json::Value::Object(own)) {
                *engine = merged;
            }
        }
    }
}
