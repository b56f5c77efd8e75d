//! The bundled sample traces, known by id to the app and the CLI.
//!
//! The files live in `web/samples/` (served as static assets by the app, fetched on first use)
//! with their attribution in `web/samples/ATTRIBUTION.md`.

/// A bundled sample trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The id scenarios use: `{"workload": {"sample": "<id>"}}`.
    pub id: &'static str,
    /// The file name under `web/samples/` (and the app's `samples/` URL path).
    pub file_name: &'static str,
    /// One line for the UI.
    pub description: &'static str,
}

/// The id of the sample a new scenario uses.
pub const DEFAULT_SAMPLE_ID: &str = "mooncake-conversation";

/// Every bundled sample.
pub const SAMPLES: &[Sample] = &[Sample {
    id: DEFAULT_SAMPLE_ID,
    file_name: "mooncake-conversation.jsonl",
    description: "Mooncake (Kimi) conversation trace: 12,031 requests over 59 minutes, FAST'25",
}];

/// Looks a sample up by id.
pub fn find(id: &str) -> Option<&'static Sample> {
    SAMPLES.iter().find(|sample| sample.id == id)
}

/// The sample ids, comma-separated, for error messages.
pub fn ids() -> String {
    SAMPLES.iter().map(|sample| sample.id).collect::<Vec<_>>().join(", ")
}
