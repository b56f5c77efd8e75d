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
pub mod format;
pub mod protocol;
pub mod url_state;
pub mod worker;
pub mod worker_client;

use leptos::prelude::*;
use leptos::task::spawn_local;
use servesim_core::scenario::{FileRef, Scenario, WorkloadSource};
use servesim_core::sim::RunReport;
use servesim_core::workload::samples;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::components::{ChartPanel, Header, Kpis, ReplicaTable, RunPanel, ScenarioForm, WorkloadPanel};
use crate::protocol::{FromWorker, ToWorker, TraceReport, TraceSource};
use crate::worker_client::SimWorker;

/// Where the current job stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// Nothing has run yet.
    Idle,
    /// Fetching a bundled sample before running.
    Fetching(String),
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
        matches!(self, RunStatus::Fetching(_) | RunStatus::Running { .. })
    }
}

/// A trace the user dropped and the worker accepted (its text as the JS string the browser
/// read, handed to the worker as it is).
#[derive(Clone)]
struct LoadedFile {
    sha256: String,
    text: JsValue,
}

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
    /// A file just dropped; it becomes the scenario's workload if the worker accepts it.
    Dropped { name: String, text: JsValue },
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
    worker: StoredValue<Option<SimWorker>, LocalStorage>,
    job: StoredValue<Option<Job>, LocalStorage>,
    next_job: StoredValue<u32>,
    loaded_file: StoredValue<Option<LoadedFile>, LocalStorage>,
    sample_texts: StoredValue<Vec<(String, JsValue)>, LocalStorage>,
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
            worker: StoredValue::new_local(None),
            job: StoredValue::new_local(None),
            next_job: StoredValue::new(0),
            loaded_file: StoredValue::new_local(None),
            sample_texts: StoredValue::new_local(Vec::new()),
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

    /// Sends job `job` for the scenario's current workload.
    fn dispatch(self, job: u32) {
        match self.scenario.with_untracked(|s| s.workload.source.clone()) {
            WorkloadSource::Sample(id) => self.run_sample(job, id),
            WorkloadSource::Generator(_) => self.send(job, "generator", TraceSource::Generated, None),
            WorkloadSource::File(file) => {
                let loaded = self
                    .loaded_file
                    .with_value(|loaded| loaded.as_ref().filter(|l| l.sha256 == file.sha256).map(|l| l.text.clone()));
                match loaded {
                    Some(text) => {
                        let key = format!("file:{}", file.sha256);
                        self.send_trace(job, &file.name, Some(key), text);
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

    /// Runs the scenario on a dropped file; once the file is read it becomes the scenario's
    /// workload.
    pub fn load_file(self, name: String, text: JsValue) {
        let job = self.begin_job(Source::Dropped { name: name.clone(), text: text.clone() });
        self.send(job, &name, TraceSource::Text { key: None }, Some(text));
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

    /// Sends a trace-backed job: by key when the worker keeps that trace, else with its text.
    fn send_trace(self, job: u32, name: &str, key: Option<String>, text: JsValue) {
        let kept = key.is_some() && self.worker_trace.with_value(|kept| *kept == key);
        match (kept, key) {
            (true, Some(key)) => self.send(job, name, TraceSource::Cached { key }, None),
            (_, key) => self.send(job, name, TraceSource::Text { key }, Some(text)),
        }
    }

    fn send(self, job: u32, name: &str, trace: TraceSource, text: Option<JsValue>) {
        if !self.is_current(job) {
            return;
        }
        self.status.set(RunStatus::Running { fraction: 0.0 });
        if self.worker.with_value(Option::is_none) {
            self.spawn_worker();
        }
        let sent = self.scenario.get_untracked();
        let request = ToWorker::Run { job, scenario: sent.to_canonical_json(), name: name.to_owned(), trace };
        self.job.update_value(|current| {
            if let Some(current) = current {
                current.sent = Some(sent);
            }
        });
        self.worker.with_value(|worker| {
            if let Some(worker) = worker {
                worker.send(&request, text.as_ref());
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
            .sample_texts
            .with_value(|texts| texts.iter().find(|(cached_id, _)| *cached_id == id).map(|(_, text)| text.clone()));
        if let Some(text) = cached {
            return self.send_trace(job, &id, key, text);
        }
        let Some(sample) = samples::find(&id) else {
            return self.fail(job, format!("unknown sample \"{id}\""));
        };
        self.status.set(RunStatus::Fetching(sample.description.to_owned()));
        spawn_local(async move {
            match fetch_text(&format!("samples/{}", sample.file_name)).await {
                Ok(text) => {
                    self.sample_texts.update_value(|texts| texts.push((id.clone(), text.clone())));
                    self.send_trace(job, &id, key, text);
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
            FromWorker::Failed { job, message } => self.fail(job, message),
            FromWorker::TraceMissing { job } => {
                // The worker does not hold the trace asked for by key: send its text.
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
            FromWorker::Finished { job, trace, run } => {
                let Some(Job { source, sent, .. }) =
                    self.job.with_value(|current| current.clone()).filter(|j| j.id == job)
                else {
                    return;
                };
                let mut ran = sent;
                if let (Source::Dropped { name, text }, Some(sha256)) = (source, &trace.sha256) {
                    self.loaded_file.set_value(Some(LoadedFile { sha256: sha256.clone(), text }));
                    let file = FileRef { name, rows: trace.summary.num_requests, sha256: sha256.clone() };
                    if let Some(ran) = &mut ran {
                        ran.workload.source = WorkloadSource::File(file.clone());
                    }
                    self.scenario.update(|scenario| scenario.workload.source = WorkloadSource::File(file));
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
            }
        }
    }
}

/// Fetches a same-origin URL as text, kept as a JS string (it only goes on to the worker).
async fn fetch_text(url: &str) -> Result<JsValue, String> {
    let describe = |error: JsValue| format!("{error:?}");
    let response: web_sys::Response =
        JsFuture::from(window().fetch_with_str(url)).await.map_err(describe)?.dyn_into().map_err(describe)?;
    if !response.ok() {
        return Err(format!("HTTP {} for {url}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(describe)?).await.map_err(describe)?;
    if text.is_string() {
        Ok(text)
    } else {
        Err("the response is not text".to_owned())
    }
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
                <WorkloadPanel/>
                <ScenarioForm/>
                <RunPanel/>
            </section>
            <section class="column wide">
                <Kpis/>
                <ChartPanel/>
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
