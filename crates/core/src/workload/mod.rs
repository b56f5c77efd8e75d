//! Workloads: request traces in compact columns, their importers and bundled samples.
//!
//! A [`Trace`] holds one row per request, sorted by arrival, as parallel columns. Importers
//! ([`parse_trace`]) detect the format from the first record and report problems as
//! `line N: <problem>`; a [`Generator`] makes a synthetic trace from the scenario's seed;
//! [`resolve`] turns a scenario's workload into a trace for the CLI and the app alike;
//! [`TraceSummary`] describes a trace (size, span, rate, length percentiles, prefix reuse) for
//! `servesim inspect` and the app's workload panel.

pub mod generator;
mod import;
mod resolve;
pub mod samples;
mod summary;
mod trace;

pub use generator::{Arrivals, Generator, Lengths};
pub use import::{parse_trace, TraceError, TraceFormat};
pub use resolve::{resolve, ResolveError, TraceText};
pub use summary::TraceSummary;
pub use trace::Trace;
