//! The deployment section of the scenario editor: aggregated replicas, or a prefill pool and a
//! decode pool (each with its own size, parallelism and optionally its own GPU) and the links
//! that carry the KV cache between them.
//!
//! Switching between the two keeps the pool's parallelism and GPU: an aggregated pool splits into a prefill
//! pool of half its replicas and a decode pool of the rest, both with its parallelism; the pools
//! merge back into one of all their replicas with the prefill pool's parallelism.

use leptos::prelude::*;
use servesim_core::perf::catalog;
use servesim_core::scenario::{Deployment, Disaggregated, GpuChoice, NicLayout, PoolRole, ReplicaPool, Scenario};

use super::fields::{number_options, CheckField, InputField, SelectField};
use super::model_panel::gpu_options;
use crate::syntax::{decimal, optional, show_optional, whole};
use crate::use_app_state;

/// The mode select's values.
const AGGREGATED: &str = "aggregated";
const DISAGGREGATED: &str = "disaggregated";

/// The pool GPU select's value for "the scenario's hardware GPU".
const SAME_GPU: &str = "";

/// Parallel degrees offered for TP and EP.
const DEGREES: [u32; 7] = [1, 2, 4, 8, 16, 32, 64];

/// Whether the deployment has a prefill and a decode pool.
pub fn is_disaggregated(scenario: &Scenario) -> bool {
    scenario.deployment.disaggregated().is_some()
}

/// Splits an aggregated pool into a prefill pool of half its replicas and a decode pool of the
/// rest (at least one each), both with its parallelism, behind the default KV links.
fn disaggregate(scenario: &mut Scenario) {
    let Deployment::Aggregated(pool) = &scenario.deployment else { return };
    let prefill = ReplicaPool { replicas: (pool.replicas / 2).max(1), ..pool.clone() };
    let decode = ReplicaPool { replicas: pool.replicas.saturating_sub(prefill.replicas).max(1), ..pool.clone() };
    scenario.deployment = Deployment::Disaggregated(Disaggregated { prefill, decode, ..Disaggregated::default() });
}

/// Merges the pools into one aggregated pool of all their replicas with the prefill pool's
/// parallelism; a GPU or engine of the prefill pool's own becomes the scenario's, and the decode
/// router goes (it has no pool to route to).
fn aggregate(scenario: &mut Scenario) {
    let Deployment::Disaggregated(pools) = &scenario.deployment else { return };
    let mut pool = pools.prefill.clone();
    pool.replicas = pools.prefill.replicas.saturating_add(pools.decode.replicas);
    if let Some(gpu) = pool.gpu.take() {
        scenario.hardware.gpu = gpu;
    }
    if let Some(engine) = pool.engine.take() {
        scenario.engine = engine;
    }
    scenario.deployment = Deployment::Aggregated(pool);
    scenario.router.decode_kind = None;
}

fn set_mode(scenario: &mut Scenario, mode: &str) {
    if mode == DISAGGREGATED {
        disaggregate(scenario);
    } else {
        aggregate(scenario);
    }
}

/// `show` of the pool of `role`, or nothing while the deployment has no such pool.
fn show_pool(scenario: &Scenario, role: PoolRole, show: impl Fn(&ReplicaPool) -> String) -> String {
    scenario.deployment.pool(role).map_or_else(String::new, show)
}

/// Applies `edit` to the pool of `role`.
///
/// # Errors
///
/// Says which deployment the field needs when the scenario has no such pool.
fn edit_pool(scenario: &mut Scenario, role: PoolRole, edit: impl FnOnce(&mut ReplicaPool)) -> Result<(), &'static str> {
    edit(scenario.deployment.pool_mut(role).ok_or("switch the deployment mode first")?);
    Ok(())
}

/// `show` of the disaggregated sections, or nothing for an aggregated deployment.
fn show_disaggregated(scenario: &Scenario, show: impl Fn(&Disaggregated) -> String) -> String {
    scenario.deployment.disaggregated().map_or_else(String::new, show)
}

/// Applies `edit` to the disaggregated sections.
///
/// # Errors
///
/// Says the field needs a disaggregated deployment when the scenario is aggregated.
fn edit_disaggregated(scenario: &mut Scenario, edit: impl FnOnce(&mut Disaggregated)) -> Result<(), &'static str> {
    match &mut scenario.deployment {
        Deployment::Disaggregated(pools) => {
            edit(pools);
            Ok(())
        }
        Deployment::Aggregated(_) => Err("a disaggregated deployment first"),
    }
}

