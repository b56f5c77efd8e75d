//! The performance model: how long one engine step takes, and how much KV cache fits.
//!
//! - [`catalog`]: the GPU and model presets a scenario may name.
//! - [`ModelSpec`]: a model's architecture read from its Hugging Face `config.json` (dense or
//!   mixture-of-experts, GQA or MLA, sliding windows), with its parameter counts and KV bytes
//!   per token.
//! - [`GpuSpec`]: a GPU's datasheet numbers and its family's measured efficiency curves.
//! - [`ReplicaConfig`]: a replica's parallelism (TP, PP, EP, data-parallel attention), formats
//!   and engine limits, checked against the model and GPU.
//! - [`MemoryPlan`]: where each GPU's memory goes, and the KV capacity left.
//! - [`StepModel`]: the roofline step-time model of one replica.
//! - [`ModelSheet`]: sizes and step times of a replica, as `servesim model` and the page show
//!   them.
//!
//! Every constant names its source in `docs/model.md`.

pub mod catalog;
mod dtype;
mod gpu;
mod memory;
pub mod model;
mod replica;
mod report;
mod step;

pub use dtype::Dtype;
pub use gpu::{AllReduceCurve, Compute, Efficiency, GpuSpec, HOST_LINK_EFFICIENCY};
pub use memory::MemoryPlan;
pub use model::ModelSpec;
pub use replica::{Factors, FitError, ReplicaConfig};
pub use report::{ModelSheet, Roofline, RooflinePoint, SheetShape};
pub use step::{BatchShape, DecodeCost, PrefillChunk, StepModel};
