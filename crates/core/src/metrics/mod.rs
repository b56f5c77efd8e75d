//! Metrics: what a run records and how it is summarised (`docs/metrics.md` defines every
//! number).
//!
//! - [`Recorder`] is what the engines write into while the simulation runs: the per-request
//!   records ([`RequestLog`]), the inter-token-latency [`Histogram`] and the [`Timeline`].
//! - [`Summary`] condenses a finished run: latency percentiles, throughput, goodput against
//!   the scenario's SLO, preemptions, prefix-cache hits, saturation verdict, and where the
//!   time goes stage by stage ([`StageSummary`], [`KvTransferSummary`]).

mod histogram;
mod recorder;
mod stages;
mod summary;
mod timeline;

pub use histogram::Histogram;
pub use recorder::{generated_tokens, DecodeSteps, Outcome, Recorder, RejectReason, RequestLog, TransferLog};
pub use stages::{KvTransferSummary, StageSummary};
pub use summary::{
    CostSummary, DeploymentFacts, Goodput, HostKvSummary, LatencyColumns, PrefixCacheSummary, RequestCounts,
    Saturation, SpeculativeSummary, Summary, Throughput,
};
pub use timeline::{PoolScale, Timeline, MAX_POINTS};
