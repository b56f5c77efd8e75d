//! Time series for charts.

use serde::{Deserialize, Serialize};

/// A named series of `(x, y)` points, x ascending (typically simulated seconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend label, e.g. `"arrivals"`.
    pub name: String,
    /// The points, x ascending.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// The empirical CDF of `values` (x = value, y = fraction ≤ x), with at most `max_points`
    /// points taken at evenly spaced ranks (the last is the maximum).
    pub fn cdf(name: &str, values: &mut [f64], max_points: usize) -> Series {
        values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN in metric columns"));
        Series::cdf_of_sorted(name, values, max_points)
    }

    /// [`Series::cdf`] of values already sorted ascending.
    pub fn cdf_of_sorted(name: &str, values: &[f64], max_points: usize) -> Series {
        let n = values.len();
        let points = if n == 0 {
            Vec::new()
        } else {
            let count = n.min(max_points.max(2));
            (0..count)
                .map(|k| {
                    let rank = if count == 1 { n - 1 } else { k * (n - 1) / (count - 1) };
                    (values[rank], (rank + 1) as f64 / n as f64)
                })
                .collect()
        };
        Series { name: name.to_owned(), points }
    }

    /// The smallest and largest y, or `None` for an empty series.
    pub fn y_range(&self) -> Option<(f64, f64)> {
        self.points.iter().map(|&(_, y)| (y, y)).reduce(|(lo, hi), (y, _)| (lo.min(y), hi.max(y)))
    }

    /// The first and last x, or `None` for an empty series.
    pub fn x_range(&self) -> Option<(f64, f64)> {
        Some((self.points.first()?.0, self.points.last()?.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_ends_at_one_and_is_monotone() {
        let mut values: Vec<f64> = (0..1_000).rev().map(f64::from).collect();
        let cdf = Series::cdf("x", &mut values, 50);
        assert_eq!(cdf.points.len(), 50);
        assert_eq!(cdf.points.first(), Some(&(0.0, 0.001)));
        assert_eq!(cdf.points.last(), Some(&(999.0, 1.0)));
        assert!(cdf.points.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        assert!(Series::cdf("empty", &mut [], 50).points.is_empty());
    }
}
