//! Share links: a scenario encoded into a URL fragment.
//!
//! The fragment is `s=1.<payload>` where `1` is the link format version and the payload is the
//! scenario's canonical JSON ([`Scenario::to_canonical_json`]), deflate-compressed in a zlib
//! wrapper (whose Adler-32 checksum catches damaged links) and base64url-encoded without padding.
//! Decoding is strict and bounded: it never panics, rejects links longer than
//! [`MAX_FRAGMENT_LEN`] and payloads that inflate past [`MAX_JSON_LEN`] (so a hostile link cannot
//! exhaust memory), and says what is wrong in a message fit for the user.
//!
//! # Example
//!
//! ```
//! use servesim_core::scenario::Scenario;
//! use servesim_core::share;
//!
//! let scenario = Scenario { seed: 7, ..Scenario::default() };
//! let fragment = share::encode_fragment(&scenario);
//! assert!(fragment.starts_with("s=1."));
//! assert_eq!(share::decode_fragment(&format!("#{fragment}")).unwrap(), scenario);
//! assert!(share::decode_fragment("#s=1.AAAA").is_err());
//! ```

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use crate::scenario::{Scenario, ScenarioError};

/// The share-link format version written by [`encode_fragment`].
pub const LINK_VERSION: u32 = 1;
/// The longest fragment [`decode_fragment`] accepts, in characters.
pub const MAX_FRAGMENT_LEN: usize = 64 * 1024;
/// The most JSON a link may inflate to, in bytes.
pub const MAX_JSON_LEN: usize = 1024 * 1024;

const PREFIX: &str = "s=";

/// base64url without padding, tolerant of the unused bits of the last symbol (a truncated link
/// then fails in the zlib layer, which says "truncated", rather than in base64).
const PAYLOAD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Why a share link could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShareError {
    /// The fragment does not start with `s=`.
    NotAScenarioLink,
    /// The fragment names a link version this build does not read.
    UnsupportedVersion(String),
    /// The fragment is longer than [`MAX_FRAGMENT_LEN`].
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// The payload is not base64url.
    BadEncoding(String),
    /// The payload does not inflate: the link is truncated or damaged.
    Damaged,
    /// The payload inflates past [`MAX_JSON_LEN`].
    TooLarge,
    /// The payload inflates to text that is not a valid scenario document.
    BadScenario(ScenarioError),
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareError::NotAScenarioLink => write!(f, "this link holds no scenario (expected #s=…)"),
            ShareError::UnsupportedVersion(version) => {
                write!(f, "this link uses format version {version}; this build reads version {LINK_VERSION}")
            }
            ShareError::TooLong { len } => {
                write!(f, "this link is {len} characters long; the limit is {MAX_FRAGMENT_LEN}")
            }
            ShareError::BadEncoding(detail) => {
                write!(f, "this link is not valid base64url ({detail}); was it copied whole?")
            }
            ShareError::Damaged => write!(f, "this link is truncated or damaged; was it copied whole?"),
            ShareError::TooLarge => {
                write!(f, "this link expands to more than {MAX_JSON_LEN} bytes and was refused")
            }
            ShareError::BadScenario(error) => write!(f, "this link's scenario is invalid: {error}"),
        }
    }
}

impl std::error::Error for ShareError {}

/// Encodes `scenario` as a fragment `s=1.<payload>` (without the leading `#`).
pub fn encode_fragment(scenario: &Scenario) -> String {
    let json = scenario.to_canonical_json();
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(json.as_bytes(), 9);
    format!("{PREFIX}{LINK_VERSION}.{}", PAYLOAD_BASE64.encode(compressed))
}

