//! Charon's own database: one SQLite file `charon.db` in the data dir (the default), or a
//! PostgreSQL database (`database_url`). Each backend has its migrations (`migrations/sqlite/`,
//! `migrations/postgres/`, the same versions with the same meaning), applied at start; one
//! repository module per table.
//!
//! Every statement is written once, in the SQL both understand (`$1` parameters, `RETURNING`,
//! `ON CONFLICT`, `TRUE`/`FALSE`), and run through [`on_db!`] / [`on_tx!`], which compile it for
//! each backend's native driver (no `Any` driver: its type mapping drops SQLite's booleans).

pub mod api_tokens;
pub mod audit;
pub mod oidc_identities;
pub mod settings;
pub mod sessions;
pub mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};

use crate::config::Config;

/// A pool of connections to Charon's database, whichever backend holds it.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on [`Db`]; rolled back when dropped without [`Tx::commit`].
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$c` bound to the backend's pool (`&SqlitePool` or `&PgPool`): the body is
/// compiled once per backend, so it must give the same type in both (map driver-specific results,
/// e.g. `.map(|r| r.rows_affected())`).
#[macro_export]
macro_rules! on_db {
    ($db:expr, $c:ident => $body:expr) => {
        match &$db {
            $crate::db::Db::Sqlite($c) => $body,
            $crate::db::Db::Postgres($c) => $body,
        }
    };
}

/// Like [`on_db!`] inside a transaction (`$tx`: a `&mut Tx`): `$c` is the backend's connection
/// (`&mut SqliteConnection` or `&mut PgConnection`).
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

pub use crate::{on_db, on_tx};

impl Db {
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }
}

impl Tx {
    pub async fn commit(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    pub async fn rollback(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
        }
    }
}

pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Opens Charon's database as configured (creating the SQLite file if needed) and brings its
/// schema up to date.
pub async fn connect(config: &Config) -> anyhow::Result<Db> {
    match config.postgres_url() {
        Some(url) => connect_postgres(url).await,
        None => connect_sqlite(&config.database_path()).await,
    }
}

async fn connect_postgres(url: &str) -> anyhow::Result<Db> {
    let options = crate::config::database_url::parse(url).map_err(|e| anyhow::anyhow!(e))?;
    let place = format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or(""));
    // The driver's errors name the server and the reason, never the password.
    let cannot_open = |e: sqlx::Error| anyhow::anyhow!("cannot open the database {place}: {e}");
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(cannot_open)?;
    POSTGRES_MIGRATIONS.run(&pool).await.map_err(|e| anyhow::anyhow!("cannot prepare the database {place}: {e}"))?;
    Ok(Db::Postgres(pool))
}

async fn connect_sqlite(path: &Path) -> anyhow::Result<Db> {
    let url = format!("sqlite://{}", path.display());
    let options = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    // The raw driver error ("code: 14") names neither the file nor what to do about it.
    let cannot_open = |e: sqlx::Error| anyhow::anyhow!("cannot open the database {}: {e}", path.display());
    let cannot_prepare = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot prepare the database {}: {e}", path.display());
    // Migrations run on a connection of their own with foreign keys off: a migration that rebuilds
    // a table (SQLite's way to change a constraint) drops the old one, which must not cascade into
    // the rows that refer to it. Every reference must hold again afterwards.
    {
        let mut conn = options.clone().foreign_keys(false).connect().await.map_err(cannot_open)?;
        SQLITE_MIGRATIONS.run(&mut conn).await.map_err(|e| cannot_prepare(&e))?;
        let broken: Vec<(String, Option<i64>)> = sqlx::query_as("SELECT \"table\", rowid FROM pragma_foreign_key_check").fetch_all(&mut conn).await.map_err(|e| cannot_prepare(&e))?;
        if let Some((table, row)) = broken.first() {
            return Err(cannot_prepare(&format!("{} rows refer to missing rows after the migrations (first: {table} row {row:?})", broken.len())));
        }
        conn.close().await.map_err(cannot_open)?;
    }
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.map_err(cannot_open)?;
    Ok(Db::Sqlite(pool))
}

/// `GET /ready`: the database answers a trivial query.
pub async fn ping(db: &Db) -> bool {
    on_db!(db, cx => sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(cx).await.is_ok())
}

#[cfg(test)]
mod tests {
    /// Both backends move through the same schema versions: a migration added to one only is a
    /// database that cannot be switched.
    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let versions = |m: &sqlx::migrate::Migrator| m.iter().map(|m| (m.version, m.description.to_string())).collect::<Vec<_>>();
        assert_eq!(versions(&super::SQLITE_MIGRATIONS), versions(&super::POSTGRES_MIGRATIONS));
        assert!(super::SQLITE_MIGRATIONS.iter().count() >= 15);
    }
}
