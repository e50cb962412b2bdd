//! The `users` table.

use crate::db::on_db;
use app::accounts::model::{Role, UserSummary};
use sqlx::FromRow;

use super::Db;
use crate::support::time::rfc3339;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
}

impl UserRow {
    pub fn role(&self) -> Role {
        // The CHECK constraint admits only the three roles; anything else is treated as the
        // weaker role rather than trusted.
        Role::parse(&self.role).unwrap_or(Role::Viewer)
    }

    pub fn summary(&self) -> UserSummary {
        UserSummary {
            id: self.id,
            username: self.username.clone(),
            role: self.role(),
            created_at: rfc3339(self.created_at),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error("username already taken")]
    Taken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn admin_exists(db: &Db) -> sqlx::Result<bool> {
    on_db!(db, cx => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE role = 'admin'")
        .fetch_one(cx).await)
        .map(|n| n != 0)
}

pub async fn by_username(db: &Db, username: &str) -> sqlx::Result<Option<UserRow>> {
    on_db!(db, cx => sqlx::query_as("SELECT * FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(cx).await)
}

pub async fn list(db: &Db) -> sqlx::Result<Vec<UserRow>> {
    on_db!(db, cx => sqlx::query_as("SELECT * FROM users ORDER BY username")
        .fetch_all(cx).await)
}

pub async fn insert(
    db: &Db,
    username: &str,
    password_hash: &str,
    role: Role,
    now: i64,
) -> Result<UserRow, InsertError> {
    let res = on_db!(db, cx => sqlx::query_as(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING *",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .fetch_one(cx).await);
    match res {
        Ok(row) => Ok(row),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(InsertError::Taken),
        Err(e) => Err(e.into()),
    }
}

/// Creates the first administrator only if none exists, atomically, so two concurrent setup
/// requests cannot both succeed.
pub async fn insert_first_admin(
    db: &Db,
    username: &str,
    password_hash: &str,
    now: i64,
) -> sqlx::Result<Option<UserRow>> {
    on_db!(db, cx => sqlx::query_as(
        "INSERT INTO users (username, password_hash, role, created_at)
         SELECT $1, $2, 'admin', $3 WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin')
         RETURNING *",
    )
    .bind(username)
    .bind(password_hash)
    .bind(now)
    .fetch_optional(cx).await)
}

pub async fn set_password(db: &Db, user_id: i64, password_hash: &str) -> sqlx::Result<bool> {
    let res = on_db!(db, cx => sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(res == 1)
}

/// An identity provider's sign-in brings the user's current role.
pub async fn set_role(db: &Db, user_id: i64, role: Role) -> sqlx::Result<()> {
    on_db!(db, cx => sqlx::query("UPDATE users SET role = $1 WHERE id = $2").bind(role.as_str()).bind(user_id).execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(())
}
