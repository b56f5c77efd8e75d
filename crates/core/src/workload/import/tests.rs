use std::io::Write;

use super::*;
use crate::time::SimDuration;
use crate::workload::NO_ROW;

fn import(text: &str) -> Result<Imported, TraceError> {
    import_bytes(text.as_bytes(), ImportOptions::default(), &mut |_| {})
}

fn import_with(text: &str, options: ImportOptions) -> Result<Imported, TraceError> {
    import_bytes(text.as_bytes(), options, &mut |_| {})
}

fn error(text: &str) -> String {
    import(text).unwrap_err().to_string()
}

fn skipping() -> ImportOptions {
    ImportOptions { skip_bad_rows: true, ..ImportOptions::default() }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

const HEADER: &str = "arrived_at,num_prefill_tokens,num_decode_tokens";

#[test]
fn mooncake_records_become_columns_with_their_block_hashes() {
    let imported = import(
        "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [0, 1]}\n\
         {\"timestamp\": 1500.5, \"input_length\": 700, \"output_length\": 3, \"hash_ids\": [0, 2]}\n",
    )
    .unwrap();
    let trace = &imported.trace;
    assert_eq!(trace.format, TraceFormat::MooncakeJsonl);
    assert_eq!(trace.arrived_at, [SimTime::ZERO, SimTime::from_nanos(1_500_500_000)]);
    assert_eq!(trace.prompt_tokens, vec![6758, 700]);
    assert_eq!(trace.output_tokens, vec![500, 3]);
    assert_eq!(trace.block_hashes_of(1), &[0, 2]);
    assert_eq!(trace.hash_block_tokens, 512);
    assert!(trace.sessions.is_empty() && trace.follows.is_empty());
    let roles: Vec<&str> = imported.report.columns.iter().map(|c| c.role.as_str()).collect();
    assert_eq!(roles, ["arrival", "prompt_tokens", "output_tokens", "prefix_hashes"]);
    assert_eq!((imported.report.rows_read, imported.report.num_requests), (2, 2));
}

#[test]
fn mooncake_session_turns_follow_the_previous_turn_after_its_delay_or_timestamp_gap() {
    // Dynamo's session rows: a later turn is sent `delay` ms after the previous turn ends, or,
    // without a delay, the gap between the two timestamps.
    let imported = import(
        "{\"session_id\": \"a\", \"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [0, 1]}\n\
         {\"session_id\": 9, \"timestamp\": 1500, \"input_length\": 700, \"output_length\": 3, \"hash_ids\": [7, 8]}\n\
         {\"session_id\": \"a\", \"timestamp\": 1600, \"input_tokens\": 900, \"output_tokens\": 4, \"hash_ids\": [0, 1, 3]}\n\
         {\"session_id\": \"a\", \"delay\": 250, \"input_length\": 1000, \"output_length\": 4, \"hash_ids\": [0, 1, 3, 4]}\n",
    )
    .unwrap();
    let trace = &imported.trace;
    // Chained rows sit after their session's first turn, at its arrival, until the run.
    assert_eq!(trace.prompt_tokens, vec![600, 900, 1000, 700]);
    assert_eq!(trace.sessions, vec![0, 0, 0, 1]);
    assert_eq!(trace.follows, vec![NO_ROW, 0, 1, NO_ROW]);
    assert_eq!(
        trace.think_time,
        vec![SimDuration::ZERO, SimDuration::from_millis(1600), SimDuration::from_millis(250), SimDuration::ZERO]
    );
    assert_eq!(trace.arrived_at[3], SimTime::from_nanos(1_500_000_000));
    assert_eq!(trace.block_hashes_of(2), &[0, 1, 3, 4]);
    assert!(error("{\"session_id\": 1, \"delay\": 5, \"input_length\": 1, \"output_length\": 1}")
        .starts_with("line 1: timestamp: missing"));
}

#[test]
fn vidur_csv_reads_columns_in_any_order_with_crlf_bom_and_blank_lines() {
    let trace = import("\u{feff}num_decode_tokens,arrived_at,num_prefill_tokens\r\n10,0.0,4808\r\n\r\n8,0.052,3180")
        .unwrap()
        .trace;
    assert_eq!(trace.format, TraceFormat::VidurCsv);
    assert_eq!(trace.arrived_at[1], SimTime::from_nanos(52_000_000));
    assert_eq!((trace.prompt_tokens.clone(), trace.output_tokens.clone()), (vec![4808, 3180], vec![10, 8]));
    assert!(trace.block_starts.is_empty() && trace.block_hashes_of(0).is_empty());
}

#[test]
fn azure_2023_and_2024_timestamps_are_told_apart_and_read_to_the_microsecond() {
    let imported = import(
        "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,4808,10\r\n2023-11-16 18:17:04.0319600,3180,8",
    )
    .unwrap();
    assert_eq!(imported.report.format, TraceFormat::AzureLlm2023);
    assert_eq!(imported.trace.arrived_at[1], SimTime::from_nanos(52_000_000));
    let imported = import(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2024-05-10 00:00:00.009930+00:00,10,5\n2024-05-10 00:00:01+00:00,10,5\n",
    )
    .unwrap();
    assert_eq!(imported.report.format, TraceFormat::AzureLlm2024);
    assert_eq!(imported.trace.arrived_at[1], SimTime::from_nanos(990_070_000));
    assert_eq!(imported.report.columns[0].unit, Some(TimeUnit::Datetime));
}

#[test]
fn burstgpt_leaves_out_failed_requests_and_reads_models_as_classes_and_sessions() {
    let imported = import(
        "Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
         5,s1,1.5,ChatGPT,472,18,490,Conversation log\n\
         45,s2,2.0,GPT-4,1087,0,1087,API log\n\
         118,s1,3.0,GPT-4,417,276,693,Conversation log\n",
    )
    .unwrap();
    let trace = &imported.trace;
    assert_eq!(imported.report.format, TraceFormat::BurstGpt);
    assert_eq!(trace.prompt_tokens, vec![472, 417]);
    assert_eq!(trace.arrived_at[1], SimTime::from_nanos(113_000_000_000));
    assert_eq!(
        (trace.classes.clone(), trace.class_names.clone()),
        (vec![0, 1], vec!["ChatGPT".into(), "GPT-4".into()])
    );
    assert_eq!(trace.sessions, vec![0, 0]);
    assert_eq!((imported.report.rows_read, imported.report.failed_requests_left_out), (3, 1));
    assert!(imported.report.notices.iter().any(|n| n == "1 failed requests (no response tokens) were left out"));
}

#[test]
fn splitwise_sim_reads_application_ids_as_classes() {
    let imported = import(
        "request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size\n\
         0,2,0,1,1,4096,32\n1,2,0,3,1,2048,8\n2,2,1,4,1,2048,16\n",
    )
    .unwrap();
    assert_eq!(imported.report.format, TraceFormat::SplitwiseSim);
    assert_eq!(imported.trace.arrived_at[2], SimTime::from_nanos(3_000_000_000));
    assert_eq!(imported.trace.classes, vec![0, 0, 1]);
}

#[test]
fn length_only_files_have_no_arrivals_and_say_so() {
    let imported =
        import("num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n3772,54,3826,69.8\n10,5,15,2\n")
            .unwrap();
    assert_eq!(imported.report.format, TraceFormat::LengthsOnly);
    assert!(!imported.trace.has_arrivals);
    assert_eq!(imported.trace.arrived_at, vec![SimTime::ZERO; 2]);
    assert!(imported.report.notices[0].contains("no arrival times"));
    let jsonl = import("{\"input_length\": 5, \"output_length\": 7}\n").unwrap();
    assert_eq!((jsonl.report.format, jsonl.trace.has_arrivals), (TraceFormat::LengthsOnly, false));
}

#[test]
fn qwen_bailian_sessions_follow_parent_chains() {
    let imported = import(
        "{\"chat_id\": 10, \"parent_chat_id\": -1, \"timestamp\": 1.5, \"input_length\": 40, \"output_length\": 4, \"type\": \"text\", \"turn\": 1, \"hash_ids\": [1, 2, 3]}\n\
         {\"chat_id\": 11, \"parent_chat_id\": -1, \"timestamp\": 2.0, \"input_length\": 20, \"output_length\": 4, \"type\": \"image\", \"turn\": 1, \"hash_ids\": [7, 8]}\n\
         {\"chat_id\": 12, \"parent_chat_id\": 10, \"timestamp\": 3.0, \"input_length\": 60, \"output_length\": 4, \"type\": \"text\", \"turn\": 2, \"hash_ids\": [1, 2, 3, 4]}\n\
         {\"chat_id\": 13, \"parent_chat_id\": 12, \"timestamp\": 4.0, \"input_length\": 80, \"output_length\": 4, \"type\": \"text\", \"turn\": 3, \"hash_ids\": [1, 2, 3, 4, 5]}\n",
    )
    .unwrap();
    let trace = &imported.trace;
    assert_eq!(imported.report.format, TraceFormat::QwenBailianJsonl);
    // Turns 2 and 3 of chat 10 follow their parents (1.5 s and 1 s after them), at the root's time until the run.
    assert_eq!(trace.prompt_tokens, vec![40, 60, 80, 20]);
    assert_eq!(trace.sessions, vec![0, 0, 0, 1]);
    assert_eq!(trace.classes, vec![0, 0, 0, 1]);
    assert_eq!(trace.follows, vec![NO_ROW, 0, 1, NO_ROW]);
    assert_eq!(trace.think_time[1..3], [SimDuration::from_millis(1500), SimDuration::from_millis(1000)]);
    assert_eq!(trace.hash_block_tokens, 16);
    assert_eq!(trace.arrived_at[3], SimTime::from_nanos(500_000_000));
}

#[test]
fn a_mapping_reads_any_csv_or_jsonl_with_a_class_column() {
    let mapping = ColumnMapping {
        arrival: Some("sent_ms".into()),
        arrival_unit: TimeUnit::Ms,
        prompt_tokens: "in".into(),
        output_tokens: "out".into(),
        session: None,
        class: Some("tenant".into()),
    };
    let options = ImportOptions { columns: Some(mapping.clone()), skip_bad_rows: false };
    let csv =
        import_with("tenant,in,out,sent_ms\nacme,100,10,1000\n\"b, inc\",200,20,1500\n", options.clone()).unwrap();
    assert_eq!(csv.report.format, TraceFormat::CustomCsv);
    assert_eq!(csv.trace.class_names, vec!["acme".to_owned(), "b, inc".to_owned()]);
    assert_eq!(csv.trace.arrived_at[1], SimTime::from_nanos(500_000_000));
    let jsonl =
        import_with("{\"sent_ms\": 1000, \"in\": 100, \"out\": \"10\", \"tenant\": \"acme\"}\n", options.clone())
            .unwrap();
    assert_eq!((jsonl.report.format, jsonl.trace.output_tokens.clone()), (TraceFormat::CustomJsonl, vec![10]));
    assert_eq!(
        import_with("a,b\n1,2\n", options).unwrap_err().to_string(),
        "line 1: the mapped column \"sent_ms\" is not in the header (a, b)"
    );
}

#[test]
fn unsorted_rows_are_sorted_stably_with_their_hashes_and_a_notice() {
    let imported = import(
        "{\"timestamp\": 20, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [7]}\n\
         {\"timestamp\": 10, \"input_length\": 2, \"output_length\": 1, \"hash_ids\": [8, 9]}\n\
         {\"timestamp\": 10, \"input_length\": 3, \"output_length\": 1, \"hash_ids\": []}\n",
    )
    .unwrap();
    let trace = &imported.trace;
    assert_eq!(trace.prompt_tokens, vec![2, 3, 1]);
    assert_eq!(trace.block_hashes_of(0), &[8, 9]);
    assert_eq!(trace.block_hashes_of(1), &[] as &[u64]);
    assert_eq!(trace.block_hashes_of(2), &[7]);
    assert!(imported.report.sorted);
    assert!(imported.report.notices[0].starts_with("the rows are not in time order (line 2 arrives"));
}

#[test]
fn absolute_timestamps_become_relative_to_the_first_arrival() {
    let trace = import(&format!("{HEADER}\n1764000000.5,10,10\n1764000003,10,10\n")).unwrap().trace;
    assert_eq!(trace.arrived_at, vec![SimTime::ZERO, SimTime::from_nanos(2_500_000_000)]);
    assert_eq!(
        error(&format!("{HEADER}\n2e10,10,10\n")),
        "line 2, column 1: arrived_at: 20000000000 s is later than 1e10 s"
    );
}

#[test]
fn errors_name_the_line_the_column_and_the_problem() {
    assert_eq!(error(""), "line 1: the file is empty");
    assert_eq!(error("\n  \n"), "line 1: the file is empty");
    assert_eq!(error(&format!("{HEADER}\n\n")), "line 2: the file has no requests");
    assert!(error("\n\u{0}\u{7f}garbage").starts_with("line 2: unrecognised trace format"));
    assert_eq!(error(&format!("{HEADER}\n1,2,3\n1,2\n")), "line 3: expected 3 columns, got 2");
    assert_eq!(error(&format!("{HEADER}\nsoon,2,3\n")), "line 2, column 1: arrived_at: \"soon\" is not a number");
    assert_eq!(
        error(&format!("{HEADER}\n-1,2,3\n")),
        "line 2, column 1: arrived_at: must be a finite time ≥ 0, got -1"
    );
    assert_eq!(error(&format!("{HEADER}\n1,2,0\n")), "line 2, column 3: num_decode_tokens: must be ≥ 1, got 0");
    assert_eq!(
        error(&format!("{HEADER}\n1,5000000000,1\n")),
        "line 2, column 2: num_prefill_tokens: must be ≤ 4294967295, got 5000000000"
    );
    assert_eq!(
        error(&format!("{HEADER}\n1,2.5,1\n")),
        "line 2, column 2: num_prefill_tokens: \"2.5\" is not a whole number"
    );
    assert_eq!(error(&format!("{HEADER}\n1,\"2,1\n")), "line 2, column 2: a quoted field is not closed");
    assert_eq!(
        error("{\"timestamp\": 0, \"input_length\": 5}"),
        "line 1: unrecognised JSON trace: its keys (input_length, timestamp) lack input_length and output_length; map \
         its keys (see docs/traces.md)"
    );
    assert_eq!(
        error("{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1}\n{\"timestamp\": 1, \"input_length\": 0, \"output_length\": 1}"),
        "line 2, column 18: input_length: must be ≥ 1, got 0"
    );
    assert!(error("{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1}\n{oops")
        .starts_with("line 2, column 2: not a JSON record: key must be a string"));
    assert_eq!(error(&format!("{HEADER}\n1,2,3\n\u{1}\u{2}\u{ff}")), "line 3: expected 3 columns, got 1");
    let mut bad_utf8 = format!("{HEADER}\n1,2,3\n2,").into_bytes();
    bad_utf8.extend_from_slice(&[0xff, b'3', b',', b'4']);
    let error = import_bytes(&bad_utf8, ImportOptions::default(), &mut |_| {}).unwrap_err();
    assert_eq!(error.to_string(), "line 3, column 3: not UTF-8 text");
}

#[test]
fn bad_rows_can_be_skipped_counted_and_shown() {
    let mut text = format!("{HEADER}\n");
    for i in 0..10 {
        text.push_str(&format!("{i},100,{}\n", if i % 3 == 0 { "x" } else { "5" }));
    }
    let imported = import_with(&text, skipping()).unwrap();
    assert_eq!(imported.report.rows_read, 10);
    assert_eq!(imported.report.rows_skipped, 4);
    assert_eq!(imported.report.num_requests, 6);
    assert_eq!(imported.report.skipped_examples[0], "line 2, column 3: num_decode_tokens: \"x\" is not a whole number");
    assert_eq!(imported.report.skipped_examples.len(), 4);
    // Times are relative to the first request kept (row 1 at 1 s).
    assert_eq!(imported.trace.arrived_at[0], SimTime::ZERO);
    let all_bad = import_with(&format!("{HEADER}\n1,x,1\n2,y,1\n"), skipping()).unwrap_err();
    assert_eq!(
        all_bad.to_string(),
        "line 3: every row was skipped (2 bad rows; the first: line 2, column 2: num_prefill_tokens: \"x\" is not a \
         whole number)"
    );
    // An unrecognised header is not a bad row: it stops the import either way.
    assert!(import_with("what,is,this\n1,2,3\n", skipping()).is_err());
}

#[test]
fn gzip_files_are_inflated_on_the_way_in_any_chunking() {
    let text = format!("{HEADER}\n{}", (0..5_000).map(|i| format!("{}.5,{},7\n", i, 100 + i)).collect::<String>());
    let plain = import(&text).unwrap();
    let compressed = gzip(text.as_bytes());
    let imported = import_bytes(&compressed, ImportOptions::default(), &mut |_| {}).unwrap();
    assert!(imported.report.gzip && !plain.report.gzip);
    assert_eq!(imported.trace, plain.trace);
    for chunk in [1, 2, 7, 1000] {
        let mut importer = Importer::new(ImportOptions::default());
        for piece in compressed.chunks(chunk) {
            importer.push(piece).unwrap();
        }
        assert_eq!(importer.finish().unwrap().trace, plain.trace, "chunks of {chunk}");
    }
    let truncated = import_bytes(&compressed[..compressed.len() / 2], ImportOptions::default(), &mut |_| {});
    assert!(truncated.unwrap_err().message.starts_with("the gzip stream is corrupt"));
    let mut corrupt = compressed.clone();
    corrupt[20] ^= 0xff;
    assert!(import_bytes(&corrupt, ImportOptions::default(), &mut |_| {}).is_err());
}

#[test]
fn plain_text_split_anywhere_reads_the_same() {
    let text = "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [0, 1]}\r\n\
                {\"timestamp\": 3, \"input_length\": 7, \"output_length\": 3, \"hash_ids\": [0]}";
    let whole = import(text).unwrap();
    for split in 0..text.len() {
        let mut importer = Importer::new(ImportOptions::default());
        importer.push(&text.as_bytes()[..split]).unwrap();
        importer.push(&text.as_bytes()[split..]).unwrap();
        assert_eq!(importer.finish().unwrap(), whole, "split at {split}");
    }
}

#[test]
fn progress_is_reported_and_ends_at_the_full_length() {
    let row = "0.5,100,10\n";
    let text = format!("{HEADER}\n{}", row.repeat(60_000));
    let mut reports = Vec::new();
    let trace = parse_trace(&text, &mut |bytes| reports.push(bytes)).unwrap();
    assert_eq!(trace.num_requests(), 60_000);
    assert!(reports.len() >= 3, "{reports:?}");
    assert!(reports.windows(2).all(|pair| pair[0] <= pair[1]));
    assert_eq!(*reports.last().unwrap(), text.len());
}
