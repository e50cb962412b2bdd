//! The evidence index: requests by visitor address and time, in its own SQLite file
//! (`<data>/evidence.db`, so the account database stays small and a backup may leave it out).
//! Addresses are stored as 16 bytes (IPv4 mapped into IPv6) so a range is a `BETWEEN`; user agents
//! are stored once each. Bounded by age and by row count (`purge`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::access_log::Seen;
use super::traffic::Tally;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    at      INTEGER NOT NULL,   -- Unix milliseconds
    ip      BLOB    NOT NULL,   -- 16 bytes, IPv4 mapped
    host    TEXT    NOT NULL,
    method  TEXT    NOT NULL,
    path    TEXT    NOT NULL,
    status  INTEGER NOT NULL,
    agent   INTEGER NOT NULL,   -- agents.id
    refused INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_ip ON requests (ip, at);
CREATE INDEX IF NOT EXISTS requests_refused ON requests (at, ip) WHERE refused = 1;
CREATE INDEX IF NOT EXISTS requests_refused_by_ip ON requests (ip, at) WHERE refused = 1;
CREATE TABLE IF NOT EXISTS agents (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 1), inode INTEGER NOT NULL, offset INTEGER NOT NULL);
";

/// How many user agents the writer remembers the id of.
const AGENT_CACHE: usize = 10_000;

pub struct Store {
    pool: SqlitePool,
    agents: tokio::sync::Mutex<HashMap<String, i64>>,
}

pub fn key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn unkey(b: &[u8]) -> IpAddr {
    let octets: [u8; 16] = b.try_into().unwrap_or([0; 16]);
    app::decisions::model::normalise_ip(IpAddr::V6(octets.into()))
}

/// The first and last key of a range.
pub fn span(net: &IpNet) -> ([u8; 16], [u8; 16]) {
    (key(net.network()), key(net.broadcast()))
}

/// Refused requests on one site.
pub struct RefusedCount {
    pub host: String,
    pub count: i64,
    pub first_ms: i64,
    pub last_ms: i64,
}

