//! The model sheet: sizes and step times of one replica, as `servesim model` prints them and
//! the page's Model & hardware panel shows them.

use serde::Serialize;

use crate::calibrate::StepProfile;

use super::{BatchShape, GpuSpec, MemoryPlan, ModelSpec, PrefillChunk, ReplicaConfig, StepModel};

/// The batch the sheet's step times are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SheetShape {
    /// Prompt tokens of the one request `prefill_ms` times.
    pub isl: u32,
    /// Decoding sequences `decode_step_ms` times.
    pub batch: u32,
    /// Context tokens of each of them.
    pub context: u32,
}

impl Default for SheetShape {
    fn default() -> Self {
        SheetShape { isl: 1024, batch: 32, context: 2048 }
    }
}

/// Sizes and step times of one replica. Sizes are given whether or not the model fits; step
/// times only when it does.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelSheet {
    /// Parameters of the main model (MTP layers left out).
    pub params_total: u64,
    /// Parameters one token passes through.
    pub params_active: u64,
    /// Parameters of the multi-token-prediction layers.
    pub params_mtp: u64,
    /// The weight format run (`"bf16"`, `"fp8"`, `"fp4"`, `"int4"`).
    pub weights: &'static str,
    /// The KV-cache format.
    pub kv_cache: &'static str,
    /// GPUs per replica (`tp × pp`).
    pub gpus_per_replica: u32,
    /// Weights on the most loaded GPU, bytes.
    pub weight_bytes_per_gpu: u64,
    /// KV bytes each token adds over the full-attention layers.
    pub kv_bytes_per_token: u64,
    /// KV bytes the sliding-window layers hold per sequence.
    pub kv_window_bytes_per_sequence: u64,
    /// Tokens of KV cache per replica (all its GPUs); 0 when it does not fit.
    pub kv_capacity_tokens: u64,
    /// One request of `isl` prompt tokens prefilled in one step, ms.
    pub prefill_ms: Option<f64>,
    /// One decode step of `batch` sequences at `context` tokens each, ms.
    pub decode_step_ms: Option<f64>,
    /// Whether the replica can start.
    pub fits: bool,
    /// Why not, when it cannot.
    pub why: Option<String>,
    /// Arithmetic intensity and attained FLOP/s of the prefill and the decode step.
    pub roofline: Option<Roofline>,
}

/// Where the sheet's prefill and decode steps sit on the GPU's roofline (per GPU).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Roofline {
    /// The prefill step.
    pub prefill: RooflinePoint,
    /// The decode step.
    pub decode: RooflinePoint,
    /// The GEMMs' peak, FLOP/s (the roof).
    pub peak_flops: f64,
    /// HBM bandwidth, bytes/s (the slope).
    pub hbm_bandwidth: f64,
}

/// One step on the roofline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RooflinePoint {
    /// FLOPs per byte moved from HBM.
    pub intensity: f64,
    /// FLOP/s the step attains (its FLOPs over its duration).
    pub attained_flops: f64,
}

impl ModelSheet {
    /// The sheet of `scenario`'s deployment (its model, GPU, parallelism, formats, engine
    /// limits and calibration, a measured step profile included) at `shape`: of its first pool,
    /// the prefill pool of a disaggregated deployment, with that pool's own GPU and engine.
    ///
    /// # Errors
    ///
    /// As [`ModelSheet::new`], and when the model or GPU is unknown or unreadable.
    pub fn of_scenario(scenario: &crate::scenario::Scenario, shape: SheetShape) -> Result<ModelSheet, super::FitError> {
        // A disaggregated deployment's first pool (the prefill pool) with its own GPU and engine.
        let scenario = &scenario.pool_view(scenario.deployment.pools()[0].0);
        let model =
            scenario.model.spec().map_err(|message| super::FitError { path: scenario.model.spec_path(), message })?;
        let gpu = scenario
            .hardware
            .gpu
            .spec()
            .ok_or_else(|| super::FitError { path: "hardware.gpu", message: "unknown GPU".to_owned() })?;
        let profile = scenario.calibration.as_ref().and_then(|calibration| calibration.profile.as_ref());
        ModelSheet::build(&model, gpu, scenario.replica_config(&model, gpu), shape, profile)
    }

    /// The sheet of `model` on `gpu` with `config` at `shape`.
    ///
    /// # Errors
    ///
    /// Returns the [`super::FitError`] of an invalid combination (FP4 on Hopper, EP on a dense
    /// model, a TP that does not divide the heads): sizes make no sense for those. A model
    /// that merely does not fit gives a sheet with `fits: false` and `why`.
    pub fn new(
        model: &ModelSpec,
        gpu: &GpuSpec,
        config: ReplicaConfig,
        shape: SheetShape,
    ) -> Result<ModelSheet, super::FitError> {
        ModelSheet::build(model, gpu, config, shape, None)
    }

    /// [`ModelSheet::new`], with a measured step-time `profile` replacing the roofline's times.
    fn build(
        model: &ModelSpec,
        gpu: &GpuSpec,
        config: ReplicaConfig,
        shape: SheetShape,
        profile: Option<&StepProfile>,
    ) -> Result<ModelSheet, super::FitError> {
        config.check(model, gpu)?;
        let memory = MemoryPlan::new(model, gpu, &config);
        let step_model = StepModel::new(model, gpu, config).and_then(|step_model| step_model.with_profile(profile));
        let kv = config.kv_cache;
        let mut sheet = ModelSheet {
            params_total: model.num_params(),
            params_active: model.active_params(),
            params_mtp: model.mtp_params(),
            weights: config.weights.name(),
            kv_cache: kv.name(),
            gpus_per_replica: config.tp * config.pp,
            weight_bytes_per_gpu: memory.weight_bytes_per_gpu as u64,
            kv_bytes_per_token: model.kv_bytes_per_token(kv),
            kv_window_bytes_per_sequence: model.kv_window_bytes_per_sequence(kv),
            kv_capacity_tokens: 0,
            prefill_ms: None,
            decode_step_ms: None,
            fits: false,
            why: None,
            roofline: None,
        };
        match step_model {
            Err(error) => sheet.why = Some(error.message),
            Ok(step_model) => {
                let chunk = [PrefillChunk { new_tokens: shape.isl.max(1), cached_tokens: 0 }];
                let prefill = BatchShape { num_decode: 0, decode_context_tokens: 0, prefills: &chunk };
                let decode = BatchShape {
                    num_decode: shape.batch.max(1),
                    decode_context_tokens: u64::from(shape.batch.max(1)) * u64::from(shape.context),
                    prefills: &[],
                };
                sheet.fits = true;
                sheet.kv_capacity_tokens = step_model.kv_capacity_tokens();
                sheet.prefill_ms = Some(step_model.step_time(&prefill).as_millis_f64());
                sheet.decode_step_ms = Some(step_model.step_time(&decode).as_millis_f64());
                sheet.roofline = Some(Roofline {
                    prefill: step_model.roofline_point(&prefill),
                    decode: step_model.roofline_point(&decode),
                    peak_flops: gpu.peak_flops(gpu.compute_for(config.weights)),
                    hbm_bandwidth: gpu.hbm_bandwidth(),
                });
            }
        }
        Ok(sheet)
    }
}
