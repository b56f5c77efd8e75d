//! Model architectures, read from Hugging Face `config.json` files.
//!
//! [`ModelSpec::from_hf_config`] reads dense and mixture-of-experts decoders with grouped-query
//! (GQA) or multi-head latent attention (MLA), sliding-window layer mixes, shared experts,
//! first-k dense layers, MTP layers, attention and expert biases, attention sinks, Q/K norms and
//! the checkpoint's own quantisation. Every count here (parameters, KV bytes) is derived from
//! the config alone; `docs/model.md` §Models gives the formulas and the published figures they
//! match.

use serde::Deserialize;
use serde_json::Value;

use super::Dtype;

/// How a layer's attention projects and caches keys and values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attention {
    /// Grouped-query attention (multi-head when `kv_heads == q_heads`): each token caches one
    /// key and one value vector of `head_dim` per KV head.
    Gqa {
        /// Query heads.
        q_heads: u64,
        /// Key/value heads (GQA groups).
        kv_heads: u64,
        /// Dimension of one head.
        head_dim: u64,
        /// Biases on the Q, K and V projections (Qwen2, gpt-oss).
        qkv_bias: bool,
        /// A bias on the output projection (gpt-oss).
        o_bias: bool,
        /// Q and K RMS-normalised per head (Qwen3).
        qk_norm: bool,
        /// One learned attention-sink logit per head (gpt-oss).
        sinks: bool,
    },
    /// Multi-head latent attention (DeepSeek-V2/V3/R1): each token caches one compressed latent
    /// of `kv_lora_rank` plus a shared rotary key of `qk_rope_head_dim`, whatever the heads.
    Mla {
        /// Query heads.
        q_heads: u64,
        /// Rank of the query down-projection; `None` projects queries directly.
        q_lora_rank: Option<u64>,
        /// Rank of the compressed KV latent (what the cache holds).
        kv_lora_rank: u64,
        /// Per-head query/key dimension without rotary embedding.
        qk_nope_head_dim: u64,
        /// Rotary query/key dimension (the rotary key is shared by all heads and cached).
        qk_rope_head_dim: u64,
        /// Per-head value dimension.
        v_head_dim: u64,
    },
}

/// The routed (and shared) experts of a mixture-of-experts layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moe {
    /// Routed experts per layer.
    pub experts: u64,
    /// Routed experts each token uses (top-k).
    pub experts_per_token: u64,
    /// Intermediate size of one routed expert's gated MLP.
    pub expert_intermediate: u64,
    /// Intermediate size of the always-on shared expert(s), summed; 0 when none.
    pub shared_intermediate: u64,
    /// Biases on each expert's projections (gpt-oss).
    pub expert_bias: bool,
    /// A per-expert bias in the router (gpt-oss's router bias, DeepSeek's score correction).
    pub router_bias: bool,
}

/// Sliding-window attention on some layers: their KV holds only the last `window` tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlidingWindow {
    /// Tokens each sliding layer attends to and keeps.
    pub window: u64,
    /// How many layers slide (the others attend to the full context).
    pub layers: u64,
}

