//! Form fields bound to one place in a signal's value through a getter and a setter: the
//! scenario's ([`SelectField`], [`InputField`], [`CheckField`]) or a page-local value's
//! ([`SignalInputField`]).

use leptos::prelude::*;
use servesim_core::scenario::Scenario;

use crate::use_app_state;

/// A `<select>` bound to a string view of one scenario field; `options` are `(value, text)`
/// pairs and may change with the scenario.
#[component]
pub fn SelectField<G, S>(
    label: &'static str,
    #[prop(into)] testid: String,
    #[prop(into)] options: Signal<Vec<(String, String)>>,
    get: G,
    set: S,
) -> impl IntoView
where
    G: Fn(&Scenario) -> String + Copy + Send + Sync + 'static,
    S: Fn(&mut Scenario, &str) + Copy + Send + Sync + 'static,
{
    let state = use_app_state();
    view! {
        <label class="field">
            <span>{label}</span>
            <select data-testid=testid on:change=move |ev| {
                let value = event_target_value(&ev);
                state.scenario.update(|s| set(s, &value));
            }>
                {move || options.get().into_iter().map(|(value, text)| {
                    let selected = value.clone();
                    view! {
                        <option value=value prop:selected=move || state.scenario.with(|s| get(s) == selected)>{text}</option>
                    }
                }).collect_view()}
            </select>
        </label>
    }
}

/// A text input bound to one scenario field through `parse`; text that does not parse is
/// reported next to the field and not applied. Range checks are `Scenario::validate`'s.
#[component]
pub fn InputField<G, S>(
    label: &'static str,
    #[prop(into)] testid: String,
    get: G,
    set: S,
    /// A hint shown as the input's placeholder.
    #[prop(optional)]
    placeholder: &'static str,
) -> impl IntoView
where
    G: Fn(&Scenario) -> String + Copy + Send + Sync + 'static,
    S: Fn(&mut Scenario, &str) -> Result<(), &'static str> + Copy + Send + Sync + 'static,
{
    let state = use_app_state();
    view! { <SignalInputField label testid bound=state.scenario get set placeholder/> }
}

/// A text input bound to one field of `bound`'s value (the scenario, or a page-local value);
/// text that `set` refuses is reported next to the field and not applied.
#[component]
pub fn SignalInputField<T, G, S>(
    label: &'static str,
    #[prop(into)] testid: String,
    /// The value the field edits a part of.
    bound: RwSignal<T>,
    get: G,
    set: S,
    /// A hint shown as the input's placeholder.
    #[prop(optional)]
    placeholder: &'static str,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    G: Fn(&T) -> String + Copy + Send + Sync + 'static,
    S: Fn(&mut T, &str) -> Result<(), &'static str> + Copy + Send + Sync + 'static,
{
    let parse_error = RwSignal::new(None::<String>);
    let on_change = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        let mut updated = bound.get_untracked();
        match set(&mut updated, text.trim()) {
            Ok(()) => {
                parse_error.set(None);
                bound.set(updated);
            }
            Err(expected) => parse_error.set(Some(format!("{label}: enter {expected}"))),
        }
    };
    view! {
        <label class="field">
            <span>{label}</span>
            <input type="text" data-testid=testid placeholder=placeholder
                prop:value=move || bound.with(get) on:change=on_change/>
            {move || parse_error.get().map(|message| view! { <span class="field-error">{message}</span> })}
        </label>
    }
}

/// A checkbox bound to one boolean scenario field.
#[component]
pub fn CheckField<G, S>(label: &'static str, #[prop(into)] testid: String, get: G, set: S) -> impl IntoView
where
    G: Fn(&Scenario) -> bool + Copy + Send + Sync + 'static,
    S: Fn(&mut Scenario, bool) + Copy + Send + Sync + 'static,
{
    let state = use_app_state();
    view! {
        <label class="field check">
            <input type="checkbox" data-testid=testid prop:checked=move || state.scenario.with(get)
                on:change=move |ev| {
                    let checked = event_target_checked(&ev);
                    state.scenario.update(|s| set(s, checked));
                }/>
            <span>{label}</span>
        </label>
    }
}

/// Select options for whole numbers, each shown as itself.
pub fn number_options(values: &[u32]) -> Vec<(String, String)> {
    values.iter().map(|v| (v.to_string(), v.to_string())).collect()
}