impl Store {
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the evidence index {}: {e}", path.display()))?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        sqlx::raw_sql(super::traffic::SCHEMA).execute(&pool).await?;
        sqlx::raw_sql(super::sync_lag::SCHEMA).execute(&pool).await?;
        Ok(Store { pool, agents: Default::default() })
    }

    /// Where reading the access log stopped: (inode, offset).
    pub async fn cursor(&self) -> anyhow::Result<(u64, u64)> {
        let row: Option<(i64, i64)> = sqlx::query_as("SELECT inode, offset FROM cursor WHERE id = 1").fetch_optional(&self.pool).await?;
        Ok(row.map(|(i, o)| (i as u64, o as u64)).unwrap_or((0, 0)))
    }

    /// Adds a batch and its traffic counts and moves the cursor past it, in one transaction: after
    /// a crash the batch is either indexed and skipped, or not indexed and read again.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn insert(&self, batch: &[Seen], tally: &Tally, inode: u64, offset: u64) -> anyhow::Result<()> {
        let mut agents = self.agents.lock().await;
        if agents.len() > AGENT_CACHE {
            agents.clear();
        }
        let result = Self::insert_with(&self.pool, &mut agents, batch, tally, inode, offset).await;
        if result.is_err() {
            // Ids learnt inside the rolled-back transaction do not exist.
            agents.clear();
        }
        result
    }

    async fn insert_with(pool: &SqlitePool, agents: &mut HashMap<String, i64>, batch: &[Seen], tally: &Tally, inode: u64, offset: u64) -> anyhow::Result<()> {
        let mut tx = pool.begin().await?;
        super::traffic::add(&mut tx, tally).await?;
        for s in batch {
            let agent = match agents.get(&s.user_agent) {
                Some(id) => *id,
                None => {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO agents (text) VALUES (?) ON CONFLICT (text) DO UPDATE SET text = excluded.text RETURNING id",
                    )
                    .bind(&s.user_agent)
                    .fetch_one(&mut *tx)
                    .await?;
                    agents.insert(s.user_agent.clone(), id);
                    id
                }
            };
            sqlx::query("INSERT INTO requests (at, ip, host, method, path, status, agent, refused) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(s.at_ms)
                .bind(&key(s.ip)[..])
                .bind(&s.host)
                .bind(&s.method)
                .bind(&s.path)
                .bind(s.status as i64)
                .bind(agent)
                .bind(s.refused)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO cursor (id, inode, offset) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET inode = excluded.inode, offset = excluded.offset")
            .bind(inode as i64)
            .bind(offset as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes requests older than `before_ms`, then the oldest beyond `max_rows`, then user
    /// agents nobody refers to any more. Rows are appended in time order, so the oldest are the
    /// lowest rowids and no time index is needed. Returns the rows deleted.
    pub async fn purge(&self, before_ms: i64, max_rows: i64) -> anyhow::Result<u64> {
        let first_kept: Option<i64> = sqlx::query_scalar("SELECT rowid FROM requests WHERE at >= ? ORDER BY rowid LIMIT 1")
            .bind(before_ms)
            .fetch_optional(&self.pool)
            .await?;
        let mut deleted = match first_kept {
            Some(id) => sqlx::query("DELETE FROM requests WHERE rowid < ?").bind(id).execute(&self.pool).await?.rows_affected(),
            None => sqlx::query("DELETE FROM requests").execute(&self.pool).await?.rows_affected(),
        };
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(rowid) FROM requests").fetch_one(&self.pool).await?;
        if let Some(last) = last {
            deleted += sqlx::query("DELETE FROM requests WHERE rowid <= ?").bind(last - max_rows).execute(&self.pool).await?.rows_affected();
        }
        if deleted > 0 {
            sqlx::query("DELETE FROM agents WHERE id NOT IN (SELECT DISTINCT agent FROM requests)").execute(&self.pool).await?;
            self.agents.lock().await.clear();
        }
        Ok(deleted)
    }

    /// Requests from `[lo, hi]` between the times, the newest `limit` (returned oldest first),
    /// and how many there are in all.
    pub async fn requests(&self, lo: [u8; 16], hi: [u8; 16], from_ms: i64, to_ms: i64, limit: i64) -> anyhow::Result<(Vec<Seen>, u64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests WHERE ip BETWEEN ? AND ? AND at BETWEEN ? AND ?")
            .bind(&lo[..])
            .bind(&hi[..])
            .bind(from_ms)
            .bind(to_ms)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT r.at, r.ip, r.host, r.method, r.path, r.status, a.text AS agent, r.refused FROM requests r JOIN agents a ON a.id = r.agent \
             WHERE r.ip BETWEEN ? AND ? AND r.at BETWEEN ? AND ? ORDER BY r.at DESC LIMIT ?",
        )
        .bind(&lo[..])
        .bind(&hi[..])
        .bind(from_ms)
        .bind(to_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut found: Vec<Seen> = rows
            .iter()
            .map(|r| Seen {
                at_ms: r.get("at"),
                ip: unkey(r.get::<Vec<u8>, _>("ip").as_slice()),
                host: r.get("host"),
                method: r.get("method"),
                path: r.get("path"),
                status: r.get::<i64, _>("status") as u16,
                user_agent: r.get("agent"),
                refused: r.get("refused"),
                checked: r.get("refused"),
            })
            .collect();
        found.reverse();
        Ok((found, total as u64))
    }

    /// Refused requests from `[lo, hi]` since `from_ms`, by site, most first.
    pub async fn refused(&self, lo: [u8; 16], hi: [u8; 16], from_ms: i64) -> anyhow::Result<Vec<RefusedCount>> {
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT host, COUNT(*), MIN(at), MAX(at) FROM requests WHERE ip BETWEEN ? AND ? AND at >= ? AND refused = 1 \
             GROUP BY host ORDER BY COUNT(*) DESC LIMIT 50",
        )
        .bind(&lo[..])
        .bind(&hi[..])
        .bind(from_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(host, count, first_ms, last_ms)| RefusedCount { host, count, first_ms, last_ms }).collect())
    }

    /// Requests seen and refused per site between `from_ms` and `to_ms` (a scan of the index:
    /// about once a day, for a digest).
    pub async fn traffic(&self, from_ms: i64, to_ms: i64) -> anyhow::Result<Vec<(String, u64, u64)>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as("SELECT host, COUNT(*), SUM(refused) FROM requests WHERE at >= ? AND at < ? GROUP BY host")
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(h, n, r)| (h, n as u64, r as u64)).collect())
    }

    /// The addresses refused most since `from_ms`, most first.
    pub async fn top_refused(&self, from_ms: i64, limit: i64) -> anyhow::Result<Vec<(IpAddr, u64)>> {
        // Over a day or more, walking the refused requests in address order groups them without
        // sorting (4× faster over 200 000); for a short span, the few recent ones are found by time.
        let index = if from_ms < crate::support::time::now() * 1000 - 86_400_000 { "requests_refused_by_ip" } else { "requests_refused" };
        let sql = format!("SELECT ip, COUNT(*) AS n FROM requests INDEXED BY {index} WHERE refused = 1 AND at >= ? GROUP BY ip ORDER BY n DESC LIMIT ?");
        let rows: Vec<(Vec<u8>, i64)> = sqlx::query_as(&sql).bind(from_ms).bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(ip, n)| (unkey(&ip), n as u64)).collect())
    }

    /// The time of the oldest request held.
    pub async fn oldest(&self) -> anyhow::Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT at FROM requests ORDER BY rowid LIMIT 1").fetch_optional(&self.pool).await?)
    }

    pub async fn count(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM requests").fetch_one(&self.pool).await?)
    }
}
