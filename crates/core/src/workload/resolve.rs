//! Turning a scenario's workload into requests: the one place the CLI and the app's worker do
//! it.

use std::fmt;

use super::{parse_trace, Trace, TraceError};
use crate::scenario::{FileRef, Workload};

/// Trace text the caller supplies, with the name to use in messages (a file name or sample id).
#[derive(Clone, Copy, Debug)]
pub struct TraceText<'a> {
    /// File name or sample id.
    pub name: &'a str,
    /// The trace's text.
    pub text: &'a str,
}

/// Why a workload could not be turned into requests.
#[derive(Clone, Debug, PartialEq)]
pub enum ResolveError {
    /// The trace text does not parse.
    Parse {
        /// File name or sample id.
        name: String,
        /// The first bad line.
        error: TraceError,
    },
    /// The workload is a user's file (or a sample) and no text was supplied.
    MissingText(Workload),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Parse { name, error } => write!(f, "{name}: {error}"),
            ResolveError::MissingText(Workload::File(FileRef { name, rows, sha256 })) => {
                write!(f, "the scenario's workload is the file {name} ({rows} requests, sha256 {sha256})")
            }
            ResolveError::MissingText(Workload::Sample(id)) => write!(f, "the sample {id} was not supplied"),
            ResolveError::MissingText(Workload::Generator(_)) => write!(f, "a generator needs no text"),
        }
    }
}

impl std::error::Error for ResolveError {}

/// The requests of `workload`, sorted by arrival. A generator makes them from `seed`; a bundled
/// sample or a user's file is read from `text`, which the caller supplies (the CLI has the
/// samples compiled in and reads files; the app fetches samples and is handed dropped files).
/// Text supplied with a generator workload replaces it, as the CLI's `--trace` does.
/// `on_progress` receives the bytes parsed so far.
///
/// # Errors
///
/// Returns [`ResolveError::Parse`] naming the first bad line, or
/// [`ResolveError::MissingText`] when a sample or file workload comes without text.
///
/// # Example
///
/// ```
/// use servesim_core::scenario::Workload;
/// use servesim_core::workload::{resolve, Generator, TraceText};
///
/// let generated = resolve(&Workload::Generator(Generator::default()), 42, None, &mut |_| {}).unwrap();
/// assert_eq!(generated.num_requests(), 1_000);
/// let text = TraceText { name: "two.csv", text: "arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,5\n1,20,5\n" };
/// assert_eq!(resolve(&Workload::default(), 42, Some(text), &mut |_| {}).unwrap().num_requests(), 2);
/// ```
pub fn resolve(
    workload: &Workload,
    seed: u64,
    text: Option<TraceText<'_>>,
    on_progress: &mut dyn FnMut(usize),
) -> Result<Trace, ResolveError> {
    match (text, workload) {
        (Some(TraceText { name, text }), _) => {
            parse_trace(text, on_progress).map_err(|error| ResolveError::Parse { name: name.to_owned(), error })
        }
        (None, Workload::Generator(generator)) => Ok(generator.generate(seed)),
        (None, other) => Err(ResolveError::MissingText(other.clone())),
    }
}
