//! The preset catalog: the models and GPUs a scenario may name, one table each.
//!
//! A model preset is one row holding its stable id, the name the UI shows and its Hugging Face
//! `config.json` (compiled in from `crates/core/models/`). A GPU preset is an id and a
//! [`GpuSpec`].
//! Scenarios, share links, the UI's lists and the validation messages all read these tables.

use std::sync::OnceLock;

use super::gpu::{AllReduceCurve, Efficiency};
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

/// The model presets: every fixture in `shared/fixtures/models/` except DeepSeek-V4, ids being
/// the file names without `.config.json` and the `-v0.1`/`-instruct` suffixes.
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
    ModelPreset {
        id: "qwen2.5-72b",
        name: "Qwen2.5 72B",
        config_json: include_str!("../../models/qwen2.5-72b-instruct.config.json"),
    },
    ModelPreset { id: "qwen3-32b", name: "Qwen3 32B", config_json: include_str!("../../models/qwen3-32b.config.json") },
    ModelPreset {
        id: "qwen3-235b-a22b",
        name: "Qwen3 235B-A22B (MoE)",
        config_json: include_str!("../../models/qwen3-235b-a22b.config.json"),
    },
    ModelPreset {
        id: "mixtral-8x7b",
        name: "Mixtral 8x7B (MoE)",
        config_json: include_str!("../../models/mixtral-8x7b-v0.1.config.json"),
    },
    ModelPreset {
        id: "deepseek-v3",
        name: "DeepSeek-V3 (MoE, MLA)",
        config_json: include_str!("../../models/deepseek-v3.config.json"),
    },
    ModelPreset {
        id: "deepseek-r1",
        name: "DeepSeek-R1 (MoE, MLA)",
        config_json: include_str!("../../models/deepseek-r1.config.json"),
    },
    ModelPreset {
        id: "gpt-oss-120b",
        name: "gpt-oss-120b (MoE, sliding window)",
        config_json: include_str!("../../models/gpt-oss-120b.config.json"),
    },
];

/// A GPU preset: the id scenarios use and its specification.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuPreset {
    /// The id scenarios use, e.g. `"h100-sxm"`.
    pub id: &'static str,
    /// Datasheet numbers and efficiencies.
    pub spec: GpuSpec,
}

/// The GPU presets, built once: datasheet peaks, the memory the device reports and the measured
/// efficiency curves of each family (sources in `docs/model.md` §GPUs).
pub fn gpus() -> &'static [GpuPreset] {
    static GPUS: OnceLock<Vec<GpuPreset>> = OnceLock::new();
    GPUS.get_or_init(gpu_table)
}

/// The host link per direction, GB/s: PCIe Gen4 x16 on A100 and L40S, NVLink-C2C (900 GB/s both
/// ways) to the Grace CPU on GB200/GB300, PCIe Gen5 x16 elsewhere.
fn host_link_gb_s(id: &str) -> f64 {
    match id {
        "a100-80gb" | "l40s" => 32.0,
        "gb200" | "gb300" => 450.0,
        _ => super::gpu::PCIE_GEN5_GB_S,
    }
}

/// `[x, y]` points from pairs.
fn curve(points: &[(f64, f64)]) -> Vec<[f64; 2]> {
    points.iter().map(|&(x, y)| [x, y]).collect()
}

/// One all-reduce curve measured at 1, 8, 32 and 128 MB.
fn allreduce(tp: u32, at_1_8_32_128_mb: [f64; 4]) -> AllReduceCurve {
    let sizes = [1e6, 8e6, 32e6, 128e6];
    AllReduceCurve { tp, efficiency: sizes.iter().zip(at_1_8_32_128_mb).map(|(&x, y)| [x, y]).collect() }
}

