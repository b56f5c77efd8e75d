//! GPU datasheet numbers and measured efficiency factors.
//!
//! A [`GpuSpec`] is plain data in the units datasheets use (TFLOPS, TB/s, GB/s, MiB), so a
//! scenario can write a custom GPU inline (`hardware.gpu` as an object) with the same fields as
//! the catalog's. Its [`Efficiency`] holds the measured curves of its family; a custom GPU that
//! omits them gets the H100's.

use serde::{Deserialize, Serialize};

use super::Dtype;

/// The share of a host link's datasheet bandwidth that large KV-block copies achieve (PCIe
/// Gen5 x16 moves about 50 of its 64 GB/s per direction in pinned-memory copies).
pub const HOST_LINK_EFFICIENCY: f64 = 0.8;

/// The host link of a GPU that names none: PCIe Gen5 x16, 64 GB/s per direction.
pub const PCIE_GEN5_GB_S: f64 = 64.0;

fn default_host_gb_s() -> f64 {
    PCIE_GEN5_GB_S
}

/// One GPU type: peaks from the vendor datasheet and the efficiency its kernels achieve.
///
/// Sources are in `docs/model.md` §GPUs (from `shared/reference/perf-model-data.md` §1, §5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuSpec {
    /// The name the UI shows, e.g. `"NVIDIA H100 SXM"`.
    pub name: String,
    /// Dense BF16 tensor-core peak, TFLOPS.
    pub bf16_tflops: f64,
    /// Dense FP8 tensor-core peak, TFLOPS; `null` without FP8 tensor cores.
    #[serde(default)]
    pub fp8_tflops: Option<f64>,
    /// Dense FP4 tensor-core peak, TFLOPS; `null` without FP4 tensor cores (before Blackwell).
    #[serde(default)]
    pub fp4_tflops: Option<f64>,
    /// Device memory as the device reports it (`nvidia-smi`'s total), MiB.
    pub memory_mib: u64,
    /// HBM (or GDDR) bandwidth, TB/s.
    pub hbm_tb_s: f64,
    /// Scale-up bandwidth per GPU per direction (NVLink, Infinity Fabric, or PCIe when there is
    /// none), GB/s.
    pub scale_up_gb_s: f64,
    /// Scale-out (NIC) bandwidth per GPU per direction, GB/s.
    pub nic_gb_s: f64,
    /// Board power, W.
    pub power_w: f64,
    /// Host link per GPU per direction (PCIe, or NVLink-C2C on Grace parts), GB/s: what moves
    /// KV blocks to and from the host tier. Default 64 (PCIe Gen5 x16).
    #[serde(default = "default_host_gb_s")]
    pub host_gb_s: f64,
    /// What its kernels achieve; the H100's curves when omitted.
    #[serde(default = "Efficiency::h100")]
    pub efficiency: Efficiency,
}

/// Measured efficiencies of one GPU family. Curves are `[x, fraction]` points, ascending in
/// `x`, interpolated in `log2(x)` and clamped at the ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Efficiency {
    /// Fraction of the BF16 peak a GEMM with `m` rows achieves: `[m, fraction]`.
    pub gemm_bf16: Vec<[f64; 2]>,
    /// Fraction of the FP8 peak at large `m` (≥ 1024); smaller `m` follow the BF16 curve's
    /// shape. FP4 uses the same fraction of its peak.
    pub gemm_fp8: f64,
    /// Fraction of HBM bandwidth small-`m` (decode) GEMMs achieve streaming BF16 weights.
    pub hbm_bf16: f64,
    /// The same with FP8 (and 4-bit) weights.
    pub hbm_fp8: f64,
    /// Fraction of the BF16 peak prefill attention achieves, by sequence length: `[tokens,
    /// fraction]`.
    pub prefill_attention: Vec<[f64; 2]>,
    /// Fixed latency of one decode-attention kernel call (per layer), µs.
    pub decode_attention_floor_us: f64,
    /// Fraction of HBM bandwidth decode attention achieves reading a large KV cache.
    pub decode_attention_hbm: f64,
    /// Fixed latency of one tensor-parallel all-reduce, µs.
    pub allreduce_latency_us: f64,
    /// All-reduce bus efficiency (ratio to the ring speed of light) by message bytes, per TP
    /// degree: the curve of the largest degree not above the group's is used.
    pub allreduce: Vec<AllReduceCurve>,
    /// Fraction of the link bandwidth an expert-parallel all-to-all (dispatch or combine)
    /// achieves over the scale-up fabric.
    pub all_to_all_scale_up: f64,
    /// The same over the NIC, when the EP group spans nodes.
    pub all_to_all_nic: f64,
    /// Fixed latency of one all-to-all, µs.
    pub all_to_all_latency_us: f64,
}

