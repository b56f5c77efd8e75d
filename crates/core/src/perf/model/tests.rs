use super::*;
use crate::perf::catalog;

fn preset(id: &str) -> ModelSpec {
    catalog::model(id).unwrap().spec()
}

/// Total and active parameters of every preset: `shared/reference/perf-model-data.md` §2.2,
/// computed there from the same configs with an independent script, and matching the published
/// sizes (Qwen2.5-72B's is the safetensors total, read in a public dump).
#[test]
fn parameter_counts_match_the_published_ones() {
    let expected: [(&str, u64, u64); 11] = [
        ("llama-3.1-8b", 8_030_261_248, 8_030_261_248),
        ("llama-3.1-70b", 70_553_706_496, 70_553_706_496),
        ("llama-3.1-405b", 405_853_388_800, 405_853_388_800),
        ("qwen2.5-72b", 72_706_203_648, 72_706_203_648),
        ("qwen3-32b", 32_762_123_264, 32_762_123_264),
        ("qwen3-235b-a22b", 235_093_634_560, 22_190_763_520),
        ("mixtral-8x7b", 46_702_792_704, 12_879_925_248),
        ("deepseek-v3", 671_026_419_200, 37_552_297_472),
        ("deepseek-r1", 671_026_419_200, 37_552_297_472),
        ("gpt-oss-120b", 116_829_156_672, 5_711_982_912),
        ("llama-3.1-8b", 8_030_261_248, 8_030_261_248),
    ];
    for (id, total, active) in expected {
        let model = preset(id);
        assert_eq!((model.num_params(), model.active_params()), (total, active), "{id}");
    }
    // OpenAI's 5.13 B leaves out the input embedding.
    let gpt_oss = preset("gpt-oss-120b");
    assert_eq!(gpt_oss.active_params() - gpt_oss.vocab * gpt_oss.hidden, 5_132_849_472);
    assert_eq!(catalog::MODELS.len(), 10, "every fixture but DeepSeek-V4 is a preset");
}

#[test]
fn deepseek_mtp_is_counted_apart_and_matches_the_685_b_checkpoint() {
    let model = preset("deepseek-v3");
    assert_eq!(model.mtp_layers, 1);
    // ref §2.2: "about 11.6 B on its own weights", and 671 B + MTP + its own embedding and head
    // copies (2 × 0.93 B) make the 685 B checkpoint.
    let mtp = model.mtp_params() as f64 / 1e9;
    assert!((11.5..11.7).contains(&mtp), "{mtp}");
    let checkpoint = (model.num_params() + model.mtp_params() + 2 * model.vocab * model.hidden) as f64 / 1e9;
    assert!((684.0..686.0).contains(&checkpoint), "{checkpoint}");
    assert_eq!(preset("llama-3.1-8b").mtp_params(), 0);
}

/// KV bytes per token, by hand from each config: `layers × 2 × kv_heads × head_dim × bytes` for
/// GQA, `layers × (kv_lora_rank + qk_rope_head_dim) × bytes` for MLA.
#[test]
fn kv_bytes_per_token_are_exact_for_each_format() {
    let cases: [(&str, u64); 10] = [
        ("llama-3.1-8b", 32 * 2 * 8 * 128),
        ("llama-3.1-70b", 80 * 2 * 8 * 128),
        ("llama-3.1-405b", 126 * 2 * 8 * 128),
        ("qwen2.5-72b", 80 * 2 * 8 * 128),
        ("qwen3-32b", 64 * 2 * 8 * 128),
        ("qwen3-235b-a22b", 94 * 2 * 4 * 128),
        ("mixtral-8x7b", 32 * 2 * 8 * 128),
        ("deepseek-v3", 61 * (512 + 64)),
        ("deepseek-r1", 61 * (512 + 64)),
        // gpt-oss: only the 18 full-attention layers grow with the context.
        ("gpt-oss-120b", 18 * 2 * 8 * 64),
    ];
    for (id, elements) in cases {
        let model = preset(id);
        assert_eq!(model.kv_bytes_per_token(Dtype::Bf16), 2 * elements, "{id} bf16");
        assert_eq!(model.kv_bytes_per_token(Dtype::Fp8), elements, "{id} fp8");
    }
    assert_eq!(preset("deepseek-v3").kv_bytes_per_token(Dtype::Bf16), 70_272, "68.6 KiB, ref §2.2");
    assert_eq!(preset("gpt-oss-120b").kv_bytes_per_token(Dtype::Bf16), 36 * 1024, "36 KiB, ref §2.2");
}

