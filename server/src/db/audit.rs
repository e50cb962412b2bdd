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

/// One row as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// What to read: exact actor, action equal to or under a prefix (`decision` → `decision.*`), text
/// in the detail, newer than `since` (Unix seconds); newest first.
pub struct Query<'a> {
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
    pub text: Option<&'a str>,
    pub since: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

fn filtered<'a>(select: &str, q: &'a Query<'a>) -> sqlx::QueryBuilder<'a, sqlx::Sqlite> {
    let mut b = sqlx::QueryBuilder::new(select);
    b.push(" WHERE 1 = 1");
    if let Some(actor) = q.actor {
        b.push(" AND actor = ").push_bind(actor);
    }
    if let Some(action) = q.action {
        b.push(" AND (action = ").push_bind(action).push(" OR action LIKE ").push_bind(format!("{}.%", like_escape(action))).push(" ESCAPE '\\')");
    }
    if let Some(text) = q.text {
        b.push(" AND detail LIKE ").push_bind(format!("%{}%", like_escape(text))).push(" ESCAPE '\\'");
    }
    if let Some(since) = q.since {
        b.push(" AND at >= ").push_bind(since);
    }
    b
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A page of rows and how many match in all.
pub async fn list(db: &Db, q: &Query<'_>) -> Result<(Vec<Row>, i64), sqlx::Error> {
    let total: i64 = filtered("SELECT COUNT(*) FROM audit_log", q).build_query_scalar().fetch_one(db).await?;
    let mut b = filtered("SELECT id, at, actor, action, detail FROM audit_log", q);
    b.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(q.limit).push(" OFFSET ").push_bind(q.offset);
    let rows = b.build_query_as::<Row>().fetch_all(db).await?;
    Ok((rows, total))
}
