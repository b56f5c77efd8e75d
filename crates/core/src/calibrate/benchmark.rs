//! Serving-benchmark results, read into [`BenchmarkRow`]s: one measured run each, with its
//! request shape, its load and the latencies and throughput it measured.
//!
//! [`parse_benchmark`] detects the format from the content:
//!
//! - **A JSON array** of result objects: several runs.
//! - **JSON lines**, one result object per line (the first non-blank line is a whole object):
//!   SGLang's `python -m sglang.bench_serving --output-file` appends one line per run, and
//!   vLLM's `vllm bench serve --save-result` writes one object on one line
//!   (`--append-result` adds a line per run).
//! - **One pretty-printed JSON object**: a single run.
//! - Anything else is read as **CSV** with a header row (below).
//!
//! # Result objects (vLLM and SGLang)
//!
//! Both tools name the keys servesim reads alike:
//!
//! | key | use |
//! | --- | --- |
//! | `completed` | successful requests; must be ≥ 1 |
//! | `total_input_tokens`, `total_output_tokens` | divided by `completed` and rounded: the ISL and OSL |
//! | `request_rate` | req/s; `"inf"` (vLLM) or `Infinity` (SGLang) when unlimited |
//! | `max_concurrency` | the client's concurrency limit; `null` when unset |
//! | `median_ttft_ms`, else `mean_ttft_ms` | time to first token |
//! | `median_tpot_ms`, else `mean_tpot_ms` | time per output token after the first |
//! | `output_throughput` | output tokens per second |
//! | `num_prompts` (vLLM only; else `completed`) | requests in the run |
//! | `dataset_name`, `random_range_ratio`, `random_{input,output}_len` (SGLang) | exact lengths, see below |
//! | `ramp_up_strategy` (vLLM) | a ramp-up run is refused: no single load describes it |
//!
//! Other keys (`duration`, `p99_ttft_ms`, `mean_itl_ms`, `input_lens`, …) are ignored;
//! `burstiness` too, so a finite rate stands for the simulator's Poisson arrivals.
//!
//! - **Medians over means.** A run's mean TTFT is pulled up by its tail (the requests queued
//!   behind a long prefill, the first requests of a cold server), which a step-time model is
//!   not meant to fit; the median is robust to it, and both tools write it next to the mean
//!   (the mean is the fallback for files that lack it).
//! - **Lengths.** SGLang writes `random_input_len` and `random_output_len` on every run, even
//!   a ShareGPT one (they default to 1024), and with `random_range_ratio` below 1 they are
//!   only the upper end of the sampled lengths. They are used only when exact: a `random*`
//!   dataset with `random_range_ratio` 1. Otherwise the measured averages are.
//! - **Load.** A concurrency limit with an unlimited rate is [`Load::Concurrency`], a finite
//!   rate without a limit is [`Load::Rate`], neither is [`Load::Offline`] (every request sent
//!   at t = 0). A run with both a finite rate and a limit is refused: the simulator replays
//!   one of the two.
//! - **TPOT of one-token outputs.** With an OSL of 1 no token follows the first, so TPOT is
//!   undefined; the tools then write 0 (vLLM) or NaN (SGLang). It is ignored for such rows,
//!   so prefill-only runs still give their TTFT.
//!
//! Sources read for the key names and their values:
//!
//! - vLLM `vllm/benchmarks/serve.py` (vllm-project/vllm, commit `009e6d4a`): the `result`
//!   dict of `benchmark()`, with `mean_`/`median_`/`std_`/`p99_` + `{ttft,tpot,itl}_ms` added
//!   by its `process_one_metric`, merged in `main()` with `num_prompts`, `request_rate`
//!   (`"inf"` when unlimited), `burstiness`, `max_concurrency` (`None` when unset) and the
//!   `ramp_up_*` keys; `input_lens` and `output_lens` are kept only with `--save-detailed`.
//! - SGLang `python/sglang/bench_serving.py` (sgl-project/sglang, commit `0033168f`): the
//!   `result` dict at the end of `benchmark()` (`backend`, `dataset_name`, `request_rate` as
//!   a float, `max_concurrency`, `random_input_len`, `random_output_len`,
//!   `random_range_ratio`, `completed`, `total_input_tokens`, `total_output_tokens`,
//!   `output_throughput`, the TTFT/TPOT/ITL statistics; no `num_prompts`), appended with
//!   `json.dumps`, which writes the default unlimited rate as the non-standard `Infinity`.
//!   Bare `NaN`, `Infinity` and `-Infinity` are therefore accepted in every JSON input.
//!
//! # CSV
//!
//! A header row names the columns, case-insensitively, with spaces or hyphens read as `_`;
//! other columns are ignored. Fields are separated by commas (or by semicolons or tabs when
//! the header has no comma), may be quoted, and blank lines and lines starting with `#` are
//! skipped.
//!
//! | column | aliases | cell |
//! | --- | --- | --- |
//! | `isl` | `input_len`, `input_length`, `input_tokens`, `prompt_len`, `prompt_tokens` | required |
//! | `osl` | `output_len`, `output_length`, `output_tokens` | required |
//! | `concurrency` | `max_concurrency` | this or `rate` |
//! | `rate` | `request_rate`, `qps`, `rps` | req/s, `inf` for unlimited |
//! | `ttft_ms` | `ttft`, `median_ttft_ms` | optional |
//! | `tpot_ms` | `tpot`, `median_tpot_ms` | optional |
//! | `throughput` | `output_throughput`, `output_tokens_per_s` | optional, output tokens/s |
//! | `num_prompts` | `num_requests`, `requests` | optional |
//!
//! The header needs `isl`, `osl`, one of `concurrency` and `rate`, and a metric column; each
//! row needs at least one metric cell. Loads follow the JSON rules (`rate` `inf` with an empty
//! `concurrency` is [`Load::Offline`]).
//!
//! Every error names its 1-based line where there is one (JSON lines, CSV, JSON syntax), or
//! the run (`run 2` of a JSON array) and the key or column.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How the benchmark client loaded the server.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Load {
    /// A closed loop: this many requests in flight, a new one sent when one finishes.
    Concurrency(u32),
    /// An open loop: requests arriving at this many per second.
    Rate(f64),
    /// Every request sent at t = 0 (an unlimited rate and no concurrency limit).
    Offline,
}

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Load::Concurrency(requests) => write!(f, "concurrency {requests}"),
            Load::Rate(per_second) => write!(f, "rate {per_second} req/s"),
            Load::Offline => f.write_str("offline"),
        }
    }
}

