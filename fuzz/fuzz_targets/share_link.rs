//! Share-link decoding: `decode_fragment` never panics on any text; a link that decodes
//! re-encodes to a link that decodes to the same scenario. An input starting with `{` is
//! taken as scenario JSON and wrapped into a link (zlib + base64url) first, so the decoder's
//! inflate and JSON stages are reached; it must then decode exactly as `Scenario::from_json`
//! reads the text.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use servesim_core::scenario::Scenario;
use servesim_core::share::{self, ShareError};

fuzz_target!(|data: &[u8]| {
    let decoded = if data.first() == Some(&b'{') {
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(data, 6);
        let fragment = format!("#s=1.{}", URL_SAFE_NO_PAD.encode(compressed));
        let decoded = share::decode_fragment(&fragment);
        if fragment.len() <= share::MAX_FRAGMENT_LEN + 1 && data.len() <= share::MAX_JSON_LEN {
            let expected = match std::str::from_utf8(data) {
                Ok(text) => Scenario::from_json(text).map_err(ShareError::BadScenario),
                Err(_) => Err(ShareError::Damaged),
            };
            assert_eq!(decoded, expected, "the link decodes differently from its JSON");
        }
        decoded
    } else {
        let Ok(text) = std::str::from_utf8(data) else { return };
        share::decode_fragment(text)
    };
    if let Ok(scenario) = decoded {
        let _ = scenario.validate();
        let again = share::encode_fragment(&scenario);
        assert_eq!(share::decode_fragment(&again), Ok(scenario), "a decoded link does not re-encode");
    }
});