fn gpu_table() -> Vec<GpuPreset> {
    // ref §5.2: H100, vLLM 0.24 with FlashAttention-3.
    let h100_attention =
        curve(&[(512.0, 0.21), (1024.0, 0.33), (2048.0, 0.46), (4096.0, 0.54), (8192.0, 0.59), (16384.0, 0.61)]);
    // ref §5.3: H100 custom all-reduce (TRT-LLM) at TP 2, 4 and 8.
    let h100_allreduce = vec![
        allreduce(2, [0.38, 0.50, 0.52, 0.63]),
        allreduce(4, [0.27, 0.44, 0.64, 0.72]),
        allreduce(8, [0.16, 0.41, 0.66, 0.91]),
    ];
    // ref §5.3: B200 TP8 custom all-reduce; A100 TP8 NCCL.
    let b200_allreduce = vec![allreduce(8, [0.11, 0.29, 0.45, 0.66])];
    let a100_allreduce = vec![allreduce(8, [0.16, 0.38, 0.53, 0.67])];
    // DeepEP README (deepseek-ai/DeepEP): normal kernels reach 153 GB/s of an H800's ~200 GB/s
    // NVLink per direction, and 43–58 GB/s of a 50 GB/s CX7 NIC.
    let (a2a_scale_up, a2a_nic, a2a_latency) = (0.77, 0.86, 10.0);
    let blackwell = |gemm: &[(f64, f64)], gemm_fp8: f64, hbm_bf16: f64| Efficiency {
        gemm_bf16: curve(gemm),
        gemm_fp8,
        hbm_bf16,
        hbm_fp8: 0.40,
        prefill_attention: h100_attention.clone(),
        decode_attention_floor_us: 14.0,
        decode_attention_hbm: 0.88,
        allreduce_latency_us: 5.5,
        allreduce: b200_allreduce.clone(),
        all_to_all_scale_up: a2a_scale_up,
        all_to_all_nic: a2a_nic,
        all_to_all_latency_us: a2a_latency,
    };
    let b200_gemm =
        [(128.0, 0.30), (256.0, 0.48), (512.0, 0.60), (1024.0, 0.64), (2048.0, 0.67), (4096.0, 0.65), (8192.0, 0.67)];
    let b300_gemm =
        [(128.0, 0.29), (256.0, 0.49), (512.0, 0.63), (1024.0, 0.68), (2048.0, 0.69), (4096.0, 0.66), (8192.0, 0.66)];
    let h100 = Efficiency {
        gemm_bf16: curve(&[
            (128.0, 0.35),
            (256.0, 0.65),
            (512.0, 0.82),
            (1024.0, 0.83),
            (2048.0, 0.83),
            (4096.0, 0.80),
            (8192.0, 0.78),
        ]),
        gemm_fp8: 0.58,
        hbm_bf16: 0.82,
        hbm_fp8: 0.61,
        prefill_attention: h100_attention.clone(),
        decode_attention_floor_us: 14.0,
        decode_attention_hbm: 0.88,
        allreduce_latency_us: 4.0,
        allreduce: h100_allreduce.clone(),
        all_to_all_scale_up: a2a_scale_up,
        all_to_all_nic: a2a_nic,
        all_to_all_latency_us: a2a_latency,
    };
    let a100 = Efficiency {
        gemm_bf16: curve(&[
            (128.0, 0.51),
            (256.0, 0.70),
            (512.0, 0.80),
            (1024.0, 0.83),
            (2048.0, 0.84),
            (4096.0, 0.84),
            (8192.0, 0.84),
        ]),
        gemm_fp8: 0.58,
        hbm_bf16: 0.72,
        hbm_fp8: 0.72,
        allreduce_latency_us: 21.0,
        allreduce: a100_allreduce.clone(),
        ..h100.clone()
    };
    // MI300X: hipBLASLt reaches 44 % of the FP8 peak and 77 % of HBM (ref §5.1); FlashAttention-2
    // 328.6 TF at 8K tokens, 25 % of the BF16 peak, scales the H100 attention curve (0.59 at 8K).
    let mi300x = Efficiency {
        gemm_bf16: curve(&[
            (128.0, 0.19),
            (256.0, 0.34),
            (512.0, 0.43),
            (1024.0, 0.44),
            (2048.0, 0.44),
            (4096.0, 0.44),
            (8192.0, 0.44),
        ]),
        gemm_fp8: 0.44,
        hbm_bf16: 0.77,
        hbm_fp8: 0.77,
        prefill_attention: h100_attention.iter().map(|&[x, y]| [x, y * 0.2514 / 0.59]).collect(),
        decode_attention_hbm: 0.77,
        allreduce_latency_us: 21.0,
        allreduce: a100_allreduce.clone(),
        ..h100.clone()
    };
    let l40s = Efficiency {
        gemm_bf16: curve(&[
            (128.0, 0.22),
            (256.0, 0.40),
            (512.0, 0.53),
            (1024.0, 0.56),
            (2048.0, 0.58),
            (4096.0, 0.58),
            (8192.0, 0.58),
        ]),
        gemm_fp8: 0.49,
        hbm_bf16: 0.9,
        hbm_fp8: 0.9,
        allreduce_latency_us: 21.0,
        allreduce: a100_allreduce,
        ..h100.clone()
    };
    let h200 = Efficiency {
        gemm_bf16: curve(&[
            (128.0, 0.47),
            (256.0, 0.68),
            (512.0, 0.75),
            (1024.0, 0.77),
            (2048.0, 0.78),
            (4096.0, 0.79),
        ]),
        gemm_fp8: 0.63,
        hbm_bf16: 0.77,
        hbm_fp8: 0.54,
        // ref §5.2: H200 TRT-LLM context attention.
        prefill_attention: curve(&[
            (512.0, 0.17),
            (1024.0, 0.27),
            (2048.0, 0.37),
            (4096.0, 0.44),
            (8192.0, 0.50),
            (16384.0, 0.53),
        ]),
        ..h100.clone()
    };
    let b200 = blackwell(&b200_gemm, 0.52, 0.68);
    let b300 = blackwell(&b300_gemm, 0.54, 0.69);
    let gpu = |id,
               name: &str,
               peaks: (f64, Option<f64>, Option<f64>),
               memory_mib,
               hbm_tb_s,
               links: (f64, f64),
               power_w,
               efficiency: &Efficiency| {
        let (bf16_tflops, fp8_tflops, fp4_tflops) = peaks;
        let (scale_up_gb_s, nic_gb_s) = links;
        GpuPreset {
            id,
            spec: GpuSpec {
                name: name.to_owned(),
                bf16_tflops,
                fp8_tflops,
                fp4_tflops,
                memory_mib,
                hbm_tb_s,
                scale_up_gb_s,
                nic_gb_s,
                power_w,
                host_gb_s: host_link_gb_s(id),
                efficiency: efficiency.clone(),
            },
        }
    };
    vec![
        gpu("a100-80gb", "NVIDIA A100 80GB SXM", (312.0, None, None), 81_920, 2.039, (300.0, 25.0), 400.0, &a100),
        gpu("h100-sxm", "NVIDIA H100 SXM", (989.0, Some(1979.0), None), 81_559, 3.35, (450.0, 50.0), 700.0, &h100),
        gpu("h200", "NVIDIA H200", (989.0, Some(1979.0), None), 143_771, 4.8, (450.0, 50.0), 700.0, &h200),
        gpu("b200", "NVIDIA B200", (2250.0, Some(4500.0), Some(9000.0)), 183_359, 8.0, (900.0, 100.0), 1000.0, &b200),
        gpu("b300", "NVIDIA B300", (2250.0, Some(4500.0), Some(13125.0)), 275_040, 8.0, (900.0, 100.0), 1100.0, &b300),
        gpu(
            "gb200",
            "NVIDIA GB200",
            (2500.0, Some(5000.0), Some(10000.0)),
            189_471,
            8.0,
            (900.0, 100.0),
            1200.0,
            &b200,
        ),
        gpu(
            "gb300",
            "NVIDIA GB300",
            (2500.0, Some(5000.0), Some(15000.0)),
            284_208,
            8.0,
            (900.0, 100.0),
            1400.0,
            &b300,
        ),
        gpu("mi300x", "AMD Instinct MI300X", (1307.0, Some(2615.0), None), 196_608, 5.3, (448.0, 50.0), 750.0, &mi300x),
        gpu(
            "mi325x",
            "AMD Instinct MI325X",
            (1307.0, Some(2615.0), None),
            262_144,
            6.0,
            (448.0, 50.0),
            1000.0,
            &mi300x,
        ),
        gpu("l40s", "NVIDIA L40S", (362.0, Some(733.0), None), 46_068, 0.864, (32.0, 50.0), 350.0, &l40s),
    ]
}

