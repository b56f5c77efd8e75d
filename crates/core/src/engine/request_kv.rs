//! One request's KV blocks: the prefix runs it shares through the cache, and the private blocks
//! it alone holds.
//!
//! A request's blocks, in order, are: the runs of its prompt's prefix hashes (hit in the cache,
//! or filled by this request as it computes them), the run of its own private blocks cached by
//! an earlier preemption (when it hit it), then plain blocks. Prefix hashes come from the trace,
//! one per `hash_block_tokens` tokens (Mooncake: 512); with engine blocks of `block_size` tokens
//! each hash covers `hash_block_tokens / block_size` blocks, or, when blocks are larger, each block
//! is keyed by the last hash it covers. Only full blocks are cached, as in vLLM.

use super::kv_cache::{BlockKey, KvCacheManager, RunId};
use crate::ids::RequestId;

/// Which of a prompt's blocks are keyed by which prefix hash.
#[derive(Clone, Copy, Debug)]
pub struct PrefixLayout<'t> {
    hashes: &'t [u64],
    /// Blocks per span (one prefix hash's blocks).
    blocks_per_span: u32,
    /// Hashes per span (more than one when blocks are larger than hash blocks).
    hashes_per_span: u32,
    /// The prompt's full blocks that have a hash.
    hashed_blocks: u32,
}

impl<'t> PrefixLayout<'t> {
    /// The layout of a prompt of `prompt_tokens` tokens whose hashes, one per
    /// `hash_block_tokens` tokens, are `hashes`, in blocks of `block_size` tokens. Both sizes
    /// are powers of two; without hashes nothing is keyed.
    pub fn new(hashes: &'t [u64], hash_block_tokens: u32, block_size: u32, prompt_tokens: u64) -> PrefixLayout<'t> {
        if hashes.is_empty() || hash_block_tokens == 0 {
            return PrefixLayout { hashes, blocks_per_span: 1, hashes_per_span: 1, hashed_blocks: 0 };
        }
        let (blocks_per_span, hashes_per_span) = if block_size <= hash_block_tokens {
            (hash_block_tokens / block_size, 1)
        } else {
            (1, block_size / hash_block_tokens)
        };
        let covered_tokens = hashes.len() as u64 * u64::from(hash_block_tokens);
        let hashed_blocks = (prompt_tokens.min(covered_tokens) / u64::from(block_size)) as u32;
        PrefixLayout { hashes, blocks_per_span, hashes_per_span, hashed_blocks }
    }

    /// The layout of a prompt without prefix hashes (nothing is keyed), in blocks of
    /// `block_size` tokens.
    pub fn empty(block_size: u32) -> PrefixLayout<'static> {
        PrefixLayout::new(&[], 0, block_size, 0)
    }

    /// Number of spans (runs) the prompt's hashed blocks form.
    pub fn num_spans(&self) -> u32 {
        self.hashed_blocks.div_ceil(self.blocks_per_span)
    }

    /// The first block of span `span` and one past its last.
    pub fn span_blocks(&self, span: u32) -> (u32, u32) {
        let start = span * self.blocks_per_span;
        (start, (start + self.blocks_per_span).min(self.hashed_blocks))
    }

    /// The key of span `span`: the last prefix hash it covers (hashes chain the prefix).
    pub fn key(&self, span: u32) -> BlockKey {
        let last = ((span + 1) * self.hashes_per_span) as usize - 1;
        BlockKey::Prefix(self.hashes[last.min(self.hashes.len() - 1)])
    }

    /// The prompt's full blocks that have a hash.
    pub fn hashed_blocks(&self) -> u32 {
        self.hashed_blocks
    }
}

/// What a waiting request would hit in the cache, found by [`Hit::look_up`].
#[derive(Clone, Debug, Default)]
pub struct Hit {
    /// The runs to acquire, in order, and whether this request fills the last one.
    runs: Vec<RunId>,
    fills_last: bool,
    /// The last run is partial and another request holds it: this request uses its blocks
    /// but places its own after them as plain blocks.
    stops_claiming: bool,
    private_run: Option<RunId>,
    /// Blocks counted as computed (at most `num_tokens − 1` tokens' worth), the host tier's
    /// included.
    pub num_cached_blocks: u32,
    /// Of those, blocks to load from the host tier (after the GPU's, in block order).
    pub num_host_blocks: u32,
    /// The host ranges they come from: `(key, blocks)`.
    host_loads: Vec<(BlockKey, u32)>,
    /// Blocks the acquired runs hold (the request's blocks once admitted).
    pub num_held_blocks: u32,
    /// Of those, blocks that are free now (acquiring takes them out of the free count).
    pub num_evictable_blocks: u32,
    /// Spans fully held.
    num_spans: u32,
    /// Prefix blocks in the acquired runs.
    num_prefix_blocks: u32,
}

