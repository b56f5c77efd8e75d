//! The roofline step-time model of one replica, and its KV-cache capacity.
//!
//! One engine step runs a batch of prefill chunks and decode tokens through the model. Each
//! operator class costs `max(FLOPs / achieved FLOP/s, bytes / achieved bandwidth)`; tensor
//! parallelism divides the work and adds two all-reduces per layer; pipeline parallelism runs
//! its stages in sequence and adds a hop per stage boundary; a fixed per-step and per-layer
//! overhead covers scheduling and kernel launches. `docs/model.md` gives every formula and the
//! source of every constant.

use std::fmt;

use super::gpu::{
    interpolate_log2, ALLREDUCE_EFFICIENCY, DECODE_ATTENTION_HBM_EFFICIENCY, DECODE_ATTENTION_LATENCY,
    PREFILL_ATTENTION_EFFICIENCY,
};
use super::{catalog, Dtype, GpuSpec, ModelSpec};
use crate::scenario::{Deployment, Scenario};
use crate::time::SimDuration;

/// Fixed cost of one engine step (scheduling, sampling, CUDA-graph replay), seconds.
pub const STEP_OVERHEAD: f64 = 1.0e-3;
/// Launch and synchronisation cost per layer per step, seconds.
pub const LAYER_OVERHEAD: f64 = 5e-6;
/// Latency of one pipeline-stage hop, seconds (aiconfigurator `p2p_latency`).
pub const PIPELINE_HOP_LATENCY: f64 = 10e-6;
/// Memory the runtime keeps outside weights, activations and KV (aiconfigurator `other_mem`).
pub const RUNTIME_RESERVED_BYTES: f64 = 3.5e9;
/// NCCL buffers when tensor parallel (aiconfigurator `nccl_mem`, upper end).
pub const NCCL_RESERVED_BYTES: f64 = 0.4e9;

/// A prefill chunk in a step: `new_tokens` computed on top of `cached_tokens` already in KV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefillChunk {
    /// Prompt tokens computed in this step.
    pub new_tokens: u32,
    /// Tokens of the same request already in the KV cache (earlier chunks).
    pub cached_tokens: u32,
}

/// What one step computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchShape<'a> {
    /// Decoding sequences, one token each.
    pub num_decode: u32,
    /// Sum of the decoding sequences' context lengths (KV tokens read by attention).
    pub decode_context_tokens: u64,
    /// Prefill chunks.
    pub prefills: &'a [PrefillChunk],
}

/// Why a deployment cannot hold its model.
#[derive(Clone, Debug, PartialEq)]
pub struct FitError {
    /// The scenario field to change.
    pub path: &'static str,
    /// What does not fit, with the numbers.
    pub message: String,
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for FitError {}

/// The deployment choices the step model depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplicaConfig {
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Pipeline-parallel degree.
    pub pp: u32,
    /// Weight format of the layers' matrices.
    pub weights: Dtype,
    /// KV-cache format.
    pub kv_cache: Dtype,
    /// Fraction of each GPU's memory the engine may use.
    pub gpu_memory_utilization: f64,
    /// Step token budget (sizes the activation reserve).
    pub max_num_batched_tokens: u32,
    /// Most sequences per step (sizes the sampler's reserve).
    pub max_num_seqs: u32,
}

impl ReplicaConfig {
    /// The replica shape and formats a scenario asks for.
    pub fn from_scenario(scenario: &Scenario) -> ReplicaConfig {
        let Deployment::Aggregated(pool) = &scenario.deployment;
        let engine = &scenario.engine;
        ReplicaConfig {
            tp: pool.tp,
            pp: pool.pp,
            weights: scenario.model.weights,
            kv_cache: scenario.model.kv_cache,
            gpu_memory_utilization: engine.gpu_memory_utilization,
            max_num_batched_tokens: engine.max_num_batched_tokens,
            max_num_seqs: engine.max_num_seqs,
        }
    }
}

/// Step times and KV capacity of one replica.
#[derive(Clone, Debug)]
pub struct StepModel {
    gpu: &'static GpuSpec,
    weights: Dtype,
    tp: f64,
    pp: f64,
    layers: f64,
    hidden: f64,
    linear_flops_per_token: f64,
    linear_bytes: f64,
    lm_head_flops_per_logit: f64,
    lm_head_bytes: f64,
    prefill_attention_flops_coefficient: f64,
    kv_read_bytes_per_token: f64,
    kv_capacity_tokens: u64,
}

