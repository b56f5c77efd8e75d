//! What the fuzz targets share: splitting an input into chunks the way a browser stream might,
//! importing it, and the invariants every imported (or generated) trace must satisfy.
//!
//! Each check panics with what broke, which libFuzzer reports as a crash.

use servesim_core::workload::{ImportOptions, Imported, Importer, Trace, TraceError, TraceSummary, NO_ROW};

/// Chunk sizes from a small deterministic generator seeded by the input, so that every split of
/// a file (1 byte at a time, a few bytes, whole kilobytes) can occur.
pub struct Chunks {
    state: u32,
    limit: usize,
}

impl Chunks {
    /// Chunk sizes in `1..=limit`, where `limit` is picked by `choice` among small and large.
    pub fn new(choice: u8, seed: u8) -> Chunks {
        const LIMITS: [usize; 8] = [1, 2, 3, 5, 16, 64, 257, 4096];
        Chunks {
            state: u32::from(seed).wrapping_mul(2_654_435_761) | 1,
            limit: LIMITS[usize::from(choice) % LIMITS.len()],
        }
    }

    fn next_size(&mut self) -> usize {
        // xorshift32
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        1 + self.state as usize % self.limit
    }
}

/// Imports `bytes` pushed in the chunks `chunks` gives, stopping at the first error as a caller
/// must.
pub fn import_chunked(bytes: &[u8], options: ImportOptions, chunks: &mut Chunks) -> Result<Imported, TraceError> {
    let mut importer = Importer::new(options);
    let mut rest = bytes;
    while !rest.is_empty() {
        let size = chunks.next_size().min(rest.len());
        importer.push(&rest[..size])?;
        rest = &rest[size..];
    }
    importer.finish()
}

/// Imports `bytes` in one push.
pub fn import_whole(bytes: &[u8], options: ImportOptions) -> Result<Imported, TraceError> {
    let mut importer = Importer::new(options);
    importer.push(bytes)?;
    importer.finish()
}

/// Imports `bytes` both in chunks and whole, checks that chunking changed nothing, checks the
/// invariants of a successful import, and returns the whole import's result.
///
/// For a gzip input only whether the import succeeded must agree: a corrupt stream is noticed
/// after however many lines the chunks before it inflated to, so its error may name a
/// different line (or a bad row inflated before the corruption).
pub fn import_both_ways(bytes: &[u8], options: &ImportOptions, chunks: &mut Chunks) -> Result<Imported, TraceError> {
    let whole = import_whole(bytes, options.clone());
    let chunked = import_chunked(bytes, options.clone(), chunks);
    let gzip = bytes.starts_with(&[0x1f, 0x8b]);
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "chunking changed the import"),
        (Err(a), Err(b)) => {
            if !gzip {
                assert_eq!(a, b, "chunking changed the error");
            }
        }
        _ => panic!("chunking changed whether the import succeeds: whole {whole:?}, chunked {chunked:?}"),
    }
    if let Ok(imported) = &whole {
        check_imported(imported, options);
    }
    whole
}

/// The invariants of an import's trace and report.
pub fn check_imported(imported: &Imported, options: &ImportOptions) {
    let (trace, report) = (&imported.trace, &imported.report);
    check_trace(trace);
    assert!(trace.num_requests() > 0, "an import with no requests must be an error");
    assert_eq!(report.num_requests, trace.num_requests() as u64, "report.num_requests");
    assert_eq!(report.format, trace.format, "report.format");
    assert_eq!(
        report.rows_read,
        report.num_requests + report.rows_skipped + report.failed_requests_left_out,
        "every data row is a request, a skipped row or a failed request"
    );
    assert_eq!(report.skipped_examples.len() as u64, report.rows_skipped.min(5), "skipped examples");
    if !options.skip_bad_rows {
        assert_eq!(report.rows_skipped, 0, "rows skipped without skip_bad_rows");
    }
    if trace.has_arrivals {
        assert_eq!(trace.arrived_at[0].as_nanos(), 0, "imported times are relative to the first");
    } else {
        assert!(trace.arrived_at.iter().all(|at| at.as_nanos() == 0), "a length-only trace has no times");
    }
    for (row, &previous) in trace.follows.iter().enumerate().filter(|&(_, &previous)| previous != NO_ROW) {
        let session = |row: usize| trace.sessions.get(row).copied();
        assert!(
            session(row).is_some() && session(row) == session(previous as usize),
            "an imported row {row} follows row {previous} of another session"
        );
    }
}

/// The invariants of any trace, imported or generated, and of its summary.
pub fn check_trace(trace: &Trace) {
    let rows = trace.num_requests();
    assert_eq!(trace.prompt_tokens.len(), rows, "prompt_tokens column length");
    assert_eq!(trace.output_tokens.len(), rows, "output_tokens column length");
    assert!(trace.arrived_at.windows(2).all(|pair| pair[0] <= pair[1]), "arrived_at must be non-decreasing");
    assert!(trace.prompt_tokens.iter().all(|&tokens| tokens >= 1), "a prompt of 0 tokens");
    assert!(trace.output_tokens.iter().all(|&tokens| tokens >= 1), "an output of 0 tokens");
    if !trace.block_starts.is_empty() {
        assert_eq!(trace.block_starts.len(), rows + 1, "block_starts must have rows + 1 entries");
        assert_eq!(trace.block_starts[0], 0, "block_starts[0]");
        assert!(trace.block_starts.windows(2).all(|pair| pair[0] <= pair[1]), "block_starts must not decrease");
        assert_eq!(*trace.block_starts.last().unwrap() as usize, trace.block_hashes.len(), "the last block start");
    } else {
        assert!(trace.block_hashes.is_empty(), "block hashes without block_starts");
    }
    assert!(trace.sessions.is_empty() || trace.sessions.len() == rows, "sessions column length");
    assert!(trace.classes.is_empty() || trace.classes.len() == rows, "classes column length");
    assert!(trace.classes.iter().all(|&class| usize::from(class) < trace.class_names.len()), "a class without a name");
    assert!(trace.follows.is_empty() || trace.follows.len() == rows, "follows column length");
    assert_eq!(trace.follows.len(), trace.think_time.len(), "think_time column length");
    for (row, &previous) in trace.follows.iter().enumerate().filter(|&(_, &previous)| previous != NO_ROW) {
        assert!((previous as usize) < row, "row {row} follows a later row {previous}");
        // A chained row's arrival is its chain's first row's until the run decides it.
        assert_eq!(
            trace.arrived_at[row], trace.arrived_at[previous as usize],
            "row {row} and row {previous} it follows"
        );
    }
    if let Some(summary) = TraceSummary::of(trace) {
        assert_eq!(summary.num_requests, rows as u64, "summary.num_requests");
        assert_eq!(summary.prompt_histogram.counts.iter().sum::<u64>(), rows as u64, "prompt histogram total");
        assert_eq!(summary.output_histogram.counts.iter().sum::<u64>(), rows as u64, "output histogram total");
        let prompt_total: u64 = trace.prompt_tokens.iter().map(|&t| u64::from(t)).sum();
        assert_eq!(summary.total_prompt_tokens, prompt_total, "summary.total_prompt_tokens");
        assert!(summary.span_s >= 0.0, "summary.span_s");
    } else {
        assert_eq!(rows, 0, "TraceSummary::of is None only for an empty trace");
    }
}
