//! Numeric formats of weights and KV cache.

use serde::{Deserialize, Serialize};

/// A storage format for weights or KV cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// bfloat16, 2 bytes. The default.
    #[default]
    Bf16,
    /// 8-bit floating point (E4M3), 1 byte; block scales are negligible (one per 128 × 128).
    Fp8,
    /// 4-bit floating point (MXFP4 or NVFP4: E2M1 packed two per byte plus a shared scale per
    /// block), computed on Blackwell's FP4 tensor cores. Weights only.
    Fp4,
    /// 4-bit integer weights (AWQ/GPTQ, group size 128), dequantised to BF16 for compute.
    /// Weights only.
    Int4,
}

/// Bits of scale per 4-bit weight: an 8-bit scale per 32 elements (MXFP4's E8M0; GPTQ/AWQ's
/// FP16 scale and zero per 128 elements is the same 0.25 bit).
const FOUR_BIT_SCALE_BITS: f64 = 0.25;

impl Dtype {
    /// Every format, in the order the UI lists them.
    pub const ALL: [Dtype; 4] = [Dtype::Bf16, Dtype::Fp8, Dtype::Fp4, Dtype::Int4];

    /// The formats a KV cache may use.
    pub const KV: [Dtype; 2] = [Dtype::Bf16, Dtype::Fp8];

    /// Bytes per element of a KV cache in this format (`None` for the weight-only formats).
    pub const fn kv_bytes(self) -> Option<u64> {
        match self {
            Dtype::Bf16 => Some(2),
            Dtype::Fp8 => Some(1),
            Dtype::Fp4 | Dtype::Int4 => None,
        }
    }

    /// Bytes per weight element, including the 4-bit formats' block scales.
    pub fn weight_bytes(self) -> f64 {
        match self {
            Dtype::Bf16 => 2.0,
            Dtype::Fp8 => 1.0,
            Dtype::Fp4 | Dtype::Int4 => (4.0 + FOUR_BIT_SCALE_BITS) / 8.0,
        }
    }

    /// The JSON name, e.g. `"bf16"`.
    pub const fn name(self) -> &'static str {
        match self {
            Dtype::Bf16 => "bf16",
            Dtype::Fp8 => "fp8",
            Dtype::Fp4 => "fp4",
            Dtype::Int4 => "int4",
        }
    }

    /// The format named `name` (`"bf16"`, `"fp8"`, `"fp4"`, `"int4"`), if any.
    pub fn from_name(name: &str) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|dtype| dtype.name() == name)
    }
}
