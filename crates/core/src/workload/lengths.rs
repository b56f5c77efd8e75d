//! Length distributions: token counts of prompts and outputs, and turns per session.

use serde::{Deserialize, Serialize};

use crate::rng::RngStream;

/// A distribution of counts (tokens, or turns), each ≥ 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Lengths {
    /// Always the same.
    Fixed {
        /// The length.
        tokens: u32,
    },
    /// Uniform over `min..=max`.
    Uniform {
        /// Shortest.
        min: u32,
        /// Longest.
        max: u32,
    },
    /// `round(median · e^(σ·Z))` with Z standard normal, clamped to `1..=max`.
    Lognormal {
        /// The median length.
        median: f64,
        /// The standard deviation of the length's logarithm.
        sigma: f64,
        /// Longest length kept (longer draws are clamped).
        max: u32,
    },
    /// `P(k) ∝ k^(−exponent)` over `min..=max`: many short, a heavy tail of long.
    Zipf {
        /// The power-law exponent, > 0.
        exponent: f64,
        /// Shortest.
        min: u32,
        /// Longest.
        max: u32,
    },
}

impl Lengths {
    /// One draw. Parameters must be valid (see [`Lengths::problems`]); invalid ones still give
    /// a count ≥ 1 rather than panic.
    pub fn draw(&self, rng: &mut RngStream) -> u32 {
        match *self {
            Lengths::Fixed { tokens } => tokens.max(1),
            Lengths::Uniform { min, max } => {
                let (low, high) = (min.min(max).max(1), min.max(max).max(1));
                low + rng.below(u64::from(high - low) + 1) as u32
            }
            Lengths::Lognormal { median, sigma, max } => {
                let length = libm::round(median * libm::exp(sigma * rng.standard_normal()));
                if length.is_nan() {
                    1
                } else {
                    length.clamp(1.0, f64::from(max.max(1))) as u32
                }
            }
            Lengths::Zipf { exponent, min, max } => {
                let (low, high) = (min.min(max).max(1), min.max(max).max(1));
                zipf(exponent, low, high, rng)
            }
        }
    }

    /// The distribution's mean (exact; the lognormal's before clamping).
    pub fn mean(&self) -> f64 {
        match *self {
            Lengths::Fixed { tokens } => f64::from(tokens),
            Lengths::Uniform { min, max } => (f64::from(min) + f64::from(max)) / 2.0,
            Lengths::Lognormal { median, sigma, .. } => median * libm::exp(sigma * sigma / 2.0),
            Lengths::Zipf { exponent, min, max } => {
                let (mut weight, mut total) = (0.0, 0.0);
                for k in min..=max.min(min.saturating_add(1_000_000)) {
                    let w = libm::pow(f64::from(k), -exponent);
                    weight += w;
                    total += w * f64::from(k);
                }
                total / weight
            }
        }
    }

    /// Problems with the parameters, as `(field, message)` pairs relative to this value.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let mut min_max = |min_field, max_field, min: u32, max: u32| {
            if min == 0 {
                problems.push((min_field, "must be ≥ 1, got 0".to_owned()));
            }
            if max < min {
                problems.push((max_field, format!("must be ≥ min ({min}), got {max}")));
            }
        };
        match *self {
            Lengths::Fixed { tokens: 0 } => min_max("fixed.tokens", "fixed.tokens", 0, 0),
            Lengths::Fixed { .. } => {}
            Lengths::Uniform { min, max } => min_max("uniform.min", "uniform.max", min, max),
            Lengths::Zipf { exponent, min, max } => {
                min_max("zipf.min", "zipf.max", min, max);
                if !(exponent.is_finite() && exponent > 0.0 && exponent <= 10.0) {
                    problems.push(("zipf.exponent", format!("must be in (0, 10], got {exponent}")));
                }
            }
            Lengths::Lognormal { median, sigma, max } => {
                if !(median.is_finite() && median >= 1.0) {
                    problems.push(("lognormal.median", format!("must be ≥ 1, got {median}")));
                }
                if !(sigma.is_finite() && (0.0..=5.0).contains(&sigma)) {
                    problems.push(("lognormal.sigma", format!("must be in [0, 5], got {sigma}")));
                }
                if max == 0 {
                    problems.push(("lognormal.max", "must be ≥ 1, got 0".to_owned()));
                }
            }
        }
        problems
    }
}

