//! The example scenarios bundled with the page (`examples/*.json`), each opened and run with one
//! click: prefill/decode disaggregation against aggregation on chat traffic (disaggregation
//! wins on TPOT) and on one long prompt at a time (aggregation wins on TTFT).

use servesim_core::scenario::Scenario;

/// One bundled example.
pub struct Example {
    /// The file's stem, e.g. `pd-chat-disaggregated`.
    pub id: &'static str,
    /// The button's text.
    pub title: &'static str,
    json: &'static str,
}

/// Every bundled example, in the order the page lists them.
pub static EXAMPLES: [Example; 4] = [
    Example {
        id: "pd-chat-aggregated",
        title: "Chat: aggregated",
        json: include_str!("../examples/pd-chat-aggregated.json"),
    },
    Example {
        id: "pd-chat-disaggregated",
        title: "Chat: disaggregated",
        json: include_str!("../examples/pd-chat-disaggregated.json"),
    },
    Example {
        id: "pd-long-prompt-aggregated",
        title: "Long prompts: aggregated",
        json: include_str!("../examples/pd-long-prompt-aggregated.json"),
    },
    Example {
        id: "pd-long-prompt-disaggregated",
        title: "Long prompts: disaggregated",
        json: include_str!("../examples/pd-long-prompt-disaggregated.json"),
    },
];

impl Example {
    /// The example's scenario.
    ///
    /// # Errors
    ///
    /// Returns the reader's message for a file that does not read (a test keeps every bundled
    /// example readable and valid).
    pub fn scenario(&self) -> Result<Scenario, String> {
        Scenario::from_json(self.json).map_err(|error| format!("example {}: {error}", self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_reads_validates_and_survives_its_share_link() {
        for example in &EXAMPLES {
            let scenario = example.scenario().unwrap();
            assert!(scenario.validate().is_ok(), "{}: {:?}", example.id, scenario.validate());
            let fragment = servesim_core::share::encode_fragment(&scenario);
            assert_eq!(servesim_core::share::decode_fragment(&fragment).unwrap(), scenario, "{}", example.id);
            let disaggregated = scenario.deployment.disaggregated().is_some();
            assert_eq!(disaggregated, example.id.ends_with("-disaggregated"), "{}", example.id);
        }
    }
}
