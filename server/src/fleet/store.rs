//! The `fleet_join_tokens` and `fleet_nodes` tables. A token is kept as its SHA-256 only and is
//! claimed by one conditional UPDATE, so two nodes presenting it at once cannot both join.

use crate::db::on_db;
use sqlx::FromRow;

use crate::db::Db;

pub async fn insert_token(db: &Db, digest: &str, created_by: &str, now: i64, expires_at: i64) -> sqlx::Result<()> {
    on_db!(db, cx => sqlx::query("INSERT INTO fleet_join_tokens (digest, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(digest)
        .bind(created_by)
        .bind(now)
        .bind(expires_at)
        .execute(cx).await.map(|r| r.rows_affected()))
        .map(|_| ())
}

/// Marks the token used by `node` if it is unused and unexpired; whether it was.
pub async fn claim_token(db: &Db, digest: &str, node: &str, now: i64) -> sqlx::Result<bool> {
    let done = on_db!(db, cx => sqlx::query(
        "UPDATE fleet_join_tokens SET used_at = $1, used_by = $2 WHERE digest = $3 AND used_at IS NULL AND expires_at > $4",
    )
    .bind(now)
    .bind(node)
    .bind(digest)
    .bind(now)
    .execute(cx).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Gives a claimed token back (the join failed after the claim, on the central node's side).
pub async fn release_token(db: &Db, digest: &str) -> sqlx::Result<()> {
    on_db!(db, cx => sqlx::query("UPDATE fleet_join_tokens SET used_at = NULL, used_by = NULL WHERE digest = $1")
        .bind(digest)
        .execute(cx).await.map(|r| r.rows_affected()))
        .map(|_| ())
}

/// Tokens expired a day ago go.
pub async fn forget_old_tokens(db: &Db, now: i64) -> sqlx::Result<u64> {
    Ok(on_db!(db, cx => sqlx::query("DELETE FROM fleet_join_tokens WHERE expires_at < $1").bind(now - 86_400).execute(cx).await.map(|r| r.rows_affected()))?)
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
    on_db!(db, cx => sqlx::query("INSERT INTO fleet_nodes (name, address, version, key_digest, joined_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(name)
        .bind(address)
        .bind(version)
        .bind(key_digest)
        .bind(now)
        .execute(cx).await.map(|r| r.rows_affected()))
        .map(|_| ())
}

pub async fn node(db: &Db, name: &str) -> sqlx::Result<Option<NodeRow>> {
    on_db!(db, cx => sqlx::query_as(&format!("SELECT {COLUMNS} FROM fleet_nodes WHERE name = $1")).bind(name).fetch_optional(cx).await)
}

pub async fn node_by_key(db: &Db, key_digest: &str) -> sqlx::Result<Option<NodeRow>> {
    on_db!(db, cx => sqlx::query_as(&format!("SELECT {COLUMNS} FROM fleet_nodes WHERE key_digest = $1")).bind(key_digest).fetch_optional(cx).await)
}

pub async fn nodes(db: &Db) -> sqlx::Result<Vec<NodeRow>> {
    on_db!(db, cx => sqlx::query_as(&format!("SELECT {COLUMNS} FROM fleet_nodes ORDER BY name")).fetch_all(cx).await)
}

pub async fn save_report(db: &Db, name: &str, address: &str, version: &str, report: &str, now: i64) -> sqlx::Result<()> {
    on_db!(db, cx => sqlx::query("UPDATE fleet_nodes SET address = $1, version = $2, report = $3, reported_at = $4 WHERE name = $5")
        .bind(address)
        .bind(version)
        .bind(report)
        .bind(now)
        .bind(name)
        .execute(cx).await.map(|r| r.rows_affected()))
        .map(|_| ())
}

pub async fn delete_node(db: &Db, name: &str) -> sqlx::Result<bool> {
    Ok(on_db!(db, cx => sqlx::query("DELETE FROM fleet_nodes WHERE name = $1").bind(name).execute(cx).await.map(|r| r.rows_affected()))? == 1)
}

/// Asks the node to replace its key at its next call; whether the node exists.
pub async fn request_rotation(db: &Db, name: &str) -> sqlx::Result<bool> {
    Ok(on_db!(db, cx => sqlx::query("UPDATE fleet_nodes SET rotate_requested = TRUE WHERE name = $1").bind(name).execute(cx).await.map(|r| r.rows_affected()))? == 1)
}

/// The node's new key is in force.
pub async fn key_rotated(db: &Db, name: &str, key_digest: &str) -> sqlx::Result<()> {
    on_db!(db, cx => sqlx::query("UPDATE fleet_nodes SET key_digest = $1, rotate_requested = FALSE WHERE name = $2")
        .bind(key_digest)
        .bind(name)
        .execute(cx).await.map(|r| r.rows_affected()))
        .map(|_| ())
}
