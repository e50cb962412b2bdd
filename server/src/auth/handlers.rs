//! Plain HTML-form endpoints: `POST /login`, `POST /login/code` (the second factor), `POST /setup`,
//! `POST /logout`, `POST /locale`.
//! They are ordinary HTTP handlers rather than server functions so they work without JavaScript
//! and set or clear the session cookie in a plain response (Post/Redirect/Get).

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use app::accounts::model::{Password, Username};
use app::auth::safe_next;

use super::rate_limit::{ip_key, user_key};
use super::{middleware, password, query_value, second_step, secret, session, setup_code};
use crate::db::{audit, users};
use super::AuthState;

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

fn with_cookie(mut res: Response, cookie: cookie::Cookie<'static>) -> Response {
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub async fn login(
    State(state): State<AuthState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next);
    if !state.sign_in.password_login() {
        return Redirect::to(&format!("/login?error=password_off&next={}", query_value(&next))).into_response();
    }
    // The name as the lookup reads it; one that no account can have (bad characters, over-long)
    // is refused without a lookup or a hash, but still counts against the address.
    let name = Username::parse(&form.username).ok();
    let mut keys = vec![ip_key(peer.ip())];
    keys.extend(name.as_ref().map(|n| user_key(n.as_str())));
    let attempt = match state.limiter.reserve(&keys, Instant::now()) {
        Ok(attempt) => attempt,
        Err(wait) => {
            tracing::warn!(client = %peer.ip(), "sign-in refused: too many failed attempts");
            return rate_limited_page(&state, &headers, wait.as_secs(), &next);
        }
    };
    let failed = || async {
        audit::record(&state.db, crate::support::time::now(), "anonymous", "login.failed", &format!("client {}", peer.ip())).await;
        tracing::info!(client = %peer.ip(), "sign-in failed");
        Redirect::to(&format!("/login?error=invalid&next={}", query_value(&next))).into_response()
    };
    let Some(name) = name else {
        drop(attempt);
        return failed().await;
    };

    let user = match users::by_username(&state.db, name.as_str()).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "sign-in: database error");
            state.limiter.refund(attempt);
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    // Verify against a dummy hash for unknown users so both failures take the same time.
    let phc = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    let ok = password::verify_async(form.password, phc).await && user.is_some();

    let Some(user) = user.filter(|_| ok) else {
        // The reserved attempt stays counted: it was a failure.
        drop(attempt);
        return failed().await;
    };
    state.limiter.refund(attempt);

    // With a second factor, the password earns a challenge, not a session (`POST /login/code`).
    match state.two_factor.enabled(user.id).await {
        Ok(true) => {
            let token = state.challenges.begin(user.id, &user.username, &next);
            let secure = state.https(&headers, &uri);
            let to = Redirect::to(&format!("/login/code?next={}", query_value(&next))).into_response();
            return with_cookie(to, second_step::cookie(token, secure));
        }
        Ok(false) => {}
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    signed_in(&state, &headers, &uri, peer, &user, &next, "").await
}

