//! The roofline step-time model of one replica.
//!
//! One engine step runs a batch of prefill chunks and decode tokens through the model. Each
//! operator class costs `max(FLOPs / achieved FLOP/s, bytes / achieved bandwidth)` on one GPU:
//! attention projections, dense MLPs, the experts a batch touches, the LM head, prefill and
//! decode attention. Tensor parallelism adds all-reduces, data-parallel attention with expert
//! parallelism adds all-to-alls, pipeline parallelism splits the batch into micro-batches that
//! fill the stages and adds a hop per stage boundary; the CPU's scheduling and sampling add
//! their time (or hide behind the GPU's with asynchronous scheduling). `docs/model.md` gives
//! every formula and the source of every constant.

use super::gpu::{interpolate_log2, Compute};
use super::memory::MemoryPlan;
use super::model::Attention;
use super::replica::{Factors, FitError, ReplicaConfig};
use super::report::RooflinePoint;
use super::{Dtype, GpuSpec, ModelSpec};
use crate::calibrate::{ProfileFit, StepProfile};
use crate::scenario::{Scenario, Speculative, SpeculativeMethod};
use crate::time::SimDuration;

/// CPU time of one engine step (scheduling, input preparation, CUDA-graph launch), seconds.
pub const CPU_STEP_OVERHEAD: f64 = 0.9e-3;
/// CPU time per sequence in a step (its scheduling, sampling and output handling), seconds.
pub const CPU_SEQUENCE_OVERHEAD: f64 = 4e-6;
/// The fixed latency of one GPU kernel (a norm, a GEMM, an activation), whatever its size:
/// aiconfigurator's `mem_empirical_constant_latency` (`perf-model-data.md` §5.4), seconds.
pub const KERNEL_LATENCY: f64 = 3e-6;
/// Latency of one pipeline-stage hop, seconds (aiconfigurator `p2p_latency`).
pub const PIPELINE_HOP_LATENCY: f64 = 10e-6;

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

/// The cost of a decode-only step of a given batch size, as a function of the tokens its
/// sequences attend to: what lets the engine cost steady decoding in O(1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeCost {
    gpu_fixed: f64,
    cpu: f64,
    per_context_token: f64,
    overlap_cpu: bool,
}

impl DecodeCost {
    /// The step's duration when its sequences attend to `context_tokens` KV tokens in all.
    #[inline]
    pub fn duration(&self, context_tokens: u64) -> SimDuration {
        let gpu = self.gpu_fixed + context_tokens as f64 * self.per_context_token;
        to_duration(combine(gpu, self.cpu, self.overlap_cpu))
    }
}

fn combine(gpu: f64, cpu: f64, overlap_cpu: bool) -> f64 {
    if overlap_cpu {
        gpu.max(cpu)
    } else {
        gpu + cpu
    }
}

fn to_duration(seconds: f64) -> SimDuration {
    SimDuration::from_secs_f64(seconds).max(SimDuration::from_nanos(1))
}

/// The new tokens of a step and the KV tokens its attention reads (decode contexts, and each
/// prefill chunk's cached and new tokens); each decode computes `tokens_per_decode` tokens (one,
/// or the verified draft tokens plus one).
fn totals(shape: &BatchShape<'_>, tokens_per_decode: f64) -> (f64, f64) {
    let chunks = shape.prefills.iter();
    let new_tokens = f64::from(shape.num_decode) * tokens_per_decode
        + chunks.clone().map(|chunk| f64::from(chunk.new_tokens)).sum::<f64>();
    let prefill_context: f64 = chunks.map(|c| f64::from(c.cached_tokens) + f64::from(c.new_tokens)).sum();
    (new_tokens, shape.decode_context_tokens as f64 + prefill_context)
}

/// The kernels a pass through `model` launches besides attention: per layer, the two norms
/// (residual add fused), then the attention projections (GQA: QKV, rotary, output, plus the
/// Q/K norms; MLA: the query and KV down- and up-projections, their norms, rotary and the two
/// absorbed products), then the MLP (dense: gate-up, activation, down; MoE: router, top-k,
/// permute, the two grouped GEMMs, activation, un-permute, plus three for shared experts).
fn kernels_per_pass(model: &ModelSpec) -> f64 {
    let attention = match model.attention {
        Attention::Gqa { qk_norm, .. } => 3 + 2 * u64::from(qk_norm),
        Attention::Mla { q_lora_rank, .. } => 7 + 2 * u64::from(q_lora_rank.is_some()),
    };
    let moe = model.moe.as_ref().map_or(0, |moe| 7 + 3 * u64::from(moe.shared_intermediate > 0));
    let per_layer = |is_moe: bool| 2 + attention + if is_moe { moe } else { 3 };
    model.layer_is_moe.iter().map(|&is_moe| per_layer(is_moe)).sum::<u64>() as f64
}

