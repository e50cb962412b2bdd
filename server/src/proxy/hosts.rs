//! The `proxy_hosts` table.

use crate::db::{on_db, on_tx};
use app::error::{AppError, ErrorCode};
use app::proxy::model::{ProxyHost, ProxyHostSpec};

use crate::db::Db;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    domain: String,
    upstream: String,
    enabled: bool,
    protect: bool,
    /// Node names separated by commas; NULL for every node.
    nodes: Option<String>,
}

impl From<Row> for ProxyHost {
    fn from(r: Row) -> Self {
        let nodes = r.nodes.map(|n| n.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect());
        ProxyHost { id: r.id, domain: r.domain, upstream: r.upstream, enabled: r.enabled, protect: r.protect, nodes }
    }
}

/// How `nodes` is stored (node names never hold a comma).
fn stored_nodes(nodes: &Option<Vec<String>>) -> Option<String> {
    nodes.as_ref().map(|n| n.join(","))
}

fn db_error(e: sqlx::Error) -> AppError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => ErrorCode::DomainTaken.into(),
        sqlx::Error::RowNotFound => AppError::NotFound,
        e => {
            tracing::error!(error = %e, "proxy_hosts query failed");
            AppError::Internal
        }
    }
}

pub async fn list(db: &Db) -> sqlx::Result<Vec<ProxyHost>> {
    let rows: Vec<Row> =
        on_db!(db, cx => sqlx::query_as("SELECT id, domain, upstream, enabled, protect, nodes FROM proxy_hosts ORDER BY domain LIKE '*.%', domain").fetch_all(cx).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn insert(db: &Db, s: &ProxyHostSpec) -> Result<ProxyHost, AppError> {
    let now = crate::support::time::now();
    let row: Row = on_db!(db, cx => sqlx::query_as(
        "INSERT INTO proxy_hosts (domain, upstream, enabled, protect, nodes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id, domain, upstream, enabled, protect, nodes",
    )
    .bind(s.domain.as_str())
    .bind(s.upstream.url())
    .bind(s.enabled)
    .bind(s.protect)
    .bind(stored_nodes(&s.nodes))
    .bind(now)
    .bind(now)
    .fetch_one(cx).await)
    .map_err(db_error)?;
    Ok(row.into())
}

pub async fn update(db: &Db, id: i64, s: &ProxyHostSpec) -> Result<ProxyHost, AppError> {
    let row: Row = on_db!(db, cx => sqlx::query_as(
        "UPDATE proxy_hosts SET domain = $1, upstream = $2, enabled = $3, protect = $4, nodes = $5, updated_at = $6 WHERE id = $7 \
         RETURNING id, domain, upstream, enabled, protect, nodes",
    )
    .bind(s.domain.as_str())
    .bind(s.upstream.url())
    .bind(s.enabled)
    .bind(s.protect)
    .bind(stored_nodes(&s.nodes))
    .bind(crate::support::time::now())
    .bind(id)
    .fetch_one(cx).await)
    .map_err(db_error)?;
    Ok(row.into())
}

pub async fn delete(db: &Db, id: i64) -> Result<(), AppError> {
    let res = on_db!(db, cx => sqlx::query("DELETE FROM proxy_hosts WHERE id = $1").bind(id).execute(cx).await.map(|r| r.rows_affected())).map_err(db_error)?;
    if res == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Puts exactly these rows back (after Caddy refused a change).
pub async fn replace_all(db: &Db, hosts: &[ProxyHost]) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, cx => sqlx::query("DELETE FROM proxy_hosts").execute(cx).await.map(|r| r.rows_affected()))?;
    let now = crate::support::time::now();
    for h in hosts {
        on_tx!(&mut tx, cx => sqlx::query(
            "INSERT INTO proxy_hosts (id, domain, upstream, enabled, protect, nodes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(h.id)
        .bind(&h.domain)
        .bind(&h.upstream)
        .bind(h.enabled)
        .bind(h.protect)
        .bind(stored_nodes(&h.nodes))
        .bind(now)
        .bind(now)
        .execute(cx).await.map(|r| r.rows_affected()))?;
    }
    tx.commit().await
}
