//! The simulation Web Worker: receives requests (JSON, with a trace's text beside it when one
//! is sent), runs them with [`servesim_app::worker::Worker`] and posts JSON replies (progress,
//! then one result).
//!
//! It posts `Ready` once its wasm is running; the page queues requests until then. Started with
//! [`PREFETCH_QUERY`](servesim_app::worker::PREFETCH_QUERY) (by `index.html`, when the page
//! opens on the default sample), it downloads and parses that sample itself while the app
//! loads; jobs asking for it wait until it is kept.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::rc::Rc;

use servesim_app::protocol::{FromWorker, ToWorker};
use servesim_app::worker::{default_sample_key, Worker, PREFETCH_QUERY};
use servesim_core::workload::samples;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

fn main() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let reply_scope = scope.clone();
    let post = move |reply: FromWorker| {
        let _ = reply_scope.post_message(&JsValue::from_str(&reply.to_json()));
    };
    let worker = Rc::new(RefCell::new(Worker::default()));
    let on_message = {
        let (worker, post) = (worker.clone(), post.clone());
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // `[request JSON, trace text]`, or the request JSON alone.
            let data = event.data();
            let (request, text) = match data.dyn_ref::<js_sys::Array>() {
                Some(parts) => (parts.get(0).as_string().unwrap_or_default(), parts.get(1).as_string()),
                None => (data.as_string().unwrap_or_default(), None),
            };
            match ToWorker::from_json(&request) {
                Ok(request) => worker.borrow_mut().handle(request, text, &mut |reply| post(reply)),
                Err(error) => web_sys::console::error_1(&format!("sim_worker: unreadable request: {error}").into()),
            }
        })
    };
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    if scope.location().search() == PREFETCH_QUERY {
        prefetch_default_sample(&scope, worker, post.clone());
    }
    post(FromWorker::Ready);
    // While the trace downloads, get the simulator's code optimised by the browser.
    let _ = Worker::warm_up();
}

/// Downloads the default sample and hands it to `worker` (which parses and keeps it).
fn prefetch_default_sample(
    scope: &DedicatedWorkerGlobalScope,
    worker: Rc<RefCell<Worker>>,
    post: impl Fn(FromWorker) + 'static,
) {
    let sample = samples::find(samples::DEFAULT_SAMPLE_ID).expect("the default sample exists");
    let key = default_sample_key();
    worker.borrow_mut().expect_prefetch(key.clone());
    let request = scope.fetch_with_str(&format!("samples/{}", sample.file_name));
    wasm_bindgen_futures::spawn_local(async move {
        let text = fetch_text(request).await;
        worker.borrow_mut().prefetched(&key, sample.id, text, &mut |reply| post(reply));
    });
}

/// The text of a fetch's response.
async fn fetch_text(request: js_sys::Promise) -> Result<String, String> {
    let describe = |error: JsValue| format!("{error:?}");
    let response: web_sys::Response = JsFuture::from(request).await.map_err(describe)?.dyn_into().map_err(describe)?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(describe)?).await.map_err(describe)?;
    text.as_string().ok_or_else(|| "the response is not text".to_owned())
}
