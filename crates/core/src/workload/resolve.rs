//! Turning a scenario's workload into requests: the one place the CLI and the app's worker do
//! it.

use std::fmt;

use super::arrivals::{Schedule, Start};
use super::{import_bytes, Arrivals, ImportReport, Trace, TraceError, Workload, WorkloadSource, NO_ROW};
use crate::rng::{RngStream, StreamId};
use crate::time::{SimDuration, SimTime};

/// Trace bytes the caller supplies (plain or gzip), with the name to use in messages (a file
/// name or sample id).
#[derive(Clone, Copy, Debug)]
pub struct TraceText<'a> {
    /// File name or sample id.
    pub name: &'a str,
    /// The file's bytes.
    pub bytes: &'a [u8],
}

/// Why a workload could not be turned into requests.
#[derive(Clone, Debug, PartialEq)]
pub enum ResolveError {
    /// The trace does not import.
    Parse {
        /// File name or sample id.
        name: String,
        /// The first bad line.
        error: TraceError,
    },
    /// The workload is a user's file (or a sample) and no text was supplied.
    MissingText(WorkloadSource),
    /// The trace has no arrival times and the workload gives none.
    NoArrivals {
        /// File name or sample id.
        name: String,
    },
    /// The transform kept no request.
    NothingLeft,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Parse { name, error } => write!(f, "{name}: {error}"),
            ResolveError::MissingText(WorkloadSource::File(file)) => write!(
                f,
                "the scenario's workload is the file {} ({} requests, sha256 {})",
                file.name, file.rows, file.sha256
            ),
            ResolveError::MissingText(WorkloadSource::Sample(id)) => write!(f, "the sample {id} was not supplied"),
            ResolveError::MissingText(WorkloadSource::Generator(_)) => write!(f, "a generator needs no text"),
            ResolveError::NoArrivals { name } => write!(
                f,
                "{name} has lengths but no arrival times: give them an arrival process (workload.arrivals, e.g. \
                 {{\"poisson\": {{\"rate_per_s\": 5}}}})"
            ),
            ResolveError::NothingLeft => {
                write!(f, "workload.transform: no request is left after the window and sampling")
            }
        }
    }
}

impl std::error::Error for ResolveError {}

/// A workload's requests and, when they were read from a file or sample, the import report.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The requests, ready to simulate.
    pub trace: Trace,
    /// What the import found, for a file or sample.
    pub import: Option<ImportReport>,
}

/// The requests of `workload`, sorted by arrival. A generator makes them from `seed`; a bundled
/// sample or a user's file is read from `text`, which the caller supplies (the CLI has the
/// samples compiled in and reads files; the app fetches samples and is handed dropped files).
/// Text supplied with a generator workload replaces it, as the CLI's `--trace` does. Then the
/// workload's `arrivals`, `num_requests` and `transform` apply ([`Workload::shape`]).
/// `on_progress` receives the bytes imported so far.
///
/// # Errors
///
/// Returns [`ResolveError::Parse`] naming the first bad line, [`ResolveError::MissingText`]
/// when a sample or file workload comes without text, and the errors of [`Workload::shape`].
///
/// # Example
///
/// ```
/// use servesim_core::workload::{resolve, Generator, TraceText, Workload, WorkloadSource};
///
/// let generated = Workload::from(WorkloadSource::Generator(Generator::default()));
/// assert_eq!(resolve(&generated, 42, None, &mut |_| {}).unwrap().trace.num_requests(), 1_000);
/// let text = TraceText { name: "two.csv", bytes: b"arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,5\n1,20,5\n" };
/// assert_eq!(resolve(&Workload::default(), 42, Some(text), &mut |_| {}).unwrap().trace.num_requests(), 2);
/// ```
pub fn resolve(
    workload: &Workload,
    seed: u64,
    text: Option<TraceText<'_>>,
    on_progress: &mut dyn FnMut(usize),
) -> Result<Resolved, ResolveError> {
    match (text, &workload.source) {
        (Some(TraceText { name, bytes }), _) => {
            let imported = import_bytes(bytes, workload.import_options(), on_progress)
                .map_err(|error| ResolveError::Parse { name: name.to_owned(), error })?;
            let trace = workload.shape(imported.trace, seed, name)?;
            Ok(Resolved { trace, import: Some(imported.report) })
        }
        (None, WorkloadSource::Generator(generator)) => {
            let trace = workload.shape(generator.generate(seed), seed, "the generator")?;
            Ok(Resolved { trace, import: None })
        }
        (None, other) => Err(ResolveError::MissingText(other.clone())),
    }
}

impl Workload {
    /// Applies the workload's new arrivals (resampling to `num_requests` if given) and its
    /// transform to an imported or generated `trace` named `name`.
    ///
    /// # Errors
    ///
    /// [`ResolveError::NoArrivals`] for a length-only trace without `arrivals`, and
    /// [`ResolveError::NothingLeft`] when the transform keeps no request.
    pub fn shape(&self, trace: Trace, seed: u64, name: &str) -> Result<Trace, ResolveError> {
        let trace = match &self.arrivals {
            Some(arrivals) => retime(trace, arrivals, self.num_requests, seed),
            None if !trace.has_arrivals => return Err(ResolveError::NoArrivals { name: name.to_owned() }),
            None => trace,
        };
        let trace = self.transform.apply(trace, seed);
        if trace.num_requests() == 0 {
            return Err(ResolveError::NothingLeft);
        }
        Ok(trace)
    }
}

/// Gives the trace's requests new arrival times from `arrivals`, after drawing `num_requests`
/// of them with replacement if asked (resampled rows lose their prefix hashes and sessions,
/// which would otherwise repeat; their classes stay).
fn retime(trace: Trace, arrivals: &Arrivals, num_requests: Option<u32>, seed: u64) -> Trace {
    let mut trace = match num_requests {
        Some(n) => {
            let mut rng = RngStream::new(seed, StreamId::TRANSFORM.child(1));
            let rows = trace.num_requests() as u64;
            let mut resampled = trace.select((0..n).map(|_| rng.below(rows) as usize));
            resampled.block_starts.clear();
            resampled.block_hashes.clear();
            resampled.hash_block_tokens = 0;
            resampled.sessions.clear();
            resampled
        }
        None => trace,
    };
    trace.has_arrivals = true;
    trace.follows.clear();
    trace.think_time.clear();
    let mut rng = RngStream::new(seed, StreamId::ARRIVALS);
    let mut schedule = Schedule::new(*arrivals, &mut rng);
    let starts: Vec<Start> = (0..trace.num_requests()).map(|_| schedule.next_start()).collect();
    if starts.iter().any(|start| matches!(start, Start::After { .. })) {
        trace.follows = vec![NO_ROW; starts.len()];
        trace.think_time = vec![SimDuration::ZERO; starts.len()];
    }
    for (row, start) in starts.into_iter().enumerate() {
        trace.arrived_at[row] = match start {
            Start::At(at_s) => SimTime::from_secs_f64(at_s),
            Start::After { unit, think_s } => {
                trace.follows[row] = unit as u32;
                trace.think_time[row] = SimDuration::from_secs_f64(think_s);
                // A chained row holds its chain's first arrival until the run.
                trace.arrived_at[unit]
            }
        };
    }
    trace
}
