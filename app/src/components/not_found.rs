use leptos::prelude::*;

use crate::i18n::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    let i18n = use_i18n();
    view! {
        <main id="main" class="auth-page">
            <div class="auth-card">
                <h1>{t!(i18n, not_found_title)}</h1>
                <p><a href="/security">{t!(i18n, not_found_back)}</a></p>
            </div>
        </main>
        <crate::components::hydration::HydrationMarker />
    }
}
