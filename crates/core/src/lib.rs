//! servesim-core: the LLM-serving simulator, as a pure library.
//!
//! Everything the browser app, its Web Worker, the CLI and the tests share lives here. The crate
//! does no I/O, reads no clock, starts no threads and draws randomness only from seeded streams,
//! so the same scenario gives bit-identical results on native targets and on `wasm32`.
//!
//! Modules, one concept each:
//!
//! - [`time`]: [`SimTime`](time::SimTime) and [`SimDuration`](time::SimDuration), integer
//!   nanoseconds.
//! - [`rng`]: seeded, independent random streams derived from `(seed, stream id)`.
//! - [`ids`]: request and replica ids.
//! - [`perf`]: the hardware and model catalog and the roofline step-time model.
//! - [`calibrate`]: benchmark results (vLLM, SGLang, CSV) and measured step-time profiles,
//!   read for calibrating the performance model.
//! - [`engine`]: one replica's continuous-batching scheduler (two-phase steps, vLLM V1's
//!   order) and its KV cache manager with prefix caching.
//! - [`cluster`]: replicas behind a routing policy.
//! - [`sim`]: the [`Simulation`](sim::Simulation) driver, the only owner of the `(time, seq)`
//!   [`EventQueue`](sim::EventQueue).
//! - [`scenario`]: the [`Scenario`](scenario::Scenario) contract shared by the UI, share links,
//!   the CLI and the tests, with [`validate`](scenario::Scenario::validate).
//! - [`share`]: the share-link codec (`#s=1.<base64url(zlib(canonical JSON))>`).
//! - [`workload`]: request traces (Mooncake JSONL, Vidur CSV) parsed into compact columns, the
//!   generator, and [`resolve`](workload::resolve) from a scenario's workload to a trace.
//! - [`metrics`]: per-request records, time series and the run summary.
//! - [`stats`]: exact quantiles, chart series with typed ids, round time buckets.
//! - [`digest`]: a stable 64-bit digest used to compare results across targets.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod calibrate;
pub mod cluster;
pub mod digest;
pub mod engine;
pub mod ids;
pub mod metrics;
pub mod perf;
pub mod rng;
pub mod scenario;
pub mod share;
pub mod sim;
pub mod stats;
pub mod time;
pub mod workload;
