//! The shape of one replica: its parallelism, formats and engine limits, and how its GPUs
//! divide the model.
//!
//! A replica has `tp × pp` GPUs: `pp` pipeline stages of `tp` GPUs. Attention is tensor
//! parallel over the stage's GPUs, or data parallel (`dp_attention`: every GPU runs whole
//! attention for its share of the sequences and keeps their KV). Experts are spread over `ep`
//! of the stage's GPUs (`ep` divides `tp`), each expert split `tp / ep` ways.

use super::model::Attention;
use super::{Dtype, GpuSpec, ModelSpec};

/// Multiplicative corrections to the performance model, fitted by calibration (1 = the
/// catalog's measured defaults).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factors {
    /// Scales every FLOP efficiency (GEMMs, attention).
    pub compute: f64,
    /// Scales every bandwidth efficiency (weights, KV reads).
    pub memory: f64,
    /// Scales the fixed CPU and launch overheads.
    pub overhead: f64,
}

impl Default for Factors {
    fn default() -> Self {
        Factors { compute: 1.0, memory: 1.0, overhead: 1.0 }
    }
}

impl Factors {
    /// Problems with the factors, as `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        [("compute", self.compute), ("memory", self.memory), ("overhead", self.overhead)]
            .into_iter()
            .filter(|(_, value)| !(value.is_finite() && (0.05..=20.0).contains(value)))
            .map(|(field, value)| (field, format!("must be from 0.05 to 20, got {value}")))
            .collect()
    }
}

/// The deployment choices the step model depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplicaConfig {
    /// Tensor-parallel degree (GPUs per pipeline stage).
    pub tp: u32,
    /// Pipeline-parallel degree (stages).
    pub pp: u32,
    /// Expert-parallel degree: the stage's GPUs the experts are spread over.
    pub ep: u32,
    /// Attention data parallel over the stage's GPUs instead of tensor parallel.
    pub dp_attention: bool,
    /// Extra expert copies per layer that EPLB places on the hottest experts' ranks.
    pub redundant_experts: u32,
    /// Load of the busiest expert-parallel rank over the mean (1 = balanced).
    pub expert_imbalance: f64,
    /// Format of the matrices (attention stays BF16 when the checkpoint keeps it so).
    pub weights: Dtype,
    /// KV-cache format.
    pub kv_cache: Dtype,
    /// Fraction of each GPU's memory the engine may use.
    pub gpu_memory_utilization: f64,
    /// Step token budget (sizes the activation reserve).
    pub max_num_batched_tokens: u32,
    /// Most sequences per step (sizes the sampler's reserve and the sliding windows).
    pub max_num_seqs: u32,
    /// GPUs per node: collectives and pipeline hops that cross nodes go over the NIC.
    pub gpus_per_node: u32,
    /// Overlap the CPU's scheduling with the GPU's step (vLLM's `--async-scheduling`).
    pub async_scheduling: bool,
    /// Calibration factors.
    pub factors: Factors,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig {
            tp: 1,
            pp: 1,
            ep: 1,
            dp_attention: false,
            redundant_experts: 0,
            expert_imbalance: 1.0,
            weights: Dtype::Bf16,
            kv_cache: Dtype::Bf16,
            gpu_memory_utilization: 0.9,
            max_num_batched_tokens: 8192,
            max_num_seqs: 256,
            gpus_per_node: 8,
            async_scheduling: false,
            factors: Factors::default(),
        }
    }
}

/// Why a deployment cannot run its model: a parallelism or format the model or GPU cannot
/// take, or weights that do not fit; with the scenario field to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitError {
    /// The scenario field, e.g. `"deployment.aggregated.ep"`.
    pub path: &'static str,
    /// What is wrong, with the numbers.
    pub message: String,
}

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for FitError {}

