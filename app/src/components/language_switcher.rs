use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::i18n::*;

/// A plain form posting to `/locale`: the server stores the choice in the `i18n_pref_locale`
/// cookie and redirects back, so it works the same with and without JavaScript.
/// This page's path and query: where a preference form sends the browser back to.
pub fn here() -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let location = use_location();
    move || {
        let search = location.search.try_get().unwrap_or_default();
        let path = location.pathname.try_get().unwrap_or_default();
        if search.is_empty() {
            path
        } else {
            format!("{path}?{search}")
        }
    }
}

#[component]
pub fn LanguageSwitcher() -> impl IntoView {
    let i18n = use_i18n();
    let next = here();
    let current = move || i18n.get_locale();
    let option = move |value: Locale, label: &'static str| {
        view! {
            <option value=value.as_str() selected=move || current() == value lang=value.as_str()>
                {label}
            </option>
        }
    };
    view! {
        <form method="post" action="/locale" class="language-switcher" data-testid="language-switcher">
            <input type="hidden" name="next" value=next />
            <label for="locale-select">{t!(i18n, language)}</label>
            <select id="locale-select" name="locale" data-testid="locale-select">
                {move || option(Locale::en, t_string!(i18n, lang_en))}
                {move || option(Locale::de, t_string!(i18n, lang_de))}
                {move || option(Locale::es, t_string!(i18n, lang_es))}
                {move || option(Locale::fr, t_string!(i18n, lang_fr))}
                {move || option(Locale::zh, t_string!(i18n, lang_zh))}
            </select>
            <button type="submit" class="btn btn-secondary" data-testid="locale-apply">
                {t!(i18n, language_apply)}
            </button>
        </form>
    }
}
