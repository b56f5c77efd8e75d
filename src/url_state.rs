//! The scenario mirrored in the page URL's hash (`#s=1.…`).

use servesim_core::scenario::Scenario;
use servesim_core::share;

/// The scenario in the current URL: `Ok(None)` when the hash holds none.
///
/// # Errors
///
/// Returns a message for the user when the hash holds a link that cannot be decoded.
pub fn scenario_from_location() -> Result<Option<Scenario>, String> {
    let hash = leptos::prelude::window().location().hash().unwrap_or_default();
    let fragment = hash.trim_start_matches('#');
    if fragment.is_empty() {
        return Ok(None);
    }
    share::decode_fragment(fragment).map(Some).map_err(|error| error.to_string())
}

/// Replaces the URL's hash with `scenario`'s link, without a new history entry or a
/// `hashchange` event.
pub fn write_scenario_to_location(scenario: &Scenario) {
    let window = leptos::prelude::window();
    let hash = format!("#{}", share::encode_fragment(scenario));
    if window.location().hash().ok().as_deref() != Some(hash.as_str()) {
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&hash));
        }
    }
}

/// A link to this page that opens `scenario`: the page's address with the scenario's hash
/// (whatever the address bar holds now, e.g. a broken link that was opened).
pub fn link_to(scenario: &Scenario) -> String {
    let href = leptos::prelude::window().location().href().unwrap_or_default();
    let page = href.split('#').next().unwrap_or_default();
    format!("{page}#{}", share::encode_fragment(scenario))
}
