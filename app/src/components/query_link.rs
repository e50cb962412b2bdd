//! Links that keep a list page's filters: the query string of the filters in force (those of
//! `keys` that are set), plus `page` (or `format`, for the REST export), percent-encoded. Live
//! Decisions, Alerts and the Audit log page and export with it.

use leptos_router::params::ParamsMap;

/// Percent-encodes a query value (unreserved characters stay as they are).
pub fn encode(v: &str) -> String {
    v.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | '~' | ':' => c.to_string(),
            '/' => "%2F".into(),
            other => {
                let mut buf = [0u8; 4];
                other.encode_utf8(&mut buf).bytes().map(|b| format!("%{b:02X}")).collect()
            }
        })
        .collect()
}

/// `path?k=v&…&page=n` with the set filters among `keys`, in that order.
pub fn page_link(path: &str, query: &ParamsMap, keys: &[&str], page: usize) -> String {
    let mut pairs: Vec<String> = keys
        .iter()
        .filter_map(|k| query.get(k).filter(|v| !v.is_empty()).map(|v| format!("{k}={}", encode(&v))))
        .collect();
    pairs.push(format!("page={page}"));
    format!("{path}?{}", pairs.join("&"))
}

/// The REST download of what the filters among `keys` select: `api?k=v&…&format=csv`.
pub fn export_link(api: &str, query: &ParamsMap, keys: &[&str], format: &str) -> String {
    let mut pairs: Vec<String> = keys
        .iter()
        .filter_map(|k| query.get(k).filter(|v| !v.is_empty()).map(|v| format!("{k}={}", encode(&v))))
        .collect();
    pairs.push(format!("format={format}"));
    format!("{api}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_set_filters_in_order_and_encodes_them() {
        let mut q = ParamsMap::new();
        q.insert("q", "203.0.113.0/24".to_owned());
        q.insert("origin", String::new());
        q.insert("scenario", "a b&c".to_owned());
        q.insert("ignored", "x".to_owned());
        assert_eq!(
            page_link("/security/decisions", &q, &["q", "origin", "scenario"], 3),
            "/security/decisions?q=203.0.113.0%2F24&scenario=a%20b%26c&page=3"
        );
        assert_eq!(export_link("/api/x", &q, &["q", "origin"], "csv"), "/api/x?q=203.0.113.0%2F24&format=csv");
    }
}

/// "Export CSV · Export JSON" links for a list page.
#[leptos::component]
pub fn ExportLinks(api: &'static str, keys: &'static [&'static str]) -> impl leptos::IntoView {
    use leptos::prelude::*;
    use crate::i18n::*;
    let i18n = use_i18n();
    let query = leptos_router::hooks::use_query_map();
    let link = move |format: &'static str| query.with(|q| export_link(api, q, keys, format));
    view! {
        <nav class="export" aria-label=move || t_string!(i18n, export_label) data-testid="export">
            <a href=move || link("csv") download data-testid="export-csv">{t!(i18n, export_csv)}</a>
            " · "
            <a href=move || link("json") download data-testid="export-json">{t!(i18n, export_json)}</a>
        </nav>
    }
}
