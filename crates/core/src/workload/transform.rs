//! Transforms applied to any workload and kept in the scenario: time window, sampling, rate
//! scale, length clipping.

use serde::{Deserialize, Serialize};

use super::Trace;
use crate::rng::{RngStream, StreamId};
use crate::time::{SimDuration, SimTime};

/// What to do to a workload's requests, applied in this order: keep a time window, keep a
/// sample, scale the rate, clip lengths. The default changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Transform {
    /// Keep only requests arriving in `[start_s, end_s)` of the original clock; times are then
    /// shifted so `start_s` becomes 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// Keep each request with this probability (whole sessions when the trace has sessions),
    /// drawn from the seed. 1 keeps all.
    pub sample_fraction: f64,
    /// Multiply the arrival rate: 2 halves every gap (and think time) — "what if traffic
    /// doubles". 1 changes nothing.
    pub rate_scale: f64,
    /// Clip prompts to at most this many tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_prompt_tokens: Option<u32>,
    /// Clip outputs to at most this many tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
}

/// A time window, seconds from the workload's first arrival.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start (inclusive).
    pub start_s: f64,
    /// End (exclusive).
    pub end_s: f64,
}

impl Default for Transform {
    fn default() -> Self {
        Transform {
            window: None,
            sample_fraction: 1.0,
            rate_scale: 1.0,
            max_prompt_tokens: None,
            max_output_tokens: None,
        }
    }
}

impl Transform {
    /// Whether this transform changes nothing.
    pub fn is_identity(&self) -> bool {
        *self == Transform::default()
    }

    /// Problems with the parameters, as `(field, message)` pairs relative to `transform`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !(self.rate_scale.is_finite() && self.rate_scale >= 1e-6 && self.rate_scale <= 1e6) {
            problems.push(("rate_scale", format!("must be in [1e-6, 1e6], got {}", self.rate_scale)));
        }
        if !(self.sample_fraction > 0.0 && self.sample_fraction <= 1.0) {
            problems.push(("sample_fraction", format!("must be in (0, 1], got {}", self.sample_fraction)));
        }
        if let Some(Window { start_s, end_s }) = self.window {
            if !(start_s.is_finite() && start_s >= 0.0) {
                problems.push(("window.start_s", format!("must be ≥ 0, got {start_s}")));
            }
            if !(end_s.is_finite() && end_s > start_s) {
                problems.push(("window.end_s", format!("must be > start_s ({start_s}), got {end_s}")));
            }
        }
        for (field, max) in
            [("max_prompt_tokens", self.max_prompt_tokens), ("max_output_tokens", self.max_output_tokens)]
        {
            if max == Some(0) {
                problems.push((field, "must be ≥ 1, got 0".to_owned()));
            }
        }
        problems
    }

    /// Applies the transform to `trace`; sampling draws from `seed`. Parameters must be valid.
    pub fn apply(&self, trace: Trace, seed: u64) -> Trace {
        if self.is_identity() {
            return trace;
        }
        let mut trace = trace;
        if let Some(window) = self.window {
            let start = SimTime::from_secs_f64(window.start_s);
            let end = SimTime::from_secs_f64(window.end_s);
            let keep: Vec<usize> =
                (0..trace.num_requests()).filter(|&row| (start..end).contains(&trace.arrived_at[row])).collect();
            trace = trace.select(keep);
            for at in &mut trace.arrived_at {
                *at = SimTime::from_nanos(at.as_nanos() - start.as_nanos());
            }
        }
        if self.sample_fraction < 1.0 {
            let mut rng = RngStream::new(seed, StreamId::TRANSFORM);
            // One draw per session (or per request), so a session is kept or dropped whole.
            let units = if trace.sessions.is_empty() { trace.num_requests() } else { trace.num_sessions() };
            let kept: Vec<bool> = (0..units).map(|_| rng.next_f64() < self.sample_fraction).collect();
            let unit_of = |row: usize| if trace.sessions.is_empty() { row } else { trace.sessions[row] as usize };
            let keep: Vec<usize> = (0..trace.num_requests()).filter(|&row| kept[unit_of(row)]).collect();
            trace = trace.select(keep);
        }
        if self.rate_scale != 1.0 {
            let scale = |nanos: u64| libm::round(nanos as f64 / self.rate_scale) as u64;
            for at in &mut trace.arrived_at {
                *at = SimTime::from_nanos(scale(at.as_nanos()));
            }
            for think in &mut trace.think_time {
                *think = SimDuration::from_nanos(scale(think.as_nanos()));
            }
        }
        if let Some(max) = self.max_prompt_tokens {
            trace.prompt_tokens.iter_mut().for_each(|tokens| *tokens = (*tokens).min(max));
            clip_hashes(&mut trace, max);
        }
        if let Some(max) = self.max_output_tokens {
            trace.output_tokens.iter_mut().for_each(|tokens| *tokens = (*tokens).min(max));
        }
        trace
    }
}

