//! Mounts the servesim app on the page.
#![forbid(unsafe_code)]

fn main() {
    console_error_panic_hook::set_once();
    // Start the default sample's download first, so it arrives while the app mounts and its
    // worker loads.
    servesim_app::prefetch_default_sample();
    leptos::mount::mount_to_body(servesim_app::App);
}