/// A decoder-only transformer read from its `config.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    /// The config's `model_type`, e.g. `"llama"`, `"deepseek_v3"`.
    pub model_type: String,
    /// Hidden size.
    pub hidden: u64,
    /// Decoder layers of the main model (MTP layers excluded).
    pub layers: u64,
    /// Vocabulary size.
    pub vocab: u64,
    /// Whether the LM head shares the input embedding's weights.
    pub tied_embeddings: bool,
    /// The longest context the model accepts (`max_position_embeddings`), tokens.
    pub max_context: u64,
    /// The attention of every layer.
    pub attention: Attention,
    /// Layers with sliding-window attention, if any.
    pub sliding_window: Option<SlidingWindow>,
    /// Intermediate size of the dense layers' gated MLP (0 when every layer is MoE).
    pub dense_intermediate: u64,
    /// The experts, for a mixture-of-experts model.
    pub moe: Option<Moe>,
    /// Whether each layer's MLP is mixture-of-experts (the rest are dense), in layer order.
    pub layer_is_moe: Vec<bool>,
    /// Multi-token-prediction layers (`num_nextn_predict_layers`), loaded only to draft.
    pub mtp_layers: u64,
    /// The format of the checkpoint's matrices (`quantization_config`; BF16 when it states none).
    pub native_weights: Dtype,
    /// Whether a quantised checkpoint quantises attention too (gpt-oss keeps it BF16).
    pub quantized_attention: bool,
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
    intermediate_size: Option<u64>,
    vocab_size: u64,
    #[serde(default)]
    tie_word_embeddings: bool,
    max_position_embeddings: u64,
    #[serde(default)]
    attention_bias: bool,
    // Mixture of experts, under each family's names.
    num_local_experts: Option<u64>,
    num_experts: Option<u64>,
    n_routed_experts: Option<u64>,
    num_experts_per_tok: Option<u64>,
    experts_per_token: Option<u64>,
    moe_intermediate_size: Option<u64>,
    n_shared_experts: Option<u64>,
    shared_expert_intermediate_size: Option<u64>,
    first_k_dense_replace: Option<u64>,
    moe_layer_freq: Option<u64>,
    decoder_sparse_step: Option<u64>,
    #[serde(default)]
    mlp_only_layers: Vec<u64>,
    topk_method: Option<String>,
    // Multi-head latent attention.
    kv_lora_rank: Option<u64>,
    q_lora_rank: Option<u64>,
    qk_nope_head_dim: Option<u64>,
    qk_rope_head_dim: Option<u64>,
    v_head_dim: Option<u64>,
    // Sliding windows.
    sliding_window: Option<u64>,
    use_sliding_window: Option<bool>,
    max_window_layers: Option<u64>,
    layer_types: Option<Vec<String>>,
    #[serde(default)]
    num_nextn_predict_layers: u64,
    quantization_config: Option<Value>,
    compress_ratios: Option<Value>,
}

/// The largest dimension a config may state: far above any real model, small enough that no
/// count overflows `u64`.
const MAX_DIMENSION: u64 = 1 << 24;
/// The longest context a config may state, tokens.
const MAX_CONTEXT: u64 = 1 << 30;
/// The most parameters a config may describe (a thousand times today's largest models), so
/// that every count fits `u64`.
const MAX_PARAMS: f64 = 1e15;

