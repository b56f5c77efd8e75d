//! The summary of a finished run (`docs/metrics.md` defines each number).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Histogram, KvTransferSummary, Outcome, RejectReason, RequestLog, StageSummary};
use crate::scenario::Slo;
use crate::stats::{quantile_sorted, Quantiles};
use crate::time::SimTime;

/// Request counts by outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// Requests in the workload.
    pub total: u64,
    /// Requests that generated all their tokens.
    pub completed: u64,
    /// Requests lost to failures (none until faults are modelled).
    pub failed: u64,
    /// Requests refused on arrival (prompt longer than `max_model_len`).
    pub rejected: u64,
    /// Rejected requests by reason (reasons with none left out).
    pub rejected_by_reason: BTreeMap<RejectReason, u64>,
    /// Completed requests stopped at `max_model_len` before their last output token.
    pub truncated: u64,
    /// Requests still queued or running when the run stopped early (its event budget spent).
    pub unfinished: u64,
}

/// How much of the prompts the prefix cache served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrefixCacheSummary {
    /// Whether prefix caching was on.
    pub enabled: bool,
    /// Prompt tokens served from the cache at first admission / prompt tokens of the requests
    /// admitted (0 with caching off, or when nothing was admitted).
    pub hit_rate: f64,
    /// Prompt tokens served from the cache.
    pub cached_tokens: u64,
    /// Prompt tokens of the admitted requests.
    pub prompt_tokens: u64,
    /// The hit rate of each replica, by replica index.
    pub per_replica_hit_rate: Vec<f64>,
    /// Of the cached prompt tokens, those loaded from the host tier (0 without one).
    pub host_cached_tokens: u64,
    /// `host_cached_tokens` / `prompt_tokens`: the host tier's share of `hit_rate` (the GPUs'
    /// is the rest).
    pub host_hit_rate: f64,
}

/// The host KV tier over the run, summed over replicas.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostKvSummary {
    /// Blocks it holds, all replicas.
    pub capacity_blocks: u64,
    /// Blocks written to it when the GPUs evicted them.
    pub stored_blocks: u64,
    /// Blocks loaded back for prefix hits.
    pub loaded_blocks: u64,
    /// Blocks swap preemptions copied out, and back in.
    pub swapped_out_blocks: u64,
    /// See `swapped_out_blocks`.
    pub swapped_in_blocks: u64,
    /// Swap preemptions that found no room and recomputed instead.
    pub swap_fallbacks: u64,
}

impl HostKvSummary {
    /// The summary of tiers of `capacity_blocks` in all with these counts.
    pub fn of(capacity_blocks: u64, counts: impl Iterator<Item = crate::engine::HostCounts>) -> HostKvSummary {
        counts.fold(HostKvSummary { capacity_blocks, ..HostKvSummary::default() }, |sum, c| HostKvSummary {
            stored_blocks: sum.stored_blocks + c.stored_blocks,
            loaded_blocks: sum.loaded_blocks + c.loaded_blocks,
            swapped_out_blocks: sum.swapped_out_blocks + c.swapped_out_blocks,
            swapped_in_blocks: sum.swapped_in_blocks + c.swapped_in_blocks,
            swap_fallbacks: sum.swap_fallbacks + c.swap_fallbacks,
            ..sum
        })
    }
}

/// Throughput over the run's duration (first arrival to last completion).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Output tokens of completed requests per second.
    pub output_tokens_per_s: f64,
    /// Prompt plus output tokens of completed requests per second.
    pub total_tokens_per_s: f64,
    /// Completed requests per second.
    pub requests_per_s: f64,
    /// `output_tokens_per_s` divided by the GPUs of the deployment.
    pub output_tokens_per_s_per_gpu: f64,
}

