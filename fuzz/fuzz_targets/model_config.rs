//! Hugging Face `config.json` import: `ModelSpec::from_hf_config` never panics, and a config
//! that reads gives a model sheet (sizes and step times) on every GPU at TP 1, 2 and 8, with or
//! without data-parallel attention, without panicking; its parameter counts are consistent
//! (active ≤ total) and a model that fits has positive step times.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servesim_core::perf::{catalog, ModelSheet, ModelSpec, ReplicaConfig, SheetShape};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(model) = ModelSpec::from_hf_config(text) else { return };
    assert!(model.active_params() <= model.num_params());
    for gpu in catalog::gpus() {
        for (tp, dp_attention) in [(1, false), (2, false), (8, false), (8, true)] {
            let config = ReplicaConfig { tp, dp_attention, weights: model.native_weights, ..ReplicaConfig::default() };
            let Ok(sheet) = ModelSheet::new(&model, &gpu.spec, config, SheetShape::default()) else { continue };
            if sheet.fits {
                assert!(sheet.prefill_ms.unwrap() > 0.0 && sheet.decode_step_ms.unwrap() > 0.0, "{sheet:?}");
            }
        }
    }
});