/// One measured benchmark run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkRow {
    /// The run's load, prefixed with its place in the file when the file holds several runs:
    /// `concurrency 64`, `line 3: rate 4 req/s`, `run 2: offline`.
    pub label: String,
    /// Input (prompt) tokens per request.
    pub isl: u32,
    /// Output tokens per request.
    pub osl: u32,
    /// How the server was loaded.
    pub load: Load,
    /// Time to first token, ms (the median where the file has one).
    pub ttft_ms: Option<f64>,
    /// Time per output token after the first, ms (the median where the file has one); `None`
    /// when the OSL is 1.
    pub tpot_ms: Option<f64>,
    /// Output tokens per second over the run.
    pub output_throughput: Option<f64>,
    /// Requests in the run.
    pub num_prompts: Option<u32>,
}

/// Why a benchmark or step-profile file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchmarkError {
    /// The 1-based line the error is on, when it is on one.
    pub line: Option<usize>,
    /// What is wrong, naming the key, column or run.
    pub message: String,
}

impl BenchmarkError {
    /// An error on the 1-based `line`.
    pub(super) fn at_line(line: usize, message: impl Into<String>) -> BenchmarkError {
        BenchmarkError { line: Some(line), message: message.into() }
    }

    /// An error about the whole file.
    pub(super) fn in_file(message: impl Into<String>) -> BenchmarkError {
        BenchmarkError { line: None, message: message.into() }
    }
}

impl fmt::Display for BenchmarkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for BenchmarkError {}

/// The runs in a benchmark result file, its format detected from the content: vLLM
/// `vllm bench serve --save-result` JSON (one object, one per line with `--append-result`, or
/// a JSON array of them), SGLang `sglang.bench_serving --output-file` JSON lines, or a CSV
/// with a header row (`isl`, `osl`, `concurrency` or `rate`, and any of `ttft_ms`, `tpot_ms`,
/// `throughput`; common aliases accepted). TTFT and TPOT are a JSON result's medians where it
/// has them, else its means; TPOT is left out when the OSL is 1.
///
/// # Errors
///
/// Returns the first problem, with its line where it has one: text that is not UTF-8, not
/// valid JSON, a missing key or column, a value that is not a finite number > 0 (or not a
/// whole one where a count is expected), a row without any metric, or a file without rows.
///
/// # Example
///
/// ```
/// use servesim_core::calibrate::{parse_benchmark, Load};
///
/// let csv = "isl,osl,concurrency,ttft_ms,tpot_ms\n1024,128,16,85.2,11.4\n1024,128,64,240.0,\n";
/// let rows = parse_benchmark(csv.as_bytes()).unwrap();
/// assert_eq!(rows.len(), 2);
/// assert_eq!(rows[1].load, Load::Concurrency(64));
/// assert_eq!(rows[1].label, "line 3: concurrency 64");
/// assert_eq!((rows[1].ttft_ms, rows[1].tpot_ms), (Some(240.0), None));
///
/// let error = parse_benchmark(b"isl,osl,rate,ttft_ms\n512,64,-2,50\n").unwrap_err();
/// assert_eq!(error.to_string(), "line 2: `rate` must be > 0 (or inf), got -2");
/// ```
pub fn parse_benchmark(bytes: &[u8]) -> Result<Vec<BenchmarkRow>, BenchmarkError> {
    let text = utf8_text(bytes)?;
    let rows = match text.trim_start().chars().next() {
        None => return Err(BenchmarkError::in_file("the file is empty")),
        Some('[') => parse_json_array(text)?,
        Some('{') if first_line_is_json_object(text) => parse_json_lines(text)?,
        Some('{') => vec![(String::new(), parse_json_document(text).and_then(|value| row_from_json(&value))?)],
        Some(_) => parse_csv(text)?,
    };
    if rows.is_empty() {
        return Err(BenchmarkError::in_file("the file holds no benchmark run"));
    }
    Ok(label_rows(rows))
}

/// A run's place in its file (`line 3`, `run 2`, or empty for a lone object) and the run.
type PlacedRow = (String, BenchmarkRow);

/// Prefixes each label with the run's place when the file holds several runs.
fn label_rows(rows: Vec<PlacedRow>) -> Vec<BenchmarkRow> {
    let several = rows.len() > 1;
    rows.into_iter()
        .map(|(place, mut row)| {
            if several {
                row.label = format!("{place}: {}", row.label);
            }
            row
        })
        .collect()
}

/// `bytes` as text without a byte-order mark.
///
/// # Errors
///
/// Names the line of the first byte that is not UTF-8.
fn utf8_text(bytes: &[u8]) -> Result<&str, BenchmarkError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.strip_prefix('\u{feff}').unwrap_or(text)),
        Err(error) => {
            let line = 1 + bytes[..error.valid_up_to()].iter().filter(|&&byte| byte == b'\n').count();
            Err(BenchmarkError::at_line(line, "the file is not UTF-8 text (JSON, JSON lines or CSV expected)"))
        }
    }
}

// JSON

/// Whether the first non-blank line is a complete JSON object (so the file is JSON lines).
fn first_line_is_json_object(text: &str) -> bool {
    let first = text.lines().find(|line| !line.trim().is_empty()).unwrap_or_default();
    matches!(parse_json(first), Ok(Value::Object(_)))
}

/// Parses JSON text, accepting Python's bare `NaN`, `Infinity` and `-Infinity`.
fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(&quote_python_constants(text))
}

/// `json` with Python's non-standard constants outside strings turned into strings
/// (`Infinity` → `"Infinity"`), which [`number`] reads back as numbers.
fn quote_python_constants(json: &str) -> Cow<'_, str> {
    if !json.contains("NaN") && !json.contains("Infinity") {
        return Cow::Borrowed(json);
    }
    let mut quoted = String::with_capacity(json.len() + 8);
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = json;
    while let Some(c) = rest.chars().next() {
        if !in_string {
            if let Some(constant) = ["-Infinity", "Infinity", "NaN"].into_iter().find(|name| rest.starts_with(name)) {
                quoted.push('"');
                quoted.push_str(constant);
                quoted.push('"');
                rest = &rest[constant.len()..];
                continue;
            }
        }
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else {
            in_string = c == '"';
        }
        quoted.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(quoted)
}

/// A serde_json syntax error, on its line.
fn json_syntax_error(error: &serde_json::Error, line: usize) -> BenchmarkError {
    let full = error.to_string();
    let detail = full.split(" at line ").next().unwrap_or(&full);
    BenchmarkError::at_line(line, format!("not valid JSON: {detail} (column {})", error.column()))
}

/// The whole text as one JSON value.
fn parse_json_document(text: &str) -> Result<Value, BenchmarkError> {
    parse_json(text).map_err(|error| json_syntax_error(&error, error.line()))
}