/// "Same as hardware", every GPU preset, and the pool's own GPU when it is written inline.
fn pool_gpu_options(scenario: &Scenario, role: PoolRole) -> Vec<(String, String)> {
    let own = scenario.deployment.pool(role).and_then(|pool| pool.gpu.as_ref());
    std::iter::once((SAME_GPU.to_owned(), "same as hardware".to_owned())).chain(gpu_options(own)).collect()
}

/// The pool's GPU from the select's value: the hardware's, a preset, or (for the inline GPU's
/// own entry) unchanged.
fn choose_pool_gpu(pool: &mut ReplicaPool, value: &str) {
    if value == SAME_GPU {
        pool.gpu = None;
    } else if catalog::gpu(value).is_some() {
        pool.gpu = Some(GpuChoice::Preset(value.to_owned()));
    }
}

/// The fields of the pool of `role`: size and parallelism, and a disaggregated pool's GPU.
/// The aggregated pool's test ids are the field names (`replicas`, `tp`…), a disaggregated
/// pool's carry its role (`prefill-replicas`, `decode-tp`…).
#[component]
fn PoolFields(role: PoolRole) -> impl IntoView {
    let state = use_app_state();
    let testid = move |field: &str| match role {
        PoolRole::Aggregated => field.to_owned(),
        PoolRole::Prefill | PoolRole::Decode => format!("{}-{field}", role.name()),
    };
    let gpu = (role != PoolRole::Aggregated).then(|| {
        view! {
            <SelectField label="GPU" testid=testid("gpu")
                options=Signal::derive(move || state.scenario.with(|s| pool_gpu_options(s, role)))
                get=move |s| show_pool(s, role, |p| p.gpu.as_ref().map_or(SAME_GPU, GpuChoice::id).to_owned())
                set=move |s, v| { let _ = edit_pool(s, role, |p| choose_pool_gpu(p, v)); }/>
        }
    });
    view! {
        <InputField label="Replicas" testid=testid("replicas") get=move |s| show_pool(s, role, |p| p.replicas.to_string())
            set=move |s, v| { let n = whole(v)?; edit_pool(s, role, |p| p.replicas = n) }/>
        <SelectField label="Tensor parallel" testid=testid("tp") options=number_options(&DEGREES)
            get=move |s| show_pool(s, role, |p| p.tp.to_string())
            set=move |s, v| { let _ = edit_pool(s, role, |p| p.tp = v.parse().unwrap_or(1)); }/>
        <InputField label="Pipeline stages" testid=testid("pp") get=move |s| show_pool(s, role, |p| p.pp.to_string())
            set=move |s, v| { let n = whole(v)?; edit_pool(s, role, |p| p.pp = n) }/>
        <SelectField label="Expert parallel (MoE)" testid=testid("ep") options=number_options(&DEGREES)
            get=move |s| show_pool(s, role, |p| p.ep.to_string())
            set=move |s, v| { let _ = edit_pool(s, role, |p| p.ep = v.parse().unwrap_or(1)); }/>
        <InputField label="Redundant experts" testid=testid("redundant-experts")
            get=move |s| show_pool(s, role, |p| p.redundant_experts.to_string())
            set=move |s, v| { let n = whole(v)?; edit_pool(s, role, |p| p.redundant_experts = n) }/>
        <InputField label="Expert imbalance (busiest / mean)" testid=testid("expert-imbalance")
            get=move |s| show_pool(s, role, |p| p.expert_imbalance.to_string())
            set=move |s, v| { let x = decimal(v)?; edit_pool(s, role, |p| p.expert_imbalance = x) }/>
        {gpu}
        <CheckField label="Data-parallel attention" testid=testid("dp-attention")
            get=move |s| s.deployment.pool(role).is_some_and(|p| p.dp_attention)
            set=move |s, v| { let _ = edit_pool(s, role, |p| p.dp_attention = v); }/>
    }
}

fn nic_options() -> Vec<(String, String)> {
    [("per_gpu", "one per GPU"), ("per_node", "one per node")]
        .into_iter()
        .map(|(value, text)| (value.to_owned(), text.to_owned()))
        .collect()
}

