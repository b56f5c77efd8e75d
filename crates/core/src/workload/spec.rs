//! The scenario's `workload` section: where requests come from, how a file is read, new
//! arrival times for a trace, and transforms.

use serde::{Deserialize, Serialize};

use super::generator::{MAX_EXPECTED_SPAN_S, MAX_GENERATED_REQUESTS};
use super::{samples, Arrivals, ColumnMapping, Generator, ImportOptions, Transform};

/// Where the requests come from and what is done to them. In JSON the source is one of
/// `sample`, `file` or `generator`, beside the optional `columns`, `skip_bad_rows`,
/// `arrivals`, `num_requests` and `transform`:
///
/// ```json
/// {"file": {"name": "lengths.csv", "rows": 28257, "sha256": "…"},
///  "arrivals": {"gamma": {"rate_per_s": 6, "cv": 2}}, "num_requests": 5000,
///  "transform": {"rate_scale": 2}}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawWorkload", into = "RawWorkload")]
pub struct Workload {
    /// The requests' source.
    pub source: WorkloadSource,
    /// How a file's columns map to fields, when its format is not detected.
    pub columns: Option<ColumnMapping>,
    /// Skip a file's malformed rows (counted and reported) instead of refusing the file.
    pub skip_bad_rows: bool,
    /// New arrival times for a trace's requests: needed by a length-only trace, and replaces
    /// the times of any other.
    pub arrivals: Option<Arrivals>,
    /// Resample the trace's requests, with replacement, to this many (needs `arrivals`).
    pub num_requests: Option<u32>,
    /// What is done to the requests last.
    pub transform: Transform,
}

/// Where requests come from.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkloadSource {
    /// A bundled sample trace by id (see [`samples::SAMPLES`]).
    Sample(String),
    /// A user's trace file, identified so a shared link can ask for the same file.
    File(FileRef),
    /// A synthetic workload generated from the scenario's seed.
    Generator(Generator),
}

/// Identifies a user's trace file without embedding it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    /// The file name as it was dropped.
    pub name: String,
    /// Number of requests in it.
    pub rows: u64,
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
}

impl Default for Workload {
    fn default() -> Self {
        Workload::from(WorkloadSource::Sample(samples::DEFAULT_SAMPLE_ID.to_owned()))
    }
}

impl From<WorkloadSource> for Workload {
    /// The source as it is: no mapping, no new arrivals, no transform.
    fn from(source: WorkloadSource) -> Self {
        Workload {
            source,
            columns: None,
            skip_bad_rows: false,
            arrivals: None,
            num_requests: None,
            transform: Transform::default(),
        }
    }
}

impl Workload {
    /// The options to import this workload's file or sample with.
    pub fn import_options(&self) -> ImportOptions {
        ImportOptions { columns: self.columns.clone(), skip_bad_rows: self.skip_bad_rows }
    }

    /// The generator, if the source is one.
    pub fn generator(&self) -> Option<&Generator> {
        match &self.source {
            WorkloadSource::Generator(generator) => Some(generator),
            _ => None,
        }
    }

    /// Every problem with this section, as `(path, message)` pairs with full paths.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut fail = |path: &str, message: String| problems.push((format!("workload.{path}"), message));
        match &self.source {
            WorkloadSource::Sample(id) => {
                if samples::find(id).is_none() {
                    fail("sample", format!("unknown sample \"{id}\"; known: {}", samples::ids()));
                }
            }
            WorkloadSource::File(file) => {
                if file.name.trim().is_empty() {
                    fail("file.name", "must not be empty".to_owned());
                }
                if let Some(message) = out_of_range(file.rows, 1, u64::from(u32::MAX)) {
                    fail("file.rows", message);
                }
                let is_hex = file.sha256.len() == 64
                    && file.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !is_hex {
                    fail("file.sha256", format!("must be 64 lower-case hex digits, got \"{}\"", file.sha256));
                }
            }
            WorkloadSource::Generator(generator) => {
                for (path, message) in generator_problems(generator) {
                    fail(&format!("generator.{path}"), message);
                }
                for (field, given) in [
                    ("columns", self.columns.is_some()),
                    ("skip_bad_rows", self.skip_bad_rows),
                    ("arrivals", self.arrivals.is_some()),
                    ("num_requests", self.num_requests.is_some()),
                ] {
                    if given {
                        fail(field, "applies to a trace; a generator has its own".to_owned());
                    }
                }
            }
        }
        if let Some(columns) = &self.columns {
            for (field, name) in [("prompt_tokens", &columns.prompt_tokens), ("output_tokens", &columns.output_tokens)]
            {
                if name.trim().is_empty() {
                    fail(&format!("columns.{field}"), "must name a column".to_owned());
                }
            }
        }
        if let Some(arrivals) = &self.arrivals {
            for (field, message) in arrivals.problems() {
                fail(&format!("arrivals.{field}"), message);
            }
        }
        match (self.num_requests, &self.arrivals) {
            (Some(n), _) if out_of_range(n, 1, MAX_GENERATED_REQUESTS).is_some() => {
                fail("num_requests", out_of_range(n, 1, MAX_GENERATED_REQUESTS).unwrap_or_default())
            }
            (Some(_), None) => {
                fail("num_requests", "resampled requests need new arrival times: set arrivals".to_owned())
            }
            (Some(n), Some(arrivals)) => {
                if let Some(message) = span_problem(arrivals, n) {
                    fail(&format!("arrivals.{}", rate_field(arrivals)), message);
                }
            }
            (None, _) => {}
        }
        for (field, message) in self.transform.problems() {
            fail(&format!("transform.{field}"), message);
        }
        problems
    }
}

