//! Counts per time bucket and samples of each replica's state, turned into chart series.

use crate::stats::{Series, SeriesId};
use crate::time::{SimDuration, SimTime};

/// Most points in a series handed to charts.
pub const MAX_POINTS: usize = 2_000;

/// Sums over one time bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    arrivals: u64,
    completions: u64,
    output_tokens: u64,
    /// Prompt tokens of the requests first admitted in the bucket, and of those the tokens
    /// served from the prefix cache.
    admitted_prompt_tokens: u64,
    cached_tokens: u64,
    /// Of the cached tokens, those loaded from the host tier.
    host_cached_tokens: u64,
    /// Sums over the replica samples taken at this bucket's start.
    running: u64,
    waiting: u64,
    kv_used_blocks: u64,
    host_used_blocks: u64,
    /// Speculative decoding: sequences verified, and draft tokens they accepted.
    verified: u64,
    accepted: u64,
    /// Disaggregated: the decode pool's part of the samples, prefill blocks held for transfer
    /// (samples), and what the links did in the bucket: bytes carried, and nanoseconds of
    /// transfers flowing summed over the transfers.
    decode_waiting: u64,
    decode_kv_used_blocks: u64,
    held_blocks: u64,
    link_bytes: u64,
    transfer_nanos: u64,
}

