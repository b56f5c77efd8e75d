use std::io::Write;

use servesim_core::scenario::{Deployment, Disaggregated, ModelChoice, RouterKind, WorkloadSource};
use servesim_core::workload::{Arrivals, ColumnMapping, TimeUnit, TraceFormat};

use super::*;

const SPLITWISE_CODE: &str = include_str!("../../tests/e2e/fixtures/splitwise_code.csv");

fn request(scenario: &Scenario, name: &str, trace: TraceSource, import: ImportOptions) -> ToWorker {
    ToWorker::Run {
        job: 7,
        scenario: scenario.to_canonical_json(),
        name: name.into(),
        trace,
        import,
        task: Task::Simulate,
    }
}

fn replies_from(
    worker: &mut Worker,
    scenario: &Scenario,
    name: &str,
    trace: TraceSource,
    bytes: Option<&[u8]>,
) -> Vec<FromWorker> {
    replies_with(worker, request(scenario, name, trace, ImportOptions::default()), bytes)
}

fn replies_with(worker: &mut Worker, request: ToWorker, bytes: Option<&[u8]>) -> Vec<FromWorker> {
    let mut replies = Vec::new();
    match bytes {
        Some(bytes) => worker.handle_with_bytes(request, bytes, &mut |reply| replies.push(reply)),
        None => assert!(worker.handle(request, 0, &mut |reply| replies.push(reply)).is_none()),
    }
    replies
}

fn replies(scenario: &Scenario, name: &str, bytes: Option<&[u8]>) -> Vec<FromWorker> {
    let source = if bytes.is_some() { TraceSource::File { key: None } } else { TraceSource::Generated };
    replies_from(&mut Worker::default(), scenario, name, source, bytes)
}

fn finished(replies: &[FromWorker]) -> (&TraceReport, &Result<Box<servesim_core::sim::RunReport>, String>) {
    match replies.last() {
        Some(FromWorker::Finished { trace, run, .. }) => (trace, run),
        other => panic!("last reply is not Finished: {other:?}"),
    }
}

