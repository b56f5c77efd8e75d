//! A log-bucketed histogram of durations, for per-token latencies (no per-token records).

use crate::time::SimDuration;

/// Sub-buckets per power of two: bucket width is at most 1/32 ≈ 3 % of its value.
const SUB_BUCKETS: u32 = 32;

/// Counts of durations in logarithmic buckets, with an exact mean.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    total_count: u64,
    total_nanos: u128,
}

fn bucket_of(nanos: u64) -> usize {
    if nanos < u64::from(SUB_BUCKETS) {
        return nanos as usize;
    }
    let exponent = 63 - nanos.leading_zeros(); // ≥ 5
    let shift = exponent - SUB_BUCKETS.trailing_zeros();
    let mantissa = (nanos >> shift) as u32 - SUB_BUCKETS; // 0..SUB_BUCKETS
    ((shift + 1) * SUB_BUCKETS + mantissa) as usize
}

/// The smallest and one past the largest nanosecond value of a bucket.
fn bucket_bounds(bucket: usize) -> (u64, u64) {
    let bucket = bucket as u32;
    if bucket < SUB_BUCKETS {
        return (u64::from(bucket), u64::from(bucket) + 1);
    }
    let shift = bucket / SUB_BUCKETS - 1;
    let mantissa = u64::from(bucket % SUB_BUCKETS + SUB_BUCKETS);
    (mantissa << shift, (mantissa + 1) << shift)
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram::default()
    }

    /// Records `count` occurrences of `duration`.
    pub fn record(&mut self, duration: SimDuration, count: u64) {
        let nanos = duration.as_nanos();
        self.record_in_bucket(nanos, count, u128::from(nanos) * u128::from(count));
    }

    /// Records `occurrences` durations that all fall in the bucket of `any_nanos` and sum to
    /// `nanos_sum` nanoseconds: what many calls of [`Histogram::record`] within one bucket do.
    pub fn record_in_bucket(&mut self, any_nanos: u64, occurrences: u64, nanos_sum: u128) {
        if occurrences == 0 {
            return;
        }
        let bucket = self.bucket_for(any_nanos);
        self.counts[bucket] += occurrences;
        self.total_count += occurrences;
        self.total_nanos += nanos_sum;
    }

    /// The range of durations, in ns, that share the bucket of `nanos`: `low..high`.
    pub fn bucket_range(nanos: u64) -> (u64, u64) {
        bucket_bounds(bucket_of(nanos))
    }

    /// The bucket of `nanos`, created if needed.
    fn bucket_for(&mut self, nanos: u64) -> usize {
        let bucket = bucket_of(nanos);
        if self.counts.len() <= bucket {
            self.counts.resize(bucket + 1, 0);
        }
        bucket
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.total_count
    }

    /// The exact mean, in nanoseconds.
    pub fn mean_nanos(&self) -> Option<f64> {
        (self.total_count > 0).then(|| self.total_nanos as f64 / self.total_count as f64)
    }

    /// The `q`-quantile in nanoseconds, interpolated inside its bucket (within ≈ 3 %).
    pub fn quantile_nanos(&self, q: f64) -> Option<f64> {
        if self.total_count == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * (self.total_count - 1) as f64;
        let mut below = 0u64;
        for (bucket, &count) in self.counts.iter().enumerate() {
            if count > 0 && (below + count) as f64 > rank {
                let (low, high) = bucket_bounds(bucket);
                let within = (rank - below as f64 + 0.5) / count as f64;
                return Some(low as f64 + (high - low) as f64 * within.min(1.0));
            }
            below += count;
        }
        let (low, _) = bucket_bounds(self.counts.len() - 1);
        Some(low as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_narrow() {
        let mut previous_end = 0;
        for bucket in 0..40 * SUB_BUCKETS as usize {
            let (low, high) = bucket_bounds(bucket);
            assert_eq!(low, previous_end, "bucket {bucket}");
            assert_eq!(bucket_of(low), bucket);
            assert_eq!(bucket_of(high - 1), bucket);
            if low >= 32 {
                assert!((high - low) as f64 / low as f64 <= 1.0 / 32.0 + 1e-12);
            }
            previous_end = high;
        }
    }

    #[test]
    fn recording_a_bucket_at_once_equals_recording_each_value() {
        let values = [8_000_000u64, 8_001_000, 8_100_000, 8_120_000];
        let (low, high) = Histogram::bucket_range(values[0]);
        assert!(values.iter().all(|v| (low..high).contains(v)));
        let mut one_by_one = Histogram::new();
        values.iter().for_each(|&v| one_by_one.record(SimDuration::from_nanos(v), 3));
        let mut at_once = Histogram::new();
        at_once.record_in_bucket(values[2], 12, values.iter().map(|&v| u128::from(v) * 3).sum());
        assert_eq!(
            (at_once.counts.clone(), at_once.total_count, at_once.total_nanos),
            (one_by_one.counts, 12, one_by_one.total_nanos)
        );
    }

    #[test]
    fn quantiles_are_within_the_bucket_resolution() {
        let mut histogram = Histogram::new();
        for millis in 1..=1000u64 {
            histogram.record(SimDuration::from_micros(millis * 1000), 1);
        }
        for (q, expected_ms) in [(0.5, 500.5), (0.9, 900.1), (0.99, 990.01)] {
            let got = histogram.quantile_nanos(q).unwrap() / 1e6;
            assert!((got - expected_ms).abs() / expected_ms < 0.035, "q{q}: {got} vs {expected_ms}");
        }
        assert_eq!(histogram.mean_nanos(), Some(500.5e6));
        assert_eq!(Histogram::new().quantile_nanos(0.5), None);
    }
}