/// What a disaggregated deployment's pool series are measured against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoolScale {
    /// KV blocks of the prefill pool and of the decode pool.
    pub prefill_blocks: u64,
    /// See `prefill_blocks`.
    pub decode_blocks: u64,
    /// Send capacity of the link ports that carried transfers, bytes/s.
    pub link_capacity_bytes_per_s: f64,
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

    /// A request with `prompt_tokens` was first admitted at `at`, `cached_tokens` of them served
    /// from the prefix cache.
    pub fn add_admission(&mut self, at: SimTime, prompt_tokens: u64, cached_tokens: u64) {
        let bucket = self.bucket(at);
        bucket.admitted_prompt_tokens += prompt_tokens;
        bucket.cached_tokens += cached_tokens;
    }

    /// `tokens` of the prompt tokens first admitted at `at` were loaded from the host tier.
    pub fn add_host_hits(&mut self, at: SimTime, tokens: u64) {
        if tokens > 0 {
            self.bucket(at).host_cached_tokens += tokens;
        }
    }

    /// A speculative step ending at `at` verified `sequences` sequences, which accepted
    /// `accepted` draft tokens in all.
    pub fn add_verified(&mut self, at: SimTime, sequences: u64, accepted: u64) {
        let bucket = self.bucket(at);
        bucket.verified += sequences;
        bucket.accepted += accepted;
    }

    /// The end of the bucket holding `at` (the next bucket's start).
    pub fn bucket_end(&self, at: SimTime) -> SimTime {
        let width = self.interval.as_nanos();
        SimTime::from_nanos((at.as_nanos() / width).saturating_add(1).saturating_mul(width))
    }

    /// `tokens` output tokens were emitted at `at`.
    pub fn add_output_tokens(&mut self, at: SimTime, tokens: u64) {
        self.bucket(at).output_tokens += tokens;
    }

    /// One replica's state at the sample instant `at` (a bucket start). Idle replicas do not
    /// sample: they count as zero.
    pub fn sample(&mut self, at: SimTime, running: u64, waiting: u64, kv_used_blocks: u64, host_used_blocks: u64) {
        let bucket = self.bucket(at);
        bucket.running += running;
        bucket.waiting += waiting;
        bucket.kv_used_blocks += kv_used_blocks;
        bucket.host_used_blocks += host_used_blocks;
    }

    /// A decode-pool replica's part of the sample at `at` (also counted in [`Timeline::sample`]).
    pub fn sample_decode_pool(&mut self, at: SimTime, waiting: u64, kv_used_blocks: u64) {
        let bucket = self.bucket(at);
        bucket.decode_waiting += waiting;
        bucket.decode_kv_used_blocks += kv_used_blocks;
    }

    /// Prefill blocks held for transfers at the sample instant `at`.
    pub fn sample_held_blocks(&mut self, at: SimTime, held_blocks: u64) {
        self.bucket(at).held_blocks += held_blocks;
    }

    /// From `start` to `end`, `transfers` transfers carried `bytes_per_s` in all: the bytes and
    /// the transfer time go to the buckets the interval covers, each its share.
    pub fn add_link_activity(&mut self, start: SimTime, end: SimTime, bytes_per_s: f64, transfers: u64) {
        let mut from = start;
        while from < end {
            let to = self.bucket_end(from).min(end);
            let bucket = self.bucket(from);
            bucket.link_bytes += (bytes_per_s * (to - from).as_secs_f64()).round() as u64;
            bucket.transfer_nanos += transfers * (to - from).as_nanos();
            from = to;
        }
    }

    /// The chart series, each with at most [`MAX_POINTS`] points (buckets are merged in equal
    /// groups when there are more; a shorter last group is averaged over its own length): arrivals, completions and output tokens per second; running
    /// and waiting requests and KV use (percent of the cluster's `cluster_kv_blocks`); the share
    /// of admitted prompt tokens served from the prefix cache (0 where nothing was admitted).
    ///
    /// With a host tier (`cluster_host_blocks` > 0), also its use (percent of its blocks) and
    /// the share of admitted prompt tokens loaded from it; with speculative decoding, the
    /// acceptance length.
    ///
    /// With `pools` (a disaggregated deployment), each pool's queue and KV use, the prefill
    /// blocks held for transfers, transfers in flight, and the links' traffic and utilisation.
    pub fn series(&self, cluster_kv_blocks: u64, cluster_host_blocks: u64, pools: Option<PoolScale>) -> Vec<Series> {
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
                    sum.admitted_prompt_tokens += bucket.admitted_prompt_tokens;
                    sum.cached_tokens += bucket.cached_tokens;
                    sum.host_cached_tokens += bucket.host_cached_tokens;
                    sum.host_used_blocks += bucket.host_used_blocks;
                    sum.running += bucket.running;
                    sum.waiting += bucket.waiting;
                    sum.kv_used_blocks += bucket.kv_used_blocks;
                    sum.verified += bucket.verified;
                    sum.accepted += bucket.accepted;
                    sum.decode_waiting += bucket.decode_waiting;
                    sum.decode_kv_used_blocks += bucket.decode_kv_used_blocks;
                    sum.held_blocks += bucket.held_blocks;
                    sum.link_bytes += bucket.link_bytes;
                    sum.transfer_nanos += bucket.transfer_nanos;
                }
                (index as f64 * width_s, sum, chunk.len() as u64)
            })
            .collect();
        let series = |id: SeriesId, value: &dyn Fn(&Bucket, u64) -> f64| Series {
            id,
            points: groups.iter().map(|(x, bucket, len)| (*x, value(bucket, *len))).collect(),
        };
        let speculative = groups.iter().any(|(_, bucket, _)| bucket.verified > 0);
        let mut all = vec![
            series(SeriesId::ArrivalsPerS, &|b, len| b.arrivals as f64 / (len as f64 * bucket_s)),
            series(SeriesId::CompletionsPerS, &|b, len| b.completions as f64 / (len as f64 * bucket_s)),
            series(SeriesId::OutputTokensPerS, &|b, len| b.output_tokens as f64 / (len as f64 * bucket_s)),
            series(SeriesId::Running, &|b, len| b.running as f64 / len as f64),
            series(SeriesId::Waiting, &|b, len| b.waiting as f64 / len as f64),
            series(SeriesId::KvCacheUsedPercent, &|b, len| {
                100.0 * b.kv_used_blocks as f64 / (len as f64 * cluster_kv_blocks.max(1) as f64)
            }),
            series(SeriesId::PrefixCacheHitPercent, &|b, _| {
                if b.admitted_prompt_tokens == 0 {
                    0.0
                } else {
                    100.0 * b.cached_tokens as f64 / b.admitted_prompt_tokens as f64
                }
            }),
        ];
        if cluster_host_blocks > 0 {
            all.push(series(SeriesId::HostKvUsedPercent, &|b, len| {
                100.0 * b.host_used_blocks as f64 / (len as f64 * cluster_host_blocks as f64)
            }));
            all.push(series(SeriesId::HostCacheHitPercent, &|b, _| {
                if b.admitted_prompt_tokens == 0 {
                    0.0
                } else {
                    100.0 * b.host_cached_tokens as f64 / b.admitted_prompt_tokens as f64
                }
            }));
        }
        if let Some(scale) = pools {
            let percent = |blocks: u64, len: u64, of: u64| 100.0 * blocks as f64 / (len as f64 * of.max(1) as f64);
            all.extend([
                series(SeriesId::PrefillWaiting, &|b, len| (b.waiting - b.decode_waiting) as f64 / len as f64),
                series(SeriesId::DecodeWaiting, &|b, len| b.decode_waiting as f64 / len as f64),
                series(SeriesId::PrefillKvUsedPercent, &|b, len| {
                    percent(b.kv_used_blocks - b.decode_kv_used_blocks, len, scale.prefill_blocks)
                }),
                series(SeriesId::DecodeKvUsedPercent, &|b, len| {
                    percent(b.decode_kv_used_blocks, len, scale.decode_blocks)
                }),
                series(SeriesId::PrefillKvHeldPercent, &|b, len| percent(b.held_blocks, len, scale.prefill_blocks)),
                series(SeriesId::TransfersInFlight, &|b, len| b.transfer_nanos as f64 / 1e9 / (len as f64 * bucket_s)),
                series(SeriesId::KvLinkGbPerS, &|b, len| b.link_bytes as f64 / 1e9 / (len as f64 * bucket_s)),
                series(SeriesId::KvLinkUtilizationPercent, &|b, len| {
                    let capacity = scale.link_capacity_bytes_per_s * len as f64 * bucket_s;
                    if capacity > 0.0 {
                        100.0 * b.link_bytes as f64 / capacity
                    } else {
                        0.0
                    }
                }),
            ]);
        }
        if speculative {
            // 0 where nothing was verified, as the prefix-cache series.
            all.push(series(SeriesId::AcceptanceLength, &|b, _| {
                if b.verified == 0 {
                    0.0
                } else {
                    1.0 + b.accepted as f64 / b.verified as f64
                }
            }));
        }
        all
    }
}
