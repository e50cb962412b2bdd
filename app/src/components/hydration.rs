use leptos::prelude::*;

/// Sets `body[data-hydrated]` once the WASM has taken over the server-rendered page, so browser
/// tests (and people debugging) can tell a hydrated page from a dead one: a broken wasm-opt leaves
/// SSR looking perfect while nothing is interactive. It is part of each page (the layout, the
/// sign-in, setup and not-found pages), not of the app around the router: a lazily loaded page
/// hydrates after its chunk arrives, later than the app's own effects run.
#[component]
pub fn HydrationMarker() -> impl IntoView {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "");
        }
    });
}
