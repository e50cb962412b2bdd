//! Authentication and authorisation: who is calling (session cookie or bearer token), whether they
//! may, and the sign-in, first-run setup and sign-out endpoints.

pub mod handlers;
pub mod middleware;
pub mod password;
pub mod policy;
pub mod rate_limit;
pub mod secret;
pub mod session;

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
}
