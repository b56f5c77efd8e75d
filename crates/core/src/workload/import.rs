//! Trace importers: format detection and line-by-line parsing into a [`Trace`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::SimTime;

use super::Trace;

/// The trace formats servesim reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceFormat {
    /// Mooncake JSONL: `{"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [..]}`.
    MooncakeJsonl,
    /// Vidur CSV: `arrived_at,num_prefill_tokens,num_decode_tokens` (seconds, tokens, tokens).
    VidurCsv,
    /// Made by a [`Generator`](super::Generator).
    Generated,
}

impl TraceFormat {
    /// Tokens covered by each prefix hash the format carries (0 when it carries none).
    /// Mooncake's `hash_ids` are one per 512-token block (kvcache-ai/Mooncake
    /// `FAST25-release/README.md`; NVIDIA's replay uses the same `--trace-block-size 512`).
    pub const fn hash_block_tokens(self) -> u32 {
        match self {
            TraceFormat::MooncakeJsonl => 512,
            TraceFormat::VidurCsv | TraceFormat::Generated => 0,
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceFormat::MooncakeJsonl => "Mooncake JSONL",
            TraceFormat::VidurCsv => "Vidur CSV",
            TraceFormat::Generated => "generated",
        })
    }
}

/// A trace that could not be read, with the 1-based line of the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong on that line.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TraceError {}

/// How often, in bytes, [`parse_trace`] reports progress.
const PROGRESS_EVERY_BYTES: usize = 256 * 1024;

const VIDUR_COLUMNS: [&str; 3] = ["arrived_at", "num_prefill_tokens", "num_decode_tokens"];

/// Parses a trace, detecting its format from the first non-blank line, sorts it by arrival and
/// makes arrival times relative to the first request.
///
/// `on_progress` is called with the number of bytes consumed so far, every few hundred KiB and
/// once at the end, so a caller can show a progress bar.
///
/// # Errors
///
/// Returns a [`TraceError`] naming the first bad line: an unrecognised format, a malformed
/// record, a missing or non-numeric field, a zero length or a negative arrival time. A file with
/// no requests (empty, or a header alone) is an error too.
///
/// # Example
///
/// ```
/// use servesim_core::workload::{parse_trace, TraceFormat};
///
/// let csv = "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,4808,10\n0.052,3180,8\n";
/// let trace = parse_trace(csv, &mut |_| {}).unwrap();
/// assert_eq!(trace.format, TraceFormat::VidurCsv);
/// assert_eq!(trace.prompt_tokens, vec![4808, 3180]);
///
/// let error = parse_trace("arrived_at,num_prefill_tokens,num_decode_tokens\n0.1,x,3\n", &mut |_| {})
///     .unwrap_err();
/// assert_eq!(error.to_string(), "line 2: num_prefill_tokens: \"x\" is not a whole number");
/// ```
pub fn parse_trace(text: &str, on_progress: &mut dyn FnMut(usize)) -> Result<Trace, TraceError> {
    let mut lines = Lines::new(text, on_progress);
    let Some((first_line, first)) = lines.peek_non_blank() else {
        return Err(TraceError { line: 1, message: "the file is empty".to_owned() });
    };
    let mut trace = if first.trim_start().starts_with('{') {
        parse_mooncake(&mut lines)?
    } else if VIDUR_COLUMNS.iter().all(|column| first.split(',').any(|name| name.trim() == *column)) {
        parse_vidur(&mut lines)?
    } else {
        return Err(TraceError {
            line: first_line,
            message: format!(
                "unrecognised trace format: expected Mooncake JSONL ({{\"timestamp\": …, \
                 \"input_length\": …, \"output_length\": …}} per line) or a CSV whose header names \
                 {}",
                VIDUR_COLUMNS.join(", ")
            ),
        });
    };
    lines.finish();
    if trace.num_requests() == 0 {
        return Err(TraceError { line: lines.line.max(1), message: "the file has no requests".to_owned() });
    }
    sort_by_arrival(&mut trace);
    shift_to_first_arrival(&mut trace);
    Ok(trace)
}

