//! servesim in the browser: the Leptos app.
//!
//! [`App`] holds the page's state and wires the components together. The simulation runs in a
//! Web Worker (`src/bin/sim_worker.rs`, logic in [`worker`]) so the page never freezes; the
//! page talks to it through [`worker_client::SimWorker`] with the JSON messages of
//! [`protocol`]. The scenario is mirrored into the URL hash ([`url_state`]), so the address bar
//! is always a link that reopens the same scenario.
//!
//! Components are small and live in [`components`]; everything a test touches carries a
//! `data-testid`.
#![forbid(unsafe_code)]

pub mod components;
pub mod examples;
pub mod format;
pub mod protocol;
pub mod syntax;
pub mod url_state;
pub mod worker;
pub mod worker_client;

use leptos::prelude::*;
use leptos::task::spawn_local;
use servesim_core::calibrate::{BenchmarkRow, FitReport};
use servesim_core::scenario::{Calibration, FileRef, Scenario, WorkloadSource};
use servesim_core::sim::RunReport;
use servesim_core::workload::{samples, Arrivals, ImportOptions};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::components::{
    ChartPanel, ExampleGallery, Header, Kpis, ModelPanel, PdView, ReplicaTable, RouterComparisonPanel, RunPanel,
    ScenarioForm, StageTable, TraceExplorer, TrafficPanel, WorkloadPanel,
};
use crate::protocol::{FromWorker, RouterRow, Task, ToWorker, TraceReport, TraceSource};
use crate::worker_client::SimWorker;

/// Where the current job stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// Nothing has run yet.
    Idle,
    /// Fetching a bundled sample before running.
    Fetching(String),
    /// The worker is fitting the performance model to the benchmark file named.
    Fitting(String),
    /// The worker is on it.
    Running {
        /// Fraction done, 0 to 1.
        fraction: f64,
    },
    /// The last job finished.
    Done,
    /// The user cancelled the last job.
    Cancelled,
    /// The last job failed; the message is for the user.
    Failed(String),
}

impl RunStatus {
    /// Whether a job is under way.
    pub fn is_busy(&self) -> bool {
        matches!(self, RunStatus::Fetching(_) | RunStatus::Fitting(_) | RunStatus::Running { .. })
    }
}

/// A trace the user dropped and the worker accepted: the browser's `File` (a Blob, handed to
/// the worker as it is; its bytes stay on disk).
#[derive(Clone)]
struct LoadedFile {
    sha256: String,
    file: JsValue,
}

/// A dropped file the worker could not import, kept so the user can retry it with other
/// options (skip bad rows, a column mapping) without dropping it again.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportFailure {
    /// The file name.
    pub name: String,
    /// Why it failed, with line and column.
    pub message: String,
    /// The options it was read with.
    pub options: ImportOptions,
}

/// The last benchmark the performance model was fitted to, and the fit.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchmarkFit {
    /// The benchmark's file name.
    pub file: String,
    /// Every run's error before and after, and the fitted factors.
    pub report: FitReport,
}

/// The routers compared on a scenario ([`AppState::compare_routers`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RouterComparison {
    /// The scenario as it was sent (with the router kind the page had then).
    pub scenario: Scenario,
    /// A row per router kind, or why the scenario cannot run on its trace.
    pub rows: Result<Vec<RouterRow>, String>,
}

/// The arrival process a length-only trace gets when it is loaded without one.
pub const DEFAULT_ARRIVALS: Arrivals = Arrivals::Poisson { rate_per_s: 5.0 };

/// A job: what it runs, and the scenario it sent (to tell later whether results are stale).
#[derive(Clone)]
struct Job {
    id: u32,
    source: Source,
    sent: Option<Scenario>,
}

/// What a job analyses.
#[derive(Clone)]
enum Source {
    /// The scenario's current workload (a sample, or the file already loaded).
    Scenario,
    /// A file just dropped, read with `options`; it becomes the scenario's workload if the
    /// worker accepts it.
    Dropped { name: String, file: JsValue, options: ImportOptions },
    /// A benchmark's runs, from the file named: the fit becomes the scenario's calibration.
    Benchmark { file: String },
    /// The scenario's current workload, simulated once per router kind.
    CompareRouters,
}

