//! The `event_log` table: every ban (an engine alert, an administrator's ban in Charon) and every
//! state change of the engine, kept 90 days for the digests and the Overview. Written by the
//! dispatcher and the engine watch whether or not a channel subscribes to those events.

use crate::db::on_db;
use app::error::AppError;

use super::message::Event;
use crate::db::Db;

/// The Overview shows up to 30 days and the traffic history lasts 90: so do bans.
pub const KEEP_SECS: i64 = 90 * 86_400;

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "event log failure");
    AppError::Internal
}

/// The engine's state as the log keeps it: only whether it ran, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMark {
    Running,
    Stopped,
    /// Crashed or hung: Charon restarts it.
    Failed,
}

impl EngineMark {
    fn as_str(self) -> &'static str {
        match self {
            EngineMark::Running => "running",
            EngineMark::Stopped => "stopped",
            EngineMark::Failed => "failed",
        }
    }
}

#[derive(Clone)]
pub struct EventLog {
    db: Db,
}

/// `(name, count)` rows, most first.
pub type Counts = Vec<(String, u64)>;

/// `EventLog::bans_per_bucket`: `(bucket start, name, count)` rows in no particular order.
#[derive(Debug, Default)]
pub struct BansPerBucket {
    pub by_scenario: Vec<(i64, String, u64)>,
    pub by_country: Vec<(i64, String, u64)>,
}

impl EventLog {
    pub fn new(db: Db) -> Self {
        EventLog { db }
    }

    /// Keeps a ban: an engine alert or an administrator's `banned` (other manual actions are not bans).
    pub async fn ban(&self, at: i64, event: &Event) -> Result<(), AppError> {
        let i = &event.item;
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        on_db!(self.db, cx => sqlx::query("INSERT INTO event_log (at, kind, value, scenario, origin, site, country) VALUES ($1, 'ban', $2, $3, $4, $5, $6)")
            .bind(at)
            .bind(s(&i.value))
            .bind(s(&i.scenario))
            .bind(s(&i.origin))
            .bind(s(&i.site))
            .bind(s(&i.country))
            .execute(cx).await.map(|r| r.rows_affected()))
            .map_err(internal)?;
        Ok(())
    }

    pub async fn engine(&self, at: i64, mark: EngineMark) -> Result<(), AppError> {
        on_db!(self.db, cx => sqlx::query("INSERT INTO event_log (at, kind, value) VALUES ($1, 'engine', $2)").bind(at).bind(mark.as_str()).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?;
        Ok(())
    }

    pub async fn bans(&self, from: i64, to: i64) -> Result<u64, AppError> {
        let n: i64 = on_db!(self.db, cx => sqlx::query_scalar("SELECT COUNT(*) FROM event_log WHERE kind = 'ban' AND at >= $1 AND at < $2").bind(from).bind(to).fetch_one(cx).await).map_err(internal)?;
        Ok(n as u64)
    }

    /// Bans in `[from, to)` by one of `scenario`, `origin`, `site`, `country`, `value` (empty
    /// values left out), the first `limit`.
    pub async fn bans_by(&self, column: &str, from: i64, to: i64, limit: i64) -> Result<Counts, AppError> {
        if !["scenario", "origin", "site", "country", "value"].contains(&column) {
            return Err(internal(format!("no column {column}")));
        }
        let sql = format!(
            "SELECT {column}, COUNT(*) AS n FROM event_log WHERE kind = 'ban' AND at >= $1 AND at < $2 AND {column} != '' GROUP BY {column} ORDER BY n DESC, {column} LIMIT $3"
        );
        let rows: Vec<(String, i64)> = on_db!(self.db, cx => sqlx::query_as(&sql).bind(from).bind(to).bind(limit).fetch_all(cx).await).map_err(internal)?;
        Ok(rows.into_iter().map(|(k, n)| (k, n as u64)).collect())
    }

    /// Bans in `[from, to)` of these names of `column`.
    pub async fn bans_of(&self, column: &str, names: &[String], from: i64, to: i64) -> Result<Vec<u64>, AppError> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if !["scenario", "origin", "site", "country", "value"].contains(&column) {
                return Err(internal(format!("no column {column}")));
            }
            let sql = format!("SELECT COUNT(*) FROM event_log WHERE kind = 'ban' AND at >= $1 AND at < $2 AND {column} = $3");
            let n: i64 = on_db!(self.db, cx => sqlx::query_scalar(&sql).bind(from).bind(to).bind(name).fetch_one(cx).await).map_err(internal)?;
            out.push(n as u64);
        }
        Ok(out)
    }

    /// The engine's uptime in `[from, to)` in per mille of the time the log covers, and how many
    /// failures (crashes, hangs) it had; `None` when nothing is known about the period.
    pub async fn engine_uptime(&self, from: i64, to: i64) -> Result<(Option<u32>, u64), AppError> {
        let (before, marks) = self.engine_marks(from, to).await?;
        let failures = marks.iter().filter(|(_, v)| v == "failed").count() as u64;
        Ok((uptime(before.as_deref(), &marks, from, to), failures))
    }

    /// The engine's uptime over `bars` buckets of `bucket` seconds from `from`, up to `now`: for
    /// the whole period, and per bucket (`None`: nothing known, or the bucket lies in the future),
    /// each in per mille of its known part. One read of the marks.
    pub async fn engine_uptime_series(&self, from: i64, bucket: i64, bars: usize, now: i64) -> Result<(Option<u32>, Vec<Option<u32>>), AppError> {
        let to = from + bucket * bars as i64;
        let (before, marks) = self.engine_marks(from, to).await?;
        let whole = uptime(before.as_deref(), &marks, from, to.min(now));
        Ok((whole, uptime_series(before, &marks, from, bucket, bars, now)))
    }

    /// The engine's state before `from` (if known) and its marks in `[from, to)`, in order.
    async fn engine_marks(&self, from: i64, to: i64) -> Result<(Option<String>, Vec<(i64, String)>), AppError> {
        let before: Option<String> = on_db!(self.db, cx => sqlx::query_scalar("SELECT value FROM event_log WHERE kind = 'engine' AND at < $1 ORDER BY at DESC, rowid DESC LIMIT 1")
            .bind(from)
            .fetch_optional(cx).await)
            .map_err(internal)?;
        let marks: Vec<(i64, String)> = on_db!(self.db, cx => sqlx::query_as("SELECT at, value FROM event_log WHERE kind = 'engine' AND at >= $1 AND at < $2 ORDER BY at, rowid")
            .bind(from)
            .bind(to)
            .fetch_all(cx).await)
            .map_err(internal)?;
        Ok((before, marks))
    }

    /// Bans in `[from, to)` per `bucket` seconds, twice: `(bucket start, scenario, count)` and
    /// `(bucket start, country, count)`, empty names included (they count in the totals). Two
    /// grouped reads of the covering index `event_log_bans` give the Overview everything about
    /// bans: totals, top lists and bars.
    pub async fn bans_per_bucket(&self, from: i64, to: i64, bucket: i64) -> Result<BansPerBucket, AppError> {
        let read = |column: &'static str| {
            let sql = format!(
                "SELECT (at / $1) * $1 AS t, {column}, COUNT(*) FROM event_log WHERE kind = 'ban' AND at >= $2 AND at < $3 GROUP BY t, {column}"
            );
            async move {
                let rows: Vec<(i64, String, i64)> = on_db!(self.db, cx => sqlx::query_as(&sql).bind(bucket.max(1)).bind(from).bind(to).fetch_all(cx).await).map_err(internal)?;
                Ok::<_, AppError>(rows.into_iter().map(|(t, v, n)| (t, v, n as u64)).collect::<Vec<_>>())
            }
        };
        let (by_scenario, by_country) = tokio::try_join!(read("scenario"), read("country"))?;
        Ok(BansPerBucket { by_scenario, by_country })
    }

    pub async fn purge(&self, before: i64) -> Result<u64, AppError> {
        Ok(on_db!(self.db, cx => sqlx::query("DELETE FROM event_log WHERE at < $1").bind(before).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?)
    }
}

