//! Numeric formats of weights and KV cache.

use serde::{Deserialize, Serialize};

/// A storage format for weights or KV cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// bfloat16, 2 bytes. The default.
    #[default]
    Bf16,
    /// 8-bit floating point (E4M3), 1 byte.
    Fp8,
}

impl Dtype {
    /// Bytes per element.
    pub const fn bytes(self) -> u64 {
        match self {
            Dtype::Bf16 => 2,
            Dtype::Fp8 => 1,
        }
    }

    /// The JSON name, e.g. `"bf16"`.
    pub const fn name(self) -> &'static str {
        match self {
            Dtype::Bf16 => "bf16",
            Dtype::Fp8 => "fp8",
        }
    }
}