/// The progress fractions of every reply but the last, which must all be progress.
fn progress_fractions(replies: &[FromWorker]) -> Vec<f64> {
    replies[..replies.len() - 1]
        .iter()
        .map(|reply| match reply {
            FromWorker::Progress { fraction, .. } => *fraction,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}
#[test]
fn a_real_trace_is_read_then_simulated_with_rising_progress() {
    let replies = replies(&Scenario::reference(), "splitwise_code.csv", Some(SPLITWISE_CODE.as_bytes()));
    let (trace, run) = finished(&replies);
    assert_eq!(trace.summary.as_ref().unwrap().num_requests, 8_819);
    assert_eq!(trace.import.as_ref().unwrap().format, TraceFormat::VidurCsv);
    assert_eq!(trace.sha256.as_deref(), Some("f266b907d109d471c61283ab69771c17ad79a18b33ff6e96aa546346f52767a6"));
    assert_eq!(run.as_ref().unwrap().summary.requests.completed, 8_819);
    let fractions = progress_fractions(&replies);
    assert!(fractions.windows(2).all(|pair| pair[0] <= pair[1]));
    assert_eq!(fractions.last(), Some(&1.0));
    // Replies survive the JSON round trip the browser uses, floats included.
    let last = replies.last().unwrap();
    assert_eq!(&FromWorker::from_json(&last.to_json()).unwrap(), last);
}

#[test]
fn a_file_read_in_any_chunks_gives_the_same_trace_and_digest() {
    let mut worker = Worker::default();
    let mut replies = Vec::new();
    let request = request(&Scenario::reference(), "x.csv", TraceSource::File { key: None }, ImportOptions::default());
    let mut import = worker.handle(request, SPLITWISE_CODE.len() as u64, &mut |reply| replies.push(reply)).unwrap();
    for chunk in SPLITWISE_CODE.as_bytes().chunks(999) {
        worker.push(&mut import, chunk, &mut |reply| replies.push(reply));
    }
    worker.finish(import, &mut |reply| replies.push(reply));
    let whole = self::replies(&Scenario::reference(), "x.csv", Some(SPLITWISE_CODE.as_bytes()));
    assert_eq!(finished(&replies), finished(&whole));
}

#[test]
fn a_gzip_file_imports_like_the_plain_one() {
    let mut encoder = flate2_encoder();
    encoder.write_all(SPLITWISE_CODE.as_bytes()).unwrap();
    let compressed = encoder.finish().unwrap();
    let replies = replies(&Scenario::reference(), "code.csv.gz", Some(&compressed));
    let (trace, run) = finished(&replies);
    assert!(trace.import.as_ref().unwrap().gzip);
    let plain = self::replies(&Scenario::reference(), "code.csv", Some(SPLITWISE_CODE.as_bytes()));
    assert_eq!(run.as_ref().unwrap().digest, finished(&plain).1.as_ref().unwrap().digest);
}

fn flate2_encoder() -> flate2::write::GzEncoder<Vec<u8>> {
    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast())
}

#[test]
fn a_scenario_that_cannot_run_still_reports_the_trace() {
    let mut scenario = Scenario::reference();
    scenario.model = ModelChoice::preset("llama-3.1-405b");
    let replies = replies(&scenario, "three.csv", Some(b"arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,10\n"));
    let (trace, run) = finished(&replies);
    assert_eq!(trace.summary.as_ref().unwrap().num_requests, 1);
    let message = run.as_ref().unwrap_err();
    assert!(message.starts_with("deployment.aggregated.tp: the model does not fit"), "{message}");
}

#[test]
fn a_length_only_file_is_reported_and_asks_for_arrivals() {
    let lengths = b"num_prefill_tokens,num_decode_tokens\n100,10\n200,20\n";
    let replies = replies(&Scenario::reference(), "lengths.csv", Some(lengths));
    let (trace, run) = finished(&replies);
    assert_eq!(trace.import.as_ref().unwrap().format, TraceFormat::LengthsOnly);
    assert!(trace.summary.is_none());
    assert!(run.as_ref().unwrap_err().starts_with("lengths.csv has lengths but no arrival times"), "{run:?}");
    // With an arrival process and resampling the same file runs.
    let mut scenario = Scenario::reference();
    scenario.workload.arrivals = Some(Arrivals::Poisson { rate_per_s: 2.0 });
    scenario.workload.num_requests = Some(50);
    let replies = self::replies(&scenario, "lengths.csv", Some(lengths));
    let (trace, run) = finished(&replies);
    assert_eq!(trace.summary.as_ref().unwrap().num_requests, 50);
    assert_eq!(run.as_ref().unwrap().summary.requests.completed, 50);
}

#[test]
fn import_options_reach_the_importer_and_a_kept_trace_is_only_reused_with_the_same_ones() {
    let custom = b"t,in,out,tenant\n0,100,10,a\n0.5,x,10,b\n1,300,30,b\n";
    let mut worker = Worker::default();
    let scenario = Scenario::reference();
    let mapping = ColumnMapping {
        arrival: Some("t".into()),
        arrival_unit: TimeUnit::S,
        prompt_tokens: "in".into(),
        output_tokens: "out".into(),
        session: None,
        class: Some("tenant".into()),
    };
    let strict = ImportOptions { columns: Some(mapping.clone()), skip_bad_rows: false };
    let replies =
        replies_with(&mut worker, request(&scenario, "c.csv", TraceSource::File { key: None }, strict), Some(custom));
    let [.., FromWorker::Failed { message, .. }] = replies.as_slice() else { panic!("{replies:?}") };
    assert_eq!(message, "c.csv: line 3, column 2: in: \"x\" is not a whole number");
    let lenient = ImportOptions { columns: Some(mapping), skip_bad_rows: true };
    let replies = replies_with(
        &mut worker,
        request(&scenario, "c.csv", TraceSource::File { key: None }, lenient.clone()),
        Some(custom),
    );
    let (trace, _) = finished(&replies);
    let import = trace.import.as_ref().unwrap();
    assert_eq!((import.format, import.rows_skipped, import.num_requests), (TraceFormat::CustomCsv, 1, 2));
    let key = trace.key.clone().unwrap();
    let again =
        replies_with(&mut worker, request(&scenario, "c.csv", TraceSource::Cached { key: key.clone() }, lenient), None);
    assert!(matches!(again.last(), Some(FromWorker::Finished { .. })));
    let other = replies_with(
        &mut worker,
        request(&scenario, "c.csv", TraceSource::Cached { key }, ImportOptions::default()),
        None,
    );
    assert_eq!(other, vec![FromWorker::TraceMissing { job: 7 }], "imported with other options: send the file");
}

#[test]
fn a_kept_trace_reruns_without_its_file_and_gives_the_same_results() {
    let mut worker = Worker::default();
    let scenario = Scenario::reference();
    let key = Some("sample:x".to_owned());
    let first = replies_from(
        &mut worker,
        &scenario,
        "x",
        TraceSource::File { key: key.clone() },
        Some(SPLITWISE_CODE.as_bytes()),
    );
    let again = replies_from(&mut worker, &scenario, "x", TraceSource::Cached { key: "sample:x".into() }, None);
    let ((ta, a), (tb, b)) = (finished(&first), finished(&again));
    assert_eq!((a, &ta.key), (b, &tb.key));
    assert_eq!(ta.key, key);
    let lost = replies_from(&mut worker, &scenario, "y", TraceSource::Cached { key: "sample:y".into() }, None);
    assert_eq!(lost, vec![FromWorker::TraceMissing { job: 7 }], "the page then sends the file");
}

#[test]
fn a_generator_workload_needs_no_file() {
    let scenario = Scenario { workload: WorkloadSource::Generator(Default::default()).into(), ..Scenario::reference() };
    let replies = replies(&scenario, "generator", None);
    let (trace, run) = finished(&replies);
    assert_eq!((trace.summary.as_ref().unwrap().num_requests, trace.sha256.as_ref()), (1_000, None));
    assert_eq!(run.as_ref().unwrap().summary.requests.completed, 1_000);
}

#[test]
fn comparing_routers_runs_the_scenario_once_per_router_changing_only_its_kind() {
    // Disaggregated, with a decode router of its own that every run keeps.
    let mut scenario =
        Scenario { workload: WorkloadSource::Generator(Default::default()).into(), ..Scenario::reference() };
    scenario.deployment = Deployment::Disaggregated(Disaggregated::default());
    scenario.router.decode_kind = Some(RouterKind::LeastKv);
    let mut compare = request(&scenario, "generator", TraceSource::Generated, ImportOptions::default());
    if let ToWorker::Run { task, .. } = &mut compare {
        *task = Task::CompareRouters;
    }
    let replies = replies_with(&mut Worker::default(), compare, None);
    let Some(FromWorker::RoutersCompared { job: 7, trace, rows: Ok(rows) }) = replies.last() else {
        panic!("{:?}", replies.last())
    };
    assert_eq!(trace.summary.as_ref().unwrap().num_requests, 1_000);
    assert_eq!(rows.iter().map(|row| row.router).collect::<Vec<_>>(), RouterKind::ALL);
    let fractions = progress_fractions(&replies);
    assert!(fractions.windows(2).all(|pair| pair[0] <= pair[1]), "one bar over all the runs");
    assert!((fractions.last().unwrap() - 1.0).abs() < 1e-9);

    // Each row is what a run of the scenario with that router kind reports.
    for row in [&rows[0], &rows[5]] {
        scenario.router.kind = row.router;
        let single = replies_from(&mut Worker::default(), &scenario, "generator", TraceSource::Generated, None);
        let summary = &finished(&single).1.as_ref().unwrap().summary;
        assert_eq!(row.prefix_hit_rate, summary.prefix_cache.hit_rate, "{:?}", row.router);
        assert_eq!(row.ttft_p95_ms, summary.ttft_ms.as_ref().map(|q| q.p95), "{:?}", row.router);
        assert_eq!(row.tpot_p95_ms, summary.tpot_ms.as_ref().map(|q| q.p95), "{:?}", row.router);
    }
    // The rows survive the JSON round trip the browser uses.
    let last = replies.last().unwrap();
    assert_eq!(&FromWorker::from_json(&last.to_json()).unwrap(), last);
}

#[test]
fn an_invalid_generator_is_refused_before_it_runs() {
    // From a hostile link: lognormal max 0 and uniform min > max would panic if drawn.
    let json = r#"{"version":1,"workload":{"generator":{"num_requests":5,
        "prompt_tokens":{"lognormal":{"median":10,"sigma":1,"max":0}},"output_tokens":{"uniform":{"min":9,"max":2}}}}}"#;
    let request = ToWorker::Run {
        job: 3,
        scenario: json.to_owned(),
        name: "generator".into(),
        trace: TraceSource::Generated,
        import: ImportOptions::default(),
        task: Task::Simulate,
    };
    let replies = replies_with(&mut Worker::default(), request, None);
    let [FromWorker::Failed { job: 3, message }] = replies.as_slice() else { panic!("{replies:?}") };
    assert!(message.contains("workload.generator.prompt_tokens.lognormal.max: must be ≥ 1, got 0"), "{message}");
    assert!(message.contains("workload.generator.output_tokens.uniform.max: must be ≥ min (9), got 2"), "{message}");
}

