//! The performance model: how long one engine step takes, and how much KV cache fits.
//!
//! - [`catalog`]: the GPU and model presets a scenario may name.
//! - [`ModelSpec`]: a model's architecture, read from its Hugging Face `config.json`, with its
//!   parameter count and KV bytes per token.
//! - [`GpuSpec`]: a GPU's datasheet numbers and measured efficiency factors.
//! - [`StepModel`]: the roofline step-time model for one replica (model × GPU × TP × PP), and
//!   its KV capacity.
//!
//! Every constant names its source in `docs/model.md`.

pub mod catalog;
mod dtype;
mod gpu;
mod model;
mod step;

pub use dtype::Dtype;
pub use gpu::GpuSpec;
pub use model::ModelSpec;
pub use step::{BatchShape, FitError, PrefillChunk, ReplicaConfig, StepModel};