impl ModelSpec {
    /// Reads a model from a Hugging Face `config.json`.
    ///
    /// # Errors
    ///
    /// Returns a message naming the field when the JSON lacks a required field, states an
    /// impossible value, or describes an architecture this version does not model
    /// (DeepSeek-V4's compressed attention). Callers prefix it with where the config came from
    /// (a file name, `model.config`).
    ///
    /// # Example
    ///
    /// ```
    /// use servesim_core::perf::{Dtype, ModelSpec};
    ///
    /// let json = r#"{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
    ///   "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
    ///   "vocab_size": 128256, "max_position_embeddings": 131072}"#;
    /// let model = ModelSpec::from_hf_config(json).unwrap();
    /// assert_eq!(model.num_params(), 8_030_261_248);
    /// assert_eq!(model.kv_bytes_per_token(Dtype::Bf16), 131_072);
    /// ```
    pub fn from_hf_config(json: &str) -> Result<ModelSpec, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        ModelSpec::from_hf_value(&value)
    }

    /// [`ModelSpec::from_hf_config`] for a config already parsed as JSON (a scenario's
    /// `model.config`).
    ///
    /// # Errors
    ///
    /// As [`ModelSpec::from_hf_config`].
    pub fn from_hf_value(value: &Value) -> Result<ModelSpec, String> {
        let config = HfConfig::deserialize(value).map_err(|e| e.to_string())?;
        if config.compress_ratios.is_some() || config.model_type == "deepseek_v4" {
            return Err("DeepSeek-V4's compressed attention (compress_ratios) is not modelled yet".into());
        }
        for (field, value) in [
            ("hidden_size", config.hidden_size),
            ("num_hidden_layers", config.num_hidden_layers),
            ("num_attention_heads", config.num_attention_heads),
            ("vocab_size", config.vocab_size),
            ("max_position_embeddings", config.max_position_embeddings),
        ] {
            let limit = if field == "max_position_embeddings" { MAX_CONTEXT } else { MAX_DIMENSION };
            if value == 0 || value > limit {
                return Err(format!("{field} must be from 1 to {limit}, got {value}"));
            }
        }
        let attention = read_attention(&config)?;
        let moe = read_moe(&config)?;
        let layer_is_moe =
            (0..config.num_hidden_layers).map(|layer| moe.is_some() && is_moe_layer(&config, layer)).collect();
        let dense_intermediate = config.intermediate_size.unwrap_or(0);
        let model = ModelSpec {
            model_type: config.model_type.clone(),
            hidden: config.hidden_size,
            layers: config.num_hidden_layers,
            vocab: config.vocab_size,
            tied_embeddings: config.tie_word_embeddings,
            max_context: config.max_position_embeddings,
            attention,
            sliding_window: read_sliding_window(&config)?,
            dense_intermediate,
            moe,
            layer_is_moe,
            mtp_layers: config.num_nextn_predict_layers.min(MAX_DIMENSION),
            native_weights: read_native_weights(config.quantization_config.as_ref()),
            quantized_attention: !config
                .quantization_config
                .as_ref()
                .and_then(|q| q.get("modules_to_not_convert"))
                .and_then(Value::as_array)
                .is_some_and(|modules| modules.iter().any(|m| m.as_str().is_some_and(|m| m.contains("self_attn")))),
        };
        if model.dense_layers() > 0 && dense_intermediate == 0 {
            return Err("intermediate_size is required for dense layers".into());
        }
        if dense_intermediate > MAX_DIMENSION {
            return Err(format!("intermediate_size must be at most {MAX_DIMENSION}"));
        }
        let estimate = model.estimated_params();
        if estimate > MAX_PARAMS {
            return Err(format!("describes {estimate:.2e} parameters, more than the {MAX_PARAMS:.0e} modelled"));
        }
        Ok(model)
    }

    /// The parameter count in floating point, with every layer counted as the larger of dense
    /// and MoE (an upper bound that cannot overflow, checked before any exact count).
    fn estimated_params(&self) -> f64 {
        let (h, layers) = (self.hidden as f64, self.layers as f64 + self.mtp_layers as f64);
        let attention = match self.attention {
            Attention::Gqa { q_heads, kv_heads, head_dim, .. } => {
                h * (2 * q_heads + 2 * kv_heads) as f64 * head_dim as f64
            }
            Attention::Mla { q_heads, q_lora_rank, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim } => {
                let rank = q_lora_rank.unwrap_or(h as u64) as f64;
                let heads = q_heads as f64;
                (h + heads * (qk_nope_head_dim + qk_rope_head_dim) as f64) * rank
                    + (h + heads * (qk_nope_head_dim + v_head_dim) as f64) * (kv_lora_rank + qk_rope_head_dim) as f64
                    + heads * v_head_dim as f64 * h
            }
        };
        let experts = self.moe.as_ref().map_or(0.0, |moe| {
            (moe.experts * moe.expert_intermediate + moe.shared_intermediate + moe.experts) as f64 * 3.0 * h
        });
        let mlp = (3.0 * h * self.dense_intermediate as f64).max(experts);
        layers * (attention + mlp) + 2.0 * (self.vocab as f64) * h
    }

    /// One decoder layer of this model's shape, as a speculative draft: an MTP layer
    /// (`mtp`: the checkpoint's own, an MoE layer when the model's last layer is) or a default
    /// EAGLE head (a dense layer). It shares the target's embeddings and LM head.
    pub fn draft_layer(&self, mtp: bool) -> ModelSpec {
        let is_moe = mtp && self.layer_is_moe.last().copied().unwrap_or(false);
        ModelSpec {
            layers: 1,
            layer_is_moe: vec![is_moe],
            moe: if is_moe { self.moe.clone() } else { None },
            mtp_layers: 0,
            sliding_window: None,
            ..self.clone()
        }
    }

    /// Layers whose MLP is mixture-of-experts.
    pub fn moe_layers(&self) -> u64 {
        self.layer_is_moe.iter().filter(|&&moe| moe).count() as u64
    }

    /// Layers with a dense MLP.
    pub fn dense_layers(&self) -> u64 {
        self.layers - self.moe_layers()
    }

    /// Query heads.
    pub fn q_heads(&self) -> u64 {
        match self.attention {
            Attention::Gqa { q_heads, .. } | Attention::Mla { q_heads, .. } => q_heads,
        }
    }

    /// Matrix parameters of one layer's attention (projections only).
    pub fn attention_matrix_params(&self) -> u64 {
        let h = self.hidden;
        match self.attention {
            Attention::Gqa { q_heads, kv_heads, head_dim, .. } => {
                let (q_dim, kv_dim) = (q_heads * head_dim, kv_heads * head_dim);
                h * (q_dim + 2 * kv_dim) + q_dim * h
            }
            Attention::Mla { q_heads, q_lora_rank, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim } => {
                let qk_head = qk_nope_head_dim + qk_rope_head_dim;
                let query = match q_lora_rank {
                    Some(rank) => h * rank + rank * q_heads * qk_head,
                    None => h * q_heads * qk_head,
                };
                let kv =
                    h * (kv_lora_rank + qk_rope_head_dim) + kv_lora_rank * q_heads * (qk_nope_head_dim + v_head_dim);
                query + kv + q_heads * v_head_dim * h
            }
        }
    }

    /// The K and V projection parameters of one GQA layer (what tensor parallelism replicates
    /// when it exceeds the KV heads); 0 for MLA.
    pub fn kv_projection_params(&self) -> u64 {
        match self.attention {
            Attention::Gqa { kv_heads, head_dim, .. } => 2 * self.hidden * kv_heads * head_dim,
            Attention::Mla { .. } => 0,
        }
    }

    /// Vector parameters of one layer: norms, biases, sinks.
    pub fn layer_vector_params(&self) -> u64 {
        let norms = 2 * self.hidden;
        norms
            + match self.attention {
                Attention::Gqa { q_heads, kv_heads, head_dim, qkv_bias, o_bias, qk_norm, sinks } => {
                    let qkv = if qkv_bias { (q_heads + 2 * kv_heads) * head_dim } else { 0 };
                    let o = if o_bias { self.hidden } else { 0 };
                    let norm = if qk_norm { 2 * head_dim } else { 0 };
                    qkv + o + norm + if sinks { q_heads } else { 0 }
                }
                Attention::Mla { q_lora_rank, kv_lora_rank, .. } => q_lora_rank.unwrap_or(0) + kv_lora_rank,
            }
    }

    /// Parameters of one dense layer's gated MLP (gate, up and down).
    pub fn dense_mlp_params(&self) -> u64 {
        3 * self.hidden * self.dense_intermediate
    }

    /// Parameters of one routed expert (gated MLP plus its biases); 0 for a dense model.
    pub fn expert_params(&self) -> u64 {
        self.moe.as_ref().map_or(0, |moe| {
            let biases = if moe.expert_bias { 2 * moe.expert_intermediate + self.hidden } else { 0 };
            3 * self.hidden * moe.expert_intermediate + biases
        })
    }

    /// Parameters of one MoE layer's shared expert(s); 0 when none.
    pub fn shared_expert_params(&self) -> u64 {
        self.moe.as_ref().map_or(0, |moe| 3 * self.hidden * moe.shared_intermediate)
    }

    /// Parameters of one MoE layer's router (kept BF16 and replicated).
    pub fn router_params(&self) -> u64 {
        self.moe.as_ref().map_or(0, |moe| moe.experts * self.hidden + if moe.router_bias { moe.experts } else { 0 })
    }

    /// Parameters of the LM head (`vocab × hidden`), shared with the embedding when tied.
    pub fn lm_head_params(&self) -> u64 {
        self.vocab * self.hidden
    }

    /// Embedding, untied LM head and final norm.
    fn table_params(&self) -> u64 {
        let lm_head = if self.tied_embeddings { 0 } else { self.lm_head_params() };
        self.vocab * self.hidden + lm_head + self.hidden
    }

    /// Parameters of one decoder layer with `experts` routed experts counted.
    fn layer_params(&self, is_moe: bool, experts: u64) -> u64 {
        let mlp = if is_moe {
            experts * self.expert_params() + self.shared_expert_params() + self.router_params()
        } else {
            self.dense_mlp_params()
        };
        self.attention_matrix_params() + self.layer_vector_params() + mlp
    }

    fn params_with_experts(&self, experts: u64) -> u64 {
        let layers: u64 = self.layer_is_moe.iter().map(|&is_moe| self.layer_params(is_moe, experts)).sum();
        self.table_params() + layers
    }

    /// All parameters of the main model: embedding, layers, final norm and (untied) LM head;
    /// MTP layers are left out ([`ModelSpec::mtp_params`]).
    pub fn num_params(&self) -> u64 {
        self.params_with_experts(self.moe.as_ref().map_or(0, |moe| moe.experts))
    }

    /// Parameters one token passes through: every parameter except the routed experts it does
    /// not use (the input embedding counted whole, as Mistral and DeepSeek count; OpenAI's
    /// gpt-oss figure leaves it out).
    pub fn active_params(&self) -> u64 {
        self.params_with_experts(self.moe.as_ref().map_or(0, |moe| moe.experts_per_token))
    }

    /// Parameters of the multi-token-prediction layers: each a full decoder layer (MoE when the
    /// model is) plus its two input norms, the `2h × h` projection joining them and its own
    /// final norm; the embedding and LM head are shared with the main model.
    pub fn mtp_params(&self) -> u64 {
        let experts = self.moe.as_ref().map_or(0, |moe| moe.experts);
        let layer = self.layer_params(self.moe.is_some(), experts);
        self.mtp_layers * (layer + 2 * self.hidden * self.hidden + 3 * self.hidden)
    }

    /// KV-cache elements one token adds to one full-attention layer.
    pub fn kv_elements_per_layer_token(&self) -> u64 {
        match self.attention {
            Attention::Gqa { kv_heads, head_dim, .. } => 2 * kv_heads * head_dim,
            Attention::Mla { kv_lora_rank, qk_rope_head_dim, .. } => kv_lora_rank + qk_rope_head_dim,
        }
    }

    /// Layers that attend to (and keep) the whole context.
    pub fn full_attention_layers(&self) -> u64 {
        self.layers - self.sliding_window.map_or(0, |window| window.layers)
    }

    /// KV-cache bytes each token adds over the full-attention layers: `2 · kv_heads · head_dim`
    /// elements per layer for GQA, `kv_lora_rank + qk_rope_head_dim` for MLA (the latent, not
    /// per-head K and V). Sliding layers add [`ModelSpec::kv_window_bytes_per_sequence`] instead.
    ///
    /// # Panics
    ///
    /// Panics if `kv` is a weight-only format (validation refuses those for the KV cache).
    pub fn kv_bytes_per_token(&self, kv: Dtype) -> u64 {
        self.full_attention_layers() * self.kv_elements_per_layer_token() * kv_bytes(kv)
    }

    /// KV-cache bytes the sliding-window layers hold for one sequence once it is longer than
    /// the window (a fixed amount, whatever its length).
    ///
    /// # Panics
    ///
    /// As [`ModelSpec::kv_bytes_per_token`].
    pub fn kv_window_bytes_per_sequence(&self, kv: Dtype) -> u64 {
        self.sliding_window
            .map_or(0, |sliding| sliding.layers * sliding.window * self.kv_elements_per_layer_token() * kv_bytes(kv))
    }
}