#[test]
fn the_warm_up_runs_a_whole_job() {
    assert!(Worker::warm_up(), "the warm-up's job finished");
}

#[test]
fn a_garbage_file_fails_with_its_name_and_line() {
    let replies = replies(&Scenario::default(), "x.bin", Some(b"\x01\x02PNG"));
    let Some(FromWorker::Failed { job: 7, message }) = replies.last() else { panic!("{replies:?}") };
    assert!(message.starts_with("x.bin: line 1: unrecognised trace format"), "{message}");
}

#[test]
fn jobs_for_the_prefetched_sample_wait_for_it_then_run_on_it() {
    let mut worker = Worker::default();
    worker.expect_prefetch("sample:x".into());
    let scenario = Scenario::reference();
    let cached = || TraceSource::Cached { key: "sample:x".into() };
    let early = replies_from(&mut worker, &scenario, "x", cached(), None);
    assert_eq!(early, vec![], "the job waits for the download");
    let mut replies = Vec::new();
    worker.prefetched("sample:x", Ok(SPLITWISE_CODE.as_bytes().to_vec()), &mut |reply| replies.push(reply));
    let (trace, run) = finished(&replies);
    assert_eq!((run.as_ref().unwrap().summary.requests.completed, trace.key.as_deref()), (8_819, Some("sample:x")));
    // A download that failed leaves nothing kept: the job waiting for it asks for the file.
    let mut failed = Worker::default();
    failed.expect_prefetch("sample:x".into());
    assert_eq!(replies_from(&mut failed, &scenario, "x", cached(), None), vec![]);
    let mut replies = Vec::new();
    failed.prefetched("sample:x", Err("HTTP 404".into()), &mut |reply| replies.push(reply));
    assert_eq!(replies, vec![FromWorker::TraceMissing { job: 7 }]);
}

