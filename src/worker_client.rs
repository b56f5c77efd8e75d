//! The page's handle on the simulation worker: spawn, ready handshake, send, terminate.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use crate::protocol::{FromWorker, ToWorker};

/// Where trunk puts the worker's loader shim (`data-bin="sim_worker" data-loader-shim`).
pub const WORKER_URL: &str = "./sim_worker_loader.js";

/// A running simulation worker.
///
/// Requests sent before the worker reports [`FromWorker::Ready`] are queued and flushed then.
/// If the worker dies (a trap in its wasm, a failed load) the reply callback receives
/// [`FromWorker::Crashed`] for the job in flight, so the page never waits forever.
pub struct SimWorker {
    worker: Worker,
    link: Rc<RefCell<Link>>,
    /// The key of the trace the worker is downloading and keeping itself (the default sample,
    /// when `index.html` asked it to).
    prefetched: Option<String>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

#[derive(Default)]
struct Link {
    ready: bool,
    queued: Vec<JsValue>,
    job_in_flight: Option<u32>,
}

impl SimWorker {
    /// Starts a worker; `on_reply` receives every reply but `Ready`.
    ///
    /// # Errors
    ///
    /// Returns the browser's message when the worker cannot be created.
    pub fn spawn(on_reply: impl FnMut(FromWorker) + 'static) -> Result<SimWorker, String> {
        let (worker, early_messages, prefetching) = match take_early_worker() {
            Some(early) => early,
            None => (
                Worker::new(WORKER_URL).map_err(|error| format!("cannot start the simulation worker: {error:?}"))?,
                Vec::new(),
                false,
            ),
        };
        let link = Rc::new(RefCell::new(Link::default()));
        let on_reply = Rc::new(RefCell::new(on_reply));

        let (sender, message_link, message_reply) = (worker.clone(), link.clone(), on_reply.clone());
        let handle = Rc::new(move |text: String| {
            match FromWorker::from_json(&text) {
                Ok(FromWorker::Ready) => {
                    let queued = {
                        let mut link = message_link.borrow_mut();
                        link.ready = true;
                        std::mem::take(&mut link.queued)
                    };
                    for message in queued {
                        let _ = sender.post_message(&message);
                    }
                }
                Ok(reply) => {
                    if let FromWorker::Finished { job, .. }
                    | FromWorker::RoutersCompared { job, .. }
                    | FromWorker::Calibrated { job, .. }
                    | FromWorker::Failed { job, .. } = &reply
                    {
                        let mut link = message_link.borrow_mut();
                        if link.job_in_flight == Some(*job) {
                            link.job_in_flight = None;
                        }
                    }
                    (message_reply.borrow_mut())(reply);
                }
                Err(error) => {
                    // Never leave the page waiting: a reply it cannot read ends the job in flight.
                    let job = message_link.borrow_mut().job_in_flight.take();
                    if let Some(job) = job {
                        let message = format!("the simulation worker sent an unreadable reply: {error}");
                        (message_reply.borrow_mut())(FromWorker::Crashed { job, message });
                    }
                }
            }
        });
        let on_message = {
            let handle = handle.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                handle(event.data().as_string().unwrap_or_default())
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // What an early worker said before this handler existed (its `Ready`).
        for text in early_messages {
            handle(text);
        }

        let error_link = link.clone();
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
            event.prevent_default();
            let job = error_link.borrow_mut().job_in_flight.take();
            if let Some(job) = job {
                let message = format!("the simulation worker crashed: {}", event.message());
                (on_reply.borrow_mut())(FromWorker::Crashed { job, message });
            }
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        let prefetched = prefetching.then(crate::worker::default_sample_key);
        Ok(SimWorker { worker, link, prefetched, _on_message: on_message, _on_error: on_error })
    }

    /// The key of the trace this worker fetches and keeps on its own, if any: jobs may ask for it
    /// by key from the start.
    pub fn prefetched(&self) -> Option<String> {
        self.prefetched.clone()
    }

    /// Stops the worker at once, abandoning any job.
    pub fn terminate(&self) {
        self.worker.terminate();
    }

    /// Sends a request now, or once the worker is ready; `text` (a JS string: a trace's text)
    /// travels beside the request's JSON, never escaped into it.
    pub fn send(&self, request: &ToWorker, text: Option<&JsValue>) {
        let json = JsValue::from_str(&request.to_json());
        let message = match text {
            Some(text) => js_sys::Array::of2(&json, text).into(),
            None => json,
        };
        let mut link = self.link.borrow_mut();
        link.job_in_flight = Some(request.job());
        if link.ready {
            let _ = self.worker.post_message(&message);
        } else {
            link.queued.push(message);
        }
    }
}

/// The worker `index.html` started before the app's wasm loaded (`window.__servesimEarly`),
/// with the messages it posted meanwhile and whether it was asked to prefetch the default
/// sample; taken once (a restart makes a new worker), and only if it did not fail to load.
fn take_early_worker() -> Option<(Worker, Vec<String>, bool)> {
    let window = web_sys::window()?;
    let early = js_sys::Reflect::get(&window, &JsValue::from_str("__servesimEarly")).ok()?;
    if early.is_undefined() || early.is_null() {
        return None;
    }
    let field = |name: &str| js_sys::Reflect::get(&early, &JsValue::from_str(name)).ok();
    let worker = field("worker")?.dyn_into::<Worker>().ok();
    let failed = field("error").is_some_and(|error| !error.is_undefined());
    let _ = js_sys::Reflect::set(&early, &JsValue::from_str("worker"), &JsValue::UNDEFINED);
    let messages: Vec<String> = field("messages")
        .and_then(|messages| messages.dyn_into::<js_sys::Array>().ok())
        .map(|messages| messages.iter().filter_map(|message| message.as_string()).collect())
        .unwrap_or_default();
    let prefetching = field("prefetching").is_some_and(|prefetching| prefetching.is_truthy());
    match worker {
        Some(worker) if !failed => Some((worker, messages, prefetching)),
        Some(worker) => {
            worker.terminate();
            None
        }
        None => None,
    }
}