#[test]
fn gpt_oss_slides_half_its_layers_and_quantises_only_experts() {
    let model = preset("gpt-oss-120b");
    assert_eq!(model.sliding_window, Some(SlidingWindow { window: 128, layers: 18 }));
    // 18 sliding layers × 128 tokens × 2 × 8 × 64 elements × 2 bytes.
    assert_eq!(model.kv_window_bytes_per_sequence(Dtype::Bf16), 18 * 128 * 2 * 8 * 64 * 2);
    assert_eq!((model.native_weights, model.quantized_attention), (Dtype::Fp4, false));
    assert_eq!(model.moe_layers(), 36);
    // Qwen2.5 states a window but does not use it; Mixtral states none.
    assert_eq!(preset("qwen2.5-72b").sliding_window, None);
    assert_eq!(preset("mixtral-8x7b").sliding_window, None);
}

#[test]
fn deepseek_has_three_dense_layers_mla_and_fp8_weights() {
    let model = preset("deepseek-v3");
    assert_eq!((model.dense_layers(), model.moe_layers()), (3, 58));
    assert!(!model.layer_is_moe[2] && model.layer_is_moe[3]);
    assert!(matches!(model.attention, Attention::Mla { kv_lora_rank: 512, qk_rope_head_dim: 64, .. }));
    assert_eq!((model.native_weights, model.quantized_attention), (Dtype::Fp8, true));
    let moe = model.moe.unwrap();
    assert_eq!((moe.experts, moe.experts_per_token, moe.shared_intermediate), (256, 8, 2048));
    assert_eq!(preset("qwen3-235b-a22b").moe.unwrap().shared_intermediate, 0);
    assert_eq!(preset("llama-3.1-8b").native_weights, Dtype::Bf16);
}

#[test]
fn an_inline_config_with_a_window_on_every_layer_slides_all_of_them() {
    let mistral = r#"{"model_type": "mistral", "hidden_size": 4096, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
        "vocab_size": 32000, "max_position_embeddings": 32768, "sliding_window": 4096}"#;
    let model = ModelSpec::from_hf_config(mistral).unwrap();
    assert_eq!(model.sliding_window, Some(SlidingWindow { window: 4096, layers: 32 }));
    assert_eq!(model.kv_bytes_per_token(Dtype::Bf16), 0, "nothing grows past the window");
}

#[test]
fn bad_configs_are_refused_naming_the_field() {
    let error = |json: &str| ModelSpec::from_hf_config(json).unwrap_err();
    assert!(error("{}").starts_with("missing field `model_type`"), "{}", error("{}"));
    assert!(error("not json").contains("at line 1 column"), "{}", error("not json"));
    let base = r#""model_type": "llama", "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
        "max_position_embeddings": 64"#;
    assert!(error(&format!(r#"{{{base}, "hidden_size": 0, "intermediate_size": 8}}"#)).contains("hidden_size"));
    assert!(error(&format!(r#"{{{base}, "hidden_size": 10, "intermediate_size": 8}}"#)).contains("must divide"));
    assert!(error(&format!(r#"{{{base}, "hidden_size": 16}}"#)).contains("intermediate_size"));
    assert!(error(&format!(r#"{{{base}, "hidden_size": 16, "intermediate_size": 8, "num_key_value_heads": 3}}"#))
        .contains("num_key_value_heads"));
    let moe = format!(r#"{{{base}, "hidden_size": 16, "num_local_experts": 4, "num_experts_per_tok": 5}}"#);
    assert!(error(&moe).contains("experts per token"), "{}", error(&moe));
    let huge = format!(
        r#"{{{base}, "hidden_size": 16777216, "num_attention_heads": 16777216, "head_dim": 16777216,
        "intermediate_size": 8}}"#
    );
    assert!(error(&huge).contains("parameters"), "{}", error(&huge));
    let v4 = format!(r#"{{{base}, "hidden_size": 16, "compress_ratios": [4, 128]}}"#);
    assert!(error(&v4).contains("DeepSeek-V4"), "{}", error(&v4));
}
