//! Drop zones: a file dropped on a zone, or picked with its button, goes to the zone's handler;
//! and the reading of a small file (a model config, a benchmark, a step profile) in the page.

use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DragEvent, File, HtmlInputElement};

/// The largest file [`read_small_file`] reads: far more than any config, benchmark or profile,
/// far less than a trace dropped on the wrong zone.
const SMALL_FILE_LIMIT_BYTES: f64 = (16 << 20) as f64;

/// The first file a drag carries.
fn dropped_file(ev: &DragEvent) -> Option<File> {
    ev.data_transfer().and_then(|transfer| transfer.files()).and_then(|files| files.get(0))
}

/// A drop zone with a file button (its children say what to drop). A file dropped on the zone
/// goes to `on_file` and to no other zone; with `page_wide`, so does a file dropped anywhere on
/// the page outside another zone.
#[component]
pub fn FileDrop<F>(
    testid: &'static str,
    /// The file input's `data-testid`.
    input_testid: &'static str,
    /// The file types the picker offers, e.g. `".json"`.
    accept: &'static str,
    /// The text of the file button.
    button: &'static str,
    on_file: F,
    /// Whether the zone also takes files dropped anywhere on the page.
    #[prop(optional)]
    page_wide: bool,
    children: Children,
) -> impl IntoView
where
    F: Fn(File) + Copy + 'static,
{
    let dragging = RwSignal::new(false);
    let take = move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(file) = dropped_file(&ev) {
            on_file(file);
        }
    };
    let hover = move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(true);
    };
    if page_wide {
        let on_drag_over = window_event_listener(leptos::ev::dragover, hover);
        let on_drag_leave = window_event_listener(leptos::ev::dragleave, move |_| dragging.set(false));
        let on_drop = window_event_listener(leptos::ev::drop, take);
        on_cleanup(move || {
            on_drag_over.remove();
            on_drag_leave.remove();
            on_drop.remove();
        });
    }
    let on_pick = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            on_file(file);
        }
        input.set_value("");
    };
    // A drag over or a drop on this zone stops here: the page-wide zone must not take it too.
    view! {
        <div class="dropzone" class:dragging=move || dragging.get() data-testid=testid
            on:dragover=move |ev: DragEvent| { ev.stop_propagation(); hover(ev); }
            on:dragleave=move |_| dragging.set(false)
            on:drop=move |ev: DragEvent| { ev.stop_propagation(); take(ev); }>
            {children()}
            <label class="button">
                {button}
                <input type="file" data-testid=input_testid accept=accept on:change=on_pick/>
            </label>
        </div>
    }
}

/// The bytes of a dropped or picked `file` that should be small (16 MiB at most).
///
/// # Errors
///
/// Says the file is too large, or gives the browser's message when it cannot be read.
pub async fn read_small_file(file: &File) -> Result<Vec<u8>, String> {
    if file.size() > SMALL_FILE_LIMIT_BYTES {
        return Err(format!("{:.0} MB is too large for this kind of file", file.size() / 1e6));
    }
    let buffer =
        JsFuture::from(file.array_buffer()).await.map_err(|error| format!("cannot read the file: {error:?}"))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
