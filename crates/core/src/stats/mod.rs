//! Statistics shared by workloads and metrics: exact quantiles, chart series and round time
//! buckets.
//!
//! - [`quantile_sorted`] and [`Quantiles`] compute exact percentiles of sorted columns.
//! - [`Series`] is a chart's data, named by a typed [`SeriesId`].
//! - [`bucket_width_s`] picks a round bucket width for a time span.

mod quantile;
mod series;

pub use quantile::{quantile_sorted, Quantiles};
pub use series::{Series, SeriesId};

/// Round bucket widths, seconds; beyond the last, whole multiples of it.
const NICE_SECONDS: [u64; 14] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

/// The smallest round width, in whole seconds, that cuts `span_s` seconds into at most
/// `max_buckets` buckets (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2 h, then
/// multiples of 2 h).
///
/// # Example
///
/// ```
/// use servesim_core::stats::bucket_width_s;
///
/// assert_eq!(bucket_width_s(3_537.0, 1_000), 5);
/// assert_eq!(bucket_width_s(3_537.0, 120), 30);
/// assert_eq!(bucket_width_s(1e10, 1_000), 10_000_800); // 1,389 × 2 h
/// ```
pub fn bucket_width_s(span_s: f64, max_buckets: u64) -> u64 {
    let needed = span_s.max(0.0) / max_buckets.max(1) as f64;
    match NICE_SECONDS.into_iter().find(|&width| width as f64 >= needed) {
        Some(width) => width,
        None => {
            let step = NICE_SECONDS[NICE_SECONDS.len() - 1];
            (libm::ceil(needed / step as f64) as u64).max(1) * step
        }
    }
}
