use super::*;
use crate::perf::catalog;

fn config(tp: u32) -> ReplicaConfig {
    ReplicaConfig { tp, ..ReplicaConfig::default() }
}

fn build(model: &str, gpu: &str, config: ReplicaConfig) -> Result<StepModel, FitError> {
    StepModel::new(&catalog::model(model).unwrap().spec(), catalog::gpu(gpu).unwrap(), config)
}

fn step_model(model: &str, gpu: &str, tp: u32) -> Result<StepModel, FitError> {
    build(model, gpu, config(tp))
}

fn decode(model: &StepModel, num_decode: u32, context_each: u64) -> f64 {
    let shape = BatchShape { num_decode, decode_context_tokens: u64::from(num_decode) * context_each, prefills: &[] };
    model.step_time(&shape).as_millis_f64()
}

fn prefill(model: &StepModel, tokens: u32) -> f64 {
    let chunk = [PrefillChunk { new_tokens: tokens, cached_tokens: 0 }];
    model.step_time(&BatchShape { num_decode: 0, decode_context_tokens: 0, prefills: &chunk }).as_millis_f64()
}

#[test]
fn llama_8b_on_h100_decodes_in_about_7_ms_and_holds_431_thousand_tokens() {
    let model = step_model("llama-3.1-8b", "h100-sxm", 1).unwrap();
    // 13.96 GB of layer matrices and 1.05 GB of LM head at 0.82 × 3.35 TB/s = 5.47 ms, plus
    // 0.904 ms of CPU (0.9 ms + 4 µs), 32 layers × 8 kernels × 3 µs = 0.77 ms of kernel
    // latency, 0.45 ms of attention floor and 0.04 ms reading 1,000 tokens of KV: 7.63 ms.
    let one = decode(&model, 1, 1_000);
    assert!((7.6..7.66).contains(&one), "{one}");
    // 81,559 MiB × 0.9 = 76.969 GB usable, less 16.061 GB of BF16 weights, 0.870 GB of
    // activations (8,192 × (2 × 14,336 + 4 × 4,096) × 2 B + 256 × 128,256 × 4 B) and 3.5 GB
    // of runtime reserve, leaves 56.539 GB: 431,355 tokens of 128 KiB.
    assert_eq!(model.kv_capacity_tokens(), 431_355);
}

#[test]
fn decode_cost_is_affine_in_context_and_matches_the_step_time() {
    let model = step_model("llama-3.1-8b", "h100-sxm", 1).unwrap();
    let cost = model.decode_cost(32);
    let (a, b, c) = (cost.duration(0), cost.duration(100_000), cost.duration(200_000));
    let (d1, d2) = ((b.as_nanos() - a.as_nanos()) as f64, (c.as_nanos() - b.as_nanos()) as f64);
    assert!((d1 - d2).abs() <= 1.0);
    // 100k tokens × 128 KiB at 0.88 × 3.35 TB/s ≈ 4.45 ms.
    assert!((d1 / 1e6 - 4.45).abs() < 0.01, "{d1}");
    let shape = BatchShape { num_decode: 32, decode_context_tokens: 100_000, prefills: &[] };
    assert_eq!(model.step_time(&shape), b);
}

#[test]
fn a_long_prefill_is_compute_bound() {
    let model = step_model("llama-3.1-8b", "h100-sxm", 1).unwrap();
    // 2 × 7.5e9 FLOP × 8192 tokens at 0.78 × 989 TF ≈ 159 ms, plus attention.
    let time = prefill(&model, 8192);
    assert!((160.0..200.0).contains(&time), "{time}");
}

#[test]
fn tensor_parallelism_speeds_decode_but_adds_allreduce() {
    let tp4 = step_model("llama-3.1-70b", "h100-sxm", 4).unwrap();
    let tp8 = step_model("llama-3.1-70b", "h100-sxm", 8).unwrap();
    let (slow, fast) = (decode(&tp4, 16, 1000), decode(&tp8, 16, 1000));
    // Weight reads halve, but the fixed overheads and 160 all-reduces do not.
    assert!(fast < slow * 0.75 && fast > slow / 2.0, "tp4 {slow} ms, tp8 {fast} ms");
    assert!(tp8.kv_capacity_tokens() > 2 * tp4.kv_capacity_tokens());
}

