//! The `settings` key/value table: the user's wishes that must survive restarts
//! (e.g. `crowdsec.enabled`).

use super::{on_db, on_tx, Db, Tx};

pub async fn get(db: &Db, key: &str) -> sqlx::Result<Option<String>> {
    on_db!(db, cx => sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(cx).await)
}

const UPSERT: &str = "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

pub async fn set(db: &Db, key: &str, value: &str, now: i64) -> sqlx::Result<()> {
    on_db!(db, cx => sqlx::query(UPSERT).bind(key).bind(value).bind(now).execute(cx).await.map(|_| ()))
}

/// Inside a transaction that writes several keys at once.
pub async fn set_in(tx: &mut Tx, key: &str, value: &str, now: i64) -> sqlx::Result<()> {
    on_tx!(tx, cx => sqlx::query(UPSERT).bind(key).bind(value).bind(now).execute(cx).await.map(|_| ()))
}
