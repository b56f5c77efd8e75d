//! The engine features against values found independently: speculative decoding's speed-up
//! from the expected acceptance length and the step costs, its loss under load, priority
//! scheduling with ageing, queue timeouts, and the engine presets' documented defaults.

use servesim_core::metrics::{Outcome, RejectReason};
use servesim_core::perf::{catalog, BatchShape, StepModel};
use servesim_core::scenario::{
    Deployment, EnginePreset, EngineSettings, GpuChoice, ModelChoice, PresetContext, ReplicaPool, Scenario, Scheduling,
    Speculative, SpeculativeMethod,
};
use servesim_core::sim::{RunResult, Simulation};
use servesim_core::time::SimTime;
use servesim_core::workload::{Trace, TraceFormat};

/// A trace of `(arrival s, prompt, output, class)` rows, classes named `names`.
fn trace(rows: &[(f64, u32, u32, u16)], names: &[&str]) -> Trace {
    Trace {
        arrived_at: rows.iter().map(|row| SimTime::from_secs_f64(row.0)).collect(),
        prompt_tokens: rows.iter().map(|row| row.1).collect(),
        output_tokens: rows.iter().map(|row| row.2).collect(),
        classes: if names.is_empty() { Vec::new() } else { rows.iter().map(|row| row.3).collect() },
        class_names: names.iter().map(|name| (*name).to_owned()).collect(),
        ..Trace::empty(TraceFormat::MooncakeJsonl)
    }
}

fn run(scenario: &Scenario, trace: Trace) -> RunResult {
    let mut simulation = Simulation::new(scenario, trace).unwrap();
    simulation.run();
    for engine in simulation.engines() {
        engine.check_invariants();
        assert_eq!(engine.kv_cache().num_used_blocks(), 0, "every block is returned");
    }
    simulation.results()
}

fn speculative(method: SpeculativeMethod, acceptance: &[f64]) -> Speculative {
    Speculative {
        method,
        num_draft_tokens: acceptance.len() as u32,
        acceptance: Some(acceptance.to_vec()),
        acceptance_lengths: None,
        draft: None,
    }
}

/// DeepSeek-V3 (one MTP layer) on 8 H200s, tensor parallel.
fn deepseek_on_h200() -> Scenario {
    Scenario {
        model: ModelChoice::preset("deepseek-v3"),
        hardware: servesim_core::scenario::Hardware { gpu: GpuChoice::from("h200"), gpus_per_node: 8 },
        deployment: Deployment::Aggregated(ReplicaPool { tp: 8, ..ReplicaPool::default() }),
        ..Scenario::default()
    }
}

