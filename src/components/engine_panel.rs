//! The scenario's engine section: an engine preset (vLLM, SGLang, TensorRT-LLM) that fills
//! the batch and KV fields with that engine's defaults, the fields themselves (with the host KV
//! tier and what preemption does with the victim's KV), speculative decoding and the admission
//! order (FCFS or class priorities with ageing, queue timeouts).

use leptos::prelude::*;
use servesim_core::scenario::{EnginePreset, Preemption, Scenario, Scheduling, Speculative, SpeculativeMethod};

use super::fields::{number_options, CheckField, InputField, SelectField};
use crate::syntax::{
    decimal, numbers_text, optional, parse_numbers, parse_priorities, priorities_text, show_optional, whole,
};

/// The `<select>` value of "no preset" and of "no speculative decoding".
const NONE: &str = "none";

fn preset_options() -> Vec<(String, String)> {
    let names = |preset: EnginePreset| match preset {
        EnginePreset::Vllm => "vLLM V1",
        EnginePreset::Sglang => "SGLang",
        EnginePreset::Trtllm => "TensorRT-LLM",
    };
    std::iter::once((NONE.to_owned(), "none".to_owned()))
        .chain(EnginePreset::ALL.into_iter().map(|preset| (preset.id().to_owned(), names(preset).to_owned())))
        .collect()
}

/// Applies the preset named `id`: the engine's defaults on this scenario's GPU and
/// parallelism, keeping the policies no preset sets (speculative decoding, scheduling, queue
/// timeouts), as [`Scenario::set_engine_preset`] does. `"none"` only clears the preset.
fn choose_preset(scenario: &mut Scenario, id: &str) {
    scenario.set_engine_preset(EnginePreset::from_id(id));
}

fn method_id(method: SpeculativeMethod) -> &'static str {
    match method {
        SpeculativeMethod::Mtp => "mtp",
        SpeculativeMethod::Eagle => "eagle",
        SpeculativeMethod::Ngram => "ngram",
    }
}

fn method_options() -> Vec<(String, String)> {
    [(NONE, "off"), ("mtp", "MTP"), ("eagle", "EAGLE"), ("ngram", "n-gram")]
        .into_iter()
        .map(|(value, text)| (value.to_owned(), text.to_owned()))
        .collect()
}

/// The acceptance used when none is given: α = 0.8, 0.6, 0.4, then 0.4 for further draft
/// tokens, truncated to `k`.
fn default_acceptance(k: u32) -> Vec<f64> {
    (0..k as usize).map(|i| [0.8, 0.6, 0.4].get(i).copied().unwrap_or(0.4)).collect()
}

/// Turns speculative decoding off (`"none"`) or sets its method, starting from k = 3 and the
/// default acceptance when it was off. A draft model is for EAGLE only, so other methods drop
/// it.
fn choose_method(scenario: &mut Scenario, id: &str) {
    let method = [SpeculativeMethod::Mtp, SpeculativeMethod::Eagle, SpeculativeMethod::Ngram]
        .into_iter()
        .find(|method| method_id(*method) == id);
    let Some(method) = method else {
        scenario.engine.speculative = None;
        return;
    };
    let speculative = scenario.engine.speculative.get_or_insert_with(|| Speculative {
        method,
        num_draft_tokens: 3,
        acceptance: Some(default_acceptance(3)),
        acceptance_lengths: None,
        draft: None,
    });
    speculative.method = method;
    if method != SpeculativeMethod::Eagle {
        speculative.draft = None;
    }
}

/// Sets k; an acceptance still at the default for the old k follows the new one.
fn set_draft_tokens(speculative: &mut Speculative, k: u32) {
    if speculative.acceptance.as_deref() == Some(&default_acceptance(speculative.num_draft_tokens)) {
        speculative.acceptance = Some(default_acceptance(k));
    }
    speculative.num_draft_tokens = k;
}

/// Sets α₁…α_k from the field's text (empty: the default for k), replacing an acceptance-length
/// table.
fn set_acceptance(speculative: &mut Speculative, text: &str) -> Result<(), &'static str> {
    let alphas =
        if text.trim().is_empty() { default_acceptance(speculative.num_draft_tokens) } else { parse_numbers(text)? };
    speculative.acceptance = Some(alphas);
    speculative.acceptance_lengths = None;
    Ok(())
}

