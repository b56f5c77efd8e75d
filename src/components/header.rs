//! The page header: name, tagline, Share button and the link it produced.

use leptos::prelude::*;

use crate::use_app_state;

/// Title bar with the Share button.
#[component]
pub fn Header() -> impl IntoView {
    let state = use_app_state();
    view! {
        <header class="header">
            <div class="brand">
                <h1>"servesim"</h1>
                <span class="tagline">"LLM-inference serving simulator, in your browser. Nothing leaves this page."</span>
            </div>
            <div class="share">
                <button data-testid="share" on:click=move |_| state.share()>"Share link"</button>
                <Show when=move || state.share_link.get().is_some()>
                    <input data-testid="share-link" class="share-link" readonly
                        prop:value=move || state.share_link.get().unwrap_or_default()
                        on:focus=move |ev| {
                            use wasm_bindgen::JsCast;
                            if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                                input.select();
                            }
                        }/>
                    <span class="hint">"Anyone with this link reruns this scenario (copied to the clipboard where the browser allows)."</span>
                </Show>
            </div>
        </header>
        <Show when=move || state.link_error.get().is_some()>
            <div class="banner error" data-testid="link-error" role="alert">
                "This link could not be opened: " {move || state.link_error.get().unwrap_or_default()}
                ". The scenario below was not changed by it."
                <button class="dismiss" on:click=move |_| state.link_error.set(None)>"Dismiss"</button>
            </div>
        </Show>
    }
}
