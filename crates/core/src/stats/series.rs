//! Time series and CDFs for charts, named by a typed id.

use serde::{Deserialize, Serialize};

/// What a series shows. Charts pick their series by id, never by label text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesId {
    /// Requests arriving per second, over time.
    ArrivalsPerS,
    /// Requests completing per second, over time.
    CompletionsPerS,
    /// Output tokens emitted per second, over time.
    OutputTokensPerS,
    /// Requests admitted and not finished (prefilling or decoding), summed over replicas.
    Running,
    /// Requests queued for admission, summed over replicas.
    Waiting,
    /// KV blocks in use, percent of the cluster's blocks.
    KvCacheUsedPercent,
    /// Prompt tokens served from the prefix cache, percent of the prompt tokens admitted.
    PrefixCacheHitPercent,
    /// Host-tier KV blocks in use, percent of the cluster's host blocks.
    HostKvUsedPercent,
    /// Prompt tokens loaded from the host tier, percent of the prompt tokens admitted.
    HostCacheHitPercent,
    /// Tokens emitted per verification step under speculative decoding (accepted drafts plus
    /// one), averaged over the bucket's verifications.
    AcceptanceLength,
    /// Disaggregated: requests queued on the prefill pool.
    PrefillWaiting,
    /// Disaggregated: requests queued on the decode pool (waiting for blocks for their KV, or
    /// preempted).
    DecodeWaiting,
    /// Disaggregated: the prefill pool's KV blocks in use, percent of its blocks.
    PrefillKvUsedPercent,
    /// Disaggregated: the decode pool's KV blocks in use, percent of its blocks.
    DecodeKvUsedPercent,
    /// Disaggregated: prefill-pool blocks held for requests whose KV waits to be sent, percent
    /// of the pool's blocks (the decode pool's back-pressure).
    PrefillKvHeldPercent,
    /// Disaggregated: KV transfers moving bytes, on average over the bucket.
    TransfersInFlight,
    /// Disaggregated: bytes the KV links carry per second, GB/s.
    KvLinkGbPerS,
    /// Disaggregated: KV link utilisation, percent of the send capacity of the ports that carry
    /// transfers.
    KvLinkUtilizationPercent,
    /// CDF of time to first token (x in ms).
    TtftCdf,
    /// CDF of time per output token (x in ms).
    TpotCdf,
    /// CDF of end-to-end latency (x in ms).
    E2eCdf,
    /// Share of requests per prompt-length bin (x in tokens).
    PromptLengths,
    /// Share of requests per output-length bin (x in tokens).
    OutputLengths,
}

impl SeriesId {
    /// The legend label.
    pub const fn label(self) -> &'static str {
        match self {
            SeriesId::ArrivalsPerS => "arrivals/s",
            SeriesId::CompletionsPerS => "completions/s",
            SeriesId::OutputTokensPerS => "output tokens/s",
            SeriesId::Running => "running",
            SeriesId::Waiting => "waiting",
            SeriesId::KvCacheUsedPercent => "KV cache used (%)",
            SeriesId::PrefixCacheHitPercent => "prefix cache hits (% of prompt tokens)",
            SeriesId::AcceptanceLength => "acceptance length (tokens per verification)",
            SeriesId::HostKvUsedPercent => "host KV tier used (%)",
            SeriesId::HostCacheHitPercent => "host-tier hits (% of prompt tokens)",
            SeriesId::PrefillWaiting => "prefill pool waiting",
            SeriesId::DecodeWaiting => "decode pool waiting",
            SeriesId::PrefillKvUsedPercent => "prefill pool KV used (%)",
            SeriesId::DecodeKvUsedPercent => "decode pool KV used (%)",
            SeriesId::PrefillKvHeldPercent => "prefill KV held for transfer (%)",
            SeriesId::TransfersInFlight => "KV transfers in flight",
            SeriesId::KvLinkGbPerS => "KV link traffic (GB/s)",
            SeriesId::KvLinkUtilizationPercent => "KV link utilisation (%)",
            SeriesId::TtftCdf => "TTFT",
            SeriesId::TpotCdf => "TPOT",
            SeriesId::E2eCdf => "E2E",
            SeriesId::PromptLengths => "prompt tokens",
            SeriesId::OutputLengths => "output tokens",
        }
    }
}

/// A series of `(x, y)` points, x ascending (typically simulated seconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// What the series shows.
    pub id: SeriesId,
    /// The points, x ascending.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// The legend label of the series.
    pub fn label(&self) -> &'static str {
        self.id.label()
    }

    /// The empirical CDF of `values` (x = value, y = fraction ≤ x), with at most `max_points`
    /// points taken at evenly spaced ranks (the last is the maximum).
    ///
    /// # Panics
    ///
    /// Panics if a value is NaN.
    pub fn cdf(id: SeriesId, values: &mut [f64], max_points: usize) -> Series {
        values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN in metric columns"));
        Series::cdf_of_sorted(id, values, max_points)
    }

    /// [`Series::cdf`] of values already sorted ascending.
    pub fn cdf_of_sorted(id: SeriesId, values: &[f64], max_points: usize) -> Series {
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
        Series { id, points }
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
        let cdf = Series::cdf(SeriesId::TtftCdf, &mut values, 50);
        assert_eq!(cdf.points.len(), 50);
        assert_eq!(cdf.points.first(), Some(&(0.0, 0.001)));
        assert_eq!(cdf.points.last(), Some(&(999.0, 1.0)));
        assert!(cdf.points.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        assert!(Series::cdf(SeriesId::TtftCdf, &mut [], 50).points.is_empty());
    }
}
