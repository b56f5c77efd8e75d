//! The decoding sequences of one replica, advanced in O(1) per step.
//!
//! A decoding sequence's state is implied by the pool's step counter: after joining at step
//! `joined_at_step` with `context_at_join` tokens in KV, at step `s` it holds
//! `context_at_join + (s − joined_at_step)` tokens. So a step touches no sequence: the total
//! context grows by the number of sequences, finishing sequences come off a min-heap keyed by
//! the step they finish at, and the number of sequences that need a new KV block this step is
//! read from a table of sequences by *block phase* (`(context_at_join − joined_at_step) mod
//! block_size`): a sequence crosses a block boundary exactly when its phase equals
//! `−step mod block_size`. Only joins, leaves and preemptions are explicit work. Each slot
//! carries a payload (the engine's record of the request's KV runs) back out when it leaves.
//!
//! **Speculative decoding** advances each sequence by a random number of tokens, so a
//! [`DecodePool::speculative`] pool keeps each context explicitly (the step counter stays put)
//! and [`DecodePool::step_speculative`] walks the sequences: O(batch) per step, one draw and a
//! few additions per sequence. The block phases still answer how many blocks the next step's
//! verified tokens need, in O(block size).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::ids::RequestId;

/// One decoding sequence's slot.
#[derive(Clone, Debug)]
struct Slot<T> {
    payload: Option<T>,
    request: RequestId,
    admitted: u64,
    joined_at_step: u64,
    context_at_join: u64,
    finishes_at_step: u64,
    /// Bumped when the slot is vacated, so stale heap entries are recognised.
    generation: u32,
    live: bool,
}

/// A sequence that finished or was removed: what the engine needs to account for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departed<T> {
    /// The request.
    pub request: RequestId,
    /// Its admission number (the engine's preemption order).
    pub admitted: u64,
    /// Tokens in its KV cache when it left.
    pub context: u64,
    /// Tokens it still had to decode (0 when it finished).
    pub remaining: u64,
    /// What was given to [`DecodePool::join`].
    pub payload: T,
}

/// Identifies a live sequence in the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotRef(u32);

/// The decoding sequences of a replica.
#[derive(Clone, Debug)]
pub struct DecodePool<T> {
    block_size: u64,
    step: u64,
    slots: Vec<Slot<T>>,
    vacant: Vec<u32>,
    num_live: u32,
    context_sum: u64,
    finishes: BinaryHeap<Reverse<(u64, u32, u32)>>,
    by_phase: Vec<u32>,
    /// Speculative pools: the blocks a sequence of each phase needs for the step's verified
    /// tokens (empty for lockstep pools).
    lookahead_blocks: Vec<u32>,
}

/// What a speculative step did to the pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpeculativeStep {
    /// Tokens the sequences emitted (accepted drafts plus one each, up to what they had left).
    pub emitted: u64,
    /// Draft tokens accepted, as drawn.
    pub accepted: u64,
    /// Blocks the step reserved for verified tokens that were rejected: the caller frees them.
    pub unused_blocks: u64,
}

impl<T> DecodePool<T> {
    /// An empty pool for KV blocks of `block_size` tokens.
    ///
    /// # Panics
    ///
    /// Panics if `block_size` is not a power of two (validation requires one).
    pub fn new(block_size: u32) -> DecodePool<T> {
        assert!(block_size.is_power_of_two(), "KV block sizes are powers of two, got {block_size}");
        DecodePool {
            block_size: u64::from(block_size),
            step: 0,
            slots: Vec::new(),
            vacant: Vec::new(),
            num_live: 0,
            context_sum: 0,
            finishes: BinaryHeap::new(),
            by_phase: vec![0; block_size as usize],
            lookahead_blocks: Vec::new(),
        }
    }

    /// An empty pool for speculative decoding, where each step verifies `tokens_per_step`
    /// tokens per sequence.
    ///
    /// # Panics
    ///
    /// As [`DecodePool::new`].
    pub fn speculative(block_size: u32, tokens_per_step: u32) -> DecodePool<T> {
        let mut pool = DecodePool::new(block_size);
        let (size, lookahead) = (u64::from(block_size), u64::from(tokens_per_step));
        pool.lookahead_blocks =
            (0..size).map(|phase| ((phase + lookahead).div_ceil(size) - phase.div_ceil(size)) as u32).collect();
        pool
    }

    fn is_speculative(&self) -> bool {
        !self.lookahead_blocks.is_empty()
    }

    /// Number of decoding sequences.
    pub fn len(&self) -> u32 {
        self.num_live
    }

    /// Whether no sequence is decoding.
    pub fn is_empty(&self) -> bool {
        self.num_live == 0
    }

    /// Sum of the sequences' KV tokens.
    pub fn context_sum(&self) -> u64 {
        self.context_sum
    }

