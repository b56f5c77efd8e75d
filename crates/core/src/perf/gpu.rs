//! GPU datasheet numbers and measured efficiency factors.

/// One GPU type: peaks from the vendor datasheet and efficiency factors measured on it.
///
/// Sources are in `docs/model.md` §GPUs (all from `shared/reference/perf-model-data.md` §1, §5).
#[derive(Clone, Debug, PartialEq)]
pub struct GpuSpec {
    /// Preset id, e.g. `"h100-sxm"`.
    pub id: &'static str,
    /// The name the UI shows, e.g. `"NVIDIA H100 SXM"`.
    pub name: &'static str,
    /// Dense BF16 tensor-core peak, FLOP/s.
    pub bf16_flops: f64,
    /// Dense FP8 tensor-core peak, FLOP/s; `None` when the GPU has no FP8 tensor cores.
    pub fp8_flops: Option<f64>,
    /// Device memory as the device reports it (`nvidia-smi`'s total), MiB: more than the
    /// marketing figure (an "80 GB" H100 SXM lists 81,559 MiB).
    pub memory_mib: u64,
    /// HBM bandwidth, bytes/s.
    pub hbm_bandwidth: f64,
    /// Scale-up (NVLink) bandwidth per GPU per direction, bytes/s.
    pub nvlink_bandwidth: f64,
    /// Achieved fraction of the BF16 peak by GEMMs with `m` rows: `(m, efficiency)` ascending.
    pub gemm_bf16_efficiency: &'static [(f64, f64)],
    /// Achieved fraction of the FP8 peak at large `m` (m ≥ 1024), when measured.
    pub gemm_fp8_efficiency: Option<f64>,
    /// Achieved fraction of HBM bandwidth by small-`m` (decode) GEMMs with BF16 weights.
    pub hbm_efficiency_bf16: f64,
    /// The same with FP8 weights.
    pub hbm_efficiency_fp8: f64,
    /// Fixed latency of one tensor-parallel all-reduce, seconds.
    pub allreduce_latency: f64,
}

/// Prefill (context) attention: achieved fraction of the BF16 peak by sequence length
/// (FlashAttention-3 in vLLM on H100, `perf-model-data.md` §5.2).
pub const PREFILL_ATTENTION_EFFICIENCY: &[(f64, f64)] =
    &[(512.0, 0.21), (1024.0, 0.33), (2048.0, 0.46), (4096.0, 0.54), (8192.0, 0.59), (16384.0, 0.61)];

/// Decode attention: fixed latency per layer call, seconds (§5.2: ≈ 14–15 µs floor).
pub const DECODE_ATTENTION_LATENCY: f64 = 14e-6;
/// Decode attention: achieved fraction of HBM bandwidth reading large KV (§5.2: 0.84–0.93).
pub const DECODE_ATTENTION_HBM_EFFICIENCY: f64 = 0.88;

/// All-reduce bus efficiency by message size in bytes, for TP 2, 4 and 8
/// (H100 custom all-reduce, §5.3: ratio to the ring speed-of-light).
pub const ALLREDUCE_EFFICIENCY: [(u32, &[(f64, f64)]); 3] = [
    (2, &[(1e6, 0.38), (8e6, 0.50), (32e6, 0.52), (128e6, 0.63)]),
    (4, &[(1e6, 0.27), (8e6, 0.44), (32e6, 0.64), (128e6, 0.72)]),
    (8, &[(1e6, 0.16), (8e6, 0.41), (32e6, 0.66), (128e6, 0.91)]),
];

/// Interpolation in `log2(x)`, for quantities measured at powers of two.
pub(crate) fn interpolate_log2(points: &[(f64, f64)], x: f64) -> f64 {
    let (first, last) = (points[0], points[points.len() - 1]);
    if x <= first.0 {
        return first.1;
    }
    if x >= last.0 {
        return last.1;
    }
    let upper = points.iter().position(|&(px, _)| px >= x).expect("x is inside the range");
    let ((x0, y0), (x1, y1)) = (points[upper - 1], points[upper]);
    let t = (libm::log2(x) - libm::log2(x0)) / (libm::log2(x1) - libm::log2(x0));
    y0 + (y1 - y0) * t
}

impl GpuSpec {
    /// Device memory in bytes (`memory_mib` × 2²⁰), the total vLLM's `gpu_memory_utilization`
    /// applies to.
    pub fn memory_bytes(&self) -> f64 {
        (self.memory_mib * 1024 * 1024) as f64
    }

    /// Achieved GEMM throughput for `m` rows with weights in `weights`, FLOP/s.
    ///
    /// FP8 efficiency is measured only for m ≥ 1024; below that the BF16 curve's shape is
    /// scaled to meet it (`docs/model.md`).
    pub fn gemm_flops(&self, m: f64, weights: super::Dtype) -> f64 {
        let bf16 = interpolate_log2(self.gemm_bf16_efficiency, m);
        match (weights, self.fp8_flops, self.gemm_fp8_efficiency) {
            (super::Dtype::Fp8, Some(peak), Some(fp8_large)) => {
                // Below m = 1024 the FP8 curve is assumed to fall like the BF16 one.
                let shape = (bf16 / interpolate_log2(self.gemm_bf16_efficiency, 1024.0)).min(1.0);
                let shape = if m >= 1024.0 { 1.0 } else { shape };
                peak * fp8_large * shape
            }
            _ => self.bf16_flops * bf16,
        }
    }

    /// Achieved HBM bandwidth when streaming weights in `weights`, bytes/s.
    pub fn weight_bandwidth(&self, weights: super::Dtype) -> f64 {
        self.hbm_bandwidth
            * match weights {
                super::Dtype::Bf16 => self.hbm_efficiency_bf16,
                super::Dtype::Fp8 => self.hbm_efficiency_fp8,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_is_clamped_and_linear_in_log2() {
        let points = [(128.0, 0.3), (512.0, 0.7)];
        assert_eq!(interpolate_log2(&points, 1.0), 0.3);
        assert_eq!(interpolate_log2(&points, 4096.0), 0.7);
        assert!((interpolate_log2(&points, 256.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn fp8_efficiency_scales_with_m() {
        let h100 = crate::perf::catalog::gpu("h100-sxm").unwrap();
        let large = h100.gemm_flops(8192.0, crate::perf::Dtype::Fp8);
        assert!((large - 1979e12 * 0.58).abs() < 1e9);
        assert!(h100.gemm_flops(128.0, crate::perf::Dtype::Fp8) < large / 2.0);
    }
}
