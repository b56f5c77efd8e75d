//! A description of a trace: size, time span, rate, length percentiles and prefix reuse.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::stats::{bucket_width_s, Quantiles, Series, SeriesId};

use super::{Trace, TraceFormat};

/// Most buckets in [`TraceSummary::arrival_rate`].
const MAX_RATE_BUCKETS: usize = 120;

/// What `servesim inspect` and the app's workload panel show about a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    /// The format the trace was read from.
    pub format: TraceFormat,
    /// Number of requests.
    pub num_requests: u64,
    /// Seconds from the first arrival to the last.
    pub span_s: f64,
    /// `(requests − 1) / span`, in requests per second; `None` when the span is zero.
    pub mean_rate_per_s: Option<f64>,
    /// Sum of prompt tokens.
    pub total_prompt_tokens: u64,
    /// Sum of output tokens.
    pub total_output_tokens: u64,
    /// Prompt-length distribution (tokens).
    pub prompt_tokens: Quantiles,
    /// Output-length distribution (tokens).
    pub output_tokens: Quantiles,
    /// Fraction of prefix-block hashes already seen in an earlier request: the block-level
    /// prefix-cache hit ratio of an infinite cache. `None` when the trace has no hashes.
    pub ideal_block_reuse: Option<f64>,
    /// Arrivals per second over time, in at most 120 equal buckets of a round width.
    pub arrival_rate: Series,
    /// The width of those buckets, seconds.
    pub arrival_rate_bucket_s: f64,
    /// [`Trace::digest`] of the trace (a hex string in JSON).
    #[serde(with = "crate::digest::hex_u64")]
    pub digest: u64,
}

impl TraceSummary {
    /// Summarises `trace`; `None` when it has no requests.
    pub fn of(trace: &Trace) -> Option<TraceSummary> {
        let first = trace.arrived_at.first()?.as_secs_f64();
        let span_s = trace.arrived_at.last()?.as_secs_f64() - first;
        let num_requests = trace.num_requests() as u64;
        let as_floats = |column: &[u32]| column.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
        Some(TraceSummary {
            format: trace.format,
            num_requests,
            span_s,
            mean_rate_per_s: (span_s > 0.0).then(|| (num_requests - 1) as f64 / span_s),
            total_prompt_tokens: trace.prompt_tokens.iter().map(|&v| u64::from(v)).sum(),
            total_output_tokens: trace.output_tokens.iter().map(|&v| u64::from(v)).sum(),
            prompt_tokens: Quantiles::of(&mut as_floats(&trace.prompt_tokens))?,
            output_tokens: Quantiles::of(&mut as_floats(&trace.output_tokens))?,
            ideal_block_reuse: ideal_block_reuse(trace),
            arrival_rate: arrival_rate(trace, first, span_s),
            arrival_rate_bucket_s: rate_bucket_width_s(span_s),
            digest: trace.digest(),
        })
    }
}

fn ideal_block_reuse(trace: &Trace) -> Option<f64> {
    if trace.block_hashes.is_empty() {
        return None;
    }
    let mut seen = BTreeSet::new();
    let mut reused = 0u64;
    for row in 0..trace.num_requests() {
        for &hash in trace.block_hashes_of(row) {
            if !seen.insert(hash) {
                reused += 1;
            }
        }
    }
    Some(reused as f64 / trace.block_hashes.len() as f64)
}

/// One bucket more than the span needs, so the last arrival has its own.
fn rate_bucket_width_s(span_s: f64) -> f64 {
    bucket_width_s(span_s, MAX_RATE_BUCKETS as u64 - 1) as f64
}

fn arrival_rate(trace: &Trace, first_s: f64, span_s: f64) -> Series {
    let width_s = rate_bucket_width_s(span_s);
    let num_buckets = ((span_s / width_s) as usize + 1).min(MAX_RATE_BUCKETS);
    let mut counts = vec![0u64; num_buckets];
    for at in &trace.arrived_at {
        let bucket = ((at.as_secs_f64() - first_s) / width_s) as usize;
        counts[bucket.min(num_buckets - 1)] += 1;
    }
    Series {
        id: SeriesId::ArrivalsPerS,
        points: counts
            .iter()
            .enumerate()
            .map(|(i, &count)| (first_s + i as f64 * width_s, count as f64 / width_s))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::parse_trace;

    #[test]
    fn summary_counts_tokens_rates_and_reuse() {
        let trace = parse_trace(
            "{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 10, \"hash_ids\": [0, 1]}\n\
             {\"timestamp\": 2000, \"input_length\": 600, \"output_length\": 30, \"hash_ids\": [0, 2]}\n\
             {\"timestamp\": 4000, \"input_length\": 500, \"output_length\": 20, \"hash_ids\": [0]}\n",
            &mut |_| {},
        )
        .unwrap();
        let summary = TraceSummary::of(&trace).unwrap();
        assert_eq!(summary.num_requests, 3);
        assert_eq!(summary.span_s, 4.0);
        assert_eq!(summary.mean_rate_per_s, Some(0.5));
        assert_eq!((summary.total_prompt_tokens, summary.total_output_tokens), (2100, 60));
        assert_eq!(summary.prompt_tokens.p50, 600.0);
        // 5 hash entries, of which the 2nd and 3rd `0` were seen before.
        assert_eq!(summary.ideal_block_reuse, Some(0.4));
        // A 4 s span fits in 1 s buckets: 5 buckets with one arrival in 0, 2 and 4.
        let rates: Vec<f64> = summary.arrival_rate.points.iter().map(|&(_, y)| y).collect();
        assert_eq!(rates, vec![1.0, 0.0, 1.0, 0.0, 1.0]);
        assert_eq!(summary.digest, trace.digest());
    }

    #[test]
    fn a_single_request_has_no_rate_and_long_spans_use_wide_buckets() {
        let one = parse_trace("arrived_at,num_prefill_tokens,num_decode_tokens\n3,5,5\n", &mut |_| {}).unwrap();
        let summary = TraceSummary::of(&one).unwrap();
        assert_eq!((summary.span_s, summary.mean_rate_per_s), (0.0, None));
        assert_eq!(summary.arrival_rate.points, vec![(0.0, 1.0)], "arrivals start at zero");

        let long =
            parse_trace("arrived_at,num_prefill_tokens,num_decode_tokens\n0,5,5\n3537,5,5\n", &mut |_| {}).unwrap();
        let summary = TraceSummary::of(&long).unwrap();
        assert_eq!(summary.arrival_rate.points.len(), 118); // 30 s buckets
        assert_eq!(summary.arrival_rate_bucket_s, 30.0);
    }
}
