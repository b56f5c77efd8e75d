//! Exact quantiles of sorted columns.

use serde::{Deserialize, Serialize};

/// The `q`-quantile (`0 ≤ q ≤ 1`) of ascending `sorted` values, by linear interpolation between
/// closest ranks (numpy's default method). Returns `None` for an empty slice.
///
/// # Example
///
/// ```
/// use servesim_core::stats::quantile_sorted;
///
/// assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
/// assert_eq!(quantile_sorted::<f64>(&[], 0.5), None);
/// assert_eq!(quantile_sorted(&[1u32, 2, 3, 4], 0.5), Some(2.5));
/// ```
pub fn quantile_sorted<T: Copy + Into<f64>>(sorted: &[T], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = q.clamp(0.0, 1.0) * last as f64;
    let below = libm::floor(rank) as usize;
    let above = (below + 1).min(last);
    let weight = rank - below as f64;
    let (low, high): (f64, f64) = (sorted[below].into(), sorted[above].into());
    Some(low + (high - low) * weight)
}

/// The summary statistics reported for every distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// Arithmetic mean.
    pub mean: f64,
    /// Smallest value.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest value.
    pub max: f64,
}

impl Quantiles {
    /// Sorts `values` in place and summarises them; `None` when empty.
    ///
    /// # Panics
    ///
    /// Panics if a value is NaN.
    pub fn of(values: &mut [f64]) -> Option<Quantiles> {
        values.sort_unstable_by(|a, b| a.partial_cmp(b).expect("NaN in a metric column"));
        Quantiles::of_sorted(values)
    }

    /// Summarises values already sorted ascending (floats, or counts such as token lengths);
    /// `None` when empty.
    pub fn of_sorted<T: Copy + Into<f64>>(values: &[T]) -> Option<Quantiles> {
        let q = |p| quantile_sorted(values, p);
        Some(Quantiles {
            mean: values.iter().map(|&v| v.into()).sum::<f64>() / values.len().max(1) as f64,
            min: (*values.first()?).into(),
            p50: q(0.5)?,
            p90: q(0.9)?,
            p95: q(0.95)?,
            p99: q(0.99)?,
            p99_9: q(0.999)?,
            max: (*values.last()?).into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        // numpy.percentile(range(1, 11), [50, 90, 95, 99]) == [5.5, 9.1, 9.55, 9.91]
        let mut values: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let q = Quantiles::of(&mut values).unwrap();
        assert_eq!((q.min, q.max, q.mean), (1.0, 10.0, 5.5));
        assert_eq!(q.p50, 5.5);
        assert!((q.p90 - 9.1).abs() < 1e-12 && (q.p95 - 9.55).abs() < 1e-12);
        assert!((q.p99 - 9.91).abs() < 1e-12 && (q.p99_9 - 9.991).abs() < 1e-12);
    }

    #[test]
    fn a_single_value_is_every_quantile_and_empty_gives_none() {
        let q = Quantiles::of(&mut [7.0]).unwrap();
        assert_eq!((q.p50, q.p99_9, q.mean), (7.0, 7.0, 7.0));
        assert_eq!(Quantiles::of(&mut []), None);
    }
}
