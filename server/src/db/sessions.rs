//! The `sessions` table. Callers pass the hash of the session id, never the id itself.

use crate::db::on_db;
use super::users::UserRow;
use super::Db;

pub async fn insert(
    db: &Db,
    id_hash: &str,
    user_id: i64,
    now: i64,
    expires_at: i64,
    address: &str,
    user_agent: &str,
) -> sqlx::Result<()> {
    on_db!(db, cx => sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at, address, user_agent, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(id_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .bind(address)
        .bind(user_agent)
        .bind(now)
        .execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// How a session is named on the Sessions page and in `DELETE /api/v1/sessions/{id}`: the first
/// 16 hex digits of its id's hash (the hash signs nobody in; a part of it even less).
pub fn handle(id_hash: &str) -> String {
    id_hash.chars().take(16).collect()
}

/// Notes that the session was used at `now` (written at most once a minute per session).
/// How stale `last_seen_at` may get: a session used more often is written at most this often.
pub const TOUCH_EVERY: i64 = 60;

/// Notes that the session was used (callers check `due_for_touch` first: most requests write nothing).
pub async fn touch(db: &Db, id_hash: &str, now: i64) -> sqlx::Result<()> {
    on_db!(db, cx => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2 AND (last_seen_at IS NULL OR last_seen_at < $3)")
        .bind(now)
        .bind(id_hash)
        .bind(now - TOUCH_EVERY)
        .execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// One live session: `(handle, user id, username, address, user agent, created, last seen, expires)`.
pub type SessionRow = (String, i64, String, String, String, i64, Option<i64>, i64);

/// The unexpired sessions, of one user or (`None`) of everyone, most recently used first.
pub async fn list(db: &Db, user_id: Option<i64>, now: i64) -> sqlx::Result<Vec<SessionRow>> {
    let rows: Vec<(String, i64, String, String, String, i64, Option<i64>, i64)> = on_db!(db, cx => sqlx::query_as(
        "SELECT sessions.id_hash, users.id, users.username, sessions.address, sessions.user_agent, sessions.created_at,
                sessions.last_seen_at, sessions.expires_at
         FROM sessions JOIN users ON users.id = sessions.user_id
         WHERE sessions.expires_at > $1 AND ($2 IS NULL OR sessions.user_id = $3)
         ORDER BY COALESCE(sessions.last_seen_at, sessions.created_at) DESC",
    )
    .bind(now)
    .bind(user_id)
    .bind(user_id)
    .fetch_all(cx).await)?;
    Ok(rows.into_iter().map(|(h, uid, name, addr, ua, created, seen, expires)| (handle(&h), uid, name, addr, ua, created, seen, expires)).collect())
}

/// Ends the session named `handle`, if it belongs to `user_id` (any user's when `None`); returns
/// the user it belonged to.
pub async fn delete_by_handle(db: &Db, handle: &str, user_id: Option<i64>) -> sqlx::Result<Option<i64>> {
    if handle.len() != 16 || !handle.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    on_db!(db, cx => sqlx::query_scalar("DELETE FROM sessions WHERE substr(id_hash, 1, 16) = $1 AND ($2 IS NULL OR user_id = $3) RETURNING user_id")
        .bind(handle)
        .bind(user_id)
        .bind(user_id)
        .fetch_optional(cx).await)
}

/// The user of a session that has not expired at `now`.
/// A live session's user, and when the session was last noted as used.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionUser {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub session_last_seen_at: Option<i64>,
}

impl SessionUser {
    pub fn due_for_touch(&self, now: i64) -> bool {
        self.session_last_seen_at.is_none_or(|t| t < now - TOUCH_EVERY)
    }
}

pub async fn user_of(db: &Db, id_hash: &str, now: i64) -> sqlx::Result<Option<SessionUser>> {
    on_db!(db, cx => sqlx::query_as(
        "SELECT users.*, sessions.last_seen_at AS session_last_seen_at FROM sessions JOIN users ON users.id = sessions.user_id
         WHERE sessions.id_hash = $1 AND sessions.expires_at > $2",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(cx).await)
}

pub async fn delete(db: &Db, id_hash: &str) -> sqlx::Result<()> {
    on_db!(db, cx => sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Signs a user out everywhere (after a password reset).
pub async fn delete_for_user(db: &Db, user_id: i64) -> sqlx::Result<u64> {
    let res = on_db!(db, cx => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(res)
}

pub async fn delete_expired(db: &Db, now: i64) -> sqlx::Result<u64> {
    let res = on_db!(db, cx => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(res)
}

/// The addresses administrators are signed in from (unexpired sessions).
pub async fn admin_addresses(db: &Db, now: i64) -> sqlx::Result<Vec<String>> {
    on_db!(db, cx => sqlx::query_scalar(
        "SELECT DISTINCT sessions.address FROM sessions JOIN users ON users.id = sessions.user_id
         WHERE users.role = 'admin' AND sessions.expires_at > $1 AND sessions.address != ''",
    )
    .bind(now)
    .fetch_all(cx).await)
}
