//! The browser entry point: nothing but `hydrate()`. Everything else lives in the `app` crate.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Waits for the current page's WASM chunk when it is a lazily loaded one (`app::routes`).
    leptos::mount::hydrate_lazy(app::App);
}