/// FLOPs and HBM bytes of some work on one GPU, and the time it takes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Work {
    flops: f64,
    bytes: f64,
    seconds: f64,
}

impl Work {
    /// Work bound by the slower of computing `flops` at `flop_rate` and moving `bytes` at
    /// `byte_rate`.
    fn bound(flops: f64, flop_rate: f64, bytes: f64, byte_rate: f64) -> Work {
        Work { flops, bytes, seconds: (flops / flop_rate).max(bytes / byte_rate) }
    }

    fn scaled(self, factor: f64) -> Work {
        Work { flops: self.flops * factor, bytes: self.bytes * factor, seconds: self.seconds * factor }
    }
}

impl std::ops::AddAssign for Work {
    fn add_assign(&mut self, other: Work) {
        self.flops += other.flops;
        self.bytes += other.bytes;
        self.seconds += other.seconds;
    }
}

/// One micro-batch's pass: its work and its tokens (which size the collectives).
struct Pass {
    work: Work,
    tokens: f64,
}

/// The routed experts of one MoE layer as one GPU sees them.
#[derive(Clone, Debug)]
struct ExpertCost {
    layers: f64,
    experts: f64,
    per_token: f64,
    /// Parameters of one expert's shard on a GPU.
    shard_params: f64,
    ep: f64,
    imbalance: f64,
    shared_params: f64,
}

/// Speculative decoding as the step model costs it: every decode verifies `num_draft_tokens + 1`
/// tokens, and the draft model runs once per draft token over the decodes (and once over the
/// step's prefill chunks, whose hidden states it needs).
#[derive(Clone, Debug)]
struct Drafting {
    num_draft_tokens: u32,
    /// The draft model's GPU cost; `None` for n-gram lookup, which runs on the CPU.
    draft: Option<Box<StepModel>>,
}

/// Step times, memory plan and KV capacity of one replica.
#[derive(Clone, Debug)]
pub struct StepModel {
    gpu: GpuSpec,
    factors: Factors,
    overlap_cpu: bool,
    tp: f64,
    pp: u32,
    dp_attention: bool,
    layers: f64,
    full_layers: f64,
    sliding_layers: f64,
    window: f64,
    hidden: f64,
    weights: Dtype,
    compute: Compute,
    attention_weights: Dtype,
    attention_compute: Compute,
    /// Attention projection parameters per GPU, all layers.
    attention_params: f64,
    /// Dense-MLP parameters per GPU, all dense layers.
    dense_params: f64,
    experts: Option<ExpertCost>,
    lm_head_params: f64,
    /// Attention FLOPs per (query, key) pair per layer, whole model (divided over the GPUs).
    attention_flops_per_pair: f64,
    /// Decode-attention KV bytes per context token per full-attention layer, per GPU.
    kv_read_bytes_per_layer_token: f64,
    /// Decode-attention FLOPs per context token per layer, per GPU.
    decode_flops_per_layer_token: f64,
    cross_node_hops: f64,
    stage_hops: f64,
    tp_over_nic: bool,
    ep_over_nic: bool,
    /// Kernels one pass launches over all layers (attention kernels not included: their floor
    /// is the GPU's decode-attention latency).
    kernels: f64,
    memory: MemoryPlan,
    profile: Option<ProfileFit>,
    drafting: Option<Drafting>,
}