#[test]
fn mtp_at_batch_one_cuts_tpot_by_the_expected_acceptance_length_minus_the_draft_cost() {
    let mut scenario = deepseek_on_h200();
    let alphas = [0.8, 0.6, 0.4];
    scenario.engine.speculative = Some(speculative(SpeculativeMethod::Mtp, &alphas));
    // By hand: E[accepted] = 0.8 + 0.8·0.6 + 0.8·0.6·0.4 = 1.472; a step emits 2.472 tokens.
    let expected_accepted = 0.8 + 0.8 * 0.6 + 0.8 * 0.6 * 0.4;
    let (prompt, output) = (1_000u32, 3_001u32);
    let result = run(&scenario, trace(&[(0.0, prompt, output, 0)], &[]));
    let summary = &result.report.summary;
    let achieved = &summary.speculative;
    assert!((achieved.expected_accepted_tokens - expected_accepted).abs() < 1e-12);
    // ~1,200 verifications: the draws' mean is within a few standard errors (σ ≈ 1.0 / √1200).
    assert!((achieved.mean_accepted_tokens - expected_accepted).abs() < 0.1, "{achieved:?}");

    // The step costs, at the middle context: without speculation one decode; with it the
    // verification of 4 tokens plus 3 passes of the one MTP layer.
    let middle_context = u64::from(prompt) + u64::from(output) / 2;
    let decode = |model: &StepModel| {
        model.step_time(&BatchShape { num_decode: 1, decode_context_tokens: middle_context, prefills: &[] })
    };
    let with_mtp = decode(&StepModel::from_scenario(&scenario).unwrap()).as_secs_f64();
    let mut plain = scenario.clone();
    plain.engine.speculative = None;
    let without = decode(&StepModel::from_scenario(&plain).unwrap()).as_secs_f64();
    // The draft cost: one MoE layer (of 61) and the LM head, three times, plus verifying 3 more
    // tokens: more than nothing, much less than a second full step.
    let overhead = with_mtp / without - 1.0;
    assert!((0.02..0.5).contains(&overhead), "MTP step costs {overhead:.3} more than a plain decode");

    let predicted_speedup = (1.0 + expected_accepted) * without / with_mtp;
    let speedup = achieved.tpot_speedup.expect("a baseline ran");
    assert!(
        (speedup / predicted_speedup - 1.0).abs() < 0.05,
        "speed-up {speedup:.3}, expected {predicted_speedup:.3} = 2.472 × {without:.6} / {with_mtp:.6}"
    );
    assert!(speedup > 1.5, "at batch 1, MTP pays: {speedup:.3}");
    assert_eq!(summary.requests.completed, 1);
}

#[test]
fn the_speculative_gain_shrinks_as_load_grows_and_turns_negative() {
    let mut scenario = Scenario::default(); // Llama-3.1-8B on one H100
                                            // A weak draft head: E[accepted] = 0.6 + 0.24 + 0.048 = 0.888 tokens per step.
    scenario.engine.speculative = Some(speculative(SpeculativeMethod::Eagle, &[0.6, 0.4, 0.2]));
    let mut speedups = Vec::new();
    for batch in [1u32, 8, 32, 128, 256] {
        let rows: Vec<(f64, u32, u32, u16)> = (0..batch).map(|_| (0.0, 200, 400, 0)).collect();
        let result = run(&scenario, trace(&rows, &[]));
        assert_eq!(result.report.summary.requests.completed, u64::from(batch));
        // The speed-up the stated acceptance implies: the draws' sampling noise taken out.
        let achieved = &result.report.summary.speculative;
        let noise = (1.0 + achieved.expected_accepted_tokens) / (1.0 + achieved.mean_accepted_tokens);
        speedups.push(achieved.tpot_speedup.unwrap() * noise);
    }
    for pair in speedups.windows(2) {
        assert!(pair[1] <= pair[0] * 1.01, "the gain shrinks with load: {speedups:?}");
    }
    assert!(speedups[0] > 1.3, "it pays at batch 1: {speedups:?}");
    assert!(*speedups.last().unwrap() < 1.0, "compute-bound verification costs more than it saves: {speedups:?}");
}

#[test]
fn ngram_drafts_cost_no_gpu_time_and_mtp_needs_mtp_layers() {
    let mut scenario = Scenario::default();
    scenario.engine.speculative = Some(speculative(SpeculativeMethod::Mtp, &[0.5]));
    let problems: Vec<String> = scenario.validate().unwrap_err().iter().map(ToString::to_string).collect();
    assert!(problems[0].starts_with("engine.speculative.method: \"mtp\" runs the checkpoint's own MTP layers"));

    // n-gram: the step verifies 2 tokens and runs no draft model, so at batch 1 (weight-bound)
    // it costs barely more than a plain decode.
    scenario.engine.speculative = Some(speculative(SpeculativeMethod::Ngram, &[0.5]));
    let shape = BatchShape { num_decode: 1, decode_context_tokens: 1_000, prefills: &[] };
    let ngram = StepModel::from_scenario(&scenario).unwrap().step_time(&shape).as_secs_f64();
    scenario.engine.speculative = Some(speculative(SpeculativeMethod::Eagle, &[0.5]));
    let eagle = StepModel::from_scenario(&scenario).unwrap().step_time(&shape).as_secs_f64();
    scenario.engine.speculative = None;
    let plain = StepModel::from_scenario(&scenario).unwrap().step_time(&shape).as_secs_f64();
    assert!(ngram >= plain && ngram < plain * 1.02, "{ngram} vs {plain}");
    assert!(eagle > ngram, "the EAGLE head costs GPU time");
}

