use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::auth::safe_next;
use crate::i18n::*;

/// The sign-in's second step: the code from the authenticator app, or a recovery code. Posts to
/// the server's `/login/code` handler, which holds the challenge the password earned (a cookie).
#[component]
pub fn CodePage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let next = move || safe_next(query.read().get("next"));
    let wrong = move || query.read().get("error").is_some();
    view! {
        <main id="main" class="auth-page">
            <div class="auth-card">
                <h1>{t!(i18n, totp_step_title)}</h1>
                <p class="hint" id="code-hint">{t!(i18n, totp_step_intro)}</p>
                <Show when=wrong>
                    <p class="alert alert-error" role="alert" data-testid="code-error">{t!(i18n, error_totp_code_invalid)}</p>
                </Show>
                <form method="post" action="/login/code" class="stack" data-testid="code-form">
                    <input type="hidden" name="next" value=next />
                    <label for="login-code">{t!(i18n, totp_code)}</label>
                    <input id="login-code" name="code" autocomplete="one-time-code" inputmode="numeric" required maxlength="16"
                        aria-describedby="code-hint" autofocus />
                    <button type="submit" class="btn btn-primary" data-testid="code-submit">{t!(i18n, login_submit)}</button>
                </form>
                <p><a href="/login">{t!(i18n, totp_step_restart)}</a></p>
            </div>
        </main>
        <crate::components::hydration::HydrationMarker />
    }
}