impl StepModel {
    /// The step model of one replica of `scenario`'s deployment.
    ///
    /// # Errors
    ///
    /// Returns a [`FitError`] when the model or GPU is unknown or unreadable, or as
    /// [`StepModel::new`].
    pub fn from_scenario(scenario: &Scenario) -> Result<StepModel, FitError> {
        let model = scenario.model.spec().map_err(|message| FitError { path: scenario.model.spec_path(), message })?;
        let gpu = scenario
            .hardware
            .gpu
            .spec()
            .ok_or_else(|| FitError { path: "hardware.gpu", message: "unknown GPU".into() })?;
        let config = scenario.replica_config(&model, gpu);
        let profile = scenario.calibration.as_ref().and_then(|calibration| calibration.profile.as_ref());
        StepModel::new(&model, gpu, config)?.with_profile(profile)?.with_speculation(
            scenario.engine.speculative.as_ref(),
            &model,
            gpu,
            &config,
        )
    }

    /// Adds speculative decoding: the draft model's cost per step, and its weights and KV in
    /// the memory plan (MTP and the default EAGLE head share the target's embeddings and LM
    /// head; a draft model given by its config brings its own).
    ///
    /// # Errors
    ///
    /// Returns a [`FitError`] at `engine.speculative.draft` when the draft model does not read
    /// or fit, or at `deployment.aggregated.tp` when the draft leaves no room for KV cache.
    pub fn with_speculation(
        self,
        speculative: Option<&Speculative>,
        target: &ModelSpec,
        gpu: &GpuSpec,
        config: &ReplicaConfig,
    ) -> Result<StepModel, FitError> {
        let Some(speculative) = speculative else { return Ok(self) };
        let path = "engine.speculative.draft";
        let draft_spec = match (speculative.method, &speculative.draft) {
            (SpeculativeMethod::Ngram, _) => None,
            (_, Some(choice)) => Some((choice.spec().map_err(|message| FitError { path, message })?, true)),
            (SpeculativeMethod::Mtp, None) => Some((target.draft_layer(true), false)),
            (SpeculativeMethod::Eagle, None) => Some((target.draft_layer(false), false)),
        };
        let mut model = self;
        let draft = match draft_spec {
            None => None,
            Some((spec, own_tables)) => {
                let draft_config = ReplicaConfig {
                    pp: 1,
                    ep: if spec.moe.is_some() { config.ep } else { 1 },
                    redundant_experts: 0,
                    weights: if own_tables { spec.native_weights } else { config.weights },
                    ..*config
                };
                let draft = StepModel::new(&spec, gpu, draft_config)
                    .map_err(|error| FitError { path, message: error.message })?;
                let weight_bytes = if own_tables {
                    draft.memory.weight_bytes_per_gpu
                } else {
                    MemoryPlan::layer_weight_bytes(&spec, &draft_config)
                };
                model.memory.add_draft(weight_bytes, draft.memory.kv_bytes_per_token_per_gpu);
                if !model.memory.fits() {
                    return Err(model.memory.why_not(&gpu.name, config.gpu_memory_utilization));
                }
                Some(Box::new(draft))
            }
        };
        model.drafting = Some(Drafting { num_draft_tokens: speculative.num_draft_tokens, draft });
        Ok(model)
    }

    /// Seconds to copy `tokens` tokens of KV between the GPUs and host memory: each GPU moves
    /// its share over its own host link, all at once.
    pub fn host_copy_seconds(&self, tokens: u64) -> f64 {
        tokens as f64 * self.memory.kv_bytes_per_token_per_gpu / self.gpu.host_bandwidth()
    }

    /// KV blocks of `block_size` tokens that `gb` GB of host memory per replica hold.
    pub fn host_kv_blocks(&self, gb: f64, block_size: u32) -> u64 {
        (gb * 1e9 / (f64::from(block_size) * self.kv_bytes_per_token_per_replica())) as u64
    }

    /// KV bytes one token takes over the whole replica: every GPU's share (the memory plan's
    /// binding stage taken for every stage).
    pub fn kv_bytes_per_token_per_replica(&self) -> f64 {
        let holders = if self.dp_attention { 1.0 } else { self.tp };
        self.memory.kv_bytes_per_token_per_gpu * holders * f64::from(self.pp)
    }

    /// Tokens each decoding sequence computes in a step: one, or with speculative decoding the
    /// draft tokens it verifies plus one.
    pub fn tokens_per_decode(&self) -> u32 {
        self.drafting.as_ref().map_or(1, |drafting| drafting.num_draft_tokens + 1)
    }

