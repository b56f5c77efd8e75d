//! What the simulation worker does with each request, independent of the browser.
//!
//! `src/bin/sim_worker.rs` only wires this to `postMessage`; the logic lives here so native tests
//! can run it.

use servesim_core::digest::sha256_hex;
use servesim_core::scenario::{Scenario, Workload};
use servesim_core::sim::Simulation;
use servesim_core::workload::{parse_trace, TraceSummary};

use crate::protocol::{FromWorker, ToWorker, TraceReport};

/// Share of a job's progress bar spent reading the trace.
const PARSE_SHARE: f64 = 0.15;

/// Handles one request, sending progress and exactly one final reply through `post`.
pub fn handle(request: ToWorker, post: &mut dyn FnMut(FromWorker)) {
    let ToWorker::Run { job, scenario, name, text } = request;
    // Validate first: a generator must never run on parameters validation refuses.
    let scenario = Scenario::from_json(&scenario).map_err(|error| error.to_string()).and_then(|scenario| {
        scenario
            .validate()
            .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
        Ok(scenario)
    });
    let (trace, sha256) = match (&text, &scenario) {
        (Some(text), _) => {
            let total = text.len().max(1) as f64;
            let parsed = parse_trace(text, &mut |done| {
                post(FromWorker::Progress { job, fraction: PARSE_SHARE * done as f64 / total })
            });
            match parsed {
                Ok(trace) => (trace, Some(sha256_hex(text.as_bytes()))),
                Err(error) => return post(FromWorker::Failed { job, message: format!("{name}: {error}") }),
            }
        }
        (None, Ok(Scenario { workload: Workload::Generator(generator), seed, .. })) => {
            (generator.generate(*seed), None)
        }
        (None, Err(message)) => return post(FromWorker::Failed { job, message: message.clone() }),
        (None, Ok(_)) => {
            let message = format!("{name}: no trace text and the scenario has no generator");
            return post(FromWorker::Failed { job, message });
        }
    };
    let Some(summary) = TraceSummary::of(&trace) else {
        return post(FromWorker::Failed { job, message: format!("{name}: the trace has no requests") });
    };
    let report = TraceReport { name, sha256, summary };
    let run = scenario.and_then(|scenario| Simulation::new(&scenario, trace).map_err(|error| error.to_string())).map(
        |mut simulation| {
            simulation
                .run_with_progress(&mut |fraction| {
                    post(FromWorker::Progress { job, fraction: PARSE_SHARE + (1.0 - PARSE_SHARE) * fraction });
                    true
                })
                .expect("the callback never cancels");
            simulation.report()
        },
    );
    post(FromWorker::Finished { job, trace: report, run });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replies(scenario: &Scenario, name: &str, text: Option<&str>) -> Vec<FromWorker> {
        let mut replies = Vec::new();
        let request = ToWorker::Run {
            job: 7,
            scenario: scenario.to_canonical_json(),
            name: name.into(),
            text: text.map(str::to_owned),
        };
        handle(request, &mut |reply| replies.push(reply));
        replies
    }

    #[test]
    fn a_real_trace_is_read_then_simulated_with_rising_progress() {
        let text = include_str!("../tests/e2e/fixtures/splitwise_code.csv");
        let replies = replies(&Scenario::reference(), "splitwise_code.csv", Some(text));
        let Some((FromWorker::Finished { job: 7, trace, run }, progress)) = replies.split_last() else {
            panic!("last reply is not Finished: {:?}", replies.last());
        };
        assert_eq!(trace.summary.num_requests, 8_819);
        assert_eq!(trace.sha256.as_deref(), Some("f266b907d109d471c61283ab69771c17ad79a18b33ff6e96aa546346f52767a6"));
        let report = run.as_ref().unwrap();
        assert_eq!(report.summary.requests.completed, 8_819);
        let fractions: Vec<f64> = progress
            .iter()
            .map(|reply| match reply {
                FromWorker::Progress { fraction, .. } => *fraction,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert!(fractions.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(fractions.last(), Some(&1.0));
        // Replies survive the JSON round trip the browser uses, floats included.
        let last = replies.last().unwrap();
        assert_eq!(&FromWorker::from_json(&last.to_json()).unwrap(), last);
    }

    #[test]
    fn a_scenario_that_cannot_run_still_reports_the_trace() {
        let mut scenario = Scenario::reference();
        scenario.model.preset = "llama-3.1-405b".into();
        let replies =
            replies(&scenario, "three.csv", Some("arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,10\n"));
        let Some(FromWorker::Finished { trace, run: Err(message), .. }) = replies.last() else { panic!("{replies:?}") };
        assert_eq!(trace.summary.num_requests, 1);
        assert!(message.starts_with("deployment.aggregated.tp: the model does not fit"), "{message}");
    }

    #[test]
    fn a_generator_workload_needs_no_text() {
        let scenario = Scenario { workload: Workload::Generator(Default::default()), ..Scenario::reference() };
        let replies = replies(&scenario, "generator", None);
        let Some(FromWorker::Finished { trace, run: Ok(report), .. }) = replies.last() else { panic!("{replies:?}") };
        assert_eq!((trace.summary.num_requests, trace.sha256.as_ref()), (1_000, None));
        assert_eq!(report.summary.requests.completed, 1_000);
    }

    #[test]
    fn an_invalid_generator_is_refused_before_it_runs() {
        // From a hostile link: lognormal max 0 and uniform min > max would panic if drawn.
        let json = r#"{"version":1,"workload":{"generator":{"num_requests":5,
            "prompt_tokens":{"lognormal":{"median":10,"sigma":1,"max":0}},"output_tokens":{"uniform":{"min":9,"max":2}}}}}"#;
        let mut replies = Vec::new();
        let request = ToWorker::Run { job: 3, scenario: json.to_owned(), name: "generator".into(), text: None };
        handle(request, &mut |reply| replies.push(reply));
        let [FromWorker::Failed { job: 3, message }] = replies.as_slice() else { panic!("{replies:?}") };
        assert!(message.contains("workload.generator.prompt_tokens.lognormal.max: must be ≥ 1, got 0"), "{message}");
        assert!(
            message.contains("workload.generator.output_tokens.uniform.max: must be ≥ min (9), got 2"),
            "{message}"
        );
    }

    #[test]
    fn a_garbage_file_fails_with_its_name_and_line() {
        let replies = replies(&Scenario::default(), "x.bin", Some("\u{1}\u{2}PNG"));
        let Some(FromWorker::Failed { job: 7, message }) = replies.last() else { panic!("{replies:?}") };
        assert!(message.starts_with("x.bin: line 1: unrecognised trace format"), "{message}");
    }
}