/// Decodes a fragment made by [`encode_fragment`]; a leading `#` is ignored.
///
/// # Errors
///
/// Returns a [`ShareError`] when the fragment is not a scenario link, has another version, is
/// too long, is not base64url, is truncated or damaged, inflates too far, or does not hold a
/// scenario document. Whether the scenario's values make sense is [`Scenario::validate`]'s job.
pub fn decode_fragment(fragment: &str) -> Result<Scenario, ShareError> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    if fragment.len() > MAX_FRAGMENT_LEN {
        return Err(ShareError::TooLong { len: fragment.len() });
    }
    let rest = fragment.strip_prefix(PREFIX).ok_or(ShareError::NotAScenarioLink)?;
    let (version, payload) = rest.split_once('.').ok_or(ShareError::Damaged)?;
    if version != LINK_VERSION.to_string() {
        let shown: String = version.chars().take(16).collect();
        return Err(ShareError::UnsupportedVersion(shown));
    }
    let compressed = PAYLOAD_BASE64.decode(payload).map_err(|error| match error {
        // A cut-off payload ends mid-symbol: report it as truncated, like a cut in the data.
        base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidLastSymbol(..) => ShareError::Damaged,
        other => ShareError::BadEncoding(other.to_string()),
    })?;
    let json =
        miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&compressed, MAX_JSON_LEN).map_err(
            |error| match error.status {
                miniz_oxide::inflate::TINFLStatus::HasMoreOutput => ShareError::TooLarge,
                _ => ShareError::Damaged,
            },
        )?;
    let text = std::str::from_utf8(&json).map_err(|_| ShareError::Damaged)?;
    Scenario::from_json(text).map_err(ShareError::BadScenario)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{
        Deployment, FileRef, ReplicaPool, RouterKind, RouterSettings, Slo, Workload, WorkloadSource,
    };

    fn rich_scenario() -> Scenario {
        Scenario {
            seed: 123_456_789_012,
            model: crate::scenario::ModelChoice {
                weights: Some(crate::perf::Dtype::Fp8),
                kv_cache: crate::perf::Dtype::Fp8,
                ..crate::scenario::ModelChoice::preset("llama-3.1-70b")
            },
            deployment: Deployment::Aggregated(ReplicaPool { replicas: 16, tp: 4, pp: 2, ..ReplicaPool::default() }),
            router: RouterSettings::of(RouterKind::LeastOutstanding),
            workload: Workload::from(WorkloadSource::File(FileRef {
                name: "my trace (v2) ✓.jsonl".into(),
                rows: 8_819,
                sha256: "f266b907d109d471c61283ab69771c17ad79a18b33ff6e96aa546346f52767a6".into(),
            })),
            // Floats whose shortest representations need correctly rounded parsing.
            slo: Slo {
                ttft_ms: Some(0.1 + 0.2),
                tpot_ms: Some(59.0 / 30.0),
                e2e_ms: Some(2.2250738585072014e-308),
                percentile: 99.9,
            },
            ..Scenario::default()
        }
    }

    #[test]
    fn scenarios_round_trip_exactly_including_awkward_floats_and_unicode() {
        for scenario in [Scenario::default(), rich_scenario()] {
            let fragment = encode_fragment(&scenario);
            assert!(fragment.bytes().all(|b| b.is_ascii_alphanumeric() || b"=.-_".contains(&b)));
            let decoded = decode_fragment(&fragment).unwrap();
            assert_eq!(decoded, scenario);
            assert_eq!(decoded.to_canonical_json(), scenario.to_canonical_json());
            // Encoding is canonical: the same scenario always gives the same link.
            assert_eq!(encode_fragment(&decoded), fragment);
        }
    }

    #[test]
    fn truncated_links_are_rejected_as_damaged_at_every_length() {
        let fragment = encode_fragment(&rich_scenario());
        let payload_start = "s=1.".len();
        for cut in payload_start..fragment.len() {
            let result = decode_fragment(&fragment[..cut]);
            assert_eq!(result, Err(ShareError::Damaged), "cut at {cut}");
        }
    }

    #[test]
    fn tampered_links_are_rejected_at_every_position() {
        let fragment = encode_fragment(&rich_scenario());
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bytes = fragment.clone().into_bytes();
        // The last character may carry only unused bits, so changing it can be a no-op.
        for position in "s=1.".len()..bytes.len() - 1 {
            let original = bytes[position];
            let index = alphabet.iter().position(|&c| c == original).unwrap();
            bytes[position] = alphabet[(index + 17) % alphabet.len()];
            let tampered = std::str::from_utf8(&bytes).unwrap();
            assert!(decode_fragment(tampered).is_err(), "tamper at {position} was accepted");
            bytes[position] = original;
        }
    }

    #[test]
    fn oversized_links_and_inflation_bombs_are_refused() {
        let long = format!("s=1.{}", "A".repeat(MAX_FRAGMENT_LEN));
        assert_eq!(decode_fragment(&long), Err(ShareError::TooLong { len: MAX_FRAGMENT_LEN + 4 }));

        let bomb = vec![b' '; MAX_JSON_LEN + 1];
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&bomb, 9);
        let fragment = format!("s=1.{}", PAYLOAD_BASE64.encode(compressed));
        assert!(fragment.len() < MAX_FRAGMENT_LEN, "the bomb link itself is small");
        assert_eq!(decode_fragment(&fragment), Err(ShareError::TooLarge));
    }

    #[test]
    fn other_malformed_links_get_specific_messages() {
        assert_eq!(decode_fragment(""), Err(ShareError::NotAScenarioLink));
        assert_eq!(decode_fragment("#count=3"), Err(ShareError::NotAScenarioLink));
        assert_eq!(decode_fragment("#s=2.abc"), Err(ShareError::UnsupportedVersion("2".into())));
        assert_eq!(decode_fragment("#s=1"), Err(ShareError::Damaged));
        assert!(matches!(decode_fragment("#s=1.a+b/"), Err(ShareError::BadEncoding(_))));

        let not_a_scenario = miniz_oxide::deflate::compress_to_vec_zlib(br#"{"version":1,"x":2}"#, 9);
        let error = decode_fragment(&format!("s=1.{}", PAYLOAD_BASE64.encode(not_a_scenario))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "this link's scenario is invalid: x: unknown field `x`, expected one of `version`, \
             `seed`, `model`, `hardware`, `deployment`, `engine`, `router`, `workload`, `slo`, \
             `limits`, `calibration`, `cost` at line 1 column 16"
        );
    }
}