#[test]
fn acceptance_lengths_and_per_position_acceptance_describe_the_same_draws() {
    let by_position = speculative(SpeculativeMethod::Eagle, &[0.8, 0.5]);
    // P(0) = 0.2, P(1) = 0.8 · 0.5 = 0.4, P(2) = 0.4.
    let distribution = by_position.accepted_distribution().unwrap();
    for (got, want) in distribution.iter().zip([0.2, 0.4, 0.4]) {
        assert!((got - want).abs() < 1e-12, "{distribution:?}");
    }
    let by_table = Speculative { acceptance: None, acceptance_lengths: Some(vec![0.2, 0.4, 0.4]), ..by_position };
    let mut scenario = Scenario::default();
    scenario.engine.speculative = Some(by_table.clone());
    let rows = [(0.0, 200, 300, 0)];
    let with_table = run(&scenario, trace(&rows, &[]));
    scenario.engine.speculative =
        Some(Speculative { acceptance: Some(vec![0.8, 0.5]), acceptance_lengths: None, ..by_table });
    let with_alphas = run(&scenario, trace(&rows, &[]));
    assert_eq!(with_table.report.digest, with_alphas.report.digest, "the same seeded draws");
    assert!((with_table.report.summary.speculative.expected_accepted_tokens - 1.2).abs() < 1e-12);
}

/// One replica that serves about 4 requests at a time, flooded by interactive requests every
/// 0.1 s for 60 s (far more than 4 sequences of 200 tokens at ~8 ms per step can serve, about
/// 2.5 requests/s), with one batch request arriving at 1.05 s, behind ten of them. Returns the
/// scenario, the trace and the batch request's row.
fn overloaded(ageing_s: f64) -> (Scenario, Trace, usize) {
    let mut scenario = Scenario::default();
    scenario.engine.max_num_seqs = 4;
    scenario.engine.scheduling = Scheduling::Priority;
    scenario.engine.class_priorities = [("interactive".to_owned(), 0), ("batch".to_owned(), 1)].into();
    scenario.engine.priority_ageing_s = ageing_s;
    let mut rows: Vec<(f64, u32, u32, u16)> = (1..=600).map(|i| (f64::from(i) * 0.1, 100, 200, 0)).collect();
    rows.insert(10, (1.05, 100, 200, 1));
    (scenario, trace(&rows, &["interactive", "batch"]), 10)
}

