//! The `api_tokens` table. Tokens are stored as SHA-256 hashes; revoked tokens stay listed in the
//! audit log, not here.

use crate::db::on_db;
use app::accounts::model::{ApiTokenSummary, Role};
use sqlx::FromRow;

use super::users::UserRow;
use super::Db;
use crate::support::time::rfc3339;

#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl TokenRow {
    pub fn summary(&self) -> ApiTokenSummary {
        ApiTokenSummary {
            id: self.id,
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            role: Role::parse(&self.role).unwrap_or(Role::Viewer),
            created_at: rfc3339(self.created_at),
            last_used_at: self.last_used_at.map(rfc3339),
        }
    }
}

const COLUMNS: &str = "id, name, prefix, role, created_at, last_used_at";

pub async fn insert(
    db: &Db,
    name: &str,
    token_hash: &str,
    prefix: &str,
    role: Role,
    created_by: Option<i64>,
    now: i64,
) -> sqlx::Result<TokenRow> {
    on_db!(db, cx => sqlx::query_as(&format!(
        "INSERT INTO api_tokens (name, token_hash, prefix, role, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(name)
    .bind(token_hash)
    .bind(prefix)
    .bind(role.as_str())
    .bind(created_by)
    .bind(now)
    .fetch_one(cx).await)
}

pub async fn list_active(db: &Db) -> sqlx::Result<Vec<TokenRow>> {
    on_db!(db, cx => sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE revoked_at IS NULL ORDER BY created_at, id"
    ))
    .fetch_all(cx).await)
}

/// `last_used_at` is written at most this often per token.
pub const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// The token's own role and the user who created it, for an active token. The token acts with its
/// own role, never more than its creator (a viewer's token is never admin).
pub async fn authenticate(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> sqlx::Result<Option<(TokenRow, Option<UserRow>)>> {
    let token: Option<TokenRow> = on_db!(db, cx => sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
    ))
    .bind(token_hash)
    .fetch_optional(cx).await)?;
    let Some(mut token) = token else {
        return Ok(None);
    };
    // A script calling every second must not turn every read into a database write.
    if token.last_used_at.is_none_or(|t| now - t >= LAST_USED_RESOLUTION_SECS) {
        on_db!(db, cx => sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").bind(now).bind(token.id).execute(cx).await.map(|r| r.rows_affected()))?;
        token.last_used_at = Some(now);
    }
    let creator: Option<UserRow> = on_db!(db, cx => sqlx::query_as(
        "SELECT users.* FROM api_tokens JOIN users ON users.id = api_tokens.created_by
         WHERE api_tokens.id = $1",
    )
    .bind(token.id)
    .fetch_optional(cx).await)?;
    Ok(Some((token, creator)))
}

/// Revokes by id; `Ok(None)` when no active token has that id.
pub async fn revoke(db: &Db, id: i64, now: i64) -> sqlx::Result<Option<TokenRow>> {
    on_db!(db, cx => sqlx::query_as(&format!(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(now)
    .bind(id)
    .fetch_optional(cx).await)
}

/// Revokes every active token with this name (CLI convenience); returns how many.
pub async fn revoke_by_name(db: &Db, name: &str, now: i64) -> sqlx::Result<u64> {
    let res = on_db!(db, cx => sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(name)
        .execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(res)
}

/// Revokes every active token a user created (a password reset); returns how many.
pub async fn revoke_created_by(db: &Db, user_id: i64, now: i64) -> sqlx::Result<u64> {
    let res = on_db!(db, cx => sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE created_by = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(res)
}
