//! Format detection from the first record, and reading each later record into the columns.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::csv::split_fields;
use super::datetime::parse_datetime_ns;
use super::{ColumnMapping, ColumnUse, TimeUnit, TraceFormat};
use crate::time::{SimDuration, SimTime};
use crate::workload::arrivals::LATEST_ARRIVAL_S;
use crate::workload::{Trace, NO_ROW};

/// The most distinct classes a trace may have.
pub const MAX_CLASSES: usize = 1_000;

/// A problem with one record: the 1-based column when known, and what is wrong.
pub type RowError = (Option<usize>, String);

/// One request read from a record, before it joins the columns.
struct Row {
    /// Nanoseconds on the file's clock; 0 without arrival times. A chained row holds its
    /// chain's first arrival.
    arrived_at_ns: u64,
    prompt_tokens: u32,
    output_tokens: u32,
    session: Option<String>,
    class: Option<String>,
    /// The row this one follows and the pause after that row ends (a session's later turn).
    follows: Option<(u32, SimDuration)>,
}

/// What a record turned out to be.
pub enum Outcome {
    /// A request, added to the trace.
    Request,
    /// A failed request in the log (BurstGPT: no response tokens), left out.
    FailedRequest,
}

/// The CSV column layout of a known format, by header names.
struct KnownCsv {
    format: TraceFormat,
    arrival: Option<(&'static str, TimeUnit)>,
    prompt: &'static str,
    output: &'static str,
    session: Option<&'static str>,
    class: Option<&'static str>,
    /// A row with 0 output tokens is a failed request, left out (BurstGPT).
    zero_output_is_failure: bool,
}

/// Known CSV layouts, tried in order; the first whose required columns are all in the header
/// wins. Sources are cited in `docs/traces.md`.
const KNOWN_CSV: &[KnownCsv] = &[
    KnownCsv {
        format: TraceFormat::AzureLlm2023,
        arrival: Some(("TIMESTAMP", TimeUnit::Datetime)),
        prompt: "ContextTokens",
        output: "GeneratedTokens",
        session: None,
        class: None,
        zero_output_is_failure: false,
    },
    KnownCsv {
        format: TraceFormat::BurstGpt,
        arrival: Some(("Timestamp", TimeUnit::S)),
        prompt: "Request tokens",
        output: "Response tokens",
        session: Some("Session ID"),
        class: Some("Model"),
        zero_output_is_failure: true,
    },
    KnownCsv {
        format: TraceFormat::SplitwiseSim,
        arrival: Some(("arrival_timestamp", TimeUnit::S)),
        prompt: "prompt_size",
        output: "token_size",
        session: None,
        class: Some("application_id"),
        zero_output_is_failure: false,
    },
    KnownCsv {
        format: TraceFormat::VidurCsv,
        arrival: Some(("arrived_at", TimeUnit::S)),
        prompt: "num_prefill_tokens",
        output: "num_decode_tokens",
        session: None,
        class: None,
        zero_output_is_failure: false,
    },
];

/// Column (or key) pairs that make a length-only file when no arrival column is recognised.
const LENGTH_PAIRS: &[(&str, &str)] = &[
    ("num_prefill_tokens", "num_decode_tokens"),
    ("input_length", "output_length"),
    ("input_tokens", "output_tokens"),
    ("prompt_tokens", "output_tokens"),
    ("prompt_len", "output_len"),
    ("ContextTokens", "GeneratedTokens"),
];

/// How the records of the detected format are read.
pub enum RowReader {
    /// A CSV file with a header.
    Csv(CsvLayout),
    /// Mooncake JSONL, typed; rows sharing a `session_id` are one session's turns in order.
    Mooncake { last_turn: HashMap<String, Turn> },
    /// Qwen / Aliyun Bailian JSONL: a session is a chain of `parent_chat_id` links, named by
    /// its root's `chat_id`.
    Bailian { turns: HashMap<i64, (i64, Turn)> },
    /// JSON lines read by key names.
    Json(JsonLayout),
}

/// Where each field is in a CSV record.
pub struct CsvLayout {
    names: Vec<String>,
    arrival: Option<(usize, TimeUnit)>,
    prompt: usize,
    output: usize,
    session: Option<usize>,
    class: Option<usize>,
    zero_output_is_failure: bool,
}

/// Which keys of a JSON record hold each field.
pub struct JsonLayout {
    arrival: Option<(String, TimeUnit)>,
    prompt: String,
    output: String,
    session: Option<String>,
    class: Option<String>,
}

/// A session's latest turn: its row, its own time on the file's clock and its chain's first
/// arrival.
#[derive(Clone, Copy)]
pub struct Turn {
    row: u32,
    at_ns: u64,
    root_at_ns: u64,
}

/// Links a later turn to its session's previous one: it follows that row, after `delay` if the
/// file gives one, else after the gap between the two turns' own times.
fn next_turn(previous: Turn, at_ns: Option<u64>, delay: Option<SimDuration>) -> Result<(u32, SimDuration), String> {
    let think = match (delay, at_ns) {
        (Some(delay), _) => delay,
        (None, Some(at)) if at >= previous.at_ns => SimDuration::from_nanos(at - previous.at_ns),
        (None, Some(_)) => return Err("is earlier than the session's previous turn".to_owned()),
        (None, None) => SimDuration::ZERO,
    };
    Ok((previous.row, think))
}

/// What was detected from the first record.
pub struct Detected {
    pub format: TraceFormat,
    pub reader: RowReader,
    pub columns: Vec<ColumnUse>,
    /// The first record is data (JSONL) and must be read as a row too; a CSV header is not.
    pub first_is_data: bool,
}

fn column_use(role: &str, source: &str, unit: Option<TimeUnit>) -> ColumnUse {
    ColumnUse { role: role.to_owned(), source: source.to_owned(), unit }
}

/// Detects the format from the first non-blank line.
///
/// # Errors
///
/// Says which formats were expected, or which mapped column is missing.
pub fn detect(first: &str, mapping: Option<&ColumnMapping>) -> Result<Detected, RowError> {
    if first.trim_start().starts_with('{') {
        detect_json(first, mapping)
    } else {
        detect_csv(first, mapping)
    }
}

fn detect_csv(header: &str, mapping: Option<&ColumnMapping>) -> Result<Detected, RowError> {
    let mut fields = Vec::new();
    split_fields(header, ',', &mut fields).map_err(|(column, message)| (Some(column), message))?;
    let names: Vec<String> = fields.into_iter().map(Cow::into_owned).collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    let layout = |format,
                  arrival: Option<(usize, TimeUnit)>,
                  prompt: usize,
                  output: usize,
                  session: Option<usize>,
                  class: Option<usize>,
                  failure| {
        let mut columns = Vec::new();
        if let Some((index, unit)) = arrival {
            columns.push(column_use("arrival", &names[index], Some(unit)));
        }
        columns.push(column_use("prompt_tokens", &names[prompt], None));
        columns.push(column_use("output_tokens", &names[output], None));
        if let Some(index) = session {
            columns.push(column_use("session", &names[index], None));
        }
        if let Some(index) = class {
            columns.push(column_use("class", &names[index], None));
        }
        Detected {
            format,
            columns,
            first_is_data: false,
            reader: RowReader::Csv(CsvLayout {
                names: names.clone(),
                arrival,
                prompt,
                output,
                session,
                class,
                zero_output_is_failure: failure,
            }),
        }
    };
    if let Some(mapping) = mapping {
        let required = |name: &str| {
            find(name).ok_or_else(|| {
                (None, format!("the mapped column \"{name}\" is not in the header ({})", names.join(", ")))
            })
        };
        let arrival = match &mapping.arrival {
            Some(name) => Some((required(name)?, mapping.arrival_unit)),
            None => None,
        };
        let (prompt, output) = (required(&mapping.prompt_tokens)?, required(&mapping.output_tokens)?);
        let session = mapping.session.as_deref().map(required).transpose()?;
        let class = mapping.class.as_deref().map(required).transpose()?;
        return Ok(layout(TraceFormat::CustomCsv, arrival, prompt, output, session, class, false));
    }
    for known in KNOWN_CSV {
        let arrival = match known.arrival {
            Some((name, unit)) => match find(name) {
                Some(index) => Some((index, unit)),
                None => continue,
            },
            None => None,
        };
        let (Some(prompt), Some(output)) = (find(known.prompt), find(known.output)) else { continue };
        let session = known.session.and_then(find);
        let class = known.class.and_then(find);
        return Ok(layout(known.format, arrival, prompt, output, session, class, known.zero_output_is_failure));
    }
    for (prompt, output) in LENGTH_PAIRS {
        if let (Some(prompt), Some(output)) = (find(prompt), find(output)) {
            return Ok(layout(TraceFormat::LengthsOnly, None, prompt, output, None, None, false));
        }
    }
    Err((
        None,
        format!(
            "unrecognised trace format: the first line ({}) is neither a JSON record nor the header of a known CSV \
             (Azure LLM, BurstGPT, SplitwiseSim, Vidur, length-only); map its columns (see docs/traces.md)",
            ellipsis(header, 80)
        ),
    ))
}

fn ellipsis(text: &str, max_chars: usize) -> String {
    let mut shown: String = text.chars().filter(|c| !c.is_control()).take(max_chars).collect();
    if text.chars().count() > max_chars {
        shown.push('…');
    }
    format!("\"{shown}\"")
}

fn detect_json(first: &str, mapping: Option<&ColumnMapping>) -> Result<Detected, RowError> {
    let record: Map<String, Value> = serde_json::from_str(first).map_err(json_error)?;
    let has = |key: &str| record.contains_key(key);
    let pick = |keys: &[&'static str]| keys.iter().copied().find(|key| has(key));
    let json = |format,
                arrival: Option<(String, TimeUnit)>,
                prompt: String,
                output: String,
                session: Option<String>,
                class: Option<String>| {
        let mut columns = Vec::new();
        if let Some((key, unit)) = &arrival {
            columns.push(column_use("arrival", key, Some(*unit)));
        }
        columns.push(column_use("prompt_tokens", &prompt, None));
        columns.push(column_use("output_tokens", &output, None));
        if let Some(key) = &session {
            columns.push(column_use("session", key, None));
        }
        if let Some(key) = &class {
            columns.push(column_use("class", key, None));
        }
        Detected {
            format,
            columns,
            first_is_data: true,
            reader: RowReader::Json(JsonLayout { arrival, prompt, output, session, class }),
        }
    };
    if let Some(mapping) = mapping {
        let arrival = mapping.arrival.clone().map(|key| (key, mapping.arrival_unit));
        return Ok(json(
            TraceFormat::CustomJsonl,
            arrival,
            mapping.prompt_tokens.clone(),
            mapping.output_tokens.clone(),
            mapping.session.clone(),
            mapping.class.clone(),
        ));
    }
    let prompt = pick(&["input_length", "input_tokens"]);
    let output = pick(&["output_length", "output_tokens"]);
    if has("chat_id") && has("parent_chat_id") {
        let mut columns = vec![
            column_use("arrival", "timestamp", Some(TimeUnit::S)),
            column_use("prompt_tokens", "input_length", None),
            column_use("output_tokens", "output_length", None),
            column_use("session", "chat_id, parent_chat_id", None),
            column_use("prefix_hashes", "hash_ids", None),
        ];
        if has("type") {
            columns.push(column_use("class", "type", None));
        }
        let reader = RowReader::Bailian { turns: HashMap::new() };
        return Ok(Detected { format: TraceFormat::QwenBailianJsonl, reader, columns, first_is_data: true });
    }
    let (Some(prompt), Some(output)) = (prompt, output) else {
        let keys: Vec<&str> = record.keys().map(String::as_str).collect();
        return Err((
            None,
            format!(
                "unrecognised JSON trace: its keys ({}) lack input_length and output_length; map its keys (see \
                 docs/traces.md)",
                keys.join(", ")
            ),
        ));
    };
    let session_keys = ["session_id", "delay", "delay_ms"].iter().any(|key| has(key));
    match pick(&["timestamp", "created_time"]).or(session_keys.then_some("timestamp")) {
        Some(time) => {
            let mut columns = vec![
                column_use("arrival", time, Some(TimeUnit::Ms)),
                column_use("prompt_tokens", prompt, None),
                column_use("output_tokens", output, None),
            ];
            if has("session_id") {
                columns.push(column_use("session", "session_id", None));
            }
            if has("hash_ids") {
                columns.push(column_use("prefix_hashes", "hash_ids", None));
            }
            Ok(Detected {
                format: TraceFormat::MooncakeJsonl,
                reader: RowReader::Mooncake { last_turn: HashMap::new() },
                columns,
                first_is_data: true,
            })
        }
        None => Ok(json(TraceFormat::LengthsOnly, None, prompt.to_owned(), output.to_owned(), None, None)),
    }
}

fn json_error(error: serde_json::Error) -> RowError {
    (
        Some(error.column()),
        format!("not a JSON record: {error}").replace(&format!(" at line 1 column {}", error.column()), ""),
    )
}

/// The columns being built, with the interning of session and class names.
pub struct Builder {
    /// The columns; `arrived_at` holds times on the file's clock until the import finishes.
    pub trace: Trace,
    session_ids: HashMap<String, u32>,
    class_ids: HashMap<String, u16>,
    has_sessions: bool,
    has_classes: bool,
    /// Whether any row so far follows another (the `follows` column is then kept).
    chained: bool,
    /// Sessions numbered so far.
    num_sessions: u32,
}

impl Builder {
    /// The class named `name`, numbered on first sight.
    fn class_of(&mut self, name: String) -> Result<u16, RowError> {
        if let Some(&class) = self.class_ids.get(&name) {
            return Ok(class);
        }
        let next = self.class_ids.len();
        if next >= MAX_CLASSES {
            return Err((None, format!("more than {MAX_CLASSES} distinct classes: is the class column right?")));
        }
        self.class_ids.insert(name.clone(), next as u16);
        self.trace.class_names.push(name);
        Ok(next as u16)
    }

    fn new_session(&mut self) -> u32 {
        self.num_sessions += 1;
        self.num_sessions - 1
    }

    pub fn new(format: TraceFormat, columns: &[ColumnUse]) -> Builder {
        let mut trace = Trace::empty(format);
        trace.hash_block_tokens = format.hash_block_tokens();
        trace.has_arrivals = columns.iter().any(|column| column.role == "arrival");
        if trace.hash_block_tokens > 0 {
            trace.block_starts.push(0);
        }
        Builder {
            trace,
            session_ids: HashMap::new(),
            class_ids: HashMap::new(),
            has_sessions: columns.iter().any(|column| column.role == "session"),
            has_classes: columns.iter().any(|column| column.role == "class"),
            chained: false,
            num_sessions: 0,
        }
    }

    /// Appends `row`; returns its index. Every check comes before the first column grows, so a
    /// refused row leaves the columns as they were.
    fn push(&mut self, row: Row, hashes: &[u64]) -> Result<u32, RowError> {
        let num_hashes = self.trace.block_hashes.len() + hashes.len();
        let hashes_end =
            u32::try_from(num_hashes).map_err(|_| (None, "more than 4 billion hash_ids in the file".to_owned()))?;
        if self.has_classes {
            let class = self.class_of(row.class.unwrap_or_default())?;
            self.trace.classes.push(class);
        }
        let named_session = row.session.filter(|name| !name.is_empty());
        if named_session.is_some() && !self.has_sessions {
            // The first session id comes after rows without one: each of those is a session of
            // its own.
            self.has_sessions = true;
            let earlier = self.trace.arrived_at.len() as u32;
            self.trace.sessions = (0..earlier).collect();
            self.num_sessions = earlier;
        }
        if self.has_sessions {
            let session = match named_session {
                Some(name) => match self.session_ids.get(&name) {
                    Some(&session) => session,
                    None => {
                        let session = self.new_session();
                        self.session_ids.insert(name, session);
                        session
                    }
                },
                // A request without a session id is a session of its own.
                None => self.new_session(),
            };
            self.trace.sessions.push(session);
        }
        if self.trace.hash_block_tokens > 0 {
            self.trace.block_hashes.extend_from_slice(hashes);
            self.trace.block_starts.push(hashes_end);
        }
        let index = self.trace.arrived_at.len() as u32;
        if row.follows.is_some() && !self.chained {
            self.chained = true;
            self.trace.follows = vec![NO_ROW; index as usize];
            self.trace.think_time = vec![SimDuration::ZERO; index as usize];
        }
        if self.chained {
            let (previous, think) = row.follows.unwrap_or((NO_ROW, SimDuration::ZERO));
            self.trace.follows.push(previous);
            self.trace.think_time.push(think);
        }
        self.trace.arrived_at.push(SimTime::from_nanos(row.arrived_at_ns));
        self.trace.prompt_tokens.push(row.prompt_tokens);
        self.trace.output_tokens.push(row.output_tokens);
        Ok(index)
    }
}

/// One Mooncake record. Unknown keys are ignored; Dynamo's aliases accepted. A session's later
/// turn may give `delay` (ms after the previous turn ends) instead of a timestamp.
#[derive(Deserialize)]
struct MooncakeRecord {
    #[serde(default, alias = "created_time")]
    timestamp: Option<f64>,
    #[serde(default, alias = "delay_ms")]
    delay: Option<f64>,
    #[serde(alias = "input_tokens")]
    input_length: u64,
    #[serde(alias = "output_tokens")]
    output_length: u64,
    #[serde(default)]
    hash_ids: Vec<u64>,
    #[serde(default)]
    session_id: Option<Value>,
}

/// One Qwen / Aliyun Bailian record.
#[derive(Deserialize)]
struct BailianRecord {
    chat_id: i64,
    parent_chat_id: i64,
    timestamp: f64,
    input_length: u64,
    output_length: u64,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    hash_ids: Vec<u64>,
}

impl RowReader {
    /// Reads one record into `builder`.
    ///
    /// # Errors
    ///
    /// What is wrong with the record; the builder is unchanged then.
    pub fn read(&mut self, text: &str, builder: &mut Builder) -> Result<Outcome, RowError> {
        match self {
            RowReader::Csv(layout) => layout.read(text, builder),
            RowReader::Mooncake { last_turn } => {
                let record: MooncakeRecord = serde_json::from_str(text).map_err(json_error)?;
                let at_ns = record
                    .timestamp
                    .map(|ms| time_ns(ms, TimeUnit::Ms))
                    .transpose()
                    .map_err(|m| key_error(text, "timestamp", m))?;
                let delay = record
                    .delay
                    .map(|ms| time_ns(ms, TimeUnit::Ms).map(SimDuration::from_nanos))
                    .transpose()
                    .map_err(|m| key_error(text, "delay", m))?;
                let session = record.session_id.map(|id| id_text(&id));
                let previous = session.as_ref().and_then(|session| last_turn.get(session)).copied();
                let (root_at_ns, follows) = match (previous, at_ns) {
                    (Some(previous), _) => {
                        let link = next_turn(previous, at_ns, delay).map_err(|m| key_error(text, "timestamp", m))?;
                        (previous.root_at_ns, Some(link))
                    }
                    (None, Some(at)) => (at, None),
                    (None, None) => {
                        return Err((
                            None,
                            "timestamp: missing (only a session's later turns may give just a delay)".to_owned(),
                        ))
                    }
                };
                let row = Row {
                    arrived_at_ns: root_at_ns,
                    prompt_tokens: token_count(record.input_length).map_err(|m| key_error(text, "input_length", m))?,
                    output_tokens: token_count(record.output_length)
                        .map_err(|m| key_error(text, "output_length", m))?,
                    session: session.clone(),
                    class: None,
                    follows,
                };
                let index = builder.push(row, &record.hash_ids)?;
                if let Some(session) = session.filter(|session| !session.is_empty()) {
                    let at_ns = at_ns.unwrap_or(previous.map_or(root_at_ns, |p| p.at_ns));
                    last_turn.insert(session, Turn { row: index, at_ns, root_at_ns });
                }
                Ok(Outcome::Request)
            }
            RowReader::Bailian { turns } => {
                let record: BailianRecord = serde_json::from_str(text).map_err(json_error)?;
                let at_ns = time_ns(record.timestamp, TimeUnit::S).map_err(|m| key_error(text, "timestamp", m))?;
                // A turn follows its parent and joins its session; a root (or an orphan) starts one.
                let parent = turns.get(&record.parent_chat_id).copied();
                let (root, root_at_ns, follows) = match parent {
                    Some((root, previous)) => {
                        let link =
                            next_turn(previous, Some(at_ns), None).map_err(|m| key_error(text, "timestamp", m))?;
                        (root, previous.root_at_ns, Some(link))
                    }
                    None => (record.chat_id, at_ns, None),
                };
                let row = Row {
                    arrived_at_ns: root_at_ns,
                    prompt_tokens: token_count(record.input_length).map_err(|m| key_error(text, "input_length", m))?,
                    output_tokens: token_count(record.output_length)
                        .map_err(|m| key_error(text, "output_length", m))?,
                    session: Some(root.to_string()),
                    class: record.kind,
                    follows,
                };
                let index = builder.push(row, &record.hash_ids)?;
                turns.insert(record.chat_id, (root, Turn { row: index, at_ns, root_at_ns }));
                Ok(Outcome::Request)
            }
            RowReader::Json(layout) => layout.read(text, builder),
        }
    }
}

/// The column of `"key"` in `text` (1-based, in characters), for errors about a value.
fn key_error(text: &str, key: &str, message: String) -> RowError {
    let column = text.find(&format!("\"{key}\"")).map(|byte| text[..byte].chars().count() + 1);
    (column, format!("{key}: {message}"))
}

fn id_text(id: &Value) -> String {
    match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

impl CsvLayout {
    fn read(&mut self, text: &str, builder: &mut Builder) -> Result<Outcome, RowError> {
        let mut fields = Vec::new();
        split_fields(text, ',', &mut fields).map_err(|(column, message)| (Some(column), message))?;
        if fields.len() != self.names.len() {
            return Err((None, format!("expected {} columns, got {}", self.names.len(), fields.len())));
        }
        let at = |index: usize, message: String| (Some(index + 1), format!("{}: {message}", self.names[index]));
        let arrived_at_ns = match self.arrival {
            Some((index, unit)) => time_field_ns(&fields[index], unit).map_err(|m| at(index, m))?,
            None => 0,
        };
        let prompt = whole_number(&fields[self.prompt]).map_err(|m| at(self.prompt, m))?;
        let output = whole_number(&fields[self.output]).map_err(|m| at(self.output, m))?;
        if self.zero_output_is_failure && output == 0 {
            return Ok(Outcome::FailedRequest);
        }
        let row = Row {
            arrived_at_ns,
            prompt_tokens: token_count(prompt).map_err(|m| at(self.prompt, m))?,
            output_tokens: token_count(output).map_err(|m| at(self.output, m))?,
            session: self.session.map(|index| fields[index].to_string()),
            class: self.class.map(|index| fields[index].to_string()),
            follows: None,
        };
        builder.push(row, &[])?;
        Ok(Outcome::Request)
    }
}

impl JsonLayout {
    fn read(&self, text: &str, builder: &mut Builder) -> Result<Outcome, RowError> {
        let record: Map<String, Value> = serde_json::from_str(text).map_err(json_error)?;
        let field = |key: &str| record.get(key).ok_or_else(|| (None, format!("the key \"{key}\" is missing")));
        let tokens = |key: &str| -> Result<u32, RowError> {
            let value = field(key)?;
            let number = match value {
                Value::Number(number) => whole_number(&number.to_string()),
                Value::String(text) => whole_number(text),
                other => Err(format!("{other} is not a number")),
            };
            number.and_then(token_count).map_err(|m| key_error(text, key, m))
        };
        let arrived_at_ns = match &self.arrival {
            Some((key, unit)) => {
                let value = field(key)?;
                let parsed = match value {
                    Value::Number(number) => time_field_ns(&number.to_string(), *unit),
                    Value::String(text) => time_field_ns(text, *unit),
                    other => Err(format!("{other} is not a time")),
                };
                parsed.map_err(|m| key_error(text, key, m))?
            }
            None => 0,
        };
        let row = Row {
            arrived_at_ns,
            prompt_tokens: tokens(&self.prompt)?,
            output_tokens: tokens(&self.output)?,
            session: self.session.as_deref().and_then(|key| record.get(key)).map(id_text),
            class: self.class.as_deref().and_then(|key| record.get(key)).map(id_text),
            follows: None,
        };
        builder.push(row, &[])?;
        Ok(Outcome::Request)
    }
}

/// A whole number of tokens; `12.0` (as pandas writes integer columns with gaps) is accepted.
fn whole_number(field: &str) -> Result<u64, String> {
    if let Ok(value) = field.parse::<u64>() {
        return Ok(value);
    }
    match field.parse::<f64>() {
        Ok(value) if value >= 0.0 && value.fract() == 0.0 && value < 1.8e19 => Ok(value as u64),
        _ => Err(format!("\"{field}\" is not a whole number")),
    }
}

fn token_count(value: u64) -> Result<u32, String> {
    match u32::try_from(value) {
        Ok(0) => Err("must be ≥ 1, got 0".to_owned()),
        Ok(tokens) => Ok(tokens),
        Err(_) => Err(format!("must be ≤ {}, got {value}", u32::MAX)),
    }
}

fn time_field_ns(field: &str, unit: TimeUnit) -> Result<u64, String> {
    if unit == TimeUnit::Datetime {
        let nanos = parse_datetime_ns(field)?;
        return u64::try_from(nanos).map_err(|_| format!("\"{field}\" is before 1970"));
    }
    let value = field.parse::<f64>().map_err(|_| format!("\"{field}\" is not a number"))?;
    time_ns(value, unit)
}

fn time_ns(value: f64, unit: TimeUnit) -> Result<u64, String> {
    let seconds = value / unit.per_second();
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("must be a finite time ≥ 0, got {value}"));
    }
    if seconds > LATEST_ARRIVAL_S {
        return Err(format!("{value} {} is later than {LATEST_ARRIVAL_S:e} s", unit.symbol()));
    }
    Ok(SimTime::from_secs_f64(seconds).as_nanos())
}