/// `must be ≥ min, got v` or `must be ≤ max, got v`, as every range check in a scenario says.
fn out_of_range<T: PartialOrd + std::fmt::Display>(value: T, min: T, max: T) -> Option<String> {
    if value < min {
        Some(format!("must be ≥ {min}, got {value}"))
    } else if value > max {
        Some(format!("must be ≤ {max}, got {value}"))
    } else {
        None
    }
}

/// The field holding an arrival process's rate, for messages.
fn rate_field(arrivals: &Arrivals) -> String {
    let field = if matches!(arrivals, Arrivals::Diurnal { .. }) { "mean_rate_per_s" } else { "rate_per_s" };
    format!("{}.{field}", arrivals.kind())
}

/// A rate so low that `n` requests would spread past the accepted span.
fn span_problem(arrivals: &Arrivals, n: u32) -> Option<String> {
    let rate = arrivals.mean_rate_per_s().filter(|rate| rate.is_finite() && *rate > 0.0)?;
    let span_s = f64::from(n) / rate;
    (span_s > MAX_EXPECTED_SPAN_S)
        .then(|| format!("{rate} req/s spreads the requests over {span_s:e} s; the limit is {MAX_EXPECTED_SPAN_S:e} s"))
}

/// The most classes a generator may have.
pub const MAX_GENERATOR_CLASSES: usize = 64;

fn generator_problems(generator: &Generator) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let classes = &generator.classes;
    if classes.is_empty() || classes.len() > MAX_GENERATOR_CLASSES {
        problems.push((
            "classes".to_owned(),
            format!("must hold 1 to {MAX_GENERATOR_CLASSES} classes, got {}", classes.len()),
        ));
    }
    let total = generator.num_requests();
    if total > u64::from(MAX_GENERATED_REQUESTS) && classes.len() > 1 {
        problems.push((
            "classes".to_owned(),
            format!("must make at most {MAX_GENERATED_REQUESTS} requests in all, got {total}"),
        ));
    }
    let single = classes.len() == 1 && classes[0].name.is_empty();
    for (index, class) in classes.iter().enumerate() {
        let prefix = if single { String::new() } else { format!("classes[{index}].") };
        let mut fail = |field: &str, message: String| problems.push((format!("{prefix}{field}"), message));
        if !single {
            if class.name.trim().is_empty() {
                fail("name", "must name the class".to_owned());
            } else if classes[..index].iter().any(|other| other.name == class.name) {
                fail("name", format!("\"{}\" names two classes", class.name));
            }
        }
        for (field, message) in class.arrivals.problems() {
            fail(&format!("arrivals.{field}"), message);
        }
        if class.arrivals.problems().is_empty() {
            if let Some(message) = span_problem(&class.arrivals, class.num_requests) {
                fail(&format!("arrivals.{}", rate_field(&class.arrivals)), message);
            }
        }
        if let Some(message) = out_of_range(class.num_requests, 1, MAX_GENERATED_REQUESTS) {
            fail("num_requests", message);
        }
        for (name, lengths) in [("prompt_tokens", &class.prompt_tokens), ("output_tokens", &class.output_tokens)] {
            for (field, message) in lengths.problems() {
                fail(&format!("{name}.{field}"), message);
            }
        }
        if let Some(sessions) = &class.sessions {
            for (field, message) in sessions.turns.problems() {
                fail(&format!("sessions.turns.{field}"), message);
            }
            if !(sessions.think_time_s.is_finite() && (0.0..=1e6).contains(&sessions.think_time_s)) {
                fail("sessions.think_time_s", format!("must be in [0, 1e6], got {}", sessions.think_time_s));
            }
            if let Some(message) = out_of_range(sessions.system_prompt_tokens, 0, 1_000_000) {
                fail("sessions.system_prompt_tokens", message);
            }
        }
    }
    problems
}

/// The workload as written in JSON: exactly one source beside the optional fields.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    #[serde(skip_serializing_if = "Option::is_none")]
    sample: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<FileRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generator: Option<Generator>,
    #[serde(skip_serializing_if = "Option::is_none")]
    columns: Option<ColumnMapping>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    skip_bad_rows: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    arrivals: Option<Arrivals>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_requests: Option<u32>,
    #[serde(default, skip_serializing_if = "Transform::is_identity")]
    transform: Transform,
}

impl TryFrom<RawWorkload> for Workload {
    type Error = String;

    fn try_from(raw: RawWorkload) -> Result<Self, String> {
        let source = match (raw.sample, raw.file, raw.generator) {
            (Some(id), None, None) => WorkloadSource::Sample(id),
            (None, Some(file), None) => WorkloadSource::File(file),
            (None, None, Some(generator)) => WorkloadSource::Generator(generator),
            _ => return Err("give exactly one of `sample`, `file` or `generator`".to_owned()),
        };
        Ok(Workload {
            source,
            columns: raw.columns,
            skip_bad_rows: raw.skip_bad_rows,
            arrivals: raw.arrivals,
            num_requests: raw.num_requests,
            transform: raw.transform,
        })
    }
}

impl From<Workload> for RawWorkload {
    fn from(workload: Workload) -> Self {
        let mut raw = RawWorkload {
            columns: workload.columns,
            skip_bad_rows: workload.skip_bad_rows,
            arrivals: workload.arrivals,
            num_requests: workload.num_requests,
            transform: workload.transform,
            ..RawWorkload::default()
        };
        match workload.source {
            WorkloadSource::Sample(id) => raw.sample = Some(id),
            WorkloadSource::File(file) => raw.file = Some(file),
            WorkloadSource::Generator(generator) => raw.generator = Some(generator),
        }
        raw
    }
}
