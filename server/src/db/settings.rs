//! The `settings` key/value table: the user's wishes that must survive restarts
//! (e.g. `crowdsec.enabled`).

use super::Db;

pub async fn get(db: &Db, key: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(key)
        .fetch_optional(db)
        .await
}

/// On the pool or inside a transaction (`&mut *tx`) that writes several keys at once.
pub async fn set<'e>(db: impl sqlx::SqliteExecutor<'e>, key: &str, value: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}