/// Goodput: completed requests that met every SLO target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Goodput {
    /// Good requests per second.
    pub requests_per_s: f64,
    /// Fraction of all requests (rejected ones count as missed) that were good.
    pub slo_attainment: f64,
    /// Whether each targeted metric's percentile (`slo.percentile`) is within target,
    /// e.g. p95 TTFT ≤ `slo.ttft_ms`; `None` for metrics without a target.
    pub ttft_within_target: Option<bool>,
    /// The same for TPOT.
    pub tpot_within_target: Option<bool>,
    /// The same for end-to-end latency.
    pub e2e_within_target: Option<bool>,
}

/// Whether the deployment keeps up with its load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saturation {
    /// True when queueing delay grows without bound: see `docs/metrics.md`.
    pub saturated: bool,
    /// Mean queueing delay (s) of requests arriving in the middle fifth of the arrivals.
    pub middle_queueing_s: f64,
    /// Mean queueing delay (s) of requests arriving in the last fifth.
    pub final_queueing_s: f64,
    /// How fast queueing delay grows between the two, in seconds per second of arrivals.
    pub queueing_growth: f64,
}

/// Queueing-delay growth (s per s) above which a deployment is saturated: the queue gains at
/// least 3 s of waiting per minute of traffic.
pub const SATURATION_GROWTH: f64 = 0.05;

/// The headline numbers of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Request counts.
    pub requests: RequestCounts,
    /// Time to first token, ms (completed requests).
    pub ttft_ms: Option<Quantiles>,
    /// Time per output token after the first, ms (completed requests with > 1 output token).
    pub tpot_ms: Option<Quantiles>,
    /// Inter-token latency of decode tokens, ms (from a histogram, ±3 %).
    pub itl_ms: Option<Quantiles>,
    /// End-to-end latency, ms (completed requests).
    pub e2e_ms: Option<Quantiles>,
    /// Queueing delay (arrival to first admission), ms (completed requests).
    pub queueing_ms: Option<Quantiles>,
    /// Throughput.
    pub throughput: Throughput,
    /// Goodput against the scenario's SLO.
    pub goodput: Goodput,
    /// Preemptions over all requests.
    pub preemptions: u64,
    /// The prefix cache's hits.
    pub prefix_cache: PrefixCacheSummary,
    /// Saturation verdict.
    pub saturation: Saturation,
    /// Seconds from the first arrival to the last completion.
    pub duration_s: f64,
    /// Simulated seconds: the instant of the last event.
    pub sim_time_s: f64,
    /// GPU-hours used: GPUs × simulated time.
    pub gpu_hours: f64,
    /// Speculative decoding's achieved acceptance and speed-up (zeros when off).
    pub speculative: SpeculativeSummary,
    /// The host KV tier's traffic; `null` without one.
    pub host_kv: Option<HostKvSummary>,
    /// What the run cost in money and energy.
    pub cost: CostSummary,
    /// Each stage's share of the latency.
    pub stages: StageSummary,
    /// A disaggregated run's KV transfers; `null` for an aggregated one.
    pub kv_transfer: Option<KvTransferSummary>,
}

/// The run's cost: every GPU of the deployment from the first arrival to the last event
/// (`gpu_hours`), at the scenario's price and at its board power.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostSummary {
    /// `gpu_hours` × `cost.usd_per_gpu_hour`; `null` without a price.
    pub usd: Option<f64>,
    /// `usd` per million output tokens of the completed requests; `null` without a price or
    /// output.
    pub usd_per_million_output_tokens: Option<f64>,
    /// Energy at the GPUs' board power (the catalog's `power_w`), kWh: an upper bound, every GPU
    /// drawing its full power the whole run (host, network and cooling left out).
    pub energy_kwh: f64,
    /// Output tokens of the completed requests per joule of that energy.
    pub output_tokens_per_joule: f64,
}

