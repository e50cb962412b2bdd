//! Keeps the decision cache in step with the LAPI: `startup=true` first (and after any error),
//! then deltas every `interval`, with the dedicated bouncer key. While the LAPI is unreachable
//! the last state is kept and `stale_since` reports since when; it recovers on its own.
//!
//! A full `startup=true` answer is also fetched every `full_resync` (default `FULL_RESYNC`): 1.4.6 sets a key's
//! `last_pull` to the start of the request, so decisions committed during a poll with an earlier
//! `created_at` (a bulk `cscli decisions import`, say) are never part of any delta. Observed here:
//! 50 of 100 000 imported decisions missed without it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::cache::DecisionCache;
use crate::crowdsec::lapi::Lapi;
use crate::crowdsec::CrowdSec;

/// How often expired decisions are dropped from memory.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Default interval between complete answers (`decision_full_resync_secs`).
pub const FULL_RESYNC: Duration = Duration::from_secs(60);

/// Where a sync loop gets its LAPI and bouncer key: the server's engine (its own key), or the
/// forward-auth bouncer process (a key of its own: stream deltas are per key).
pub trait StreamSource: Send + Sync + 'static {
    fn lapi(&self) -> &Lapi;
    /// The key to poll with, or `None` while polling makes no sense (engine stopped).
    fn key(&self) -> Option<String>;
}

impl StreamSource for CrowdSec {
    fn lapi(&self) -> &Lapi {
        CrowdSec::lapi(self)
    }
    fn key(&self) -> Option<String> {
        self.active_bouncer_key().filter(|_| self.status().lapi_ready)
    }
}

#[derive(Debug, Clone, Default)]
pub struct SyncHealth {
    /// Unix seconds of the first failure of the current outage.
    pub stale_since: Option<i64>,
    /// Unix seconds of the last successful poll.
    pub last_sync: Option<i64>,
    pub last_error: Option<String>,
    /// A complete (startup) answer has been applied since the engine started.
    pub synced: bool,
    /// Someone asked for a complete answer at the next poll (after a bulk import: 1.4.6 leaves
    /// rows written during a poll out of every delta, and a complete answer taken during the
    /// import replaced what the cache had been told directly).
    pub full_requested: bool,
}

pub type Health = Arc<Mutex<SyncHealth>>;

/// Runs forever; spawn it once. `poke` makes it poll now instead of at the next tick.
pub async fn run(
    source: impl StreamSource,
    cache: Arc<DecisionCache>,
    health: Health,
    interval: Duration,
    full_resync: Duration,
    poke: Arc<Notify>,
) {
    let mut need_startup = true;
    let mut last_full = std::time::Instant::now();
    let mut last_sweep = std::time::Instant::now() - SWEEP_EVERY;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = poke.notified() => {}
        }
        let now = crate::support::time::now();
        // Lookups already ignore expired entries; the sweep only frees them. It scans every
        // decision, so it runs every 10 s and on the blocking pool, never on a worker that
        // answers checks.
        if last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = std::time::Instant::now();
            let cache = cache.clone();
            let _ = tokio::task::spawn_blocking(move || cache.sweep(now)).await;
        }
        let Some(key) = source.key() else {
            // Engine off or starting: keep what we have; a fresh start needs a full answer.
            need_startup = true;
            let mut h = health.lock().expect("health lock");
            if h.synced && h.stale_since.is_none() {
                h.stale_since = Some(now);
            }
            continue;
        };
        if last_full.elapsed() >= full_resync || std::mem::take(&mut health.lock().expect("health lock").full_requested) {
            need_startup = true;
        }
        if need_startup {
            last_full = std::time::Instant::now();
        }
        let answer = source.lapi().stream(&key, need_startup).await;
        // Parsing and applying a complete answer (100 000 decisions: ~100 ms of CPU) runs on the
        // blocking pool, so the async workers keep answering lookups meanwhile.
        let applied = match answer {
            Err(e) => Err(e.to_string()),
            Ok(body) => {
                let cache = cache.clone();
                let startup = need_startup;
                tokio::task::spawn_blocking(move || {
                    let answer = crate::crowdsec::lapi::StreamAnswer::parse(&body).map_err(|e| e.to_string())?;
                    Ok(cache.apply_stream(&answer.new, &answer.deleted, startup, now))
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r)
            }
        };
        match applied {
            Ok(changes) => {
                if changes > 0 {
                    tracing::debug!(changes, startup = need_startup, total = cache.len(), "decision cache updated");
                }
                let mut h = health.lock().expect("health lock");
                if need_startup {
                    h.synced = true;
                }
                h.stale_since = None;
                h.last_error = None;
                h.last_sync = Some(now);
                need_startup = false;
            }
            Err(e) => {
                need_startup = true;
                let mut h = health.lock().expect("health lock");
                if h.stale_since.is_none() {
                    tracing::warn!("decision stream unavailable, keeping the last known decisions: {e}");
                    h.stale_since = Some(now);
                }
                h.last_error = Some(e);
            }
        }
    }
}
