//! Authentication and authorisation: who is calling (session cookie or bearer token), whether they
//! may, and the sign-in, first-run setup and sign-out endpoints.

pub mod handlers;
pub mod middleware;
pub mod oidc;
pub mod sign_in_settings;
pub mod password;
pub mod policy;
pub mod rate_limit;
pub mod setup_code;
pub mod second_step;
pub mod secret;
pub mod session;
pub mod two_factor;

/// `s` percent-encoded for use as one query-string value.
pub fn query_value(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::db::Db;

/// What the gate and the sign-in handlers need, apart from the services.
#[derive(Clone)]
pub struct AuthState {
    pub db: Db,
    pub limiter: Arc<rate_limit::LoginLimiter>,
    /// Cached "an administrator exists"; see `middleware::setup_done`.
    pub setup_done: Arc<AtomicBool>,
    pub session_ttl_hours: u64,
    /// Where the setup code lives (`setup_code`).
    pub data_dir: std::path::PathBuf,
    /// The configured public origin (`public_url`), compared with `Origin` instead of `Host`.
    pub public_origin: Option<String>,
    /// The stylesheet's `/pkg/…` path, for the pages rendered outside Leptos.
    pub stylesheet: Arc<str>,
    /// TOTP: the sign-in's second step, and whether every account must have one.
    pub two_factor: two_factor::TwoFactor,
    pub challenges: Arc<second_step::Challenges>,
    /// OpenID Connect sign-in, when configured, and whether local passwords sign in (both
    /// changeable in Settings while Charon runs).
    pub sign_in: Arc<sign_in_settings::SignInMethods>,
}

impl AuthState {
    /// Whether cookies must be `Secure` (and the session cookie `__Host-`): the request came over
    /// TLS (directly or through a TLS-terminating proxy), or the configured public URL is https.
    pub fn https(&self, headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> bool {
        session::is_https(headers, uri) || self.public_origin.as_deref().is_some_and(|o| o.starts_with("https://"))
    }
}
