//! The gate in front of every route: cross-origin check for mutating requests, caller
//! identification, first-run redirect to `/setup`, and the 401/redirect for anonymous callers.
//! A signed-in caller the policy (`policy::allows`) does not let through gets 403 here, before any
//! handler: viewers reach only reads, so a new endpoint is admin-only until declared readable.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;

use app::accounts::model::Principal;

use super::{policy, session};
use crate::db::users;
use super::AuthState;

/// What kind of resource a path is, which decides how an anonymous caller is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Reachable by anyone: liveness, readiness, static assets, the sign-in page.
    Public,
    /// `/setup`: only while no administrator exists.
    Setup,
    /// REST routes and server functions: answered with JSON.
    Api,
    /// HTML pages: anonymous callers are redirected.
    Page,
    /// The engine's alert hook: no session or API token opens it; the handler checks the token
    /// Charon gave the engine at this start (401 for everyone else).
    Machine,
}

/// The engine's alert hook (served by `api::notifications`, checked by `notify::engine_alerts`).
pub const ENGINE_HOOK_PATH: &str = "/api/v1/internal/engine-alerts";

pub fn classify(path: &str) -> PathKind {
    match path {
        "/health" | "/ready" | "/login" | "/login/code" | "/login/oidc" | "/login/oidc/callback" | "/locale" | "/theme" | "/favicon.ico" | "/robots.txt" => {
            PathKind::Public
        }
        "/setup" => PathKind::Setup,
        ENGINE_HOOK_PATH => PathKind::Machine,
        p if p.starts_with("/pkg/") => PathKind::Public,
        // Prometheus scrapes with a bearer token: a 401, never the login page.
        "/metrics" => PathKind::Api,
        p if p.starts_with("/api/") || p.starts_with("/rpc/") => PathKind::Api,
        _ => PathKind::Page,
    }
}

pub fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"error": "unauthorized"}))).into_response()
}

/// A viewer at an admin-only endpoint: REST's `{"error"}` body, or the server functions' own
/// error encoding so the page can show it.
fn forbidden(path: &str) -> Response {
    if path.starts_with("/rpc/") {
        let body = serde_json::to_value(app::error::AppError::Forbidden).unwrap_or_default();
        (StatusCode::FORBIDDEN, Json(body)).into_response()
    } else {
        (StatusCode::FORBIDDEN, Json(json!({"error": "forbidden"}))).into_response()
    }
}

/// Where an account that must first set up its second factor may go: the set-up page and its
/// server functions, who-am-I, signing out. Anything else: the page redirects there, the API
/// answers 403.
pub const SECOND_FACTOR_SETUP: &str = "/settings/two-factor";

fn setup_second_factor_first(kind: PathKind, path: &str) -> Option<Response> {
    let allowed = path == SECOND_FACTOR_SETUP || path == "/logout" || path.starts_with("/rpc/totp/") || path == "/rpc/whoami" || path == "/api/v1/auth/me" || path == "/api/v1/account/two-factor";
    match kind {
        _ if allowed => None,
        PathKind::Page => Some(Redirect::to(SECOND_FACTOR_SETUP).into_response()),
        PathKind::Api => Some((StatusCode::FORBIDDEN, Json(json!({"error": "set up a second factor first (Settings → Two-factor)"}))).into_response()),
        _ => None,
    }
}

fn forbidden_origin() -> Response {
    (StatusCode::FORBIDDEN, Json(json!({"error": "cross-origin request refused"}))).into_response()
}

fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A mutating request from a browser must come from a page of this server: its `Origin` equals the
/// configured public origin when there is one, otherwise the request's own `Host`. Requests without
/// an `Origin` (curl, scripts with a bearer token) are not cross-site browser requests.
pub fn origin_allowed(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    if let Some(expected) = public_origin {
        return origin.to_str().is_ok_and(|o| o.trim_end_matches('/').eq_ignore_ascii_case(expected));
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    // "null" (sandboxed frames, some redirects) has no host and never matches.
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    origin_host.is_some_and(|h| h.eq_ignore_ascii_case(host))
}

/// The request says where it comes from: an `Origin` (checked by `origin_allowed`) or
/// `Sec-Fetch-Site: same-origin`.
fn declares_same_origin(headers: &HeaderMap) -> bool {
    headers.contains_key(header::ORIGIN)
        || headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|v| v == "same-origin")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn identify(state: &AuthState, headers: &HeaderMap) -> Result<Option<Principal>, sqlx::Error> {
    if let Some(token) = bearer(headers) {
        // A presented but invalid token is not silently downgraded to the cookie.
        return session::principal_from_token(&state.db, token).await;
    }
    match session::presented(headers) {
        Some(id) => session::principal_from_session(&state.db, &id).await,
        None => Ok(None),
    }
}

/// Whether an administrator exists. Cached once true (accounts are never deleted); while false,
/// the database is asked each time, so an admin created by `charon admin create` in another
/// process is seen at once.
pub async fn setup_done(state: &AuthState) -> bool {
    if state.setup_done.load(Ordering::Acquire) {
        return true;
    }
    let done = users::admin_exists(&state.db).await.unwrap_or(false);
    if done {
        state.setup_done.store(true, Ordering::Release);
    }
    done
}

fn login_redirect(req: &Request) -> Response {
    let target = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    Redirect::to(&format!("/login?next={}", super::query_value(target))).into_response()
}

/// Whether a path has a `.` or `..` segment (also percent-encoded). Nothing here resolves them,
/// so `/pkg/../settings` would be classified by its `/pkg/` prefix as a public asset and yet
/// render the settings page; such paths are refused before anything else.
pub fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

pub async fn gate(State(state): State<AuthState>, mut req: Request, next: Next) -> Response {
    if has_dot_segment(req.uri().path()) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "paths with . or .. segments are not served"}))).into_response();
    }
    if is_mutating(req.method()) && !origin_allowed(req.headers(), state.public_origin.as_deref()) {
        return forbidden_origin();
    }
    let kind = classify(req.uri().path());
    let principal = match identify(&state, req.headers()).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "could not look up the caller's session");
            return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "database unavailable"})))
                .into_response();
        }
    };
    // A browser sends `Origin` (or `Sec-Fetch-Site`) with every mutation; a cookie-carrying
    // mutation with neither did not come from a page of ours (scripts use a bearer token).
    if is_mutating(req.method())
        && principal.as_ref().is_some_and(|p| p.method == app::accounts::model::AuthMethod::Session)
        && !declares_same_origin(req.headers())
    {
        return forbidden_origin();
    }
    let principal = principal.map(|mut p| {
        p.address = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        p
    });
    if let Some(p) = principal.clone() {
        req.extensions_mut().insert(p);
    }
    // Every local account must have a second factor and this one has none yet: it may only set
    // one up (API tokens are separate credentials and are not held back).
    if let Some(p) = principal.as_ref().filter(|p| p.method == app::accounts::model::AuthMethod::Session && state.two_factor.required()) {
        if matches!(state.two_factor.missing(p.user_id).await, Ok(true)) {
            if let Some(refused) = setup_second_factor_first(kind, req.uri().path()) {
                return refused;
            }
        }
    }

    match kind {
        PathKind::Public if req.uri().path() == "/login" && !setup_done(&state).await => {
            Redirect::to("/setup").into_response()
        }
        PathKind::Public => next.run(req).await,
        PathKind::Machine => {
            // Whoever else is signed in, the handler sees no principal: only the engine's token counts.
            req.extensions_mut().remove::<app::accounts::model::Principal>();
            next.run(req).await
        }
        PathKind::Setup => {
            if setup_done(&state).await {
                (StatusCode::NOT_FOUND, "Not Found").into_response()
            } else {
                next.run(req).await
            }
        }
        PathKind::Api if principal.as_ref().is_some_and(|p| !policy::allows(p.role, req.method(), req.uri().path())) => {
            forbidden(req.uri().path())
        }
        PathKind::Page | PathKind::Api if principal.is_some() => next.run(req).await,
        PathKind::Page => {
            if setup_done(&state).await {
                login_redirect(&req)
            } else {
                Redirect::to("/setup").into_response()
            }
        }
        PathKind::Api => unauthorized(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn paths_are_classified_by_how_anonymous_callers_are_answered() {
        assert_eq!(classify("/health"), PathKind::Public);
        assert_eq!(classify(ENGINE_HOOK_PATH), PathKind::Machine);
        assert_eq!(classify("/api/v1/internal/engine-alerts/x"), PathKind::Api, "only the exact path");
        assert_eq!(classify("/pkg/charon.wasm"), PathKind::Public);
        assert_eq!(classify("/setup"), PathKind::Setup);
        assert_eq!(classify("/api/v1/users"), PathKind::Api);
        assert_eq!(classify("/rpc/whoami"), PathKind::Api);
        assert_eq!(classify("/security"), PathKind::Page);
        assert_eq!(classify("/"), PathKind::Page);
        assert_eq!(classify("/healthz"), PathKind::Page);
    }

    #[test]
    fn same_origin_and_originless_requests_pass_foreign_origins_do_not() {
        assert!(origin_allowed(&headers(&[("host", "127.0.0.1:8080")]), None));
        assert!(origin_allowed(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ]), None));
        assert!(!origin_allowed(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ]), None));
        assert!(!origin_allowed(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080.evil.example")
        ]), None));
        assert!(!origin_allowed(&headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]), None));
        assert!(!origin_allowed(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("sec-fetch-site", "cross-site")
        ]), None));
    }

    #[test]
    fn dot_segments_are_recognised_also_when_encoded() {
        for p in ["/pkg/../settings", "/pkg/%2e%2e/settings", "/pkg/%2E./settings", "/./security", "/security/.", "/a/.."] {
            assert!(has_dot_segment(p), "{p}");
        }
        for p in ["/pkg/charon.wasm", "/security/hub/parsers/crowdsecurity/nginx-logs", "/..well", "/a.b/c..d", "/"] {
            assert!(!has_dot_segment(p), "{p}");
        }
    }

    #[test]
    fn a_configured_public_origin_is_what_origin_must_be() {
        let public = Some("https://charon.example.com");
        // DNS rebinding: the attacker's page has the same Host as its Origin, but not ours.
        assert!(!origin_allowed(&headers(&[("host", "evil.example"), ("origin", "http://evil.example")]), public));
        assert!(origin_allowed(&headers(&[("host", "10.0.0.5:8080"), ("origin", "https://charon.example.com")]), public));
        assert!(!origin_allowed(&headers(&[("host", "charon.example.com"), ("origin", "http://charon.example.com")]), public), "scheme matters");
    }

    #[test]
    fn a_request_declares_its_origin_by_origin_or_fetch_metadata() {
        assert!(declares_same_origin(&headers(&[("origin", "http://127.0.0.1:8080")])));
        assert!(declares_same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!declares_same_origin(&headers(&[("sec-fetch-site", "none")])));
        assert!(!declares_same_origin(&headers(&[("host", "127.0.0.1:8080")])));
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(bearer(&headers(&[("authorization", "Bearer abc")])), Some("abc"));
        assert_eq!(bearer(&headers(&[("authorization", "bearer abc")])), Some("abc"));
        assert_eq!(bearer(&headers(&[("authorization", "Basic abc")])), None);
    }
}