#[test]
fn priority_requests_overtake_under_overload_and_ageing_keeps_low_priority_from_starving() {
    let (scenario, trace, batch_row) = overloaded(5.0);
    let result = run(&scenario, trace.clone());
    let requests = &result.requests;
    assert!(requests.outcome.iter().all(|&outcome| outcome == Outcome::Completed), "every request finishes");
    let admitted = requests.first_scheduled_at[batch_row].as_secs_f64();
    let arrived = requests.arrived_at[batch_row].as_secs_f64();
    // Interactive requests that arrived after it were admitted before it (they overtake)…
    let overtaken_by = (batch_row + 1..requests.len())
        .filter(|&row| requests.first_scheduled_at[row].as_secs_f64() < admitted)
        .count();
    assert!(overtaken_by > 0, "newer interactive requests overtook the batch request");
    // …but once it has waited one ageing interval (5 s) more than a newcomer it ranks ahead of
    // it, so it is admitted long before the interactive backlog (which lasts past 60 s) drains.
    let last_admission =
        (0..requests.len()).map(|row| requests.first_scheduled_at[row].as_secs_f64()).fold(0.0, f64::max);
    assert!(last_admission > 60.0, "the replica is overloaded: {last_admission}");
    // By hand: its rank is its arrival plus one ageing interval, 1.05 + 5 = 6.05 s, so it is
    // admitted after every interactive request that arrived before 6.05 s and before every one
    // that arrived after.
    for row in (0..requests.len()).filter(|&row| row != batch_row) {
        let (arrival, admission) =
            (requests.arrived_at[row].as_secs_f64(), requests.first_scheduled_at[row].as_secs_f64());
        if arrival < arrived + 5.0 {
            assert!(admission <= admitted, "request {row} (arrived {arrival}) ranks ahead of the batch request");
        } else {
            assert!(admission >= admitted, "request {row} (arrived {arrival}) ranks behind the batch request");
        }
    }
    assert!(admitted < last_admission - 30.0, "it did not wait for the backlog: admitted at {admitted:.1} s");

    // Without ageing to speak of it waits for the whole backlog: starvation, for contrast.
    let (starving, _, _) = overloaded(1e6);
    let starved = run(&starving, trace);
    let waited = starved.requests.first_scheduled_at[batch_row].as_secs_f64() - arrived;
    assert!(waited > 50.0, "without ageing the batch request waits out the backlog: {waited:.1} s");
}

#[test]
fn requests_waiting_longer_than_max_queue_time_are_dropped_with_that_reason() {
    let (mut scenario, trace, _) = overloaded(5.0);
    scenario.engine.scheduling = Scheduling::Fcfs;
    scenario.engine.max_queue_time_s = Some(2.0);
    let result = run(&scenario, trace);
    let requests = &result.requests;
    let summary = &result.report.summary;
    let dropped = summary.requests.rejected_by_reason.get(&RejectReason::QueueTimeout).copied().unwrap_or(0);
    assert!(dropped > 100, "an overloaded replica drops many: {dropped}");
    assert_eq!(summary.requests.completed + dropped, summary.requests.total, "every request ends once");
    // An admitted request waited at most the limit plus the step in progress when it expired.
    let worst_wait = (0..requests.len())
        .filter(|&row| requests.outcome[row] == Outcome::Completed)
        .map(|row| requests.first_scheduled_at[row].as_secs_f64() - requests.arrived_at[row].as_secs_f64())
        .fold(0.0, f64::max);
    assert!(worst_wait <= 2.0 + 0.1, "admitted requests waited at most ~2 s: {worst_wait}");
}

fn preset_context(gpu: &str, gpus_per_replica: u32) -> PresetContext {
    PresetContext { gpu: catalog::gpu(gpu).cloned(), gpus_per_replica }
}

