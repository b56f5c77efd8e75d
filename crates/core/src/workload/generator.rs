//! Synthetic workloads, fully reproducible from the scenario's seed.

use serde::{Deserialize, Serialize};

use super::{Trace, TraceFormat};
use crate::rng::{RngStream, StreamId};
use crate::time::SimTime;

/// A synthetic workload: an arrival process and length distributions. Fields left out take
/// the [`Default`] values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Generator {
    /// How requests arrive.
    pub arrivals: Arrivals,
    /// How many requests to generate.
    pub num_requests: u32,
    /// Prompt lengths, tokens.
    pub prompt_tokens: Lengths,
    /// Output lengths, tokens.
    pub output_tokens: Lengths,
}

impl Default for Generator {
    /// 1,000 Poisson arrivals at 4 req/s; prompts log-normal around 1,000 tokens, outputs
    /// around 200 (σ = 0.8), capped at 8,192 and 2,048 tokens.
    fn default() -> Self {
        Generator {
            arrivals: Arrivals::Poisson { rate_per_s: 4.0 },
            num_requests: 1_000,
            prompt_tokens: Lengths::Lognormal { median: 1_000.0, sigma: 0.8, max: 8_192 },
            output_tokens: Lengths::Lognormal { median: 200.0, sigma: 0.8, max: 2_048 },
        }
    }
}

/// An arrival process.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Arrivals {
    /// Exponential inter-arrival times (a Poisson process); the first request arrives at 0.
    Poisson {
        /// Mean arrivals per second.
        rate_per_s: f64,
    },
}

/// A distribution of token counts.
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
}

impl Lengths {
    fn draw(&self, rng: &mut RngStream) -> u32 {
        match *self {
            Lengths::Fixed { tokens } => tokens,
            // Invalid parameters are refused by validation; these draws stay in range anyway.
            Lengths::Uniform { min, max } => {
                let (low, high) = (min.min(max), min.max(max));
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
        }
    }

    /// Problems with the parameters, as `(field, message)` pairs relative to this value.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        match *self {
            Lengths::Fixed { tokens: 0 } => problems.push(("fixed.tokens", "must be ≥ 1, got 0".to_owned())),
            Lengths::Uniform { min, max } => {
                if min == 0 {
                    problems.push(("uniform.min", "must be ≥ 1, got 0".to_owned()));
                }
                if max < min {
                    problems.push(("uniform.max", format!("must be ≥ min ({min}), got {max}")));
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
            Lengths::Fixed { .. } => {}
        }
        problems
    }
}

/// The latest arrival a generator produces, seconds (as for imported traces).
const MAX_ARRIVAL_S: f64 = 1e10;

/// The most requests a generator may make (the browser holds every record in memory).
pub const MAX_GENERATED_REQUESTS: u32 = 1_000_000;

/// The longest expected arrival span accepted, seconds (`num_requests / rate`).
pub const MAX_EXPECTED_SPAN_S: f64 = 1e9;

impl Generator {
    /// The requests this generator makes with `seed`: arrival gaps from the `ARRIVALS` stream,
    /// prompt lengths from `LENGTHS`, output lengths from `LENGTHS.child(1)`, so changing one
    /// distribution never changes the draws of another.
    ///
    /// # Example
    ///
    /// ```
    /// use servesim_core::workload::Generator;
    ///
    /// let trace = Generator::default().generate(42);
    /// assert_eq!(trace.num_requests(), 1_000);
    /// assert_eq!(trace, Generator::default().generate(42));
    /// ```
    pub fn generate(&self, seed: u64) -> Trace {
        let mut arrivals = RngStream::new(seed, StreamId::ARRIVALS);
        let mut prompts = RngStream::new(seed, StreamId::LENGTHS);
        let mut outputs = RngStream::new(seed, StreamId::LENGTHS.child(1));
        let n = self.num_requests as usize;
        let mut trace = Trace::empty(TraceFormat::Generated);
        let mut at_s: f64 = 0.0;
        for i in 0..n {
            if i > 0 {
                let gap = match self.arrivals {
                    Arrivals::Poisson { rate_per_s } => arrivals.exponential(rate_per_s),
                };
                // Validation bounds the expected span; this keeps any draw representable.
                at_s = (at_s + gap).min(MAX_ARRIVAL_S);
            }
            trace.arrived_at.push(SimTime::from_secs_f64(at_s));
            trace.prompt_tokens.push(self.prompt_tokens.draw(&mut prompts));
            trace.output_tokens.push(self.output_tokens.draw(&mut outputs));
        }
        trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::quantile_sorted;

    #[test]
    fn poisson_arrivals_have_the_requested_rate_and_lengths_their_distributions() {
        let generator = Generator {
            arrivals: Arrivals::Poisson { rate_per_s: 10.0 },
            num_requests: 20_000,
            prompt_tokens: Lengths::Lognormal { median: 1_000.0, sigma: 0.5, max: 1_000_000 },
            output_tokens: Lengths::Uniform { min: 10, max: 20 },
        };
        let trace = generator.generate(1);
        let span = trace.arrived_at.last().unwrap().as_secs_f64();
        let rate = (trace.num_requests() - 1) as f64 / span;
        assert!((rate - 10.0).abs() < 0.2, "rate {rate}");
        let mut prompts: Vec<f64> = trace.prompt_tokens.iter().map(|&t| f64::from(t)).collect();
        prompts.sort_by(f64::total_cmp);
        let median = quantile_sorted(&prompts, 0.5).unwrap();
        assert!((median - 1_000.0).abs() < 20.0, "median {median}");
        assert!(trace.output_tokens.iter().all(|&t| (10..=20).contains(&t)));
        assert!(trace.output_tokens.contains(&10) && trace.output_tokens.contains(&20));
    }

    #[test]
    fn lengths_are_clamped_and_streams_are_independent() {
        let wide = Lengths::Lognormal { median: 100.0, sigma: 3.0, max: 500 };
        let mut rng = RngStream::new(3, StreamId::LENGTHS);
        assert!((0..10_000).all(|_| (1..=500).contains(&wide.draw(&mut rng))));

        let base = Generator::default();
        let other_outputs = Generator { output_tokens: Lengths::Fixed { tokens: 7 }, ..Generator::default() };
        let (a, b) = (base.generate(9), other_outputs.generate(9));
        assert_eq!(a.arrived_at, b.arrived_at);
        assert_eq!(a.prompt_tokens, b.prompt_tokens);
        assert!(b.output_tokens.iter().all(|&t| t == 7));
        assert_ne!(base.generate(9), base.generate(10));
    }
}