impl StepModel {
    /// The step model of one replica of `scenario`'s deployment.
    ///
    /// # Errors
    ///
    /// Returns a [`FitError`] when the model or GPU preset is unknown, or as [`StepModel::new`].
    pub fn from_scenario(scenario: &Scenario) -> Result<StepModel, FitError> {
        let model = catalog::model(&scenario.model.preset)
            .ok_or_else(|| FitError { path: "model.preset", message: "unknown model".to_owned() })?;
        let gpu = catalog::gpu(&scenario.hardware.gpu)
            .ok_or_else(|| FitError { path: "hardware.gpu", message: "unknown GPU".to_owned() })?;
        StepModel::new(&model.spec(), gpu, ReplicaConfig::from_scenario(scenario))
    }

    /// Builds the model of a replica running `model` on `gpu` with `config`.
    ///
    /// # Errors
    ///
    /// Returns a [`FitError`] naming the field to change when the weights (plus reserves) do
    /// not fit in memory, or the parallelism does not divide the model.
    pub fn new(model: &ModelSpec, gpu: &'static GpuSpec, config: ReplicaConfig) -> Result<StepModel, FitError> {
        let tp = u64::from(config.tp);
        if !model.q_heads.is_multiple_of(tp) || (!model.kv_heads.is_multiple_of(tp) && tp % model.kv_heads != 0) {
            return Err(FitError {
                path: "deployment.aggregated.tp",
                message: format!(
                    "tp={tp} must divide the model's {} query heads, and divide or be a multiple of its {} KV heads",
                    model.q_heads, model.kv_heads
                ),
            });
        }
        if u64::from(config.pp) > model.layers {
            return Err(FitError {
                path: "deployment.aggregated.pp",
                message: format!("pp={} exceeds the model's {} layers", config.pp, model.layers),
            });
        }
        if config.weights == Dtype::Fp8 && gpu.fp8_flops.is_none() {
            return Err(FitError {
                path: "model.weights",
                message: format!("{} has no FP8 tensor cores; use bf16 weights", gpu.id),
            });
        }
        let (tp_f, pp_f) = (tp as f64, f64::from(config.pp));
        let kv_heads_per_gpu = (model.kv_heads / tp).max(1) as f64;
        let kv_bytes_per_layer_token = 2.0 * kv_heads_per_gpu * model.head_dim as f64 * config.kv_cache.bytes() as f64;
        let layers = model.layers as f64;
        let step = StepModel {
            gpu,
            weights: config.weights,
            tp: tp_f,
            pp: pp_f,
            layers,
            hidden: model.hidden as f64,
            linear_flops_per_token: 2.0 * layers * model.layer_matrix_params_per_gpu(tp),
            linear_bytes: layers * model.layer_matrix_params_per_gpu(tp) * config.weights.bytes() as f64,
            lm_head_flops_per_logit: 2.0 * model.lm_head_params() as f64 / tp_f,
            lm_head_bytes: model.lm_head_params() as f64 * Dtype::Bf16.bytes() as f64 / tp_f,
            prefill_attention_flops_coefficient: 4.0 * layers * (model.q_heads as f64 / tp_f) * model.head_dim as f64,
            kv_read_bytes_per_token: layers * kv_bytes_per_layer_token,
            kv_capacity_tokens: 0,
        };

        // Memory of the most loaded GPU: its share of weights, reserves, then KV.
        let layers_per_stage = model.layers.div_ceil(u64::from(config.pp)) as f64;
        let weights_per_gpu = model.weight_bytes_per_gpu(config.weights, tp, u64::from(config.pp));
        let activations = f64::from(config.max_num_batched_tokens)
            * (2.0 * model.intermediate as f64 / tp_f + 4.0 * model.hidden as f64)
            * 2.0
            + f64::from(config.max_num_seqs) * model.vocab as f64 / tp_f * 4.0;
        let reserved = RUNTIME_RESERVED_BYTES + if tp > 1 { NCCL_RESERVED_BYTES } else { 0.0 };
        let budget = gpu.memory_bytes() * config.gpu_memory_utilization;
        let free_for_kv = budget - weights_per_gpu - activations - reserved;
        let kv_per_token_per_gpu = layers_per_stage * kv_bytes_per_layer_token;
        if free_for_kv < kv_per_token_per_gpu * 16.0 {
            return Err(FitError {
                path: "deployment.aggregated.tp",
                message: format!(
                    "the model does not fit: each GPU would hold {:.1} GB of weights, {:.1} GB of activations and \
                     {:.1} GB of runtime reserve, leaving {:.1} GB for KV cache out of {:.1} GB usable \
                     ({} × gpu_memory_utilization {}); raise tp or pp, use fp8 weights, or a larger GPU",
                    weights_per_gpu / 1e9,
                    activations / 1e9,
                    reserved / 1e9,
                    free_for_kv.max(0.0) / 1e9,
                    budget / 1e9,
                    gpu.id,
                    config.gpu_memory_utilization
                ),
            });
        }
        Ok(StepModel { kv_capacity_tokens: (free_for_kv / kv_per_token_per_gpu) as u64, ..step })
    }