#[test]
fn each_preset_has_its_documented_defaults() {
    // vLLM V1 `EngineArgs._set_default_args`: 8192 tokens / 1024 sequences on ≥ 70 GiB GPUs
    // other than A100s, else 2048 / 256; block 16, chunked prefill and prefix caching on.
    let vllm = EngineSettings::for_preset(Some(EnginePreset::Vllm), &preset_context("h100-sxm", 1));
    assert_eq!((vllm.max_num_batched_tokens, vllm.max_num_seqs, vllm.block_size), (8192, 1024, 16));
    assert!(vllm.chunked_prefill && vllm.prefix_caching && !vllm.async_scheduling);
    assert_eq!(vllm.gpu_memory_utilization, 0.9);
    let on_a100 = EngineSettings::for_preset(Some(EnginePreset::Vllm), &preset_context("a100-80gb", 1));
    assert_eq!((on_a100.max_num_batched_tokens, on_a100.max_num_seqs), (2048, 256));
    // SGLang `ServerArgs`: page size 1, chunk 8192 on H100-class memory, overlap scheduling,
    // mem_fraction_static = (81559 − (512 + 8192·1.5 + 256·2 + 1/8·1024)) / 81559 = 0.835.
    let sglang = EngineSettings::for_preset(Some(EnginePreset::Sglang), &preset_context("h100-sxm", 1));
    assert_eq!((sglang.block_size, sglang.max_num_batched_tokens), (1, 8192));
    assert_eq!(sglang.gpu_memory_utilization, 0.835);
    assert!(sglang.async_scheduling && sglang.prefix_caching);
    // B200-class memory: 16384-token chunks.
    let on_b200 = EngineSettings::for_preset(Some(EnginePreset::Sglang), &preset_context("b200", 8));
    assert_eq!(on_b200.max_num_batched_tokens, 16384);
    // TensorRT-LLM `TorchLlmArgs` / `KvCacheConfig`: 2048 sequences, 8192 tokens, 32-token
    // blocks, block reuse on, chunked context off.
    let trtllm = EngineSettings::for_preset(Some(EnginePreset::Trtllm), &preset_context("h100-sxm", 1));
    assert_eq!((trtllm.max_num_seqs, trtllm.max_num_batched_tokens, trtllm.block_size), (2048, 8192, 32));
    assert!(!trtllm.chunked_prefill && trtllm.prefix_caching);
    assert!(trtllm.reserve_kv_for_output, "GUARANTEED_NO_EVICT");
    assert!(!vllm.reserve_kv_for_output && !sglang.reserve_kv_for_output);
}

#[test]
fn a_scenario_field_overrides_its_preset_and_derived_rules_follow_the_merge() {
    let scenario =
        Scenario::from_json(r#"{"version": 1, "engine": {"preset": "trtllm", "max_num_seqs": 64}}"#).unwrap();
    assert_eq!(scenario.engine.max_num_seqs, 64, "given fields win");
    assert_eq!(scenario.engine.block_size, 32, "the rest is the preset's");
    // TensorRT-LLM without chunked context takes prompts up to its token budget.
    assert_eq!(scenario.engine.max_model_len, Some(8192));
    let chunked =
        Scenario::from_json(r#"{"version": 1, "engine": {"preset": "trtllm", "chunked_prefill": true}}"#).unwrap();
    assert_eq!(chunked.engine.max_model_len, None, "with chunking, the model's context");
    // SGLang with speculative decoding: at most 48 running requests, no overlap scheduler.
    let spec = Scenario::from_json(
        r#"{"version": 1, "engine": {"preset": "sglang",
            "speculative": {"method": "eagle", "num_draft_tokens": 3, "acceptance": [0.8, 0.6, 0.4]}}}"#,
    )
    .unwrap();
    assert_eq!((spec.engine.max_num_seqs, spec.engine.async_scheduling), (48, false));
    // The canonical text reads back to the same scenario.
    assert_eq!(Scenario::from_json(&scenario.to_canonical_json()).unwrap(), scenario);
}

#[test]
fn every_preset_is_valid_on_its_own_for_every_catalog_model() {
    for model in catalog::MODELS {
        // The smallest deployment where the model's weights fit with servesim's defaults and
        // with each preset's memory settings (which GPU a model needs is not the preset's to
        // decide; its rules about lengths and chunking are).
        let deployment = [(1, "h100-sxm"), (2, "h100-sxm"), (4, "h100-sxm"), (8, "h100-sxm"), (8, "h200"), (8, "b200")]
            .into_iter()
            .map(|(tp, gpu)| Scenario {
                model: ModelChoice::preset(model.id),
                hardware: servesim_core::scenario::Hardware { gpu: GpuChoice::from(gpu), gpus_per_node: 8 },
                deployment: Deployment::Aggregated(ReplicaPool { tp, ..ReplicaPool::default() }),
                ..Scenario::default()
            })
            .find(|scenario| {
                scenario.validate().is_ok()
                    && EnginePreset::ALL.into_iter().all(|preset| {
                        let mut with_preset = scenario.clone();
                        with_preset.set_engine_preset(Some(preset));
                        StepModel::from_scenario(&with_preset).is_ok()
                    })
            });
        let base = deployment.unwrap_or_else(|| panic!("{} fits none of the deployments tried", model.id));
        for preset in EnginePreset::ALL {
            let scenario = &base;
            let text = serde_json::to_string(&serde_json::json!({
                "version": 1,
                "model": model.id,
                "hardware": serde_json::to_value(&scenario.hardware).unwrap(),
                "deployment": serde_json::to_value(&scenario.deployment).unwrap(),
                "engine": {"preset": preset.id()},
            }))
            .unwrap();
            let read = Scenario::from_json(&text).unwrap();
            assert_eq!(read.validate(), Ok(()), "{} with the {} preset", model.id, preset.id());
        }
    }
}

