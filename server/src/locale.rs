//! The visitor's language on the server side (for responses rendered outside Leptos): the
//! `i18n_pref_locale` cookie leptos_i18n uses, then `Accept-Language`, then English.

use app::i18n::Locale;
use axum::http::{header, HeaderMap};

/// The cookie leptos_i18n reads and writes; the language switcher sets it.
pub const COOKIE_NAME: &str = "i18n_pref_locale";

const ALL: [(Locale, &str); 5] = [
    (Locale::en, "en"),
    (Locale::de, "de"),
    (Locale::es, "es"),
    (Locale::fr, "fr"),
    (Locale::zh, "zh"),
];

pub fn parse(s: &str) -> Option<Locale> {
    ALL.iter().find(|(_, code)| *code == s).map(|(l, _)| *l)
}

pub fn code(locale: Locale) -> &'static str {
    ALL.iter()
        .find(|(l, _)| *l == locale)
        .map(|(_, c)| *c)
        .unwrap_or("en")
}

pub fn from_headers(headers: &HeaderMap) -> Locale {
    if let Some(l) = crate::support::cookies::read_cookie(headers, COOKIE_NAME).and_then(|c| parse(&c)) {
        return l;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept
        .split(',')
        .filter_map(|part| part.split(';').next())
        .filter_map(|tag| tag.trim().split('-').next())
        .find_map(|primary| parse(&primary.to_ascii_lowercase()))
        .unwrap_or(Locale::en)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookie_beats_accept_language_which_beats_english() {
        let mut h = HeaderMap::new();
        assert!(from_headers(&h) == Locale::en);
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("pt-BR, fr-CA;q=0.8, en;q=0.5"));
        assert!(from_headers(&h) == Locale::fr);
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; i18n_pref_locale=zh"));
        assert!(from_headers(&h) == Locale::zh);
        h.insert(header::COOKIE, HeaderValue::from_static("i18n_pref_locale=xx"));
        assert!(from_headers(&h) == Locale::fr, "an unknown cookie value is ignored");
    }
}