    fn phase(&self, joined_at_step: u64, context_at_join: u64) -> usize {
        // Block sizes are powers of two: `mod block_size` is a mask.
        let mask = self.block_size - 1;
        (context_at_join.wrapping_sub(joined_at_step) & mask) as usize
    }

    /// Adds a sequence with `context` tokens in KV that will decode `remaining` more tokens
    /// (one per step, `remaining ≥ 1`); `admitted` and `payload` are carried back in
    /// [`Departed`].
    pub fn join(&mut self, request: RequestId, admitted: u64, context: u64, remaining: u64, payload: T) -> SlotRef {
        debug_assert!(remaining >= 1, "a sequence joins the pool with tokens left to decode");
        let slot = Slot {
            payload: Some(payload),
            request,
            admitted,
            joined_at_step: self.step,
            context_at_join: context,
            finishes_at_step: self.step + remaining,
            generation: 0,
            live: true,
        };
        let index = match self.vacant.pop() {
            Some(index) => {
                let generation = self.slots[index as usize].generation;
                self.slots[index as usize] = Slot { generation, ..slot };
                index
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &self.slots[index as usize];
        if !self.is_speculative() {
            self.finishes.push(Reverse((slot.finishes_at_step, index, slot.generation)));
        }
        let phase = self.phase(slot.joined_at_step, slot.context_at_join);
        self.by_phase[phase] += 1;
        self.num_live += 1;
        self.context_sum += context;
        SlotRef(index)
    }

    /// How many new KV blocks the sequences need in the next step: one for each whose context
    /// is a multiple of the block size before it grows by one; under speculative decoding,
    /// those its verified tokens reach into.
    pub fn blocks_needed_next_step(&self) -> u64 {
        if self.is_speculative() {
            return self.by_phase.iter().zip(&self.lookahead_blocks).map(|(&n, &b)| u64::from(n * b)).sum();
        }
        self.blocks_needed_ahead(0)
    }

    /// A speculative step's end: each sequence, in slot order, accepts `draw()` draft tokens
    /// and emits them plus one (no more than it has left); the ones that emitted their last
    /// leave into `finished`.
    pub fn step_speculative(
        &mut self,
        mut draw: impl FnMut() -> u64,
        finished: &mut Vec<Departed<T>>,
    ) -> SpeculativeStep {
        debug_assert!(self.is_speculative(), "a speculative pool");
        let mut outcome = SpeculativeStep::default();
        let mask = self.block_size - 1;
        for index in 0..self.slots.len() {
            if !self.slots[index].live {
                continue;
            }
            let accepted = draw();
            let slot = &mut self.slots[index];
            let context = slot.context_at_join;
            let remaining = slot.finishes_at_step - self.step;
            let advance = (accepted + 1).min(remaining);
            let phase = (context & mask) as usize;
            outcome.unused_blocks += u64::from(self.lookahead_blocks[phase])
                - ((context + advance).div_ceil(self.block_size) - context.div_ceil(self.block_size));
            slot.context_at_join += advance;
            slot.finishes_at_step -= advance;
            self.by_phase[phase] -= 1;
            self.by_phase[((context + advance) & mask) as usize] += 1;
            self.context_sum += advance;
            outcome.emitted += advance;
            outcome.accepted += accepted;
            if advance == remaining {
                finished.push(self.remove(SlotRef(index as u32)));
            }
        }
        outcome
    }

    /// The step after which the next sequence finishes, if any.
    fn next_finish_step(&mut self) -> Option<u64> {
        while let Some(&Reverse((step, index, generation))) = self.finishes.peek() {
            if self.slots[index as usize].generation == generation && self.slots[index as usize].live {
                return Some(step);
            }
            self.finishes.pop();
        }
        None
    }

    /// How many steps from now the next sequence finishes (at the end of that step); `None`
    /// when the pool is empty.
    pub fn steps_to_next_departure(&mut self) -> Option<u64> {
        self.next_finish_step().map(|step| step - self.step)
    }

    /// How many sequences need a new KV block in the step `ahead` steps after the next one,
    /// provided no sequence joins or leaves before it (phases do not change).
    pub fn blocks_needed_ahead(&self, ahead: u64) -> u64 {
        let mask = self.block_size - 1;
        u64::from(self.by_phase[((self.step + ahead).wrapping_neg() & mask) as usize])
    }

    /// Advances every sequence by `steps` tokens at once.
    ///
    /// # Panics
    ///
    /// Panics in debug builds if a sequence would finish within those steps.
    pub fn advance_without_departures(&mut self, steps: u64) {
        debug_assert!(self.steps_to_next_departure().is_none_or(|next| next > steps), "a sequence would finish");
        self.context_sum += u64::from(self.num_live) * steps;
        self.step += steps;
    }

    /// Advances every sequence by one token and returns the ones that finished.
    pub fn step(&mut self, finished: &mut Vec<Departed<T>>) {
        self.context_sum += u64::from(self.num_live);
        self.step += 1;
        while self.next_finish_step() == Some(self.step) {
            let Reverse((_, index, _)) = self.finishes.pop().expect("peeked");
            finished.push(self.remove(SlotRef(index)));
        }
    }

    /// Removes a live sequence (it finished or is preempted).
    pub fn remove(&mut self, slot: SlotRef) -> Departed<T> {
        let index = slot.0 as usize;
        let (joined, at_join) = (self.slots[index].joined_at_step, self.slots[index].context_at_join);
        let phase = self.phase(joined, at_join);
        let entry = &mut self.slots[index];
        debug_assert!(entry.live, "removing a vacant slot");
        entry.live = false;
        entry.generation = entry.generation.wrapping_add(1);
        let context = entry.context_at_join + (self.step - entry.joined_at_step);
        let departed = Departed {
            request: entry.request,
            admitted: entry.admitted,
            context,
            remaining: entry.finishes_at_step - self.step,
            payload: entry.payload.take().expect("a live slot holds its payload"),
        };
        self.by_phase[phase] -= 1;
        self.num_live -= 1;
        self.context_sum -= context;
        self.vacant.push(slot.0);
        departed
    }

    /// KV tokens of a live sequence.
    #[cfg(test)]
    fn context_of(&self, slot: SlotRef) -> u64 {
        let entry = &self.slots[slot.0 as usize];
        entry.context_at_join + (self.step - entry.joined_at_step)
    }

    /// Every live sequence's context (KV tokens) and payload: O(sequences), for invariant
    /// checks only.
    pub fn live(&self) -> impl Iterator<Item = (u64, &T)> + '_ {
        self.slots
            .iter()
            .filter(|slot| slot.live)
            .map(|slot| (slot.context_at_join + self.step - slot.joined_at_step, slot.payload.as_ref().expect("live")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive model the pool must agree with: every sequence tracked explicitly.
    struct Naive {
        block_size: u64,
        sequences: Vec<(RequestId, u64, u64)>, // (request, context, remaining)
    }

    #[test]
    fn the_pool_agrees_with_explicit_per_sequence_tracking() {
        let block_size = 16;
        let mut pool = DecodePool::new(block_size);
        let mut naive = Naive { block_size: 16, sequences: Vec::new() };
        let mut refs = Vec::new();
        let mut rng = crate::rng::RngStream::new(5, crate::rng::StreamId(99));
        let mut finished = Vec::new();
        for step in 0..3_000u32 {
            if rng.below(4) == 0 {
                let (context, remaining) = (1 + rng.below(100), 1 + rng.below(60));
                let request = RequestId(step);
                refs.push((request, pool.join(request, u64::from(step), context, remaining, step)));
                naive.sequences.push((request, context, remaining));
            }
            if rng.below(50) == 0 && !naive.sequences.is_empty() {
                let victim = naive.sequences.remove(rng.below(naive.sequences.len() as u64) as usize);
                let position = refs.iter().position(|(r, _)| *r == victim.0).unwrap();
                let (_, slot) = refs.remove(position);
                assert_eq!(pool.context_of(slot), victim.1);
                let departed = pool.remove(slot);
                assert_eq!((departed.context, departed.remaining), (victim.1, victim.2));
                assert_eq!(departed.payload, victim.0 .0, "the payload given at join comes back");
            }
            let expected_blocks: u64 =
                naive.sequences.iter().filter(|(_, c, _)| c % naive.block_size == 0).count() as u64;
            assert_eq!(pool.blocks_needed_next_step(), expected_blocks, "step {step}");

            finished.clear();
            pool.step(&mut finished);
            for sequence in &mut naive.sequences {
                sequence.1 += 1;
                sequence.2 -= 1;
            }
            let mut done: Vec<RequestId> = naive.sequences.iter().filter(|s| s.2 == 0).map(|s| s.0).collect();
            naive.sequences.retain(|s| s.2 > 0);
            let mut got: Vec<RequestId> = finished.iter().map(|d| d.request).collect();
            done.sort();
            got.sort();
            assert_eq!(got, done, "step {step}");
            refs.retain(|(r, _)| !got.contains(r));
            assert_eq!(pool.len() as usize, naive.sequences.len());
            assert_eq!(pool.context_sum(), naive.sequences.iter().map(|s| s.1).sum::<u64>());
            let naive_blocks: u64 = naive.sequences.iter().map(|s| s.1.div_ceil(16)).sum();
            assert_eq!(pool.live().map(|(context, _)| context.div_ceil(16)).sum::<u64>(), naive_blocks);
        }
    }
}
