//! Metrics: what a run records and how it is summarised (`docs/metrics.md` defines every
//! number).
//!
//! - [`Recorder`] is what the engines write into while the simulation runs: the per-request
//!   records ([`RequestLog`]), the inter-token-latency [`Histogram`] and the [`Timeline`].
//! - [`Summary`] condenses a finished run: latency percentiles, throughput, goodput against
//!   the scenario's SLO, preemptions, saturation verdict.
//! - [`quantile_sorted`] and [`Quantiles`] compute exact percentiles of sorted columns.

mod histogram;
mod quantile;
mod recorder;
mod series;
mod summary;
mod timeline;

pub use histogram::Histogram;
pub use quantile::{quantile_sorted, Quantiles};
pub use recorder::{Outcome, Recorder, RejectReason, RequestLog};
pub use series::Series;
pub use summary::{Goodput, LatencyColumns, RequestCounts, Saturation, Summary, Throughput};
pub use timeline::{bucket_width_s, Timeline};
