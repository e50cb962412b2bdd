//! The append-only `audit_log` table: who did what, when. Never holds a secret.

use super::Db;

pub async fn record(db: &Db, at: i64, actor: &str, action: &str, detail: &str) {
    let res = sqlx::query("INSERT INTO audit_log (at, actor, action, detail) VALUES (?, ?, ?, ?)")
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(detail)
        .execute(db)
        .await;
    if let Err(e) = res {
        // The action itself already happened; losing its audit line must be visible.
        tracing::error!(error = %e, action, actor, "could not write the audit log");
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

pub async fn recent(db: &Db, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as("SELECT at, actor, action, detail FROM audit_log ORDER BY id DESC LIMIT ?")
        .bind(limit)
        .fetch_all(db)
        .await
}
