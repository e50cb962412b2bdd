//! Indexes Charon adds to the engine's own database (SQLite or PostgreSQL) once its Local API has
//! created its tables.
//!
//! CrowdSec 1.4.6 answers every bouncer's poll of `/v1/decisions/stream` (each bouncer, once a
//! second) with a query on `decisions.created_at`, a column it does not index: each poll reads the
//! whole table. With a million decisions that is 190 ms of PostgreSQL (two workers) on an idle
//! machine and 300–850 ms with two edges and the console polling, enough to keep both cores busy;
//! 200 ms on SQLite. With the index: under a millisecond on both. 1.4.6 also reads an alert's
//! decisions by `alert_decisions` without an index (30 s for an alert holding a million, e.g. an
//! import); CrowdSec added that one itself later (crowdsec#2188).
//!
//! The engine's schema migration adds what its own schema lacks and leaves other indexes alone
//! (checked by the integration test, which restarts the engine). A failure here is logged and the
//! engine keeps running: the indexes make polls cheap, nothing depends on them.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use crate::config::engine_database::EngineDatabase;

/// (index name, column of `decisions`).
const INDEXES: [(&str, &str); 2] = [("charon_decisions_created_at", "created_at"), ("charon_decisions_alert", "alert_decisions")];

/// Creates the indexes the engine's database lacks; the names of those it created. Building one
/// blocks the engine's writes to `decisions` for as long as it takes (about a second per million
/// rows), once.
pub async fn ensure(db: &EngineDatabase, sqlite_file: &Path) -> anyhow::Result<Vec<&'static str>> {
    let mut conn = EngineConnection::open(db, sqlite_file).await?;
    let mut created = Vec::new();
    for (name, column) in INDEXES {
        if !conn.has_index(name).await? {
            conn.execute(&format!("CREATE INDEX IF NOT EXISTS {name} ON decisions ({column})")).await?;
            created.push(name);
        }
    }
    conn.close().await?;
    Ok(created)
}

enum EngineConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl EngineConnection {
    async fn open(db: &EngineDatabase, sqlite_file: &Path) -> sqlx::Result<EngineConnection> {
        Ok(match db {
            // The engine's writers wait for the lock (its busy timeout is 100 s); so does this.
            EngineDatabase::Sqlite => EngineConnection::Sqlite(
                SqliteConnectOptions::new()
                    .filename(sqlite_file)
                    .busy_timeout(Duration::from_secs(30))
                    .disable_statement_logging()
                    .connect()
                    .await?,
            ),
            EngineDatabase::Postgres { user, password, host, port, db_name, sslmode } => EngineConnection::Postgres(
                PgConnectOptions::new()
                    .host(host)
                    .port(*port)
                    .username(user)
                    .password(password.expose())
                    .database(db_name)
                    .ssl_mode(sslmode.parse().unwrap_or(PgSslMode::Require))
                    .application_name("charon")
                    .disable_statement_logging()
                    .connect()
                    .await?,
            ),
        })
    }

    async fn has_index(&mut self, name: &str) -> sqlx::Result<bool> {
        match self {
            EngineConnection::Sqlite(c) => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?)").bind(name).fetch_one(c).await
            }
            EngineConnection::Postgres(c) => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE tablename = 'decisions' AND indexname = $1)").bind(name).fetch_one(c).await
            }
        }
    }

    async fn execute(&mut self, sql: &str) -> sqlx::Result<()> {
        match self {
            EngineConnection::Sqlite(c) => sqlx::query(sql).execute(c).await.map(drop),
            EngineConnection::Postgres(c) => sqlx::query(sql).execute(c).await.map(drop),
        }
    }

    async fn close(self) -> sqlx::Result<()> {
        match self {
            EngineConnection::Sqlite(c) => c.close().await,
            EngineConnection::Postgres(c) => c.close().await,
        }
    }
}

/// [`ensure`] with its outcome logged (the password never is: errors come from the driver, which
/// does not repeat it, and are redacted all the same).
pub async fn ensure_logged(db: &EngineDatabase, sqlite_file: &Path) {
    let t = Instant::now();
    match ensure(db, sqlite_file).await {
        Ok(created) if created.is_empty() => {}
        Ok(created) => tracing::info!(
            "[CROWDSEC_STARTUP] indexed the engine's decisions ({}) in {:.1} s: its decision-stream polls no longer read the whole table",
            created.join(", "),
            t.elapsed().as_secs_f64()
        ),
        Err(e) => tracing::warn!(
            "[CROWDSEC_STARTUP] cannot index the engine's decisions ({}): {}; every bouncer poll reads the whole table",
            db.describe(),
            db.redact(&format!("{e:#}"))
        ),
    }
}
