//! Messages between the page and the simulation worker, as JSON strings.
//!
//! JSON (rather than structured-cloned JS objects) keeps 64-bit integers exact and makes the
//! protocol testable natively. The worker announces [`FromWorker::Ready`] once its wasm is
//! loaded; the page queues requests until then (the loader shim starts the wasm asynchronously,
//! so a message posted earlier would be lost).

use serde::{Deserialize, Serialize};
use servesim_core::sim::RunReport;
use servesim_core::workload::TraceSummary;

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
        /// The trace text; `None` when the scenario's workload is a generator.
        text: Option<String>,
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
        trace: TraceReport,
        /// The simulation's report, or why the scenario cannot run on this trace.
        run: Result<RunReport, String>,
    },
    /// The worker died during a job (a trap in its wasm, a failed load). Never sent by the
    /// worker itself: the page's client reports it from the worker's error event.
    Crashed {
        /// The job.
        job: u32,
        /// The browser's description.
        message: String,
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
    /// SHA-256 of the text, lower-case hex; `None` for a generated workload.
    pub sha256: Option<String>,
    /// The summary.
    pub summary: TraceSummary,
}

impl ToWorker {
    /// The JSON text posted to the worker.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("requests serialise")
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