    /// The draft model's share of a step, seconds: `k` passes over the decodes and one over
    /// the prefill chunks.
    fn draft_seconds(&self, shape: &BatchShape<'_>) -> f64 {
        let Some(Drafting { num_draft_tokens, draft: Some(draft) }) = &self.drafting else { return 0.0 };
        let mut seconds = 0.0;
        if shape.num_decode > 0 {
            let decodes = BatchShape { prefills: &[], ..*shape };
            seconds += f64::from(*num_draft_tokens) * draft.gpu_seconds(&decodes);
        }
        if !shape.prefills.is_empty() {
            let prefills = BatchShape { num_decode: 0, decode_context_tokens: 0, prefills: shape.prefills };
            seconds += draft.gpu_seconds(&prefills);
        }
        seconds
    }

    /// Builds the model of a replica running `model` on `gpu` with `config`.
    ///
    /// # Errors
    ///
    /// Returns a [`FitError`] naming the field to change when the shape or formats are invalid
    /// ([`ReplicaConfig::check`]) or the weights (plus reserves) leave no room for KV cache.
    pub fn new(model: &ModelSpec, gpu: &GpuSpec, config: ReplicaConfig) -> Result<StepModel, FitError> {
        config.check(model, gpu)?;
        let memory = MemoryPlan::new(model, gpu, &config);
        if !memory.fits() {
            return Err(memory.why_not(&gpu.name, config.gpu_memory_utilization));
        }
        let tp = f64::from(config.tp);
        let attention_weights = config.attention_weights(model);
        let attention_params = config.attention_params_per_gpu(model) * model.layers as f64;
        // Under data-parallel attention each GPU reads its own sequences' KV: a `tp`-th of it.
        let kv_share = if config.dp_attention { tp } else { 1.0 };
        let kv_bytes = config.kv_cache.kv_bytes().unwrap_or(2) as f64;
        let kv_read_bytes_per_layer_token = kv_bytes * config.kv_elements_per_gpu(model) / kv_share;
        let q_heads = model.q_heads() as f64;
        let (attention_flops_per_pair, decode_flops_per_layer_token) = match model.attention {
            Attention::Gqa { head_dim, .. } => (4.0 * q_heads * head_dim as f64, 4.0 * q_heads * head_dim as f64 / tp),
            // Prefill expands the latent (Q·K over nope + rope, then V); decode absorbs the
            // up-projections and attends in the latent space (as FlashMLA does).
            Attention::Mla { kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim, .. } => (
                2.0 * q_heads * (qk_nope_head_dim + qk_rope_head_dim + v_head_dim) as f64,
                2.0 * q_heads * (2 * kv_lora_rank + qk_rope_head_dim) as f64 / tp,
            ),
        };
        let experts = model.moe.as_ref().map(|moe| {
            let ep = f64::from(config.ep);
            ExpertCost {
                layers: model.moe_layers() as f64,
                experts: moe.experts as f64,
                per_token: moe.experts_per_token as f64,
                shard_params: model.expert_params() as f64 / (tp / ep),
                ep,
                imbalance: config.effective_imbalance(),
                shared_params: model.shared_expert_params() as f64 / tp,
            }
        });
        let sliding_layers = model.sliding_window.map_or(0, |window| window.layers) as f64;
        Ok(StepModel {
            gpu: gpu.clone(),
            factors: config.factors,
            overlap_cpu: config.async_scheduling,
            tp,
            pp: config.pp,
            dp_attention: config.dp_attention,
            layers: model.layers as f64,
            full_layers: model.layers as f64 - sliding_layers,
            sliding_layers,
            window: model.sliding_window.map_or(0, |window| window.window) as f64,
            hidden: model.hidden as f64,
            weights: config.weights,
            compute: gpu.compute_for(config.weights),
            attention_weights,
            attention_compute: gpu.compute_for(attention_weights),
            attention_params,
            dense_params: model.dense_layers() as f64 * model.dense_mlp_params() as f64 / tp,
            experts,
            lm_head_params: model.lm_head_params() as f64 / tp,
            attention_flops_per_pair,
            kv_read_bytes_per_layer_token,
            decode_flops_per_layer_token,
            cross_node_hops: f64::from(config.cross_node_hops()),
            stage_hops: f64::from(config.pp - 1),
            tp_over_nic: config.tp > config.gpus_per_node,
            ep_over_nic: config.ep > config.gpus_per_node,
            kernels: kernels_per_pass(model),
            memory,
            profile: None,
            drafting: None,
        })
    }

