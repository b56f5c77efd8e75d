//! Trace importers: streaming, gzip-aware, with format detection and an import report.
//!
//! An [`Importer`] takes a file's bytes in chunks of any size ([`Importer::push`]), so a
//! browser tab can read a 200 MB file from its stream without holding it whole; a gzip file
//! (detected by its magic bytes) is inflated on the way. The first non-blank line decides the
//! format — a JSON record (Mooncake, Qwen Bailian, length-only, or keys the user mapped) or a
//! CSV header (Azure LLM 2023/2024, BurstGPT, SplitwiseSim, Vidur, length-only, or columns the
//! user mapped) — and [`Importer::finish`] returns the [`Trace`] with an [`ImportReport`]: the
//! format, the columns used, the rows read and skipped, and notices (e.g. rows sorted).
//!
//! Every error names its 1-based line and, where it can, its column. By default the first bad
//! row stops the import; with [`ImportOptions::skip_bad_rows`] bad rows are counted, the first
//! few kept as examples, and the rest of the file is read.

pub(crate) mod csv;
mod datetime;
mod rows;

use std::fmt;
use std::io::Write;

use serde::{Deserialize, Serialize};

use self::rows::{Builder, Detected, Outcome, RowReader};
use super::Trace;
use crate::time::SimTime;

/// The trace formats servesim reads (and `generated` for a generator's output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceFormat {
    /// Mooncake JSONL: `{"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [..]}`,
    /// optionally with `session_id`.
    MooncakeJsonl,
    /// Qwen / Aliyun Bailian JSONL: `chat_id`, `parent_chat_id`, `timestamp` (s), lengths,
    /// `type`, `hash_ids` per 16 tokens.
    QwenBailianJsonl,
    /// Azure LLM inference trace 2023: `TIMESTAMP,ContextTokens,GeneratedTokens`.
    AzureLlm2023,
    /// Azure LLM inference trace 2024: the 2023 columns, timestamps with a zone suffix.
    AzureLlm2024,
    /// BurstGPT: `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`.
    BurstGpt,
    /// SplitwiseSim: `request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size`.
    SplitwiseSim,
    /// Vidur CSV: `arrived_at,num_prefill_tokens,num_decode_tokens` (seconds, tokens, tokens).
    VidurCsv,
    /// Lengths without arrival times (e.g. Vidur's `num_prefill_tokens,num_decode_tokens,…`).
    LengthsOnly,
    /// A CSV file read through a column mapping.
    CustomCsv,
    /// A JSON-lines file read through a key mapping.
    CustomJsonl,
    /// Made by a [`Generator`](super::Generator).
    Generated,
}

impl TraceFormat {
    /// Tokens covered by each prefix hash the format carries (0 when it carries none).
    /// Mooncake's `hash_ids` are one per 512-token block (kvcache-ai/Mooncake
    /// `FAST25-release/README.md`; NVIDIA's replay uses the same `--trace-block-size 512`);
    /// Bailian's one per 16 tokens (alibaba-edu/qwen-bailian-usagetraces-anon `README.md`).
    pub const fn hash_block_tokens(self) -> u32 {
        match self {
            TraceFormat::MooncakeJsonl => 512,
            TraceFormat::QwenBailianJsonl => 16,
            _ => 0,
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceFormat::MooncakeJsonl => "Mooncake JSONL",
            TraceFormat::QwenBailianJsonl => "Qwen Bailian JSONL",
            TraceFormat::AzureLlm2023 => "Azure LLM 2023 CSV",
            TraceFormat::AzureLlm2024 => "Azure LLM 2024 CSV",
            TraceFormat::BurstGpt => "BurstGPT CSV",
            TraceFormat::SplitwiseSim => "SplitwiseSim CSV",
            TraceFormat::VidurCsv => "Vidur CSV",
            TraceFormat::LengthsOnly => "length-only",
            TraceFormat::CustomCsv => "mapped CSV",
            TraceFormat::CustomJsonl => "mapped JSONL",
            TraceFormat::Generated => "generated",
        })
    }
}

