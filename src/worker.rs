//! What the simulation worker does with each request, independent of the browser.
//!
//! `src/bin/sim_worker.rs` only wires this to `postMessage`; the logic lives here so native tests
//! can run it.

use servesim_core::digest::sha256_hex;
use servesim_core::scenario::{Scenario, Workload};
use servesim_core::sim::Simulation;
use servesim_core::workload::{resolve, Trace, TraceSummary, TraceText};

use crate::protocol::{FromWorker, ToWorker, TraceReport, TraceSource};

/// The query string with which `index.html` starts the worker when the page opens on the default
/// sample: the worker then downloads and parses it itself, while the app loads.
pub const PREFETCH_QUERY: &str = "?prefetch";

/// The key the default sample is kept under, by the worker and the page alike.
pub fn default_sample_key() -> String {
    format!("sample:{}", servesim_core::workload::samples::DEFAULT_SAMPLE_ID)
}

/// Share of a job's progress bar spent reading the trace.
const PARSE_SHARE: f64 = 0.15;

/// What the worker keeps between jobs: the last trace it parsed, so that rerunning a scenario
/// on the same trace neither sends nor parses it again; and, while it downloads the bundled
/// sample itself, the jobs waiting for it.
#[derive(Default)]
pub struct Worker {
    kept: Option<Kept>,
    prefetching: Option<String>,
    waiting: Vec<ToWorker>,
}

struct Kept {
    key: String,
    trace: Trace,
    summary: TraceSummary,
    sha256: Option<String>,
}

impl Worker {
    /// Runs a small simulation of a synthetic Mooncake trace and throws the result away, so that
    /// the browser compiles the hot code with its optimising tier before the first real job
    /// (a fresh worker otherwise runs its first job in baseline code). One round only: on two
    /// cores a longer warm-up slows the page's own start more than it saves. It uses its own
    /// state: nothing is kept, and no result can depend on it. Returns whether the job finished.
    pub fn warm_up() -> bool {
        let mut text = String::new();
        for i in 0..400u64 {
            let hashes: Vec<String> =
                (0..8).map(|k| (if k < 4 { i % 7 * 100 + k } else { 10_000 + i * 10 + k }).to_string()).collect();
            text.push_str(&format!(
                "{{\"timestamp\": {}, \"input_length\": {}, \"output_length\": {}, \"hash_ids\": [{}]}}\n",
                i * 40,
                3_000 + i % 11 * 100,
                50 + i % 13 * 20,
                hashes.join(", ")
            ));
        }
        let request = ToWorker::Run {
            job: u32::MAX,
            scenario: Scenario::reference().to_canonical_json(),
            name: "warm-up".to_owned(),
            trace: TraceSource::Text { key: Some("warm-up".to_owned()) },
        };
        let mut finished = false;
        Worker::default().handle(request, Some(text), &mut |message| {
            finished |= matches!(message, FromWorker::Finished { .. });
        });
        finished
    }

    /// The worker is downloading a trace it will keep under `key` (the page's default sample,
    /// fetched by the worker itself as soon as it starts): jobs asking for it wait until
    /// [`Worker::prefetched`].
    pub fn expect_prefetch(&mut self, key: String) {
        self.prefetching = Some(key);
    }

    /// The prefetched trace `name` arrived (or could not be fetched): it is parsed and kept under
    /// `key`, and the jobs that waited for it run. Progress and replies go through `post`.
    pub fn prefetched(
        &mut self,
        key: &str,
        name: &str,
        text: Result<String, String>,
        post: &mut dyn FnMut(FromWorker),
    ) {
        if self.prefetching.as_deref() != Some(key) {
            return;
        }
        self.prefetching = None;
        if let Ok(text) = text {
            let workload = Workload::default();
            if let Ok(resolved) = resolve(&workload, 0, Some(TraceText { name, bytes: text.as_bytes() }), &mut |_| {}) {
                let trace = resolved.trace;
                if let Some(summary) = TraceSummary::of(&trace) {
                    self.kept = Some(Kept { key: key.to_owned(), trace, summary, sha256: None });
                }
            }
        }
        for request in std::mem::take(&mut self.waiting) {
            self.handle(request, None, post);
        }
    }

