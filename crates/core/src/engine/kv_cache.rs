//! The KV cache manager: fixed-size blocks, reference counts, a key → blocks map and an LRU
//! queue of free blocks that still hold cached content, modelled on vLLM V1's `BlockPool`.
//!
//! vLLM keeps one object per block. A prompt of Mooncake's conversation trace averages 12,000
//! tokens, 750 blocks of 16, so per-block bookkeeping would cost more than the whole
//! simulation. This manager keeps the same state run-length encoded: a **run** is a sequence
//! of blocks that share one key (the blocks covering one prefix hash of the trace, or the
//! private blocks of one preempted request) or, in the free queue, a sequence of blocks with
//! no content. Everything vLLM does block by block happens here run by run, in the same order:
//!
//! - **Allocate** takes blocks from the head of the free queue. Blocks that were never used
//!   sit there first, as in vLLM's initial queue; after them come freed blocks in the order
//!   they were freed. Taking blocks from a cached run *evicts* them from its tail, as vLLM's
//!   queue holds each freed request's blocks in reverse order (tail blocks first).
//! - **Look up** finds the run cached under a key and how many of its leading blocks are still
//!   cached.
//! - **Acquire** takes a reference on a run (a cache hit); a run that was free leaves the free
//!   queue, as vLLM's `touch` takes a hit block out of the middle of its queue.
//! - **Release** drops a reference; at zero the run joins the free queue's tail, still cached.
//! - **Free** returns blocks without content (a request's partial last block, its private
//!   blocks) to the free queue's tail.
//!
//! A request appends the blocks it computes to the run of the prefix it is filling; while it
//! fills a run, no other request can hit that run (vLLM would let them hit the blocks already
//! scheduled; `docs/architecture.md` lists this and the other differences).
//!
//! # Example
//!
//! ```
//! use servesim_core::engine::{BlockKey, KvCacheManager};
//!
//! let mut kv = KvCacheManager::new(10);
//! kv.allocate(4).unwrap();                            // a request's prompt: 4 blocks
//! let run = kv.insert(BlockKey::Prefix(7)).unwrap();  // its first 3 hold prefix 7
//! kv.append(run, 3);
//! kv.finish_filling(run);
//! kv.free(1);                                         // the request finishes: its last block,
//! kv.release(run);                                    // then its prefix run
//! assert_eq!(kv.num_free_blocks(), 10);
//! assert_eq!(kv.lookup(BlockKey::Prefix(7)).unwrap().num_blocks, 3); // still cached
//! kv.allocate(8).unwrap();                            // 7 uncached blocks go first, then 1 evicted
//! assert_eq!(kv.lookup(BlockKey::Prefix(7)).unwrap().num_blocks, 2);
//! ```

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::host_tier::HostTier;
use crate::ids::RequestId;

/// What a run of blocks caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKey {
    /// The blocks of one prefix hash of the trace (a chain hash: equal keys mean equal
    /// prefixes).
    Prefix(u64),
    /// The private blocks of a preempted request (prompt beyond its shared prefix, plus the
    /// tokens it generated), starting at block `start` of the request, kept so that its
    /// recompute can hit them.
    Private {
        /// The request.
        request: RequestId,
        /// The request's block the run starts at.
        start: u32,
    },
}

impl Hash for BlockKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match *self {
            BlockKey::Prefix(hash) => state.write_u64(hash),
            BlockKey::Private { request, start } => {
                state.write_u64(u64::from(request.0) << 32 | u64::from(start) | 1 << 63);
            }
        }
    }
}

/// A run of blocks in the manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(u32);

/// A cached run found by [`KvCacheManager::lookup`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachedRun {
    /// The run.
    pub run: RunId,
    /// Its leading blocks that are cached.
    pub num_blocks: u32,
    /// Whether it is unreferenced (its blocks count as free until acquired).
    pub is_free: bool,
}

/// [`KvCacheManager::allocate`] asked for more blocks than are free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfBlocks {
    /// Blocks asked for.
    pub wanted: u32,
    /// Blocks free.
    pub free: u32,
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Run {
    key: Option<BlockKey>,
    num_blocks: u32,
    ref_count: u32,
    /// A referencing request is appending the blocks it computes.
    filling: bool,
    prev: u32,
    next: u32,
}