impl ReplicaConfig {
    /// Checks that `model` on `gpu` can run with this shape and these formats.
    ///
    /// # Errors
    ///
    /// Returns the first [`FitError`]: a custom GPU with impossible numbers, a parallel degree
    /// of 0, FP4 weights without FP4 tensor cores, FP8 weights
    /// without FP8 tensor cores, a weight-only format for the KV cache, `ep` on a dense model or
    /// not dividing `tp` or the experts, a `tp` that does not divide the heads.
    pub fn check(&self, model: &ModelSpec, gpu: &GpuSpec) -> Result<(), FitError> {
        let fail = |path, message: String| Err(FitError { path, message });
        if let Some((field, message)) = gpu.problems().into_iter().next() {
            return fail("hardware.gpu", format!("{field} {message}"));
        }
        for (path, degree) in [
            ("deployment.aggregated.tp", self.tp),
            ("deployment.aggregated.pp", self.pp),
            ("deployment.aggregated.ep", self.ep),
        ] {
            if degree == 0 {
                return fail(path, "must be ≥ 1, got 0".to_owned());
            }
        }
        match self.weights {
            Dtype::Fp4 if gpu.fp4_tflops.is_none() => {
                return fail(
                    "model.weights",
                    format!("{} has no FP4 tensor cores (FP4 needs Blackwell); use fp8, int4 or bf16", gpu.name),
                )
            }
            Dtype::Fp8 if gpu.fp8_tflops.is_none() => {
                return fail("model.weights", format!("{} has no FP8 tensor cores; use bf16 or int4 weights", gpu.name))
            }
            _ => {}
        }
        if self.kv_cache.kv_bytes().is_none() {
            return fail("model.kv_cache", format!("must be bf16 or fp8, got {}", self.kv_cache.name()));
        }
        let tp = u64::from(self.tp);
        let q_heads = model.q_heads();
        if !self.dp_attention && !q_heads.is_multiple_of(tp) {
            return fail(
                "deployment.aggregated.tp",
                format!("must divide the model's {q_heads} attention heads, got {tp}"),
            );
        }
        if let Attention::Gqa { kv_heads, .. } = model.attention {
            if !self.dp_attention && !kv_heads.is_multiple_of(tp) && !tp.is_multiple_of(kv_heads) {
                return fail(
                    "deployment.aggregated.tp",
                    format!("must divide the model's {kv_heads} KV heads or be a multiple of them, got {tp}"),
                );
            }
        }
        let ep = u64::from(self.ep);
        match &model.moe {
            None if ep > 1 => {
                return fail("deployment.aggregated.ep", format!("must be 1 for a dense model, got {ep}"));
            }
            Some(moe) if ep > 1 => {
                if !tp.is_multiple_of(ep) {
                    return fail("deployment.aggregated.ep", format!("must divide tp ({tp}), got {ep}"));
                }
                let physical = moe.experts + u64::from(self.redundant_experts);
                if !physical.is_multiple_of(ep) {
                    return fail(
                        "deployment.aggregated.ep",
                        format!("must divide the {physical} experts (routed + redundant) of each layer, got {ep}"),
                    );
                }
            }
            _ => {}
        }
        if self.redundant_experts > 0 && model.moe.is_none() {
            return fail("deployment.aggregated.redundant_experts", "must be 0 for a dense model".to_owned());
        }
        if u64::from(self.pp) > model.layers {
            return fail(
                "deployment.aggregated.pp",
                format!("must not exceed the model's {} layers, got {}", model.layers, self.pp),
            );
        }
        Ok(())
    }

    /// The format of the attention projections: the weights' own, unless the checkpoint keeps
    /// attention in BF16 (gpt-oss).
    pub fn attention_weights(&self, model: &ModelSpec) -> Dtype {
        if model.quantized_attention {
            self.weights
        } else {
            Dtype::Bf16
        }
    }

    /// Attention projection parameters one GPU holds per layer: all of them under data-parallel
    /// attention; else a `tp`-th, except that GQA's K and V projections keep at least one KV
    /// head per GPU.
    pub fn attention_params_per_gpu(&self, model: &ModelSpec) -> f64 {
        let matrices = model.attention_matrix_params() as f64;
        if self.dp_attention {
            return matrices;
        }
        let tp = f64::from(self.tp);
        match model.attention {
            Attention::Gqa { kv_heads, .. } => {
                let kv = model.kv_projection_params() as f64;
                (matrices - kv) / tp + kv / kv_heads as f64 * (kv_heads as f64 / tp).max(1.0)
            }
            Attention::Mla { .. } => matrices / tp,
        }
    }

    /// KV-cache elements a GPU keeps, per full-attention layer, for each token it holds: all of
    /// a token's under data-parallel attention (the GPU holds its own sequences) and for MLA's
    /// latent (every TP rank keeps it); at least one KV head's under GQA tensor parallelism.
    pub fn kv_elements_per_gpu(&self, model: &ModelSpec) -> f64 {
        match model.attention {
            Attention::Gqa { kv_heads, head_dim, .. } if !self.dp_attention => {
                2.0 * head_dim as f64 * (kv_heads as f64 / f64::from(self.tp)).max(1.0)
            }
            _ => model.kv_elements_per_layer_token() as f64,
        }
    }

    /// The expert-load imbalance after EPLB's redundant copies: each copy per rank relieves
    /// the hottest experts, and one per rank balances the load (`docs/model.md`).
    pub fn effective_imbalance(&self) -> f64 {
        if self.ep <= 1 {
            return 1.0;
        }
        let relief = (f64::from(self.redundant_experts) / f64::from(self.ep)).min(1.0);
        1.0 + (self.expert_imbalance - 1.0).max(0.0) * (1.0 - relief)
    }

    /// The layers of each pipeline stage, the first stages taking the remainder.
    pub fn stage_layers(&self, layers: u64) -> Vec<std::ops::Range<u64>> {
        let pp = u64::from(self.pp);
        let (base, extra) = (layers / pp, layers % pp);
        let mut start = 0;
        (0..pp)
            .map(|stage| {
                let len = base + u64::from(stage < extra);
                let range = start..start + len;
                start += len;
                range
            })
            .collect()
    }

    /// Pipeline-stage boundaries that cross a node (the hop goes over the NIC).
    pub fn cross_node_hops(&self) -> u32 {
        (1..self.pp).filter(|stage| (stage * self.tp).is_multiple_of(self.gpus_per_node)).count() as u32
    }
}