/// A JSON array of result objects, placed as `run 1`, `run 2`, ….
fn parse_json_array(text: &str) -> Result<Vec<PlacedRow>, BenchmarkError> {
    let Value::Array(runs) = parse_json_document(text)? else {
        return Err(BenchmarkError::in_file("expected a JSON array of benchmark results"));
    };
    runs.iter()
        .enumerate()
        .map(|(index, run)| {
            let place = format!("run {}", index + 1);
            match row_from_json(run) {
                Ok(row) => Ok((place, row)),
                Err(error) => Err(BenchmarkError::in_file(format!("{place}: {}", error.message))),
            }
        })
        .collect()
}

/// One result object per non-blank line, placed as `line N`.
fn parse_json_lines(text: &str) -> Result<Vec<PlacedRow>, BenchmarkError> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value = parse_json(line).map_err(|error| json_syntax_error(&error, number))?;
        let row = row_from_json(&value).map_err(|error| BenchmarkError::at_line(number, error.message))?;
        rows.push((format!("line {number}"), row));
    }
    Ok(rows)
}

/// One result object as a row.
///
/// # Errors
///
/// A message without a line (the caller places it).
fn row_from_json(value: &Value) -> Result<BenchmarkRow, BenchmarkError> {
    let Value::Object(result) = value else {
        return Err(BenchmarkError::in_file("expected a JSON object (a vLLM or SGLang benchmark result)"));
    };
    json_result_row(result).map_err(BenchmarkError::in_file)
}

/// The row a vLLM or SGLang result object describes.
fn json_result_row(result: &Map<String, Value>) -> Result<BenchmarkRow, String> {
    let completed = whole_count(required_number(result, "completed")?, "completed")?;
    let (isl, osl) = match exact_random_lengths(result)? {
        Some(lengths) => lengths,
        None => (
            mean_length(required_number(result, "total_input_tokens")?, completed, "total_input_tokens")?,
            mean_length(required_number(result, "total_output_tokens")?, completed, "total_output_tokens")?,
        ),
    };
    let load = json_load(result)?;
    let metrics = Metrics {
        ttft_ms: first_metric(result, &["median_ttft_ms", "mean_ttft_ms"])?,
        tpot_ms: if osl > 1 { first_metric(result, &["median_tpot_ms", "mean_tpot_ms"])? } else { None },
        output_throughput: first_metric(result, &["output_throughput"])?,
    };
    let num_prompts = match optional_number(result, "num_prompts")? {
        Some(prompts) => whole_count(prompts, "num_prompts")?,
        None => completed,
    };
    build_row(isl, osl, load, metrics, Some(num_prompts)).ok_or_else(|| {
        "no metric: none of median_ttft_ms, mean_ttft_ms, median_tpot_ms, mean_tpot_ms or output_throughput".to_owned()
    })
}

/// SGLang's configured lengths, when every request had exactly them: a `random*` dataset with
/// `random_range_ratio` 1.
fn exact_random_lengths(result: &Map<String, Value>) -> Result<Option<(u32, u32)>, String> {
    let random_dataset =
        result.get("dataset_name").and_then(Value::as_str).is_some_and(|name| name.starts_with("random"));
    if !random_dataset || optional_number(result, "random_range_ratio")? != Some(1.0) {
        return Ok(None);
    }
    match (optional_number(result, "random_input_len")?, optional_number(result, "random_output_len")?) {
        (Some(input), Some(output)) => {
            Ok(Some((whole_count(input, "random_input_len")?, whole_count(output, "random_output_len")?)))
        }
        _ => Ok(None),
    }
}

/// `total` tokens over `completed` requests, rounded to a whole length of at least 1.
fn mean_length(total: f64, completed: u32, key: &str) -> Result<u32, String> {
    let mean = positive_value(total, key)? / f64::from(completed);
    let rounded = mean.round();
    if rounded < 1.0 || rounded > f64::from(u32::MAX) {
        let mean = shown(mean);
        return Err(format!("`{key}` / `completed` = {mean} tokens per request, not a length from 1 to {}", u32::MAX));
    }
    Ok(rounded as u32)
}

/// The load of a result object, from `request_rate`, `max_concurrency` and
/// `ramp_up_strategy`.
fn json_load(result: &Map<String, Value>) -> Result<Load, String> {
    if result.get("ramp_up_strategy").is_some_and(|strategy| !strategy.is_null()) {
        return Err("`ramp_up_strategy` is set: a ramped request rate is not one load".to_owned());
    }
    let rate = request_rate(required_number(result, "request_rate")?, "request_rate")?;
    let concurrency =
        optional_number(result, "max_concurrency")?.map(|limit| whole_count(limit, "max_concurrency")).transpose()?;
    load_from(Some(rate), concurrency)
}

/// The value of the first of `keys` that is present and not null, checked as a metric.
fn first_metric(result: &Map<String, Value>, keys: &[&str]) -> Result<Option<f64>, String> {
    for key in keys {
        if let Some(value) = optional_number(result, key)? {
            return positive_value(value, key).map(Some);
        }
    }
    Ok(None)
}

/// The number at `key`.
///
/// # Errors
///
/// The key is missing, null, or not a number.
fn required_number(result: &Map<String, Value>, key: &str) -> Result<f64, String> {
    optional_number(result, key)?.ok_or_else(|| format!("missing key `{key}`"))
}

/// The number at `key`, `None` when the key is missing or null.
///
/// # Errors
///
/// The value is not a number.
fn optional_number(result: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    match result.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => number(value).map(Some).ok_or_else(|| format!("`{key}` is not a number: {value}")),
    }
}

/// A JSON number, or a string holding one (`"inf"`, `"Infinity"`, `"NaN"`, `"4.5"`).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

// Values shared by the formats

/// A row's metrics, before the check that there is one.
struct Metrics {
    ttft_ms: Option<f64>,
    tpot_ms: Option<f64>,
    output_throughput: Option<f64>,
}

/// The row, labelled with its load; `None` when `metrics` holds no metric.
fn build_row(isl: u32, osl: u32, load: Load, metrics: Metrics, num_prompts: Option<u32>) -> Option<BenchmarkRow> {
    let Metrics { ttft_ms, tpot_ms, output_throughput } = metrics;
    let any_metric = ttft_ms.is_some() || tpot_ms.is_some() || output_throughput.is_some();
    any_metric.then(|| BenchmarkRow {
        label: load.to_string(),
        isl,
        osl,
        load,
        ttft_ms,
        tpot_ms,
        output_throughput,
        num_prompts,
    })
}