/// Llama-3.1-8B on one H100 with little memory for KV, and a host tier of `host_gb`.
fn small_gpu_cache(host_gb: f64) -> (Scenario, u64) {
    let mut scenario = Scenario::default();
    scenario.engine.gpu_memory_utilization = 0.3;
    scenario.engine.host_kv_cache_gb = host_gb;
    let capacity = StepModel::from_scenario(&scenario).unwrap().kv_capacity_tokens() / 16 * 16;
    scenario.engine.max_model_len = Some(capacity as u32);
    (scenario, capacity)
}

/// Mooncake rows: `(arrival s, prompt, output, hash ids)`.
fn hashed_trace(rows: &[(f64, u32, u32, &[u64])]) -> Trace {
    let mut block_starts = vec![0];
    let mut block_hashes = Vec::new();
    for row in rows {
        block_hashes.extend_from_slice(row.3);
        block_starts.push(block_hashes.len() as u32);
    }
    Trace {
        hash_block_tokens: 512,
        block_starts,
        block_hashes,
        ..trace(&rows.iter().map(|row| (row.0, row.1, row.2, 0)).collect::<Vec<_>>(), &[])
    }
}

#[test]
fn a_prefix_evicted_to_the_host_tier_is_loaded_back_at_the_host_links_speed() {
    let (scenario, capacity) = small_gpu_cache(10.0);
    // A computes a 1,024-token prompt (two spans of 512: 64 blocks); B's prompt takes every
    // block, evicting all of A's to the host; C repeats A's prompt.
    let rows: [(f64, u32, u32, &[u64]); 3] =
        [(0.0, 1_024, 1, &[1, 2]), (10.0, capacity as u32, 1, &[]), (200.0, 1_024, 1, &[1, 2])];
    let result = run(&scenario, hashed_trace(&rows));
    let requests = &result.requests;
    assert!(requests.outcome.iter().all(|&outcome| outcome == Outcome::Completed));
    // By hand: C may count at most 1,023 tokens as cached, 63 whole blocks = 1,008 tokens, all
    // from the host; it computes 16 tokens on top and first copies 1,008 tokens' KV (128 KiB per
    // token for Llama-3.1-8B in BF16) over PCIe Gen5 at 80 % of 64 GB/s.
    assert_eq!(requests.cached_tokens[2], 1_008);
    let model = StepModel::from_scenario(&scenario).unwrap();
    let copy_s = 1_008.0 * 131_072.0 / (64e9 * 0.8);
    assert!((model.host_copy_seconds(1_008) - copy_s).abs() < 1e-12);
    let prefill = model.step_time(&BatchShape {
        num_decode: 0,
        decode_context_tokens: 0,
        prefills: &[servesim_core::perf::PrefillChunk { new_tokens: 16, cached_tokens: 1_008 }],
    });
    let ttft = requests.first_token_at[2].as_secs_f64() - requests.arrived_at[2].as_secs_f64();
    assert!((ttft - (prefill.as_secs_f64() + copy_s)).abs() < 2e-9, "TTFT {ttft} = prefill + copy");
    let summary = &result.report.summary;
    let host = summary.host_kv.as_ref().expect("a host tier");
    assert_eq!(host.loaded_blocks, 63);
    assert!(host.loaded_blocks <= host.stored_blocks, "hits never exceed what was evicted");
    assert_eq!(summary.prefix_cache.host_cached_tokens, 1_008);

    // Without the host tier C recomputes everything.
    let (without, _) = small_gpu_cache(0.0);
    let recomputed = run(&without, hashed_trace(&rows));
    assert_eq!(recomputed.requests.cached_tokens[2], 0);
    assert!(recomputed.report.summary.host_kv.is_none());
}

