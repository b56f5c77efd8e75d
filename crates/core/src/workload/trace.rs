//! The columnar request trace.

use crate::digest::Digest;
use crate::time::{SimDuration, SimTime};

use super::TraceFormat;

/// "No row" in [`Trace::follows`].
pub const NO_ROW: u32 = u32::MAX;

/// Requests as parallel columns, sorted by arrival (ties keep file order).
///
/// Row `i` is one request: it arrives at `arrived_at[i]`, has `prompt_tokens[i]` input tokens
/// and asks for `output_tokens[i]` output tokens. When the format carries prefix-block hashes
/// (Mooncake's `hash_ids`), row `i`'s are `block_hashes[block_starts[i]..block_starts[i + 1]]`;
/// otherwise `block_starts` is empty. The optional columns `sessions`, `classes`, `follows`
/// and `think_time` are either empty or hold one entry per row.
///
/// A row whose `follows` entry names another row is *chained*: it is sent `think_time` after
/// that row ends (a session's next turn, a closed-loop client's next request), so its arrival
/// is decided by the run; its `arrived_at` holds the arrival of its chain's first row until
/// then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The format the trace was read from.
    pub format: TraceFormat,
    /// Tokens covered by each prefix hash (Mooncake: 512); 0 without hashes.
    pub hash_block_tokens: u32,
    /// Whether `arrived_at` holds real arrival times. A length-only file has none (every row
    /// then arrives at 0 until an arrival process is applied to it).
    pub has_arrivals: bool,
    /// Arrival instants, non-decreasing, relative to the first request of the file's clock.
    pub arrived_at: Vec<SimTime>,
    /// Prompt (input) tokens per request, each ≥ 1.
    pub prompt_tokens: Vec<u32>,
    /// Output tokens per request, each ≥ 1.
    pub output_tokens: Vec<u32>,
    /// Offsets into `block_hashes`, one per request plus one, or empty.
    pub block_starts: Vec<u32>,
    /// Prefix-block hash ids of all requests, concatenated.
    pub block_hashes: Vec<u64>,
    /// The session (conversation) each request belongs to, numbered from 0 in order of first
    /// appearance; empty when the trace has no sessions.
    pub sessions: Vec<u32>,
    /// The class (tenant) of each request, an index into `class_names`; empty without classes.
    pub classes: Vec<u16>,
    /// The class names, in order of first appearance.
    pub class_names: Vec<String>,
    /// The row each row follows ([`NO_ROW`] for none); empty when no row is chained.
    pub follows: Vec<u32>,
    /// The pause between the end of the row followed and this row's arrival.
    pub think_time: Vec<SimDuration>,
}

impl Trace {
    /// A trace of `format` with no requests.
    pub fn empty(format: TraceFormat) -> Trace {
        Trace {
            format,
            hash_block_tokens: 0,
            has_arrivals: true,
            arrived_at: Vec::new(),
            prompt_tokens: Vec::new(),
            output_tokens: Vec::new(),
            block_starts: Vec::new(),
            block_hashes: Vec::new(),
            sessions: Vec::new(),
            classes: Vec::new(),
            class_names: Vec::new(),
            follows: Vec::new(),
            think_time: Vec::new(),
        }
    }

    /// Whether row `row` waits for another row to end.
    pub fn is_chained(&self, row: usize) -> bool {
        self.follows.get(row).is_some_and(|&previous| previous != NO_ROW)
    }

    /// Number of chained rows (see [`Trace::is_chained`]).
    pub fn num_chained(&self) -> usize {
        self.follows.iter().filter(|&&previous| previous != NO_ROW).count()
    }

    /// Renumbers sessions densely in order of first appearance.
    pub(crate) fn renumber_sessions(&mut self) {
        let mut ids = Renumber::default();
        for session in &mut self.sessions {
            *session = ids.of(*session);
        }
    }

    /// Gives back the spare capacity the columns grew while being filled.
    pub fn shrink_to_fit(&mut self) {
        self.arrived_at.shrink_to_fit();
        self.prompt_tokens.shrink_to_fit();
        self.output_tokens.shrink_to_fit();
        self.block_starts.shrink_to_fit();
        self.block_hashes.shrink_to_fit();
        self.sessions.shrink_to_fit();
        self.classes.shrink_to_fit();
        self.follows.shrink_to_fit();
        self.think_time.shrink_to_fit();
    }

