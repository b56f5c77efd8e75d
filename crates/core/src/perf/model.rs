//! Model architectures, read from Hugging Face `config.json` files.

use serde::Deserialize;

use super::Dtype;

/// A dense decoder-only transformer with grouped-query attention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    /// Hidden size.
    pub hidden: u64,
    /// Decoder layers.
    pub layers: u64,
    /// Query heads.
    pub q_heads: u64,
    /// Key/value heads (GQA groups).
    pub kv_heads: u64,
    /// Dimension of one head.
    pub head_dim: u64,
    /// MLP intermediate size (gate, up and down projections).
    pub intermediate: u64,
    /// Vocabulary size.
    pub vocab: u64,
    /// Whether the LM head shares the input embedding's weights.
    pub tied_embeddings: bool,
    /// Whether Q, K and V projections carry biases (Qwen2).
    pub qkv_bias: bool,
    /// Whether Q and K are RMS-normalised per head (Qwen3).
    pub qk_norm: bool,
    /// The longest context the model accepts (`max_position_embeddings`), tokens.
    pub max_context: u64,
}

/// The `config.json` fields servesim reads; others are ignored.
#[derive(Deserialize)]
struct HfConfig {
    model_type: String,
    hidden_size: u64,
    num_hidden_layers: u64,
    num_attention_heads: u64,
    num_key_value_heads: Option<u64>,
    head_dim: Option<u64>,
    intermediate_size: u64,
    vocab_size: u64,
    #[serde(default)]
    tie_word_embeddings: bool,
    max_position_embeddings: u64,
    num_local_experts: Option<u64>,
    num_experts: Option<u64>,
    kv_lora_rank: Option<u64>,
}

impl ModelSpec {
    /// Reads a dense GQA model from a Hugging Face `config.json`.
    ///
    /// # Errors
    ///
    /// Returns a message when the JSON lacks a required field, or describes an architecture
    /// this version does not model (mixture-of-experts, multi-head latent attention).
    ///
    /// # Example
    ///
    /// ```
    /// use servesim_core::perf::ModelSpec;
    ///
    /// let json = r#"{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
    ///   "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
    ///   "vocab_size": 128256, "max_position_embeddings": 131072}"#;
    /// let model = ModelSpec::from_hf_config(json).unwrap();
    /// assert_eq!(model.num_params(), 8_030_261_248);
    /// assert_eq!(model.kv_bytes_per_token(servesim_core::perf::Dtype::Bf16), 131_072);
    /// ```
    pub fn from_hf_config(json: &str) -> Result<ModelSpec, String> {
        let config: HfConfig = serde_json::from_str(json).map_err(|e| format!("config.json: {e}"))?;
        if config.num_local_experts.or(config.num_experts).is_some() {
            return Err("mixture-of-experts models are not modelled yet".to_owned());
        }
        if config.kv_lora_rank.is_some() {
            return Err("multi-head latent attention (MLA) is not modelled yet".to_owned());
        }
        if config.num_attention_heads == 0
            || !config.hidden_size.is_multiple_of(config.num_attention_heads) && config.head_dim.is_none()
        {
            return Err("config.json: num_attention_heads must divide hidden_size when head_dim is absent".to_owned());
        }
        Ok(ModelSpec {
            hidden: config.hidden_size,
            layers: config.num_hidden_layers,
            q_heads: config.num_attention_heads,
            kv_heads: config.num_key_value_heads.unwrap_or(config.num_attention_heads),
            head_dim: config.head_dim.unwrap_or(config.hidden_size / config.num_attention_heads),
            intermediate: config.intermediate_size,
            vocab: config.vocab_size,
            tied_embeddings: config.tie_word_embeddings,
            qkv_bias: config.model_type == "qwen2",
            qk_norm: config.model_type == "qwen3",
            max_context: config.max_position_embeddings,
        })
    }

    /// Matrix parameters of one decoder layer (Q, K, V, O and the gated MLP), which every token
    /// multiplies through.
    pub fn layer_matrix_params(&self) -> u64 {
        let q_dim = self.q_heads * self.head_dim;
        let kv_dim = self.kv_heads * self.head_dim;
        let attention = self.hidden * (q_dim + 2 * kv_dim) + q_dim * self.hidden;
        attention + 3 * self.hidden * self.intermediate
    }

    /// Matrix parameters of one layer held by each GPU of a `tp`-way tensor-parallel group:
    /// every matrix is split `tp` ways, except that K and V projections are replicated when `tp`
    /// exceeds the KV heads (each GPU keeps at least one KV head).
    pub fn layer_matrix_params_per_gpu(&self, tp: u64) -> f64 {
        let kv_projections = 2 * self.hidden * self.kv_heads * self.head_dim;
        let kv_heads_per_gpu = (self.kv_heads as f64 / tp as f64).max(1.0);
        (self.layer_matrix_params() - kv_projections) as f64 / tp as f64
            + 2.0 * (self.hidden * self.head_dim) as f64 * kv_heads_per_gpu
    }

    /// Vector parameters of one layer: norms and biases.
    fn layer_vector_params(&self) -> u64 {
        let norms = 2 * self.hidden + if self.qk_norm { 2 * self.head_dim } else { 0 };
        let biases = if self.qkv_bias { (self.q_heads + 2 * self.kv_heads) * self.head_dim } else { 0 };
        norms + biases
    }

    /// Parameters of the LM head (`vocab × hidden`), shared with the embedding when tied.
    pub fn lm_head_params(&self) -> u64 {
        self.vocab * self.hidden
    }