impl CostSummary {
    /// The cost of `gpu_hours` (`run_hours` of the whole deployment) that produced
    /// `output_tokens`.
    pub fn of(gpu_hours: f64, run_hours: f64, output_tokens: f64, deployment: &DeploymentFacts) -> CostSummary {
        let usd = deployment.usd_per_gpu_hour.map(|price| price * gpu_hours);
        let energy_kwh = deployment.board_watts * run_hours / 1_000.0;
        let joules = energy_kwh * 3.6e6;
        CostSummary {
            usd,
            usd_per_million_output_tokens: usd.filter(|_| output_tokens > 0.0).map(|usd| usd / (output_tokens / 1e6)),
            energy_kwh,
            output_tokens_per_joule: if joules > 0.0 { output_tokens / joules } else { 0.0 },
        }
    }
}

/// What speculative decoding achieved.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpeculativeSummary {
    /// Draft tokens accepted per verification step (per sequence), 0 when off.
    pub mean_accepted_tokens: f64,
    /// Tokens emitted per verification step: accepted drafts plus one (0 when off).
    pub acceptance_length: f64,
    /// The acceptance the scenario states, E[accepted drafts] (0 when off).
    pub expected_accepted_tokens: f64,
    /// Mean TPOT of the same scenario without speculative decoding, ms.
    pub baseline_tpot_ms: Option<f64>,
    /// The speed-up over no speculation: the baseline's mean TPOT over this run's (below 1:
    /// speculation costs more than it saves).
    pub tpot_speedup: Option<f64>,
}

impl SpeculativeSummary {
    /// The summary of `verified` sequence verifications that accepted `accepted` draft tokens,
    /// against the stated expectation.
    pub fn of(verified: u64, accepted: u64, expected_accepted_tokens: f64) -> SpeculativeSummary {
        if verified == 0 {
            return SpeculativeSummary { expected_accepted_tokens, ..SpeculativeSummary::default() };
        }
        let mean = accepted as f64 / verified as f64;
        SpeculativeSummary {
            mean_accepted_tokens: mean,
            acceptance_length: mean + 1.0,
            expected_accepted_tokens,
            baseline_tpot_ms: None,
            tpot_speedup: None,
        }
    }
}

/// The latency columns of the completed requests, each sorted ascending (ms).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyColumns {
    /// Time to first token.
    pub ttft_ms: Vec<f64>,
    /// Time per output token (requests with more than one output token).
    pub tpot_ms: Vec<f64>,
    /// End-to-end latency.
    pub e2e_ms: Vec<f64>,
    /// Queueing delay.
    pub queueing_ms: Vec<f64>,
}

impl LatencyColumns {
    /// The columns of `requests`' completed requests.
    pub fn of(requests: &RequestLog) -> LatencyColumns {
        let completed = requests.completed();
        let sorted = |mut column: Vec<f64>| {
            column.sort_by(|a, b| a.partial_cmp(b).expect("no NaN in latency columns"));
            column
        };
        LatencyColumns {
            ttft_ms: sorted(completed.iter().map(|&i| requests.ttft_ms(i)).collect()),
            tpot_ms: sorted(completed.iter().filter_map(|&i| requests.tpot_ms(i)).collect()),
            e2e_ms: sorted(completed.iter().map(|&i| requests.e2e_ms(i)).collect()),
            queueing_ms: sorted(completed.iter().map(|&i| requests.queueing_ms(i)).collect()),
        }
    }
}

