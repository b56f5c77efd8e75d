//! Calibration inputs: measurements a user brings to tune the performance model.
//!
//! - [`parse_benchmark`] reads serving-benchmark results (vLLM `vllm bench serve
//!   --save-result` JSON, SGLang `sglang.bench_serving --output-file` JSON lines, or a CSV)
//!   into [`BenchmarkRow`]s: a request shape, a [`Load`], and the TTFT, TPOT and throughput
//!   measured under it.
//! - [`parse_profile`] reads a measured step-time profile CSV into a [`StepProfile`], and
//!   [`StepProfile::fit`] fits it as `step = a(new_tokens) + c · context_tokens`
//!   ([`ProfileFit`]).
//! - [`fit`] replays every benchmark row through the simulator with its own load and fits the
//!   performance model's [`Factors`](crate::perf::Factors) to them ([`FitReport`]).

mod benchmark;
mod fit;
mod profile;

pub use benchmark::{parse_benchmark, BenchmarkError, BenchmarkRow, Load};
pub use fit::{
    fit, mean_abs_error, predict, replay_scenario, replayed_metrics, FitReport, Metrics, RowFit, MAX_REPLAY_REQUESTS,
};
pub use profile::{parse_profile, ProfileFit, ProfilePoint, StepProfile};
