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
