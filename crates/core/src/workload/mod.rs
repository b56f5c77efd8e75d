//! Workloads: request traces in compact columns, their importers, generators, transforms and
//! bundled samples.
//!
//! A [`Trace`] holds one row per request, sorted by arrival, as parallel columns. The
//! [`Importer`] reads any supported format from a stream of bytes (gzip too), detecting the
//! format from the first record and reporting problems as `line N, column M: <problem>`; a
//! [`Generator`] makes a synthetic trace from the scenario's seed; [`resolve`] turns a
//! scenario's workload into a trace for the CLI and the app alike; [`TraceSummary`] describes a
//! trace (size, span, rate, burstiness, length histograms, sessions, classes, prefix reuse) for
//! `servesim inspect` and the app's trace explorer.

pub mod generator;
mod import;
mod resolve;
pub mod samples;
mod summary;
mod trace;

pub use generator::{Arrivals, Generator, Lengths};
pub use import::{
    import_bytes, parse_trace, ColumnMapping, ColumnUse, ImportOptions, ImportReport, Imported, Importer, TimeUnit,
    TraceError, TraceFormat, MAX_SKIPPED_EXAMPLES,
};
pub use resolve::{resolve, ResolveError, TraceText};
pub use summary::TraceSummary;
pub use trace::Trace;
