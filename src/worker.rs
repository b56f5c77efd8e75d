//! What the simulation worker does with each request, independent of the browser.
//!
//! `src/bin/sim_worker.rs` only wires this to `postMessage` and reads files; the logic lives
//! here so native tests can run it. A request whose trace travels as a file starts an
//! [`ImportJob`]: the binary reads the file in chunks ([`FILE_CHUNK_BYTES`]) and hands each to
//! [`Worker::push`], so a file of hundreds of MB is never held whole; [`Worker::finish`] then
//! keeps the imported trace and simulates. A benchmark fit needs no file: it is done at once.

use servesim_core::calibrate::{fit, BenchmarkRow, FitReport};
use servesim_core::digest::Sha256Stream;
use servesim_core::scenario::{RouterKind, Scenario};
use servesim_core::sim::{RunReport, Simulation};
use servesim_core::workload::{ImportOptions, ImportReport, Importer, Trace, TraceSummary};

use crate::protocol::{FromWorker, RouterRow, Task, ToWorker, TraceReport, TraceSource};

/// The query string with which `index.html` starts the worker when the page opens on the default
/// sample: the worker then downloads and parses it itself, while the app loads.
pub const PREFETCH_QUERY: &str = "?prefetch";

/// How many bytes of a file the worker reads at a time.
pub const FILE_CHUNK_BYTES: usize = 4 << 20;

/// The key the default sample is kept under, by the worker and the page alike.
pub fn default_sample_key() -> String {
    format!("sample:{}", servesim_core::workload::samples::DEFAULT_SAMPLE_ID)
}

/// Share of a job's progress bar spent reading the trace.
const PARSE_SHARE: f64 = 0.15;

/// What the worker keeps between jobs: the last trace it imported, so that rerunning a scenario
/// on the same trace neither sends nor parses it again; and, while it downloads the bundled
/// sample itself, the jobs waiting for it.
#[derive(Default)]
pub struct Worker {
    kept: Option<Kept>,
    prefetching: Option<String>,
    waiting: Vec<ToWorker>,
}

/// An imported trace as read from its file, before the scenario's arrivals and transform.
struct Kept {
    key: String,
    options: ImportOptions,
    trace: Trace,
    import: ImportReport,
    sha256: Option<String>,
}

/// A file being imported for a job.
pub struct ImportJob {
    job: u32,
    task: Task,
    scenario: Result<Scenario, String>,
    name: String,
    /// The key to keep the trace under; `None` for a dropped file (kept under its SHA-256).
    key: Option<String>,
    options: ImportOptions,
    importer: Importer,
    sha256: Sha256Stream,
    bytes_done: u64,
    file_size: u64,
    failed: bool,
}

