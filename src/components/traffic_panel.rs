//! Traffic: the generator's classes (arrivals, lengths, sessions), new arrivals for a trace,
//! and the transforms every workload can take (window, sampling, rate scale, clipping).

use leptos::prelude::*;
use servesim_core::scenario::{Scenario, WorkloadSource};
use servesim_core::workload::GeneratorClass;
use servesim_core::workload::{Sessions, Transform};

use super::fields::InputField;
use crate::syntax::{
    arrivals_text, decimal, lengths_text, optional, parse_arrivals, parse_lengths, show_optional, whole, ARRIVALS_FORMS,
};
use crate::use_app_state;

fn class(scenario: &Scenario, index: usize) -> Option<&GeneratorClass> {
    scenario.workload.generator().and_then(|generator| generator.classes.get(index))
}

fn class_mut(scenario: &mut Scenario, index: usize) -> Result<&mut GeneratorClass, &'static str> {
    match &mut scenario.workload.source {
        WorkloadSource::Generator(generator) => generator.classes.get_mut(index).ok_or("a class that exists"),
        _ => Err("a value once the generator is the workload"),
    }
}

fn sessions_mut(scenario: &mut Scenario, index: usize) -> Result<&mut Sessions, &'static str> {
    Ok(class_mut(scenario, index)?.sessions.get_or_insert_with(Sessions::default))
}

/// One generator class's fields.
#[component]
fn ClassFields(index: usize) -> impl IntoView {
    let state = use_app_state();
    let id = move |field: &str| format!("class-{index}-{field}");
    let show = move |f: fn(&GeneratorClass) -> String| move |s: &Scenario| class(s, index).map(f).unwrap_or_default();
    let has_many = move || state.scenario.with(|s| s.workload.generator().is_some_and(|g| g.classes.len() > 1));
    view! {
        <fieldset class="fields class" data-testid=id("fields")>
            <legend>{format!("Class {}", index + 1)}</legend>
            <InputField label="Name (a tenant; empty for a single class)" testid=id("name")
                get=show(|c| c.name.clone())
                set=move |s, v| { class_mut(s, index)?.name = v.to_owned(); Ok(()) }/>
            <InputField label="Arrivals" testid=id("arrivals") placeholder=ARRIVALS_FORMS
                get=show(|c| arrivals_text(&c.arrivals))
                set=move |s, v| { let a = parse_arrivals(v)?; class_mut(s, index)?.arrivals = a; Ok(()) }/>
            <InputField label="Requests" testid=id("requests")
                get=show(|c| c.num_requests.to_string())
                set=move |s, v| { let n = whole(v)?; class_mut(s, index)?.num_requests = n; Ok(()) }/>
            <InputField label="Prompt lengths (per turn)" testid=id("prompt")
                get=show(|c| lengths_text(&c.prompt_tokens))
                set=move |s, v| { let l = parse_lengths(v)?; class_mut(s, index)?.prompt_tokens = l; Ok(()) }/>
            <InputField label="Output lengths" testid=id("output")
                get=show(|c| lengths_text(&c.output_tokens))
                set=move |s, v| { let l = parse_lengths(v)?; class_mut(s, index)?.output_tokens = l; Ok(()) }/>
            <InputField label="Turns per session (empty: single requests)" testid=id("turns")
                get=show(|c| show_optional(c.sessions.map(|s| s.turns), |t| lengths_text(&t)))
                set=move |s, v| {
                    match optional(v, parse_lengths)? {
                        Some(turns) => sessions_mut(s, index)?.turns = turns,
                        None => class_mut(s, index)?.sessions = None,
                    }
                    Ok(())
                }/>
            <InputField label="Think time between turns (s, mean)" testid=id("think")
                get=show(|c| show_optional(c.sessions.map(|s| s.think_time_s), |t| t.to_string()))
                set=move |s, v| { let t = decimal(v)?; sessions_mut(s, index)?.think_time_s = t; Ok(()) }/>
            <InputField label="Shared system prompt (tokens)" testid=id("system")
                get=show(|c| show_optional(c.sessions.map(|s| s.system_prompt_tokens), |t| t.to_string()))
                set=move |s, v| { let t = whole(v)?; sessions_mut(s, index)?.system_prompt_tokens = t; Ok(()) }/>
            <Show when=has_many>
                <button class="link" data-testid=id("remove") on:click=move |_| state.scenario.update(|s| {
                    if let WorkloadSource::Generator(generator) = &mut s.workload.source {
                        if generator.classes.len() > 1 {
                            generator.classes.remove(index);
                        }
                    }
                })>"Remove this class"</button>
            </Show>
        </fieldset>
    }
}