/// Makes arrivals relative to the first one, so traces with absolute timestamps (e.g. Unix
/// time) simulate from zero like those that start at zero.
fn shift_to_first_arrival(trace: &mut Trace) {
    let Some(&first) = trace.arrived_at.first() else { return };
    for arrived_at in &mut trace.arrived_at {
        *arrived_at = SimTime::from_nanos(arrived_at.as_nanos() - first.as_nanos());
    }
}

/// Iterates lines with 1-based numbers, reporting consumed bytes to a progress callback.
struct Lines<'t, 'p> {
    text: &'t str,
    offset: usize,
    line: usize,
    reported_at: usize,
    on_progress: &'p mut dyn FnMut(usize),
}

impl<'t, 'p> Lines<'t, 'p> {
    fn new(text: &'t str, on_progress: &'p mut dyn FnMut(usize)) -> Self {
        Lines { text, offset: 0, line: 0, reported_at: 0, on_progress }
    }

    /// The next non-blank line and its number, without consuming it.
    fn peek_non_blank(&self) -> Option<(usize, &'t str)> {
        self.text[self.offset..]
            .split('\n')
            .enumerate()
            .map(|(index, line)| (self.line + index + 1, line.trim_end_matches('\r')))
            .find(|(_, line)| !line.trim().is_empty())
    }

    /// The next non-blank line and its number, consumed.
    fn next_non_blank(&mut self) -> Option<(usize, &'t str)> {
        while self.offset < self.text.len() {
            let rest = &self.text[self.offset..];
            let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            let line = rest[..end].trim_end_matches('\n').trim_end_matches('\r');
            self.offset += end;
            self.line += 1;
            if self.offset - self.reported_at >= PROGRESS_EVERY_BYTES {
                self.reported_at = self.offset;
                (self.on_progress)(self.offset);
            }
            if !line.trim().is_empty() {
                return Some((self.line, line));
            }
        }
        None
    }

    fn finish(&mut self) {
        (self.on_progress)(self.text.len());
    }
}

/// One Mooncake record. Unknown keys (e.g. `session_id`) are ignored; Dynamo's aliases accepted.
#[derive(Deserialize)]
struct MooncakeRecord {
    #[serde(alias = "created_time")]
    timestamp: f64,
    #[serde(alias = "input_tokens")]
    input_length: u64,
    #[serde(alias = "output_tokens")]
    output_length: u64,
    #[serde(default)]
    hash_ids: Vec<u64>,
}

fn parse_mooncake(lines: &mut Lines<'_, '_>) -> Result<Trace, TraceError> {
    let mut trace = empty_trace(TraceFormat::MooncakeJsonl);
    trace.block_starts.push(0);
    while let Some((line, text)) = lines.next_non_blank() {
        let record: MooncakeRecord = serde_json::from_str(text)
            .map_err(|error| TraceError { line, message: format!("not a Mooncake record: {error}") })?;
        let at = line_error(line);
        let arrived_at = arrival(record.timestamp / 1e3, "timestamp").map_err(&at)?;
        let prompt = token_count(record.input_length, "input_length").map_err(&at)?;
        let output = token_count(record.output_length, "output_length").map_err(&at)?;
        trace.arrived_at.push(arrived_at);
        trace.prompt_tokens.push(prompt);
        trace.output_tokens.push(output);
        trace.block_hashes.extend_from_slice(&record.hash_ids);
        let end = u32::try_from(trace.block_hashes.len())
            .map_err(|_| at("more than 4 billion hash_ids in the file".to_owned()))?;
        trace.block_starts.push(end);
    }
    if trace.block_hashes.is_empty() {
        trace.block_starts.clear();
    }
    Ok(trace)
}