    /// Number of requests.
    pub fn num_requests(&self) -> usize {
        self.arrived_at.len()
    }

    /// The prefix-block hashes of request `row`, empty when the format has none.
    ///
    /// # Panics
    ///
    /// Panics if `row` is out of range.
    pub fn block_hashes_of(&self, row: usize) -> &[u64] {
        if self.block_starts.is_empty() {
            return &[];
        }
        &self.block_hashes[self.block_starts[row] as usize..self.block_starts[row + 1] as usize]
    }

    /// Number of distinct sessions (0 when the trace has none).
    pub fn num_sessions(&self) -> usize {
        self.sessions.iter().max().map_or(0, |&last| last as usize + 1)
    }

    /// A copy of the rows `keep` selects, in the order given, with every column carried along.
    /// Sessions and classes are renumbered in order of first appearance among the kept rows; a
    /// chained row whose predecessor is not kept arrives on its own.
    pub fn select(&self, keep: impl IntoIterator<Item = usize>) -> Trace {
        let mut selected = Trace { hash_block_tokens: self.hash_block_tokens, ..Trace::empty(self.format) };
        selected.has_arrivals = self.has_arrivals;
        let mut session_ids = Renumber::default();
        let mut class_ids = Renumber::default();
        if !self.block_starts.is_empty() {
            selected.block_starts.push(0);
        }
        let mut new_index = if self.follows.is_empty() { Vec::new() } else { vec![NO_ROW; self.num_requests()] };
        for row in keep {
            if !self.follows.is_empty() {
                new_index[row] = selected.num_requests() as u32;
                let previous = self.follows[row];
                let kept = if previous == NO_ROW { NO_ROW } else { new_index[previous as usize] };
                selected.follows.push(kept);
                selected.think_time.push(if kept == NO_ROW { SimDuration::ZERO } else { self.think_time[row] });
            }
            selected.arrived_at.push(self.arrived_at[row]);
            selected.prompt_tokens.push(self.prompt_tokens[row]);
            selected.output_tokens.push(self.output_tokens[row]);
            if !self.block_starts.is_empty() {
                selected.block_hashes.extend_from_slice(self.block_hashes_of(row));
                selected.block_starts.push(selected.block_hashes.len() as u32);
            }
            if let Some(&session) = self.sessions.get(row) {
                selected.sessions.push(session_ids.of(session));
            }
            if let Some(&class) = self.classes.get(row) {
                let new = class_ids.of(u32::from(class));
                if new as usize == selected.class_names.len() {
                    selected.class_names.push(self.class_names[usize::from(class)].clone());
                }
                selected.classes.push(new as u16);
            }
        }
        selected
    }

    /// A digest of every column; equal traces have equal digests on every target. The
    /// optional columns count only when present, so a trace without them keeps the digest
    /// it had before they existed.
    pub fn digest(&self) -> u64 {
        let mut digest = Digest::new();
        digest.write_u64(self.num_requests() as u64);
        for row in 0..self.num_requests() {
            digest.write_u64(self.arrived_at[row].as_nanos());
            digest.write_u64(u64::from(self.prompt_tokens[row]));
            digest.write_u64(u64::from(self.output_tokens[row]));
            let hashes = self.block_hashes_of(row);
            digest.write_u64(hashes.len() as u64);
            for &hash in hashes {
                digest.write_u64(hash);
            }
        }
        if !self.sessions.is_empty() {
            self.sessions.iter().for_each(|&session| digest.write_u64(u64::from(session)));
        }
        if !self.follows.is_empty() {
            for (&previous, think) in self.follows.iter().zip(&self.think_time) {
                digest.write_u64(u64::from(previous));
                digest.write_u64(think.as_nanos());
            }
        }
        if !self.classes.is_empty() {
            self.classes.iter().for_each(|&class| digest.write_u64(u64::from(class)));
            for name in &self.class_names {
                digest.write_u64(name.len() as u64);
                name.bytes().for_each(|byte| digest.write_u64(u64::from(byte)));
            }
        }
        digest.finish()
    }
}

/// Numbers ids densely in order of first appearance.
#[derive(Default)]
struct Renumber(std::collections::HashMap<u32, u32>);

impl Renumber {
    fn of(&mut self, id: u32) -> u32 {
        let next = self.0.len() as u32;
        *self.0.entry(id).or_insert(next)
    }
}
