//! Where a replica's GPU memory goes: weights, activations, runtime reserves, sliding windows
//! and, in what is left, the KV cache.
//!
//! Every figure is for one GPU of a pipeline stage; the stage that holds the least KV sets the
//! replica's capacity, as vLLM sizes its cache on the tightest worker.

use super::replica::{FitError, ReplicaConfig};
use super::{Dtype, GpuSpec, ModelSpec};

/// Memory the runtime keeps outside weights, activations and KV (aiconfigurator `other_mem`).
pub const RUNTIME_RESERVED_BYTES: f64 = 3.5e9;
/// NCCL buffers when tensor parallel (aiconfigurator `nccl_mem`, upper end).
pub const NCCL_RESERVED_BYTES: f64 = 0.4e9;
/// The fewest KV tokens a replica must hold to start at all.
const MIN_KV_TOKENS: f64 = 16.0;

/// The memory of one replica's GPUs.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryPlan {
    /// Weights on the most loaded GPU, bytes.
    pub weight_bytes_per_gpu: f64,
    /// Activation reserve per GPU (a full step's MLP and attention activations and the
    /// sampler's logits), bytes.
    pub activation_bytes: f64,
    /// Runtime and NCCL reserves per GPU, bytes.
    pub reserved_bytes: f64,
    /// Memory the engine may use per GPU (`memory × gpu_memory_utilization`), bytes.
    pub usable_bytes: f64,
    /// Sliding-window KV reserved for `max_num_seqs` sequences per GPU, bytes.
    pub window_bytes: f64,
    /// KV bytes one token takes on a GPU of the binding stage.
    pub kv_bytes_per_token_per_gpu: f64,
    /// KV memory left per GPU of the binding stage, bytes (negative when the weights do not fit).
    pub kv_free_bytes: f64,
    /// Tokens of KV cache the whole replica holds.
    pub kv_capacity_tokens: u64,
}

impl MemoryPlan {
    /// The memory plan of `model` on `gpu` with `config` (which [`ReplicaConfig::check`] has
    /// accepted).
    pub fn new(model: &ModelSpec, gpu: &GpuSpec, config: &ReplicaConfig) -> MemoryPlan {
        let tp = f64::from(config.tp);
        let kv_sharing = if config.dp_attention { tp } else { 1.0 };
        let table = (model.vocab * model.hidden) as f64 * Dtype::Bf16.weight_bytes() / tp;
        let ffn_width = model
            .moe
            .as_ref()
            .map_or(0, |moe| moe.experts_per_token * moe.expert_intermediate + moe.shared_intermediate);
        let ffn_width = ffn_width.max(model.dense_intermediate) as f64;
        let activation_bytes =
            f64::from(config.max_num_batched_tokens) * (2.0 * ffn_width / tp + 4.0 * model.hidden as f64) * 2.0
                + f64::from(config.max_num_seqs) * model.vocab as f64 / tp * 4.0;
        let reserved_bytes = RUNTIME_RESERVED_BYTES + if config.tp > 1 { NCCL_RESERVED_BYTES } else { 0.0 };
        let usable_bytes = gpu.memory_bytes() * config.gpu_memory_utilization;
        let kv_per_layer_token = config.kv_elements_per_gpu(model) * config.kv_cache.kv_bytes().unwrap_or(2) as f64;
        let sliding_fraction = model.sliding_window.map_or(0.0, |w| w.layers as f64 / model.layers as f64);
        let window = model.sliding_window.map_or(0.0, |w| w.window as f64);
        let sequences_per_gpu = (f64::from(config.max_num_seqs) / kv_sharing).ceil();

        let stages = config.stage_layers(model.layers);
        let last = stages.len() - 1;
        let mut plan = MemoryPlan {
            weight_bytes_per_gpu: 0.0,
            activation_bytes,
            reserved_bytes,
            usable_bytes,
            window_bytes: 0.0,
            kv_bytes_per_token_per_gpu: 0.0,
            kv_free_bytes: f64::INFINITY,
            kv_capacity_tokens: 0,
        };
        let mut capacity = f64::INFINITY;
        for (index, stage) in stages.into_iter().enumerate() {
            let len = (stage.end - stage.start) as f64;
            let mut weights: f64 =
                stage.map(|layer| layer_weight_bytes(model, config, model.layer_is_moe[layer as usize])).sum();
            let tables = match (index == 0, index == last) {
                (true, true) if model.tied_embeddings => table,
                (true, true) => 2.0 * table,
                (true, false) | (false, true) => table,
                (false, false) => 0.0,
            };
            weights += tables;
            let sliding_layers = len * sliding_fraction;
            let window_bytes = sliding_layers * window * kv_per_layer_token * sequences_per_gpu;
            let kv_per_token = (len - sliding_layers) * kv_per_layer_token;
            let free = usable_bytes - weights - activation_bytes - reserved_bytes - window_bytes;
            let stage_capacity = match (free > 0.0, kv_per_token > 0.0) {
                (false, _) => free,
                (true, true) => free / kv_per_token * kv_sharing,
                (true, false) => f64::INFINITY,
            };
            plan.weight_bytes_per_gpu = plan.weight_bytes_per_gpu.max(weights);
            if index == 0 || stage_capacity < capacity {
                capacity = stage_capacity;
                plan.kv_free_bytes = free;
                plan.kv_bytes_per_token_per_gpu = kv_per_token;
                plan.window_bytes = window_bytes;
            }
        }
        // A model whose every layer slides holds any context: cap it at what one GPU could hold.
        let capacity =
            if capacity.is_finite() { capacity } else { model.max_context as f64 * f64::from(config.max_num_seqs) };
        plan.kv_capacity_tokens = if plan.kv_free_bytes > 0.0 { capacity.max(0.0) as u64 } else { 0 };
        plan
    }