/// Ends a presented session, starts a new one and answers with its cookie and a redirect to `next`.
async fn signed_in(state: &AuthState, headers: &HeaderMap, uri: &Uri, peer: SocketAddr, user: &users::UserRow, next: &str, how: &str) -> Response {
    // A previous session presented with this request is ended: the new sign-in gets a new id.
    if let Some(old) = session::presented(headers) {
        let _ = session::end(&state.db, &old).await;
    }
    let ttl = state.session_ttl_hours as i64 * 3600;
    let id = match session::start(&state.db, user.id, ttl, &peer.ip().to_string(), user_agent(headers)).await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "sign-in: could not store the session");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    audit::record(&state.db, crate::support::time::now(), &user.username, "login", &format!("client {}{how}", peer.ip())).await;
    tracing::info!(user = %user.username, "signed in");
    let secure = state.https(headers, uri);
    with_cookie(Redirect::to(next).into_response(), session::session_cookie(id, secure, ttl))
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login/code`: the second step. The challenge cookie and a TOTP or recovery code make the
/// session; wrong codes count against the same limits as wrong passwords (address and username).
pub async fn login_code(
    State(state): State<AuthState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<CodeForm>,
) -> Response {
    let secure = state.https(&headers, &uri);
    let token = crate::support::cookies::read_cookie(&headers, second_step::COOKIE_NAME);
    let Some((token, challenge)) = token.and_then(|t| state.challenges.get(&t).map(|c| (t, c))) else {
        // No sign-in is waiting (expired, ended, or never begun): start over with the password.
        let next = safe_next(form.next);
        return Redirect::to(&format!("/login?error=expired&next={}", query_value(&next))).into_response();
    };
    let keys = [ip_key(peer.ip()), user_key(&challenge.username)];
    let attempt = match state.limiter.reserve(&keys, Instant::now()) {
        Ok(attempt) => attempt,
        Err(wait) => {
            tracing::warn!(client = %peer.ip(), "second step refused: too many failed attempts");
            return rate_limited_page(&state, &headers, wait.as_secs(), &challenge.next);
        }
    };
    let ok = match state.two_factor.verify(challenge.user_id, &challenge.username, &form.code).await {
        Ok(ok) => ok,
        Err(_) => {
            state.limiter.refund(attempt);
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    if !ok {
        drop(attempt);
        audit::record(&state.db, crate::support::time::now(), &challenge.username, "login.failed", &format!("client {}, wrong second-factor code", peer.ip())).await;
        return match state.challenges.failed(&token) {
            second_step::AfterFailure::TryAgain => Redirect::to(&format!("/login/code?error=invalid&next={}", query_value(&challenge.next))).into_response(),
            second_step::AfterFailure::Ended => with_cookie(
                Redirect::to(&format!("/login?error=invalid&next={}", query_value(&challenge.next))).into_response(),
                second_step::clear_cookie(secure),
            ),
        };
    }
    state.limiter.refund(attempt);
    state.challenges.finish(&token);
    let user = match users::by_username(&state.db, &challenge.username).await {
        Ok(Some(u)) if u.id == challenge.user_id => u,
        _ => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let res = signed_in(&state, &headers, &uri, peer, &user, &challenge.next, ", second factor").await;
    with_cookie(res, second_step::clear_cookie(secure))
}

/// 429 with `Retry-After`, as a small self-contained page in the visitor's language (no scripts,
/// so there is nothing to hydrate against a URL that does not carry the error).
fn rate_limited_page(state: &AuthState, headers: &HeaderMap, retry_after: u64, next: &str) -> Response {
    let locale = crate::locale::from_headers(headers);
    let (title, msg) = app::auth::rate_limited_texts(locale);
    let lang = crate::locale::code(locale);
    let body = format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"{css}\"></head><body><main id=\"main\" class=\"auth-page\">\
         <div class=\"auth-card\"><p class=\"alert alert-error\" role=\"alert\" data-testid=\"login-error\">{msg}</p>\
         <p><a href=\"/login?next={next}\">{title}</a></p></div></main></body></html>",
        next = query_value(next),
        css = state.stylesheet,
    );
    let mut res = (StatusCode::TOO_MANY_REQUESTS, Html(body)).into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    res
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    setup_code: String,
    username: String,
    password: String,
    password_confirm: String,
}

pub async fn setup(
    State(state): State<AuthState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<SetupForm>,
) -> Response {
    // The gate already answers 404 once an administrator exists; this re-check closes the race.
    let back = |code: app::error::ErrorCode| {
        Redirect::to(&format!(
            "/setup?error={}&username={}",
            code.as_str(),
            query_value(form.username.trim())
        ))
        .into_response()
    };
    // The code first, counted like a sign-in: guessing it is throttled per address.
    let attempt = match state.limiter.reserve(&[ip_key(peer.ip())], Instant::now()) {
        Ok(attempt) => attempt,
        Err(wait) => return rate_limited_page(&state, &headers, wait.as_secs(), "/security"),
    };
    if !setup_code::matches(&state.data_dir, &form.setup_code) {
        tracing::warn!(client = %peer.ip(), "setup refused: wrong setup code");
        drop(attempt);
        return back(app::error::ErrorCode::SetupCodeInvalid);
    }
    state.limiter.refund(attempt);
    let username = match Username::parse(&form.username) {
        Ok(u) => u,
        Err(code) => return back(code),
    };
    let password = match Password::parse(&form.password) {
        Ok(p) => p,
        Err(code) => return back(code),
    };
    if form.password != form.password_confirm {
        return back(app::error::ErrorCode::PasswordMismatch);
    }
    let hash = match password::hash_async(password.expose().to_owned()).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "setup: hashing failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let created = users::insert_first_admin(&state.db, username.as_str(), &hash, crate::support::time::now()).await;
    let user = match created {
        Ok(Some(u)) => u,
        Ok(None) => return (StatusCode::NOT_FOUND, "Not Found").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "setup: database error");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let _ = middleware::setup_done(&state).await;
    setup_code::remove(&state.data_dir);
    audit::record(&state.db, crate::support::time::now(), &user.username, "setup.admin_created", "").await;
    tracing::info!(user = %user.username, "first administrator created");

    let ttl = state.session_ttl_hours as i64 * 3600;
    match session::start(&state.db, user.id, ttl, &peer.ip().to_string(), user_agent(&headers)).await {
        Ok(id) => {
            let secure = state.https(&headers, &uri);
            with_cookie(Redirect::to("/overview").into_response(), session::session_cookie(id, secure, ttl))
        }
        Err(e) => {
            tracing::error!(error = %e, "setup: could not start a session");
            Redirect::to("/login").into_response()
        }
    }
}

pub async fn logout(State(state): State<AuthState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(id) = session::presented(&headers) {
        if let Err(e) = session::end(&state.db, &id).await {
            tracing::error!(error = %e, "sign-out: could not delete the session");
        }
    }
    // Both names: the session may have been started over TLS or not.
    let res = with_cookie(Redirect::to("/login").into_response(), session::clear_cookie(false));
    if state.https(&headers, &uri) {
        return with_cookie(res, session::clear_cookie(true));
    }
    res
}

#[derive(Deserialize)]
pub struct ThemeForm {
    theme: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /theme` (the top bar's form): `system`, `light` or `dark` into the `charon_theme` cookie,
/// then back to the page.
pub async fn set_theme(State(state): State<AuthState>, headers: HeaderMap, uri: Uri, Form(form): Form<ThemeForm>) -> Response {
    let Some(theme) = app::components::theme::parse(&form.theme) else {
        return (StatusCode::BAD_REQUEST, "unknown theme: system, light or dark").into_response();
    };
    let cookie = cookie::Cookie::build((app::components::theme::COOKIE, theme))
        .path("/")
        .same_site(cookie::SameSite::Lax)
        .secure(state.https(&headers, &uri))
        .max_age(cookie::time::Duration::days(365))
        .build();
    with_cookie(Redirect::to(&safe_next(form.next)).into_response(), cookie)
}

#[derive(Deserialize)]
pub struct LocaleForm {
    locale: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn set_locale(State(state): State<AuthState>, headers: HeaderMap, uri: Uri, Form(form): Form<LocaleForm>) -> Response {
    let Some(locale) = crate::locale::parse(&form.locale) else {
        return (StatusCode::BAD_REQUEST, "unknown locale").into_response();
    };
    let cookie = cookie::Cookie::build((crate::locale::COOKIE_NAME, crate::locale::code(locale)))
        .path("/")
        .same_site(cookie::SameSite::Lax)
        .secure(state.https(&headers, &uri))
        .max_age(cookie::time::Duration::days(365))
        .build();
    with_cookie(Redirect::to(&safe_next(form.next)).into_response(), cookie)
}

/// The browser's `User-Agent`, for the Sessions page.
fn user_agent(headers: &axum::http::HeaderMap) -> &str {
    headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[derive(Deserialize)]
pub struct OidcStart {
    #[serde(default)]
    next: Option<String>,
}

/// Where the identity provider sends the browser back: this server's public URL, or the address
/// the browser used.
fn oidc_redirect_uri(state: &AuthState, headers: &HeaderMap, uri: &Uri) -> String {
    let base = state.public_origin.clone().unwrap_or_else(|| {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        format!("{}://{host}", if session::is_https(headers, uri) { "https" } else { "http" })
    });
    format!("{base}/login/oidc/callback")
}

/// `GET /login/oidc`: off to the identity provider (404 without OIDC).
pub async fn oidc_start(State(state): State<AuthState>, headers: HeaderMap, uri: Uri, axum::extract::Query(q): axum::extract::Query<OidcStart>) -> Response {
    let Some(oidc) = state.sign_in.oidc() else { return (StatusCode::NOT_FOUND, "Not Found").into_response() };
    let next = safe_next(q.next);
    match oidc.begin(&oidc_redirect_uri(&state, &headers, &uri), &next).await {
        Ok((to, st)) => with_cookie(Redirect::to(&to).into_response(), oidc_cookie(st, state.https(&headers, &uri), 600)),
        Err(e) => {
            tracing::warn!(error = %e, "OIDC sign-in could not start");
            Redirect::to(&format!("/login?error=oidc_failed&next={}", query_value(&next))).into_response()
        }
    }
}

/// The attempt's `state`, kept by the browser for the way back. `SameSite=Lax`: the provider's
/// redirect is a cross-site top-level navigation, which a `Strict` cookie would not accompany.
fn oidc_cookie(value: String, secure: bool, secs: i64) -> cookie::Cookie<'static> {
    cookie::Cookie::build(("charon_oidc", value))
        .path("/login/oidc")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(secs))
        .build()
}

#[derive(Deserialize)]
pub struct OidcCallback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /login/oidc/callback`: the provider's answer. The state must be the one this browser
/// started; the account is found by issuer and subject, made at the first sign-in, and its role
/// follows the user's groups at every sign-in.
pub async fn oidc_callback(
    State(state): State<AuthState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    axum::extract::Query(q): axum::extract::Query<OidcCallback>,
) -> Response {
    let Some(oidc) = state.sign_in.oidc() else { return (StatusCode::NOT_FOUND, "Not Found").into_response() };
    let secure = state.https(&headers, &uri);
    let refuse = |reason: &str, next: &str| {
        let to = Redirect::to(&format!("/login?error={reason}&next={}", query_value(next))).into_response();
        with_cookie(to, oidc_cookie(String::new(), secure, 0))
    };
    let kept = crate::support::cookies::read_cookie(&headers, "charon_oidc").unwrap_or_default();
    let presented = q.state.clone().unwrap_or_default();
    let next = oidc.next_of(&presented).unwrap_or_else(|| "/overview".to_owned());
    if kept.is_empty() || !secret::same(kept.as_bytes(), presented.as_bytes()) {
        tracing::warn!(client = %peer.ip(), "OIDC callback refused: its state is not the one this browser started");
        return refuse("oidc_failed", &next);
    }
    if let Some(e) = q.error.as_deref() {
        // The provider said no (the user cancelled, or is not allowed to use this client).
        tracing::info!(error = %e.chars().take(64).collect::<String>(), "OIDC sign-in refused by the provider");
        oidc.forget(&presented);
        return refuse("oidc_failed", &next);
    }
    let (identity, next) = match oidc.finish(&presented, q.code.as_deref().unwrap_or(""), &oidc_redirect_uri(&state, &headers, &uri)).await {
        Ok(found) => found,
        Err(super::oidc::OidcError::NoRole) => {
            audit::record(&state.db, crate::support::time::now(), "anonymous", "login.failed", &format!("client {}, OIDC: no group maps to a role", peer.ip())).await;
            return refuse("oidc_no_role", &next);
        }
        Err(e) => {
            tracing::warn!(error = %e, client = %peer.ip(), "OIDC sign-in failed");
            audit::record(&state.db, crate::support::time::now(), "anonymous", "login.failed", &format!("client {}, OIDC: {e}", peer.ip())).await;
            return refuse("oidc_failed", &next);
        }
    };
    let user = match account_for(&state, &identity).await {
        Ok(u) => u,
        Err(reason) => return refuse(reason, &next),
    };
    let res = signed_in(&state, &headers, &uri, peer, &user, &next, ", OIDC").await;
    // The session cookie is `SameSite=Strict`, and this answer ends a navigation that began at the
    // provider: a redirect would arrive without it. A page of ours moves on instead.
    let mut page = Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={0}\"><title>Signed in</title></head><body><p><a href=\"{0}\">Continue</a></p></body></html>",
        html_escape(&next)
    ))
    .into_response();
    for c in res.headers().get_all(header::SET_COOKIE) {
        page.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    if !res.status().is_redirection() {
        return res;
    }
    with_cookie(page, oidc_cookie(String::new(), secure, 0))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The account an identity signs in to: found by issuer and subject (its role brought up to date
/// with the groups), or made now. A username a local account already has is refused (a provider
/// must not take over a local account).
async fn account_for(state: &AuthState, id: &super::oidc::Identity) -> Result<users::UserRow, &'static str> {
    let now = crate::support::time::now();
    match crate::db::oidc_identities::user_for(&state.db, &id.issuer, &id.subject).await {
        Ok(Some(user)) => {
            if user.role() != id.role {
                users::set_role(&state.db, user.id, id.role).await.map_err(|_| "oidc_failed")?;
                audit::record(&state.db, now, &user.username, "user.role", &format!("{} from the identity provider's groups", id.role.as_str())).await;
            }
            users::by_username(&state.db, &user.username).await.ok().flatten().ok_or("oidc_failed")
        }
        Ok(None) => {
            let name = Username::parse(&id.username).map_err(|_| "oidc_failed")?;
            // No password signs in to it: not a PHC string, so every check fails.
            let user = match users::insert(&state.db, name.as_str(), "oidc", id.role, now).await {
                Ok(u) => u,
                Err(users::InsertError::Taken) => return Err("oidc_username_taken"),
                Err(_) => return Err("oidc_failed"),
            };
            crate::db::oidc_identities::link(&state.db, &id.issuer, &id.subject, user.id).await.map_err(|_| "oidc_failed")?;
            audit::record(&state.db, now, &user.username, "user.create", &format!("role {} from the identity provider's groups (first OIDC sign-in)", id.role.as_str())).await;
            Ok(user)
        }
        Err(_) => Err("oidc_failed"),
    }
}