/// A Zipf draw over `low..=high` (`P(k) ∝ k^−s`) by rejection-inversion (Hörmann and
/// Derflinger, 1996): invert the integral of `x^−s` over `[k − ½, k + ½]` and accept `k` when
/// the uniform lands in the part of that slice of width `k^−s`.
fn zipf(s: f64, low: u32, high: u32, rng: &mut RngStream) -> u32 {
    if low == high {
        return low;
    }
    let h = |x: f64| libm::pow(x, -s);
    // H(x) = ∫₁ˣ t^−s dt, written to stay exact near s = 1.
    let one_minus_s = 1.0 - s;
    let big_h = |x: f64| {
        if one_minus_s.abs() < 1e-9 {
            libm::log(x)
        } else {
            libm::expm1(one_minus_s * libm::log(x)) / one_minus_s
        }
    };
    let big_h_inv = |y: f64| {
        if one_minus_s.abs() < 1e-9 {
            libm::exp(y)
        } else {
            libm::exp(libm::log1p(y * one_minus_s) / one_minus_s)
        }
    };
    let (a, b) = (f64::from(low), f64::from(high));
    let start = big_h(a + 0.5) - h(a);
    let end = big_h(b + 0.5);
    let squeeze = a + 1.0 - big_h_inv(big_h(a + 1.5) - h(a + 1.0));
    loop {
        let u = end + rng.next_f64() * (start - end);
        let x = big_h_inv(u);
        let k = libm::floor(x + 0.5).clamp(a, b);
        if k - x <= squeeze || u >= big_h(k + 0.5) - h(k) {
            return k as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::StreamId;

    #[test]
    fn zipf_draws_follow_the_exact_probabilities() {
        // Against the exact pmf, computed naively: counts within 4.5 standard deviations.
        for (s, low, high) in [(1.0, 1, 20), (1.5, 16, 60), (0.6, 3, 12), (2.5, 1, 1000)] {
            let lengths = Lengths::Zipf { exponent: s, min: low, max: high };
            let mut rng = RngStream::new(4, StreamId::LENGTHS);
            let n = 200_000;
            let mut counts = vec![0u64; (high + 1) as usize];
            for _ in 0..n {
                let k = lengths.draw(&mut rng);
                assert!((low..=high).contains(&k));
                counts[k as usize] += 1;
            }
            let total: f64 = (low..=high).map(|k| f64::from(k).powf(-s)).sum();
            for k in low..=high.min(low + 30) {
                let p = f64::from(k).powf(-s) / total;
                let expected = p * n as f64;
                let sd = (expected * (1.0 - p)).sqrt();
                let got = counts[k as usize] as f64;
                assert!((got - expected).abs() <= 4.5 * sd + 1.0, "s {s} k {k}: {got} vs {expected}");
            }
            let mean = (low..=high).map(|k| f64::from(k) * f64::from(k).powf(-s)).sum::<f64>() / total;
            assert!((lengths.mean() - mean).abs() < 1e-9 * mean);
        }
    }

    #[test]
    fn draws_stay_in_range_even_for_wide_lognormals() {
        let wide = Lengths::Lognormal { median: 100.0, sigma: 3.0, max: 500 };
        let mut rng = RngStream::new(3, StreamId::LENGTHS);
        assert!((0..10_000).all(|_| (1..=500).contains(&wide.draw(&mut rng))));
        assert_eq!(Lengths::Zipf { exponent: 1.0, min: 7, max: 7 }.draw(&mut rng), 7);
    }

    #[test]
    fn problems_name_their_field() {
        assert_eq!(
            Lengths::Zipf { exponent: 0.0, min: 0, max: 5 }.problems(),
            vec![
                ("zipf.min", "must be ≥ 1, got 0".to_owned()),
                ("zipf.exponent", "must be in (0, 10], got 0".to_owned())
            ]
        );
        assert_eq!(Lengths::Fixed { tokens: 0 }.problems(), vec![("fixed.tokens", "must be ≥ 1, got 0".to_owned())]);
    }
}
