//! Traffic history from the access log: requests per minute, site, outcome (`allowed` and
//! `blocked` by the bouncer, `unchecked` on unprotected sites) and, for blocked ones, the origin of
//! the decision (`crowdsec`, `CAPI`, `lists:<name>`, `charon`, …). Written in the same transaction
//! as the requests and the log cursor, so every logged request is counted exactly once across
//! restarts of Charon, Caddy or the bouncer. Each count goes into its minute (kept 48 h) and its
//! hour (kept 90 days), so a long range reads hours only. Both tables are in the evidence index's
//! own database.

use std::collections::HashMap;

use sqlx::{SqliteConnection, SqlitePool};

use super::access_log::Seen;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS traffic_minute (
    at      INTEGER NOT NULL,   -- Unix seconds, start of the minute
    site    TEXT    NOT NULL,
    outcome TEXT    NOT NULL,   -- allowed, blocked, unchecked
    origin  TEXT    NOT NULL,   -- blocked: the decision's origin; else ''
    count   INTEGER NOT NULL,
    PRIMARY KEY (at, site, outcome, origin)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS traffic_hour (
    at      INTEGER NOT NULL,   -- Unix seconds, start of the hour
    site    TEXT    NOT NULL,
    outcome TEXT    NOT NULL,
    origin  TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (at, site, outcome, origin)
) WITHOUT ROWID;
";

/// Minute rows are dropped once they are this old (their hours stay).
pub const MINUTES_KEPT: i64 = 48 * 3600;
pub const HOURS_KEPT: i64 = 90 * 86_400;
/// Distinct sites counted per batch; more (a flood of made-up host names on a catch-all) are
/// counted as `other`.
const SITES_MAX: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allowed,
    Blocked,
    Unchecked,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Blocked => "blocked",
            Outcome::Unchecked => "unchecked",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Allowed, Outcome::Blocked, Outcome::Unchecked].into_iter().find(|o| o.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub at: i64,
    pub site: String,
    pub outcome: Outcome,
    pub origin: String,
}

/// Counts of one batch of requests.
#[derive(Debug, Default)]
pub struct Tally(pub HashMap<Key, u64>);

impl Tally {
    /// Counts a request; `origin` is the blocking decision's (`None`: not blocked, or not known).
    pub fn count(&mut self, seen: &Seen, origin: Option<String>) {
        let outcome = match (seen.refused, seen.checked) {
            (true, _) => Outcome::Blocked,
            (false, true) => Outcome::Allowed,
            (false, false) => Outcome::Unchecked,
        };
        let mut site = seen.host.to_ascii_lowercase();
        if self.0.len() >= SITES_MAX && !self.0.keys().any(|k| k.site == site) {
            site = "other".to_owned();
        }
        let origin = if outcome == Outcome::Blocked { origin.unwrap_or_else(|| "unknown".to_owned()) } else { String::new() };
        *self.0.entry(Key { at: seen.at_ms.div_euclid(60_000) * 60, site, outcome, origin }).or_default() += 1;
    }
}

