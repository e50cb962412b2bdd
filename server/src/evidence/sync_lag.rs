//! The bouncer's sync lag over time: every `EVERY` the console notes how long ago the bouncer last
//! pulled the engine's decisions (while the engine is meant to answer it), and keeps the largest
//! lag per minute (48 h) and per hour (90 days), beside the traffic history in the evidence
//! index's database. A bucket with no sample means nobody was watching (the console was down, or
//! the engine was off).

use std::future::Future;
use std::time::Duration;

use sqlx::SqlitePool;

use super::traffic::{HOURS_KEPT, MINUTES_KEPT};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sync_lag_minute (
    at      INTEGER PRIMARY KEY,   -- Unix seconds, start of the minute
    samples INTEGER NOT NULL,
    max_lag INTEGER NOT NULL       -- seconds
);
CREATE TABLE IF NOT EXISTS sync_lag_hour (
    at      INTEGER PRIMARY KEY,   -- Unix seconds, start of the hour
    samples INTEGER NOT NULL,
    max_lag INTEGER NOT NULL
);
";

pub const EVERY: Duration = Duration::from_secs(10);

/// Notes one sample: `lag` seconds at `at`.
pub async fn record(pool: &SqlitePool, at: i64, lag: i64) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    for (table, start) in [("sync_lag_minute", at.div_euclid(60) * 60), ("sync_lag_hour", at.div_euclid(3600) * 3600)] {
        sqlx::query(&format!(
            "INSERT INTO {table} (at, samples, max_lag) VALUES (?, 1, ?) \
             ON CONFLICT (at) DO UPDATE SET samples = samples + 1, max_lag = MAX(max_lag, excluded.max_lag)"
        ))
        .bind(start)
        .bind(lag.max(0))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Drops minutes and hours past their retention.
pub async fn roll_up(pool: &SqlitePool, now: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sync_lag_minute WHERE at < ?").bind(now - MINUTES_KEPT).execute(pool).await?;
    sqlx::query("DELETE FROM sync_lag_hour WHERE at < ?").bind(now - HOURS_KEPT).execute(pool).await?;
    Ok(())
}

/// The largest lag per `bucket` in `[from, to)`: `(bucket start, seconds)`, buckets without a
/// sample left out. Minutes for buckets shorter than an hour, else hours.
pub async fn range(pool: &SqlitePool, from: i64, to: i64, bucket: i64) -> sqlx::Result<Vec<(i64, u64)>> {
    let table = if bucket < 3600 { "sync_lag_minute" } else { "sync_lag_hour" };
    let rows: Vec<(i64, i64)> =
        sqlx::query_as(&format!("SELECT (at / ?1) * ?1 AS t, MAX(max_lag) FROM {table} WHERE at >= ?2 AND at < ?3 GROUP BY t ORDER BY t"))
            .bind(bucket.max(60))
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(t, lag)| (t, lag.max(0) as u64)).collect())
}

/// Samples for as long as the console runs: `lag` answers the current lag in seconds, or `None`
/// when there is nothing to measure (the engine is off, the data plane is not running).
pub async fn sample_forever<F, Fut>(pool: SqlitePool, lag: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<i64>>,
{
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_roll_up = 0;
    loop {
        tick.tick().await;
        let now = crate::support::time::now();
        if let Some(l) = lag().await {
            if let Err(e) = record(&pool, now, l).await {
                tracing::warn!(error = %e, "sync lag history: sample not kept");
            }
        }
        if now - last_roll_up >= 600 {
            last_roll_up = now;
            if let Err(e) = roll_up(&pool, now).await {
                tracing::warn!(error = %e, "sync lag history: old rows not deleted");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_largest_lag_per_minute_and_hour_and_drops_old_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::store::Store::open(&dir.path().join("e.db")).await.unwrap();
        let pool = store.pool();
        let hour = 1_796_230_800; // a whole hour
        for (at, lag) in [(hour, 1), (hour + 10, 7), (hour + 20, 2), (hour + 70, 3), (hour + 3700, 40)] {
            record(pool, at, lag).await.unwrap();
        }
        assert_eq!(range(pool, hour, hour + 7200, 60).await.unwrap(), vec![(hour, 7), (hour + 60, 3), (hour + 3660, 40)]);
        assert_eq!(range(pool, hour, hour + 7200, 3600).await.unwrap(), vec![(hour, 7), (hour + 3600, 40)]);
        assert_eq!(range(pool, hour, hour + 7200, 900).await.unwrap(), vec![(hour, 7), (hour + 3600, 40)], "quarter hours from the minutes");
        roll_up(pool, hour + MINUTES_KEPT + 120).await.unwrap();
        assert_eq!(range(pool, hour, hour + 7200, 60).await.unwrap(), vec![(hour + 3660, 40)], "minutes past 48 h dropped");
        assert_eq!(range(pool, hour, hour + 7200, 3600).await.unwrap().len(), 2, "hours kept");
    }
}