/// The app's state, as copyable handles shared by the components.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The scenario being edited; mirrored into the URL hash.
    pub scenario: RwSignal<Scenario>,
    /// Where the current job stands.
    pub status: RwSignal<RunStatus>,
    /// What the latest run's trace holds.
    pub trace_report: RwSignal<Option<TraceReport>>,
    /// The latest simulation report.
    pub run_report: RwSignal<Option<RunReport>>,
    /// Why the latest run could not simulate (its trace was still read).
    pub run_error: RwSignal<Option<String>>,
    /// The scenario the latest run simulated, to tell when results are stale.
    pub ran_scenario: RwSignal<Option<Scenario>>,
    /// A problem with the link the page was opened with.
    pub link_error: RwSignal<Option<String>>,
    /// The last link produced by the Share button.
    pub share_link: RwSignal<Option<String>>,
    /// The last dropped file the worker could not import.
    pub import_failure: RwSignal<Option<ImportFailure>>,
    /// The last benchmark fitted, shown until the calibration is cleared.
    pub fit: RwSignal<Option<BenchmarkFit>>,
    /// The last router comparison.
    pub router_comparison: RwSignal<Option<RouterComparison>>,
    /// Why the last benchmark or step profile was not applied.
    pub calibration_error: RwSignal<Option<String>>,
    rejected_file: StoredValue<Option<JsValue>, LocalStorage>,
    worker: StoredValue<Option<SimWorker>, LocalStorage>,
    job: StoredValue<Option<Job>, LocalStorage>,
    next_job: StoredValue<u32>,
    loaded_file: StoredValue<Option<LoadedFile>, LocalStorage>,
    sample_blobs: StoredValue<Vec<(String, JsValue)>, LocalStorage>,
    /// The key of the parsed trace the current worker keeps (none after a restart).
    worker_trace: StoredValue<Option<String>>,
}

impl AppState {
    fn new(scenario: Scenario, link_error: Option<String>) -> AppState {
        AppState {
            scenario: RwSignal::new(scenario),
            status: RwSignal::new(RunStatus::Idle),
            trace_report: RwSignal::new(None),
            run_report: RwSignal::new(None),
            run_error: RwSignal::new(None),
            ran_scenario: RwSignal::new(None),
            link_error: RwSignal::new(link_error),
            share_link: RwSignal::new(None),
            import_failure: RwSignal::new(None),
            fit: RwSignal::new(None),
            router_comparison: RwSignal::new(None),
            calibration_error: RwSignal::new(None),
            rejected_file: StoredValue::new_local(None),
            worker: StoredValue::new_local(None),
            job: StoredValue::new_local(None),
            next_job: StoredValue::new(0),
            loaded_file: StoredValue::new_local(None),
            sample_blobs: StoredValue::new_local(Vec::new()),
            worker_trace: StoredValue::new(None),
        }
    }

    /// Starts (or restarts) the worker.
    fn spawn_worker(self) {
        self.worker_trace.set_value(None);
        match SimWorker::spawn(move |reply| self.on_worker_reply(reply)) {
            Ok(worker) => {
                self.worker_trace.set_value(worker.prefetched());
                self.worker.set_value(Some(worker));
            }
            Err(message) => self.status.set(RunStatus::Failed(message)),
        }
    }

    /// Runs the scenario's workload.
    pub fn run(self) {
        let job = self.begin_job(Source::Scenario);
        self.dispatch(job);
    }

    /// Runs the scenario's workload once per router kind, changing only the (prefill) router's
    /// kind; the rows land in [`AppState::router_comparison`].
    pub fn compare_routers(self) {
        let job = self.begin_job(Source::CompareRouters);
        self.dispatch(job);
    }