/// The model preset `id`, if any.
pub fn model(id: &str) -> Option<&'static ModelPreset> {
    MODELS.iter().find(|preset| preset.id == id)
}

/// The GPU preset `id`, if any.
pub fn gpu(id: &str) -> Option<&'static GpuSpec> {
    gpus().iter().find(|gpu| gpu.id == id).map(|gpu| &gpu.spec)
}

/// The model preset ids, comma-separated, for error messages.
pub fn model_ids() -> String {
    MODELS.iter().map(|preset| preset.id).collect::<Vec<_>>().join(", ")
}

/// The GPU preset ids, comma-separated, for error messages.
pub fn gpu_ids() -> String {
    gpus().iter().map(|gpu| gpu.id).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_config_parses_and_ids_are_unique() {
        for preset in MODELS {
            assert!(preset.spec().layers > 0, "{}", preset.id);
        }
        let mut ids: Vec<&str> = MODELS.iter().map(|p| p.id).chain(gpus().iter().map(|g| g.id)).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), MODELS.len() + gpus().len());
        assert_eq!(gpu_ids(), "a100-80gb, h100-sxm, h200, b200, b300, gb200, gb300, mi300x, mi325x, l40s");
    }

    #[test]
    fn usable_memory_is_what_nvidia_smi_reports() {
        // An H100 SXM 80 GB lists 81,559 MiB: 85.52 GB, not the marketing 80 GB.
        assert_eq!(gpu("h100-sxm").unwrap().memory_bytes(), 85_520_809_984.0);
        assert_eq!(gpu("a100-80gb").unwrap().memory_bytes(), 85_899_345_920.0);
    }
}
