//! The preset catalog: which models and GPUs a scenario may name.
//!
//! Each preset has a stable id (used in scenarios and share links) and a display name (used by
//! the UI). Model presets carry their Hugging Face `config.json` (compiled in from
//! `crates/core/models/`); GPU presets map to a [`GpuSpec`](super::GpuSpec).

use super::ModelSpec;

/// A catalog entry: a stable id and a human-readable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// The id scenarios use, e.g. `"llama-3.1-8b"`.
    pub id: &'static str,
    /// The name the UI shows, e.g. `"Llama 3.1 8B"`.
    pub name: &'static str,
}

/// Model presets (their Hugging Face configs are in `crates/core/models/`).
pub const MODELS: &[Preset] = &[
    Preset { id: "llama-3.1-8b", name: "Llama 3.1 8B" },
    Preset { id: "llama-3.1-70b", name: "Llama 3.1 70B" },
    Preset { id: "llama-3.1-405b", name: "Llama 3.1 405B" },
    Preset { id: "qwen3-32b", name: "Qwen3 32B" },
];

/// GPU presets.
pub const GPUS: &[Preset] = &[
    Preset { id: "a100-80gb", name: "NVIDIA A100 80GB" },
    Preset { id: "h100-sxm", name: "NVIDIA H100 SXM" },
    Preset { id: "h200", name: "NVIDIA H200" },
    Preset { id: "b200", name: "NVIDIA B200" },
];

/// The Hugging Face `config.json` of each model preset.
const MODEL_CONFIGS: [(&str, &str); 4] = [
    ("llama-3.1-8b", include_str!("../../models/llama-3.1-8b.config.json")),
    ("llama-3.1-70b", include_str!("../../models/llama-3.1-70b.config.json")),
    ("llama-3.1-405b", include_str!("../../models/llama-3.1-405b.config.json")),
    ("qwen3-32b", include_str!("../../models/qwen3-32b.config.json")),
];

/// The architecture of model preset `id`, or `None` if there is no such preset.
pub fn model_spec(id: &str) -> Option<ModelSpec> {
    let (_, json) = MODEL_CONFIGS.iter().find(|(config_id, _)| *config_id == id)?;
    Some(ModelSpec::from_hf_config(json).expect("bundled configs parse"))
}

/// Looks up a preset by id.
pub fn find(presets: &'static [Preset], id: &str) -> Option<&'static Preset> {
    presets.iter().find(|preset| preset.id == id)
}

/// The ids of `presets`, comma-separated, for error messages.
pub fn ids(presets: &[Preset]) -> String {
    presets.iter().map(|preset| preset.id).collect::<Vec<_>>().join(", ")
}