/// The KV links between the pools, and conditional disaggregation.
#[component]
fn TransferFields() -> impl IntoView {
    view! {
        <SelectField label="NICs" testid="transfer-nics" options=nic_options()
            get=|s| show_disaggregated(s, |d| match d.transfer.nics {
                NicLayout::PerGpu => "per_gpu".to_owned(),
                NicLayout::PerNode => "per_node".to_owned(),
            })
            set=|s, v| {
                let nics = if v == "per_node" { NicLayout::PerNode } else { NicLayout::PerGpu };
                let _ = edit_disaggregated(s, |d| d.transfer.nics = nics);
            }/>
        <InputField label="NIC GB/s (empty: the GPU's)" testid="transfer-nic-gb-s"
            get=|s| show_disaggregated(s, |d| show_optional(d.transfer.nic_gb_s, |gb_s| gb_s.to_string()))
            set=|s, v| {
                let gb_s = optional(v, |t| decimal(t).map_err(|_| "GB/s, or nothing for the GPU's NIC"))?;
                edit_disaggregated(s, |d| d.transfer.nic_gb_s = gb_s)
            }/>
        <InputField label="NIC efficiency (fraction of line rate)" testid="transfer-nic-efficiency"
            get=|s| show_disaggregated(s, |d| d.transfer.nic_efficiency.to_string())
            set=|s, v| { let x = decimal(v)?; edit_disaggregated(s, |d| d.transfer.nic_efficiency = x) }/>
        <InputField label="NVLink domain (GPUs; empty: a node)" testid="transfer-nvlink-domain"
            get=|s| show_disaggregated(s, |d| show_optional(d.transfer.nvlink_domain_gpus, |gpus| gpus.to_string()))
            set=|s, v| {
                let gpus = optional(v, |t| whole(t).map_err(|_| "a whole number of GPUs, or nothing for a node"))?;
                edit_disaggregated(s, |d| d.transfer.nvlink_domain_gpus = gpus)
            }/>
        <InputField label="Transfer latency (µs)" testid="transfer-latency-us"
            get=|s| show_disaggregated(s, |d| d.transfer.latency_us.to_string())
            set=|s, v| { let x = decimal(v)?; edit_disaggregated(s, |d| d.transfer.latency_us = x) }/>
        <InputField label="Prefill locally below (tokens; empty: never)" testid="conditional-threshold"
            get=|s| show_disaggregated(s, |d| show_optional(d.conditional_threshold, |tokens| tokens.to_string()))
            set=|s, v| {
                let tokens = optional(v, |t| whole(t).map_err(|_| "a whole number of tokens, or nothing to always transfer"))?;
                edit_disaggregated(s, |d| d.conditional_threshold = tokens)
            }/>
    }
}

