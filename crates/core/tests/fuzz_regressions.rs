//! Inputs the fuzz targets in `fuzz/` found to break the code, minimised with `cargo fuzz tmin`,
//! each kept here as a test so the bug stays fixed. Each test names the target that found it
//! and what it hit; `docs/dev.md` ("Fuzzing") says how to run the targets.

use servesim_core::workload::{import_bytes, ImportOptions, Imported, TraceError, NO_ROW};

fn import(bytes: &[u8], skip_bad_rows: bool) -> Result<Imported, TraceError> {
    import_bytes(bytes, ImportOptions { columns: None, skip_bad_rows }, &mut |_| {})
}

/// Found by `trace_import` (its report invariant `rows_read = num_requests + rows_skipped +
/// failed_requests_left_out`): with `skip_bad_rows`, a data row that is not UTF-8 was counted
/// as skipped but not as read (`Importer::on_line` returned through `bad_row` before counting
/// the row), so the report said 1 row read, 1 request and 1 row skipped.
#[test]
fn trace_import_counts_a_skipped_non_utf8_row_as_read() {
    let imported = import(b"{\"input_length\":5,\"output_length\":5}\n\xff", true).unwrap();
    let report = &imported.report;
    assert_eq!((report.num_requests, report.rows_skipped), (1, 1));
    assert_eq!(report.skipped_examples, ["line 2, column 1: not UTF-8 text"]);
    assert_eq!(report.rows_read, 2, "the row that is not UTF-8 was read, and skipped");
}

/// Found by `trace_import` (an arithmetic overflow, which panics in debug builds and wraps in
/// release ones): `parse_datetime_ns` multiplied the seconds since 1970 by 10⁹ in an `i64`,
/// which overflows for dates before 1677-09-21 or after 2262-04-11. The year 0223 is before 1970
/// and must be refused as such; the year 9999 is past the latest arrival any unit accepts
/// (10¹⁰ s after the file's zero, as for numeric times) and must be refused too, not wrap around
/// to an arbitrary time.
#[test]
fn trace_import_refuses_date_times_far_from_1970_without_overflowing() {
    // The minimised input: an Azure header and one row whose time is in the year 223.
    let error = import(b"TIMESTAMP,ContextTokens,GeneratedTokens\n0223-11-16 18:17:04,,", false).unwrap_err();
    assert_eq!((error.line, error.column), (2, Some(1)), "{error}");
    for row in [
        "0223-11-16 18:17:04,10,5",
        "1000-01-01 00:00:00,10,5",
        "9999-12-31 23:59:59,10,5",
        "2300-01-01T00:00:00Z,10,5",
    ] {
        let text = format!("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,10,5\n{row}\n");
        let error = import(text.as_bytes(), false).unwrap_err();
        assert_eq!((error.line, error.column), (3, Some(1)), "{row}: {error}");
        assert!(error.message.starts_with("TIMESTAMP: "), "{row}: {error}");
    }
}

/// Found by `trace_import` (its invariant that an imported row follows only a row of its own
/// session), in the importer that chains a session's turns (4dd0211): whether a Mooncake file
/// had sessions was decided by its first record, so when that record had no `session_id` the
/// trace got no `sessions` column, yet later records with a `session_id` were still chained to
/// their session's previous turn: turns following one another without a session to belong to.
#[test]
fn trace_import_chains_turns_only_within_a_recorded_session() {
    let imported = import(
        b"{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 5}\n\
          {\"timestamp\": 1, \"input_length\": 5, \"output_length\": 5, \"session_id\": 9}\n\
          {\"timestamp\": 2, \"input_length\": 5, \"output_length\": 5, \"session_id\": 9}\n",
        false,
    )
    .unwrap();
    let trace = &imported.trace;
    assert!(trace.is_chained(2), "the session's second turn follows its first");
    for (row, &previous) in trace.follows.iter().enumerate().filter(|&(_, &previous)| previous != NO_ROW) {
        let session = |row: usize| trace.sessions.get(row).copied();
        assert!(
            session(row).is_some() && session(row) == session(previous as usize),
            "row {row} follows row {previous} but sessions are {:?}",
            trace.sessions
        );
    }
}