impl Hit {
    /// Finds the longest cached prefix of a request with `layout`, counting at most
    /// `max_cached_blocks` blocks as computed (vLLM recomputes at least the last token). After a
    /// preemption, the request's own private run (`private`: the block it starts at, and its
    /// key) extends the hit when the prefix hits reach exactly its start.
    pub fn look_up(
        &mut self,
        kv: &KvCacheManager,
        layout: &PrefixLayout<'_>,
        private: Option<(u32, RequestId)>,
        max_cached_blocks: u32,
    ) {
        self.runs.clear();
        self.host_loads.clear();
        *self = Hit {
            runs: std::mem::take(&mut self.runs),
            host_loads: std::mem::take(&mut self.host_loads),
            ..Hit::default()
        };
        // Where the GPU's hits end, the host tier may go on: `(span, its blocks on the GPU)`.
        let mut host_from = None;
        for span in 0..layout.num_spans() {
            let (start, end) = layout.span_blocks(span);
            let span_blocks = end - start;
            let Some(cached) = kv.lookup(layout.key(span)) else {
                host_from = Some((span, 0));
                break;
            };
            // A run held twice would be counted twice (a record repeating a hash id).
            if cached.num_blocks > span_blocks
                || self.num_cached_blocks >= max_cached_blocks
                || self.runs.contains(&cached.run)
            {
                break;
            }
            self.take(cached.num_blocks, cached.is_free, max_cached_blocks);
            self.runs.push(cached.run);
            self.num_prefix_blocks += cached.num_blocks;
            if cached.num_blocks < span_blocks {
                // Partially evicted: this request computes (or loads) and appends the rest,
                // unless another request holds the run (only traces whose hashes do not chain
                // the prefix, with one hash for prompts of different lengths, get there).
                self.fills_last = cached.is_free;
                self.stops_claiming = !cached.is_free;
                if cached.is_free {
                    host_from = Some((span, cached.num_blocks));
                }
                break;
            }
            self.num_spans += 1;
        }
        let partial_prefix = self.fills_last || self.stops_claiming;
        if let Some((span, on_gpu)) = host_from {
            self.load_prefix_from_host(kv, layout, span, on_gpu, max_cached_blocks);
        }
        let Some((start, request)) = private else { return };
        if self.num_cached_blocks >= max_cached_blocks {
            return;
        }
        let key = BlockKey::Private { request, start };
        if self.num_host_blocks == 0 && !partial_prefix && self.num_held_blocks == start {
            // Its own blocks right after the GPU's prefix hits: on the GPU, then on the host.
            let mut on_gpu = 0;
            if let Some(cached) = kv.lookup(key) {
                self.take(cached.num_blocks, cached.is_free, max_cached_blocks);
                self.private_run = Some(cached.run);
                on_gpu = cached.num_blocks;
            }
            self.load_from_host(kv, key, on_gpu, u32::MAX, max_cached_blocks);
        } else if self.num_held_blocks + self.num_host_blocks == start {
            // After blocks loaded from the host, its own can only come from the host too (the
            // GPU's run would have to sit before the loaded blocks).
            self.load_from_host(kv, key, 0, u32::MAX, max_cached_blocks);
        }
    }

    /// Extends the hit with the host tier's blocks of span `span` and the spans after it
    /// (while they are wholly in host memory and not on the GPU), from block `on_gpu` of the
    /// span.
    fn load_prefix_from_host(
        &mut self,
        kv: &KvCacheManager,
        layout: &PrefixLayout<'_>,
        mut span: u32,
        mut on_gpu: u32,
        max_cached_blocks: u32,
    ) {
        while span < layout.num_spans() {
            let (start, end) = layout.span_blocks(span);
            if !self.load_from_host(kv, layout.key(span), on_gpu, end - start, max_cached_blocks) {
                return;
            }
            span += 1;
            on_gpu = 0;
            if span < layout.num_spans() && kv.lookup(layout.key(span)).is_some() {
                // The GPU holds the next span, but its run cannot follow loaded blocks in this
                // request's order: the request computes the rest.
                return;
            }
        }
    }