    /// Replaces the scenario (a bundled example) and runs it; the URL follows, so the address
    /// bar is the example's link.
    pub fn open_scenario(self, scenario: Scenario) {
        self.link_error.set(None);
        self.scenario.set(scenario);
        self.run();
    }

    /// Sends job `job` for the scenario's current workload.
    fn dispatch(self, job: u32) {
        match self.scenario.with_untracked(|s| s.workload.source.clone()) {
            WorkloadSource::Sample(id) => self.run_sample(job, id),
            WorkloadSource::Generator(_) => self.send(job, "generator", TraceSource::Generated, None),
            WorkloadSource::File(file) => {
                let loaded = self
                    .loaded_file
                    .with_value(|loaded| loaded.as_ref().filter(|l| l.sha256 == file.sha256).map(|l| l.file.clone()));
                match loaded {
                    Some(blob) => {
                        let key = format!("file:{}", file.sha256);
                        self.send_trace(job, &file.name, Some(key), blob);
                    }
                    None => self.fail(
                        job,
                        format!(
                            "this scenario uses the file {} ({} requests); drop that file on the page to run it",
                            file.name,
                            format::thousands(file.rows)
                        ),
                    ),
                }
            }
        }
    }

    /// Runs the scenario on a dropped file (a `File`, read by the worker from disk); once the
    /// file is imported it becomes the scenario's workload, with the scenario's import options.
    pub fn load_file(self, name: String, file: JsValue) {
        let options = self.scenario.with_untracked(|s| s.workload.import_options());
        self.import_file(name, file, options);
    }

    /// Retries the last file that failed to import, with `options`.
    pub fn retry_import(self, options: ImportOptions) {
        let (Some(failure), Some(file)) = (self.import_failure.get_untracked(), self.rejected_file.get_value()) else {
            return;
        };
        self.import_file(failure.name, file, options);
    }

    fn import_file(self, name: String, file: JsValue, options: ImportOptions) {
        let job = self.begin_job(Source::Dropped { name: name.clone(), file: file.clone(), options });
        self.send(job, &name, TraceSource::File { key: None }, Some(file));
    }

    /// Makes `source` the workload, with the settings it needs (a length-only sample gets an
    /// arrival process, a generator none of a trace's), and runs it.
    pub fn use_source(self, source: WorkloadSource) {
        self.scenario.update(|scenario| {
            let workload = &mut scenario.workload;
            let needs_arrivals = match &source {
                WorkloadSource::Sample(id) => samples::find(id).is_some_and(|sample| !sample.has_arrivals),
                _ => false,
            };
            if matches!(source, WorkloadSource::Generator(_)) || !needs_arrivals {
                workload.arrivals = None;
                workload.num_requests = None;
            }
            if needs_arrivals && workload.arrivals.is_none() {
                workload.arrivals = Some(DEFAULT_ARRIVALS);
            }
            workload.columns = None;
            workload.skip_bad_rows = false;
            workload.source = source;
        });
        self.run();
    }

    /// Fits the performance model of the current scenario to the benchmark `rows` (read from
    /// `file`) in the worker; the fit becomes the scenario's calibration.
    pub fn calibrate(self, file: String, rows: Vec<BenchmarkRow>) {
        let job = self.begin_job(Source::Benchmark { file: file.clone() });
        self.calibration_error.set(None);
        self.status.set(RunStatus::Fitting(file));
        let scenario = self.scenario.with_untracked(Scenario::to_canonical_json);
        self.post(&ToWorker::Calibrate { job, scenario, rows }, None);
    }

    /// Abandons the current job: the worker is terminated and replaced.
    pub fn cancel(self) {
        if self.abandon_job() {
            self.status.set(RunStatus::Cancelled);
        }
    }

    /// Stops the job in flight, if any, by replacing the worker; `true` if there was one.
    fn abandon_job(self) -> bool {
        if self.job.with_value(Option::is_none) {
            return false;
        }
        self.job.set_value(None);
        self.restart_worker();
        true
    }