/// Adds the batch's counts to their minutes and hours, inside the caller's transaction.
pub async fn add(tx: &mut SqliteConnection, tally: &Tally) -> sqlx::Result<()> {
    for (k, n) in &tally.0 {
        for (table, at) in [("traffic_minute", k.at), ("traffic_hour", k.at.div_euclid(3600) * 3600)] {
            sqlx::query(&format!(
                "INSERT INTO {table} (at, site, outcome, origin, count) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (at, site, outcome, origin) DO UPDATE SET count = count + excluded.count"
            ))
            .bind(at)
            .bind(&k.site)
            .bind(k.outcome.as_str())
            .bind(&k.origin)
            .bind(*n as i64)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// Drops minutes older than `MINUTES_KEPT` and hours older than `HOURS_KEPT`; returns the minute
/// rows dropped.
pub async fn roll_up(pool: &SqlitePool, now: i64) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let dropped = sqlx::query("DELETE FROM traffic_minute WHERE at < ?").bind(now - MINUTES_KEPT).execute(&mut *tx).await?.rows_affected();
    sqlx::query("DELETE FROM traffic_hour WHERE at < ?").bind(now - HOURS_KEPT).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(dropped)
}

/// One row of a range: requests in the bucket starting at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub at: i64,
    pub site: String,
    pub outcome: Outcome,
    pub origin: String,
    pub count: u64,
}

/// Requests in `[from, to)` summed per `bucket` seconds, site, outcome and origin: from the
/// minutes for buckets shorter than an hour (ranges within their 48 h), else from the hours.
pub async fn range(pool: &SqlitePool, from: i64, to: i64, bucket: i64) -> sqlx::Result<Vec<Row>> {
    let table = if bucket < 3600 { "traffic_minute" } else { "traffic_hour" };
    let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(&format!(
        "SELECT (at / ?1) * ?1 AS t, site, outcome, origin, SUM(count) FROM {table} WHERE at >= ?2 AND at < ?3 \
         GROUP BY t, site, outcome, origin ORDER BY t"
    ))
    .bind(bucket.max(60))
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(at, site, outcome, origin, count)| Some(Row { at, site, outcome: Outcome::parse(&outcome)?, origin, count: count as u64 }))
        .collect())
}

/// Every request counted in the last 90 days, per site, outcome and origin: the `/metrics`
/// counters (they only grow, except for hours older than 90 days dropping out).
pub async fn totals(pool: &SqlitePool) -> sqlx::Result<Vec<Row>> {
    range(pool, 0, i64::MAX / 2, i64::MAX / 4).await.map(|rows| rows.into_iter().map(|r| Row { at: 0, ..r }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(at_ms: i64, host: &str, refused: bool, checked: bool) -> Seen {
        Seen {
            at_ms,
            ip: "203.0.113.1".parse().unwrap(),
            host: host.into(),
            method: "GET".into(),
            path: "/".into(),
            status: if refused { 403 } else { 200 },
            user_agent: String::new(),
            refused,
            checked,
        }
    }

    #[tokio::test]
    async fn counts_survive_the_roll_up_into_hours_and_ranges_sum_both() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::store::Store::open(&dir.path().join("e.db")).await.unwrap();
        let pool = store.pool();
        let now = 1_796_230_000;
        let old = (now - 50 * 3600) * 1000;
        let mut t = Tally::default();
        for _ in 0..3 {
            t.count(&seen(old, "Shop.Example", false, true), None);
        }
        t.count(&seen(old + 60_000, "shop.example", true, true), Some("crowdsec".into()));
        t.count(&seen(now * 1000, "shop.example", true, true), None);
        t.count(&seen(now * 1000, "blog.example", false, false), None);
        let mut tx = pool.begin().await.unwrap();
        add(&mut tx, &t).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(roll_up(pool, now).await.unwrap(), 2, "the two old minutes dropped, their hours kept");
        let recent = range(pool, now - 3600, now + 60, 60).await.unwrap();
        assert_eq!(recent.iter().map(|r| r.count).sum::<u64>(), 2, "the last hour from the minutes");
        let rows = range(pool, now - 60 * 3600, now + 60, 86_400 * 10).await.unwrap();
        let sum = |o: Outcome, origin: &str| rows.iter().filter(|r| r.outcome == o && (origin == "*" || r.origin == origin)).map(|r| r.count).sum::<u64>();
        assert_eq!((sum(Outcome::Allowed, "*"), sum(Outcome::Blocked, "crowdsec"), sum(Outcome::Blocked, "unknown"), sum(Outcome::Unchecked, "*")), (3, 1, 1, 1));
        assert!(rows.iter().all(|r| r.site != "Shop.Example"), "sites are lower case");
        assert_eq!(totals(pool).await.unwrap().iter().map(|r| r.count).sum::<u64>(), 6);
        // Past 90 days the hours go.
        roll_up(pool, now + HOURS_KEPT + 7200).await.unwrap();
        assert_eq!(totals(pool).await.unwrap().iter().filter(|r| r.outcome == Outcome::Allowed).count(), 0);
    }
}