/// Per mille of the known part of `[from, to)` the engine ran: from the state before the period
/// (`before`, unknown when `None`: the period counts from its first mark) through each mark.
fn uptime(before: Option<&str>, marks: &[(i64, String)], from: i64, to: i64) -> Option<u32> {
    let (mut state, mut since) = match before {
        Some(s) => (Some(s == "running"), from),
        None => (None, from),
    };
    let (mut up, mut known) = (0i64, 0i64);
    for (at, value) in marks.iter().map(|(a, v)| ((*a).clamp(from, to), v)).chain(std::iter::once((to, &String::new()))) {
        if let Some(running) = state {
            known += at - since;
            if running {
                up += at - since;
            }
        }
        state = Some(value == "running");
        since = at;
    }
    (known > 0).then(|| ((up * 1000) / known) as u32)
}

/// `uptime` for each of `bars` buckets from `from`, each cut at `now`.
fn uptime_series(mut before: Option<String>, marks: &[(i64, String)], from: i64, bucket: i64, bars: usize, now: i64) -> Vec<Option<u32>> {
    let mut rest = marks;
    (0..bars)
        .map(|i| {
            let start = from + i as i64 * bucket;
            let end = (start + bucket).min(now);
            let n = rest.iter().take_while(|(at, _)| *at < start + bucket).count();
            let (inside, after) = rest.split_at(n);
            let up = if end > start { uptime(before.as_deref(), inside, start, end) } else { None };
            if let Some((_, last)) = inside.last() {
                before = Some(last.clone());
            }
            rest = after;
            up
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{uptime, uptime_series};

    #[test]
    fn uptime_per_bucket_carries_the_state_across_buckets() {
        let m = |v: &[(i64, &str)]| v.iter().map(|(a, s)| (*a, s.to_string())).collect::<Vec<_>>();
        // Running from 50 (nothing known before), failed at 250, back at 275; now is 350.
        let marks = m(&[(50, "running"), (250, "failed"), (275, "running")]);
        assert_eq!(uptime_series(None, &marks, 0, 100, 5, 350), vec![Some(1000), Some(1000), Some(750), Some(1000), None]);
        // Stopped before the range and not started in it.
        assert_eq!(uptime_series(Some("stopped".into()), &[], 0, 100, 2, 1000), vec![Some(0), Some(0)]);
    }

    #[test]
    fn uptime_counts_the_known_part_of_the_period() {
        let m = |v: &[(i64, &str)]| v.iter().map(|(a, s)| (*a, s.to_string())).collect::<Vec<_>>();
        // Running all along.
        assert_eq!(uptime(Some("running"), &[], 0, 1000), Some(1000));
        // Down for a quarter.
        assert_eq!(uptime(Some("running"), &m(&[(500, "failed"), (750, "running")]), 0, 1000), Some(750));
        // Nothing known before the first mark: the period counts from it.
        assert_eq!(uptime(None, &m(&[(500, "running")]), 0, 1000), Some(1000));
        assert_eq!(uptime(None, &[], 0, 1000), None);
        assert_eq!(uptime(Some("stopped"), &[], 0, 1000), Some(0));
    }
}