impl Summary {
    /// Summarises a finished run of `requests` (whose latency `columns` are given) on
    /// `deployment` under `slo`.
    pub fn of(
        requests: &RequestLog,
        columns: &LatencyColumns,
        itl: &Histogram,
        slo: &Slo,
        deployment: &DeploymentFacts,
    ) -> Summary {
        let num_gpus = deployment.num_gpus;
        let completed = requests.completed();
        let rejected_by_reason: BTreeMap<RejectReason, u64> = RejectReason::ALL
            .into_iter()
            .map(|reason| (reason, requests.outcome.iter().filter(|&&o| o == Outcome::Rejected(reason)).count() as u64))
            .filter(|&(_, count)| count > 0)
            .collect();
        let rejected = rejected_by_reason.values().sum();

        let first_arrival = requests.arrived_at.first().copied().unwrap_or(SimTime::ZERO);
        let last_completion = completed.iter().map(|&i| requests.finished_at[i]).max().unwrap_or(first_arrival);
        let last_arrival = requests.arrived_at.last().copied().unwrap_or(SimTime::ZERO);
        let duration_s = last_completion.saturating_since(first_arrival).as_secs_f64();
        let per_second = |count: f64| if duration_s > 0.0 { count / duration_s } else { 0.0 };
        let output_tokens: f64 = completed.iter().map(|&i| f64::from(requests.generated_tokens(i))).sum();
        let prompt_tokens: f64 = completed.iter().map(|&i| f64::from(requests.prompt_tokens[i])).sum();

        let meets = |i: usize| {
            slo.ttft_ms.is_none_or(|target| requests.ttft_ms(i) <= target)
                && slo.tpot_ms.is_none_or(|target| requests.tpot_ms(i).is_none_or(|tpot| tpot <= target))
                && slo.e2e_ms.is_none_or(|target| requests.e2e_ms(i) <= target)
        };
        let good = completed.iter().filter(|&&i| meets(i)).count() as f64;

        let saturation = saturation(requests);
        let ttft_ms = Quantiles::of_sorted(&columns.ttft_ms);
        let tpot_ms = Quantiles::of_sorted(&columns.tpot_ms);
        let e2e_ms = Quantiles::of_sorted(&columns.e2e_ms);
        let queueing_ms = Quantiles::of_sorted(&columns.queueing_ms);
        let percentile = slo.percentile / 100.0;
        let within = |target: Option<f64>, sorted: &[f64]| {
            target.map(|target| quantile_sorted(sorted, percentile).is_some_and(|value| value <= target))
        };
        let goodput = Goodput {
            requests_per_s: per_second(good),
            slo_attainment: if requests.is_empty() { 0.0 } else { good / requests.len() as f64 },
            ttft_within_target: within(slo.ttft_ms, &columns.ttft_ms),
            tpot_within_target: within(slo.tpot_ms, &columns.tpot_ms),
            e2e_within_target: within(slo.e2e_ms, &columns.e2e_ms),
        };
        let itl_ms = itl.mean_nanos().map(|mean| {
            let q = |p: f64| itl.quantile_nanos(p).unwrap_or(0.0) / 1e6;
            Quantiles {
                mean: mean / 1e6,
                min: q(0.0),
                p50: q(0.5),
                p90: q(0.9),
                p95: q(0.95),
                p99: q(0.99),
                p99_9: q(0.999),
                max: q(1.0),
            }
        });
        let sim_time = last_completion.max(last_arrival);
        let run_hours = sim_time.saturating_since(first_arrival).as_secs_f64() / 3600.0;
        let gpu_hours = num_gpus as f64 * run_hours;
        Summary {
            requests: RequestCounts {
                total: requests.len() as u64,
                completed: completed.len() as u64,
                failed: 0,
                rejected,
                rejected_by_reason,
                truncated: completed.iter().filter(|&&i| requests.is_truncated(i)).count() as u64,
                unfinished: requests.outcome.iter().filter(|&&o| o == Outcome::Pending).count() as u64,
            },
            ttft_ms,
            tpot_ms,
            itl_ms,
            e2e_ms,
            queueing_ms: queueing_ms.clone(),
            throughput: Throughput {
                output_tokens_per_s: per_second(output_tokens),
                total_tokens_per_s: per_second(output_tokens + prompt_tokens),
                requests_per_s: per_second(completed.len() as f64),
                output_tokens_per_s_per_gpu: per_second(output_tokens) / num_gpus.max(1) as f64,
            },
            goodput,
            preemptions: requests.preemptions.iter().map(|&p| u64::from(p)).sum(),
            prefix_cache: prefix_cache(requests, deployment),
            saturation,
            duration_s,
            sim_time_s: sim_time.as_secs_f64(),
            gpu_hours,
            cost: CostSummary::of(gpu_hours, run_hours, output_tokens, deployment),
            speculative: SpeculativeSummary::default(),
            host_kv: None,
            stages: StageSummary::of(requests, queueing_ms),
            kv_transfer: None,
        }
    }
}

