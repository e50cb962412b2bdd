//! The Content-Security-Policy (pages: only this origin's scripts plus the hydration script with
//! its per-render nonce, set by `web.rs`; every other answer: this origin only) and HSTS when the
//! console is reached over TLS (or `public_url` is https). `startup::router` layers them with the
//! other protective headers (no sniffing, no framing, same-origin referrer).

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::AuthState;

/// Answers that are not Leptos pages (JSON, static files, the form handlers' small pages).
pub const DEFAULT_POLICY: &str =
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// A server-rendered page: its inline scripts (the hydration bootstrap, resolved resources) carry
/// `nonce`; the WASM module needs `wasm-unsafe-eval` to be compiled.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

const HSTS: &str = "max-age=31536000";

/// Adds HSTS to answers given over TLS (browsers ignore it over plain HTTP anyway).
pub async fn hsts(State(auth): State<AuthState>, req: Request, next: Next) -> Response {
    let https = auth.https(req.headers(), req.uri());
    let mut res = next.run(req).await;
    if https {
        res.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_policy_allows_only_this_origin_and_its_own_nonce() {
        let p = page_policy("abc123");
        assert!(p.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"), "{p}");
        assert!(!p.contains("unsafe-inline"), "{p}");
        assert!(p.contains("frame-ancestors 'none'") && DEFAULT_POLICY.contains("frame-ancestors 'none'"));
    }
}