/// Adds a class to the generator, named so the mix has a class column.
fn add_class(scenario: &mut Scenario) {
    if let WorkloadSource::Generator(generator) = &mut scenario.workload.source {
        let number = generator.classes.len() + 1;
        if let Some(first) = generator.classes.first_mut() {
            if first.name.is_empty() {
                first.name = "class-1".to_owned();
            }
        }
        generator.classes.push(GeneratorClass { name: format!("class-{number}"), ..GeneratorClass::default() });
    }
}

/// New arrival times (and resampling) for a trace's requests.
#[component]
fn TraceArrivals() -> impl IntoView {
    view! {
        <div class="fields" data-testid="trace-arrivals">
            <InputField label="Arrivals (empty: the trace's own times)" testid="traffic-arrivals" placeholder=ARRIVALS_FORMS
                get=|s| show_optional(s.workload.arrivals, |a| arrivals_text(&a))
                set=|s, v| { s.workload.arrivals = optional(v, parse_arrivals)?; Ok(()) }/>
            <InputField label="Resample to N requests (empty: the trace's)" testid="traffic-num-requests"
                get=|s| show_optional(s.workload.num_requests, |n| n.to_string())
                set=|s, v| { s.workload.num_requests = optional(v, whole)?; Ok(()) }/>
        </div>
    }
}

/// A time window `START END` in seconds.
fn parse_window(text: &str) -> Result<servesim_core::workload::Window, &'static str> {
    const EXPECTED: &str = "START END in seconds, or nothing for the whole workload";
    match text.split_whitespace().collect::<Vec<_>>().as_slice() {
        [start, end] => Ok(servesim_core::workload::Window {
            start_s: decimal(start).map_err(|_| EXPECTED)?,
            end_s: decimal(end).map_err(|_| EXPECTED)?,
        }),
        _ => Err(EXPECTED),
    }
}

/// The transforms, for any workload.
#[component]
fn TransformFields() -> impl IntoView {
    fn t(s: &Scenario) -> &Transform {
        &s.workload.transform
    }
    view! {
        <div class="fields" data-testid="transform">
            <InputField label="Rate scale (2 = twice the traffic)" testid="transform-rate-scale"
                get=|s| t(s).rate_scale.to_string()
                set=|s, v| { s.workload.transform.rate_scale = decimal(v)?; Ok(()) }/>
            <InputField label="Time window (s: START END)" testid="transform-window"
                get=|s| show_optional(t(s).window, |w| format!("{} {}", w.start_s, w.end_s))
                set=|s, v| { s.workload.transform.window = optional(v, parse_window)?; Ok(()) }/>
            <InputField label="Keep a fraction (sessions kept whole)" testid="transform-sample"
                get=|s| t(s).sample_fraction.to_string()
                set=|s, v| { s.workload.transform.sample_fraction = decimal(v)?; Ok(()) }/>
            <InputField label="Clip prompts to (tokens)" testid="transform-max-prompt"
                get=|s| show_optional(t(s).max_prompt_tokens, |n| n.to_string())
                set=|s, v| { s.workload.transform.max_prompt_tokens = optional(v, whole)?; Ok(()) }/>
            <InputField label="Clip outputs to (tokens)" testid="transform-max-output"
                get=|s| show_optional(t(s).max_output_tokens, |n| n.to_string())
                set=|s, v| { s.workload.transform.max_output_tokens = optional(v, whole)?; Ok(()) }/>
        </div>
    }
}

/// Traffic settings for the current workload.
#[component]
pub fn TrafficPanel() -> impl IntoView {
    let state = use_app_state();
    let is_generator = move || state.scenario.with(|s| s.workload.generator().is_some());
    let num_classes = move || state.scenario.with(|s| s.workload.generator().map_or(0, |g| g.classes.len()));
    view! {
        <section class="panel" data-testid="traffic">
            <h2>"Traffic"</h2>
            <Show when=is_generator fallback=|| view! { <TraceArrivals/> }>
                <div data-testid="generator">
                    {move || (0..num_classes()).map(|index| view! { <ClassFields index/> }).collect_view()}
                    <button class="link" data-testid="add-class" on:click=move |_| state.scenario.update(add_class)>
                        "Add a class (tenant)"
                    </button>
                </div>
            </Show>
            <h3>"Transform"</h3>
            <TransformFields/>
        </section>
    }
}