    /// Tokens of KV cache the replica holds.
    pub fn kv_capacity_tokens(&self) -> u64 {
        self.kv_capacity_tokens
    }

    /// The duration of a step computing `shape`, at least 1 ns.
    pub fn step_time(&self, shape: &BatchShape<'_>) -> SimDuration {
        let seconds = self.fixed_seconds(shape) + self.decode_context_seconds(shape.decode_context_tokens);
        SimDuration::from_secs_f64(seconds).max(SimDuration::from_nanos(1))
    }

    /// Seconds per decode-context token (attention reads its KV): decode step time is
    /// `fixed_seconds + decode_context_tokens · this`, which lets the engine cost a steady decode
    /// step in O(1).
    pub fn seconds_per_context_token(&self) -> f64 {
        self.kv_read_bytes_per_token / (self.gpu.hbm_bandwidth * DECODE_ATTENTION_HBM_EFFICIENCY)
    }

    fn decode_context_seconds(&self, context_tokens: u64) -> f64 {
        context_tokens as f64 * self.seconds_per_context_token()
    }

    /// Everything in a step's time except the decode attention's KV reads.
    pub fn fixed_seconds(&self, shape: &BatchShape<'_>) -> f64 {
        let new_tokens =
            f64::from(shape.num_decode) + shape.prefills.iter().map(|c| f64::from(c.new_tokens)).sum::<f64>();
        let logits = f64::from(shape.num_decode) + shape.prefills.len() as f64;
        let gpu = self.gpu;
        let linear = (new_tokens * self.linear_flops_per_token / gpu.gemm_flops(new_tokens, self.weights))
            .max(self.linear_bytes / gpu.weight_bandwidth(self.weights));
        let lm_head = (logits * self.lm_head_flops_per_logit / gpu.gemm_flops(logits, Dtype::Bf16))
            .max(self.lm_head_bytes / gpu.weight_bandwidth(Dtype::Bf16));
        let prefill_attention: f64 = shape.prefills.iter().map(|chunk| self.prefill_attention_seconds(chunk)).sum();
        let decode_attention = if shape.num_decode > 0 { self.layers * DECODE_ATTENTION_LATENCY } else { 0.0 };
        let activation_bytes = new_tokens * self.hidden * 2.0;
        let allreduce = if self.tp > 1.0 { 2.0 * self.layers * self.allreduce_seconds(activation_bytes) } else { 0.0 };
        let pipeline = (self.pp - 1.0) * (PIPELINE_HOP_LATENCY + activation_bytes / gpu.nvlink_bandwidth);
        let overhead = STEP_OVERHEAD + self.layers * LAYER_OVERHEAD;
        linear + lm_head + prefill_attention + decode_attention + allreduce + pipeline + overhead
    }

    fn prefill_attention_seconds(&self, chunk: &PrefillChunk) -> f64 {
        let (new, cached) = (f64::from(chunk.new_tokens), f64::from(chunk.cached_tokens));
        let flops = self.prefill_attention_flops_coefficient * new * (cached + new / 2.0);
        let efficiency = interpolate_log2(PREFILL_ATTENTION_EFFICIENCY, cached + new);
        let compute = flops / (self.gpu.bf16_flops * efficiency);
        let kv_reads =
            cached * self.kv_read_bytes_per_token / (self.gpu.hbm_bandwidth * DECODE_ATTENTION_HBM_EFFICIENCY);
        compute.max(kv_reads)
    }

