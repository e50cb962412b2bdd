use leptos::prelude::*;

/// Sets `body[data-hydrated]` once the WASM has taken over the server-rendered page, so browser
/// tests (and people debugging) can tell a hydrated page from a dead one: a broken wasm-opt leaves
/// SSR looking perfect while nothing is interactive.
#[component]
pub fn HydrationMarker() -> impl IntoView {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "");
        }
    });
}
