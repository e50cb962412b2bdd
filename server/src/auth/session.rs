//! Sessions and bearer tokens turned into a `Principal`, and the session cookie.

use app::accounts::model::{AuthMethod, Principal, Role};
use cookie::{Cookie, SameSite};

use crate::db::{api_tokens, sessions, users::UserRow, Db};

use super::secret;

pub const COOKIE_NAME: &str = "charon_session";
/// The name over TLS: browsers accept a `__Host-` cookie only when it is `Secure`, has `Path=/`
/// and no `Domain`, so no sibling host or plain-HTTP page can set or shadow it.
pub const SECURE_COOKIE_NAME: &str = "__Host-charon_session";

fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// The session id a request presents, under either name (the TLS one first).
pub fn presented(headers: &axum::http::HeaderMap) -> Option<String> {
    crate::support::cookies::read_cookie(headers, SECURE_COOKIE_NAME)
        .or_else(|| crate::support::cookies::read_cookie(headers, COOKIE_NAME))
}

fn principal_of(user: &UserRow, method: AuthMethod) -> Principal {
    Principal {
        user_id: user.id,
        username: user.username.clone(),
        role: user.role(),
        method,
        token_name: None,
        address: None,
        session: None,
    }
}

/// Starts a new session for `user` and returns its id (the cookie value). A fresh id at every
/// sign-in is what defeats session fixation.
pub async fn start(db: &Db, user_id: i64, ttl_secs: i64, address: &str, user_agent: &str) -> sqlx::Result<String> {
    let id = secret::random_hex(32);
    let now = crate::support::time::now();
    // What the Sessions page shows as the device: the browser's own words, bounded.
    let user_agent: String = user_agent.chars().filter(|c| !c.is_control()).take(256).collect();
    sessions::insert(db, &secret::digest(&id), user_id, now, now + ttl_secs, address, &user_agent).await?;
    // Opportunistic clean-up keeps the table small without a background task.
    sessions::delete_expired(db, now).await?;
    Ok(id)
}

pub async fn end(db: &Db, id: &str) -> sqlx::Result<()> {
    sessions::delete(db, &secret::digest(id)).await
}

pub async fn principal_from_session(db: &Db, id: &str) -> sqlx::Result<Option<Principal>> {
    let (hash, now) = (secret::digest(id), crate::support::time::now());
    let Some(found) = sessions::user_of(db, &hash, now).await? else {
        return Ok(None);
    };
    // A write only when `last_seen_at` is a minute old: reads stay reads.
    if found.due_for_touch(now) {
        sessions::touch(db, &hash, now).await?;
    }
    let mut principal = principal_of(&found.user, AuthMethod::Session);
    principal.session = Some(sessions::handle(&hash));
    Ok(Some(principal))
}

/// A bearer token acts with its own role, capped by its creator's current role.
pub async fn principal_from_token(db: &Db, token: &str) -> sqlx::Result<Option<Principal>> {
    let Some((tok, creator)) = api_tokens::authenticate(db, &secret::digest(token), crate::support::time::now()).await?
    else {
        return Ok(None);
    };
    let token_role = Role::parse(&tok.role).unwrap_or(Role::Viewer);
    let principal = match creator {
        Some(user) => {
            let mut p = principal_of(&user, AuthMethod::Token);
            p.token_name = Some(tok.name.clone());
            p.role = p.role.at_most(token_role);
            p
        }
        // Created from the CLI (or its creator was removed): the token stands for itself.
        None => Principal {
            user_id: 0,
            username: format!("token:{}", tok.name),
            role: token_role,
            method: AuthMethod::Token,
            token_name: Some(tok.name.clone()),
            address: None,
            session: None,
        },
    };
    Ok(Some(principal))
}

pub fn session_cookie(id: String, secure: bool, ttl_secs: i64) -> Cookie<'static> {
    Cookie::build((cookie_name(secure), id))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(ttl_secs))
        .build()
}

pub fn clear_cookie(secure: bool) -> Cookie<'static> {
    Cookie::build((cookie_name(secure), ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
}

/// Whether the client reached us over HTTPS (directly or through a TLS-terminating proxy), which
/// decides the cookie's `Secure` flag.
pub fn is_https(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> bool {
    uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}
