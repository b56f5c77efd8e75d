//! The simulation Web Worker: receives requests (JSON, with a trace's text beside it when one
//! is sent), runs them with [`servesim_app::worker::Worker`] and posts JSON replies (progress,
//! then one result).
//!
//! It posts `Ready` once its wasm is running; the page queues requests until then.
#![forbid(unsafe_code)]

use servesim_app::protocol::{FromWorker, ToWorker};
use servesim_app::worker::Worker;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

fn main() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let reply_scope = scope.clone();
    let post = move |reply: FromWorker| {
        let _ = reply_scope.post_message(&JsValue::from_str(&reply.to_json()));
    };
    let on_message_post = post.clone();
    let mut worker = Worker::default();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        // `[request JSON, trace text]`, or the request JSON alone.
        let data = event.data();
        let (request, text) = match data.dyn_ref::<js_sys::Array>() {
            Some(parts) => (parts.get(0).as_string().unwrap_or_default(), parts.get(1).as_string()),
            None => (data.as_string().unwrap_or_default(), None),
        };
        match ToWorker::from_json(&request) {
            Ok(request) => worker.handle(request, text, &mut |reply| on_message_post(reply)),
            Err(error) => web_sys::console::error_1(&format!("sim_worker: unreadable request: {error}").into()),
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(FromWorker::Ready);
    // While the page fetches the trace, get the simulator's code optimised by the browser.
    Worker::warm_up();
}
