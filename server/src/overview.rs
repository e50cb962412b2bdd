//! The Overview (`OverviewService`): the traffic history of the access log (`evidence::traffic`:
//! requests let through and refused per site and per origin of the blocking decision), the bans
//! (per scenario and country) and the engine's uptime from the event log (`notify::event_log`), the
//! bouncer's sync lag over time (`evidence::sync_lag`), the addresses refused most (the evidence
//! index), and the protection state (engine, bouncer, Caddy, enrollment). Everything is counted on
//! this machine.

use std::collections::HashMap;
use std::sync::Arc;

use app::error::AppError;
use app::overview::model::{Bucket, NamedCount, Overview, ProtectionState, Range};
use app::services::{ConsoleService, OverviewService, ProxyService};

use crate::crowdsec::CrowdSec;
use crate::evidence::sync_lag;
use crate::evidence::traffic::{self, Outcome};
use crate::evidence::EvidenceIndex;
use crate::notify::event_log::EventLog;
use crate::support::time::{now, rfc3339};

/// Rows in each top list.
const TOP: usize = 10;
/// Origins, scenarios and countries stacked in the bars; the rest are `other`.
const STACKED: usize = 5;

#[derive(Clone)]
pub struct OverviewNumbers {
    evidence: EvidenceIndex,
    log: EventLog,
    engine: CrowdSec,
    proxy: Arc<dyn ProxyService>,
    console: Arc<dyn ConsoleService>,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "overview failure");
    AppError::Internal
}