/// The load from a request rate (`inf` for unlimited) and a concurrency limit.
///
/// # Errors
///
/// Neither is given, or both a finite rate and a limit are.
fn load_from(rate: Option<f64>, concurrency: Option<u32>) -> Result<Load, String> {
    match (rate, concurrency) {
        (Some(rate), Some(limit)) if rate.is_finite() => Err(format!(
            "both a request rate ({rate} req/s) and a concurrency limit ({limit}): servesim replays one of \
             them, so give a rate with no limit or a limit with an unlimited (inf) rate"
        )),
        (_, Some(limit)) => Ok(Load::Concurrency(limit)),
        (Some(rate), None) if rate.is_finite() => Ok(Load::Rate(rate)),
        (Some(_), None) => Ok(Load::Offline),
        (None, None) => Err("needs a concurrency or a request rate".to_owned()),
    }
}

/// `value` as a metric: finite and > 0.
pub(super) fn positive_value(value: f64, name: &str) -> Result<f64, String> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(format!("`{name}` must be a finite number > 0, got {}", shown(value)))
    }
}

/// `value` as a request rate: > 0, `inf` allowed.
fn request_rate(value: f64, name: &str) -> Result<f64, String> {
    if value > 0.0 {
        Ok(value)
    } else {
        Err(format!("`{name}` must be > 0 (or inf), got {}", shown(value)))
    }
}

/// `value` as a count: a whole number from 1 to `u32::MAX`.
pub(super) fn whole_count(value: f64, name: &str) -> Result<u32, String> {
    if (1.0..=f64::from(u32::MAX)).contains(&value) && value.fract() == 0.0 {
        Ok(value as u32)
    } else {
        Err(format!("`{name}` must be a whole number from 1 to {}, got {}", u32::MAX, shown(value)))
    }
}

/// `value` for a message: plain, or in scientific notation when huge (`1e300`, not 301 digits).
pub(super) fn shown(value: f64) -> String {
    if value.abs() < 1e15 || !value.is_finite() {
        value.to_string()
    } else {
        format!("{value:e}")
    }
}

// CSV

/// A CSV column servesim reads: its name and the header names accepted for it.
pub(super) struct Column {
    /// The name used in messages (also accepted in headers).
    pub(super) name: &'static str,
    /// Other accepted header names, normalised (lowercase, `_` for spaces and hyphens).
    pub(super) aliases: &'static [&'static str],
}

impl Column {
    /// Whether the normalised header name `header` names this column.
    fn matches(&self, header: &str) -> bool {
        self.name == header || self.aliases.contains(&header)
    }
}

/// A CSV file's header: the field separator and, for each of `N` wanted columns, its field.
pub(super) struct CsvHeader<const N: usize> {
    /// The 1-based line of the header.
    pub(super) line: usize,
    /// The field separator.
    separator: char,
    /// For each wanted column, in order, the index of its field.
    pub(super) indices: [Option<usize>; N],
}

impl<const N: usize> CsvHeader<N> {
    /// Finds `columns` in the header `line` (1-based `number`).
    ///
    /// # Errors
    ///
    /// Two header fields name the same column, or the header has an unclosed quote.
    pub(super) fn parse(line: &str, number: usize, columns: &[Column; N]) -> Result<CsvHeader<N>, BenchmarkError> {
        let separator = [',', ';', '\t'].into_iter().find(|&separator| line.contains(separator)).unwrap_or(',');
        let names: Vec<String> = split_fields(line, separator)
            .map_err(|message| BenchmarkError::at_line(number, message))?
            .iter()
            .map(|name| name.to_lowercase().replace([' ', '-'], "_"))
            .collect();
        let mut indices = [None; N];
        for (slot, column) in indices.iter_mut().zip(columns) {
            let mut found = names.iter().enumerate().filter(|(_, name)| column.matches(name));
            let first = found.next();
            if let (Some((_, first_name)), Some((_, second_name))) = (first, found.next()) {
                let message =
                    format!("the header has two `{}` columns: `{first_name}` and `{second_name}`", column.name);
                return Err(BenchmarkError::at_line(number, message));
            }
            *slot = first.map(|(index, _)| index);
        }
        Ok(CsvHeader { line: number, separator, indices })
    }

    /// The fields of the record `line`.
    ///
    /// # Errors
    ///
    /// An unclosed quote.
    pub(super) fn fields(&self, line: &str) -> Result<Vec<String>, String> {
        split_fields(line, self.separator)
    }
}

/// The 1-based numbers and text of a CSV file's lines that are neither blank nor `#` comments.
pub(super) fn csv_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(index, line)| (index + 1, line)).filter(|(_, line)| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#')
    })
}

/// The trimmed, unquoted fields of `line` (the trace importer's splitter).
///
/// # Errors
///
/// A quoted field is not closed or is followed by text.
fn split_fields(line: &str, separator: char) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    crate::workload::import::csv::split_fields(line, separator, &mut fields)
        .map_err(|(column, message)| format!("column {column}: {message}"))?;
    Ok(fields.into_iter().map(std::borrow::Cow::into_owned).collect())
}

/// The non-empty cell at `index` of `fields`, if the column exists and the cell is filled.
pub(super) fn cell(fields: &[String], index: Option<usize>) -> Option<&str> {
    index.and_then(|index| fields.get(index)).map(String::as_str).filter(|cell| !cell.is_empty())
}

/// The cell of `column` as a number; `None` when the column is absent or the cell empty.
///
/// # Errors
///
/// The cell is not a number.
pub(super) fn number_cell(fields: &[String], index: Option<usize>, column: &str) -> Result<Option<f64>, String> {
    cell(fields, index)
        .map(|text| text.parse::<f64>().map_err(|_| format!("`{column}` is not a number: {text:?}")))
        .transpose()
}

/// The benchmark CSV columns, in the order of [`CsvBenchmarkColumns`]' fields.
const BENCHMARK_COLUMNS: [Column; 8] = [
    Column { name: "isl", aliases: &["input_len", "input_length", "input_tokens", "prompt_len", "prompt_tokens"] },
    Column { name: "osl", aliases: &["output_len", "output_length", "output_tokens"] },
    Column { name: "concurrency", aliases: &["max_concurrency"] },
    Column { name: "rate", aliases: &["request_rate", "qps", "rps"] },
    Column { name: "ttft_ms", aliases: &["ttft", "median_ttft_ms"] },
    Column { name: "tpot_ms", aliases: &["tpot", "median_tpot_ms"] },
    Column { name: "throughput", aliases: &["output_throughput", "output_tokens_per_s"] },
    Column { name: "num_prompts", aliases: &["num_requests", "requests"] },
];

/// Where each benchmark column is in a CSV file's fields.
struct CsvBenchmarkColumns {
    isl: usize,
    osl: usize,
    concurrency: Option<usize>,
    rate: Option<usize>,
    ttft_ms: Option<usize>,
    tpot_ms: Option<usize>,
    throughput: Option<usize>,
    num_prompts: Option<usize>,
}

