//! A description of a trace for the trace explorer: size, time span, rate over time,
//! burstiness, length distributions and histograms, sessions, classes and prefix reuse.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::stats::{bucket_width_s, Quantiles, Series, SeriesId};

use super::{Trace, TraceFormat};

/// Most buckets in [`TraceSummary::arrival_rate`].
const MAX_RATE_BUCKETS: usize = 120;

/// What `servesim inspect` and the app's trace explorer show about a trace.
///
/// Arrival statistics count only requests with an arrival time of their own: a chained request
/// (a session's later turn, a closed-loop client's next request) arrives when the run says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    /// The format the trace was read from.
    pub format: TraceFormat,
    /// Number of requests.
    pub num_requests: u64,
    /// Whether the trace has arrival times (a length-only file has none).
    pub has_arrivals: bool,
    /// Requests whose arrival waits for another request to end.
    pub num_chained_requests: u64,
    /// Seconds from the first arrival to the last.
    pub span_s: f64,
    /// `(arrivals − 1) / span`, in requests per second; `None` when the span is zero.
    pub mean_rate_per_s: Option<f64>,
    /// The highest rate in [`TraceSummary::arrival_rate`].
    pub peak_rate_per_s: Option<f64>,
    /// Burstiness: the coefficient of variation of the gaps between arrivals (1 for Poisson,
    /// above 1 bursty); `None` with fewer than three arrivals or no gaps.
    pub gap_cv: Option<f64>,
    /// Sum of prompt tokens.
    pub total_prompt_tokens: u64,
    /// Sum of output tokens.
    pub total_output_tokens: u64,
    /// Prompt-length distribution (tokens).
    pub prompt_tokens: Quantiles,
    /// Output-length distribution (tokens).
    pub output_tokens: Quantiles,
    /// Prompt lengths in half-octave bins.
    pub prompt_histogram: LengthHistogram,
    /// Output lengths in half-octave bins.
    pub output_histogram: LengthHistogram,
    /// Number of sessions, when the trace has a session column.
    pub num_sessions: Option<u64>,
    /// Requests (turns) per session.
    pub turns_per_session: Option<Quantiles>,
    /// Requests per class, when the trace has a class column.
    pub classes: Vec<ClassCount>,
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

/// How many requests of a trace belong to one class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCount {
    /// The class name.
    pub name: String,
    /// Its requests.
    pub num_requests: u64,
}

/// Counts of lengths in bins `[edges[i], edges[i + 1])`; the edges are `⌈2^(k/2)⌉`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LengthHistogram {
    /// Bin edges, tokens, one more than `counts`.
    pub edges: Vec<u64>,
    /// Lengths per bin.
    pub counts: Vec<u64>,
}

impl LengthHistogram {
    /// Bins `lengths` in half octaves from the shortest to the longest.
    pub fn of(lengths: &[u32]) -> LengthHistogram {
        let (Some(&min), Some(&max)) = (lengths.iter().min(), lengths.iter().max()) else {
            return LengthHistogram { edges: Vec::new(), counts: Vec::new() };
        };
        // Half-octave k covers [⌈2^(k/2)⌉, ⌈2^((k+1)/2)⌉); duplicate edges (k < 4) merged.
        let edge = |k: u32| libm::ceil(libm::pow(2.0, f64::from(k) / 2.0)) as u64;
        let bin_of = |length: u32| (2.0 * libm::log2(f64::from(length))) as u32;
        let (first, last) = (bin_of(min), bin_of(max));
        let mut edges: Vec<u64> = (first..=last + 1).map(edge).collect();
        edges.dedup();
        let mut counts = vec![0u64; edges.len() - 1];
        for &length in lengths {
            let length = u64::from(length);
            let bin = edges.partition_point(|&edge| edge <= length).saturating_sub(1).min(counts.len() - 1);
            counts[bin] += 1;
        }
        LengthHistogram { edges, counts }
    }
}

impl TraceSummary {
    /// Summarises `trace`; `None` when it has no requests. Besides the histograms it allocates
    /// only a sorted copy of each length column, so a trace of millions of rows summarises in
    /// little more memory than it holds.
    pub fn of(trace: &Trace) -> Option<TraceSummary> {
        // Arrivals of their own: chained requests arrive when the run says.
        let times = || {
            (0..trace.num_requests())
                .filter(|&row| !trace.is_chained(row))
                .map(|row| trace.arrived_at[row].as_secs_f64())
        };
        let timed = trace.has_arrivals && times().next().is_some();
        let first = if timed { times().next().unwrap_or(0.0) } else { 0.0 };
        let span_s = if timed { times().next_back().unwrap_or(0.0) - first } else { 0.0 };
        let num_timed = times().count();
        let sorted = |column: &[u32]| {
            let mut copy = column.to_vec();
            copy.sort_unstable();
            copy
        };
        let arrival_rate = if timed {
            arrival_rate(times(), first, span_s)
        } else {
            Series { id: SeriesId::ArrivalsPerS, points: Vec::new() }
        };
        Some(TraceSummary {
            format: trace.format,
            num_requests: trace.num_requests() as u64,
            has_arrivals: trace.has_arrivals,
            num_chained_requests: trace.num_chained() as u64,
            span_s,
            mean_rate_per_s: (span_s > 0.0).then(|| (num_timed - 1) as f64 / span_s),
            peak_rate_per_s: arrival_rate.points.iter().map(|&(_, rate)| rate).reduce(f64::max),
            gap_cv: if timed { gap_cv(times) } else { None },
            total_prompt_tokens: trace.prompt_tokens.iter().map(|&v| u64::from(v)).sum(),
            total_output_tokens: trace.output_tokens.iter().map(|&v| u64::from(v)).sum(),
            prompt_tokens: Quantiles::of_sorted(&sorted(&trace.prompt_tokens))?,
            output_tokens: Quantiles::of_sorted(&sorted(&trace.output_tokens))?,
            prompt_histogram: LengthHistogram::of(&trace.prompt_tokens),
            output_histogram: LengthHistogram::of(&trace.output_tokens),
            num_sessions: (!trace.sessions.is_empty()).then(|| trace.num_sessions() as u64),
            turns_per_session: turns_per_session(trace),
            classes: trace
                .class_names
                .iter()
                .enumerate()
                .map(|(index, name)| ClassCount {
                    name: name.clone(),
                    num_requests: trace.classes.iter().filter(|&&class| usize::from(class) == index).count() as u64,
                })
                .collect(),
            ideal_block_reuse: ideal_block_reuse(trace),
            arrival_rate_bucket_s: rate_bucket_width_s(span_s),
            arrival_rate,
            digest: trace.digest(),
        })
    }
}

