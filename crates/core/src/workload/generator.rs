//! Synthetic workloads, fully reproducible from the scenario's seed: classes (tenants), each
//! with its own arrival process, lengths and optional multi-turn sessions.
//!
//! A session's turn `j` has the prompt `system + Σ_{i<j}(user_i + answer_i) + user_j`: it
//! extends the previous turn's prompt by that turn's answer and a new user message, and it is
//! sent a think time after the previous turn completes. Generated sessions carry prefix-block
//! hashes (one per [`GENERATED_HASH_BLOCK_TOKENS`] tokens) built so that equal hashes mean an
//! equal prefix: the class's system prompt blocks are shared by all its sessions, a session's
//! full blocks by its later turns, and a partial last block by nothing. Prefix caching
//! therefore sees exactly the reuse the construction implies.

use serde::{Deserialize, Serialize};

use super::arrivals::{Schedule, Start};
use super::{Arrivals, Lengths, Trace, TraceFormat};
use crate::rng::{RngStream, StreamId};
use crate::time::{SimDuration, SimTime};

/// Tokens covered by each prefix hash of a generated session.
pub const GENERATED_HASH_BLOCK_TOKENS: u32 = 64;

/// The longest prompt a session grows to: a turn that would pass it starts a new session
/// instead (as a user does when a conversation outgrows the context window). It also bounds
/// the prefix hashes a generated row carries.
pub const MAX_SESSION_PROMPT_TOKENS: u64 = 1 << 20;

/// The most requests a generator may make (the browser holds every record in memory).
pub const MAX_GENERATED_REQUESTS: u32 = 1_000_000;

/// The longest expected arrival span accepted, seconds (`num_requests / rate`).
pub const MAX_EXPECTED_SPAN_S: f64 = 1e9;

/// A synthetic workload: one or more classes of requests. In JSON, a single unnamed class is
/// written with its fields directly under `generator`; several as `{"classes": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawGenerator", into = "RawGenerator")]
pub struct Generator {
    /// The classes; their requests are merged by arrival.
    pub classes: Vec<GeneratorClass>,
}

impl Default for Generator {
    /// One class of 1,000 Poisson arrivals at 4 req/s; prompts log-normal around 1,000 tokens,
    /// outputs around 200 (σ = 0.8), capped at 8,192 and 2,048 tokens.
    fn default() -> Self {
        Generator { classes: vec![GeneratorClass::default()] }
    }
}

/// One class of requests (a tenant, an application): its arrivals, lengths and sessions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneratorClass {
    /// The class name (the tenant); empty for the single class of a one-class generator.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// How requests (or, with sessions, sessions) arrive.
    pub arrivals: Arrivals,
    /// How many requests to generate (turns, with sessions).
    pub num_requests: u32,
    /// Prompt lengths, tokens (with sessions: the new user message of each turn).
    pub prompt_tokens: Lengths,
    /// Output lengths, tokens.
    pub output_tokens: Lengths,
    /// Multi-turn sessions, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<Sessions>,
}

impl Default for GeneratorClass {
    fn default() -> Self {
        GeneratorClass {
            name: String::new(),
            arrivals: Arrivals::Poisson { rate_per_s: 4.0 },
            num_requests: 1_000,
            prompt_tokens: Lengths::Lognormal { median: 1_000.0, sigma: 0.8, max: 8_192 },
            output_tokens: Lengths::Lognormal { median: 200.0, sigma: 0.8, max: 2_048 },
            sessions: None,
        }
    }
}

/// Multi-turn sessions (conversations, agent loops). A session ends early when its next prompt
/// would pass [`MAX_SESSION_PROMPT_TOKENS`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sessions {
    /// Turns per session.
    pub turns: Lengths,
    /// Mean seconds between a turn's answer and the next turn (exponentially distributed).
    pub think_time_s: f64,
    /// Tokens of a system prompt every session of the class starts with (a shared prefix).
    pub system_prompt_tokens: u32,
}

impl Default for Sessions {
    /// 4 turns, 5 s of thinking, a 1,000-token system prompt.
    fn default() -> Self {
        Sessions { turns: Lengths::Fixed { tokens: 4 }, think_time_s: 5.0, system_prompt_tokens: 1_000 }
    }
}

/// The generator as written in JSON: either one class's fields or `classes`.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGenerator {
    #[serde(skip_serializing_if = "Option::is_none")]
    arrivals: Option<Arrivals>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_requests: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_tokens: Option<Lengths>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_tokens: Option<Lengths>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions: Option<Sessions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    classes: Option<Vec<GeneratorClass>>,
}

impl TryFrom<RawGenerator> for Generator {
    type Error = String;

