//! The `proxy_hosts` table.

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
}

impl From<Row> for ProxyHost {
    fn from(r: Row) -> Self {
        ProxyHost { id: r.id, domain: r.domain, upstream: r.upstream, enabled: r.enabled, protect: r.protect }
    }
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
        sqlx::query_as("SELECT id, domain, upstream, enabled, protect FROM proxy_hosts ORDER BY domain LIKE '*.%', domain").fetch_all(db).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn insert(db: &Db, s: &ProxyHostSpec) -> Result<ProxyHost, AppError> {
    let now = crate::support::time::now();
    let row: Row = sqlx::query_as(
        "INSERT INTO proxy_hosts (domain, upstream, enabled, protect, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) \
         RETURNING id, domain, upstream, enabled, protect",
    )
    .bind(s.domain.as_str())
    .bind(s.upstream.url())
    .bind(s.enabled)
    .bind(s.protect)
    .bind(now)
    .bind(now)
    .fetch_one(db)
    .await
    .map_err(db_error)?;
    Ok(row.into())
}

pub async fn update(db: &Db, id: i64, s: &ProxyHostSpec) -> Result<ProxyHost, AppError> {
    let row: Row = sqlx::query_as(
        "UPDATE proxy_hosts SET domain = ?, upstream = ?, enabled = ?, protect = ?, updated_at = ? WHERE id = ? \
         RETURNING id, domain, upstream, enabled, protect",
    )
    .bind(s.domain.as_str())
    .bind(s.upstream.url())
    .bind(s.enabled)
    .bind(s.protect)
    .bind(crate::support::time::now())
    .bind(id)
    .fetch_one(db)
    .await
    .map_err(db_error)?;
    Ok(row.into())
}

pub async fn delete(db: &Db, id: i64) -> Result<(), AppError> {
    let res = sqlx::query("DELETE FROM proxy_hosts WHERE id = ?").bind(id).execute(db).await.map_err(db_error)?;
    if res.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Puts exactly these rows back (after Caddy refused a change).
pub async fn replace_all(db: &Db, hosts: &[ProxyHost]) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM proxy_hosts").execute(&mut *tx).await?;
    let now = crate::support::time::now();
    for h in hosts {
        sqlx::query(
            "INSERT INTO proxy_hosts (id, domain, upstream, enabled, protect, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(h.id)
        .bind(&h.domain)
        .bind(&h.upstream)
        .bind(h.enabled)
        .bind(h.protect)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