#[test]
fn host_tier_hits_never_exceed_the_blocks_evicted_into_it() {
    // The bundled Mooncake conversation trace's first 1,500 requests on one small replica.
    let bytes =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/samples/mooncake-conversation.jsonl")).unwrap();
    let all = servesim_core::workload::import_bytes(&bytes, Default::default(), &mut |_| {}).unwrap().trace;
    // The first rows (the sample has no sessions, classes or chains).
    let n = 1_500;
    let full = Trace {
        arrived_at: all.arrived_at[..n].to_vec(),
        prompt_tokens: all.prompt_tokens[..n].to_vec(),
        output_tokens: all.output_tokens[..n].to_vec(),
        block_starts: all.block_starts[..=n].to_vec(),
        block_hashes: all.block_hashes[..all.block_starts[n] as usize].to_vec(),
        ..all.clone()
    };
    assert!(all.sessions.is_empty() && all.classes.is_empty() && all.follows.is_empty());
    for host_gb in [1.0, 8.0, 64.0] {
        let (mut scenario, _) = small_gpu_cache(host_gb);
        scenario.engine.gpu_memory_utilization = 0.4;
        scenario.engine.max_model_len = Some(65_536);
        let result = run(&scenario, full.clone());
        let summary = &result.report.summary;
        let host = summary.host_kv.clone().unwrap();
        assert!(host.loaded_blocks > 0, "the host tier serves hits at {host_gb} GB");
        assert!(host.loaded_blocks <= host.stored_blocks, "{host:?}");
        assert!(summary.prefix_cache.host_hit_rate <= summary.prefix_cache.hit_rate);
        assert_eq!(summary.requests.completed + summary.requests.rejected, summary.requests.total);
    }
}

#[test]
fn swap_and_recompute_preemption_both_finish_every_request_once_with_its_arrival_kept() {
    // Long outputs on a small KV cache: decodes outgrow it and preempt.
    let (mut scenario, _) = small_gpu_cache(20.0);
    scenario.engine.gpu_memory_utilization = 0.26; // about 13,700 tokens of KV
    scenario.engine.max_model_len = Some(8_192);
    // Each prompt has its own prefix hashes (four spans of 512), so preempted requests have
    // prefix runs as well as private blocks, and both can end up on the host.
    let hashes: Vec<Vec<u64>> = (0..60u64).map(|i| (0..4).map(|k| 100 * i + k).collect()).collect();
    let rows: Vec<(f64, u32, u32, &[u64])> =
        (0..60).map(|i| (i as f64 * 0.05, 2_000, 1_500, hashes[i].as_slice())).collect();
    let arrivals: Vec<SimTime> = rows.iter().map(|row| SimTime::from_secs_f64(row.0)).collect();
    let mut results = Vec::new();
    for preemption in [servesim_core::scenario::Preemption::Recompute, servesim_core::scenario::Preemption::Swap] {
        scenario.engine.preemption = preemption;
        let result = run(&scenario, hashed_trace(&rows));
        let requests = &result.requests;
        assert!(result.report.summary.preemptions > 0, "{preemption:?}: the cache is small enough to preempt");
        assert!(requests.outcome.iter().all(|&outcome| outcome == Outcome::Completed), "{preemption:?}");
        assert_eq!(requests.arrived_at, arrivals, "{preemption:?}: arrival times are kept");
        for i in 0..requests.len() {
            assert_eq!(requests.generated_tokens(i), 1_500, "{preemption:?}: every token once");
        }
        results.push(result);
    }
    let swap = results[1].report.summary.host_kv.clone().unwrap();
    assert!(swap.swapped_out_blocks > 0, "{swap:?}");
    // Swapped blocks come back: those the GPU evicted meanwhile are copied in from the host.
    assert!(swap.swapped_in_blocks > 0, "{swap:?}");
    assert!(swap.swapped_in_blocks <= swap.swapped_out_blocks);
    let recompute = results[0].report.summary.host_kv.clone().unwrap();
    assert_eq!(recompute.swapped_out_blocks, 0, "recompute never swaps");
}

