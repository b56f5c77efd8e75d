//! The host KV tier: blocks evicted from the GPUs' cache, kept in host memory of a fixed size
//! with least-recently-used eviction, so that a later request can load them back over the host
//! link instead of recomputing them (vLLM's CPU offloading, SGLang's HiCache, Dynamo's tiers).
//!
//! Content is kept per cache key, as the GPU cache keeps it ([`BlockKey`]): for each key, one
//! range of the run's blocks, `start..end` (the GPU cache evicts a run from its tail, so what
//! the host receives from one run grows downwards and stays one range). A request can use the
//! host's blocks of a key from the block where the GPU's cached blocks of that key end.
//!
//! A preempted request's blocks can be **pinned** here (swap preemption): pinned ranges are
//! never evicted, and are dropped once the request is readmitted.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use super::kv_cache::{BlockKey, KeyHasher};

/// One key's blocks in host memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    start: u32,
    end: u32,
    /// Its place in the LRU order; pinned entries are not in it.
    stamp: u64,
    pinned: bool,
}

impl Entry {
    fn num_blocks(&self) -> u64 {
        u64::from(self.end - self.start)
    }
}

/// Counts over a run, for reports and conservation checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCounts {
    /// Blocks the GPU cache evicted into the host (a block evicted again counts again).
    pub stored_blocks: u64,
    /// Blocks loaded back to the GPUs for requests (cache hits in the host tier).
    pub loaded_blocks: u64,
    /// Blocks copied out by swap preemptions, and back in when the swapped request returned.
    pub swapped_out_blocks: u64,
    /// See `swapped_out_blocks`.
    pub swapped_in_blocks: u64,
    /// Swap preemptions that found no room and recomputed instead.
    pub swap_fallbacks: u64,
}

/// Host memory holding evicted KV blocks.
#[derive(Clone, Debug)]
pub struct HostTier {
    capacity_blocks: u64,
    used_blocks: u64,
    pinned_blocks: u64,
    entries: HashMap<BlockKey, Entry, BuildHasherDefault<KeyHasher>>,
    /// Unpinned entries, least recently used first.
    lru: BTreeMap<u64, BlockKey>,
    next_stamp: u64,
    counts: HostCounts,
}

impl HostTier {
    /// An empty tier of `capacity_blocks` blocks.
    pub fn new(capacity_blocks: u64) -> HostTier {
        HostTier {
            capacity_blocks,
            used_blocks: 0,
            pinned_blocks: 0,
            entries: HashMap::default(),
            lru: BTreeMap::new(),
            next_stamp: 0,
            counts: HostCounts::default(),
        }
    }

    /// Blocks the tier holds at most.
    pub fn capacity_blocks(&self) -> u64 {
        self.capacity_blocks
    }

    /// Blocks it holds now.
    pub fn used_blocks(&self) -> u64 {
        self.used_blocks
    }

    /// The run's counts so far.
    pub fn counts(&self) -> HostCounts {
        self.counts
    }

    /// The blocks `start..end` of `key`'s run it holds, if any.
    pub fn range(&self, key: BlockKey) -> Option<(u32, u32)> {
        self.entries.get(&key).map(|entry| (entry.start, entry.end))
    }

    /// The GPU cache evicted blocks `start..end` of `key`'s run: they are written here (joining
    /// a range they extend, else replacing it), then the least recently used ranges make room.
    pub fn store(&mut self, key: BlockKey, start: u32, end: u32) {
        if start >= end || self.capacity_blocks == 0 {
            return;
        }
        // Every eviction counts, a block the host still held too: each load of a block follows
        // its eviction from the GPU, so loads never exceed this count.
        self.counts.stored_blocks += u64::from(end - start);
        let (start, end, pinned) = match self.remove(key) {
            // Evictions come from a run's tail: the new blocks end where the held ones start.
            Some(held) if end >= held.start && start <= held.end => {
                (start.min(held.start), end.max(held.end), held.pinned)
            }
            Some(held) if held.pinned => (held.start, held.end, true),
            _ => (start, end, false),
        };
        self.insert(key, start, end, pinned);
        self.make_room();
    }

    /// A request loads `blocks` of `key`'s range: it becomes the most recently used.
    pub fn on_loaded(&mut self, key: BlockKey, blocks: u32) {
        self.counts.loaded_blocks += u64::from(blocks);
        if let Some(held) = self.remove(key) {
            self.insert(key, held.start, held.end, held.pinned);
        }
    }

    /// A swap preemption copies blocks `start..end` of `key`'s run (the request's private
    /// blocks) here and pins them, evicting unpinned ranges to make room. Returns whether
    /// there was room; without it nothing is stored and the request is recomputed instead.
    pub fn swap_out(&mut self, key: BlockKey, start: u32, end: u32) -> bool {
        let blocks = u64::from(end - start);
        // Pinned blocks of the same key are replaced; unpinned ones would be evicted anyway.
        let pinned_held = self.entries.get(&key).filter(|entry| entry.pinned).map_or(0, Entry::num_blocks);
        if self.pinned_blocks + blocks > self.capacity_blocks + pinned_held {
            self.counts.swap_fallbacks += 1;
            return false;
        }
        self.remove(key);
        self.insert(key, start, end, true);
        self.make_room();
        self.counts.swapped_out_blocks += blocks;
        true
    }