    /// Replaces the roofline with a measured step-time profile, when one is given.
    ///
    /// # Errors
    ///
    /// Returns a [`FitError`] at `calibration.profile` when the profile cannot be fitted.
    pub fn with_profile(self, profile: Option<&StepProfile>) -> Result<StepModel, FitError> {
        let Some(profile) = profile else { return Ok(self) };
        let fit = profile.fit().map_err(|message| FitError { path: "calibration.profile", message })?;
        Ok(StepModel { profile: Some(fit), ..self })
    }

    /// Tokens of KV cache the replica holds.
    pub fn kv_capacity_tokens(&self) -> u64 {
        self.memory.kv_capacity_tokens
    }

    /// Where the replica's memory goes.
    pub fn memory(&self) -> &MemoryPlan {
        &self.memory
    }

    /// The GPU it runs on.
    pub fn gpu(&self) -> &GpuSpec {
        &self.gpu
    }

    /// The duration of a step computing `shape`, at least 1 ns.
    pub fn step_time(&self, shape: &BatchShape<'_>) -> SimDuration {
        let gpu = self.gpu_seconds(shape) + self.draft_seconds(shape);
        to_duration(combine(gpu, self.cpu_seconds(shape), self.overlap_cpu))
    }

    /// The cost of a decode-only step of `num_decode` sequences, as a function of the tokens
    /// they attend to.
    pub fn decode_cost(&self, num_decode: u32) -> DecodeCost {
        let shape = BatchShape { num_decode, decode_context_tokens: 0, prefills: &[] };
        DecodeCost {
            gpu_fixed: self.gpu_seconds(&shape) + self.draft_seconds(&shape),
            cpu: self.cpu_seconds(&shape),
            per_context_token: self.seconds_per_context_token(num_decode),
            overlap_cpu: self.overlap_cpu,
        }
    }

    /// The GPU's share of a step, seconds.
    pub fn gpu_seconds(&self, shape: &BatchShape<'_>) -> f64 {
        if let Some(profile) = &self.profile {
            let (new_tokens, context) = totals(shape, f64::from(self.tokens_per_decode()));
            return profile.step_seconds(new_tokens, context);
        }
        let pass = self.pass(shape);
        let decode_floor = if shape.num_decode > 0 {
            self.layers * self.gpu.efficiency.decode_attention_floor_us * 1e-6 * self.factors.overhead
        } else {
            0.0
        };
        let launches = self.kernels * KERNEL_LATENCY * self.factors.overhead;
        pass.work.seconds + decode_floor + self.communication_seconds(pass.tokens) + launches
    }

    /// The CPU's share of a step, seconds.
    pub fn cpu_seconds(&self, shape: &BatchShape<'_>) -> f64 {
        if self.profile.is_some() {
            return 0.0;
        }
        let sequences = f64::from(shape.num_decode) + shape.prefills.len() as f64;
        (CPU_STEP_OVERHEAD + CPU_SEQUENCE_OVERHEAD * sequences) * self.factors.overhead
    }

    /// Where a step sits on the roofline of one GPU: the FLOPs per HBM byte of one pass, and the
    /// FLOP/s it attains over the whole step.
    pub fn roofline_point(&self, shape: &BatchShape<'_>) -> RooflinePoint {
        let work = self.pass(shape).work;
        RooflinePoint {
            intensity: work.flops / work.bytes.max(1.0),
            attained_flops: work.flops / self.step_time(shape).as_secs_f64(),
        }
    }

    /// Seconds per decode-context token in a step of `num_decode` sequences (attention reads its
    /// KV over the full-attention layers).
    pub fn seconds_per_context_token(&self, num_decode: u32) -> f64 {
        let target = match &self.profile {
            Some(profile) => profile.seconds_per_context_token(),
            None => self.full_layers * self.decode_attention(1.0).seconds / self.micro_batches(num_decode),
        };
        let draft = match &self.drafting {
            Some(Drafting { num_draft_tokens, draft: Some(draft) }) => {
                f64::from(*num_draft_tokens) * draft.seconds_per_context_token(num_decode)
            }
            _ => 0.0,
        };
        target + draft
    }

