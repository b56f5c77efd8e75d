//! What the simulation worker does with each request, independent of the browser.
//!
//! `src/bin/sim_worker.rs` only wires this to `postMessage`; the logic lives here so native tests
//! can run it.

use servesim_core::digest::sha256_hex;
use servesim_core::workload::{parse_trace, TraceSummary};

use crate::protocol::{FromWorker, ToWorker, TraceReport};

/// Handles one request, sending progress and exactly one final reply through `post`.
pub fn handle(request: ToWorker, post: &mut dyn FnMut(FromWorker)) {
    match request {
        ToWorker::Analyze { job, name, text } => {
            let total = text.len().max(1) as f64;
            let parsed = parse_trace(&text, &mut |done| {
                post(FromWorker::Progress { job, fraction: done as f64 / total })
            });
            let reply = match parsed {
                Err(error) => FromWorker::Failed { job, message: format!("{name}: {error}") },
                Ok(trace) => match TraceSummary::of(&trace) {
                    None => FromWorker::Failed { job, message: format!("{name}: the trace has no requests") },
                    Some(summary) => FromWorker::Analyzed {
                        job,
                        report: TraceReport { name, sha256: sha256_hex(text.as_bytes()), summary },
                    },
                },
            };
            post(reply);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replies(request: ToWorker) -> Vec<FromWorker> {
        let mut replies = Vec::new();
        handle(request, &mut |reply| replies.push(reply));
        replies
    }

    #[test]
    fn analyzing_a_real_trace_reports_progress_then_its_summary() {
        let text = include_str!("../tests/e2e/fixtures/splitwise_code.csv").to_owned();
        let replies = replies(ToWorker::Analyze { job: 7, name: "splitwise_code.csv".into(), text });
        let Some((FromWorker::Analyzed { job, report }, progress)) = replies.split_last() else {
            panic!("last reply is not Analyzed: {:?}", replies.last());
        };
        assert_eq!(*job, 7);
        assert_eq!(report.summary.num_requests, 8_819);
        assert_eq!(report.sha256, "f266b907d109d471c61283ab69771c17ad79a18b33ff6e96aa546346f52767a6");
        assert!(matches!(progress.last(), Some(FromWorker::Progress { job: 7, fraction }) if *fraction == 1.0));
        // Replies survive the JSON round trip the browser uses.
        let last = replies.last().unwrap();
        assert_eq!(&FromWorker::from_json(&last.to_json()).unwrap(), last);
    }

    #[test]
    fn a_garbage_file_fails_with_its_name_and_line() {
        let replies = replies(ToWorker::Analyze { job: 1, name: "x.bin".into(), text: "\u{1}\u{2}PNG".into() });
        let Some(FromWorker::Failed { job: 1, message }) = replies.last() else { panic!("{replies:?}") };
        assert!(message.starts_with("x.bin: line 1: unrecognised trace format"), "{message}");
    }
}
