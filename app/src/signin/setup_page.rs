use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::error_message::code_text;
use crate::components::language_switcher::LanguageSwitcher;
use crate::error::ErrorCode;
use crate::i18n::*;
use crate::accounts::model::{PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN};

/// First-run page: creates the administrator. The server answers 404 here once one exists.
#[component]
pub fn SetupPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let error = move || query.read().get("error").and_then(|c| ErrorCode::parse(&c));
    let username = move || query.read().get("username").unwrap_or_default();

    view! {
        <main id="main" class="auth-page">
            <div class="auth-card">
                <h1>{t!(i18n, setup_title)}</h1>
                <p class="hint">{t!(i18n, setup_intro)}</p>
                {move || {
                    error()
                        .map(|code| {
                            view! {
                                <p class="alert alert-error" role="alert" data-testid="setup-error">
                                    {code_text(i18n, code)}
                                </p>
                            }
                        })
                }}
                <form method="post" action="/setup" class="stack" data-testid="setup-form">
                    <label for="setup-code">{t!(i18n, setup_code)}</label>
                    <input
                        id="setup-code"
                        name="setup_code"
                        autocomplete="off"
                        spellcheck="false"
                        required
                        maxlength=64
                        aria-describedby="setup-code-hint"
                    />
                    <p id="setup-code-hint" class="hint">{t!(i18n, setup_code_hint)}</p>
                    <label for="setup-username">{t!(i18n, username)}</label>
                    <input
                        id="setup-username"
                        name="username"
                        autocomplete="username"
                        required
                        minlength=USERNAME_MIN
                        maxlength=USERNAME_MAX
                        value=username
                    />
                    <label for="setup-password">{t!(i18n, password)}</label>
                    <input
                        id="setup-password"
                        name="password"
                        type="password"
                        autocomplete="new-password"
                        required
                        minlength=PASSWORD_MIN
                        maxlength=PASSWORD_MAX
                        aria-describedby="setup-password-hint"
                    />
                    <p id="setup-password-hint" class="hint">{t!(i18n, password_hint)}</p>
                    <label for="setup-password-confirm">{t!(i18n, password_confirm)}</label>
                    <input
                        id="setup-password-confirm"
                        name="password_confirm"
                        type="password"
                        autocomplete="new-password"
                        required
                        minlength=PASSWORD_MIN
                        maxlength=PASSWORD_MAX
                    />
                    <button type="submit" class="btn btn-primary" data-testid="setup-submit">
                        {t!(i18n, setup_submit)}
                    </button>
                </form>
                <LanguageSwitcher />
            </div>
        </main>
        <crate::components::hydration::HydrationMarker />
    }
}