    /// The swapped request is readmitted: its pinned range is dropped (`loaded` blocks of it
    /// were copied back; the rest were still in the GPU cache).
    pub fn swap_in(&mut self, key: BlockKey, loaded: u32) {
        if self.entries.get(&key).is_some_and(|entry| entry.pinned) {
            self.remove(key);
            self.counts.swapped_in_blocks += u64::from(loaded);
        }
    }

    /// Inserts a range as the most recently used.
    fn insert(&mut self, key: BlockKey, start: u32, end: u32, pinned: bool) {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.insert_at(key, Entry { start, end, stamp, pinned });
    }

    /// Inserts a range at its own place in the LRU order.
    fn insert_at(&mut self, key: BlockKey, entry: Entry) {
        self.used_blocks += entry.num_blocks();
        if entry.pinned {
            self.pinned_blocks += entry.num_blocks();
        } else {
            self.lru.insert(entry.stamp, key);
        }
        self.entries.insert(key, entry);
    }

    fn remove(&mut self, key: BlockKey) -> Option<Entry> {
        let entry = self.entries.remove(&key)?;
        self.used_blocks -= entry.num_blocks();
        if entry.pinned {
            self.pinned_blocks -= entry.num_blocks();
        } else {
            self.lru.remove(&entry.stamp);
        }
        Some(entry)
    }

    /// Evicts least recently used ranges, tail blocks first, until the tier fits.
    fn make_room(&mut self) {
        while self.used_blocks > self.capacity_blocks {
            let Some((_, &key)) = self.lru.iter().next() else { break };
            let entry = self.remove(key).expect("listed");
            let over = (self.used_blocks + entry.num_blocks()).saturating_sub(self.capacity_blocks);
            if over < entry.num_blocks() {
                // Keep the range's leading blocks (a prefix is only useful from its start), in
                // its place in the LRU order.
                self.insert_at(key, Entry { end: entry.end - over as u32, ..entry });
            }
        }
    }

    /// Checks the counts against the entries; O(entries), for tests and debug builds.
    ///
    /// # Panics
    ///
    /// Panics when the used or pinned counts disagree with the entries, or the tier overflows
    /// with unpinned blocks.
    pub fn check_invariants(&self) {
        let used: u64 = self.entries.values().map(Entry::num_blocks).sum();
        let pinned: u64 = self.entries.values().filter(|entry| entry.pinned).map(Entry::num_blocks).sum();
        assert_eq!((used, pinned), (self.used_blocks, self.pinned_blocks), "host tier counts disagree");
        assert!(self.used_blocks <= self.capacity_blocks.max(self.pinned_blocks), "host tier overflows");
        assert_eq!(self.lru.len(), self.entries.values().filter(|entry| !entry.pinned).count());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: BlockKey = BlockKey::Prefix(1);
    const B: BlockKey = BlockKey::Prefix(2);

    #[test]
    fn evicted_tails_join_into_one_range_and_the_least_recently_used_go_first() {
        let mut host = HostTier::new(10);
        host.store(A, 6, 8); // the GPU evicted A's blocks 6 and 7
        host.store(A, 4, 6); // then 4 and 5
        assert_eq!(host.range(A), Some((4, 8)));
        host.store(B, 0, 4);
        host.on_loaded(A, 2); // A is used again: B is now the least recently used
        host.store(BlockKey::Prefix(3), 0, 4); // 12 blocks > 10: B loses its last two
        assert_eq!(host.range(B), Some((0, 2)));
        assert_eq!(host.range(A), Some((4, 8)));
        assert_eq!(host.used_blocks(), 10);
        assert_eq!(host.counts().stored_blocks, 12);
        assert_eq!(host.counts().loaded_blocks, 2);
        host.check_invariants();
    }

    #[test]
    fn a_trimmed_range_stays_least_recently_used() {
        let mut host = HostTier::new(6);
        host.store(A, 0, 4);
        host.store(B, 0, 2);
        host.store(BlockKey::Prefix(3), 0, 1); // A loses one block but stays the oldest
        host.store(BlockKey::Prefix(4), 0, 1); // so it loses another, not B
        assert_eq!((host.range(A), host.range(B)), (Some((0, 2)), Some((0, 2))));
        host.check_invariants();
    }

    #[test]
    fn pinned_swaps_are_never_evicted_and_fall_back_when_there_is_no_room() {
        let mut host = HostTier::new(6);
        let swapped = BlockKey::Private { request: crate::ids::RequestId(7), start: 2 };
        assert!(host.swap_out(swapped, 0, 4));
        host.store(A, 0, 4); // only 2 blocks of room are left
        assert_eq!(host.range(A), Some((0, 2)));
        assert_eq!(host.range(swapped), Some((0, 4)), "pinned");
        assert!(!host.swap_out(BlockKey::Private { request: crate::ids::RequestId(8), start: 0 }, 0, 3));
        assert_eq!(host.counts().swap_fallbacks, 1);
        host.swap_in(swapped, 4);
        assert_eq!(host.range(swapped), None);
        assert_eq!(host.counts().swapped_in_blocks, 4);
        host.check_invariants();
    }
}