/// Drops the prefix hashes beyond each (clipped) prompt: `ceil(prompt / block)` remain.
fn clip_hashes(trace: &mut Trace, max_prompt_tokens: u32) {
    if trace.block_starts.is_empty() || trace.hash_block_tokens == 0 {
        return;
    }
    let keep_at_most = max_prompt_tokens.div_ceil(trace.hash_block_tokens) as usize;
    let mut hashes = Vec::with_capacity(trace.block_hashes.len());
    let mut starts = Vec::with_capacity(trace.block_starts.len());
    starts.push(0);
    for row in 0..trace.num_requests() {
        let row_hashes = trace.block_hashes_of(row);
        hashes.extend_from_slice(&row_hashes[..row_hashes.len().min(keep_at_most)]);
        starts.push(hashes.len() as u32);
    }
    trace.block_hashes = hashes;
    trace.block_starts = starts;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{parse_trace, Generator, GeneratorClass, Lengths, Sessions};

    fn trace() -> Trace {
        parse_trace(
            "{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 10, \"hash_ids\": [0, 1]}\n\
             {\"timestamp\": 1500, \"input_length\": 600, \"output_length\": 30, \"hash_ids\": [0, 2]}\n\
             {\"timestamp\": 4000, \"input_length\": 1500, \"output_length\": 20, \"hash_ids\": [0, 3, 4]}\n\
             {\"timestamp\": 4002, \"input_length\": 500, \"output_length\": 20, \"hash_ids\": [0]}\n",
            &mut |_| {},
        )
        .unwrap()
    }

    #[test]
    fn doubling_the_rate_halves_every_gap_exactly() {
        let original = trace();
        let doubled = Transform { rate_scale: 2.0, ..Transform::default() }.apply(original.clone(), 1);
        for row in 1..original.num_requests() {
            let gap = original.arrived_at[row].as_nanos() - original.arrived_at[row - 1].as_nanos();
            let new_gap = doubled.arrived_at[row].as_nanos() - doubled.arrived_at[row - 1].as_nanos();
            assert_eq!(new_gap * 2, gap, "row {row}");
        }
        assert_eq!(
            (doubled.prompt_tokens.clone(), doubled.block_hashes.clone()),
            (original.prompt_tokens, original.block_hashes)
        );
    }

    #[test]
    fn a_window_keeps_its_requests_and_starts_them_at_zero() {
        let window = Transform { window: Some(Window { start_s: 1.0, end_s: 4.001 }), ..Transform::default() };
        let kept = window.apply(trace(), 1);
        assert_eq!(kept.prompt_tokens, vec![600, 1500]);
        assert_eq!(kept.arrived_at, vec![SimTime::from_nanos(500_000_000), SimTime::from_nanos(3_000_000_000)]);
        assert_eq!(kept.block_hashes_of(1), &[0, 3, 4]);
    }

    #[test]
    fn clipping_caps_lengths_and_drops_the_hashes_beyond_the_prompt() {
        let clip = Transform { max_prompt_tokens: Some(700), max_output_tokens: Some(15), ..Transform::default() };
        let clipped = clip.apply(trace(), 1);
        assert_eq!(clipped.prompt_tokens, vec![700, 600, 700, 500]);
        assert_eq!(clipped.output_tokens, vec![10, 15, 15, 15]);
        assert_eq!(clipped.block_hashes_of(2), &[0, 3], "ceil(700 / 512) = 2 blocks");
    }

    #[test]
    fn sampling_keeps_about_the_fraction_and_whole_sessions() {
        let generator = Generator::single(GeneratorClass {
            num_requests: 20_000,
            sessions: Some(Sessions {
                turns: Lengths::Fixed { tokens: 4 },
                think_time_s: 1.0,
                system_prompt_tokens: 64,
            }),
            ..GeneratorClass::default()
        });
        let full = generator.generate(3);
        let half = Transform { sample_fraction: 0.5, ..Transform::default() }.apply(full.clone(), 3);
        // 5,000 sessions, each kept with probability ½: 4·Binomial(5000, ½) turns, sd ≈ 141.
        let kept = half.num_requests() as f64;
        assert!((kept - 10_000.0).abs() < 4.0 * 141.5, "{kept}");
        assert_eq!(half.num_requests() % 4, 0, "whole sessions");
        // Every kept turn after the first of its session still follows the turn before it.
        assert_eq!(half.num_chained(), half.num_requests() - half.num_sessions());
        assert_eq!(Transform::default().apply(full.clone(), 3), full);
    }

    #[test]
    fn problems_name_their_field() {
        let bad = Transform {
            rate_scale: 0.0,
            sample_fraction: 0.0,
            window: Some(Window { start_s: 5.0, end_s: 5.0 }),
            max_prompt_tokens: Some(0),
            max_output_tokens: None,
        };
        let fields: Vec<&str> = bad.problems().iter().map(|p| p.0).collect();
        assert_eq!(fields, ["rate_scale", "sample_fraction", "window.end_s", "max_prompt_tokens"]);
    }
}
