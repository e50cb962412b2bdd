//! The database: one SQLite file `charon.db` in the data dir, migrations from `migrations/`
//! applied at start, and one repository module per table.

pub mod api_tokens;
pub mod audit;
pub mod oidc_identities;
pub mod settings;
pub mod sessions;
pub mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};

pub type Db = SqlitePool;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Opens (creating if needed) the database and brings its schema up to date.
pub async fn connect(path: &Path) -> anyhow::Result<Db> {
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
        MIGRATOR.run(&mut conn).await.map_err(|e| cannot_prepare(&e))?;
        let broken: Vec<(String, Option<i64>)> = sqlx::query_as("SELECT \"table\", rowid FROM pragma_foreign_key_check").fetch_all(&mut conn).await.map_err(|e| cannot_prepare(&e))?;
        if let Some((table, row)) = broken.first() {
            return Err(cannot_prepare(&format!("{} rows refer to missing rows after the migrations (first: {table} row {row:?})", broken.len())));
        }
        conn.close().await.map_err(cannot_open)?;
    }
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.map_err(cannot_open)?;
    Ok(pool)
}

/// `GET /ready`: the database answers a trivial query.
pub async fn ping(db: &Db) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(db)
        .await
        .is_ok()
}
