//! The preset catalog: which models and GPUs a scenario may name.
//!
//! Each preset has a stable id (used in scenarios and share links) and a display name (used by
//! the UI). The numbers behind each preset (parameters, layers, HBM, FLOP/s…) join this module
//! with the step-time model; every one of them will name its source in `docs/model.md`.

/// A catalog entry: a stable id and a human-readable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// The id scenarios use, e.g. `"llama-3.1-8b"`.
    pub id: &'static str,
    /// The name the UI shows, e.g. `"Llama 3.1 8B"`.
    pub name: &'static str,
}

/// Model presets (Hugging Face configs in `shared/fixtures/models/`).
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

/// Looks up a preset by id.
pub fn find(presets: &'static [Preset], id: &str) -> Option<&'static Preset> {
    presets.iter().find(|preset| preset.id == id)
}

/// The ids of `presets`, comma-separated, for error messages.
pub fn ids(presets: &[Preset]) -> String {
    presets.iter().map(|preset| preset.id).collect::<Vec<_>>().join(", ")
}
