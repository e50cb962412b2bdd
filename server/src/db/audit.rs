//! The append-only `audit_log` table: who did what, through what, from where, on what, how it
//! ended and what changed. Never holds a secret. Purged after the retention window (`purge`).

use crate::db::on_db;
use app::accounts::model::{Admin, Principal};

use super::Db;

/// One line to write.
#[derive(Debug, Clone, Default)]
pub struct Entry<'a> {
    pub actor: &'a str,
    /// `web UI`, `API token "name"`, `CLI`; empty for the sign-in forms.
    pub via: String,
    pub address: &'a str,
    pub action: &'a str,
    /// What was acted on: an address, a domain, an item, a user.
    pub target: &'a str,
    /// What changed, in words.
    pub detail: &'a str,
    /// `ok`, or the error.
    pub result: &'a str,
}

pub async fn write(db: &Db, at: i64, e: &Entry<'_>) {
    let res = on_db!(db, cx => sqlx::query(
        "INSERT INTO audit_log (at, actor, via, address, action, target, detail, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(at)
    .bind(e.actor)
    .bind(&e.via)
    .bind(e.address)
    .bind(e.action)
    .bind(e.target)
    .bind(e.detail)
    .bind(if e.result.is_empty() { "ok" } else { e.result })
    .execute(cx).await.map(|r| r.rows_affected()));
    if let Err(err) = res {
        // The action itself already happened; losing its audit line must be visible.
        tracing::error!(error = %err, action = e.action, actor = e.actor, "could not write the audit log");
    }
}

/// A line without a signed-in caller (the sign-in and setup forms).
pub async fn record(db: &Db, at: i64, actor: &str, action: &str, detail: &str) {
    write(db, at, &Entry { actor, action, detail, ..Entry::default() }).await
}

fn of<'a>(p: &'a Principal, action: &'a str, target: &'a str, detail: &'a str, result: &'a str) -> Entry<'a> {
    Entry { actor: &p.username, via: p.via(), address: p.address.as_deref().unwrap_or(""), action, target, detail, result }
}

/// A change an administrator made, which succeeded.
pub async fn by(db: &Db, actor: &Admin, action: &str, target: &str, detail: &str) {
    write(db, crate::support::time::now(), &of(actor.principal(), action, target, detail, "ok")).await
}

/// What a signed-in user did to their own things (ending one of their sessions).
pub async fn by_principal(db: &Db, p: &Principal, action: &str, target: &str, detail: &str) {
    write(db, crate::support::time::now(), &of(p, action, target, detail, "ok")).await
}

/// A change an administrator asked for, and how it ended (`Err`: the error, in words).
pub async fn outcome<T>(db: &Db, actor: &Admin, action: &str, target: &str, detail: &str, result: &Result<T, app::error::AppError>) {
    let error = result.as_ref().err().map(|e| e.message());
    write(db, crate::support::time::now(), &of(actor.principal(), action, target, detail, error.as_deref().unwrap_or("ok"))).await
}

/// Deletes lines older than `before` (Unix seconds); returns how many.
pub async fn purge(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    Ok(on_db!(db, cx => sqlx::query("DELETE FROM audit_log WHERE at < $1").bind(before).execute(cx).await.map(|r| r.rows_affected()))?)
}

/// One row as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub via: String,
    pub address: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub result: String,
}

/// What to read: exact actor, action equal to or under a prefix (`decision` → `decision.*`), text
/// in the detail, newer than `since` (Unix seconds); newest first.
pub struct Query<'a> {
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
    pub text: Option<&'a str>,
    pub target: Option<&'a str>,
    pub since: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// The query with `q`'s filters, for either backend (each numbers its own parameters).
fn filtered<'a, DB: sqlx::Database>(select: &str, q: &'a Query<'a>) -> sqlx::QueryBuilder<'a, DB>
where
    DB::Arguments<'a>: Default,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut b = sqlx::QueryBuilder::new(select);
    b.push(" WHERE 1 = 1");
    if let Some(actor) = q.actor {
        b.push(" AND actor = ").push_bind(actor);
    }
    if let Some(action) = q.action {
        b.push(" AND (action = ").push_bind(action).push(" OR action LIKE ").push_bind(format!("{}.%", like_escape(action))).push(" ESCAPE '\\')");
    }
    if let Some(text) = q.text {
        // Any case, on both backends (SQLite's LIKE ignores ASCII case, PostgreSQL's does not).
        let pattern = format!("%{}%", like_escape(text)).to_lowercase();
        b.push(" AND (LOWER(target) LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\' OR LOWER(detail) LIKE ").push_bind(pattern).push(" ESCAPE '\\')");
    }
    if let Some(target) = q.target {
        b.push(" AND target = ").push_bind(target);
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
    on_db!(db, cx => {
        let total: i64 = filtered("SELECT COUNT(*) FROM audit_log", q).build_query_scalar().fetch_one(cx).await?;
        let mut b = filtered("SELECT id, at, actor, via, address, action, target, detail, result FROM audit_log", q);
        b.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(q.limit).push(" OFFSET ").push_bind(q.offset);
        let rows = b.build_query_as::<Row>().fetch_all(cx).await?;
        Ok((rows, total))
    })
}

/// Rows with an id below `below`, newest first, at most `q.limit` (the export's keyset paging).
pub async fn chunk_below(db: &Db, q: &Query<'_>, below: i64) -> Result<Vec<Row>, sqlx::Error> {
    on_db!(db, cx => {
        let mut b = filtered("SELECT id, at, actor, via, address, action, target, detail, result FROM audit_log", q);
        b.push(" AND id < ").push_bind(below).push(" ORDER BY id DESC LIMIT ").push_bind(q.limit);
        b.build_query_as::<Row>().fetch_all(cx).await
    })
}