#[test]
fn invalid_shapes_and_models_too_big_are_refused_naming_the_field() {
    let error = step_model("llama-3.1-405b", "h100-sxm", 4).unwrap_err();
    assert_eq!(error.path, "deployment.aggregated.tp");
    assert!(error.message.contains("202.9 GB of weights"), "{error}");
    let error = step_model("llama-3.1-8b", "h100-sxm", 64).unwrap_err();
    assert!(error.message.contains("must divide"), "{error}");
    let fp8_on_a100 = build("llama-3.1-8b", "a100-80gb", ReplicaConfig { weights: Dtype::Fp8, ..config(1) });
    assert_eq!(fp8_on_a100.unwrap_err().path, "model.weights");
    let fp4_on_hopper = build("llama-3.1-8b", "h100-sxm", ReplicaConfig { weights: Dtype::Fp4, ..config(1) });
    assert!(fp4_on_hopper.unwrap_err().message.contains("FP4"));
    let ep_on_dense = build("llama-3.1-70b", "h100-sxm", ReplicaConfig { ep: 8, ..config(8) });
    assert_eq!(ep_on_dense.unwrap_err().path, "deployment.aggregated.ep");
    let fp4_kv = build("llama-3.1-8b", "b200", ReplicaConfig { kv_cache: Dtype::Fp4, ..config(1) });
    assert_eq!(fp4_kv.unwrap_err().path, "model.kv_cache");
    let ep_not_dividing = build("mixtral-8x7b", "h100-sxm", ReplicaConfig { ep: 4, ..config(2) });
    assert_eq!(ep_not_dividing.unwrap_err().path, "deployment.aggregated.ep");
    assert!(build("llama-3.1-8b", "h100-sxm", ReplicaConfig { weights: Dtype::Int4, ..config(1) }).is_ok());
}