    /// Pipeline micro-batches a step of `sequences` splits into: one per stage when there are
    /// enough sequences, so every stage is busy; fewer leave stages idle (the bubble).
    fn micro_batches(&self, sequences: u32) -> f64 {
        f64::from(sequences.clamp(1, self.pp))
    }

    /// The FLOPs, HBM bytes and time of one micro-batch's pass through every layer on one GPU.
    fn pass(&self, shape: &BatchShape<'_>) -> Pass {
        let sequences = shape.num_decode + shape.prefills.len() as u32;
        let micro_batches = self.micro_batches(sequences);
        let tokens_per_decode = f64::from(self.tokens_per_decode());
        let (new_tokens, _) = totals(shape, tokens_per_decode);
        let tokens = new_tokens / micro_batches;
        // Verification computes logits at every verified position.
        let logits = (f64::from(shape.num_decode) * tokens_per_decode + shape.prefills.len() as f64) / micro_batches;
        let mut work = self.linear(tokens);
        work += self.gemm(self.lm_head_params, logits, Dtype::Bf16, Compute::Bf16);
        for chunk in shape.prefills {
            work += self.prefill_attention(chunk).scaled(1.0 / micro_batches);
        }
        let windows = f64::from(shape.num_decode) * self.window * self.sliding_layers;
        let contexts = shape.decode_context_tokens as f64 * self.full_layers;
        work += self.decode_attention(windows + contexts).scaled(1.0 / micro_batches);
        Pass { work, tokens }
    }

    /// Decode attention over `layer_tokens` (context tokens × layers) on one GPU: the larger of
    /// reading their KV and the attention FLOPs (which bind for MLA's many heads over one
    /// latent).
    ///
    /// Under speculative decoding each sequence attends with its verified tokens as queries:
    /// the KV is read once, the FLOPs grow with the queries.
    fn decode_attention(&self, layer_tokens: f64) -> Work {
        let queries = f64::from(self.tokens_per_decode());
        let efficiency = &self.gpu.efficiency;
        let peak_attention = efficiency.prefill_attention.last().map_or(0.5, |point| point[1]);
        Work::bound(
            self.decode_flops_per_layer_token * layer_tokens * queries,
            self.gpu.bf16_tflops * 1e12 * peak_attention * self.factors.compute,
            self.kv_read_bytes_per_layer_token * layer_tokens,
            self.gpu.hbm_bandwidth() * efficiency.decode_attention_hbm * self.factors.memory,
        )
    }

    /// A GEMM over `params` weights per GPU for `m` tokens: compute- or bandwidth-bound.
    fn gemm(&self, params: f64, m: f64, weights: Dtype, compute: Compute) -> Work {
        if params == 0.0 || m == 0.0 {
            return Work::default();
        }
        Work::bound(
            2.0 * params * m,
            self.gpu.gemm_flops(m, compute) * self.factors.compute,
            params * weights.weight_bytes(),
            self.gpu.weight_bandwidth(weights) * self.factors.memory,
        )
    }

    /// Every layer's matrices for `tokens` tokens: attention projections (per GPU's share of
    /// the tokens under data-parallel attention), dense MLPs and the experts the tokens touch.
    fn linear(&self, tokens: f64) -> Work {
        let attention_tokens = if self.dp_attention { tokens / self.tp } else { tokens };
        let mut work =
            self.gemm(self.attention_params, attention_tokens, self.attention_weights, self.attention_compute);
        work += self.gemm(self.dense_params, tokens, self.weights, self.compute);
        if let Some(experts) = &self.experts {
            work += self.expert_layer(experts, tokens).scaled(experts.layers);
        }
        work
    }

    /// One MoE layer for `tokens` tokens on one GPU. Under uniform routing the batch touches
    /// `E · (1 − (1 − k/E)^T)` distinct experts, whose weights are read once each; the routed
    /// FLOPs are spread over the GPUs, the busiest expert-parallel rank carrying `imbalance`
    /// times its share.
    fn expert_layer(&self, experts: &ExpertCost, tokens: f64) -> Work {
        if tokens == 0.0 {
            return Work::default();
        }
        let touched = experts.experts * (1.0 - libm::pow(1.0 - experts.per_token / experts.experts, tokens));
        let tokens_per_expert = tokens * experts.per_token / touched;
        // The routed FLOPs, 2·T·k·P_e in all, spread over the `tp` GPUs (a shard is `P_e·ep/tp`).
        let mut work = Work::bound(
            2.0 * tokens * experts.per_token * experts.shard_params / experts.ep * experts.imbalance,
            self.gpu.gemm_flops(tokens_per_expert, self.compute) * self.factors.compute,
            touched / experts.ep * experts.shard_params * self.weights.weight_bytes(),
            self.gpu.weight_bandwidth(self.weights) * self.factors.memory,
        );
        work += self.gemm(experts.shared_params, tokens, self.weights, self.compute);
        work
    }