/// The deployment: its mode, then the aggregated pool's fields or both pools' and the links'.
#[component]
pub fn DeploymentPanel() -> impl IntoView {
    let state = use_app_state();
    let disaggregated = Memo::new(move |_| state.scenario.with(is_disaggregated));
    let modes = vec![
        (AGGREGATED.to_owned(), "aggregated".to_owned()),
        (DISAGGREGATED.to_owned(), "prefill / decode disaggregated".to_owned()),
    ];
    view! {
        <h2>"Deployment"</h2>
        <div class="fields">
            <SelectField label="Aggregated / disaggregated" testid="deployment-mode" options=modes
                get=|s| if is_disaggregated(s) { DISAGGREGATED } else { AGGREGATED }.to_owned() set=set_mode/>
        </div>
        <Show when=move || disaggregated.get()
            fallback=|| view! { <div class="fields" data-testid="aggregated-pool"><PoolFields role=PoolRole::Aggregated/></div> }>
            <fieldset class="pool" data-testid="prefill-pool">
                <legend>"Prefill pool"</legend>
                <div class="fields"><PoolFields role=PoolRole::Prefill/></div>
            </fieldset>
            <fieldset class="pool" data-testid="decode-pool">
                <legend>"Decode pool"</legend>
                <div class="fields"><PoolFields role=PoolRole::Decode/></div>
            </fieldset>
            <fieldset class="pool" data-testid="transfer">
                <legend>"KV transfer"</legend>
                <div class="fields"><TransferFields/></div>
            </fieldset>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use servesim_core::scenario::{EngineSettings, RouterKind};

    use super::*;

    fn pools(scenario: &Scenario) -> (u32, u32) {
        let d = scenario.deployment.disaggregated().expect("disaggregated");
        (d.prefill.replicas, d.decode.replicas)
    }

    #[test]
    fn an_aggregated_pool_splits_in_halves_with_its_parallelism_and_merges_back() {
        let mut scenario = Scenario::reference();
        let pool = scenario.deployment.primary_pool_mut();
        (pool.tp, pool.pp) = (2, 2);
        let aggregated = scenario.clone();
        set_mode(&mut scenario, DISAGGREGATED);
        assert_eq!(pools(&scenario), (4, 4));
        for (_, pool) in scenario.deployment.pools() {
            assert_eq!((pool.tp, pool.pp, pool.gpu.clone()), (2, 2, None));
        }
        assert!(scenario.validate().is_ok(), "{:?}", scenario.validate());
        set_mode(&mut scenario, DISAGGREGATED);
        assert_eq!(pools(&scenario), (4, 4), "choosing the mode it has changes nothing");
        set_mode(&mut scenario, AGGREGATED);
        assert_eq!(scenario, aggregated, "the round trip restores the aggregated scenario");

        for (replicas, split) in [(1, (1, 1)), (2, (1, 1)), (5, (2, 3))] {
            scenario.deployment.primary_pool_mut().replicas = replicas;
            set_mode(&mut scenario, DISAGGREGATED);
            assert_eq!(pools(&scenario), split, "{replicas} replicas");
            set_mode(&mut scenario, AGGREGATED);
            assert_eq!(scenario.deployment.primary_pool().replicas, split.0 + split.1);
        }
    }

    #[test]
    fn merging_keeps_the_prefill_pools_gpu_and_engine_and_drops_the_decode_router() {
        let mut scenario = Scenario::reference();
        set_mode(&mut scenario, DISAGGREGATED);
        let engine = EngineSettings { max_num_seqs: 64, ..EngineSettings::default() };
        edit_pool(&mut scenario, PoolRole::Prefill, |pool| {
            choose_pool_gpu(pool, "h200");
            pool.engine = Some(engine.clone());
        })
        .unwrap();
        edit_pool(&mut scenario, PoolRole::Decode, |pool| choose_pool_gpu(pool, "b200")).unwrap();
        scenario.router.decode_kind = Some(RouterKind::LeastKv);
        assert!(scenario.validate().is_ok(), "{:?}", scenario.validate());

        set_mode(&mut scenario, AGGREGATED);
        assert_eq!(scenario.hardware.gpu, GpuChoice::Preset("h200".to_owned()));
        assert_eq!(scenario.engine, engine);
        let pool = scenario.deployment.primary_pool();
        assert_eq!((pool.replicas, pool.gpu.clone(), pool.engine.clone()), (8, None, None));
        assert_eq!(scenario.router.decode_kind, None);
        assert!(scenario.validate().is_ok(), "{:?}", scenario.validate());
    }

    #[test]
    fn pool_and_transfer_fields_edit_only_a_deployment_that_has_them() {
        let mut scenario = Scenario::reference();
        assert!(edit_pool(&mut scenario, PoolRole::Decode, |pool| pool.tp = 4).is_err());
        assert!(edit_disaggregated(&mut scenario, |d| d.transfer.latency_us = 5.0).is_err());
        assert_eq!(show_pool(&scenario, PoolRole::Prefill, |pool| pool.tp.to_string()), "");
        set_mode(&mut scenario, DISAGGREGATED);
        assert!(edit_pool(&mut scenario, PoolRole::Aggregated, |pool| pool.tp = 4).is_err());
        edit_pool(&mut scenario, PoolRole::Decode, |pool| pool.tp = 4).unwrap();
        edit_disaggregated(&mut scenario, |d| d.transfer.latency_us = 5.0).unwrap();
        assert_eq!(show_pool(&scenario, PoolRole::Decode, |pool| pool.tp.to_string()), "4");
        assert_eq!(show_pool(&scenario, PoolRole::Prefill, |pool| pool.tp.to_string()), "1");
        assert_eq!(show_disaggregated(&scenario, |d| d.transfer.latency_us.to_string()), "5");

        // A pool's GPU: the hardware's, a preset, or an inline GPU kept as it is.
        let options = pool_gpu_options(&scenario, PoolRole::Decode);
        assert_eq!(options[0], (SAME_GPU.to_owned(), "same as hardware".to_owned()));
        assert!(options.iter().any(|(id, _)| id == "h200"));
        edit_pool(&mut scenario, PoolRole::Decode, |pool| choose_pool_gpu(pool, "h200")).unwrap();
        edit_pool(&mut scenario, PoolRole::Decode, |pool| choose_pool_gpu(pool, "custom")).unwrap();
        assert_eq!(scenario.deployment.pool(PoolRole::Decode).unwrap().gpu, Some(GpuChoice::Preset("h200".into())));
        edit_pool(&mut scenario, PoolRole::Decode, |pool| choose_pool_gpu(pool, SAME_GPU)).unwrap();
        assert_eq!(scenario.deployment.pool(PoolRole::Decode).unwrap().gpu, None);
    }
}