#[test]
fn reserving_kv_for_the_whole_output_admits_fewer_and_never_preempts() {
    let (mut scenario, _) = small_gpu_cache(0.0);
    scenario.engine.gpu_memory_utilization = 0.26;
    scenario.engine.max_model_len = Some(8_192);
    let total_blocks = StepModel::from_scenario(&scenario).unwrap().kv_capacity_tokens() / 16;
    // Ten requests of 1,000 + 1,000 tokens at once: each reserves ⌈2,001 / 16⌉ = 126 blocks.
    let rows: Vec<(f64, u32, u32, u16)> = (0..10).map(|_| (0.0, 1_000, 1_000, 0)).collect();
    let fit = (total_blocks / 126) as usize;
    assert!((1..10).contains(&fit), "the cache holds {total_blocks} blocks");

    let on_demand = run(&scenario, trace(&rows, &[]));
    assert!(on_demand.report.summary.preemptions > 0, "taking blocks as needed overcommits and preempts");
    scenario.engine.reserve_kv_for_output = true;
    let reserved = run(&scenario, trace(&rows, &[]));
    let requests = &reserved.requests;
    assert_eq!(reserved.report.summary.preemptions, 0, "reservations never preempt");
    assert!(requests.outcome.iter().all(|&outcome| outcome == Outcome::Completed));
    // By hand: the first `fit` start at once; the next waits for one of them to finish.
    let first_finish = (0..fit).map(|i| requests.finished_at[i]).min().unwrap();
    assert!((0..fit).all(|i| requests.first_scheduled_at[i] == SimTime::ZERO));
    assert!(requests.first_scheduled_at[fit] >= first_finish);
}

#[test]
fn scenarios_with_presets_and_odd_values_are_read_without_panicking_and_refused_by_field() {
    for (text, path) in [
        (r#"{"version": 1, "engine": {"preset": "vllm", "block_size": 0}}"#, "engine.block_size"),
        (
            r#"{"version": 1, "engine": {"preset": "sglang"}, "deployment": {"aggregated": {"tp": 4294967295, "pp": 4294967295}}}"#,
            "deployment.aggregated.tp",
        ),
        (
            r#"{"version": 1, "engine": {"preset": "trtllm", "speculative": {"method": "eagle", "num_draft_tokens": 4294967295, "acceptance_lengths": [1]}}}"#,
            "engine.speculative.num_draft_tokens",
        ),
        (r#"{"version": 1, "engine": {"host_kv_cache_gb": 1e-12, "preemption": "swap"}}"#, "engine.host_kv_cache_gb"),
        (r#"{"version": 1, "engine": {"priority_ageing_s": 1e-12}}"#, "engine.priority_ageing_s"),
    ] {
        let scenario = Scenario::from_json(text).unwrap();
        let problems = scenario.validate().unwrap_err();
        assert!(problems.iter().any(|problem| problem.path == path), "{text}: {problems:?}");
    }
}
