//! Auto-detected trace import (every format: Mooncake, Bailian, Azure, BurstGPT, SplitwiseSim,
//! Vidur, length-only, gzip) from arbitrary bytes pushed in arbitrary chunks: never panics,
//! chunking never changes the result, and a successful import satisfies the trace invariants.
//!
//! Input: byte 0 = options (bit 0: skip_bad_rows; bits 1..: chunk size limit), byte 1 = chunk
//! seed, the rest = the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servesim_core::workload::ImportOptions;
use servesim_fuzz::{import_both_ways, Chunks};

fuzz_target!(|data: &[u8]| {
    let [flags, seed, file @ ..] = data else { return };
    let options = ImportOptions { columns: None, skip_bad_rows: flags & 1 == 1 };
    let _ = import_both_ways(file, &options, &mut Chunks::new(flags >> 1, *seed));
});
