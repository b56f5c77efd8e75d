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
//! - [`sim`]: the simulation driver's building blocks, starting with the `(time, seq)`
//!   [`EventQueue`](sim::EventQueue).
//! - [`scenario`]: the [`Scenario`](scenario::Scenario) contract shared by the UI, share links,
//!   the CLI and the tests, with [`validate`](scenario::Scenario::validate).
//! - [`share`]: the share-link codec (`#s=1.<base64url(zlib(canonical JSON))>`).
//! - [`workload`]: request traces (Mooncake JSONL, Vidur CSV) parsed into compact columns.
//! - [`perf`]: the hardware and model catalog.
//! - [`metrics`]: exact quantiles and time series.
//! - [`digest`]: a stable 64-bit digest used to compare results across targets.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod digest;
pub mod metrics;
pub mod perf;
pub mod rng;
pub mod scenario;
pub mod share;
pub mod sim;
pub mod time;
pub mod workload;