fn preemption_id(preemption: Preemption) -> &'static str {
    match preemption {
        Preemption::Recompute => "recompute",
        Preemption::Swap => "swap",
    }
}

fn preemption_options() -> Vec<(String, String)> {
    [("recompute", "recompute"), ("swap", "swap to host")]
        .into_iter()
        .map(|(value, text)| (value.to_owned(), text.to_owned()))
        .collect()
}

/// Runs `edit`, then makes the same change to each disaggregated pool's own engine: the panel
/// edits the top-level engine, which applies to every pool ([`Scenario::propagate_engine_edit`]).
fn edit_synced<R>(scenario: &mut Scenario, edit: impl FnOnce(&mut Scenario) -> R) -> R {
    let before = scenario.engine.clone();
    let result = edit(scenario);
    scenario.propagate_engine_edit(&before);
    result
}

/// A text or select field's setter, synced to the pools ([`edit_synced`]).
fn synced<R>(set: impl Fn(&mut Scenario, &str) -> R + Copy) -> impl Fn(&mut Scenario, &str) -> R + Copy {
    move |scenario, value| edit_synced(scenario, |s| set(s, value))
}

/// A checkbox's setter, synced to the pools ([`edit_synced`]).
fn synced_check(set: impl Fn(&mut Scenario, bool) + Copy) -> impl Fn(&mut Scenario, bool) + Copy {
    move |scenario, value| edit_synced(scenario, |s| set(s, value))
}