/// All-reduce efficiency by message size for one TP degree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllReduceCurve {
    /// The TP degree it was measured at.
    pub tp: u32,
    /// `[message bytes, ratio to the ring speed of light]`.
    pub efficiency: Vec<[f64; 2]>,
}

/// Interpolation in `log2(x)`, for quantities measured at powers of two.
pub(crate) fn interpolate_log2(points: &[[f64; 2]], x: f64) -> f64 {
    let (first, last) = (points[0], points[points.len() - 1]);
    if x <= first[0] {
        return first[1];
    }
    if x >= last[0] {
        return last[1];
    }
    let upper = points.iter().position(|point| point[0] >= x).expect("x is inside the range");
    let ([x0, y0], [x1, y1]) = (points[upper - 1], points[upper]);
    let t = (libm::log2(x) - libm::log2(x0)) / (libm::log2(x1) - libm::log2(x0));
    y0 + (y1 - y0) * t
}

/// The precision a GEMM runs at, which picks its peak and efficiency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compute {
    /// BF16 tensor cores (also 4-bit weight-only formats, dequantised on the fly).
    Bf16,
    /// FP8 tensor cores.
    Fp8,
    /// FP4 tensor cores.
    Fp4,
}

impl GpuSpec {
    /// Device memory in bytes (`memory_mib` × 2²⁰), the total vLLM's `gpu_memory_utilization`
    /// applies to.
    pub fn memory_bytes(&self) -> f64 {
        (self.memory_mib * 1024 * 1024) as f64
    }

    /// HBM bandwidth, bytes/s.
    pub fn hbm_bandwidth(&self) -> f64 {
        self.hbm_tb_s * 1e12
    }

    /// Scale-up bandwidth per direction, bytes/s.
    pub fn scale_up_bandwidth(&self) -> f64 {
        self.scale_up_gb_s * 1e9
    }

    /// Host-link bandwidth per direction that KV copies achieve, bytes/s:
    /// [`HOST_LINK_EFFICIENCY`] of the datasheet figure.
    pub fn host_bandwidth(&self) -> f64 {
        self.host_gb_s * 1e9 * HOST_LINK_EFFICIENCY
    }

    /// NIC bandwidth per direction, bytes/s.
    pub fn nic_bandwidth(&self) -> f64 {
        self.nic_gb_s * 1e9
    }

    /// The precision GEMMs with weights in `weights` run at on this GPU: FP8 and FP4 on their
    /// tensor cores when it has them, everything else at BF16.
    pub fn compute_for(&self, weights: Dtype) -> Compute {
        match weights {
            Dtype::Fp8 if self.fp8_tflops.is_some() => Compute::Fp8,
            Dtype::Fp4 if self.fp4_tflops.is_some() => Compute::Fp4,
            _ => Compute::Bf16,
        }
    }