/// The unit of an arrival column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Seconds (a number).
    #[default]
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
    /// A calendar date-time, `YYYY-MM-DD HH:MM:SS[.fff…][Z|±HH:MM]` (UTC without a zone).
    Datetime,
}

impl TimeUnit {
    /// Every unit, in the order the UI lists them.
    pub const ALL: [TimeUnit; 5] = [TimeUnit::S, TimeUnit::Ms, TimeUnit::Us, TimeUnit::Ns, TimeUnit::Datetime];

    /// How many of this unit make a second (1 for a date-time, which is parsed apart).
    pub const fn per_second(self) -> f64 {
        match self {
            TimeUnit::S | TimeUnit::Datetime => 1.0,
            TimeUnit::Ms => 1e3,
            TimeUnit::Us => 1e6,
            TimeUnit::Ns => 1e9,
        }
    }

    /// The unit's name in JSON and on the command line.
    pub const fn symbol(self) -> &'static str {
        match self {
            TimeUnit::S => "s",
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
            TimeUnit::Ns => "ns",
            TimeUnit::Datetime => "datetime",
        }
    }

    /// The unit named `symbol`, if any.
    pub fn from_symbol(symbol: &str) -> Option<TimeUnit> {
        TimeUnit::ALL.into_iter().find(|unit| unit.symbol() == symbol)
    }
}

/// Which columns (CSV header names) or keys (JSON lines) hold each field of a custom trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColumnMapping {
    /// The arrival-time column; none for a length-only file.
    pub arrival: Option<String>,
    /// The unit of the arrival column. Default `s`.
    pub arrival_unit: TimeUnit,
    /// The prompt (input) token count column.
    pub prompt_tokens: String,
    /// The output token count column.
    pub output_tokens: String,
    /// An optional session / conversation id column.
    pub session: Option<String>,
    /// An optional tenant / class column.
    pub class: Option<String>,
}

/// How to import a trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportOptions {
    /// Read the file through this mapping instead of detecting its format.
    pub columns: Option<ColumnMapping>,
    /// Skip malformed rows (counted, with the first few as examples) instead of stopping at
    /// the first.
    pub skip_bad_rows: bool,
}

/// A field of the trace and where it was read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnUse {
    /// `arrival`, `prompt_tokens`, `output_tokens`, `session`, `class` or `prefix_hashes`.
    pub role: String,
    /// The column or key it came from.
    pub source: String,
    /// The unit of an arrival column.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unit: Option<TimeUnit>,
}

/// What an import found: the format, the columns used, and the rows read, kept and skipped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The detected (or mapped) format.
    pub format: TraceFormat,
    /// Whether the file was gzip-compressed.
    pub gzip: bool,
    /// The fields read and their columns.
    pub columns: Vec<ColumnUse>,
    /// Data rows in the file (blank lines and the header not counted).
    pub rows_read: u64,
    /// Requests imported.
    pub num_requests: u64,
    /// Malformed rows skipped (only with `skip_bad_rows`).
    pub rows_skipped: u64,
    /// The first few skipped rows' errors, e.g. `line 7, column 2: ContextTokens: "x" is not a whole number`.
    pub skipped_examples: Vec<String>,
    /// Failed requests in the log left out (BurstGPT rows with no response tokens).
    pub failed_requests_left_out: u64,
    /// Whether the rows were out of time order and were sorted.
    pub sorted: bool,
    /// Things the user should know, in words.
    pub notices: Vec<String>,
}

/// How many skipped rows' errors an [`ImportReport`] keeps.
pub const MAX_SKIPPED_EXAMPLES: usize = 5;

/// A trace that could not be read: the 1-based line, the column when known, and the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (CSV field, or character in a JSON line), when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for TraceError {}