fn parse_vidur(lines: &mut Lines<'_, '_>) -> Result<Trace, TraceError> {
    let (_, header) = lines.next_non_blank().expect("the caller saw a header");
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let column = |name| names.iter().position(|n| *n == name).expect("the caller checked");
    let [arrived_col, prompt_col, output_col] = VIDUR_COLUMNS.map(column);
    let mut trace = empty_trace(TraceFormat::VidurCsv);
    while let Some((line, text)) = lines.next_non_blank() {
        let at = line_error(line);
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        if fields.len() != names.len() {
            return Err(at(format!("expected {} columns, got {}", names.len(), fields.len())));
        }
        let seconds = number(fields[arrived_col], "arrived_at").map_err(&at)?;
        trace.arrived_at.push(arrival(seconds, "arrived_at").map_err(&at)?);
        let prompt = whole_number(fields[prompt_col], "num_prefill_tokens").map_err(&at)?;
        trace.prompt_tokens.push(token_count(prompt, "num_prefill_tokens").map_err(&at)?);
        let output = whole_number(fields[output_col], "num_decode_tokens").map_err(&at)?;
        trace.output_tokens.push(token_count(output, "num_decode_tokens").map_err(&at)?);
    }
    Ok(trace)
}

fn empty_trace(format: TraceFormat) -> Trace {
    Trace {
        format,
        hash_block_tokens: format.hash_block_tokens(),
        arrived_at: Vec::new(),
        prompt_tokens: Vec::new(),
        output_tokens: Vec::new(),
        block_starts: Vec::new(),
        block_hashes: Vec::new(),
    }
}

fn line_error(line: usize) -> impl Fn(String) -> TraceError {
    move |message| TraceError { line, message }
}

fn number(field: &str, name: &str) -> Result<f64, String> {
    field.parse::<f64>().map_err(|_| format!("{name}: \"{field}\" is not a number"))
}

fn whole_number(field: &str, name: &str) -> Result<u64, String> {
    field.parse::<u64>().map_err(|_| format!("{name}: \"{field}\" is not a whole number"))
}

/// The latest arrival time accepted, in seconds (about 317 years; Unix time in seconds or
/// milliseconds fits, and nanoseconds since it still fit in 64 bits).
const LATEST_ARRIVAL_S: f64 = 1e10;

fn arrival(seconds: f64, name: &str) -> Result<SimTime, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{name} must be a finite time ≥ 0, got {seconds}"));
    }
    if seconds > LATEST_ARRIVAL_S {
        return Err(format!("{name} is {seconds} s; times after {LATEST_ARRIVAL_S:e} s are not accepted"));
    }
    Ok(SimTime::from_secs_f64(seconds))
}

fn token_count(value: u64, name: &str) -> Result<u32, String> {
    match u32::try_from(value) {
        Ok(0) => Err(format!("{name} must be ≥ 1, got 0")),
        Ok(tokens) => Ok(tokens),
        Err(_) => Err(format!("{name} must be ≤ {}, got {value}", u32::MAX)),
    }
}

