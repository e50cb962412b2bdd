//! Evidence from Charon's own access log: every request the protected sites saw is indexed by
//! visitor address and time (`store`, its own SQLite file), read from Caddy's JSON log as it grows
//! (`tail`, `access_log`), and kept for `evidence_retention_days` and at most
//! `evidence_max_requests` rows. An alert's detail shows what its source did around the alert and
//! what the bouncer refused it afterwards.

pub mod access_log;
pub mod store;
pub mod sync_lag;
pub mod tail;
pub mod traffic;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use app::alerts::model::{Evidence, RefusedOnSite, SeenRequest, EVIDENCE_REQUESTS_MAX};
use app::decisions::model::IpOrRange;

use self::store::Store;
use self::tail::Tail;
use crate::support::time::rfc3339;

/// How far before an alert's start its source's requests are shown.
pub const BEFORE_ALERT_MS: i64 = 3600 * 1000;
/// Most bytes read from the log per second (about 8 000 lines).
const READ_PER_TICK: usize = 4 * 1024 * 1024;
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// At its start the reader waits up to this long for the console's copy of the decisions to sync
/// (the engine's first complete answer), so that the refusals in a backlog are counted by their
/// decision's origin instead of `unknown`.
const WAIT_FOR_DECISIONS: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct EvidenceIndex {
    store: Arc<Store>,
    access_log: PathBuf,
    trusted: Arc<Vec<IpNet>>,
    retention_ms: i64,
    max_rows: i64,
    /// The console's copy of the decisions (which one blocked a refused request: its origin), and
    /// its sync state.
    decisions: Option<(Arc<crate::bouncer::cache::DecisionCache>, crate::bouncer::sync::Health)>,
}

/// How a blocking decision's origin is counted: a blocklist by its name.
fn origin_label(hit: &crate::bouncer::cache::Hit) -> String {
    if hit.origin.eq_ignore_ascii_case("lists") { format!("lists:{}", hit.scenario) } else { hit.origin.to_string() }
}

fn rfc3339_ms(ms: i64) -> String {
    let base = rfc3339(ms.div_euclid(1000));
    // `…:SSZ` → `…:SS.mmmZ`
    format!("{}.{:03}Z", base.trim_end_matches('Z'), ms.rem_euclid(1000))
}

impl EvidenceIndex {
    pub async fn open(file: &std::path::Path, access_log: PathBuf, trusted: Vec<IpNet>, retention_days: u64, max_rows: u64) -> anyhow::Result<Self> {
        Ok(EvidenceIndex {
            store: Arc::new(Store::open(file).await?),
            access_log,
            trusted: Arc::new(trusted),
            retention_ms: retention_days as i64 * 86_400_000,
            max_rows: max_rows as i64,
            decisions: None,
        })
    }