/// A trace and what its import found.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// The requests, sorted by arrival, times relative to the first.
    pub trace: Trace,
    /// What was detected and skipped.
    pub report: ImportReport,
}

/// Reads a trace from chunks of bytes. See the [module docs](self).
///
/// # Example
///
/// ```
/// use servesim_core::workload::{ImportOptions, Importer, TraceFormat};
///
/// let mut importer = Importer::new(ImportOptions { skip_bad_rows: true, ..ImportOptions::default() });
/// importer.push(b"TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,48").unwrap();
/// importer.push(b"08,10\r\n2023-11-16 18:17:04.0319600,x,8\r\n2023-11-16 18:17:05.0000000,100,3").unwrap();
/// let imported = importer.finish().unwrap();
/// assert_eq!(imported.report.format, TraceFormat::AzureLlm2023);
/// assert_eq!(imported.trace.prompt_tokens, vec![4808, 100]);
/// assert_eq!(imported.report.rows_skipped, 1);
/// assert_eq!(imported.report.skipped_examples, ["line 3, column 2: ContextTokens: \"x\" is not a whole number"]);
/// ```
pub struct Importer {
    options: ImportOptions,
    input: Input,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// Lines seen so far.
    line: usize,
    state: State,
    rows_read: u64,
    rows_skipped: u64,
    skipped_examples: Vec<String>,
    failed_requests_left_out: u64,
    /// The first line whose arrival is earlier than the one before it.
    first_out_of_order_line: Option<usize>,
}

enum Input {
    /// Fewer than two bytes seen: gzip or not is not known yet.
    Undecided(Vec<u8>),
    Plain,
    Gzip(Box<flate2::write::MultiGzDecoder<Vec<u8>>>),
}

enum State {
    /// No non-blank line yet.
    Start,
    Reading {
        detected: Box<DetectedFormat>,
        builder: Box<Builder>,
    },
}

struct DetectedFormat {
    format: TraceFormat,
    reader: RowReader,
    columns: Vec<ColumnUse>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl Importer {
    /// An importer with nothing read yet.
    pub fn new(options: ImportOptions) -> Importer {
        Importer {
            options,
            input: Input::Undecided(Vec::new()),
            partial: Vec::new(),
            line: 0,
            state: State::Start,
            rows_read: 0,
            rows_skipped: 0,
            skipped_examples: Vec::new(),
            failed_requests_left_out: 0,
            first_out_of_order_line: None,
        }
    }

    /// Reads the next chunk of the file (any size; lines may span chunks).
    ///
    /// # Errors
    ///
    /// Returns the first bad line (unless bad rows are skipped), or a gzip stream that is not
    /// valid. The importer should not be used after an error.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), TraceError> {
        match &mut self.input {
            Input::Undecided(head) => {
                head.extend_from_slice(chunk);
                if head.len() < 2 {
                    return Ok(());
                }
                let head = std::mem::take(head);
                if head[..2] == GZIP_MAGIC {
                    self.input = Input::Gzip(Box::new(flate2::write::MultiGzDecoder::new(Vec::new())));
                } else {
                    self.input = Input::Plain;
                }
                self.push(&head)
            }
            Input::Plain => self.feed(chunk),
            Input::Gzip(decoder) => {
                decoder.write_all(chunk).map_err(|error| self.gzip_error(&error))?;
                self.drain_gzip()
            }
        }
    }

    fn gzip_error(&self, error: &std::io::Error) -> TraceError {
        TraceError { line: self.line + 1, column: None, message: format!("the gzip stream is corrupt: {error}") }
    }

    fn drain_gzip(&mut self) -> Result<(), TraceError> {
        let Input::Gzip(decoder) = &mut self.input else { return Ok(()) };
        let inflated = std::mem::take(decoder.get_mut());
        self.feed(&inflated)?;
        // Give the buffer back so its allocation is reused.
        if let Input::Gzip(decoder) = &mut self.input {
            let mut buffer = inflated;
            buffer.clear();
            *decoder.get_mut() = buffer;
        }
        Ok(())
    }