fn kv_bytes(kv: Dtype) -> u64 {
    kv.kv_bytes().expect("KV formats are bf16 or fp8 (validated)")
}

fn read_attention(config: &HfConfig) -> Result<Attention, String> {
    let q_heads = config.num_attention_heads;
    if let Some(kv_lora_rank) = config.kv_lora_rank {
        let need = |name: &str, value: Option<u64>| {
            value.filter(|&v| v > 0 && v <= MAX_DIMENSION).ok_or_else(|| format!("MLA needs {name}"))
        };
        return Ok(Attention::Mla {
            q_heads,
            q_lora_rank: config.q_lora_rank.filter(|&rank| rank > 0 && rank <= MAX_DIMENSION),
            kv_lora_rank: need("kv_lora_rank", Some(kv_lora_rank))?,
            qk_nope_head_dim: need("qk_nope_head_dim", config.qk_nope_head_dim)?,
            qk_rope_head_dim: need("qk_rope_head_dim", config.qk_rope_head_dim)?,
            v_head_dim: need("v_head_dim", config.v_head_dim)?,
        });
    }
    let head_dim = match config.head_dim {
        Some(dim) if dim > 0 && dim <= MAX_DIMENSION => dim,
        Some(dim) => return Err(format!("head_dim must be from 1 to {MAX_DIMENSION}, got {dim}")),
        None if config.hidden_size.is_multiple_of(q_heads) => config.hidden_size / q_heads,
        None => return Err("num_attention_heads must divide hidden_size when head_dim is absent".into()),
    };
    let kv_heads = config.num_key_value_heads.unwrap_or(q_heads);
    if kv_heads == 0 || !q_heads.is_multiple_of(kv_heads) {
        return Err(format!("num_key_value_heads must divide num_attention_heads ({q_heads}), got {kv_heads}"));
    }
    let gpt_oss = config.model_type == "gpt_oss";
    Ok(Attention::Gqa {
        q_heads,
        kv_heads,
        head_dim,
        qkv_bias: config.attention_bias || config.model_type == "qwen2" || config.model_type == "qwen2_moe",
        o_bias: config.attention_bias,
        qk_norm: config.model_type.starts_with("qwen3"),
        sinks: gpt_oss,
    })
}

