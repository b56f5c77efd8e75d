//! Counts per time bucket and samples of each replica's state, turned into chart series.

use super::Series;
use crate::time::{SimDuration, SimTime};

/// Most points in a series handed to charts.
pub const MAX_POINTS: usize = 2_000;

/// Round bucket widths, seconds; beyond the last, whole multiples of it.
const NICE_SECONDS: [u64; 14] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

/// The smallest round width, in whole seconds, that cuts `span_s` seconds into at most
/// `max_buckets` buckets (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2 h, then
/// multiples of 2 h).
///
/// # Example
///
/// ```
/// use servesim_core::metrics::bucket_width_s;
///
/// assert_eq!(bucket_width_s(3_537.0, 1_000), 5);
/// assert_eq!(bucket_width_s(3_537.0, 120), 30);
/// assert_eq!(bucket_width_s(1e10, 1_000), 10_000_800); // 1,389 × 2 h
/// ```
pub fn bucket_width_s(span_s: f64, max_buckets: u64) -> u64 {
    let needed = span_s.max(0.0) / max_buckets.max(1) as f64;
    match NICE_SECONDS.into_iter().find(|&width| width as f64 >= needed) {
        Some(width) => width,
        None => {
            let step = NICE_SECONDS[NICE_SECONDS.len() - 1];
            (libm::ceil(needed / step as f64) as u64).max(1) * step
        }
    }
}

/// Sums over one time bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    arrivals: u64,
    completions: u64,
    output_tokens: u64,
    /// Sums over the replica samples taken at this bucket's start.
    running: u64,
    waiting: u64,
    kv_used_blocks: u64,
}

/// Counts bucketed by time, and replica samples at each bucket's start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    interval: SimDuration,
    buckets: Vec<Bucket>,
}

impl Timeline {
    /// An empty timeline with buckets of `interval` (at least 1 ns).
    pub fn new(interval: SimDuration) -> Timeline {
        Timeline { interval: interval.max(SimDuration::from_nanos(1)), buckets: Vec::new() }
    }

    /// The bucket width.
    pub fn interval(&self) -> SimDuration {
        self.interval
    }

    fn bucket(&mut self, at: SimTime) -> &mut Bucket {
        let index = (at.as_nanos() / self.interval.as_nanos()) as usize;
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, Bucket::default());
        }
        &mut self.buckets[index]
    }

    /// A request arrived at `at`.
    pub fn add_arrival(&mut self, at: SimTime) {
        self.bucket(at).arrivals += 1;
    }

    /// A request completed at `at`.
    pub fn add_completion(&mut self, at: SimTime) {
        self.bucket(at).completions += 1;
    }

    /// `tokens` output tokens were emitted at `at`.
    pub fn add_output_tokens(&mut self, at: SimTime, tokens: u64) {
        self.bucket(at).output_tokens += tokens;
    }

    /// One replica's state at the sample instant `at` (a bucket start). Idle replicas do not
    /// sample: they count as zero.
    pub fn sample(&mut self, at: SimTime, running: u64, waiting: u64, kv_used_blocks: u64) {
        let bucket = self.bucket(at);
        bucket.running += running;
        bucket.waiting += waiting;
        bucket.kv_used_blocks += kv_used_blocks;
    }

    /// The chart series, each with at most [`MAX_POINTS`] points (buckets are merged in equal
    /// groups when there are more; a shorter last group is averaged over its own length): arrivals, completions and output tokens per second; running
    /// and waiting requests and KV use (percent of the cluster's `cluster_kv_blocks`).
    pub fn series(&self, cluster_kv_blocks: u64) -> Vec<Series> {
        let group = self.buckets.len().div_ceil(MAX_POINTS).max(1);
        let bucket_s = self.interval.as_secs_f64();
        let width_s = bucket_s * group as f64;
        let groups: Vec<(f64, Bucket, u64)> = self
            .buckets
            .chunks(group)
            .enumerate()
            .map(|(index, chunk)| {
                let mut sum = Bucket::default();
                for bucket in chunk {
                    sum.arrivals += bucket.arrivals;
                    sum.completions += bucket.completions;
                    sum.output_tokens += bucket.output_tokens;
                    sum.running += bucket.running;
                    sum.waiting += bucket.waiting;
                    sum.kv_used_blocks += bucket.kv_used_blocks;
                }
                (index as f64 * width_s, sum, chunk.len() as u64)
            })
            .collect();
        let series = |name: &str, value: &dyn Fn(&Bucket, u64) -> f64| Series {
            name: name.to_owned(),
            points: groups.iter().map(|(x, bucket, len)| (*x, value(bucket, *len))).collect(),
        };
        vec![
            series("arrivals/s", &|b, len| b.arrivals as f64 / (len as f64 * bucket_s)),
            series("completions/s", &|b, len| b.completions as f64 / (len as f64 * bucket_s)),
            series("output tokens/s", &|b, len| b.output_tokens as f64 / (len as f64 * bucket_s)),
            series("running", &|b, len| b.running as f64 / len as f64),
            series("waiting", &|b, len| b.waiting as f64 / len as f64),
            series("KV cache used (%)", &|b, len| {
                100.0 * b.kv_used_blocks as f64 / (len as f64 * cluster_kv_blocks.max(1) as f64)
            }),
        ]
    }
}
