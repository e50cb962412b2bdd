use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::language_switcher::LanguageSwitcher;
use crate::auth::{safe_next, SignInOptions};
use crate::i18n::*;

/// Sign-in form. It posts to the server's `/login` handler (not a server function) so it works
/// without JavaScript and the session cookie is set by a plain HTTP response.
#[component]
pub fn LoginPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let next = move || safe_next(query.read().get("next"));
    let error = move || query.read().get("error");
    // Static on purpose (attributes, no optional views): the page is in the main WASM, and
    // optional child views here cost far more bytes than the button is worth.
    let options = SignInOptions::current();
    let sso_href = format!("/login/oidc?next={}", crate::components::query_link::encode(&next()));

    view! {
        <main id="main" class="auth-page" data-password=options.password.to_string() data-sso=options.oidc_label.clone().unwrap_or_default()>
            <div class="auth-card">
                <h1>{t!(i18n, login_title)}</h1>
                <p class="hint">{t!(i18n, login_intro)}</p>
                {move || {
                    error()
                        .map(|code| {
                            let text = match code.as_str() {
                                "rate_limited" => t_string!(i18n, login_error_rate_limited),
                                "oidc_failed" => t_string!(i18n, login_error_oidc_failed),
                                "oidc_no_role" => t_string!(i18n, login_error_oidc_no_role),
                                "oidc_username_taken" => t_string!(i18n, login_error_oidc_username_taken),
                                "password_off" => t_string!(i18n, login_error_password_off),
                                "expired" => t_string!(i18n, login_error_expired),
                                _ => t_string!(i18n, login_error_invalid),
                            };
                            view! {
                                <p class="alert alert-error" role="alert" data-testid="login-error">
                                    {text}
                                </p>
                            }
                        })
                }}
                // rel=external: a page load, not the client-side router (the server answers it).
                <a class="btn btn-primary" data-testid="oidc-login" rel="external" href=sso_href hidden=options.oidc_label.is_none()>
                    {t!(i18n, login_with)}" "{options.oidc_label.clone().unwrap_or_default()}
                </a>
                <form method="post" action="/login" class="stack" data-testid="login-form" hidden=!options.password>
                    <input type="hidden" name="next" value=next />
                    <label for="login-username">{t!(i18n, username)}</label>
                    <input
                        id="login-username"
                        name="username"
                        autocomplete="username"
                        required
                        maxlength="32"
                        autofocus
                    />
                    <label for="login-password">{t!(i18n, password)}</label>
                    <input
                        id="login-password"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                        maxlength="1024"
                    />
                    <button type="submit" class="btn btn-primary" data-testid="login-submit">
                        {t!(i18n, login_submit)}
                    </button>
                </form>
                <LanguageSwitcher />
            </div>
        </main>
        <crate::components::hydration::HydrationMarker />
    }
}
