//! Metrics: exact quantiles and time series (request records and summaries join with the
//! simulator; `docs/metrics.md` defines every number).

mod quantile;
mod series;

pub use quantile::{quantile_sorted, Quantiles};
pub use series::Series;
