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
    /// The smallest and largest y, or `None` for an empty series.
    pub fn y_range(&self) -> Option<(f64, f64)> {
        self.points.iter().map(|&(_, y)| (y, y)).reduce(|(lo, hi), (y, _)| (lo.min(y), hi.max(y)))
    }

    /// The first and last x, or `None` for an empty series.
    pub fn x_range(&self) -> Option<(f64, f64)> {
        Some((self.points.first()?.0, self.points.last()?.0))
    }
}
