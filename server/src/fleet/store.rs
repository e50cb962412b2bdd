//! The `fleet_join_tokens` and `fleet_nodes` tables. A token is kept as its SHA-256 only and is
//! claimed by one conditional UPDATE, so two nodes presenting it at once cannot both join.

use sqlx::FromRow;

use crate::db::Db;

pub async fn insert_token(db: &Db, digest: &str, created_by: &str, now: i64, expires_at: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO fleet_join_tokens (digest, created_by, created_at, expires_at) VALUES (?, ?, ?, ?)")
        .bind(digest)
        .bind(created_by)
        .bind(now)
        .bind(expires_at)
        .execute(db)
        .await
        .map(|_| ())
}

/// Marks the token used by `node` if it is unused and unexpired; whether it was.
pub async fn claim_token(db: &Db, digest: &str, node: &str, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE fleet_join_tokens SET used_at = ?, used_by = ? WHERE digest = ? AND used_at IS NULL AND expires_at > ?",
    )
    .bind(now)
    .bind(node)
    .bind(digest)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a claimed token back (the join failed after the claim, on the central node's side).
pub async fn release_token(db: &Db, digest: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE fleet_join_tokens SET used_at = NULL, used_by = NULL WHERE digest = ?")
        .bind(digest)
        .execute(db)
        .await
        .map(|_| ())
}

/// Tokens expired a day ago go.
pub async fn forget_old_tokens(db: &Db, now: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM fleet_join_tokens WHERE expires_at < ?").bind(now - 86_400).execute(db).await?.rows_affected())
}

#[derive(Debug, Clone, FromRow)]
pub struct NodeRow {
    pub name: String,
    pub address: String,
    pub version: String,
    pub key_digest: String,
    pub joined_at: i64,
    pub report: Option<String>,
    pub reported_at: Option<i64>,
    pub rotate_requested: bool,
}

const COLUMNS: &str = "name, address, version, key_digest, joined_at, report, reported_at, rotate_requested";

pub async fn insert_node(db: &Db, name: &str, address: &str, version: &str, key_digest: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO fleet_nodes (name, address, version, key_digest, joined_at) VALUES (?, ?, ?, ?, ?)")
        .bind(name)
        .bind(address)
        .bind(version)
        .bind(key_digest)
        .bind(now)
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn node(db: &Db, name: &str) -> sqlx::Result<Option<NodeRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM fleet_nodes WHERE name = ?")).bind(name).fetch_optional(db).await
}

pub async fn node_by_key(db: &Db, key_digest: &str) -> sqlx::Result<Option<NodeRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM fleet_nodes WHERE key_digest = ?")).bind(key_digest).fetch_optional(db).await
}

pub async fn nodes(db: &Db) -> sqlx::Result<Vec<NodeRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM fleet_nodes ORDER BY name")).fetch_all(db).await
}

pub async fn save_report(db: &Db, name: &str, address: &str, version: &str, report: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE fleet_nodes SET address = ?, version = ?, report = ?, reported_at = ? WHERE name = ?")
        .bind(address)
        .bind(version)
        .bind(report)
        .bind(now)
        .bind(name)
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn delete_node(db: &Db, name: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM fleet_nodes WHERE name = ?").bind(name).execute(db).await?.rows_affected() == 1)
}

/// Asks the node to replace its key at its next call; whether the node exists.
pub async fn request_rotation(db: &Db, name: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("UPDATE fleet_nodes SET rotate_requested = 1 WHERE name = ?").bind(name).execute(db).await?.rows_affected() == 1)
}

/// The node's new key is in force.
pub async fn key_rotated(db: &Db, name: &str, key_digest: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE fleet_nodes SET key_digest = ?, rotate_requested = 0 WHERE name = ?")
        .bind(key_digest)
        .bind(name)
        .execute(db)
        .await
        .map(|_| ())
}