    /// The dense tensor-core peak at `compute`, FLOP/s (`compute_for` only picks precisions the
    /// GPU has).
    pub fn peak_flops(&self, compute: Compute) -> f64 {
        let tflops = match compute {
            Compute::Bf16 => self.bf16_tflops,
            Compute::Fp8 => self.fp8_tflops.unwrap_or(self.bf16_tflops),
            Compute::Fp4 => self.fp4_tflops.unwrap_or(self.bf16_tflops),
        };
        tflops * 1e12
    }

    /// Achieved GEMM throughput for `m` rows at `compute`, FLOP/s.
    ///
    /// FP8 and FP4 efficiency is measured only for m ≥ 1024; below that the BF16 curve's shape
    /// is scaled to meet it (`docs/model.md`).
    pub fn gemm_flops(&self, m: f64, compute: Compute) -> f64 {
        let curve = &self.efficiency.gemm_bf16;
        let bf16 = interpolate_log2(curve, m);
        if compute == Compute::Bf16 {
            return self.peak_flops(compute) * bf16;
        }
        let shape = if m >= 1024.0 { 1.0 } else { (bf16 / interpolate_log2(curve, 1024.0)).min(1.0) };
        self.peak_flops(compute) * self.efficiency.gemm_fp8 * shape
    }

    /// Achieved HBM bandwidth when streaming weights in `weights`, bytes/s.
    pub fn weight_bandwidth(&self, weights: Dtype) -> f64 {
        self.hbm_bandwidth()
            * match weights {
                Dtype::Bf16 => self.efficiency.hbm_bf16,
                Dtype::Fp8 | Dtype::Fp4 | Dtype::Int4 => self.efficiency.hbm_fp8,
            }
    }

    /// Problems with a custom GPU's numbers, as `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut positive = |field: &str, value: f64| {
            if !(value.is_finite() && value > 0.0) {
                problems.push((field.to_owned(), format!("must be a positive number, got {value}")));
            }
        };
        positive("bf16_tflops", self.bf16_tflops);
        positive("hbm_tb_s", self.hbm_tb_s);
        positive("host_gb_s", self.host_gb_s);
        positive("power_w", self.power_w);
        positive("memory_mib", self.memory_mib as f64);
        if let Some(fp8) = self.fp8_tflops {
            positive("fp8_tflops", fp8);
        }
        if let Some(fp4) = self.fp4_tflops {
            positive("fp4_tflops", fp4);
        }
        // Links slower than 10 MB/s would make a KV transfer outlast any run.
        for (field, value) in [("scale_up_gb_s", self.scale_up_gb_s), ("nic_gb_s", self.nic_gb_s)] {
            if !(value.is_finite() && value >= 0.01) {
                problems.push((field.to_owned(), format!("must be at least 0.01 GB/s, got {value}")));
            }
        }
        let efficiency = &self.efficiency;
        let mut fraction = |field: &str, value: f64| {
            if !(value.is_finite() && value > 0.0 && value <= 1.5) {
                problems.push((format!("efficiency.{field}"), format!("must be in (0, 1.5], got {value}")));
            }
        };
        for (field, value) in [
            ("gemm_fp8", efficiency.gemm_fp8),
            ("hbm_bf16", efficiency.hbm_bf16),
            ("hbm_fp8", efficiency.hbm_fp8),
            ("decode_attention_hbm", efficiency.decode_attention_hbm),
            ("all_to_all_scale_up", efficiency.all_to_all_scale_up),
            ("all_to_all_nic", efficiency.all_to_all_nic),
        ] {
            fraction(field, value);
        }
        let curves = [("gemm_bf16", &efficiency.gemm_bf16), ("prefill_attention", &efficiency.prefill_attention)]
            .into_iter()
            .chain(efficiency.allreduce.iter().map(|curve| ("allreduce", &curve.efficiency)));
        for (field, curve) in curves {
            let ascending = curve.windows(2).all(|pair| pair[0][0] < pair[1][0]);
            let valid = curve.iter().all(|[x, y]| x.is_finite() && *x > 0.0 && y.is_finite() && *y > 0.0 && *y <= 1.5);
            if curve.is_empty() || !ascending || !valid {
                problems.push((
                    format!("efficiency.{field}"),
                    "must be a non-empty list of [x, fraction] points, x ascending and positive, fraction in (0, 1.5]"
                        .to_owned(),
                ));
            }
        }
        if efficiency.allreduce.is_empty() {
            problems.push(("efficiency.allreduce".to_owned(), "must hold at least one curve".to_owned()));
        }
        for (field, value) in [
            ("decode_attention_floor_us", efficiency.decode_attention_floor_us),
            ("allreduce_latency_us", efficiency.allreduce_latency_us),
            ("all_to_all_latency_us", efficiency.all_to_all_latency_us),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                problems.push((format!("efficiency.{field}"), format!("must be ≥ 0, got {value}")));
            }
        }
        problems
    }
}

