//! Custom CSV / JSONL import through a `ColumnMapping` taken from the input (short column names
//! `a`..`d`, every `TimeUnit`, optional arrival, session and class): never panics, chunking never
//! changes the result, and a successful import satisfies the trace invariants.
//!
//! Input: byte 0 = options (bit 0: skip_bad_rows; bits 1..: chunk size limit), byte 1 = chunk
//! seed, bytes 2-3 = the mapping, the rest = the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servesim_core::workload::{ColumnMapping, ImportOptions, TimeUnit};
use servesim_fuzz::{import_both_ways, Chunks};

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

fuzz_target!(|data: &[u8]| {
    let [flags, seed, fields, extra, file @ ..] = data else { return };
    let name = |bits: u8| NAMES[usize::from(bits & 3)].to_owned();
    let mapping = ColumnMapping {
        arrival: (extra & 0x10 != 0).then(|| name(fields >> 4)),
        arrival_unit: TimeUnit::ALL[usize::from(extra & 0x0f) % TimeUnit::ALL.len()],
        prompt_tokens: name(*fields),
        output_tokens: name(fields >> 2),
        session: (extra & 0x20 != 0).then(|| name(fields >> 6)),
        class: (extra & 0x40 != 0).then(|| name(extra >> 7 | fields >> 5)),
    };
    let options = ImportOptions { columns: Some(mapping), skip_bad_rows: flags & 1 == 1 };
    let _ = import_both_ways(file, &options, &mut Chunks::new(flags >> 1, *seed));
});