    /// Splits decoded bytes into lines.
    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), TraceError> {
        while let Some(end) = memchr::memchr(b'\n', bytes) {
            if self.partial.is_empty() {
                self.on_line(&bytes[..end])?;
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&bytes[..end]);
                self.on_line(&line)?;
                line.clear();
                self.partial = line;
            }
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
        Ok(())
    }

    fn on_line(&mut self, bytes: &[u8]) -> Result<(), TraceError> {
        self.line += 1;
        let mut bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if self.line == 1 {
            bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                // A data row (after the first record) that is read, then skipped or refused.
                if matches!(self.state, State::Reading { .. }) {
                    self.rows_read += 1;
                }
                let column = String::from_utf8_lossy(&bytes[..error.valid_up_to()]).chars().count() + 1;
                return self.bad_row(Some(column), "not UTF-8 text".to_owned());
            }
        };
        if text.trim().is_empty() {
            return Ok(());
        }
        if let State::Start = self.state {
            let Detected { format, reader, columns, first_is_data } = rows::detect(text, self.options.columns.as_ref())
                .map_err(|(column, message)| TraceError { line: self.line, column, message })?;
            let builder = Builder::new(format, &columns);
            self.state = State::Reading {
                detected: Box::new(DetectedFormat { format, reader, columns }),
                builder: Box::new(builder),
            };
            if !first_is_data {
                return Ok(());
            }
        }
        let State::Reading { detected, builder } = &mut self.state else { unreachable!("set above") };
        self.rows_read += 1;
        if detected.format == TraceFormat::AzureLlm2023 && self.rows_read == 1 && has_zone_suffix(text) {
            detected.format = TraceFormat::AzureLlm2024;
            builder.trace.format = TraceFormat::AzureLlm2024;
        }
        match detected.reader.read(text, builder) {
            Ok(Outcome::Request) => {
                let times = &builder.trace.arrived_at;
                if self.first_out_of_order_line.is_none()
                    && times.len() >= 2
                    && times[times.len() - 1] < times[times.len() - 2]
                {
                    self.first_out_of_order_line = Some(self.line);
                }
                Ok(())
            }
            Ok(Outcome::FailedRequest) => {
                self.failed_requests_left_out += 1;
                Ok(())
            }
            Err((column, message)) => self.bad_row(column, message),
        }
    }

    /// A malformed row: an error, or counted and skipped.
    fn bad_row(&mut self, column: Option<usize>, message: String) -> Result<(), TraceError> {
        let error = TraceError { line: self.line, column, message };
        if !self.options.skip_bad_rows || matches!(self.state, State::Start) {
            return Err(error);
        }
        self.rows_skipped += 1;
        if self.skipped_examples.len() < MAX_SKIPPED_EXAMPLES {
            self.skipped_examples.push(error.to_string());
        }
        Ok(())
    }

    /// Reads the last line, sorts the rows by arrival and makes times relative to the first.
    ///
    /// # Errors
    ///
    /// Returns an error for an empty file, a file with no requests, a truncated gzip stream,
    /// or a bad last line.
    pub fn finish(mut self) -> Result<Imported, TraceError> {
        let gzip = matches!(self.input, Input::Gzip(_));
        match std::mem::replace(&mut self.input, Input::Plain) {
            Input::Undecided(head) => self.feed(&head)?,
            Input::Plain => {}
            Input::Gzip(mut decoder) => {
                decoder.try_finish().map_err(|error| self.gzip_error(&error))?;
                let inflated = std::mem::take(decoder.get_mut());
                self.feed(&inflated)?;
            }
        }
        if !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.on_line(&last)?;
        }
        let line = self.line.max(1);
        let State::Reading { detected, builder } = self.state else {
            return Err(TraceError { line: 1, column: None, message: "the file is empty".to_owned() });
        };
        let Builder { mut trace, .. } = *builder;
        let mut columns = detected.columns;
        if !trace.sessions.is_empty() && !columns.iter().any(|column| column.role == "session") {
            columns.push(ColumnUse { role: "session".to_owned(), source: "session_id".to_owned(), unit: None });
        }
        trace.shrink_to_fit();
        if trace.num_requests() == 0 {
            let message = match self.skipped_examples.first() {
                Some(first) => format!("every row was skipped ({} bad rows; the first: {first})", self.rows_skipped),
                None => "the file has no requests".to_owned(),
            };
            return Err(TraceError { line, column: None, message });
        }
        let first = trace.arrived_at.iter().copied().min().unwrap_or(SimTime::ZERO);
        for at in &mut trace.arrived_at {
            *at = SimTime::from_nanos(at.as_nanos() - first.as_nanos());
        }
        let mut notices = Vec::new();
        if let Some(line) = self.first_out_of_order_line {
            let mut order: Vec<usize> = (0..trace.num_requests()).collect();
            order.sort_by_key(|&row| trace.arrived_at[row]);
            trace = trace.select(order);
            notices.push(format!(
                "the rows are not in time order (line {line} arrives before the line above it); they were sorted by \
                 arrival"
            ));
        }
        if !trace.has_arrivals {
            notices.push(
                "the file has no arrival times: pick an arrival process for its requests (workload.arrivals)"
                    .to_owned(),
            );
        }
        if self.failed_requests_left_out > 0 {
            notices
                .push(format!("{} failed requests (no response tokens) were left out", self.failed_requests_left_out));
        }
        if self.rows_skipped > 0 {
            notices.push(format!("{} malformed rows were skipped", self.rows_skipped));
        }
        let report = ImportReport {
            format: detected.format,
            gzip,
            columns,
            rows_read: self.rows_read,
            num_requests: trace.num_requests() as u64,
            rows_skipped: self.rows_skipped,
            skipped_examples: self.skipped_examples,
            failed_requests_left_out: self.failed_requests_left_out,
            sorted: self.first_out_of_order_line.is_some(),
            notices,
        };
        Ok(Imported { trace, report })
    }
}

