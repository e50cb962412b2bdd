//! The `sessions` table. Callers pass the hash of the session id, never the id itself.

use super::users::UserRow;
use super::Db;

pub async fn insert(
    db: &Db,
    id_hash: &str,
    user_id: i64,
    now: i64,
    expires_at: i64,
    address: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at, address) VALUES (?, ?, ?, ?, ?)")
        .bind(id_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .bind(address)
        .execute(db)
        .await?;
    Ok(())
}

/// The user of a session that has not expired at `now`.
pub async fn user_of(db: &Db, id_hash: &str, now: i64) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(
        "SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id
         WHERE sessions.id_hash = ? AND sessions.expires_at > ?",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(db)
    .await
}

pub async fn delete(db: &Db, id_hash: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
        .bind(id_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Signs a user out everywhere (after a password reset).
pub async fn delete_for_user(db: &Db, user_id: i64) -> sqlx::Result<u64> {
    let res = sqlx::query("DELETE FROM sessions WHERE user_id = ?")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(res.rows_affected())
}

pub async fn delete_expired(db: &Db, now: i64) -> sqlx::Result<u64> {
    let res = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
        .bind(now)
        .execute(db)
        .await?;
    Ok(res.rows_affected())
}

/// The addresses administrators are signed in from (unexpired sessions).
pub async fn admin_addresses(db: &Db, now: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT sessions.address FROM sessions JOIN users ON users.id = sessions.user_id
         WHERE users.role = 'admin' AND sessions.expires_at > ? AND sessions.address != ''",
    )
    .bind(now)
    .fetch_all(db)
    .await
}