    /// One ring all-reduce of `bytes` over the TP group: `α + 2(n−1)/n · bytes / (η · BW)`.
    fn allreduce_seconds(&self, bytes: f64) -> f64 {
        let table = ALLREDUCE_EFFICIENCY
            .iter()
            .rev()
            .find(|(degree, _)| f64::from(*degree) <= self.tp)
            .map_or(ALLREDUCE_EFFICIENCY[0].1, |(_, table)| table);
        let efficiency = interpolate_log2(table, bytes);
        self.gpu.allreduce_latency + 2.0 * (self.tp - 1.0) / self.tp * bytes / (efficiency * self.gpu.nvlink_bandwidth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::catalog;

    fn config(tp: u32) -> ReplicaConfig {
        ReplicaConfig {
            tp,
            pp: 1,
            weights: Dtype::Bf16,
            kv_cache: Dtype::Bf16,
            gpu_memory_utilization: 0.9,
            max_num_batched_tokens: 8192,
            max_num_seqs: 256,
        }
    }

    fn step_model(model: &str, gpu: &str, tp: u32) -> Result<StepModel, FitError> {
        StepModel::new(&catalog::model(model).unwrap().spec(), catalog::gpu(gpu).unwrap(), config(tp))
    }

    #[test]
    fn llama_8b_on_h100_decodes_in_about_7_ms_and_holds_431_thousand_tokens() {
        let model = step_model("llama-3.1-8b", "h100-sxm", 1).unwrap();
        let one = model.step_time(&BatchShape { num_decode: 1, decode_context_tokens: 1_000, prefills: &[] });
        // 15.0 GB of matrices at 0.82 × 3.35 TB/s = 5.47 ms, plus 1 ms step and 0.16 ms layer
        // overheads, plus 0.45 ms of attention latency.
        assert!((7.0..7.3).contains(&(one.as_millis_f64())), "{one}");
        // 81,559 MiB × 0.9 = 76.969 GB usable, less 16.061 GB of BF16 weights, 0.870 GB of
        // activations (8,192 × (2 × 14,336 + 4 × 4,096) × 2 B + 256 × 128,256 × 4 B) and 3.5 GB
        // of runtime reserve, leaves 56.539 GB: 431,355 tokens of 128 KiB.
        assert_eq!(model.kv_capacity_tokens(), 431_355);
    }

    #[test]
    fn decode_cost_is_affine_in_context() {
        let model = step_model("llama-3.1-8b", "h100-sxm", 1).unwrap();
        let at =
            |context| model.step_time(&BatchShape { num_decode: 32, decode_context_tokens: context, prefills: &[] });
        let (a, b, c) = (at(0), at(100_000), at(200_000));
        let (d1, d2) = ((b.as_nanos() - a.as_nanos()) as f64, (c.as_nanos() - b.as_nanos()) as f64);
        assert!((d1 - d2).abs() <= 1.0);
        // 100k tokens × 128 KiB at 0.88 × 3.35 TB/s ≈ 4.45 ms.
        assert!((d1 / 1e6 - 4.45).abs() < 0.01, "{d1}");
    }

    #[test]
    fn a_long_prefill_is_compute_bound() {
        let model = step_model("llama-3.1-8b", "h100-sxm", 1).unwrap();
        let chunk = [PrefillChunk { new_tokens: 8192, cached_tokens: 0 }];
        let time = model.step_time(&BatchShape { num_decode: 0, decode_context_tokens: 0, prefills: &chunk });
        // 2 × 7.5e9 FLOP × 8192 tokens at 0.78 × 989 TF ≈ 159 ms, plus attention.
        assert!((160.0..200.0).contains(&time.as_millis_f64()), "{time}");
    }

    #[test]
    fn tensor_parallelism_speeds_decode_but_adds_allreduce() {
        let tp4 = step_model("llama-3.1-70b", "h100-sxm", 4).unwrap();
        let tp8 = step_model("llama-3.1-70b", "h100-sxm", 8).unwrap();
        let shape = BatchShape { num_decode: 16, decode_context_tokens: 16_000, prefills: &[] };
        let (slow, fast) = (tp4.step_time(&shape).as_millis_f64(), tp8.step_time(&shape).as_millis_f64());
        // Weight reads halve, but the fixed overheads and 160 all-reduces do not.
        assert!(fast < slow * 0.75 && fast > slow / 2.0, "tp4 {slow} ms, tp8 {fast} ms");
        assert!(tp8.kv_capacity_tokens() > 2 * tp4.kv_capacity_tokens());
    }

    #[test]
    fn a_model_too_big_for_the_gpus_is_refused_with_the_numbers() {
        let error = step_model("llama-3.1-405b", "h100-sxm", 4).unwrap_err();
        assert_eq!(error.path, "deployment.aggregated.tp");
        assert!(error.message.contains("202.9 GB of weights"), "{error}");
        let error = step_model("llama-3.1-8b", "h100-sxm", 64).unwrap_err();
        assert!(error.message.contains("must divide"), "{error}");
        let error = StepModel::new(
            &catalog::model("llama-3.1-8b").unwrap().spec(),
            catalog::gpu("a100-80gb").unwrap(),
            ReplicaConfig { weights: Dtype::Fp8, ..config(1) },
        )
        .unwrap_err();
        assert_eq!(error.path, "model.weights");
    }
}
