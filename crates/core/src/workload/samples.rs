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
    /// Whether the file has arrival times (a length-only sample needs `workload.arrivals`).
    pub has_arrivals: bool,
}

/// The id of the sample a new scenario uses.
pub const DEFAULT_SAMPLE_ID: &str = "mooncake-conversation";

/// Every bundled sample.
pub const SAMPLES: &[Sample] = &[
    Sample {
        id: DEFAULT_SAMPLE_ID,
        file_name: "mooncake-conversation.jsonl",
        description: "Mooncake (Kimi) conversation trace: 12,031 requests over 59 minutes, FAST'25",
        has_arrivals: true,
    },
    Sample {
        id: "mooncake-synthetic",
        file_name: "mooncake-synthetic.jsonl",
        description: "Mooncake synthetic trace: 3,993 multi-turn requests over 17 minutes, 64 % prefix reuse",
        has_arrivals: true,
    },
    Sample {
        id: "azure-code-2023",
        file_name: "azure-code-2023.csv",
        description: "Azure LLM 2023, coding assistant: 8,819 bursty requests over 57 minutes, ISCA'24",
        has_arrivals: true,
    },
    Sample {
        id: "azure-conv-2023",
        file_name: "azure-conv-2023.csv",
        description: "Azure LLM 2023, conversation: 19,366 requests over 58 minutes, ISCA'24",
        has_arrivals: true,
    },
    Sample {
        id: "sharegpt-lengths",
        file_name: "sharegpt-lengths.csv",
        description: "ShareGPT lengths (Llama-2 tokenizer): 30,731 requests, no arrival times",
        has_arrivals: false,
    },
];

/// Looks a sample up by id.
pub fn find(id: &str) -> Option<&'static Sample> {
    SAMPLES.iter().find(|sample| sample.id == id)
}

/// The sample ids, comma-separated, for error messages.
pub fn ids() -> String {
    SAMPLES.iter().map(|sample| sample.id).collect::<Vec<_>>().join(", ")
}