/// A fast hasher for [`BlockKey`]s (SplitMix64's finaliser); keys never reach an adversary.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = self.0.rotate_left(5) ^ value;
    }
}

/// One replica's KV blocks: which are free, which are referenced, what each run caches.
#[derive(Clone, Debug)]
pub struct KvCacheManager {
    num_total_blocks: u32,
    num_free_blocks: u32,
    runs: Vec<Run>,
    vacant: Vec<u32>,
    index: HashMap<BlockKey, u32, BuildHasherDefault<KeyHasher>>,
    /// The free queue, head first (evicted first).
    head: u32,
    tail: u32,
    /// Where evicted blocks go, when the replica has host memory for KV.
    host: Option<HostTier>,
}

impl KvCacheManager {
    /// A cache of `num_blocks` blocks, all free and empty.
    pub fn new(num_blocks: u32) -> KvCacheManager {
        let mut manager = KvCacheManager {
            num_total_blocks: num_blocks,
            num_free_blocks: 0,
            runs: Vec::new(),
            vacant: Vec::new(),
            index: HashMap::default(),
            head: NIL,
            tail: NIL,
            host: None,
        };
        manager.free(num_blocks);
        manager
    }

    /// A cache of `num_blocks` blocks whose evicted blocks go to a host tier of `host_blocks`
    /// blocks.
    pub fn with_host_tier(num_blocks: u32, host_blocks: u64) -> KvCacheManager {
        KvCacheManager { host: Some(HostTier::new(host_blocks)), ..KvCacheManager::new(num_blocks) }
    }

    /// The host tier, if the replica has one.
    pub fn host(&self) -> Option<&HostTier> {
        self.host.as_ref()
    }

    /// The host tier, to load from or swap into.
    pub fn host_mut(&mut self) -> Option<&mut HostTier> {
        self.host.as_mut()
    }

    /// Blocks in the cache.
    pub fn num_total_blocks(&self) -> u32 {
        self.num_total_blocks
    }

    /// Blocks no request references (empty, or holding content that may be evicted).
    pub fn num_free_blocks(&self) -> u32 {
        self.num_free_blocks
    }

    /// Blocks referenced by requests.
    pub fn num_used_blocks(&self) -> u32 {
        self.num_total_blocks - self.num_free_blocks
    }

    /// The run cached under `key` that can be hit, with its cached leading blocks: `None` when
    /// nothing is cached under `key`, or a request is still filling the run.
    pub fn lookup(&self, key: BlockKey) -> Option<CachedRun> {
        let &index = self.index.get(&key)?;
        let run = &self.runs[index as usize];
        (!run.filling && run.num_blocks > 0).then_some(CachedRun {
            run: RunId(index),
            num_blocks: run.num_blocks,
            is_free: run.ref_count == 0,
        })
    }

    /// The blocks a run holds.
    pub fn num_blocks_of(&self, run: RunId) -> u32 {
        self.runs[run.0 as usize].num_blocks
    }

    /// Takes a reference on `run` (a cache hit). A free run leaves the free queue and its
    /// blocks count as used; the caller becomes its filler when `fill` is set.
    pub fn acquire(&mut self, run: RunId, fill: bool) {
        let index = run.0;
        if self.runs[index as usize].ref_count == 0 {
            self.unlink(index);
            self.num_free_blocks -= self.runs[index as usize].num_blocks;
        }
        let entry = &mut self.runs[index as usize];
        entry.ref_count += 1;
        entry.filling |= fill;
    }

    /// Drops a reference on `run`. At zero, its blocks join the tail of the free queue, still
    /// cached (a run without blocks is forgotten).
    ///
    /// # Panics
    ///
    /// Panics if `run` has no reference to drop: reference counts never go below zero.
    pub fn release(&mut self, run: RunId) {
        let index = run.0;
        let entry = &mut self.runs[index as usize];
        assert!(entry.ref_count > 0, "KV run {index} ({:?}) released with no reference held", entry.key);
        entry.ref_count -= 1;
        if entry.ref_count > 0 {
            return;
        }
        entry.filling = false;
        let num_blocks = entry.num_blocks;
        if num_blocks == 0 {
            self.forget(index);
        } else {
            self.num_free_blocks += num_blocks;
            self.link_at_tail(index);
        }
    }

