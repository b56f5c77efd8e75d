//! Workloads: request traces in compact columns, their importers, generators, transforms and
//! bundled samples.
//!
//! A [`Trace`] holds one row per request, sorted by arrival, as parallel columns. The
//! [`Importer`] reads any supported format from a stream of bytes (gzip too), detecting the
//! format from the first record and reporting problems as `line N, column M: <problem>`; a
//! [`Generator`] makes a synthetic trace from the scenario's seed; a [`Transform`] rescales,
//! windows, samples or clips any of them; [`resolve`] turns a scenario's [`Workload`] into a
//! trace for the CLI and the app alike; [`TraceSummary`] describes a trace (size, span, rate,
//! burstiness, length histograms, sessions, classes, prefix reuse) for `servesim inspect` and
//! the app's trace explorer.

mod arrivals;
pub mod generator;
pub(crate) mod import;
mod lengths;
mod resolve;
pub mod samples;
mod spec;
mod summary;
mod trace;
mod transform;

pub use arrivals::Arrivals;
pub use generator::{Generator, GeneratorClass, Sessions};
pub use import::{
    import_bytes, parse_trace, ColumnMapping, ColumnUse, ImportOptions, ImportReport, Imported, Importer, TimeUnit,
    TraceError, TraceFormat, MAX_SKIPPED_EXAMPLES,
};
pub use lengths::Lengths;
pub use resolve::{resolve, ResolveError, Resolved, TraceText};
pub use spec::{FileRef, Workload, WorkloadSource};
pub use summary::{ClassCount, LengthHistogram, TraceSummary};
pub use trace::{Trace, NO_ROW};
pub use transform::{Transform, Window};