#[test]
fn the_page_starts_this_worker_early_asking_it_to_prefetch_the_default_sample() {
    let index = include_str!("../../index.html");
    let start = format!("new Worker('{}' + ", crate::worker_client::WORKER_URL);
    assert!(index.contains(&start), "index.html starts the worker");
    assert!(index.contains(&format!("'{PREFETCH_QUERY}'")), "and asks it to prefetch");
}

#[test]
fn a_benchmark_is_fitted_at_once_and_a_scenario_that_does_not_read_is_refused() {
    let csv = "isl,osl,concurrency,ttft_ms,tpot_ms\n512,32,1,20,9\n512,32,8,60,11\n";
    let rows = servesim_core::calibrate::parse_benchmark(csv.as_bytes()).unwrap();
    let scenario = Scenario::default().to_canonical_json();
    let request = ToWorker::Calibrate { job: 3, scenario, rows: rows.clone() };
    assert_eq!(ToWorker::from_json(&request.to_json()).unwrap(), request);
    let replies = replies_with(&mut Worker::default(), request, None);
    let [reply @ FromWorker::Calibrated { job: 3, fit: Ok(report) }] = replies.as_slice() else {
        panic!("one Calibrated reply, got {replies:?}")
    };
    assert_eq!(report.rows.len(), 2);
    assert!(report.error_after_pct < report.error_before_pct, "{report:?}");
    assert_eq!(&FromWorker::from_json(&reply.to_json()).unwrap(), reply);

    let unreadable = ToWorker::Calibrate { job: 4, scenario: "{}".into(), rows };
    let replies = replies_with(&mut Worker::default(), unreadable, None);
    let [FromWorker::Calibrated { job: 4, fit: Err(message) }] = replies.as_slice() else { panic!("{replies:?}") };
    assert!(message.contains("version"), "{message}");
}
