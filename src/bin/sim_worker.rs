//! The simulation Web Worker: receives requests (JSON, with a trace file beside it as a Blob
//! when one is sent), runs them with [`servesim_app::worker::Worker`] and posts JSON replies
//! (progress, then one result).
//!
//! A file is read in slices of [`FILE_CHUNK_BYTES`] (`Blob.slice` then `arrayBuffer`), each
//! handed to the importer and dropped, so a file of hundreds of MB is never held whole. It
//! posts `Ready` once its wasm is running; the page queues requests until then. Started with
//! [`PREFETCH_QUERY`](servesim_app::worker::PREFETCH_QUERY) (by `index.html`, when the page
//! opens on the default sample), it downloads and imports that sample itself while the app
//! loads; jobs asking for it wait until it is kept.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::rc::Rc;

use servesim_app::protocol::{FromWorker, ToWorker};
use servesim_app::worker::{default_sample_key, ImportJob, Worker, FILE_CHUNK_BYTES, PREFETCH_QUERY};
use servesim_core::workload::samples;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, DedicatedWorkerGlobalScope, MessageEvent};

type Post = Rc<dyn Fn(FromWorker)>;

fn main() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let reply_scope = scope.clone();
    let post: Post = Rc::new(move |reply: FromWorker| {
        let _ = reply_scope.post_message(&JsValue::from_str(&reply.to_json()));
    });
    let worker = Rc::new(RefCell::new(Worker::default()));
    let on_message = {
        let (worker, post) = (worker.clone(), post.clone());
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // `[request JSON, file Blob]`, or the request JSON alone.
            let data = event.data();
            let (request, file) = match data.dyn_ref::<js_sys::Array>() {
                Some(parts) => (parts.get(0).as_string().unwrap_or_default(), parts.get(1).dyn_into::<Blob>().ok()),
                None => (data.as_string().unwrap_or_default(), None),
            };
            let request = match ToWorker::from_json(&request) {
                Ok(request) => request,
                Err(error) => {
                    return web_sys::console::error_1(&format!("sim_worker: unreadable request: {error}").into())
                }
            };
            let size = file.as_ref().map_or(0, |file| file.size() as u64);
            let import = worker.borrow_mut().handle(request, size, &mut |reply| post(reply));
            match (import, file) {
                (Some(import), Some(file)) => {
                    wasm_bindgen_futures::spawn_local(read_file(worker.clone(), import, file, post.clone()))
                }
                (Some(import), None) => {
                    worker.borrow_mut().abort(import, "no file came with the request", &mut |r| post(r))
                }
                (None, _) => {}
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

/// Feeds `file` to `import` slice by slice, then finishes the job.
async fn read_file(worker: Rc<RefCell<Worker>>, mut import: ImportJob, file: Blob, post: Post) {
    let size = file.size();
    let mut start = 0.0;
    while start < size && !import.failed() {
        let end = (start + FILE_CHUNK_BYTES as f64).min(size);
        match read_slice(&file, start, end).await {
            Ok(chunk) => worker.borrow_mut().push(&mut import, &chunk, &mut |reply| post(reply)),
            Err(message) => return worker.borrow_mut().abort(import, &message, &mut |reply| post(reply)),
        }
        start = end;
    }
    worker.borrow_mut().finish(import, &mut |reply| post(reply));
}

/// The bytes `start..end` of `file`.
async fn read_slice(file: &Blob, start: f64, end: f64) -> Result<Vec<u8>, String> {
    let describe = |error: JsValue| format!("{error:?}");
    let slice = file.slice_with_f64_and_f64(start, end).map_err(describe)?;
    let buffer = JsFuture::from(slice.array_buffer()).await.map_err(describe)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Downloads the default sample and hands it to `worker` (which imports and keeps it).
fn prefetch_default_sample(scope: &DedicatedWorkerGlobalScope, worker: Rc<RefCell<Worker>>, post: Post) {
    let sample = samples::find(samples::DEFAULT_SAMPLE_ID).expect("the default sample exists");
    let key = default_sample_key();
    worker.borrow_mut().expect_prefetch(key.clone());
    let request = scope.fetch_with_str(&format!("samples/{}", sample.file_name));
    wasm_bindgen_futures::spawn_local(async move {
        let bytes = fetch_bytes(request).await;
        worker.borrow_mut().prefetched(&key, bytes, &mut |reply| post(reply));
    });
}

/// The body of a fetch's response.
async fn fetch_bytes(request: js_sys::Promise) -> Result<Vec<u8>, String> {
    let describe = |error: JsValue| format!("{error:?}");
    let response: web_sys::Response = JsFuture::from(request).await.map_err(describe)?.dyn_into().map_err(describe)?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(describe)?).await.map_err(describe)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
