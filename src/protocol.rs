//! Messages between the page and the simulation worker, as JSON strings.
//!
//! JSON (rather than structured-cloned JS objects) keeps 64-bit integers exact and makes the
//! protocol testable natively. A trace file is the exception: it travels beside the JSON as a
//! `Blob` (the dropped `File`, or a fetched sample) in the same message (`[request, blob]`);
//! posting a Blob copies no bytes, and the worker reads it in chunks, so a file of hundreds of
//! MB is never held whole. The worker keeps the last trace it imported, and the page asks for
//! it by key instead of sending it again. A benchmark's runs, parsed in the page, travel as JSON
//! to be fitted ([`ToWorker::Calibrate`]): the fit replays every run through the simulator,
//! which takes too long for the page's thread. A run may also compare the routers
//! ([`Task::CompareRouters`]): the same trace simulated once per router kind. The worker announces
//! [`FromWorker::Ready`] once its wasm is loaded; the page queues requests until then (the
//! loader shim starts the wasm asynchronously, so a message posted earlier would be lost).

use serde::{Deserialize, Serialize};
use servesim_core::calibrate::{BenchmarkRow, FitReport};
use servesim_core::scenario::RouterKind;
use servesim_core::sim::RunReport;
use servesim_core::workload::{ImportOptions, ImportReport, TraceSummary};

/// A request from the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Read a trace (or generate the scenario's synthetic workload), then simulate.
    Run {
        /// Identifies the job in replies.
        job: u32,
        /// The scenario, as canonical JSON.
        scenario: String,
        /// The trace's file name (or sample id), for messages.
        name: String,
        /// Where the trace comes from.
        trace: TraceSource,
        /// How to import a file (its column mapping, whether to skip bad rows).
        import: ImportOptions,
        /// What to do with the trace: one simulation, or one per router kind.
        task: Task,
    },
    /// Fit the scenario's performance model to a benchmark's runs.
    Calibrate {
        /// Identifies the job in replies.
        job: u32,
        /// The scenario whose deployment ran the benchmark, as canonical JSON.
        scenario: String,
        /// The benchmark's runs.
        rows: Vec<BenchmarkRow>,
    },
}

/// What a [`ToWorker::Run`] does once its trace is read and shaped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// Simulate the scenario once; the reply is [`FromWorker::Finished`].
    #[default]
    Simulate,
    /// Simulate the scenario once per router kind, changing only `router.kind` (a disaggregated
    /// deployment's `decode_kind` stays as it is: when it is `null` the decode router follows `kind`); the reply is [`FromWorker::RoutersCompared`].
    CompareRouters,
}

/// What one router achieved on the scenario, as its run's summary reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouterRow {
    /// The router kind the run used.
    pub router: RouterKind,
    /// Share of admitted prompt tokens served from the prefix cache, 0 to 1.
    pub prefix_hit_rate: f64,
    /// p95 time to first token, ms (`None` when no request got one).
    pub ttft_p95_ms: Option<f64>,
    /// p95 time per output token, ms (`None` when no request had two tokens).
    pub tpot_p95_ms: Option<f64>,
}

/// Where the worker finds a job's trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TraceSource {
    /// The scenario's workload is a generator: no trace.
    Generated,
    /// The file travels beside this request as a Blob; the worker keeps it imported under
    /// `key` (a sample's id, or `None` for a dropped file, which is kept under its SHA-256).
    File {
        /// The key to keep the parsed trace under.
        key: Option<String>,
    },
    /// The trace the worker kept under `key`.
    Cached {
        /// The key it was kept under.
        key: String,
    },
}

/// A reply from the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// The worker's wasm is loaded and it accepts requests.
    Ready,
    /// Part of a job is done.
    Progress {
        /// The job.
        job: u32,
        /// Fraction done, 0 to 1.
        fraction: f64,
    },
    /// A job finished: the trace was read; the simulation ran or says why it could not.
    Finished {
        /// The job.
        job: u32,
        /// What the trace holds.
        trace: Box<TraceReport>,
        /// The simulation's report, or why the scenario cannot run on this trace.
        run: Result<Box<RunReport>, String>,
    },
    /// A router comparison finished: the trace was read; every router's row, or why the
    /// scenario cannot run on this trace.
    RoutersCompared {
        /// The job.
        job: u32,
        /// What the trace holds.
        trace: Box<TraceReport>,
        /// A row per router kind, in [`RouterKind::ALL`]'s order.
        rows: Result<Vec<RouterRow>, String>,
    },
    /// A benchmark fit finished: every run's error before and after and the fitted factors, or
    /// why the runs could not be replayed.
    Calibrated {
        /// The job.
        job: u32,
        /// The fit, or why there is none.
        fit: Result<FitReport, String>,
    },
    /// The worker died during a job (a trap in its wasm, a failed load). Never sent by the
    /// worker itself: the page's client reports it from the worker's error event.
    Crashed {
        /// The job.
        job: u32,
        /// The browser's description.
        message: String,
    },
    /// The job asked for a trace by key that the worker does not hold (it restarted, its own
    /// download failed, or it was imported with other options): the page sends the file.
    TraceMissing {
        /// The job.
        job: u32,
    },
    /// A job failed (the trace could not be read); the message is fit for the user.
    Failed {
        /// The job.
        job: u32,
        /// What went wrong, e.g. `data.csv: line 3: expected 3 columns, got 2`.
        message: String,
    },
}

/// The result of reading one trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceReport {
    /// File name or sample id.
    pub name: String,
    /// SHA-256 of the file, lower-case hex; `None` for a sample or a generated workload.
    pub sha256: Option<String>,
    /// What the import of a file or sample found; `None` for a generator.
    pub import: Option<ImportReport>,
    /// The requests simulated (after the scenario's arrivals and transform); `None` when the
    /// scenario's workload could not be applied to the file.
    pub summary: Option<TraceSummary>,
    /// The key the worker keeps the parsed trace under: the page sends
    /// [`TraceSource::Cached`] with it next time.
    pub key: Option<String>,
}

impl ToWorker {
    /// The JSON text posted to the worker.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("requests serialise")
    }

    /// The job this request belongs to.
    pub fn job(&self) -> u32 {
        match self {
            ToWorker::Run { job, .. } | ToWorker::Calibrate { job, .. } => *job,
        }
    }

    /// Reads a request.
    ///
    /// # Errors
    ///
    /// Returns the parser's message when `text` is not a request.
    pub fn from_json(text: &str) -> Result<ToWorker, String> {
        serde_json::from_str(text).map_err(|error| error.to_string())
    }
}

impl FromWorker {
    /// The JSON text posted to the page.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("replies serialise")
    }

    /// Reads a reply.
    ///
    /// # Errors
    ///
    /// Returns the parser's message when `text` is not a reply.
    pub fn from_json(text: &str) -> Result<FromWorker, String> {
        serde_json::from_str(text).map_err(|error| error.to_string())
    }
}