    fn restart_worker(self) {
        if let Some(worker) = self.worker.try_update_value(Option::take).flatten() {
            worker.terminate();
        }
        self.spawn_worker();
    }

    /// Puts a link to the current scenario in the share box and the clipboard.
    pub fn share(self) {
        let url = self.scenario.with_untracked(url_state::link_to);
        self.share_link.set(Some(url.clone()));
        let clipboard = window().navigator().clipboard();
        spawn_local(async move {
            // A refused clipboard (no permission, headless) is fine: the link is shown anyway.
            let _ = JsFuture::from(clipboard.write_text(&url)).await;
        });
    }

    /// Starts a job, abandoning any still running (its worker would finish it first).
    fn begin_job(self, source: Source) -> u32 {
        self.abandon_job();
        let id = self.next_job.get_value();
        self.next_job.set_value(id.wrapping_add(1));
        self.job.set_value(Some(Job { id, source, sent: None }));
        id
    }

    fn is_current(self, job: u32) -> bool {
        self.job.with_value(|current| current.as_ref().is_some_and(|current| current.id == job))
    }

    fn fail(self, job: u32, message: String) {
        if self.is_current(job) {
            self.job.set_value(None);
            self.status.set(RunStatus::Failed(message));
        }
    }

    /// Sends a trace-backed job: by key when the worker keeps that trace, else with its file.
    fn send_trace(self, job: u32, name: &str, key: Option<String>, blob: JsValue) {
        let kept = key.is_some() && self.worker_trace.with_value(|kept| *kept == key);
        match (kept, key) {
            (true, Some(key)) => self.send(job, name, TraceSource::Cached { key }, None),
            (_, key) => self.send(job, name, TraceSource::File { key }, Some(blob)),
        }
    }

    fn send(self, job: u32, name: &str, trace: TraceSource, blob: Option<JsValue>) {
        let Some(source) =
            self.job.with_value(|current| current.as_ref().filter(|c| c.id == job).map(|c| c.source.clone()))
        else {
            return;
        };
        self.status.set(RunStatus::Running { fraction: 0.0 });
        let sent = self.scenario.get_untracked();
        let task = if matches!(source, Source::CompareRouters) { Task::CompareRouters } else { Task::Simulate };
        let import = match source {
            Source::Dropped { options, .. } => options,
            Source::Scenario | Source::Benchmark { .. } | Source::CompareRouters => sent.workload.import_options(),
        };
        let scenario = sent.to_canonical_json();
        let request = ToWorker::Run { job, scenario, name: name.to_owned(), trace, import, task };
        self.job.update_value(|current| {
            if let Some(current) = current {
                current.sent = Some(sent);
            }
        });
        self.post(&request, blob.as_ref());
    }

    /// Posts `request` (with `blob` beside it) to the worker, starting one if there is none.
    fn post(self, request: &ToWorker, blob: Option<&JsValue>) {
        if self.worker.with_value(Option::is_none) {
            self.spawn_worker();
        }
        self.worker.with_value(|worker| {
            if let Some(worker) = worker {
                worker.send(request, blob);
            }
        });
    }

    fn run_sample(self, job: u32, id: String) {
        let key = format!("sample:{id}");
        if self.worker_trace.with_value(|kept| kept.as_deref() == Some(key.as_str())) {
            return self.send(job, &id, TraceSource::Cached { key }, None);
        }
        let key = Some(key);
        let cached = self
            .sample_blobs
            .with_value(|blobs| blobs.iter().find(|(cached_id, _)| *cached_id == id).map(|(_, blob)| blob.clone()));
        if let Some(blob) = cached {
            return self.send_trace(job, &id, key, blob);
        }
        let Some(sample) = samples::find(&id) else {
            return self.fail(job, format!("unknown sample \"{id}\""));
        };
        self.status.set(RunStatus::Fetching(sample.description.to_owned()));
        spawn_local(async move {
            match fetch_blob(&format!("samples/{}", sample.file_name)).await {
                Ok(blob) => {
                    self.sample_blobs.update_value(|blobs| blobs.push((id.clone(), blob.clone())));
                    self.send_trace(job, &id, key, blob);
                }
                Err(message) => self.fail(job, format!("cannot load sample {id}: {message}")),
            }
        });
    }