    fn try_from(raw: RawGenerator) -> Result<Self, String> {
        let single = raw.arrivals.is_some()
            || raw.num_requests.is_some()
            || raw.prompt_tokens.is_some()
            || raw.output_tokens.is_some()
            || raw.sessions.is_some();
        match raw.classes {
            Some(_) if single => Err("give either `classes` or one class's fields (arrivals, num_requests, \
                                      prompt_tokens, output_tokens, sessions), not both"
                .to_owned()),
            Some(classes) => Ok(Generator { classes }),
            None => {
                let defaults = GeneratorClass::default();
                Ok(Generator {
                    classes: vec![GeneratorClass {
                        name: String::new(),
                        arrivals: raw.arrivals.unwrap_or(defaults.arrivals),
                        num_requests: raw.num_requests.unwrap_or(defaults.num_requests),
                        prompt_tokens: raw.prompt_tokens.unwrap_or(defaults.prompt_tokens),
                        output_tokens: raw.output_tokens.unwrap_or(defaults.output_tokens),
                        sessions: raw.sessions,
                    }],
                })
            }
        }
    }
}

impl From<Generator> for RawGenerator {
    fn from(generator: Generator) -> Self {
        match generator.classes.as_slice() {
            [only] if only.name.is_empty() => RawGenerator {
                arrivals: Some(only.arrivals),
                num_requests: Some(only.num_requests),
                prompt_tokens: Some(only.prompt_tokens),
                output_tokens: Some(only.output_tokens),
                sessions: only.sessions,
                classes: None,
            },
            _ => RawGenerator { classes: Some(generator.classes), ..RawGenerator::default() },
        }
    }
}

/// The random streams of class `index`. Class 0 keeps the streams a one-class generator
/// always used, so its workloads are unchanged.
fn streams(seed: u64, index: u64) -> [RngStream; 4] {
    let ids = if index == 0 {
        [StreamId::ARRIVALS, StreamId::LENGTHS, StreamId::LENGTHS.child(1), StreamId::SESSIONS]
    } else {
        [
            StreamId::ARRIVALS.child(index),
            StreamId::LENGTHS.child(2 * index),
            StreamId::LENGTHS.child(2 * index + 1),
            StreamId::SESSIONS.child(index),
        ]
    };
    ids.map(|id| RngStream::new(seed, id))
}

/// A row being generated, before rows of all classes are merged.
struct Row {
    /// Arrival (roots) or the root's arrival (followers), seconds.
    at_s: f64,
    class: u16,
    session: u32,
    prompt_tokens: u32,
    output_tokens: u32,
    /// Index among all generated rows of the row this one follows, and the pause after it.
    follows: Option<(usize, f64)>,
    hashes: Vec<u64>,
}

/// Hands out prefix-hash ids: the class's shared system-prompt blocks, and fresh ones.
struct HashIds {
    next: u64,
}

impl HashIds {
    fn fresh(&mut self) -> u64 {
        self.next += 1;
        self.next - 1
    }

    /// The ids of blocks `known.len()..count`, allocated and remembered in `known`.
    fn extend(&mut self, known: &mut Vec<u64>, count: usize) {
        while known.len() < count {
            let id = self.fresh();
            known.push(id);
        }
    }
}

impl Generator {
    /// A generator of one class.
    pub fn single(class: GeneratorClass) -> Generator {
        Generator { classes: vec![class] }
    }

    /// Total requests over all classes.
    pub fn num_requests(&self) -> u64 {
        self.classes.iter().map(|class| u64::from(class.num_requests)).sum()
    }

    /// Whether the classes are named (the trace then has a class column).
    fn has_classes(&self) -> bool {
        self.classes.len() > 1 || self.classes.iter().any(|class| !class.name.is_empty())
    }

    /// The requests this generator makes with `seed`. Each class draws its arrivals, prompt
    /// lengths, output lengths and session shapes from streams of its own, so changing one
    /// distribution (or adding a class) never changes the draws of another.
    ///
    /// # Example
    ///
    /// ```
    /// use servesim_core::workload::Generator;
    ///
    /// let trace = Generator::default().generate(42);
    /// assert_eq!(trace.num_requests(), 1_000);
    /// assert_eq!(trace, Generator::default().generate(42));
    /// ```
    pub fn generate(&self, seed: u64) -> Trace {
        let mut rows = Vec::new();
        let mut ids = HashIds { next: 0 };
        let mut num_sessions = 0u32;
        for (index, class) in self.classes.iter().enumerate() {
            class.generate(index as u16, streams(seed, index as u64), &mut rows, &mut ids, &mut num_sessions);
        }
        let with_sessions = self.classes.iter().any(|class| class.sessions.is_some());
        // Merge by arrival; a stable sort keeps each class's rows (and a session's turns) in order.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| rows[a].at_s.total_cmp(&rows[b].at_s));
        let mut position = vec![0u32; rows.len()];
        for (new, &old) in order.iter().enumerate() {
            position[old] = new as u32;
        }
        let mut trace = Trace::empty(TraceFormat::Generated);
        if with_sessions {
            trace.hash_block_tokens = GENERATED_HASH_BLOCK_TOKENS;
            trace.block_starts.push(0);
        }
        let chained = rows.iter().any(|row| row.follows.is_some());
        if self.has_classes() {
            trace.class_names = self.classes.iter().map(|class| class.name.clone()).collect();
        }
        for &old in &order {
            let row = &rows[old];
            trace.arrived_at.push(SimTime::from_secs_f64(row.at_s));
            trace.prompt_tokens.push(row.prompt_tokens);
            trace.output_tokens.push(row.output_tokens);
            if with_sessions {
                trace.block_hashes.extend_from_slice(&row.hashes);
                trace.block_starts.push(trace.block_hashes.len() as u32);
                trace.sessions.push(row.session);
            }
            if self.has_classes() {
                trace.classes.push(row.class);
            }
            if chained {
                let (follows, think) = match row.follows {
                    Some((previous, think_s)) => (position[previous], SimDuration::from_secs_f64(think_s)),
                    None => (super::NO_ROW, SimDuration::ZERO),
                };
                trace.follows.push(follows);
                trace.think_time.push(think);
            }
        }
        if with_sessions {
            trace.renumber_sessions();
        }
        trace
    }
}

