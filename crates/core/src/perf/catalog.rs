//! The preset catalog: the models and GPUs a scenario may name, one table each.
//!
//! A model preset is one row holding its stable id, the name the UI shows and its Hugging Face
//! `config.json` (compiled in from `crates/core/models/`). A GPU preset is one [`GpuSpec`] row.
//! Scenarios, share links, the UI's lists and the validation messages all read these tables.

use super::{GpuSpec, ModelSpec};

/// A model preset: id, display name and architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelPreset {
    /// The id scenarios use, e.g. `"llama-3.1-8b"`.
    pub id: &'static str,
    /// The name the UI shows, e.g. `"Llama 3.1 8B"`.
    pub name: &'static str,
    /// The model's Hugging Face `config.json`.
    pub config_json: &'static str,
}

impl ModelPreset {
    /// The architecture read from the preset's `config.json`.
    ///
    /// # Panics
    ///
    /// Panics if a bundled config does not parse (a test checks every preset).
    pub fn spec(&self) -> ModelSpec {
        ModelSpec::from_hf_config(self.config_json).expect("bundled configs parse")
    }
}

/// The model presets.
pub const MODELS: &[ModelPreset] = &[
    ModelPreset {
        id: "llama-3.1-8b",
        name: "Llama 3.1 8B",
        config_json: include_str!("../../models/llama-3.1-8b.config.json"),
    },
    ModelPreset {
        id: "llama-3.1-70b",
        name: "Llama 3.1 70B",
        config_json: include_str!("../../models/llama-3.1-70b.config.json"),
    },
    ModelPreset {
        id: "llama-3.1-405b",
        name: "Llama 3.1 405B",
        config_json: include_str!("../../models/llama-3.1-405b.config.json"),
    },
    ModelPreset { id: "qwen3-32b", name: "Qwen3 32B", config_json: include_str!("../../models/qwen3-32b.config.json") },
];

/// The GPU presets: one row per GPU, datasheet peaks, the memory the device reports and the
/// measured efficiency factors (sources in `docs/model.md` §GPUs).
pub const GPUS: &[GpuSpec] = &[
    GpuSpec {
        id: "a100-80gb",
        name: "NVIDIA A100 80GB",
        bf16_flops: 312e12,
        fp8_flops: None,
        memory_mib: 81920,
        hbm_bandwidth: 2.039e12,
        nvlink_bandwidth: 300e9,
        gemm_bf16_efficiency: &[(128.0, 0.51), (256.0, 0.70), (512.0, 0.80), (1024.0, 0.83), (2048.0, 0.84)],
        gemm_fp8_efficiency: None,
        hbm_efficiency_bf16: 0.72,
        hbm_efficiency_fp8: 0.72,
        allreduce_latency: 21e-6,
    },
    GpuSpec {
        id: "h100-sxm",
        name: "NVIDIA H100 SXM",
        bf16_flops: 989e12,
        fp8_flops: Some(1979e12),
        memory_mib: 81559,
        hbm_bandwidth: 3.35e12,
        nvlink_bandwidth: 450e9,
        gemm_bf16_efficiency: &[
            (128.0, 0.35),
            (256.0, 0.65),
            (512.0, 0.82),
            (1024.0, 0.83),
            (2048.0, 0.83),
            (4096.0, 0.80),
            (8192.0, 0.78),
        ],
        gemm_fp8_efficiency: Some(0.58),
        hbm_efficiency_bf16: 0.82,
        hbm_efficiency_fp8: 0.61,
        allreduce_latency: 4e-6,
    },
    GpuSpec {
        id: "h200",
        name: "NVIDIA H200",
        bf16_flops: 989e12,
        fp8_flops: Some(1979e12),
        memory_mib: 143771,
        hbm_bandwidth: 4.8e12,
        nvlink_bandwidth: 450e9,
        gemm_bf16_efficiency: &[
            (128.0, 0.47),
            (256.0, 0.68),
            (512.0, 0.75),
            (1024.0, 0.77),
            (2048.0, 0.78),
            (4096.0, 0.79),
        ],
        gemm_fp8_efficiency: Some(0.63),
        hbm_efficiency_bf16: 0.77,
        hbm_efficiency_fp8: 0.54,
        allreduce_latency: 4e-6,
    },
    GpuSpec {
        id: "b200",
        name: "NVIDIA B200",
        bf16_flops: 2250e12,
        fp8_flops: Some(4500e12),
        memory_mib: 183359,
        hbm_bandwidth: 8e12,
        nvlink_bandwidth: 900e9,
        gemm_bf16_efficiency: &[
            (128.0, 0.30),
            (256.0, 0.48),
            (512.0, 0.60),
            (1024.0, 0.64),
            (2048.0, 0.67),
            (4096.0, 0.65),
            (8192.0, 0.67),
        ],
        gemm_fp8_efficiency: Some(0.52),
        hbm_efficiency_bf16: 0.68,
        hbm_efficiency_fp8: 0.40,
        allreduce_latency: 5.5e-6,
    },
];

/// The model preset `id`, if any.
pub fn model(id: &str) -> Option<&'static ModelPreset> {
    MODELS.iter().find(|preset| preset.id == id)
}

/// The GPU preset `id`, if any.
pub fn gpu(id: &str) -> Option<&'static GpuSpec> {
    GPUS.iter().find(|gpu| gpu.id == id)
}

/// The model preset ids, comma-separated, for error messages.
pub fn model_ids() -> String {
    MODELS.iter().map(|preset| preset.id).collect::<Vec<_>>().join(", ")
}

/// The GPU preset ids, comma-separated, for error messages.
pub fn gpu_ids() -> String {
    GPUS.iter().map(|gpu| gpu.id).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_config_parses_and_ids_are_unique() {
        for preset in MODELS {
            assert!(preset.spec().layers > 0, "{}", preset.id);
        }
        let mut ids: Vec<&str> = MODELS.iter().map(|p| p.id).chain(GPUS.iter().map(|g| g.id)).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), MODELS.len() + GPUS.len());
    }

    #[test]
    fn usable_memory_is_what_nvidia_smi_reports() {
        // An H100 SXM 80 GB lists 81,559 MiB: 85.52 GB, not the marketing 80 GB.
        assert_eq!(gpu("h100-sxm").unwrap().memory_bytes(), 85_520_809_984.0);
        assert_eq!(gpu("a100-80gb").unwrap().memory_bytes(), 85_899_345_920.0);
    }
}