    fn on_worker_reply(self, reply: FromWorker) {
        match reply {
            FromWorker::Ready => {}
            FromWorker::Progress { job, fraction } => {
                if self.is_current(job) {
                    self.status.set(RunStatus::Running { fraction });
                }
            }
            FromWorker::Failed { job, message } => {
                let dropped = self.job.with_value(|current| match current {
                    Some(Job { id, source: Source::Dropped { name, file, options }, .. }) if *id == job => {
                        Some((name.clone(), file.clone(), options.clone()))
                    }
                    _ => None,
                });
                if let Some((name, file, options)) = dropped {
                    // The scenario and the trace loaded before stay as they were.
                    self.rejected_file.set_value(Some(file));
                    self.import_failure.set(Some(ImportFailure { name, message: message.clone(), options }));
                }
                self.fail(job, message);
            }
            FromWorker::TraceMissing { job } => {
                // The worker does not hold the trace asked for by key: send its file.
                if self.is_current(job) {
                    self.worker_trace.set_value(None);
                    self.dispatch(job);
                }
            }
            FromWorker::Crashed { job, message } => {
                if self.is_current(job) {
                    self.fail(job, message);
                    // Replace the worker after this callback returns: dropping it now would free
                    // the very closure that is running.
                    spawn_local(async move { self.restart_worker() });
                }
            }
            FromWorker::Calibrated { job, fit } => self.on_fitted(job, fit),
            FromWorker::RoutersCompared { job, trace, rows } => {
                let Some(Some(scenario)) =
                    self.job.with_value(|current| current.as_ref().filter(|j| j.id == job).map(|j| j.sent.clone()))
                else {
                    return;
                };
                self.job.set_value(None);
                self.worker_trace.set_value(trace.key);
                self.router_comparison.set(Some(RouterComparison { scenario, rows }));
                self.status.set(RunStatus::Done);
            }
            FromWorker::Finished { job, trace, run } => {
                let Some(Job { source, sent, .. }) =
                    self.job.with_value(|current| current.clone()).filter(|j| j.id == job)
                else {
                    return;
                };
                let mut ran = sent;
                let mut rerun = false;
                if let (Source::Dropped { name, file, options }, Some(sha256)) = (source, &trace.sha256) {
                    self.loaded_file.set_value(Some(LoadedFile { sha256: sha256.clone(), file }));
                    self.import_failure.set(None);
                    self.rejected_file.set_value(None);
                    let rows = trace.import.as_ref().map_or(0, |import| import.num_requests);
                    let file = FileRef { name, rows, sha256: sha256.clone() };
                    let adopt = |scenario: &mut Scenario| {
                        scenario.workload.source = WorkloadSource::File(file.clone());
                        scenario.workload.columns = options.columns.clone();
                        scenario.workload.skip_bad_rows = options.skip_bad_rows;
                    };
                    if let Some(ran) = &mut ran {
                        adopt(ran);
                    }
                    self.scenario.update(adopt);
                }
                // A trace without arrival times gets a default process, and runs again at once.
                let lacks_arrivals = trace
                    .import
                    .as_ref()
                    .is_some_and(|import| !import.columns.iter().any(|column| column.role == "arrival"))
                    && self.scenario.with_untracked(|s| s.workload.arrivals.is_none());
                if lacks_arrivals {
                    self.scenario.update(|scenario| scenario.workload.arrivals = Some(DEFAULT_ARRIVALS));
                    rerun = true;
                }
                self.job.set_value(None);
                self.worker_trace.set_value(trace.key.clone());
                self.trace_report.set(Some(*trace));
                self.ran_scenario.set(ran);
                match run {
                    Ok(report) => {
                        self.run_report.set(Some(*report));
                        self.run_error.set(None);
                    }
                    Err(message) => {
                        self.run_report.set(None);
                        self.run_error.set(Some(message));
                    }
                }
                self.status.set(RunStatus::Done);
                if rerun {
                    self.run();
                }
            }
        }
    }