/// What the summary needs to know of the deployment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeploymentFacts {
    /// GPUs in all (replicas × TP × PP).
    pub num_gpus: u64,
    /// The board power of all of them, W.
    pub board_watts: f64,
    /// The price of a GPU-hour, if the scenario gives one.
    pub usd_per_gpu_hour: Option<f64>,
    /// Replicas.
    pub num_replicas: u32,
    /// Whether prefix caching is on.
    pub prefix_caching: bool,
}

/// Prompt tokens served from the prefix cache over the prompt tokens of admitted requests,
/// overall and per replica.
fn prefix_cache(requests: &RequestLog, deployment: &DeploymentFacts) -> PrefixCacheSummary {
    let replicas = deployment.num_replicas as usize;
    let mut per_replica = vec![(0u64, 0u64); replicas];
    for i in (0..requests.len()).filter(|&i| requests.was_admitted(i)) {
        if let Some(tally) = per_replica.get_mut(requests.replica[i] as usize) {
            tally.0 += u64::from(requests.cached_tokens[i]);
            tally.1 += u64::from(requests.prompt_tokens[i]);
        }
    }
    let rate = |(cached, prompt): (u64, u64)| if prompt == 0 { 0.0 } else { cached as f64 / prompt as f64 };
    let total = per_replica.iter().fold((0, 0), |sum, tally| (sum.0 + tally.0, sum.1 + tally.1));
    PrefixCacheSummary {
        enabled: deployment.prefix_caching,
        hit_rate: rate(total),
        cached_tokens: total.0,
        prompt_tokens: total.1,
        per_replica_hit_rate: per_replica.into_iter().map(rate).collect(),
        host_cached_tokens: 0,
        host_hit_rate: 0.0,
    }
}

/// Compares the queueing delay of the last fifth of arrivals with the middle fifth: saturated
/// when it grows faster than [`SATURATION_GROWTH`] and exceeds one second at the end. (An
/// overloaded deployment's queueing delay grows in proportion to time, by `1 − served/offered`
/// seconds per second.)
fn saturation(requests: &RequestLog) -> Saturation {
    let n = requests.len();
    // (mean queueing delay, mean arrival instant) of the completed requests among `from..to`.
    let means = |from: usize, to: usize| {
        let rows: Vec<usize> = (from..to).filter(|&i| requests.outcome[i] == Outcome::Completed).collect();
        if rows.is_empty() {
            return (0.0, 0.0);
        }
        let count = rows.len() as f64;
        let queueing = rows.iter().map(|&i| requests.queueing_ms(i) / 1e3).sum::<f64>() / count;
        let arrival = rows.iter().map(|&i| requests.arrived_at[i].as_secs_f64()).sum::<f64>() / count;
        (queueing, arrival)
    };
    let (middle_queueing_s, middle_arrival_s) = means(2 * n / 5, 3 * n / 5);
    let (final_queueing_s, final_arrival_s) = means(4 * n / 5, n);
    let elapsed = final_arrival_s - middle_arrival_s;
    let queueing_growth = if elapsed > 0.0 { (final_queueing_s - middle_queueing_s) / elapsed } else { 0.0 };
    Saturation {
        saturated: final_queueing_s > 1.0 && queueing_growth > SATURATION_GROWTH,
        middle_queueing_s,
        final_queueing_s,
        queueing_growth,
    }
}