fn read_moe(config: &HfConfig) -> Result<Option<Moe>, String> {
    let Some(experts) = config.n_routed_experts.or(config.num_local_experts).or(config.num_experts) else {
        return Ok(None);
    };
    let experts_per_token = config
        .num_experts_per_tok
        .or(config.experts_per_token)
        .ok_or("a mixture-of-experts config needs num_experts_per_tok")?;
    if experts == 0 || experts > MAX_DIMENSION || experts_per_token == 0 || experts_per_token > experts {
        return Err(format!("experts per token must be from 1 to the experts ({experts}), got {experts_per_token}"));
    }
    let expert_intermediate = config
        .moe_intermediate_size
        .or(config.intermediate_size)
        .filter(|&size| size > 0 && size <= MAX_DIMENSION)
        .ok_or("a mixture-of-experts config needs moe_intermediate_size")?;
    let shared_intermediate = match (config.shared_expert_intermediate_size, config.n_shared_experts) {
        (Some(size), _) => size,
        (None, Some(count)) => count.min(MAX_DIMENSION) * expert_intermediate,
        (None, None) => 0,
    };
    let gpt_oss = config.model_type == "gpt_oss";
    Ok(Some(Moe {
        experts,
        experts_per_token,
        expert_intermediate,
        shared_intermediate: shared_intermediate.min(MAX_DIMENSION),
        expert_bias: gpt_oss,
        router_bias: gpt_oss || config.topk_method.as_deref() == Some("noaux_tc"),
    }))
}