    /// A benchmark fit came back: it becomes the scenario's calibration (beside a measured step
    /// profile the scenario has), or the calibration box says why it failed.
    fn on_fitted(self, job: u32, fit: Result<FitReport, String>) {
        let file = self.job.with_value(|current| match current {
            Some(Job { id, source: Source::Benchmark { file }, .. }) if *id == job => Some(file.clone()),
            _ => None,
        });
        let Some(file) = file else { return };
        match fit {
            Ok(report) => {
                self.job.set_value(None);
                self.scenario.update(|scenario| {
                    let profile = scenario.calibration.take().and_then(|calibration| calibration.profile);
                    scenario.calibration = Some(Calibration { profile, ..report.calibration(&file) });
                });
                self.fit.set(Some(BenchmarkFit { file, report }));
                self.status.set(RunStatus::Done);
            }
            Err(message) => {
                let message = format!("{file}: {message}");
                self.calibration_error.set(Some(message.clone()));
                self.fail(job, message);
            }
        }
    }
}

/// Fetches a same-origin URL as a Blob (it only goes on to the worker, which reads it).
async fn fetch_blob(url: &str) -> Result<JsValue, String> {
    let describe = |error: JsValue| format!("{error:?}");
    let response: web_sys::Response =
        JsFuture::from(window().fetch_with_str(url)).await.map_err(describe)?.dyn_into().map_err(describe)?;
    if !response.ok() {
        return Err(format!("HTTP {} for {url}", response.status()));
    }
    JsFuture::from(response.blob().map_err(describe)?).await.map_err(describe)
}

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let (scenario, link_error) = match url_state::scenario_from_location() {
        Ok(scenario) => (scenario.unwrap_or_else(Scenario::reference), None),
        Err(message) => (Scenario::reference(), Some(message)),
    };
    let state = AppState::new(scenario, link_error);
    state.spawn_worker();

    // The URL hash always carries the scenario; a broken link stays in the address bar until
    // the first edit, so the user can see what was opened.
    Effect::new(move |previous: Option<()>| {
        let opened_a_broken_link = previous.is_none() && state.link_error.get_untracked().is_some();
        state.scenario.with(|scenario| {
            if !opened_a_broken_link {
                url_state::write_scenario_to_location(scenario);
            }
        });
    });
    // A link pasted into this tab's address bar replaces the scenario (or explains why not).
    let on_hash_change =
        window_event_listener(leptos::ev::hashchange, move |_| match url_state::scenario_from_location() {
            Ok(Some(scenario)) => {
                state.link_error.set(None);
                state.scenario.set(scenario);
            }
            Ok(None) => {}
            Err(message) => state.link_error.set(Some(message)),
        });
    on_cleanup(move || on_hash_change.remove());

    // A bundled sample or a generator runs as soon as the page opens, so there is something to
    // see (a user's file has to be dropped first).
    if !matches!(state.scenario.get_untracked().workload.source, WorkloadSource::File(_)) {
        state.run();
    }

    provide_context(state);
    view! {
        <Header/>
        <main class="layout">
            <section class="column">
                <ExampleGallery/>
                <WorkloadPanel/>
                <TrafficPanel/>
                <ModelPanel/>
                <ScenarioForm/>
                <RunPanel/>
            </section>
            <section class="column wide">
                <Kpis/>
                <StageTable/>
                <PdView/>
                <ChartPanel/>
                <RouterComparisonPanel/>
                <TraceExplorer/>
                <ReplicaTable/>
            </section>
        </main>
    }
}

/// The app state provided by [`App`].
///
/// # Panics
///
/// Panics when called outside [`App`].
pub fn use_app_state() -> AppState {
    use_context::<AppState>().expect("components are used inside App")
}