impl ImportJob {
    /// Whether the import failed (its `Failed` reply was posted): stop reading.
    pub fn failed(&self) -> bool {
        self.failed
    }
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
            trace: TraceSource::File { key: Some("warm-up".to_owned()) },
            import: ImportOptions::default(),
            task: Task::Simulate,
        };
        let mut finished = false;
        Worker::default().handle_with_bytes(request, text.as_bytes(), &mut |message| {
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

    /// The prefetched trace arrived (or could not be fetched): it is imported and kept under
    /// `key`, and the jobs that waited for it run. Progress and replies go through `post`.
    pub fn prefetched(&mut self, key: &str, bytes: Result<Vec<u8>, String>, post: &mut dyn FnMut(FromWorker)) {
        if self.prefetching.as_deref() != Some(key) {
            return;
        }
        self.prefetching = None;
        if let Ok(bytes) = bytes {
            let options = ImportOptions::default();
            if let Ok(imported) = servesim_core::workload::import_bytes(&bytes, options.clone(), &mut |_| {}) {
                self.kept = Some(Kept {
                    key: key.to_owned(),
                    options,
                    trace: imported.trace,
                    import: imported.report,
                    sha256: None,
                });
            }
        }
        for request in std::mem::take(&mut self.waiting) {
            self.handle(request, 0, post);
        }
    }

    /// Handles one request, sending progress and exactly one final reply through `post` — or,
    /// when its trace travels as a file of `file_size` bytes, returns the [`ImportJob`] to feed
    /// with the file's bytes ([`Worker::push`], then [`Worker::finish`]). A job waiting for the
    /// prefetched trace gets no reply yet.
    pub fn handle(&mut self, request: ToWorker, file_size: u64, post: &mut dyn FnMut(FromWorker)) -> Option<ImportJob> {
        if let ToWorker::Run { trace: TraceSource::Cached { key }, .. } = &request {
            if self.prefetching.as_ref() == Some(key) {
                self.waiting.push(request);
                return None;
            }
        }
        let (job, task, scenario, name, trace, options) = match request {
            ToWorker::Run { job, scenario, name, trace, import, task } => (job, task, scenario, name, trace, import),
            ToWorker::Calibrate { job, scenario, rows } => {
                post(FromWorker::Calibrated { job, fit: fit_benchmark(&scenario, &rows) });
                return None;
            }
        };
        // Validate first: a generator must never run on parameters validation refuses.
        let scenario = Scenario::from_json(&scenario).map_err(|error| error.to_string()).and_then(|scenario| {
            scenario
                .validate()
                .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
            Ok(scenario)
        });
        match trace {
            TraceSource::Generated => {
                let scenario = match scenario {
                    Ok(scenario) => scenario,
                    Err(message) => {
                        post(FromWorker::Failed { job, message });
                        return None;
                    }
                };
                let Some(generator) = scenario.workload.generator() else {
                    let message = format!("{name}: no trace and the scenario has no generator");
                    post(FromWorker::Failed { job, message });
                    return None;
                };
                let trace = generator.generate(scenario.seed);
                let report = TraceReport { name, sha256: None, summary: None, import: None, key: None };
                run(job, task, Ok(scenario), trace, report, post);
                None
            }
            TraceSource::File { key } => Some(ImportJob {
                job,
                task,
                scenario,
                name,
                key,
                importer: Importer::new(options.clone()),
                options,
                sha256: Sha256Stream::default(),
                bytes_done: 0,
                file_size,
                failed: false,
            }),
            TraceSource::Cached { key } => {
                match &self.kept {
                    Some(kept) if kept.key == key && kept.options == options => {
                        let report = TraceReport {
                            name,
                            sha256: kept.sha256.clone(),
                            summary: None,
                            import: Some(kept.import.clone()),
                            key: Some(key),
                        };
                        run(job, task, scenario, kept.trace.clone(), report, post);
                    }
                    _ => post(FromWorker::TraceMissing { job }),
                }
                None
            }
        }
    }

    /// Reads the next chunk of a job's file.
    pub fn push(&mut self, import: &mut ImportJob, chunk: &[u8], post: &mut dyn FnMut(FromWorker)) {
        if import.failed {
            return;
        }
        import.sha256.update(chunk);
        import.bytes_done += chunk.len() as u64;
        if let Err(error) = import.importer.push(chunk) {
            import.failed = true;
            post(FromWorker::Failed { job: import.job, message: format!("{}: {error}", import.name) });
            return;
        }
        let fraction = import.bytes_done as f64 / import.file_size.max(import.bytes_done).max(1) as f64;
        post(FromWorker::Progress { job: import.job, fraction: PARSE_SHARE * fraction });
    }

    /// The file could not be read (`message` from the browser): the job fails.
    pub fn abort(&mut self, import: ImportJob, message: &str, post: &mut dyn FnMut(FromWorker)) {
        if !import.failed {
            post(FromWorker::Failed {
                job: import.job,
                message: format!("{}: cannot read the file: {message}", import.name),
            });
        }
    }

    /// The whole file was read: the trace is kept and the job runs on it.
    pub fn finish(&mut self, import: ImportJob, post: &mut dyn FnMut(FromWorker)) {
        if import.failed {
            return;
        }
        let ImportJob { job, task, scenario, name, key, options, importer, sha256, .. } = import;
        let imported = match importer.finish() {
            Ok(imported) => imported,
            Err(error) => return post(FromWorker::Failed { job, message: format!("{name}: {error}") }),
        };
        // A dropped file is known by its digest; a sample by its id.
        let sha256 = key.is_none().then(|| sha256.finish_hex());
        let key = key.unwrap_or_else(|| format!("file:{}", sha256.as_deref().unwrap_or_default()));
        let report = TraceReport {
            name,
            sha256: sha256.clone(),
            summary: None,
            import: Some(imported.report.clone()),
            key: Some(key.clone()),
        };
        self.kept = Some(Kept { key, options, trace: imported.trace.clone(), import: imported.report, sha256 });
        run(job, task, scenario, imported.trace, report, post);
    }

    /// [`Worker::handle`] with the file's bytes at hand, fed in [`FILE_CHUNK_BYTES`] chunks.
    pub fn handle_with_bytes(&mut self, request: ToWorker, bytes: &[u8], post: &mut dyn FnMut(FromWorker)) {
        if let Some(mut import) = self.handle(request, bytes.len() as u64, post) {
            for chunk in bytes.chunks(FILE_CHUNK_BYTES) {
                self.push(&mut import, chunk, post);
            }
            self.finish(import, post);
        }
    }
}

/// Fits the performance model of `scenario` (canonical JSON) to a benchmark's `rows`.
fn fit_benchmark(scenario: &str, rows: &[BenchmarkRow]) -> Result<FitReport, String> {
    let scenario = Scenario::from_json(scenario).map_err(|error| error.to_string())?;
    fit(&scenario, rows)
}

/// Shapes the imported or generated `trace` with the scenario's workload (new arrivals,
/// resampling, transform), describes it, runs `task` on it, and posts `task`'s final reply (with
/// the reason when the workload cannot be shaped or the scenario cannot run).
fn run(
    job: u32,
    task: Task,
    scenario: Result<Scenario, String>,
    trace: Trace,
    mut report: TraceReport,
    post: &mut dyn FnMut(FromWorker),
) {
    let shaped = match &scenario {
        Ok(scenario) => scenario.workload.shape(trace, scenario.seed, &report.name).map_err(|error| error.to_string()),
        Err(_) => Ok(trace),
    };
    // The file itself is fine even when the scenario cannot shape or run it: it is reported.
    let scenario_and_trace = shaped.and_then(|trace| {
        report.summary = TraceSummary::of(&trace);
        scenario.map(|scenario| (scenario, trace))
    });
    let trace_report = Box::new(report);
    match task {
        Task::Simulate => {
            let run = scenario_and_trace
                .and_then(|(scenario, trace)| simulate(job, &scenario, trace, (0.0, 1.0), post))
                .map(Box::new);
            post(FromWorker::Finished { job, trace: trace_report, run });
        }
        Task::CompareRouters => {
            let rows = scenario_and_trace.and_then(|(scenario, trace)| compare_routers(job, scenario, &trace, post));
            post(FromWorker::RoutersCompared { job, trace: trace_report, rows });
        }
    }
}

/// Simulates `scenario` on `trace`, its progress filling the part `(start, share)` of the
/// simulation's share of the bar.
fn simulate(
    job: u32,
    scenario: &Scenario,
    trace: Trace,
    (start, share): (f64, f64),
    post: &mut dyn FnMut(FromWorker),
) -> Result<RunReport, String> {
    let mut simulation = Simulation::new(scenario, trace).map_err(|error| error.to_string())?;
    simulation
        .run_with_progress(&mut |fraction| {
            let fraction = PARSE_SHARE + (1.0 - PARSE_SHARE) * (start + share * fraction);
            post(FromWorker::Progress { job, fraction });
            true
        })
        .expect("the callback never cancels");
    Ok(simulation.report())
}

/// Simulates `scenario` on `trace` once per router kind, with only `router.kind` changed, and
/// returns each run's prefix hit rate and p95 TTFT and TPOT.
fn compare_routers(
    job: u32,
    mut scenario: Scenario,
    trace: &Trace,
    post: &mut dyn FnMut(FromWorker),
) -> Result<Vec<RouterRow>, String> {
    let share = 1.0 / RouterKind::ALL.len() as f64;
    RouterKind::ALL
        .iter()
        .enumerate()
        .map(|(index, &router)| {
            scenario.router.kind = router;
            let summary = simulate(job, &scenario, trace.clone(), (index as f64 * share, share), post)?.summary;
            Ok(RouterRow {
                router,
                prefix_hit_rate: summary.prefix_cache.hit_rate,
                ttft_p95_ms: summary.ttft_ms.map(|q| q.p95),
                tpot_p95_ms: summary.tpot_ms.map(|q| q.p95),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