/// Every preset on every GPU and format it fits: more tokens never take less time, more TP
/// never holds more weights per GPU, FP8 is never slower than BF16.
#[test]
fn step_time_and_memory_properties_hold_across_the_catalog() {
    let mut checked = 0;
    for preset in catalog::MODELS {
        let model = preset.spec();
        for gpu in catalog::gpus() {
            let mut previous_weights = f64::INFINITY;
            for tp in [1, 2, 4, 8] {
                let shape = ReplicaConfig { tp, ..config(tp) };
                let Ok(bf16) = StepModel::new(&model, &gpu.spec, shape) else { continue };
                checked += 1;
                let weights = bf16.memory().weight_bytes_per_gpu;
                assert!(weights <= previous_weights, "{} {} tp {tp}", preset.id, gpu.id);
                previous_weights = weights;
                let mut last = (0.0, 0.0);
                for tokens in [1, 16, 64, 256, 1024, 4096] {
                    let now = (prefill(&bf16, tokens), decode(&bf16, tokens.min(512), 2000));
                    assert!(
                        now.0 >= last.0 && now.1 >= last.1,
                        "{} {} tp {tp} {tokens}: {now:?} < {last:?}",
                        preset.id,
                        gpu.id
                    );
                    last = now;
                }
                if let Ok(fp8) = StepModel::new(&model, &gpu.spec, ReplicaConfig { weights: Dtype::Fp8, ..shape }) {
                    for tokens in [1, 64, 1024, 8192] {
                        assert!(
                            prefill(&fp8, tokens) <= prefill(&bf16, tokens) * 1.000_001,
                            "{} {} {tokens}",
                            preset.id,
                            gpu.id
                        );
                    }
                    assert!(decode(&fp8, 64, 2000) <= decode(&bf16, 64, 2000));
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn mla_replicates_its_latent_under_tp_and_shards_it_under_dp_attention() {
    let fp8 = |tp, dp_attention, ep| ReplicaConfig { weights: Dtype::Fp8, dp_attention, ep, ..config(tp) };
    let tp4 = build("deepseek-v3", "b300", fp8(4, false, 1)).unwrap();
    let tp8 = build("deepseek-v3", "b300", fp8(8, false, 1)).unwrap();
    let dp8 = build("deepseek-v3", "b300", fp8(8, true, 8)).unwrap();
    // Plain TP: every GPU keeps all 61 × 576 latent elements of every token, whatever the TP;
    // capacity grows only by the memory the smaller weight shards free.
    for model in [&tp4, &tp8] {
        assert_eq!(model.memory().kv_bytes_per_token_per_gpu, 61.0 * 576.0 * 2.0);
        let tokens = model.memory().kv_free_bytes / model.memory().kv_bytes_per_token_per_gpu;
        assert_eq!(model.kv_capacity_tokens(), tokens as u64);
    }
    // DP attention: the same bytes per token, but each of the 8 GPUs holds only its own sequences.
    let per_gpu = dp8.memory().kv_free_bytes / dp8.memory().kv_bytes_per_token_per_gpu;
    assert_eq!(dp8.kv_capacity_tokens(), (8.0 * per_gpu) as u64);
    assert!(dp8.kv_capacity_tokens() > 4 * tp8.kv_capacity_tokens());
}

/// With one expert per GPU and data-parallel attention, every routed token but those for the
/// GPU's own expert crosses the fabric: the all-to-all volume is `T/tp · k · h · 2 · (E−1)/E`.
#[test]
fn ep_with_one_expert_per_gpu_is_the_all_to_all_bound_case() {
    let model = catalog::model("mixtral-8x7b").unwrap().spec();
    let gpu = catalog::gpu("h100-sxm").unwrap();
    let ep8 = StepModel::new(&model, gpu, ReplicaConfig { ep: 8, dp_attention: true, ..config(8) }).unwrap();
    let tokens = 4096.0;
    let by_hand = 10e-6 + tokens / 8.0 * 2.0 * 4096.0 * 2.0 * (7.0 / 8.0) / (450e9 * 0.77);
    // Every expert is touched by 4,096 tokens; each GPU reads exactly one expert's weights.
    let experts = ep8.experts.as_ref().unwrap();
    assert!((ep8.all_to_all_seconds(experts, tokens) - by_hand).abs() < 1e-12);
    assert_eq!(experts.shard_params, model.expert_params() as f64);
    // The all-to-all, not the expert GEMM, dominates the communication; and it is the whole of it
    // for the MoE layers (Mixtral has no dense layers).
    let communication = ep8.communication_seconds(tokens);
    assert!((communication - 32.0 * 2.0 * by_hand).abs() < 1e-9, "{communication}");
}

#[test]
fn pipeline_micro_batches_fill_the_stages_and_one_sequence_leaves_a_bubble() {
    let pp1 = build("llama-3.1-70b", "h100-sxm", ReplicaConfig { pp: 1, ..config(4) }).unwrap();
    let pp2 = build("llama-3.1-70b", "h100-sxm", ReplicaConfig { pp: 2, ..config(4) }).unwrap();
    // Two long prefills: each stage computes one micro-batch at a time, so the step (one pass of
    // one micro-batch) takes about half as long.
    let chunks = [PrefillChunk { new_tokens: 4096, cached_tokens: 0 }; 2];
    let shape = BatchShape { num_decode: 0, decode_context_tokens: 0, prefills: &chunks };
    let ratio = pp2.step_time(&shape).as_millis_f64() / pp1.step_time(&shape).as_millis_f64();
    assert!((0.45..0.6).contains(&ratio), "{ratio}");
    // One sequence cannot be split: the second stage waits (the bubble).
    let (one_pp1, one_pp2) = (prefill(&pp1, 4096), prefill(&pp2, 4096));
    assert!(one_pp2 > one_pp1 * 0.95, "{one_pp1} {one_pp2}");
    // Hops cross nodes only where a stage boundary is a node boundary.
    assert_eq!(ReplicaConfig { pp: 4, tp: 4, ..config(4) }.cross_node_hops(), 1);
    assert_eq!(ReplicaConfig { pp: 2, tp: 8, ..config(8) }.cross_node_hops(), 1);
    assert_eq!(ReplicaConfig { pp: 2, tp: 2, ..config(2) }.cross_node_hops(), 0);
}

#[test]
fn gpt_oss_decode_reads_only_its_full_layers_per_context_token() {
    // The MXFP4 checkpoint runs weight-only on Hopper: 4-bit storage, BF16 compute.
    let model = build("gpt-oss-120b", "h100-sxm", ReplicaConfig { weights: Dtype::Int4, ..config(1) }).unwrap();
    // 18 full layers × 2 × 8 × 64 × 2 B = 36 KiB per token, at 0.88 × 3.35 TB/s.
    let by_hand = 36.0 * 1024.0 / (0.88 * 3.35e12);
    assert!((model.seconds_per_context_token(1) - by_hand).abs() < 1e-15);
    assert!(model.memory().window_bytes > 0.0);
}

#[test]
fn async_scheduling_hides_the_cpu_behind_the_gpu() {
    let sync = step_model("llama-3.1-8b", "h100-sxm", 1).unwrap();
    let overlapped = build("llama-3.1-8b", "h100-sxm", ReplicaConfig { async_scheduling: true, ..config(1) }).unwrap();
    let shape = BatchShape { num_decode: 8, decode_context_tokens: 8_000, prefills: &[] };
    let (gpu, cpu) = (sync.gpu_seconds(&shape), sync.cpu_seconds(&shape));
    assert!((sync.step_time(&shape).as_secs_f64() - (gpu + cpu)).abs() < 1e-9);
    assert!((overlapped.step_time(&shape).as_secs_f64() - gpu.max(cpu)).abs() < 1e-9);
    assert_eq!(overlapped.decode_cost(8).duration(8_000), overlapped.step_time(&shape));
}

#[test]
fn calibration_factors_scale_their_terms() {
    let base = step_model("llama-3.1-8b", "h100-sxm", 1).unwrap();
    let slow_memory = build(
        "llama-3.1-8b",
        "h100-sxm",
        ReplicaConfig { factors: Factors { memory: 0.5, ..Factors::default() }, ..config(1) },
    )
    .unwrap();
    // A one-token decode is weight-streaming bound: halving bandwidth efficiency doubles it.
    let shape = BatchShape { num_decode: 1, decode_context_tokens: 0, prefills: &[] };
    let overheads = base.cpu_seconds(&shape) + 32.0 * (8.0 * KERNEL_LATENCY + 14e-6);
    let streaming = base.step_time(&shape).as_secs_f64() - overheads;
    assert!((slow_memory.step_time(&shape).as_secs_f64() - overheads - 2.0 * streaming).abs() < 1e-8);
}

/// A conservation law: over the replica's GPUs, one pass of T tokens computes each token
/// through every matrix it uses once — `2·T·(L·attention + dense layers·MLP + MoE layers·(k
/// experts + shared))` FLOPs — whatever the TP, EP and data-parallel attention.
#[test]
fn the_gpus_together_compute_each_token_through_its_matrices_once() {
    let mut checked = 0;
    for id in ["deepseek-v3", "mixtral-8x7b", "llama-3.1-70b"] {
        let model = catalog::model(id).unwrap().spec();
        let routed = model.moe.as_ref().map_or(0, |moe| moe.experts_per_token) * model.expert_params();
        let per_token = model.layers * model.attention_matrix_params()
            + model.dense_layers() * model.dense_mlp_params()
            + model.moe_layers() * (routed + model.shared_expert_params());
        let tokens = 4096.0;
        let expected = 2.0 * tokens * per_token as f64;
        for (tp, ep, dp_attention) in
            [(1, 1, false), (2, 1, false), (8, 1, false), (8, 8, false), (8, 8, true), (8, 2, true)]
        {
            let ep = if model.moe.is_some() { ep } else { 1 };
            let config = ReplicaConfig { tp, ep, dp_attention, weights: Dtype::Fp8, ..config(tp) };
            let gpu = catalog::gpu("b300").unwrap();
            let Ok(step) = StepModel::new(&model, gpu, config) else { continue };
            let total = step.linear(tokens).flops * f64::from(tp);
            assert!(
                (total / expected - 1.0).abs() < 1e-9,
                "{id} tp {tp} ep {ep} dp {dp_attention}: {total} vs {expected}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 12, "{checked}");
}