/// Whether an Azure row's timestamp carries a zone (`…+00:00`), as the 2024 trace's do.
fn has_zone_suffix(row: &str) -> bool {
    let timestamp = row.split(',').next().unwrap_or_default().trim();
    timestamp.get(19..).is_some_and(|zone| zone.contains(['+', '-', 'Z']))
}

/// How many bytes [`import_bytes`] hands the importer at a time (and so how often it reports
/// progress).
const CHUNK_BYTES: usize = 256 * 1024;

/// Imports a whole file held in memory, calling `on_progress` with the bytes consumed every
/// chunk and once at the end.
///
/// # Errors
///
/// As [`Importer::push`] and [`Importer::finish`].
pub fn import_bytes(
    bytes: &[u8],
    options: ImportOptions,
    on_progress: &mut dyn FnMut(usize),
) -> Result<Imported, TraceError> {
    let mut importer = Importer::new(options);
    let mut done = 0;
    for chunk in bytes.chunks(CHUNK_BYTES) {
        importer.push(chunk)?;
        done += chunk.len();
        on_progress(done);
    }
    let imported = importer.finish()?;
    on_progress(bytes.len());
    Ok(imported)
}

/// Parses a whole trace with default options (detect the format, stop at the first bad row):
/// [`import_bytes`] without the report.
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
/// assert_eq!(error.to_string(), "line 2, column 2: num_prefill_tokens: \"x\" is not a whole number");
/// ```
pub fn parse_trace(text: &str, on_progress: &mut dyn FnMut(usize)) -> Result<Trace, TraceError> {
    import_bytes(text.as_bytes(), ImportOptions::default(), on_progress).map(|imported| imported.trace)
}

#[cfg(test)]
mod tests;