    /// Handles one request (with the trace text that came beside it, if any), sending progress
    /// and exactly one final reply through `post` (none yet for a job waiting for the
    /// prefetched trace).
    pub fn handle(&mut self, request: ToWorker, text: Option<String>, post: &mut dyn FnMut(FromWorker)) {
        if let ToWorker::Run { trace: TraceSource::Cached { key }, .. } = &request {
            if self.prefetching.as_ref() == Some(key) {
                self.waiting.push(request);
                return;
            }
        }
        let ToWorker::Run { job, scenario, name, trace } = request;
        // Validate first: a generator must never run on parameters validation refuses.
        let scenario = Scenario::from_json(&scenario).map_err(|error| error.to_string()).and_then(|scenario| {
            scenario
                .validate()
                .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
            Ok(scenario)
        });
        let fail = |message: String| FromWorker::Failed { job, message };
        let (trace, report) = match (trace, &scenario) {
            (TraceSource::Generated, Err(message)) => return post(fail(message.clone())),
            (TraceSource::Generated, Ok(scenario)) => {
                let Some(_) = scenario.workload.generator() else {
                    return post(fail(format!("{name}: no trace text and the scenario has no generator")));
                };
                let trace = match resolve(&scenario.workload, scenario.seed, None, &mut |_| {}) {
                    Ok(resolved) => resolved.trace,
                    Err(error) => return post(fail(error.to_string())),
                };
                let Some(summary) = TraceSummary::of(&trace) else {
                    return post(fail(format!("{name}: the trace has no requests")));
                };
                (trace, TraceReport { name, sha256: None, summary, key: None })
            }
            (TraceSource::Text { key }, _) => {
                let Some(text) = text else { return post(fail(format!("{name}: the trace text did not arrive"))) };
                let total = text.len().max(1) as f64;
                let workload = Workload::default();
                let parsed =
                    resolve(&workload, 0, Some(TraceText { name: &name, bytes: text.as_bytes() }), &mut |done| {
                        post(FromWorker::Progress { job, fraction: PARSE_SHARE * done as f64 / total })
                    });
                let trace = match parsed {
                    Ok(resolved) => resolved.trace,
                    Err(error) => return post(fail(error.to_string())),
                };
                let Some(summary) = TraceSummary::of(&trace) else {
                    return post(fail(format!("{name}: the trace has no requests")));
                };
                // A dropped file is known by its digest; a sample by its id.
                let sha256 = key.is_none().then(|| sha256_hex(text.as_bytes()));
                let key = key.unwrap_or_else(|| format!("file:{}", sha256.as_deref().unwrap_or_default()));
                let report =
                    TraceReport { name, sha256: sha256.clone(), summary: summary.clone(), key: Some(key.clone()) };
                self.kept = Some(Kept { key, trace: trace.clone(), summary, sha256 });
                (trace, report)
            }
            (TraceSource::Cached { key }, _) => match &self.kept {
                Some(kept) if kept.key == key => {
                    let report = TraceReport {
                        name,
                        sha256: kept.sha256.clone(),
                        summary: kept.summary.clone(),
                        key: Some(key),
                    };
                    (kept.trace.clone(), report)
                }
                _ => return post(FromWorker::TraceMissing { job }),
            },
        };
        let run = scenario
            .and_then(|scenario| Simulation::new(&scenario, trace).map_err(|error| error.to_string()))
            .map(|mut simulation| {
                simulation
                    .run_with_progress(&mut |fraction| {
                        post(FromWorker::Progress { job, fraction: PARSE_SHARE + (1.0 - PARSE_SHARE) * fraction });
                        true
                    })
                    .expect("the callback never cancels");
                Box::new(simulation.report())
            });
        post(FromWorker::Finished { job, trace: Box::new(report), run });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replies_from(
        worker: &mut Worker,
        scenario: &Scenario,
        name: &str,
        trace: TraceSource,
        text: Option<&str>,
    ) -> Vec<FromWorker> {
        let mut replies = Vec::new();
        let request = ToWorker::Run { job: 7, scenario: scenario.to_canonical_json(), name: name.into(), trace };
        worker.handle(request, text.map(str::to_owned), &mut |reply| replies.push(reply));
        replies
    }

    fn replies(scenario: &Scenario, name: &str, text: Option<&str>) -> Vec<FromWorker> {
        let source = if text.is_some() { TraceSource::Text { key: None } } else { TraceSource::Generated };
        replies_from(&mut Worker::default(), scenario, name, source, text)
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
    fn a_kept_trace_reruns_without_its_text_and_gives_the_same_results() {
        let text = include_str!("../tests/e2e/fixtures/splitwise_code.csv");
        let mut worker = Worker::default();
        let scenario = Scenario::reference();
        let key = Some("sample:x".to_owned());
        let first = replies_from(&mut worker, &scenario, "x", TraceSource::Text { key: key.clone() }, Some(text));
        let again = replies_from(&mut worker, &scenario, "x", TraceSource::Cached { key: "sample:x".into() }, None);
        let (
            Some(FromWorker::Finished { run: Ok(a), trace: ta, .. }),
            Some(FromWorker::Finished { run: Ok(b), trace: tb, .. }),
        ) = (first.last(), again.last())
        else {
            panic!("{first:?} {again:?}")
        };
        assert_eq!((a, &ta.key), (b, &tb.key));
        assert_eq!(ta.key, key);
        let lost = replies_from(&mut worker, &scenario, "y", TraceSource::Cached { key: "sample:y".into() }, None);
        assert_eq!(lost, vec![FromWorker::TraceMissing { job: 7 }], "the page then sends the text");
    }

    #[test]
    fn a_generator_workload_needs_no_text() {
        let scenario = Scenario {
            workload: servesim_core::scenario::WorkloadSource::Generator(Default::default()).into(),
            ..Scenario::reference()
        };
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
        let request = ToWorker::Run {
            job: 3,
            scenario: json.to_owned(),
            name: "generator".into(),
            trace: TraceSource::Generated,
        };
        Worker::default().handle(request, None, &mut |reply| replies.push(reply));
        let [FromWorker::Failed { job: 3, message }] = replies.as_slice() else { panic!("{replies:?}") };
        assert!(message.contains("workload.generator.prompt_tokens.lognormal.max: must be ≥ 1, got 0"), "{message}");
        assert!(
            message.contains("workload.generator.output_tokens.uniform.max: must be ≥ min (9), got 2"),
            "{message}"
        );
    }

    #[test]
    fn the_warm_up_runs_a_whole_job() {
        assert!(Worker::warm_up(), "the warm-up's job finished");
    }

    #[test]
    fn a_garbage_file_fails_with_its_name_and_line() {
        let replies = replies(&Scenario::default(), "x.bin", Some("\u{1}\u{2}PNG"));
        let Some(FromWorker::Failed { job: 7, message }) = replies.last() else { panic!("{replies:?}") };
        assert!(message.starts_with("x.bin: line 1: unrecognised trace format"), "{message}");
    }

    #[test]
    fn jobs_for_the_prefetched_sample_wait_for_it_then_run_on_it() {
        let text = include_str!("../tests/e2e/fixtures/splitwise_code.csv");
        let mut worker = Worker::default();
        worker.expect_prefetch("sample:x".into());
        let scenario = Scenario::reference();
        let cached = || TraceSource::Cached { key: "sample:x".into() };
        let early = replies_from(&mut worker, &scenario, "x", cached(), None);
        assert_eq!(early, vec![], "the job waits for the download");
        let mut replies = Vec::new();
        worker.prefetched("sample:x", "x", Ok(text.to_owned()), &mut |reply| replies.push(reply));
        let Some(FromWorker::Finished { run: Ok(report), trace, .. }) = replies.last() else { panic!("{replies:?}") };
        assert_eq!((report.summary.requests.completed, trace.key.as_deref()), (8_819, Some("sample:x")));
        // A download that failed leaves nothing kept: the job waiting for it asks for the text.
        let mut failed = Worker::default();
        failed.expect_prefetch("sample:x".into());
        assert_eq!(replies_from(&mut failed, &scenario, "x", cached(), None), vec![]);
        let mut replies = Vec::new();
        failed.prefetched("sample:x", "x", Err("HTTP 404".into()), &mut |reply| replies.push(reply));
        assert_eq!(replies, vec![FromWorker::TraceMissing { job: 7 }]);
    }

    #[test]
    fn the_page_starts_this_worker_early_asking_it_to_prefetch_the_default_sample() {
        let index = include_str!("../index.html");
        let start = format!("new Worker('{}' + ", crate::worker_client::WORKER_URL);
        assert!(index.contains(&start), "index.html starts the worker");
        assert!(index.contains(&format!("'{PREFETCH_QUERY}'")), "and asks it to prefetch");
    }
}