    /// Counts the host tier's blocks of `key` from block `from` up to `until` as cached, to
    /// be loaded. Returns whether they reach `until`.
    fn load_from_host(
        &mut self,
        kv: &KvCacheManager,
        key: BlockKey,
        from: u32,
        until: u32,
        max_cached_blocks: u32,
    ) -> bool {
        let Some((start, end)) = kv.host().and_then(|host| host.range(key)) else { return false };
        if start > from || end <= from {
            return false;
        }
        let available = end.min(until) - from;
        let taken = available.min(max_cached_blocks - self.num_cached_blocks);
        if taken == 0 {
            return false;
        }
        self.num_cached_blocks += taken;
        self.num_host_blocks += taken;
        self.host_loads.push((key, taken));
        taken == until - from
    }

    /// The host ranges the hit loads from, `(key, blocks)`.
    pub fn host_loads(&self) -> &[(BlockKey, u32)] {
        &self.host_loads
    }

    fn take(&mut self, blocks: u32, is_free: bool, max_cached_blocks: u32) {
        self.num_cached_blocks += blocks.min(max_cached_blocks - self.num_cached_blocks);
        self.num_held_blocks += blocks;
        if is_free {
            self.num_evictable_blocks += blocks;
        }
    }
}

/// The KV blocks a running request holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestKv {
    /// Prefix runs held, in block order.
    runs: Vec<RunId>,
    /// The prefix run this request is appending its computed blocks to.
    filling: Option<RunId>,
    /// Spans fully held; the next block to place is in span `num_spans`.
    num_spans: u32,
    /// Whether new blocks may still go into prefix runs (false once a span is cached by
    /// another request, or without prefix caching).
    claiming: bool,
    /// Its own private run, hit after a preemption.
    private_run: Option<RunId>,
    /// Blocks held in all.
    held_blocks: u32,
    /// Blocks held in prefix runs (blocks `0..prefix_blocks`).
    prefix_blocks: u32,
}

impl RequestKv {
    /// Acquires what `hit` found for a request with `layout`; without prefix caching pass an
    /// empty hit and `caching` off.
    pub fn admit(kv: &mut KvCacheManager, hit: &Hit, layout: &PrefixLayout<'_>, caching: bool) -> RequestKv {
        for (index, &run) in hit.runs.iter().enumerate() {
            kv.acquire(run, hit.fills_last && index + 1 == hit.runs.len());
        }
        if let Some(run) = hit.private_run {
            kv.acquire(run, false);
        }
        let mut runs = Vec::with_capacity(if caching { layout.num_spans() as usize } else { 0 });
        runs.extend_from_slice(&hit.runs);
        RequestKv {
            runs,
            filling: if hit.fills_last { hit.runs.last().copied() } else { None },
            num_spans: hit.num_spans,
            claiming: caching && hit.private_run.is_none() && !hit.stops_claiming,
            private_run: hit.private_run,
            held_blocks: hit.num_held_blocks,
            prefix_blocks: hit.num_prefix_blocks,
        }
    }

    /// Blocks held (for a decoding request: those held when it joined the decode pool; its
    /// context implies the rest).
    pub fn held_blocks(&self) -> u32 {
        self.held_blocks
    }

