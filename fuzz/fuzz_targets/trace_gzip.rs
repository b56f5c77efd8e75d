//! The importer's gzip path: the input is gzip-compressed (one member or two), or a valid
//! stream is damaged (bytes overwritten, truncated) or a gzip header is followed by raw input.
//! Never panics; chunking never changes whether it succeeds; and a valid stream imports exactly
//! as its plain text does (apart from the report's `gzip` flag).
//!
//! Input: byte 0 = mode and options, byte 1 = chunk seed, byte 2 = a position / value, the rest
//! = the text.
#![no_main]

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use servesim_core::workload::ImportOptions;
use servesim_fuzz::{import_both_ways, import_whole, Chunks};

fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
    encoder.write_all(bytes).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, position, text @ ..] = data else { return };
    let options = ImportOptions { columns: None, skip_bad_rows: flags & 1 == 1 };
    let mut chunks = Chunks::new(flags >> 4, *seed);
    let level = u32::from(*position % 10);
    match (flags >> 1) & 7 {
        // A valid stream, or two members (MultiGzDecoder reads both): the same as the text.
        mode @ (0..=3) => {
            let compressed = if mode < 2 {
                gzip(text, level)
            } else {
                let cut = usize::from(*position).min(text.len());
                let mut two = gzip(&text[..cut], level);
                two.extend(gzip(&text[cut..], 9 - level));
                two
            };
            let inflated = import_both_ways(&compressed, &options, &mut chunks);
            // A text that is itself gzip would be inflated once only.
            if !text.starts_with(&[0x1f, 0x8b]) {
                let plain = import_whole(text, options.clone());
                match (inflated, plain) {
                    (Ok(mut inflated), Ok(plain)) => {
                        assert!(inflated.report.gzip, "the report must say gzip");
                        inflated.report.gzip = false;
                        assert_eq!(inflated, plain, "gzip changed the import");
                    }
                    (Err(inflated), Err(plain)) => assert_eq!(inflated, plain, "gzip changed the error"),
                    (inflated, plain) => panic!("gzip changed the outcome: {inflated:?} vs {plain:?}"),
                }
            }
        }
        // A valid stream of the text with up to four bytes overwritten from the input.
        4 | 5 => {
            let mut compressed = gzip(text, level);
            for (i, &byte) in text.iter().take(4).enumerate() {
                let at = (usize::from(*position) * (i + 1) * 7) % compressed.len();
                compressed[at] ^= byte | 1;
            }
            let _ = import_both_ways(&compressed, &options, &mut chunks);
        }
        // A valid stream cut short.
        6 => {
            let mut compressed = gzip(text, level);
            compressed.truncate(compressed.len() * usize::from(*position) / 256);
            let _ = import_both_ways(&compressed, &options, &mut chunks);
        }
        // The gzip magic followed by the input itself: a header and stream of the fuzzer's own.
        _ => {
            let mut raw = vec![0x1f, 0x8b];
            raw.extend_from_slice(text);
            let _ = import_both_ways(&raw, &options, &mut chunks);
        }
    }
});