/// Stable-sorts the rows by arrival; a no-op (one pass) for the usual already-sorted file.
fn sort_by_arrival(trace: &mut Trace) {
    if trace.arrived_at.windows(2).all(|pair| pair[0] <= pair[1]) {
        return;
    }
    let mut order: Vec<usize> = (0..trace.num_requests()).collect();
    order.sort_by_key(|&row| trace.arrived_at[row]);
    let mut sorted = empty_trace(trace.format);
    if !trace.block_starts.is_empty() {
        sorted.block_starts.push(0);
    }
    for row in order {
        sorted.arrived_at.push(trace.arrived_at[row]);
        sorted.prompt_tokens.push(trace.prompt_tokens[row]);
        sorted.output_tokens.push(trace.output_tokens[row]);
        if !trace.block_starts.is_empty() {
            sorted.block_hashes.extend_from_slice(trace.block_hashes_of(row));
            sorted.block_starts.push(sorted.block_hashes.len() as u32);
        }
    }
    *trace = sorted;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Trace, TraceError> {
        parse_trace(text, &mut |_| {})
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    const HEADER: &str = "arrived_at,num_prefill_tokens,num_decode_tokens";

    #[test]
    fn mooncake_records_become_columns_with_their_block_hashes() {
        let trace = parse(
            "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [0, 1]}\n\
             {\"timestamp\": 1500.5, \"input_length\": 700, \"output_length\": 3, \"hash_ids\": [0, 2], \"session_id\": 9}\n",
        )
        .unwrap();
        assert_eq!(trace.format, TraceFormat::MooncakeJsonl);
        assert_eq!(trace.arrived_at, vec![SimTime::ZERO, SimTime::from_nanos(1_500_500_000)]);
        assert_eq!(trace.prompt_tokens, vec![6758, 700]);
        assert_eq!(trace.output_tokens, vec![500, 3]);
        assert_eq!(trace.block_hashes_of(1), &[0, 2]);
        assert_eq!(trace.hash_block_tokens, 512);
    }

    #[test]
    fn vidur_csv_reads_columns_in_any_order_with_crlf_and_blank_lines() {
        let trace =
            parse("num_decode_tokens,arrived_at,num_prefill_tokens\r\n10,0.0,4808\r\n\r\n8,0.052,3180").unwrap();
        assert_eq!(trace.format, TraceFormat::VidurCsv);
        assert_eq!(trace.arrived_at[1], SimTime::from_nanos(52_000_000));
        assert_eq!((trace.prompt_tokens.clone(), trace.output_tokens.clone()), (vec![4808, 3180], vec![10, 8]));
        assert!(trace.block_starts.is_empty() && trace.block_hashes_of(0).is_empty());
    }

    #[test]
    fn unsorted_rows_are_sorted_stably_with_their_hashes() {
        let trace = parse(
            "{\"timestamp\": 20, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [7]}\n\
             {\"timestamp\": 10, \"input_length\": 2, \"output_length\": 1, \"hash_ids\": [8, 9]}\n\
             {\"timestamp\": 10, \"input_length\": 3, \"output_length\": 1, \"hash_ids\": []}\n",
        )
        .unwrap();
        assert_eq!(trace.prompt_tokens, vec![2, 3, 1]);
        assert_eq!(trace.block_hashes_of(0), &[8, 9]);
        assert_eq!(trace.block_hashes_of(1), &[] as &[u64]);
        assert_eq!(trace.block_hashes_of(2), &[7]);
    }

    #[test]
    fn absolute_timestamps_become_relative_to_the_first_arrival() {
        let trace = parse(&format!("{HEADER}\n1764000000.5,10,10\n1764000003,10,10\n")).unwrap();
        assert_eq!(trace.arrived_at, vec![SimTime::ZERO, SimTime::from_nanos(2_500_000_000)]);
        assert_eq!(
            error(&format!("{HEADER}\n2e10,10,10\n")),
            "line 2: arrived_at is 20000000000 s; times after 1e10 s are not accepted"
        );
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        assert_eq!(error(""), "line 1: the file is empty");
        assert_eq!(error("\n  \n"), "line 1: the file is empty");
        assert_eq!(error(&format!("{HEADER}\n\n")), "line 2: the file has no requests");
        assert!(error("\n\u{0}\u{7f}garbage").starts_with("line 2: unrecognised trace format"));
        assert_eq!(error(&format!("{HEADER}\n1,2,3\n1,2\n")), "line 3: expected 3 columns, got 2");
        assert_eq!(error(&format!("{HEADER}\nsoon,2,3\n")), "line 2: arrived_at: \"soon\" is not a number");
        assert_eq!(error(&format!("{HEADER}\n-1,2,3\n")), "line 2: arrived_at must be a finite time ≥ 0, got -1");
        assert_eq!(error(&format!("{HEADER}\n1,2,0\n")), "line 2: num_decode_tokens must be ≥ 1, got 0");
        assert_eq!(
            error(&format!("{HEADER}\n1,5000000000,1\n")),
            "line 2: num_prefill_tokens must be ≤ 4294967295, got 5000000000"
        );
        assert!(error("{\"timestamp\": 0, \"input_length\": 5}")
            .starts_with("line 1: not a Mooncake record: missing field `output_length`"));
        assert!(error("{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1}\n{oops")
            .starts_with("line 2: not a Mooncake record: key must be a string"));
    }

    #[test]
    fn progress_is_reported_and_ends_at_the_full_length() {
        let row = "0.5,100,10\n";
        let text = format!("{HEADER}\n{}", row.repeat(60_000));
        let mut reports = Vec::new();
        let trace = parse_trace(&text, &mut |bytes| reports.push(bytes)).unwrap();
        assert_eq!(trace.num_requests(), 60_000);
        assert!(reports.len() >= 3, "{reports:?}");
        assert!(reports.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(*reports.last().unwrap(), text.len());
    }
}
