//! The audit log as `AuditService`: administrators read who changed what through Charon (the
//! writes happen where the changes are made, `db::audit::record`).

use app::accounts::model::Admin;
use app::audit::model::{AuditEntry, AuditFilter, AuditPage};
use app::error::AppError;
use app::services::{AuditService, Feed};
use futures_util::StreamExt;

use crate::db::{self, Db};

#[derive(Clone)]
pub struct Audit {
    db: Db,
}

impl Audit {
    pub fn new(db: Db) -> Self {
        Audit { db }
    }
}

#[async_trait::async_trait]
impl AuditService for Audit {
    async fn list(&self, _actor: &Admin, f: &AuditFilter) -> Result<AuditPage, AppError> {
        let now = crate::support::time::now();
        let query = db::audit::Query {
            actor: f.actor.as_deref(),
            action: f.action.as_deref(),
            text: f.q.as_deref(),
            target: None,
            since: f.since_secs.map(|s| now - s),
            limit: f.per_page as i64,
            offset: ((f.page - 1) * f.per_page) as i64,
        };
        let (rows, total) = db::audit::list(&self.db, &query).await.map_err(|e| {
            tracing::error!(error = %e, "cannot read the audit log");
            AppError::Internal
        })?;
        let rows = rows.into_iter().map(entry).collect();
        Ok(AuditPage { rows, total, page: f.page, per_page: f.per_page })
    }

    /// Keyset paging (ids below the last one sent), so memory holds one chunk at a time.
    fn export(&self, _actor: &Admin, f: &AuditFilter) -> Feed<Result<Vec<AuditEntry>, AppError>> {
        let db = self.db.clone();
        let f = f.clone();
        let since = f.since_secs.map(|s| crate::support::time::now() - s);
        futures_util::stream::unfold(Some(i64::MAX), move |below| {
            let (db, f) = (db.clone(), f.clone());
            async move {
                let below = below?;
                let query = db::audit::Query {
                    actor: f.actor.as_deref(),
                    action: f.action.as_deref(),
                    text: f.q.as_deref(),
                    target: None,
                    since,
                    limit: EXPORT_CHUNK,
                    offset: 0,
                };
                match db::audit::chunk_below(&db, &query, below).await {
                    Ok(rows) if rows.is_empty() => None,
                    Ok(rows) => {
                        let next = rows.last().map(|r| r.id).filter(|_| rows.len() as i64 == EXPORT_CHUNK);
                        Some((Ok(rows.into_iter().map(entry).collect()), next))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the audit log");
                        Some((Err(AppError::Internal), None))
                    }
                }
            }
        })
        .boxed()
    }
}

const EXPORT_CHUNK: i64 = 1000;

fn entry(r: db::audit::Row) -> AuditEntry {
    AuditEntry {
        id: r.id,
        at: crate::support::time::rfc3339(r.at),
        actor: r.actor,
        via: r.via,
        address: r.address,
        action: r.action,
        target: r.target,
        detail: r.detail,
        result: r.result,
    }
}