    /// Allocates `n` blocks to the caller, from the head of the free queue: empty blocks and
    /// cached blocks alike, evicting the content of the cached ones (from each run's tail).
    ///
    /// # Errors
    ///
    /// Returns [`OutOfBlocks`] (and allocates nothing) when fewer than `n` blocks are free.
    pub fn allocate(&mut self, n: u32) -> Result<(), OutOfBlocks> {
        if n > self.num_free_blocks {
            return Err(OutOfBlocks { wanted: n, free: self.num_free_blocks });
        }
        let mut needed = n;
        while needed > 0 {
            let head = self.head;
            let run = &mut self.runs[head as usize];
            let taken = needed.min(run.num_blocks);
            run.num_blocks -= taken;
            needed -= taken;
            if let (Some(host), Some(key)) = (&mut self.host, run.key) {
                host.store(key, run.num_blocks, run.num_blocks + taken);
            }
            if run.num_blocks == 0 {
                self.unlink(head);
                self.forget(head);
            }
        }
        self.num_free_blocks -= n;
        Ok(())
    }

    /// Returns `n` blocks the caller holds, without content, to the tail of the free queue.
    pub fn free(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        self.num_free_blocks += n;
        if self.tail != NIL {
            let tail = &mut self.runs[self.tail as usize];
            if tail.key.is_none() {
                tail.num_blocks += n;
                return;
            }
        }
        let index = self.new_run(Run { key: None, num_blocks: n, ref_count: 0, filling: false, prev: NIL, next: NIL });
        self.link_at_tail(index);
    }

    /// Starts a run cached under `key`, referenced once by the caller, who fills it with
    /// [`KvCacheManager::append`]. `None` when a run is already cached under `key`.
    pub fn insert(&mut self, key: BlockKey) -> Option<RunId> {
        let next = match self.vacant.last() {
            Some(&index) => index,
            None => self.runs.len() as u32,
        };
        match self.index.entry(key) {
            Entry::Occupied(_) => return None,
            Entry::Vacant(entry) => entry.insert(next),
        };
        let index =
            self.new_run(Run { key: Some(key), num_blocks: 0, ref_count: 1, filling: true, prev: NIL, next: NIL });
        debug_assert_eq!(index, next);
        Some(RunId(index))
    }

    /// Moves `n` blocks the caller holds (and has computed) into `run`, after its blocks.
    pub fn append(&mut self, run: RunId, n: u32) {
        let entry = &mut self.runs[run.0 as usize];
        debug_assert!(entry.ref_count > 0, "appending to an unreferenced run");
        entry.num_blocks += n;
    }

    /// Moves the last `n` blocks of `run` back to the caller (content not computed after all).
    pub fn truncate(&mut self, run: RunId, n: u32) {
        let entry = &mut self.runs[run.0 as usize];
        debug_assert!(entry.ref_count > 0 && n <= entry.num_blocks, "truncating blocks not held");
        entry.num_blocks -= n;
    }

    /// The caller has appended every block of `run`: other requests may hit it now.
    pub fn finish_filling(&mut self, run: RunId) {
        self.runs[run.0 as usize].filling = false;
    }

    fn new_run(&mut self, run: Run) -> u32 {
        match self.vacant.pop() {
            Some(index) => {
                self.runs[index as usize] = run;
                index
            }
            None => {
                self.runs.push(run);
                (self.runs.len() - 1) as u32
            }
        }
    }

    /// Drops an unlinked run and its key.
    fn forget(&mut self, index: u32) {
        if let Some(key) = self.runs[index as usize].key.take() {
            self.index.remove(&key);
        }
        self.vacant.push(index);
    }

    fn link_at_tail(&mut self, index: u32) {
        let tail = self.tail;
        let run = &mut self.runs[index as usize];
        run.prev = tail;
        run.next = NIL;
        if tail == NIL {
            self.head = index;
        } else {
            self.runs[tail as usize].next = index;
        }
        self.tail = index;
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next) = (self.runs[index as usize].prev, self.runs[index as usize].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.runs[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.runs[next as usize].prev = prev;
        }
        let run = &mut self.runs[index as usize];
        run.prev = NIL;
        run.next = NIL;
    }

