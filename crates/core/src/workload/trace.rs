//! The columnar request trace.

use crate::digest::Digest;
use crate::time::SimTime;

use super::TraceFormat;

/// Requests as parallel columns, sorted by arrival (ties keep file order).
///
/// Row `i` is one request: it arrives at `arrived_at[i]`, has `prompt_tokens[i]` input tokens
/// and asks for `output_tokens[i]` output tokens. When the format carries prefix-block hashes
/// (Mooncake's `hash_ids`), row `i`'s are `block_hashes[block_starts[i]..block_starts[i + 1]]`;
/// otherwise `block_starts` is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The format the trace was read from.
    pub format: TraceFormat,
    /// Tokens covered by each prefix hash (Mooncake: 512); 0 without hashes.
    pub hash_block_tokens: u32,
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
}

impl Trace {
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

    /// A digest of every column; equal traces have equal digests on every target.
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
        digest.finish()
    }
}
