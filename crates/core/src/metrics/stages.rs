//! Where a request's time goes, stage by stage, and what its KV transfer cost.

use serde::{Deserialize, Serialize};

use super::RequestLog;
use crate::stats::Quantiles;
use crate::time::SimTime;

/// Each stage's duration over the completed requests, ms. The stages of a request add up to its
/// end-to-end latency: queue + prefill (+ KV wait + transfer) + decode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageSummary {
    /// Arrival to first admission (on the prefill replica).
    pub queue_ms: Option<Quantiles>,
    /// First admission to the prompt's end and first token (on the prefill replica): computing
    /// the prompt, with any preemption stalls.
    pub prefill_ms: Option<Quantiles>,
    /// Disaggregated, transferred requests: the prompt's end to the decode replica's
    /// reservation of blocks for its KV (its queue there; the decode pool's back-pressure).
    pub kv_wait_ms: Option<Quantiles>,
    /// Disaggregated, transferred requests: reservation to the KV's arrival (latency plus bytes
    /// over the shared link).
    pub transfer_ms: Option<Quantiles>,
    /// The first token (with a transfer: the KV's arrival, which brings it) to the last token.
    pub decode_ms: Option<Quantiles>,
}

/// The KV transfers of a disaggregated run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KvTransferSummary {
    /// Requests whose KV moved from a prefill to a decode replica.
    pub num_transfers: u64,
    /// Requests prefilled on their decode replica (conditional disaggregation).
    pub num_local_prefills: u64,
    /// Bytes moved over all transfers.
    pub total_bytes: u64,
    /// Bytes per transfer.
    pub bytes: Option<Quantiles>,
    /// Time per transfer, ms: reservation to arrival (latency plus bytes over the shared link).
    pub time_ms: Option<Quantiles>,
    /// Time each request waited between its prompt's end and its decode replica's reservation,
    /// ms.
    pub wait_ms: Option<Quantiles>,
    /// Bytes moved over what the send ports that carried transfers could have moved from the
    /// first transfer's start to the last one's end.
    pub link_utilization: f64,
}

/// A column of `f(i)` over the requests `i` for which it is defined, as quantiles.
fn quantiles_of(indices: &[usize], f: impl Fn(usize) -> Option<f64>) -> Option<Quantiles> {
    let mut column: Vec<f64> = indices.iter().filter_map(|&i| f(i)).collect();
    Quantiles::of(&mut column)
}

fn ms_between(from: SimTime, to: SimTime) -> Option<f64> {
    (from != SimTime::MAX && to != SimTime::MAX).then(|| (to - from).as_millis_f64())
}

impl StageSummary {
    /// The stages of `requests`' completed requests, whose queueing delays `queue_ms` already
    /// summarises.
    pub fn of(requests: &RequestLog, queue_ms: Option<Quantiles>) -> StageSummary {
        let completed = requests.completed();
        let transfers = requests.transfers.as_ref();
        let reserved = |i: usize| transfers.map_or(SimTime::MAX, |t| t.kv_reserved_at[i]);
        // The prompt's end: the prefill replica's, or the first token without a transfer.
        let prefilled = |i: usize| match transfers.map(|t| t.prefill_done_at[i]) {
            Some(at) if at != SimTime::MAX => at,
            _ => requests.first_token_at[i],
        };
        StageSummary {
            queue_ms,
            prefill_ms: quantiles_of(&completed, |i| ms_between(requests.first_scheduled_at[i], prefilled(i))),
            kv_wait_ms: transfers.and_then(|_| quantiles_of(&completed, |i| ms_between(prefilled(i), reserved(i)))),
            transfer_ms: transfers
                .and_then(|t| quantiles_of(&completed, |i| ms_between(reserved(i), t.kv_received_at[i]))),
            decode_ms: quantiles_of(&completed, |i| ms_between(requests.first_token_at[i], requests.finished_at[i])),
        }
    }
}

impl KvTransferSummary {
    /// The transfers of `requests`, whose send ports had `link_capacity_bytes_per_s` in all;
    /// `None` for a run without transfer records.
    pub fn of(requests: &RequestLog, link_capacity_bytes_per_s: f64) -> Option<KvTransferSummary> {
        let transfers = requests.transfers.as_ref()?;
        let moved: Vec<usize> = (0..requests.len()).filter(|&i| transfers.kv_received_at[i] != SimTime::MAX).collect();
        let local = (0..requests.len())
            .filter(|&i| transfers.prefilled_locally(requests, i) && requests.first_token_at[i] != SimTime::MAX)
            .count();
        let total_bytes: u64 = moved.iter().map(|&i| transfers.kv_bytes[i]).sum();
        let first_start = moved.iter().map(|&i| transfers.kv_reserved_at[i]).min();
        let last_end = moved.iter().map(|&i| transfers.kv_received_at[i]).max();
        let span_s = first_start.zip(last_end).map_or(0.0, |(start, end)| (end - start).as_secs_f64());
        let capacity = link_capacity_bytes_per_s * span_s;
        Some(KvTransferSummary {
            num_transfers: moved.len() as u64,
            num_local_prefills: local as u64,
            total_bytes,
            bytes: quantiles_of(&moved, |i| Some(transfers.kv_bytes[i] as f64)),
            time_ms: quantiles_of(&moved, |i| ms_between(transfers.kv_reserved_at[i], transfers.kv_received_at[i])),
            wait_ms: quantiles_of(&moved, |i| ms_between(transfers.prefill_done_at[i], transfers.kv_reserved_at[i])),
            link_utilization: if capacity > 0.0 { total_bytes as f64 / capacity } else { 0.0 },
        })
    }
}
