//! Light or dark: the system's preference by default (CSS `prefers-color-scheme`), or the one a
//! user chose, kept in the `charon_theme` cookie (set by `POST /theme`). The server renders
//! `<html data-theme>` from the cookie, so the page never flashes the other theme.

use leptos::prelude::*;

use crate::i18n::*;

pub const COOKIE: &str = "charon_theme";

/// `system`, `light` or `dark`.
pub fn parse(s: &str) -> Option<&'static str> {
    ["system", "light", "dark"].into_iter().find(|t| *t == s.trim())
}

/// The theme the page is rendered with: the cookie's on the server (the shell writes it on
/// `<html>`); on the client, what the server put there.
pub fn current() -> &'static str {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .and_then(|parts| {
                parts.headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
                    let (name, value) = c.trim().split_once('=')?;
                    (name == COOKIE).then(|| parse(value)).flatten()
                })
            })
            .unwrap_or("system")
    }
    #[cfg(not(feature = "ssr"))]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("data-theme"))
            .and_then(|t| parse(&t))
            .unwrap_or("system")
    }
}

/// The switch in the top bar: a plain form to `POST /theme` (like the language's), which sets the
/// cookie and sends the browser back to this page.
#[component]
pub fn ThemeSwitcher() -> impl IntoView {
    let i18n = use_i18n();
    let theme = current();
    let option = move |value: &'static str, label: &'static str| view! { <option value=value selected=theme == value>{label}</option> };
    view! {
        <form method="post" action="/theme" class="theme-switcher" data-testid="theme-switcher">
            <input type="hidden" name="next" value=crate::components::language_switcher::here() />
            <label for="theme-select">{t!(i18n, theme_label)}</label>
            <select id="theme-select" name="theme" data-testid="theme-select">
                {move || option("system", t_string!(i18n, theme_system))}
                {move || option("light", t_string!(i18n, theme_light))}
                {move || option("dark", t_string!(i18n, theme_dark))}
            </select>
            <button type="submit" class="btn btn-secondary" data-testid="theme-apply">{t!(i18n, language_apply)}</button>
        </form>
    }
}
