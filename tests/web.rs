//! Browser unit tests (wasm-bindgen-test in headless Chromium, run by `cargo xtask test`).
//!
//! They exercise what only a browser has: a real canvas, the location hash, the mounted app's
//! DOM. The worker and the bundled sample are covered end to end by `tests/e2e/`.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use servesim_app::url_state;
use servesim_charts::{draw_line_chart, LineChart};
use servesim_core::scenario::{Deployment, ReplicaPool, RouterKind, RouterSettings, Scenario};
use servesim_core::stats::{Series, SeriesId};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{HtmlCanvasElement, HtmlElement, HtmlInputElement, HtmlSelectElement};

wasm_bindgen_test_configure!(run_in_browser);

/// Lets the browser run pending tasks (Leptos updates the DOM asynchronously).
async fn tick(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

fn by_testid<T: JsCast>(testid: &str) -> Option<T> {
    document().query_selector(&format!("[data-testid=\"{testid}\"]")).unwrap().map(|element| element.unchecked_into())
}

fn set_input(testid: &str, value: &str) {
    let input: HtmlInputElement = by_testid(testid).expect("input exists");
    input.set_value(value);
    input.dispatch_event(&web_sys::Event::new("change").unwrap()).unwrap();
}

fn set_select(testid: &str, value: &str) {
    let select: HtmlSelectElement = by_testid(testid).expect("select exists");
    select.set_value(value);
    select.dispatch_event(&web_sys::Event::new("change").unwrap()).unwrap();
}

/// Mounts the app on an empty hash in a new container; returns the container and the mount.
async fn mount_app() -> (HtmlElement, impl Drop) {
    window().history().unwrap().replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("#")).unwrap();
    let container: HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&container).unwrap();
    let mounted = leptos::mount::mount_to(container.clone(), servesim_app::App);
    tick(50).await;
    (container, mounted)
}

/// The scenario the location's hash holds.
fn scenario_in_hash() -> Scenario {
    url_state::scenario_from_location().unwrap().expect("the hash holds the scenario")
}

#[wasm_bindgen_test]
fn the_line_chart_paints_its_series_on_a_canvas() {
    let canvas: HtmlCanvasElement = document().create_element("canvas").unwrap().unchecked_into();
    canvas.set_width(600);
    canvas.set_height(300);
    let series =
        [Series { id: SeriesId::ArrivalsPerS, points: (0..50).map(|i| (f64::from(i), f64::from(i % 7))).collect() }];
    let backend = CanvasBackend::with_canvas_object(canvas.clone()).unwrap();
    draw_line_chart(
        &backend.into_drawing_area(),
        &LineChart {
            title: "Arrival rate",
            x_label: "s",
            y_label: "req/s",
            series: &series,
            log_x: false,
            legend: &[],
        },
    )
    .unwrap();

    let context: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").unwrap().unwrap().unchecked_into();
    let pixels = context.get_image_data(0.0, 0.0, 600.0, 300.0).unwrap().data();
    let (mut non_white, mut series_blue) = (0, 0);
    for rgba in pixels.chunks(4) {
        if rgba[..3] != [255, 255, 255] {
            non_white += 1;
        }
        // The first palette colour, #0072B2 (allowing for anti-aliasing).
        if rgba[0] < 40 && (90..140).contains(&rgba[1]) && rgba[2] > 150 {
            series_blue += 1;
        }
    }
    assert!(non_white > 2_000, "only {non_white} painted pixels");
    assert!(series_blue > 200, "only {series_blue} pixels of the series colour");
}

#[wasm_bindgen_test]
fn a_scenario_round_trips_through_the_location_hash() {
    let scenario = Scenario {
        seed: 99,
        deployment: Deployment::Aggregated(ReplicaPool { replicas: 12, tp: 2, ..ReplicaPool::default() }),
        router: RouterSettings::of(RouterKind::PowerOfTwo),
        ..Scenario::default()
    };
    url_state::write_scenario_to_location(&scenario);
    assert!(window().location().hash().unwrap().starts_with("#s=1."));
    assert_eq!(url_state::scenario_from_location(), Ok(Some(scenario)));

    window().history().unwrap().replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("#s=1.broken")).unwrap();
    let error = url_state::scenario_from_location().unwrap_err();
    assert!(error.contains("truncated or damaged"), "{error}");
}

#[wasm_bindgen_test]
async fn the_app_mirrors_edits_into_the_hash_and_validates_inline() {
    let (container, mounted) = mount_app().await;

    let title: HtmlElement = document().query_selector("h1").unwrap().unwrap().unchecked_into();
    assert_eq!(title.text_content().unwrap(), "servesim");
    let replicas: HtmlInputElement = by_testid("replicas").unwrap();
    assert_eq!(replicas.value(), "8", "the app opens with the reference replay");

    set_input("replicas", "4");
    tick(50).await;
    let scenario = scenario_in_hash();
    assert_eq!(scenario.deployment, Deployment::Aggregated(ReplicaPool { replicas: 4, ..ReplicaPool::default() }));

    set_input("replicas", "0");
    tick(50).await;
    let problems: HtmlElement = by_testid("validation").expect("problems are listed");
    assert_eq!(problems.text_content().unwrap(), "deployment.aggregated.replicas: must be ≥ 1, got 0");
    let run: web_sys::HtmlButtonElement = by_testid("run").unwrap();
    assert!(run.disabled(), "Run is disabled while the scenario is invalid");

    set_input("replicas", "2");
    tick(50).await;
    assert!(by_testid::<HtmlElement>("validation").is_none(), "problems clear once fixed");
    drop(mounted);
    assert_eq!(container.child_element_count(), 0, "the app unmounts");
    container.remove();
}

#[wasm_bindgen_test]
async fn switching_to_disaggregated_and_back_round_trips_the_deployment() {
    let (container, mounted) = mount_app().await;
    set_select("deployment-mode", "disaggregated");
    tick(50).await;
    let Deployment::Disaggregated(pools) = scenario_in_hash().deployment else { panic!("not disaggregated") };
    assert_eq!((pools.prefill.replicas, pools.decode.replicas), (4, 4), "the eight replicas split in halves");
    assert!(by_testid::<HtmlElement>("replicas").is_none(), "the aggregated fields make way for the pools'");
    let replicas: HtmlInputElement = by_testid("decode-replicas").expect("the decode pool's fields");
    assert_eq!(replicas.value(), "4");

    set_select("decode-tp", "2");
    set_input("transfer-latency-us", "250");
    set_select("decode-router", "least_kv");
    tick(50).await;
    let scenario = scenario_in_hash();
    let Deployment::Disaggregated(pools) = &scenario.deployment else { panic!("not disaggregated") };
    assert_eq!((pools.decode.tp, pools.prefill.tp, pools.transfer.latency_us), (2, 1, 250.0));
    assert_eq!(scenario.router.decode_kind, Some(RouterKind::LeastKv));
    assert!(scenario.validate().is_ok(), "{:?}", scenario.validate());

    set_select("deployment-mode", "aggregated");
    tick(50).await;
    let scenario = scenario_in_hash();
    assert_eq!(scenario.deployment, Deployment::Aggregated(ReplicaPool { replicas: 8, ..ReplicaPool::default() }));
    assert_eq!(scenario.router.decode_kind, None, "no decode router without a decode pool");
    assert!(by_testid::<HtmlElement>("decode-router").is_none());
    let replicas: HtmlInputElement = by_testid("replicas").expect("the aggregated fields are back");
    assert_eq!(replicas.value(), "8");
    drop(mounted);
    container.remove();
}