    /// Weights of `model`'s decoder layers on one GPU (no embedding or LM head), bytes: what
    /// an MTP layer or a draft head sharing the target's tables adds.
    pub fn layer_weight_bytes(model: &ModelSpec, config: &ReplicaConfig) -> f64 {
        model.layer_is_moe.iter().map(|&is_moe| layer_weight_bytes(model, config, is_moe)).sum()
    }

    /// Makes room for a speculative draft model on the binding stage: `weight_bytes` more
    /// weights per GPU, and `kv_bytes_per_token` more KV per token (the draft's own layers'
    /// cache, allocated with the target's blocks).
    pub fn add_draft(&mut self, weight_bytes: f64, kv_bytes_per_token: f64) {
        let (old_free, old_kv) = (self.kv_free_bytes, self.kv_bytes_per_token_per_gpu);
        self.weight_bytes_per_gpu += weight_bytes;
        self.kv_free_bytes -= weight_bytes;
        self.kv_bytes_per_token_per_gpu += kv_bytes_per_token;
        self.kv_capacity_tokens = if self.kv_free_bytes > 0.0 && old_free > 0.0 && self.kv_bytes_per_token_per_gpu > 0.0
        {
            (self.kv_capacity_tokens as f64
                * (self.kv_free_bytes / old_free)
                * (old_kv / self.kv_bytes_per_token_per_gpu)) as u64
        } else {
            0
        };
    }

    /// Whether a replica can start: its KV cache holds at least 16 tokens.
    pub fn fits(&self) -> bool {
        self.kv_free_bytes > 0.0 && self.kv_capacity_tokens as f64 >= MIN_KV_TOKENS
    }

    /// Why the replica does not fit, with the numbers, as the error validation reports.
    pub fn why_not(&self, gpu_name: &str, gpu_memory_utilization: f64) -> FitError {
        FitError {
            path: "deployment.aggregated.tp",
            message: format!(
                "the model does not fit: each GPU would hold {:.1} GB of weights, {:.1} GB of activations and \
                 {:.1} GB of runtime reserve{}, leaving {:.1} GB for KV cache out of {:.1} GB usable \
                 ({gpu_name} × gpu_memory_utilization {gpu_memory_utilization}); raise tp, pp or ep, use \
                 smaller weights (fp8, fp4, int4), or a larger GPU",
                self.weight_bytes_per_gpu / 1e9,
                self.activation_bytes / 1e9,
                self.reserved_bytes / 1e9,
                if self.window_bytes > 0.0 {
                    format!(", {:.1} GB of sliding windows", self.window_bytes / 1e9)
                } else {
                    String::new()
                },
                self.kv_free_bytes.max(0.0) / 1e9,
                self.usable_bytes / 1e9,
            ),
        }
    }
}

/// One layer's weights on one GPU, bytes.
fn layer_weight_bytes(model: &ModelSpec, config: &ReplicaConfig, is_moe: bool) -> f64 {
    let (tp, ep) = (f64::from(config.tp), f64::from(config.ep));
    let weights = config.weights.weight_bytes();
    let attention_weights = config.attention_weights(model).weight_bytes();
    let attention = config.attention_params_per_gpu(model);
    let vectors = (model.layer_vector_params() as f64) * Dtype::Bf16.weight_bytes();
    let mlp = if is_moe {
        let moe = model.moe.as_ref().expect("an MoE layer has experts");
        let physical = (moe.experts + u64::from(config.redundant_experts)) as f64;
        physical / ep * model.expert_params() as f64 / (tp / ep) * weights
            + model.shared_expert_params() as f64 / tp * weights
            + model.router_params() as f64 * Dtype::Bf16.weight_bytes()
    } else {
        model.dense_mlp_params() as f64 / tp * weights
    };
    attention * attention_weights + vectors + mlp
}