    /// Blocked requests are counted by the origin of the decision that blocked them.
    pub fn with_decisions(mut self, decisions: Arc<crate::bouncer::cache::DecisionCache>, health: crate::bouncer::sync::Health) -> Self {
        self.decisions = Some((decisions, health));
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Follows the access log for as long as the console runs: new lines every second, old rows
    /// purged every ten minutes.
    pub async fn run(self) {
        let (inode, offset) = self.store.cursor().await.unwrap_or_default();
        let mut tail = Some(Tail::new(self.access_log.clone(), inode, offset));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_purge: Option<tokio::time::Instant> = None;
        let started = tokio::time::Instant::now();
        let mut decisions_ready = self.decisions.is_none();
        loop {
            tick.tick().await;
            if !decisions_ready {
                let synced = self.decisions.as_ref().is_some_and(|(_, h)| h.lock().map(|h| h.synced).unwrap_or(true));
                decisions_ready = synced || started.elapsed() >= WAIT_FOR_DECISIONS;
                if !decisions_ready {
                    continue;
                }
            }
            let Some(t) = tail.take() else { return };
            let trusted = self.trusted.clone();
            let decisions = self.decisions.as_ref().map(|(d, _)| d.clone());
            let cutoff = crate::support::time::now() * 1000 - self.retention_ms;
            let read = tokio::task::spawn_blocking(move || {
                let mut t = t;
                let lines = t.read(READ_PER_TICK);
                let all: Vec<access_log::Seen> = lines.as_ref().map(|l| l.iter().filter_map(|l| access_log::parse(l, &trusted)).collect()).unwrap_or_default();
                // Every request is counted; the index keeps those within its retention.
                let now = crate::support::time::now();
                let mut tally = traffic::Tally::default();
                for s in &all {
                    let origin = s.refused.then(|| decisions.as_ref()?.lookup_request(s.ip, Some(&s.host), Some(&s.path), now).map(|h| origin_label(&h))).flatten();
                    tally.count(s, origin);
                }
                let seen: Vec<access_log::Seen> = all.into_iter().filter(|s| s.at_ms >= cutoff).collect();
                (t, lines.map(|l| l.len()), seen, tally)
            })
            .await;
            let Ok((t, lines, seen, tally)) = read else {
                tracing::error!("the evidence reader stopped");
                return;
            };
            match lines {
                Err(e) => tracing::warn!(error = %e, log = %self.access_log.display(), "cannot read the access log"),
                Ok(0) => {}
                Ok(_) => {
                    if let Err(e) = self.store.insert(&seen, &tally, t.inode, t.resume_offset()).await {
                        tracing::warn!(error = %e, "cannot index requests; reading them again");
                        // Not moving on: the same lines are read again from the stored cursor.
                        let (inode, offset) = self.store.cursor().await.unwrap_or((t.inode, 0));
                        tail = Some(Tail::new(self.access_log.clone(), inode, offset));
                        continue;
                    }
                }
            }
            tail = Some(t);
            if last_purge.is_none_or(|p| p.elapsed() >= PURGE_EVERY) {
                last_purge = Some(tokio::time::Instant::now());
                let before = crate::support::time::now() * 1000 - self.retention_ms;
                match self.store.purge(before, self.max_rows).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "evidence index: old requests deleted"),
                    Err(e) => tracing::warn!(error = %e, "evidence index: old requests not deleted"),
                }
                if let Err(e) = traffic::roll_up(self.store.pool(), crate::support::time::now()).await {
                    tracing::warn!(error = %e, "traffic history: minutes not summed into hours yet");
                }
            }
        }
    }

    /// What the index holds about `target` for an alert that ran from `started_ms` to `stopped_ms`.
    pub async fn about(&self, target: &IpOrRange, started_ms: i64, stopped_ms: i64) -> anyhow::Result<Evidence> {
        let (lo, hi) = match target {
            IpOrRange::Ip(ip) => (store::key(*ip), store::key(*ip)),
            IpOrRange::Range(net) => store::span(net),
        };
        let (found, total) = self
            .store
            .requests(lo, hi, started_ms - BEFORE_ALERT_MS, stopped_ms.max(started_ms) + 5 * 60 * 1000, EVIDENCE_REQUESTS_MAX as i64)
            .await?;
        let refused = self.store.refused(lo, hi, started_ms).await?;
        Ok(Evidence {
            requests: found
                .into_iter()
                .map(|f| SeenRequest {
                    at: rfc3339_ms(f.at_ms),
                    address: f.ip.to_string(),
                    host: f.host,
                    method: f.method,
                    path: f.path,
                    status: f.status,
                    user_agent: f.user_agent,
                    refused: f.refused,
                })
                .collect(),
            requests_total: total,
            refused: refused
                .into_iter()
                .map(|r| RefusedOnSite { host: r.host, count: r.count as u64, first: rfc3339_ms(r.first_ms), last: rfc3339_ms(r.last_ms) })
                .collect(),
            indexed_since: self.store.oldest().await?.map(rfc3339_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn millisecond_timestamps() {
        assert_eq!(super::rfc3339_ms(1_796_230_689_564), "2026-12-02T16:58:09.564Z");
        assert_eq!(super::rfc3339_ms(5), "1970-01-01T00:00:00.005Z");
    }
}

#[async_trait::async_trait]
impl crate::notify::Traffic for EvidenceIndex {
    async fn by_site(&self, from_ms: i64, to_ms: i64) -> anyhow::Result<Vec<(String, u64, u64)>> {
        self.store.traffic(from_ms, to_ms).await
    }
}