    /// All parameters: embedding, layers, final norm and (untied) LM head.
    pub fn num_params(&self) -> u64 {
        let embedding = self.vocab * self.hidden;
        let lm_head = if self.tied_embeddings { 0 } else { self.lm_head_params() };
        embedding + self.layers * (self.layer_matrix_params() + self.layer_vector_params()) + self.hidden + lm_head
    }

    /// Bytes of weights when the layers' matrices are stored in `dtype`; embeddings, the LM
    /// head, norms and biases stay BF16 (as vLLM's FP8 checkpoints keep them).
    pub fn weight_bytes(&self, dtype: Dtype) -> u64 {
        let matrices = self.layers * self.layer_matrix_params();
        matrices * dtype.bytes() + (self.num_params() - matrices) * Dtype::Bf16.bytes()
    }

    /// Bytes of weights on the most loaded GPU of a `tp × pp` replica: its stage's layers (the
    /// first stage takes the extra layer of an uneven split) plus the larger of the embedding
    /// and the LM head (the first and last stages hold one each; a single stage holds both).
    pub fn weight_bytes_per_gpu(&self, dtype: Dtype, tp: u64, pp: u64) -> f64 {
        let layers = self.layers.div_ceil(pp) as f64;
        let vectors = (self.layer_vector_params() * Dtype::Bf16.bytes()) as f64;
        let per_layer = self.layer_matrix_params_per_gpu(tp) * dtype.bytes() as f64 + vectors;
        let table = (self.vocab * self.hidden * Dtype::Bf16.bytes()) as f64 / tp as f64;
        let tables = if pp == 1 {
            if self.tied_embeddings {
                table
            } else {
                2.0 * table
            }
        } else {
            table
        };
        layers * per_layer + tables
    }

    /// KV-cache bytes per token over all layers: `2 · layers · kv_heads · head_dim · bytes`.
    pub fn kv_bytes_per_token(&self, dtype: Dtype) -> u64 {
        2 * self.layers * self.kv_heads * self.head_dim * dtype.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::catalog;

    fn preset(id: &str) -> ModelSpec {
        catalog::model(id).unwrap().spec()
    }

    #[test]
    fn parameter_counts_match_the_published_ones() {
        // perf-model-data.md §2.2; every figure also matches the models' published sizes.
        assert_eq!(preset("llama-3.1-8b").num_params(), 8_030_261_248);
        assert_eq!(preset("llama-3.1-70b").num_params(), 70_553_706_496);
        assert_eq!(preset("llama-3.1-405b").num_params(), 405_853_388_800);
        assert_eq!(preset("qwen3-32b").num_params(), 32_762_123_264);
    }

    #[test]
    fn qwen2_biases_are_counted() {
        // Qwen2.5-72B: the safetensors total is 72,706,203,648 (perf-model-data.md §2).
        let json = r#"{"model_type": "qwen2", "hidden_size": 8192, "num_hidden_layers": 80,
            "num_attention_heads": 64, "num_key_value_heads": 8, "intermediate_size": 29568,
            "vocab_size": 152064, "max_position_embeddings": 32768, "tie_word_embeddings": false}"#;
        assert_eq!(ModelSpec::from_hf_config(json).unwrap().num_params(), 72_706_203_648);
    }

    #[test]
    fn kv_bytes_per_token_match_the_reference() {
        let kib = |id: &str| preset(id).kv_bytes_per_token(Dtype::Bf16) / 1024;
        assert_eq!(
            (kib("llama-3.1-8b"), kib("llama-3.1-70b"), kib("llama-3.1-405b"), kib("qwen3-32b")),
            (128, 320, 504, 256)
        );
        assert_eq!(preset("llama-3.1-8b").kv_bytes_per_token(Dtype::Fp8), 65_536);
        assert_eq!(preset("qwen3-32b").head_dim, 128, "explicit head_dim wins over hidden/heads");
    }

    #[test]
    fn per_gpu_weights_split_with_tp_and_replicate_kv_beyond_the_kv_heads() {
        let model = preset("llama-3.1-8b");
        let whole = model.weight_bytes(Dtype::Bf16) as f64;
        assert!((model.weight_bytes_per_gpu(Dtype::Bf16, 1, 1) - whole).abs() < 1e4, "all but the final norm");
        // TP 8 = the KV heads: an eighth of the matrices; the norms (0.5 MB) are replicated.
        let eighth = model.weight_bytes_per_gpu(Dtype::Bf16, 8, 1) - whole / 8.0;
        assert!((0.0..1e6).contains(&eighth), "{eighth}");
        // TP 16 > 8 KV heads: K and V stay one head per GPU, more than a sixteenth.
        assert!(model.weight_bytes_per_gpu(Dtype::Bf16, 16, 1) > whole / 16.0 + 1e7);
        // PP 2: the busiest stage holds half the layers and one of embedding/LM head.
        let half = model.weight_bytes_per_gpu(Dtype::Bf16, 1, 2);
        assert!(half < whole / 2.0 + 1e3 && half > whole / 2.0 - 1e9, "{half}");
    }

    #[test]
    fn fp8_halves_only_the_layer_matrices() {
        let model = preset("llama-3.1-8b");
        let matrices = model.layers * model.layer_matrix_params();
        assert_eq!(model.weight_bytes(Dtype::Bf16) - model.weight_bytes(Dtype::Fp8), matrices);
    }

    #[test]
    fn moe_and_mla_configs_are_refused_with_a_reason() {
        let moe = r#"{"model_type": "mixtral", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
            "intermediate_size": 14336, "vocab_size": 32000, "max_position_embeddings": 32768, "num_local_experts": 8}"#;
        assert!(ModelSpec::from_hf_config(moe).unwrap_err().contains("mixture-of-experts"));
        assert!(ModelSpec::from_hf_config("{}").unwrap_err().starts_with("config.json: missing field"));
    }
}
