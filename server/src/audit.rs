//! The audit log as `AuditService`: administrators read who changed what through Charon (the
//! writes happen where the changes are made, `db::audit::record`).

use app::accounts::model::Admin;
use app::audit::model::{AuditEntry, AuditFilter, AuditPage};
use app::error::AppError;
use app::services::AuditService;

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
        let rows = rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: crate::support::time::rfc3339(r.at),
                actor: r.actor,
                via: r.via,
                address: r.address,
                action: r.action,
                target: r.target,
                detail: r.detail,
                result: r.result,
            })
            .collect();
        Ok(AuditPage { rows, total, page: f.page, per_page: f.per_page })
    }
}