/// The engine preset and the batch and KV-cache fields, the host KV tier and preemption.
#[component]
fn EngineFields() -> impl IntoView {
    view! {
        <h2>"Engine"</h2>
        <div class="fields" data-testid="engine-fields">
            <SelectField label="Engine preset" testid="engine-preset" options=preset_options()
                get=|s| s.engine.preset.map_or(NONE, EnginePreset::id).to_owned() set=choose_preset/>
            <InputField label="Max sequences" testid="max-num-seqs" get=|s| s.engine.max_num_seqs.to_string()
                set=synced(|s, v| { s.engine.max_num_seqs = whole(v)?; Ok(()) })/>
            <InputField label="Token budget / step" testid="max-num-batched-tokens"
                get=|s| s.engine.max_num_batched_tokens.to_string()
                set=synced(|s, v| { s.engine.max_num_batched_tokens = whole(v)?; Ok(()) })/>
            <SelectField label="KV block size" testid="block-size" options=number_options(&[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
                get=|s| s.engine.block_size.to_string() set=synced(|s, v| s.engine.block_size = v.parse().unwrap_or(16))/>
            <InputField label="GPU memory utilization" testid="gpu-memory-utilization"
                get=|s| s.engine.gpu_memory_utilization.to_string()
                set=synced(|s, v| { s.engine.gpu_memory_utilization = decimal(v)?; Ok(()) })/>
            <InputField label="Max model length (tokens; empty: the model's)" testid="max-model-len"
                get=|s| show_optional(s.engine.max_model_len, |len| len.to_string())
                set=synced(|s, v| {
                    s.engine.max_model_len =
                        optional(v, |t| whole(t).map_err(|_| "a whole number of tokens, or nothing for the model's context length"))?;
                    Ok(())
                })/>
            <InputField label="KV watermark (fraction)" testid="watermark"
                get=|s| s.engine.watermark.to_string()
                set=synced(|s, v| { s.engine.watermark = decimal(v)?; Ok(()) })/>
            <InputField label="Host KV tier (GB per replica; 0: none)" testid="host-kv-cache-gb"
                get=|s| s.engine.host_kv_cache_gb.to_string()
                set=synced(|s, v| { s.engine.host_kv_cache_gb = decimal(v)?; Ok(()) })/>
            <SelectField label="Preemption" testid="preemption" options=preemption_options()
                get=|s| preemption_id(s.engine.preemption).to_owned()
                set=synced(|s, v| s.engine.preemption = if v == "swap" { Preemption::Swap } else { Preemption::Recompute })/>
            <CheckField label="Chunked prefill" testid="chunked-prefill"
                get=|s| s.engine.chunked_prefill set=synced_check(|s, v| s.engine.chunked_prefill = v)/>
            <CheckField label="Prefix caching" testid="prefix-caching"
                get=|s| s.engine.prefix_caching set=synced_check(|s, v| s.engine.prefix_caching = v)/>
            <CheckField label="Async scheduling (CPU overlaps the GPU step)" testid="async-scheduling"
                get=|s| s.engine.async_scheduling set=synced_check(|s, v| s.engine.async_scheduling = v)/>
            <CheckField label="Reserve KV for the whole output (never preempt)" testid="reserve-kv-for-output"
                get=|s| s.engine.reserve_kv_for_output set=synced_check(|s, v| s.engine.reserve_kv_for_output = v)/>
        </div>
    }
}

/// Speculative decoding: the method, k and the acceptance per draft position (shown while a
/// method is chosen).
#[component]
fn SpeculativeFields() -> impl IntoView {
    let state = crate::use_app_state();
    let on = move || state.scenario.with(|s| s.engine.speculative.is_some());
    let lengths =
        move || state.scenario.with(|s| s.engine.speculative.as_ref().and_then(|spec| spec.acceptance_lengths.clone()));
    view! {
        <h2>"Speculative decoding"</h2>
        <div class="fields" data-testid="speculative-fields">
            <SelectField label="Speculative decoding" testid="spec-method" options=method_options()
                get=|s| s.engine.speculative.as_ref().map_or(NONE, |spec| method_id(spec.method)).to_owned()
                set=synced(choose_method)/>
            <Show when=on>
                <InputField label="Draft tokens k" testid="spec-k"
                    get=|s| s.engine.speculative.as_ref().map_or_else(String::new, |spec| spec.num_draft_tokens.to_string())
                    set=synced(|s, v| {
                        let k = whole(v)?;
                        s.engine.speculative.as_mut().map(|spec| set_draft_tokens(spec, k)).ok_or("a method first")
                    })/>
                <InputField label="Acceptance α₁…α_k (comma-separated)" testid="spec-acceptance" placeholder="0.8, 0.6, 0.4"
                    get=|s| s.engine.speculative.as_ref().and_then(|spec| spec.acceptance.as_deref()).map_or_else(String::new, numbers_text)
                    set=synced(|s, v| s.engine.speculative.as_mut().ok_or("a method first").and_then(|spec| set_acceptance(spec, v)))/>
            </Show>
        </div>
        {move || lengths().map(|lengths| view! {
            <p class="hint" data-testid="spec-acceptance-lengths">
                "Acceptance lengths P(0)…P(k) from the scenario: " {numbers_text(&lengths)}
                ". Entering α values replaces them."
            </p>
        })}
    }
}

fn scheduling_id(scheduling: Scheduling) -> &'static str {
    match scheduling {
        Scheduling::Fcfs => "fcfs",
        Scheduling::Priority => "priority",
    }
}

/// The admission order: FCFS or by class priority with ageing, and the queue timeout.
#[component]
fn SchedulingFields() -> impl IntoView {
    let options = vec![("fcfs".to_owned(), "FCFS".to_owned()), ("priority".to_owned(), "class priority".to_owned())];
    view! {
        <h2>"Scheduling"</h2>
        <div class="fields" data-testid="scheduling-fields">
            <SelectField label="Scheduling" testid="scheduling" options=options
                get=|s| scheduling_id(s.engine.scheduling).to_owned()
                set=synced(|s, v| s.engine.scheduling = if v == "priority" { Scheduling::Priority } else { Scheduling::Fcfs })/>
            <InputField label="Class priorities (class=priority, …)" testid="class-priorities" placeholder="chat=0, batch=5"
                get=|s| priorities_text(&s.engine.class_priorities)
                set=synced(|s, v| { s.engine.class_priorities = parse_priorities(v)?; Ok(()) })/>
            <InputField label="Priority ageing (s)" testid="priority-ageing"
                get=|s| s.engine.priority_ageing_s.to_string()
                set=synced(|s, v| { s.engine.priority_ageing_s = decimal(v)?; Ok(()) })/>
            <InputField label="Max queue time (s; empty: none)" testid="max-queue-time"
                get=|s| show_optional(s.engine.max_queue_time_s, |t| t.to_string())
                set=synced(|s, v| {
                    s.engine.max_queue_time_s = optional(v, |t| decimal(t).map_err(|_| "a number of seconds, or nothing for no limit"))?;
                    Ok(())
                })/>
        </div>
    }
}

/// The engine section of the scenario editor.
#[component]
pub fn EnginePanel() -> impl IntoView {
    view! {
        <EngineFields/>
        <SpeculativeFields/>
        <SchedulingFields/>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_acceptance_is_truncated_or_padded_to_k() {
        assert_eq!(default_acceptance(1), vec![0.8]);
        assert_eq!(default_acceptance(3), vec![0.8, 0.6, 0.4]);
        assert_eq!(default_acceptance(5), vec![0.8, 0.6, 0.4, 0.4, 0.4]);
    }

    #[test]
    fn choosing_a_preset_fills_the_engine_fields_and_keeps_speculation_scheduling_and_the_host_tier() {
        let mut scenario = Scenario::default();
        choose_method(&mut scenario, "eagle");
        scenario.engine.scheduling = Scheduling::Priority;
        scenario.engine.max_queue_time_s = Some(30.0);
        scenario.engine.class_priorities.insert("chat".to_owned(), -1);
        scenario.engine.host_kv_cache_gb = 64.0;
        scenario.engine.preemption = Preemption::Swap;
        let kept = scenario.engine.clone();
        choose_preset(&mut scenario, "sglang");
        assert_eq!(scenario.engine.preset, Some(EnginePreset::Sglang));
        assert_eq!(scenario.engine.block_size, 1);
        assert_eq!(scenario.engine.speculative, kept.speculative);
        assert_eq!(scenario.engine.scheduling, Scheduling::Priority);
        assert_eq!(scenario.engine.max_queue_time_s, Some(30.0));
        assert_eq!(scenario.engine.class_priorities, kept.class_priorities);
        assert_eq!((scenario.engine.host_kv_cache_gb, scenario.engine.preemption), (64.0, Preemption::Swap));
        assert!(scenario.validate().is_ok(), "{:?}", scenario.validate());

        choose_preset(&mut scenario, "trtllm");
        assert_eq!(scenario.engine.block_size, 32);
        assert!(!scenario.engine.chunked_prefill);
        assert!(scenario.validate().is_ok(), "{:?}", scenario.validate());
        choose_preset(&mut scenario, NONE);
        assert_eq!(scenario.engine.preset, None);
        assert_eq!(scenario.engine.block_size, 32, "fields stay");
    }

    #[test]
    fn speculative_fields_default_follow_k_and_replace_an_acceptance_length_table() {
        let mut scenario = Scenario::default();
        choose_method(&mut scenario, "ngram");
        let spec = scenario.engine.speculative.as_mut().unwrap();
        assert_eq!((spec.num_draft_tokens, spec.acceptance.clone()), (3, Some(vec![0.8, 0.6, 0.4])));
        set_draft_tokens(spec, 4);
        assert_eq!(spec.acceptance, Some(vec![0.8, 0.6, 0.4, 0.4]));
        set_acceptance(spec, "0.9, 0.5").unwrap();
        set_draft_tokens(spec, 2);
        assert_eq!(spec.acceptance, Some(vec![0.9, 0.5]), "a typed acceptance stays");
        spec.acceptance = None;
        spec.acceptance_lengths = Some(vec![0.2, 0.3, 0.5]);
        set_acceptance(spec, "").unwrap();
        assert_eq!((spec.acceptance.clone(), spec.acceptance_lengths.clone()), (Some(vec![0.8, 0.6]), None));
        assert!(set_acceptance(spec, "0.8, x").is_err());
        choose_method(&mut scenario, NONE);
        assert_eq!(scenario.engine.speculative, None);
    }
}