/// The coefficient of variation of the gaps between successive `times` (two passes).
fn gap_cv<I: Iterator<Item = f64>>(times: impl Fn() -> I) -> Option<f64> {
    let gaps = || times().zip(times().skip(1)).map(|(earlier, later)| later - earlier);
    let n = gaps().count();
    if n < 2 {
        return None;
    }
    let mean = gaps().sum::<f64>() / n as f64;
    if mean <= 0.0 {
        return None;
    }
    let variance = gaps().map(|gap| (gap - mean) * (gap - mean)).sum::<f64>() / (n - 1) as f64;
    Some(libm::sqrt(variance) / mean)
}

fn turns_per_session(trace: &Trace) -> Option<Quantiles> {
    if trace.sessions.is_empty() {
        return None;
    }
    let mut turns = vec![0.0f64; trace.num_sessions()];
    for &session in &trace.sessions {
        turns[session as usize] += 1.0;
    }
    Quantiles::of(&mut turns)
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

fn arrival_rate(times: impl Iterator<Item = f64>, first_s: f64, span_s: f64) -> Series {
    let width_s = rate_bucket_width_s(span_s);
    let num_buckets = ((span_s / width_s) as usize + 1).min(MAX_RATE_BUCKETS);
    let mut counts = vec![0u64; num_buckets];
    for at in times {
        let bucket = ((at - first_s) / width_s) as usize;
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
        assert_eq!(summary.gap_cv, Some(0.0), "evenly spaced");
        assert_eq!((summary.total_prompt_tokens, summary.total_output_tokens), (2100, 60));
        assert_eq!(summary.prompt_tokens.p50, 600.0);
        // 5 hash entries, of which the 2nd and 3rd `0` were seen before.
        assert_eq!(summary.ideal_block_reuse, Some(0.4));
        // A 4 s span fits in 1 s buckets: 5 buckets with one arrival in 0, 2 and 4.
        let rates: Vec<f64> = summary.arrival_rate.points.iter().map(|&(_, y)| y).collect();
        assert_eq!(rates, vec![1.0, 0.0, 1.0, 0.0, 1.0]);
        assert_eq!(summary.peak_rate_per_s, Some(1.0));
        assert_eq!(summary.digest, trace.digest());
        assert_eq!((summary.num_sessions, summary.classes.len()), (None, 0));
    }

    #[test]
    fn gap_cv_of_known_gaps() {
        // Gaps 1 and 3: mean 2, sample sd √2, cv √2 / 2.
        assert_eq!(gap_cv(|| [0.0, 1.0, 4.0].into_iter()), Some(std::f64::consts::SQRT_2 / 2.0));
        assert_eq!(gap_cv(|| [0.0, 0.0, 0.0].into_iter()), None);
    }

    #[test]
    fn histograms_bin_in_half_octaves_and_count_everything() {
        let histogram = LengthHistogram::of(&[1, 2, 3, 5, 6, 100, 181, 182]);
        // Edges ⌈2^(k/2)⌉ for k = 0, 1, …: 1, 2, 2 (merged), 3, 4, 6, 8, 12, 16, 23, 32, 46, 64,
        // 91, 128, 182, 256.
        assert_eq!(histogram.edges, [1, 2, 3, 4, 6, 8, 12, 16, 23, 32, 46, 64, 91, 128, 182, 256]);
        // 1 | 2 | 3 | 5 | 6 | – … – | 100 in [91, 128) | 181 in [128, 182) | 182 in [182, 256).
        assert_eq!(histogram.counts, [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn length_only_traces_have_no_rate_and_sessions_and_classes_are_counted() {
        let lengths = parse_trace("num_prefill_tokens,num_decode_tokens\n5,5\n7,7\n", &mut |_| {}).unwrap();
        let summary = TraceSummary::of(&lengths).unwrap();
        assert!(!summary.has_arrivals);
        assert_eq!((summary.span_s, summary.mean_rate_per_s, summary.gap_cv), (0.0, None, None));
        assert!(summary.arrival_rate.points.is_empty());

        let burst = parse_trace(
            "Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
             5,a,1,ChatGPT,472,18,490,Conversation log\n45,a,1,GPT-4,1087,230,1317,Conversation log\n\
             118,b,1,GPT-4,417,276,693,Conversation log\n",
            &mut |_| {},
        )
        .unwrap();
        let summary = TraceSummary::of(&burst).unwrap();
        assert_eq!(summary.num_sessions, Some(2));
        assert_eq!(summary.turns_per_session.as_ref().map(|q| (q.min, q.max)), Some((1.0, 2.0)));
        let classes: Vec<(&str, u64)> = summary.classes.iter().map(|c| (c.name.as_str(), c.num_requests)).collect();
        assert_eq!(classes, [("ChatGPT", 1), ("GPT-4", 2)]);
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