    /// Runs held or cached (the cost of [`KvCacheManager::check_invariants`]).
    pub fn num_runs(&self) -> usize {
        self.runs.len() - self.vacant.len()
    }

    /// The free queue from head to tail, as `(key, blocks)` runs; O(queue), for tests.
    pub fn free_queue(&self) -> Vec<(Option<BlockKey>, u32)> {
        let mut queue = Vec::new();
        let mut index = self.head;
        while index != NIL {
            let run = &self.runs[index as usize];
            queue.push((run.key, run.num_blocks));
            index = run.next;
        }
        queue
    }

    /// Checks the manager's invariants; O(runs), for debug builds and tests.
    ///
    /// # Panics
    ///
    /// Panics with the numbers when the free count, the queue or the key map disagree.
    pub fn check_invariants(&self) {
        let queued: u64 = self.free_queue().iter().map(|&(_, blocks)| u64::from(blocks)).sum();
        assert_eq!(queued, u64::from(self.num_free_blocks), "free count differs from the free queue");
        let mut index = self.head;
        while index != NIL {
            let run = &self.runs[index as usize];
            assert!(run.ref_count == 0 && run.num_blocks > 0, "queued run {index} is referenced or empty");
            index = run.next;
        }
        for (key, &index) in &self.index {
            assert_eq!(self.runs[index as usize].key, Some(*key), "key map points at run {index} of another key");
        }
        assert!(self.num_free_blocks <= self.num_total_blocks, "more blocks free than exist");
        if let Some(host) = &self.host {
            host.check_invariants();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_takes_never_used_blocks_first_then_the_least_recently_freed_tail_first() {
        let mut kv = KvCacheManager::new(12);
        // Request A: prefixes 1 and 2 (2 blocks each) and 1 private block.
        kv.allocate(5).unwrap();
        let a1 = kv.insert(BlockKey::Prefix(1)).unwrap();
        kv.append(a1, 2);
        kv.finish_filling(a1);
        let a2 = kv.insert(BlockKey::Prefix(2)).unwrap();
        kv.append(a2, 2);
        kv.finish_filling(a2);
        // A finishes: private block, then its prefixes in reverse order.
        kv.free(1);
        kv.release(a2);
        kv.release(a1);
        // The freed private block joins the never-used ones (both hold nothing).
        assert_eq!(kv.free_queue(), vec![(None, 8), (Some(BlockKey::Prefix(2)), 2), (Some(BlockKey::Prefix(1)), 2)]);
        // The first 8 blocks evict nothing; the 9th comes from prefix 2's tail.
        kv.allocate(9).unwrap();
        assert_eq!(kv.lookup(BlockKey::Prefix(2)).map(|c| c.num_blocks), Some(1));
        assert_eq!(kv.lookup(BlockKey::Prefix(1)).map(|c| c.num_blocks), Some(2));
        kv.allocate(1).unwrap();
        assert_eq!(kv.lookup(BlockKey::Prefix(2)), None, "fully evicted runs are forgotten");
        kv.check_invariants();
    }

    #[test]
    fn a_hit_on_a_free_run_takes_it_out_of_the_free_queue_until_released() {
        let mut kv = KvCacheManager::new(4);
        kv.allocate(2).unwrap();
        let run = kv.insert(BlockKey::Prefix(9)).unwrap();
        kv.append(run, 2);
        kv.finish_filling(run);
        kv.release(run);
        assert_eq!(kv.num_free_blocks(), 4);
        let hit = kv.lookup(BlockKey::Prefix(9)).unwrap();
        assert!(hit.is_free);
        kv.acquire(hit.run, false);
        kv.acquire(hit.run, false); // two requests share it
        assert_eq!(kv.num_free_blocks(), 2);
        assert!(kv.allocate(3).is_err(), "a referenced run is never evicted");
        kv.release(hit.run);
        assert_eq!(kv.num_free_blocks(), 2, "still referenced once");
        kv.release(hit.run);
        assert_eq!(kv.num_free_blocks(), 4);
        kv.check_invariants();
    }

    #[test]
    #[should_panic(expected = "released with no reference held")]
    fn reference_counts_never_go_below_zero() {
        let mut kv = KvCacheManager::new(4);
        let run = kv.insert(BlockKey::Prefix(1)).unwrap();
        kv.allocate(1).unwrap();
        kv.append(run, 1);
        kv.release(run);
        kv.release(run);
    }

    #[test]
    fn a_run_being_filled_cannot_be_hit_and_a_taken_key_cannot_be_inserted_twice() {
        let mut kv = KvCacheManager::new(4);
        let run = kv.insert(BlockKey::Private { request: RequestId(3), start: 0 }).unwrap();
        kv.allocate(1).unwrap();
        kv.append(run, 1);
        assert_eq!(kv.lookup(BlockKey::Private { request: RequestId(3), start: 0 }), None);
        assert_eq!(kv.insert(BlockKey::Private { request: RequestId(3), start: 0 }), None);
        kv.finish_filling(run);
        assert_eq!(kv.lookup(BlockKey::Private { request: RequestId(3), start: 0 }).map(|c| c.is_free), Some(false));
        assert_eq!(kv.allocate(4), Err(OutOfBlocks { wanted: 4, free: 3 }));
    }

    /// vLLM's block pool, block by block: the naive model the run-length manager must match.
    mod oracle {
        use std::collections::{HashMap, VecDeque};

        use proptest::prelude::*;

        use super::super::*;

        #[derive(Default)]
        struct BlockPool {
            key_of: Vec<Option<BlockKey>>,
            queue: VecDeque<usize>,
            runs: HashMap<BlockKey, Vec<usize>>,
            refs: HashMap<BlockKey, u32>,
            filling: Vec<BlockKey>,
            held: Vec<usize>,
        }

        impl BlockPool {
            fn new(n: usize) -> BlockPool {
                BlockPool { key_of: vec![None; n], queue: (0..n).collect(), ..BlockPool::default() }
            }

            fn allocate(&mut self, n: usize) -> bool {
                if n > self.queue.len() {
                    return false;
                }
                for _ in 0..n {
                    let block = self.queue.pop_front().unwrap();
                    if let Some(key) = self.key_of[block].take() {
                        let run = self.runs.get_mut(&key).unwrap();
                        assert_eq!(run.pop(), Some(block), "eviction always takes a run's last cached block");
                        if run.is_empty() && self.refs.get(&key).copied().unwrap_or(0) == 0 {
                            self.runs.remove(&key);
                        }
                    }
                    self.held.push(block);
                }
                true
            }

            fn free(&mut self, n: usize) {
                let start = self.held.len() - n;
                let freed: Vec<usize> = self.held.drain(start..).collect();
                self.queue.extend(freed.into_iter().rev());
            }

            fn lookup(&self, key: BlockKey) -> Option<usize> {
                let run = self.runs.get(&key)?;
                (!self.filling.contains(&key) && !run.is_empty()).then_some(run.len())
            }

            fn insert(&mut self, key: BlockKey) -> bool {
                if self.runs.contains_key(&key) {
                    return false;
                }
                self.runs.insert(key, Vec::new());
                self.refs.insert(key, 1);
                self.filling.push(key);
                true
            }

            fn append(&mut self, key: BlockKey, n: usize) {
                let moved: Vec<usize> = self.held.drain(..n).collect();
                for &block in &moved {
                    self.key_of[block] = Some(key);
                }
                self.runs.get_mut(&key).unwrap().extend(moved);
            }

            fn truncate(&mut self, key: BlockKey, n: usize) {
                let run = self.runs.get_mut(&key).unwrap();
                let start = run.len() - n;
                for block in run.drain(start..).collect::<Vec<_>>() {
                    self.key_of[block] = None;
                    self.held.push(block);
                }
            }

            fn acquire(&mut self, key: BlockKey, fill: bool) {
                let refs = self.refs.entry(key).or_insert(0);
                if *refs == 0 {
                    let blocks = &self.runs[&key];
                    self.queue.retain(|block| !blocks.contains(block));
                }
                *refs += 1;
                if fill {
                    self.filling.push(key);
                }
            }

            fn release(&mut self, key: BlockKey) {
                let refs = self.refs.get_mut(&key).unwrap();
                *refs -= 1;
                if *refs > 0 {
                    return;
                }
                self.filling.retain(|k| *k != key);
                let blocks = self.runs[&key].clone();
                if blocks.is_empty() {
                    self.runs.remove(&key);
                }
                self.queue.extend(blocks.into_iter().rev());
            }

            fn queue_keys(&self) -> Vec<Option<BlockKey>> {
                self.queue.iter().map(|&block| self.key_of[block]).collect()
            }
        }

        const KEYS: [BlockKey; 5] = [
            BlockKey::Prefix(0),
            BlockKey::Prefix(1),
            BlockKey::Prefix(u64::MAX),
            BlockKey::Private { request: RequestId(0), start: 0 },
            BlockKey::Private { request: RequestId(7), start: 4 },
        ];

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn the_manager_matches_a_block_by_block_pool(
                num_blocks in 1u32..24,
                ops in prop::collection::vec((0u8..8, any::<u8>(), any::<u8>()), 1..120),
            ) {
                let mut kv = KvCacheManager::new(num_blocks);
                let mut pool = BlockPool::new(num_blocks as usize);
                // The caller's side: references held per key, runs being filled, plain blocks held.
                let mut held_refs: HashMap<BlockKey, (RunId, u32)> = HashMap::new();
                let mut filling: Vec<BlockKey> = Vec::new();
                let mut plain = 0u32;
                for (kind, a, b) in ops {
                    let key = KEYS[a as usize % KEYS.len()];
                    match kind {
                        0 => {
                            let n = u32::from(a % 6) + 1;
                            let ours = kv.allocate(n).is_ok();
                            prop_assert_eq!(ours, pool.allocate(n as usize));
                            if ours {
                                plain += n;
                            }
                        }
                        1 if plain > 0 => {
                            let n = (u32::from(b) % plain) + 1;
                            kv.free(n);
                            pool.free(n as usize);
                            plain -= n;
                        }
                        2 => {
                            let ours = kv.insert(key);
                            prop_assert_eq!(ours.is_some(), pool.insert(key));
                            if let Some(run) = ours {
                                held_refs.insert(key, (run, 1));
                                filling.push(key);
                            }
                        }
                        3 if plain > 0 && filling.contains(&key) => {
                            let n = (u32::from(b) % plain).min(2) + 1;
                            kv.append(held_refs[&key].0, n);
                            pool.append(key, n as usize);
                            plain -= n;
                        }
                        4 if filling.contains(&key) => {
                            let run = held_refs[&key].0;
                            if b % 3 == 0 && kv.num_blocks_of(run) > 0 {
                                kv.truncate(run, 1);
                                pool.truncate(key, 1);
                                plain += 1;
                            } else {
                                kv.finish_filling(run);
                                pool.filling.retain(|k| *k != key);
                                filling.retain(|k| *k != key);
                            }
                        }
                        5 => {
                            let ours = kv.lookup(key);
                            prop_assert_eq!(ours.map(|c| c.num_blocks as usize), pool.lookup(key));
                            if let Some(hit) = ours {
                                let fill = b % 2 == 0 && !filling.contains(&key);
                                kv.acquire(hit.run, fill);
                                pool.acquire(key, fill);
                                held_refs.entry(key).or_insert((hit.run, 0)).1 += 1;
                                if fill {
                                    filling.push(key);
                                }
                            }
                        }
                        6 if held_refs.contains_key(&key) => {
                            let (run, count) = held_refs[&key];
                            kv.release(run);
                            pool.release(key);
                            if count == 1 {
                                held_refs.remove(&key);
                                filling.retain(|k| *k != key);
                            } else {
                                held_refs.insert(key, (run, count - 1));
                            }
                        }
                        _ => {}
                    }
                    prop_assert_eq!(kv.num_free_blocks() as usize, pool.queue.len());
                    let ours: Vec<Option<BlockKey>> = kv
                        .free_queue()
                        .into_iter()
                        .flat_map(|(key, n)| std::iter::repeat_n(key, n as usize))
                        .collect();
                    prop_assert_eq!(ours, pool.queue_keys(), "the same blocks would be evicted in the same order");
                    for key in KEYS {
                        if !filling.contains(&key) {
                            prop_assert_eq!(kv.lookup(key).map(|c| c.num_blocks as usize), pool.lookup(key));
                        }
                    }
                    kv.check_invariants();
                }
            }
        }
    }
}