impl GeneratorClass {
    /// Appends this class's rows.
    fn generate(
        &self,
        class: u16,
        [mut arrivals, mut prompts, mut outputs, mut shapes]: [RngStream; 4],
        rows: &mut Vec<Row>,
        ids: &mut HashIds,
        num_sessions: &mut u32,
    ) {
        let first_row = rows.len();
        let target = first_row + self.num_requests as usize;
        let mut system_ids = Vec::new();
        let mut schedule = Schedule::new(self.arrivals, &mut arrivals);
        // The last row of each unit (a session, or a single request), for closed loops.
        let mut unit_ends: Vec<usize> = Vec::new();
        while rows.len() < target {
            let turns = self.sessions.map_or(1, |sessions| sessions.turns.draw(&mut shapes)) as usize;
            // The unit's first turn: at its time, or after the end of the client's previous unit.
            let (root_at_s, root_follows) = match schedule.next_start() {
                Start::At(at_s) => (at_s, None),
                Start::After { unit, think_s } => (rows[unit_ends[unit]].at_s, Some((unit_ends[unit], think_s))),
            };
            let session = *num_sessions;
            *num_sessions += 1;
            let mut session_ids = Vec::new();
            let mut context = 0u64;
            for turn in 0..turns.min(target - rows.len()) {
                let user = self.prompt_tokens.draw(&mut prompts);
                let output = self.output_tokens.draw(&mut outputs);
                if let Some(sessions) = self.sessions {
                    let grown = u64::from(sessions.system_prompt_tokens) + context + u64::from(user);
                    if turn > 0 && grown > MAX_SESSION_PROMPT_TOKENS {
                        // The conversation outgrew any context window: the user starts a new one.
                        break;
                    }
                }
                let (prompt, hashes, follows) = match self.sessions {
                    None => (user, Vec::new(), root_follows),
                    Some(sessions) => {
                        let system = u64::from(sessions.system_prompt_tokens);
                        let prompt = (system + context + u64::from(user)).min(u64::from(u32::MAX));
                        let hashes = session_hashes(prompt, system, &mut system_ids, &mut session_ids, ids);
                        let follows = if turn == 0 {
                            root_follows
                        } else {
                            let think_s = if sessions.think_time_s > 0.0 {
                                shapes.exponential(1.0 / sessions.think_time_s)
                            } else {
                                0.0
                            };
                            Some((rows.len() - 1, think_s))
                        };
                        context += u64::from(user) + u64::from(output);
                        (prompt as u32, hashes, follows)
                    }
                };
                rows.push(Row {
                    at_s: root_at_s,
                    class,
                    session,
                    prompt_tokens: prompt,
                    output_tokens: output,
                    follows,
                    hashes,
                });
            }
            unit_ends.push(rows.len() - 1);
        }
    }
}

/// The prefix hashes of a prompt of `prompt` tokens whose first `system` tokens are the class's
/// system prompt: shared ids for full system blocks, the session's ids for its other full
/// blocks, and a fresh id for a partial last block.
fn session_hashes(
    prompt: u64,
    system: u64,
    system_ids: &mut Vec<u64>,
    session_ids: &mut Vec<u64>,
    ids: &mut HashIds,
) -> Vec<u64> {
    let block = u64::from(GENERATED_HASH_BLOCK_TOKENS);
    let full = (prompt / block) as usize;
    let full_system = ((system / block) as usize).min(full);
    ids.extend(system_ids, full_system);
    let mut hashes: Vec<u64> = system_ids[..full_system].to_vec();
    // The session's ids are indexed by block number, from the first block not all system.
    ids.extend(session_ids, full - full_system);
    hashes.extend_from_slice(&session_ids[..full - full_system]);
    if !prompt.is_multiple_of(block) {
        hashes.push(ids.fresh());
    }
    hashes
}

#[cfg(test)]
mod tests;