/// `counts` as a list, most first (ties by name), the first `n`.
fn top(counts: HashMap<String, u64>, n: usize) -> Vec<NamedCount> {
    let mut v: Vec<NamedCount> = counts.into_iter().filter(|(_, c)| *c > 0).map(|(name, count)| NamedCount { name, count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v.truncate(n);
    v
}

/// The names a bar stacks: the first `STACKED` of a list (most first), then `other` if it is longer.
fn stacked(list: &[NamedCount]) -> Vec<String> {
    let mut names: Vec<String> = list.iter().take(STACKED).map(|c| c.name.clone()).collect();
    if list.len() > STACKED {
        names.push("other".to_owned());
    }
    names
}

/// Where `name` goes in a bar stacking `names` (the last part, `other`, takes the rest).
fn slot(names: &[String], name: &str) -> usize {
    names.iter().position(|n| n == name).unwrap_or(names.len().saturating_sub(1))
}

impl OverviewNumbers {
    pub fn new(evidence: EvidenceIndex, log: EventLog, engine: CrowdSec, proxy: Arc<dyn ProxyService>, console: Arc<dyn ConsoleService>) -> Self {
        OverviewNumbers { evidence, log, engine, proxy, console }
    }

    async fn state(&self) -> ProtectionState {
        let engine = self.engine.status();
        let plane = self.proxy.status().await;
        ProtectionState {
            engine: engine.state,
            bouncer_running: plane.bouncer.running,
            bouncer_stale_since: plane.stats.and_then(|s| s.stale_since).map(rfc3339),
            caddy_running: plane.caddy.running,
            enrollment: self.console.status().await.ok().map(|e| e.status),
        }
    }
}

#[async_trait::async_trait]
impl OverviewService for OverviewNumbers {
    async fn overview(&self, range: Range) -> Result<Overview, AppError> {
        let bucket = range.bucket_seconds();
        // Whole bars: the last one is the bar now runs in.
        let to = (now().div_euclid(bucket) + 1) * bucket;
        let from = to - range.seconds();
        let bars = (range.seconds() / bucket) as usize;
        // The history's two databases are read side by side: the access log's (traffic, sync lag,
        // addresses refused) and Charon's own (bans, engine marks).
        let pool = self.evidence.store().pool();
        let (rows, lags, top_refused, bans, (engine_up_permille, uptime)) = tokio::try_join!(
            async { traffic::range(pool, from, to, bucket).await.map_err(internal) },
            async { sync_lag::range(pool, from, to, bucket).await.map_err(internal) },
            async { self.evidence.store().top_refused(from * 1000, TOP as i64).await.map_err(internal) },
            self.log.bans_per_bucket(from, to, bucket),
            self.log.engine_uptime_series(from, bucket, bars, now()),
        )?;

        let (mut allowed, mut blocked, mut unchecked) = (0u64, 0u64, 0u64);
        let (mut by_origin, mut by_site) = (HashMap::<String, u64>::new(), HashMap::<String, u64>::new());
        for r in &rows {
            match r.outcome {
                Outcome::Allowed => allowed += r.count,
                Outcome::Unchecked => unchecked += r.count,
                Outcome::Blocked => {
                    blocked += r.count;
                    *by_origin.entry(r.origin.clone()).or_default() += r.count;
                    *by_site.entry(r.site.clone()).or_default() += r.count;
                }
            }
        }
        let blocked_by_origin = top(by_origin, usize::MAX);
        let origins = stacked(&blocked_by_origin);
        // Totals and top lists of bans; a ban without a scenario or country counts in the total only.
        let totals = |rows: &[(i64, String, u64)]| {
            let mut counts = HashMap::<String, u64>::new();
            for (_, name, n) in rows.iter().filter(|(_, name, _)| !name.is_empty()) {
                *counts.entry(name.clone()).or_default() += n;
            }
            top(counts, TOP)
        };
        let bans_by_scenario = totals(&bans.by_scenario);
        let bans_by_country = totals(&bans.by_country);
        let scenarios = stacked(&bans_by_scenario);
        let countries = stacked(&bans_by_country);
        let mut series: Vec<Bucket> = (0..bars)
            .map(|i| Bucket {
                at: rfc3339(from + i as i64 * bucket),
                allowed: 0,
                blocked: vec![0; origins.len()],
                bans: 0,
                bans_by_scenario: vec![0; scenarios.len()],
                bans_by_country: vec![0; countries.len()],
                engine_up_permille: uptime.get(i).copied().flatten(),
                sync_lag_max_seconds: None,
            })
            .collect();
        let index = |at: i64| ((at - from) / bucket).clamp(0, bars as i64 - 1) as usize;
        for r in &rows {
            let b = &mut series[index(r.at)];
            match r.outcome {
                Outcome::Allowed => b.allowed += r.count,
                Outcome::Blocked => {
                    if let Some(n) = b.blocked.get_mut(slot(&origins, &r.origin)) {
                        *n += r.count;
                    }
                }
                Outcome::Unchecked => {}
            }
        }
        let mut total_bans = 0;
        for (at, name, n) in &bans.by_scenario {
            let b = &mut series[index(*at)];
            b.bans += n;
            total_bans += n;
            if let Some(c) = b.bans_by_scenario.get_mut(slot(&scenarios, name)).filter(|_| !name.is_empty()) {
                *c += n;
            }
        }
        for (at, name, n) in &bans.by_country {
            if let Some(c) = series[index(*at)].bans_by_country.get_mut(slot(&countries, name)).filter(|_| !name.is_empty()) {
                *c += n;
            }
        }
        for (at, lag) in &lags {
            series[index(*at)].sync_lag_max_seconds = Some(*lag);
        }
        let top_blocked_addresses = top_refused.into_iter().map(|(ip, count)| NamedCount { name: ip.to_string(), count }).collect();
        Ok(Overview {
            range,
            from: rfc3339(from),
            to: rfc3339(to),
            bucket_seconds: bucket,
            checked: allowed + blocked,
            allowed,
            blocked,
            unchecked,
            blocked_by_origin,
            blocked_by_site: top(by_site, TOP),
            top_blocked_addresses,
            bans: total_bans,
            bans_by_scenario,
            bans_by_country,
            engine_up_permille,
            sync_lag_max_seconds: lags.iter().map(|(_, l)| *l).max(),
            origins,
            scenarios,
            countries,
            series,
            state: self.state().await,
        })
    }
}