/// Whether layer `layer` (0-based) is MoE: DeepSeek's `first_k_dense_replace` and
/// `moe_layer_freq`, Qwen's `decoder_sparse_step` and `mlp_only_layers`.
fn is_moe_layer(config: &HfConfig, layer: u64) -> bool {
    let first_dense = config.first_k_dense_replace.unwrap_or(0);
    let every = config.moe_layer_freq.unwrap_or(1).max(1);
    let sparse_step = config.decoder_sparse_step.unwrap_or(1).max(1);
    layer >= first_dense
        && layer.is_multiple_of(every)
        && (layer + 1).is_multiple_of(sparse_step)
        && !config.mlp_only_layers.contains(&layer)
}

fn read_sliding_window(config: &HfConfig) -> Result<Option<SlidingWindow>, String> {
    let Some(window) = config.sliding_window.filter(|&window| window > 0) else {
        return Ok(None);
    };
    let layers = if let Some(types) = &config.layer_types {
        if types.len() as u64 != config.num_hidden_layers {
            return Err(format!("layer_types has {} entries for {} layers", types.len(), config.num_hidden_layers));
        }
        types.iter().filter(|kind| kind.as_str() == "sliding_attention").count() as u64
    } else {
        match config.use_sliding_window {
            // Qwen2/Qwen3: the window applies from layer `max_window_layers` on, when enabled.
            Some(true) => {
                config.num_hidden_layers - config.max_window_layers.unwrap_or(0).min(config.num_hidden_layers)
            }
            Some(false) => 0,
            // Mistral: every layer slides.
            None => config.num_hidden_layers,
        }
    };
    // A window no shorter than the context is full attention.
    Ok((layers > 0 && window < config.max_position_embeddings).then_some(SlidingWindow { window, layers }))
}

/// The checkpoint's weight format from `quantization_config`.
fn read_native_weights(quantization: Option<&Value>) -> Dtype {
    let Some(quantization) = quantization else { return Dtype::Bf16 };
    let field = |name: &str| quantization.get(name).and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
    let (method, algo) = (field("quant_method"), field("quant_algo"));
    let bits = quantization.get("bits").and_then(Value::as_u64);
    if method.contains("mxfp4") || algo.contains("fp4") {
        Dtype::Fp4
    } else if method == "fp8" || algo.contains("fp8") || method.contains("fbgemm_fp8") {
        Dtype::Fp8
    } else if matches!(method.as_str(), "awq" | "gptq" | "compressed-tensors") && bits == Some(4) {
        Dtype::Int4
    } else {
        Dtype::Bf16
    }
}

#[cfg(test)]
mod tests;