impl CsvBenchmarkColumns {
    /// The columns found in `header`.
    ///
    /// # Errors
    ///
    /// A required column is missing, on the header's line.
    fn find(header: &CsvHeader<8>) -> Result<CsvBenchmarkColumns, BenchmarkError> {
        let missing = |message: &str| BenchmarkError::at_line(header.line, message);
        let [isl, osl, concurrency, rate, ttft_ms, tpot_ms, throughput, num_prompts] = header.indices;
        let isl = isl.ok_or_else(|| missing("the header has no `isl` column (or `input_len`)"))?;
        let osl = osl.ok_or_else(|| missing("the header has no `osl` column (or `output_len`)"))?;
        if concurrency.is_none() && rate.is_none() {
            return Err(missing("the header has neither a `concurrency` nor a `rate` column"));
        }
        if ttft_ms.is_none() && tpot_ms.is_none() && throughput.is_none() {
            return Err(missing("the header has no metric column: `ttft_ms`, `tpot_ms` or `throughput`"));
        }
        Ok(CsvBenchmarkColumns { isl, osl, concurrency, rate, ttft_ms, tpot_ms, throughput, num_prompts })
    }

    /// The row a CSV record describes.
    fn row(&self, fields: &[String]) -> Result<BenchmarkRow, String> {
        let isl = required_count_cell(fields, self.isl, "isl")?;
        let osl = required_count_cell(fields, self.osl, "osl")?;
        let rate = number_cell(fields, self.rate, "rate")?.map(|value| request_rate(value, "rate")).transpose()?;
        let concurrency = optional_count_cell(fields, self.concurrency, "concurrency")?;
        let load = load_from(rate, concurrency)?;
        let metric = |index: Option<usize>, column: &'static str| {
            number_cell(fields, index, column)?.map(|value| positive_value(value, column)).transpose()
        };
        let metrics = Metrics {
            ttft_ms: metric(self.ttft_ms, "ttft_ms")?,
            tpot_ms: if osl > 1 { metric(self.tpot_ms, "tpot_ms")? } else { None },
            output_throughput: metric(self.throughput, "throughput")?,
        };
        let num_prompts = optional_count_cell(fields, self.num_prompts, "num_prompts")?;
        build_row(isl, osl, load, metrics, num_prompts)
            .ok_or_else(|| "no metric: the `ttft_ms`, `tpot_ms` and `throughput` cells are empty".to_owned())
    }
}

/// The count in the cell of `column`, which must be filled.
fn required_count_cell(fields: &[String], index: usize, column: &str) -> Result<u32, String> {
    optional_count_cell(fields, Some(index), column)?.ok_or_else(|| format!("`{column}` is empty"))
}

/// The count in the cell of `column`, `None` when absent or empty.
fn optional_count_cell(fields: &[String], index: Option<usize>, column: &str) -> Result<Option<u32>, String> {
    number_cell(fields, index, column)?.map(|value| whole_count(value, column)).transpose()
}