impl Efficiency {
    /// The H100 SXM's measured curves (`docs/model.md` §GPUs), the default of a custom GPU.
    pub fn h100() -> Efficiency {
        super::catalog::gpu("h100-sxm").expect("the catalog has the H100").efficiency.clone()
    }

    /// The all-reduce efficiency of a `tp`-way group for a message of `bytes`.
    pub fn allreduce_efficiency(&self, tp: u32, bytes: f64) -> f64 {
        let curve = self.allreduce.iter().rev().find(|curve| curve.tp <= tp).unwrap_or(&self.allreduce[0]);
        interpolate_log2(&curve.efficiency, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::catalog;

    #[test]
    fn interpolation_is_clamped_and_linear_in_log2() {
        let points = [[128.0, 0.3], [512.0, 0.7]];
        assert_eq!(interpolate_log2(&points, 1.0), 0.3);
        assert_eq!(interpolate_log2(&points, 4096.0), 0.7);
        assert!((interpolate_log2(&points, 256.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn fp8_efficiency_scales_with_m() {
        let h100 = catalog::gpu("h100-sxm").unwrap();
        let large = h100.gemm_flops(8192.0, Compute::Fp8);
        assert!((large - 1979e12 * 0.58).abs() < 1e9);
        assert!(h100.gemm_flops(128.0, Compute::Fp8) < large / 2.0);
    }

    #[test]
    fn weights_pick_the_tensor_cores_the_gpu_has() {
        let (h100, b200) = (catalog::gpu("h100-sxm").unwrap(), catalog::gpu("b200").unwrap());
        assert_eq!(h100.compute_for(Dtype::Fp4), Compute::Bf16, "MXFP4 runs weight-only on Hopper");
        assert_eq!(b200.compute_for(Dtype::Fp4), Compute::Fp4);
        assert_eq!(b200.compute_for(Dtype::Int4), Compute::Bf16);
        assert_eq!(catalog::gpu("a100-80gb").unwrap().compute_for(Dtype::Fp8), Compute::Bf16);
    }

    #[test]
    fn a_custom_gpu_reads_with_the_h100_curves_and_reports_bad_numbers() {
        let gpu: GpuSpec = serde_json::from_str(
            r#"{"name": "X", "bf16_tflops": 500, "memory_mib": 65536, "hbm_tb_s": 2,
                "scale_up_gb_s": 100, "nic_gb_s": 25, "power_w": 500}"#,
        )
        .unwrap();
        assert_eq!(gpu.efficiency, catalog::gpu("h100-sxm").unwrap().efficiency);
        assert!(gpu.problems().is_empty());
        let bad = GpuSpec { hbm_tb_s: -1.0, fp8_tflops: Some(f64::NAN), ..gpu };
        let fields: Vec<String> = bad.problems().into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["hbm_tb_s", "fp8_tflops"]);
    }

    #[test]
    fn every_catalog_gpu_is_valid() {
        for preset in catalog::gpus() {
            assert_eq!(preset.spec.problems(), vec![], "{}", preset.id);
        }
    }
}