    /// Prefill attention of one chunk on one GPU: causal FLOPs over the full layers' context
    /// and the sliding layers' window, and the reads of its cached KV.
    fn prefill_attention(&self, chunk: &PrefillChunk) -> Work {
        let (new, cached) = (f64::from(chunk.new_tokens), f64::from(chunk.cached_tokens));
        let mean_span = cached + new / 2.0;
        let pairs = new * (self.full_layers * mean_span + self.sliding_layers * mean_span.min(self.window));
        let efficiency = interpolate_log2(&self.gpu.efficiency.prefill_attention, cached + new);
        Work::bound(
            self.attention_flops_per_pair * pairs / self.tp,
            self.gpu.bf16_tflops * 1e12 * efficiency * self.factors.compute,
            cached * self.full_layers * self.kv_read_bytes_per_layer_token,
            self.gpu.hbm_bandwidth() * self.gpu.efficiency.decode_attention_hbm * self.factors.memory,
        )
    }

    /// Collectives of one pass of `tokens` tokens: two all-reduces per layer under tensor
    /// parallelism; under data-parallel attention, an all-gather and reduce-scatter (an
    /// all-reduce's bytes) per dense layer and a dispatch and combine all-to-all per MoE layer;
    /// plus the pipeline hops.
    fn communication_seconds(&self, tokens: f64) -> f64 {
        let activation_bytes = tokens * self.hidden * 2.0;
        let mut seconds = 0.0;
        if self.tp > 1.0 {
            let allreduce = self.allreduce_seconds(activation_bytes);
            seconds += match &self.experts {
                _ if !self.dp_attention => 2.0 * self.layers * allreduce,
                Some(experts) if experts.ep > 1.0 => {
                    (self.layers - experts.layers) * allreduce
                        + experts.layers * 2.0 * self.all_to_all_seconds(experts, tokens)
                }
                _ => self.layers * allreduce,
            };
        }
        let scale_up_hops = self.stage_hops - self.cross_node_hops;
        seconds
            + scale_up_hops * (PIPELINE_HOP_LATENCY + activation_bytes / self.gpu.scale_up_bandwidth())
            + self.cross_node_hops * (PIPELINE_HOP_LATENCY + activation_bytes / self.gpu.nic_bandwidth())
    }

    /// One ring all-reduce of `bytes` over the TP group: `α + 2(n−1)/n · bytes / (η · BW)`.
    fn allreduce_seconds(&self, bytes: f64) -> f64 {
        let efficiency = &self.gpu.efficiency;
        let tp = self.tp as u32;
        let bandwidth = if self.tp_over_nic { self.gpu.nic_bandwidth() } else { self.gpu.scale_up_bandwidth() };
        efficiency.allreduce_latency_us * 1e-6
            + 2.0 * (self.tp - 1.0) / self.tp * bytes / (efficiency.allreduce_efficiency(tp, bytes) * bandwidth)
    }

    /// One expert-parallel all-to-all (dispatch or combine) of a GPU's `tokens / tp` tokens,
    /// each sent to `k` experts, the `(ep − 1)/ep` off-rank share crossing the fabric.
    fn all_to_all_seconds(&self, experts: &ExpertCost, tokens: f64) -> f64 {
        let efficiency = &self.gpu.efficiency;
        let bytes = tokens / self.tp * experts.per_token * self.hidden * 2.0 * (experts.ep - 1.0) / experts.ep;
        let bandwidth = if self.ep_over_nic {
            self.gpu.nic_bandwidth() * efficiency.all_to_all_nic
        } else {
            self.gpu.scale_up_bandwidth() * efficiency.all_to_all_scale_up
        };
        efficiency.all_to_all_latency_us * 1e-6 + bytes / bandwidth
    }
}

#[cfg(test)]
mod tests;