/// A benchmark CSV file, rows placed as `line N`.
fn parse_csv(text: &str) -> Result<Vec<PlacedRow>, BenchmarkError> {
    let mut lines = csv_lines(text);
    let Some((number, header_line)) = lines.next() else {
        return Err(BenchmarkError::in_file("the file has no header row"));
    };
    let header = CsvHeader::parse(header_line, number, &BENCHMARK_COLUMNS)?;
    let columns = CsvBenchmarkColumns::find(&header)?;
    lines
        .map(|(number, line)| {
            let row = header.fields(line).and_then(|fields| columns.row(&fields));
            row.map(|row| (format!("line {number}"), row)).map_err(|message| BenchmarkError::at_line(number, message))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A vLLM `vllm bench serve --save-result` file (without `--save-detailed`): a closed loop
    /// of 64 requests in flight, 1024 input and 128 output tokens.
    const VLLM_RESULT: &str = concat!(
        r#"{"date": "20250614-101530", "endpoint_type": "vllm", "backend": "vllm", "label": null, "#,
        r#""model_id": "meta-llama/Llama-3.1-8B-Instruct", "#,
        r#""tokenizer_id": "meta-llama/Llama-3.1-8B-Instruct", "num_prompts": 640, "#,
        r#""request_rate": "inf", "burstiness": 1.0, "max_concurrency": 64, "duration": 41.83, "#,
        r#""completed": 640, "failed": 0, "total_input_tokens": 655360, "total_output_tokens": 81920, "#,
        r#""request_throughput": 15.30, "request_goodput": null, "output_throughput": 1958.4, "#,
        r#""total_token_throughput": 17625.6, "max_output_tokens_per_s": 2432.0, "#,
        r#""max_concurrent_requests": 64, "rtfx": 0.0, "mean_ttft_ms": 412.7, "median_ttft_ms": 398.2, "#,
        r#""std_ttft_ms": 101.5, "p99_ttft_ms": 702.9, "mean_tpot_ms": 29.6, "median_tpot_ms": 29.1, "#,
        r#""std_tpot_ms": 2.2, "p99_tpot_ms": 34.8, "mean_itl_ms": 29.5, "median_itl_ms": 26.3, "#,
        r#""std_itl_ms": 14.1, "p99_itl_ms": 88.0}"#,
    );

    /// Two `sglang.bench_serving --output-file` lines: a random dataset with exact lengths at
    /// an unlimited rate, then a ShareGPT run at 4 req/s (lengths defaulted to 1024 and unused).
    const SGLANG_JSONL: &str = concat!(
        concat!(
            r#"{"backend": "sglang", "dataset_name": "random", "request_rate": Infinity, "#,
            r#""max_concurrency": null, "sharegpt_output_len": null, "random_input_len": 2048, "#,
            r#""random_output_len": 256, "random_range_ratio": 1.0, "duration": 95.1, "completed": 500, "#,
            r#""total_input_tokens": 1024117, "total_output_tokens": 128000, "#,
            r#""total_output_tokens_retokenized": 127921, "request_throughput": 5.26, "#,
            r#""input_throughput": 10769.9, "output_throughput": 1346.0, "mean_e2e_latency_ms": 51234.0, "#,
            r#""median_e2e_latency_ms": 50111.0, "std_e2e_latency_ms": 20012.0, "#,
            r#""p99_e2e_latency_ms": 90120.0, "mean_ttft_ms": 40123.0, "median_ttft_ms": 39876.5, "#,
            r#""std_ttft_ms": 21000.0, "p99_ttft_ms": 80011.0, "mean_tpot_ms": 43.2, "#,
            r#""median_tpot_ms": 42.7, "std_tpot_ms": 3.1, "p99_tpot_ms": 51.0, "mean_itl_ms": 43.0, "#,
            r#""median_itl_ms": 40.2, "std_itl_ms": 12.0, "p95_itl_ms": 60.1, "p99_itl_ms": 95.5, "#,
            r#""concurrency": 269.4, "accept_length": null}"#,
        ),
        "\n",
        concat!(
            r#"{"backend": "sglang", "dataset_name": "sharegpt", "request_rate": 4.0, "#,
            r#""max_concurrency": null, "sharegpt_output_len": null, "random_input_len": 1024, "#,
            r#""random_output_len": 1024, "random_range_ratio": 0.0, "duration": 251.0, "completed": 1000, "#,
            r#""total_input_tokens": 302118, "total_output_tokens": 195734, "#,
            r#""total_output_tokens_retokenized": 195402, "request_throughput": 3.98, "#,
            r#""input_throughput": 1203.7, "output_throughput": 779.8, "mean_e2e_latency_ms": 2411.0, "#,
            r#""median_e2e_latency_ms": 1701.0, "std_e2e_latency_ms": 2000.0, "#,
            r#""p99_e2e_latency_ms": 9100.0, "mean_ttft_ms": 35.1, "median_ttft_ms": 31.9, "#,
            r#""std_ttft_ms": 12.0, "p99_ttft_ms": 88.0, "mean_tpot_ms": 12.4, "median_tpot_ms": 12.1, "#,
            r#""std_tpot_ms": 1.5, "p99_tpot_ms": 17.9, "mean_itl_ms": 12.3, "median_itl_ms": 11.8, "#,
            r#""std_itl_ms": 4.0, "p95_itl_ms": 16.0, "p99_itl_ms": 30.2, "concurrency": 9.6, "#,
            r#""accept_length": null}"#,
        ),
        "\n",
    );

    fn parse_ok(text: &str) -> Vec<BenchmarkRow> {
        parse_benchmark(text.as_bytes()).unwrap_or_else(|error| panic!("{error}"))
    }

    fn parse_err(text: &str) -> (Option<usize>, String) {
        let error = parse_benchmark(text.as_bytes()).unwrap_err();
        (error.line, error.message)
    }

    /// [`VLLM_RESULT`] on one line with `overrides` replacing or adding keys (a `null`
    /// override removes the key).
    fn vllm_with(overrides: &[(&str, Value)]) -> String {
        let Ok(Value::Object(mut result)) = serde_json::from_str::<Value>(VLLM_RESULT) else { unreachable!() };
        for (key, value) in overrides {
            match value {
                Value::Null => result.remove(*key),
                value => result.insert((*key).to_owned(), value.clone()),
            };
        }
        Value::Object(result).to_string()
    }

    #[test]
    fn vllm_result_reads_medians_lengths_and_concurrency() {
        let rows = parse_ok(VLLM_RESULT);
        let expected = BenchmarkRow {
            label: "concurrency 64".to_owned(),
            isl: 1024,
            osl: 128,
            load: Load::Concurrency(64),
            ttft_ms: Some(398.2),
            tpot_ms: Some(29.1),
            output_throughput: Some(1958.4),
            num_prompts: Some(640),
        };
        assert_eq!(rows, [expected]);
    }

    #[test]
    fn vllm_pretty_printed_array_and_appended_lines() {
        let rate = vllm_with(&[("request_rate", Value::from(2.5)), ("max_concurrency", Value::Null)]);
        let offline = vllm_with(&[("max_concurrency", Value::Null)]);
        let pretty = |json: &str| serde_json::to_string_pretty(&serde_json::from_str::<Value>(json).unwrap()).unwrap();

        let array = format!("[\n{},\n{}\n]", pretty(&rate), pretty(&offline));
        let rows = parse_ok(&array);
        let labels: Vec<&str> = rows.iter().map(|row| row.label.as_str()).collect();
        assert_eq!(labels, ["run 1: rate 2.5 req/s", "run 2: offline"]);
        assert_eq!(rows[0].load, Load::Rate(2.5));
        assert_eq!(rows[1].load, Load::Offline);

        assert_eq!(parse_ok(&pretty(VLLM_RESULT)), parse_ok(VLLM_RESULT));

        let appended = format!("{VLLM_RESULT}\n{rate}\n");
        let labels: Vec<String> = parse_ok(&appended).into_iter().map(|row| row.label).collect();
        assert_eq!(labels, ["line 1: concurrency 64", "line 2: rate 2.5 req/s"]);
    }

    #[test]
    fn vllm_without_medians_falls_back_to_means_and_rounds_lengths() {
        let json = vllm_with(&[
            ("median_ttft_ms", Value::Null),
            ("median_tpot_ms", Value::Null),
            ("total_input_tokens", Value::from(655_000)),
            ("total_output_tokens", Value::from(82_300)),
        ]);
        let row = &parse_ok(&json)[0];
        assert_eq!((row.ttft_ms, row.tpot_ms), (Some(412.7), Some(29.6)));
        // 655000 / 640 = 1023.4 and 82300 / 640 = 128.6.
        assert_eq!((row.isl, row.osl), (1023, 129));
    }

    #[test]
    fn sglang_lines_read_infinity_and_exact_random_lengths_only() {
        let rows = parse_ok(SGLANG_JSONL);
        assert_eq!(rows.len(), 2);
        let random = &rows[0];
        assert_eq!(random.label, "line 1: offline");
        assert_eq!((random.isl, random.osl, random.load), (2048, 256, Load::Offline));
        assert_eq!(
            (random.ttft_ms, random.tpot_ms, random.output_throughput),
            (Some(39876.5), Some(42.7), Some(1346.0))
        );
        assert_eq!(random.num_prompts, Some(500));
        let sharegpt = &rows[1];
        assert_eq!(sharegpt.label, "line 2: rate 4 req/s");
        // 302118 / 1000 and 195734 / 1000, not the unused random_*_len of 1024.
        assert_eq!((sharegpt.isl, sharegpt.osl, sharegpt.load), (302, 196, Load::Rate(4.0)));
    }

    #[test]
    fn sampled_random_lengths_use_the_measured_averages() {
        let line = SGLANG_JSONL
            .lines()
            .next()
            .unwrap()
            .replace(r#""random_range_ratio": 1.0"#, r#""random_range_ratio": 0.5"#);
        let row = &parse_ok(&line)[0];
        // 1024117 / 500 = 2048.2 and 128000 / 500.
        assert_eq!((row.isl, row.osl), (2048, 256));
        let line = line.replace("1024117", "768000");
        assert_eq!(parse_ok(&line)[0].isl, 1536);
    }

    #[test]
    fn one_token_outputs_ignore_tpot() {
        let json = vllm_with(&[
            ("total_output_tokens", Value::from(640)),
            ("median_tpot_ms", Value::from(0.0)),
            ("mean_tpot_ms", Value::from(0.0)),
        ]);
        let row = &parse_ok(&json)[0];
        assert_eq!((row.osl, row.tpot_ms, row.ttft_ms), (1, None, Some(398.2)));
        let line =
            SGLANG_JSONL.lines().next().unwrap().replace(r#""random_output_len": 256"#, r#""random_output_len": 1"#);
        let line = line.replace(r#""median_tpot_ms": 42.7"#, r#""median_tpot_ms": NaN"#);
        assert_eq!(parse_ok(&line)[0].tpot_ms, None);
    }

    #[test]
    fn python_constants_inside_strings_are_left_alone() {
        assert_eq!(
            quote_python_constants(r#"{"a": "NaN \"Infinity\"", "b": -Infinity}"#),
            r#"{"a": "NaN \"Infinity\"", "b": "-Infinity"}"#
        );
        assert_eq!(quote_python_constants(r#"{"a": "\\", "b": NaN}"#), r#"{"a": "\\", "b": "NaN"}"#);
        assert!(matches!(quote_python_constants(r#"{"a": 1}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn json_result_errors_name_the_key_and_place() {
        let missing = vllm_with(&[("completed", Value::Null)]);
        assert_eq!(parse_err(&missing), (Some(1), "missing key `completed`".to_owned()));
        let zero = vllm_with(&[("completed", Value::from(0))]);
        assert_eq!(
            parse_err(&zero),
            (Some(1), format!("`completed` must be a whole number from 1 to {}, got 0", u32::MAX))
        );
        let nan = vllm_with(&[("median_ttft_ms", Value::from("NaN"))]);
        assert_eq!(parse_err(&nan), (Some(1), "`median_ttft_ms` must be a finite number > 0, got NaN".to_owned()));
        let negative = vllm_with(&[("output_throughput", Value::from(-5.0))]);
        assert_eq!(
            parse_err(&negative),
            (Some(1), "`output_throughput` must be a finite number > 0, got -5".to_owned())
        );
        let text = vllm_with(&[("request_rate", Value::from("fast"))]);
        assert_eq!(parse_err(&text), (Some(1), r#"`request_rate` is not a number: "fast""#.to_owned()));
        let zero_rate = vllm_with(&[("request_rate", Value::from(0))]);
        assert_eq!(parse_err(&zero_rate), (Some(1), "`request_rate` must be > 0 (or inf), got 0".to_owned()));
        let huge = vllm_with(&[("total_input_tokens", Value::from(1e300))]);
        let (line, message) = parse_err(&huge);
        assert_eq!(line, Some(1));
        assert!(message.starts_with("`total_input_tokens` / `completed` = "), "{message}");
        let both = vllm_with(&[("request_rate", Value::from(8))]);
        assert!(parse_err(&both).1.starts_with("both a request rate (8 req/s) and a concurrency limit (64)"));
        let ramp = vllm_with(&[("ramp_up_strategy", Value::from("linear"))]);
        assert_eq!(parse_err(&ramp).1, "`ramp_up_strategy` is set: a ramped request rate is not one load");
        let bare = vllm_with(&[
            ("median_ttft_ms", Value::Null),
            ("mean_ttft_ms", Value::Null),
            ("median_tpot_ms", Value::Null),
            ("mean_tpot_ms", Value::Null),
            ("output_throughput", Value::Null),
        ]);
        let expected =
            "no metric: none of median_ttft_ms, mean_ttft_ms, median_tpot_ms, mean_tpot_ms or output_throughput";
        assert_eq!(parse_err(&bare), (Some(1), expected.to_owned()));

        let array = format!("[{VLLM_RESULT}, {missing}]");
        assert_eq!(parse_err(&array), (None, "run 2: missing key `completed`".to_owned()));
        assert_eq!(
            parse_err("[1]"),
            (None, "run 1: expected a JSON object (a vLLM or SGLang benchmark result)".to_owned())
        );
        assert_eq!(parse_err("[]"), (None, "the file holds no benchmark run".to_owned()));
        let second_line_bad = format!("{VLLM_RESULT}\n\n{{\"completed\": 3,\n");
        assert_eq!(parse_err(&second_line_bad).0, Some(3));
        assert!(parse_err(&second_line_bad).1.starts_with("not valid JSON: "));
        assert_eq!(
            parse_err(&format!("{VLLM_RESULT}\n[1]\n")),
            (Some(2), "expected a JSON object (a vLLM or SGLang benchmark result)".to_owned())
        );
    }

    #[test]
    fn broken_pretty_json_names_its_line_and_column() {
        let (line, message) = parse_err("{\n  \"completed\": 10,\n  \"request_rate\": ,\n}");
        assert_eq!(line, Some(3));
        assert_eq!(message, "not valid JSON: expected value (column 19)");
        assert_eq!(parse_err("[1e400]"), (Some(1), "not valid JSON: number out of range (column 6)".to_owned()));
    }

    #[test]
    fn csv_with_aliases_separators_quotes_and_missing_cells() {
        let csv = "\u{feff}# runs on one H100\r\n\
                   Input Len;Output-Len;QPS;Max Concurrency;TTFT;notes;output_throughput;Requests\r\n\
                   2048;256;inf;32;150.5;\"warm; cached\";2900;320\r\n\
                   \r\n\
                   2048;256;2.5;;;;1200.0;\r\n\
                   2048;256;inf;;900;;;\r\n";
        let row = |label: &str, load, ttft_ms, output_throughput, num_prompts| BenchmarkRow {
            label: label.to_owned(),
            isl: 2048,
            osl: 256,
            load,
            ttft_ms,
            tpot_ms: None,
            output_throughput,
            num_prompts,
        };
        let expected = [
            row("line 3: concurrency 32", Load::Concurrency(32), Some(150.5), Some(2900.0), Some(320)),
            row("line 5: rate 2.5 req/s", Load::Rate(2.5), None, Some(1200.0), None),
            row("line 6: offline", Load::Offline, Some(900.0), None, None),
        ];
        assert_eq!(parse_ok(csv), expected);
    }

    #[test]
    fn csv_short_rows_and_one_token_outputs() {
        let rows = parse_ok("osl,isl,concurrency,tpot_ms,ttft_ms\n1,4096,8,0,350\n");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].isl, rows[0].osl, rows[0].tpot_ms, rows[0].ttft_ms), (4096, 1, None, Some(350.0)));
        assert_eq!(rows[0].label, "concurrency 8");
        let short = parse_ok("isl,osl,rate,ttft_ms,tpot_ms\n100,50,1,20\n");
        assert_eq!((short[0].ttft_ms, short[0].tpot_ms), (Some(20.0), None));
    }

    #[test]
    fn csv_header_errors() {
        let cases = [
            ("osl,concurrency,ttft_ms\n", "the header has no `isl` column (or `input_len`)"),
            ("isl,concurrency,ttft_ms\n", "the header has no `osl` column (or `output_len`)"),
            ("isl,osl,ttft_ms\n", "the header has neither a `concurrency` nor a `rate` column"),
            ("isl,osl,rate,p99\n", "the header has no metric column: `ttft_ms`, `tpot_ms` or `throughput`"),
            ("isl,input_len,osl,rate,ttft\n", "the header has two `isl` columns: `isl` and `input_len`"),
            ("isl,\"osl,rate,ttft\n", "column 2: a quoted field is not closed"),
        ];
        for (csv, message) in cases {
            assert_eq!(parse_err(csv), (Some(1), message.to_owned()), "{csv}");
        }
        assert_eq!(parse_err("isl,osl,rate,ttft_ms\n"), (None, "the file holds no benchmark run".to_owned()));
        assert_eq!(parse_err("# only a comment\n"), (None, "the file has no header row".to_owned()));
    }

    #[test]
    fn csv_row_errors_name_line_and_column() {
        let header = "isl,osl,concurrency,rate,ttft_ms,tpot_ms,throughput\n";
        let cases = [
            ("100,10,4,,nan,,", "`ttft_ms` must be a finite number > 0, got NaN"),
            ("100,10,4,,,-1,", "`tpot_ms` must be a finite number > 0, got -1"),
            ("100,10,4,,,,inf", "`throughput` must be a finite number > 0, got inf"),
            ("100,10,4,,,,0", "`throughput` must be a finite number > 0, got 0"),
            ("100,10,4,,1e400,,", "`ttft_ms` must be a finite number > 0, got inf"),
            ("100,10,4,,abc,,", "`ttft_ms` is not a number: \"abc\""),
            (",10,4,,5,,", "`isl` is empty"),
            ("100.5,10,4,,5,,", "`isl` must be a whole number from 1 to 4294967295, got 100.5"),
            ("100,0,4,,5,,", "`osl` must be a whole number from 1 to 4294967295, got 0"),
            ("100,99999999999,4,,5,,", "`osl` must be a whole number from 1 to 4294967295, got 99999999999"),
            ("100,10,-4,,5,,", "`concurrency` must be a whole number from 1 to 4294967295, got -4"),
            ("100,10,,,5,,", "needs a concurrency or a request rate"),
            ("100,10,,-1,5,,", "`rate` must be > 0 (or inf), got -1"),
            ("100,10,4,,,,", "no metric: the `ttft_ms`, `tpot_ms` and `throughput` cells are empty"),
            ("100,10,4,,\"5,,", "column 5: a quoted field is not closed"),
        ];
        for (row, message) in cases {
            let csv = format!("{header}100,10,4,,5,,\n{row}\n");
            assert_eq!(parse_err(&csv), (Some(3), message.to_owned()), "{row}");
        }
        let both = parse_err(&format!("{header}100,10,4,2,5,,\n")).1;
        assert!(both.starts_with("both a request rate (2 req/s) and a concurrency limit (4)"), "{both}");
    }

    #[test]
    fn empty_binary_and_odd_inputs_give_errors() {
        assert_eq!(parse_err(""), (None, "the file is empty".to_owned()));
        assert_eq!(parse_err(" \n\t\n"), (None, "the file is empty".to_owned()));
        let binary = parse_benchmark(b"isl,osl\n\x1f\x8b\x08\x00\xff\xfe").unwrap_err();
        assert_eq!(binary.line, Some(2));
        assert_eq!(binary.to_string(), "line 2: the file is not UTF-8 text (JSON, JSON lines or CSV expected)");
        assert_eq!(parse_err("{}").1, "missing key `completed`");
        assert_eq!(parse_err("{\"completed\": 1}\n").0, Some(1));
        assert!(parse_err("\"just a string\"").0.is_some());
        assert!(parse_err("{").0.is_some());
        for garbage in [&b"\x00\x01\x02"[..], b"[[[[", b"{\"a\":", b",,,\n,,,", b"NaN", b"\xef\xbb\xbf"] {
            assert!(parse_benchmark(garbage).is_err());
        }
    }

    /// Cells that probe every numeric check: empty, zero, negative, fractional, huge,
    /// non-finite, past `u32::MAX`, a stray quote, text.
    const TRICKY_CELLS: [&str; 12] =
        ["", "0", "-1", "0.5", "64", "1e400", "NaN", "inf", "4294967296", "\"", "x", "1e15"];

    /// JSON values that probe the same checks in a result object.
    const TRICKY_VALUES: [&str; 10] = ["null", "0", "-3", "1e308", "NaN", "-Infinity", "\"inf\"", "[1]", "{}", "2.5"];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..Default::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_benchmark(&bytes);
        }

        #[test]
        fn tricky_csv_cells_never_panic(cells in prop::collection::vec(0..TRICKY_CELLS.len(), 0..40)) {
            let body: Vec<String> = cells.chunks(8).map(|row| {
                row.iter().map(|&cell| TRICKY_CELLS[cell]).collect::<Vec<_>>().join(",")
            }).collect();
            let csv = format!("isl,osl,concurrency,rate,ttft_ms,tpot_ms,throughput,num_prompts\n{}", body.join("\n"));
            if let Ok(rows) = parse_benchmark(csv.as_bytes()) {
                for row in rows {
                    let metrics = [row.ttft_ms, row.tpot_ms, row.output_throughput];
                    prop_assert!(metrics.iter().flatten().all(|value| value.is_finite() && *value > 0.0));
                    prop_assert!(row.isl >= 1 && row.osl >= 1);
                }
            }
        }

        #[test]
        fn tricky_result_values_never_panic(
            replacements in prop::collection::vec((0..8usize, 0..TRICKY_VALUES.len()), 1..4),
        ) {
            let keys = ["completed", "total_input_tokens", "total_output_tokens", "request_rate",
                        "max_concurrency", "median_ttft_ms", "median_tpot_ms", "output_throughput"];
            let mut json = VLLM_RESULT.to_owned();
            for (key, value) in replacements {
                let key = format!("\"{}\": ", keys[key]);
                if let Some(start) = json.find(&key) {
                    let value_start = start + key.len();
                    let value_end = value_start + json[value_start..].find([',', '}']).unwrap_or(0);
                    json.replace_range(value_start..value_end, TRICKY_VALUES[value]);
                }
            }
            let _ = parse_benchmark(json.as_bytes());
        }
    }

    #[test]
    fn errors_display_with_and_without_a_line() {
        assert_eq!(BenchmarkError::at_line(4, "bad").to_string(), "line 4: bad");
        assert_eq!(BenchmarkError::in_file("bad").to_string(), "bad");
        assert_eq!(Load::Rate(0.25).to_string(), "rate 0.25 req/s");
    }
}