    /// The runs held: prefix runs in order, then the private run.
    pub fn runs(&self) -> impl Iterator<Item = RunId> + '_ {
        self.runs.iter().copied().chain(self.private_run)
    }

    /// Takes `needed` more blocks from the cache (the caller checked they are free) for a
    /// request whose KV will hold `computed_tokens` tokens once this step's chunk is computed,
    /// and places them: into the prefix runs of the spans they cover while this request may
    /// claim them, otherwise as plain blocks. A run can be hit once its last block is full, as
    /// vLLM caches only full blocks.
    pub fn grow(
        &mut self,
        kv: &mut KvCacheManager,
        layout: &PrefixLayout<'_>,
        needed: u32,
        computed_tokens: u64,
        block_size: u32,
    ) {
        if needed > 0 {
            kv.allocate(needed).expect("the scheduler checked the free blocks");
        }
        let target = self.held_blocks + needed;
        let full_blocks = computed_tokens / u64::from(block_size);
        // While claiming, every held block is placed in a prefix run, except blocks taken
        // without placing them (`take_unplaced`), which are placed now.
        let mut block = self.prefix_blocks;
        while self.claiming {
            if let Some(run) = self.filling {
                let (_, end) = layout.span_blocks(self.num_spans);
                let placed = target.min(end).saturating_sub(block);
                kv.append(run, placed);
                self.prefix_blocks += placed;
                block += placed;
                if block < end || full_blocks < u64::from(end) {
                    break; // the span's blocks are not all placed, or its last is not full yet
                }
                kv.finish_filling(run);
                self.filling = None;
                self.num_spans += 1;
                continue;
            }
            if block >= target {
                break;
            }
            if block >= layout.hashed_blocks() {
                self.claiming = false;
                break;
            }
            debug_assert_eq!(block, layout.span_blocks(self.num_spans).0, "a new span starts at its first block");
            match kv.insert(layout.key(self.num_spans)) {
                Some(run) => {
                    self.runs.push(run);
                    self.filling = Some(run);
                }
                // Another request cached this prefix first: the rest stays private.
                None => self.claiming = false,
            }
        }
        self.held_blocks = target;
    }

    /// Takes `needed` more blocks from the cache (the caller checked they are free) without
    /// placing them in prefix runs: blocks whose content is still on its way (a KV transfer),
    /// which no other request may hit yet. A later [`RequestKv::grow`] places them.
    pub fn take_unplaced(&mut self, kv: &mut KvCacheManager, needed: u32) {
        if needed > 0 {
            kv.allocate(needed).expect("the scheduler checked the free blocks");
        }
        self.held_blocks += needed;
    }

    /// Gives every block back when the request leaves with `computed_tokens` tokens of KV.
    /// Blocks go back in vLLM's order, the request's last block first: plain blocks, its
    /// private run, then its prefix runs from the last to the first. A preempted request
    /// (`preempted`, with prefix caching on) first caches its private full blocks under its
    /// own key, so that its recompute can hit them; it returns where they start.
    pub fn release(
        mut self,
        kv: &mut KvCacheManager,
        computed_tokens: u64,
        block_size: u32,
        preempted: Option<RequestId>,
    ) -> u32 {
        let full_blocks = (computed_tokens / u64::from(block_size)) as u32;
        // A decoding request's blocks grew with its context.
        self.held_blocks = self.held_blocks.max(computed_tokens.div_ceil(u64::from(block_size)) as u32);
        if let Some(run) = self.filling.take() {
            // Blocks scheduled but not computed (a partial last block) are not cached.
            let run_start = self.prefix_blocks - kv.num_blocks_of(run);
            let computed_in_run = full_blocks.saturating_sub(run_start).min(kv.num_blocks_of(run));
            let uncomputed = kv.num_blocks_of(run) - computed_in_run;
            kv.truncate(run, uncomputed);
            self.prefix_blocks -= uncomputed;
        }
        let private_start = self.prefix_blocks;
        let mut private_run_blocks = self.private_run.map_or(0, |run| kv.num_blocks_of(run));
        if let Some(request) = preempted {
            let new_full = full_blocks.saturating_sub(self.prefix_blocks + private_run_blocks);
            if new_full > 0 {
                let start = self.prefix_blocks;
                let run = self.private_run.or_else(|| kv.insert(BlockKey::Private { request, start }));
                if let Some(run) = run {
                    kv.append(run, new_full);
                    kv.finish_filling(run);
                    private_run_blocks += new_full;
                    self.private_run = Some(run);
                }
            }
        }
        kv.free(self.held_blocks - self.prefix_blocks - private_run_blocks);
        if let Some(run) = self.private_run {
            kv.release(run);
        }
        for &run in self.runs.iter().rev() {
            kv.release(run);
        }
        private_start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mooncake_hashes_of_512_tokens_cover_32_blocks_of_16_and_the_last_partial_one_fewer() {
        let hashes = [10, 11, 12];
        // 1,100 tokens: spans of 512, 512 and 76 tokens; full blocks 32, 32 and 4.
        let layout = PrefixLayout::new(&hashes, 512, 16, 1_100);
        assert_eq!(layout.num_spans(), 3);
        assert_eq!(layout.span_blocks(0), (0, 32));
        assert_eq!(layout.span_blocks(2), (64, 68));
        assert_eq!(layout.key(1), BlockKey::Prefix(11));
        // Blocks of 1,024 tokens cover two hashes each and take the second's key.
        let large = PrefixLayout::new(&hashes, 512, 1024, 1_100);
        assert_eq!((large.num_spans(), large.span_blocks(0), large.key(0)), (1, (0, 1), BlockKey::Prefix(11)));
        // No hashes: nothing is keyed.
        assert_eq!(PrefixLayout::new(&[], 512, 16, 1_100).num_spans(), 0);
    }

    #[test]
    fn a_second_request_hits_the_first_ones_prefix_and_recomputes_its_last_block() {
        let mut kv = KvCacheManager::new(100);
        let hashes = [1, 2];
        let layout = PrefixLayout::new(&hashes, 512, 16, 1_024); // 64 full blocks in 2 spans
        let mut hit = Hit::default();
        hit.look_up(&kv, &layout, None, 63);
        assert_eq!(hit.num_held_blocks, 0);
        let mut first = RequestKv::admit(&mut kv, &hit, &layout, true);
        first.grow(&mut kv, &layout, 40, 640, 16); // a first chunk: span 0 and 8 blocks of span 1
        hit.look_up(&kv, &layout, None, 63);
        assert_eq!(hit.num_cached_blocks, 32, "span 1 is being filled and cannot be hit");
        first.grow(&mut kv, &layout, 24, 1_024, 16);
        first.release(&mut kv, 1_024, 16, None);
        assert_eq!(kv.num_free_blocks(), 100);
        // The same prompt again: everything is cached but the last block is recomputed.
        hit.look_up(&kv, &layout, None, 63);
        assert_eq!((hit.num_cached_blocks, hit.num_held_blocks, hit.num_evictable_blocks), (63, 64, 64));
        let second = RequestKv::admit(&mut kv, &hit, &layout, true);
        assert_eq!(kv.num_free_blocks(), 36);
        second.release(&mut kv, 1_024, 16, None);
    }

    #[test]
    fn a_preempted_request_caches_its_private_blocks_and_hits_them_on_recompute() {
        let mut kv = KvCacheManager::new(100);
        let hashes = [5];
        let layout = PrefixLayout::new(&hashes, 512, 16, 600); // 32 hashed blocks
        let mut hit = Hit::default();
        hit.look_up(&kv, &layout, None, u32::MAX);
        let mut request = RequestKv::admit(&mut kv, &hit, &layout, true);
        // 600 prompt tokens and 100 generated: 700 tokens in 44 blocks (43 full).
        request.grow(&mut kv, &layout, 44, 700, 16);
        let private_start = request.release(&mut kv, 700, 16, Some(RequestId(9)));
        assert_eq!(private_start, 32);
        assert_eq!(kv.lookup(BlockKey::Private { request: RequestId(9), start: 32 }).map(|c| c.num_blocks), Some(11));
        // Recompute 701 tokens: at most 700 cached, so all 43 full blocks hit.
        hit.look_up(&kv, &layout, Some((private_start, RequestId(9))), 700 / 16);
        // A stale private run from an earlier preemption at another start is not hit.
        hit.look_up(&kv, &layout, Some((40, RequestId(9))), 700 / 16);
        assert_eq!(hit.num_held_blocks, 32);
        hit.look_up(&kv, &layout, Some((private_start, RequestId(9))), 700 / 16);
        assert_eq!((hit.num_cached_blocks, hit.num_held_blocks), (43, 43));
    }

    #[test]
    fn a_run_whose_last_block_is_not_full_cannot_be_hit_and_is_cut_to_its_full_blocks() {
        let mut kv = KvCacheManager::new(100);
        let hashes = [1, 2];
        let layout = PrefixLayout::new(&hashes, 512, 16, 1_024);
        let mut hit = Hit::default();
        hit.look_up(&kv, &layout, None, 63);
        let mut request = RequestKv::admit(&mut kv, &hit, &layout, true);
        // A 500-token chunk takes span 0's 32 blocks, the last holding 4 of its 16 tokens.
        request.grow(&mut kv, &layout, 32, 500, 16);
        assert_eq!(kv.lookup(BlockKey::Prefix(1)), None, "vLLM caches full blocks only");
        // Preempted now: only the 31 full blocks stay cached.
        request.release(&mut kv, 500, 16, Some(RequestId(0)));
        assert_eq!(kv.lookup(BlockKey::Prefix(1)).map(|c| c.num_blocks), Some(31));
        assert_eq!(kv.num_free_blocks(), 100);
    }

    #[test]
    fn a_record_repeating_a_hash_counts_its_run_once() {
        let mut kv = KvCacheManager::new(100);
        let hashes = [5, 5, 5];
        let layout = PrefixLayout::new(&hashes, 512, 16, 1_536);
        let mut hit = Hit::default();
        hit.look_up(&kv, &layout, None, 95);
        let mut first = RequestKv::admit(&mut kv, &hit, &layout, true);
        first.grow(&mut kv, &layout, 96, 1_536, 16);
        first.release(&mut kv, 1_536, 16, None);
        hit.look_up(&kv, &layout, None, 95);
        assert_eq!((hit.num_held_blocks, hit.num_evictable_blocks), (32, 32));
        assert!(hit.num_evictable_blocks <= kv.num_free_blocks());
    }
}
