//! Keeps a decision cache in step with the engine: a complete answer first (and after any error),
//! then deltas every `interval`, from a `StreamSource`: the LAPI's stream with a bouncer key of its
//! own, or the bouncer process's change feed. While the LAPI is unreachable
//! the last state is kept and `stale_since` reports since when; it recovers on its own.
//!
//! A full `startup=true` answer is also fetched every `full_resync` (default `FULL_RESYNC`): 1.4.6 sets a key's
//! `last_pull` to the start of the request, so decisions committed during a poll with an earlier
//! `created_at` (a bulk `cscli decisions import`, say) are never part of any delta. Observed here:
//! 50 of 100 000 imported decisions missed without it.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::cache::{DecisionCache, Delta, Fresh};
use super::feed::ChangeFeed;
use crate::crowdsec::lapi::{Lapi, StreamAnswer};

/// Decisions of a complete answer parsed before they go into the tables being built.
const PARSE_BATCH: usize = 4096;

/// How often expired decisions are dropped from memory.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Default interval between complete answers (`decision_full_resync_secs`).
pub const FULL_RESYNC: Duration = Duration::from_secs(60);

/// Periodic complete answers take at most a tenth of the time: with many decisions one costs the
/// engine (and, on a fleet, its PostgreSQL) far more than a poll — a million: 10–20 s of both
/// cores of the central node for each follower — so they come at most every ten times what the
/// last one took (a million: every 2–3 minutes instead of every minute; 150 000 on SQLite: every
/// 30 s or so). What 1.4.6 leaves out of deltas (a bulk `cscli decisions import`) then takes that
/// long to arrive; imports through Charon ask for a complete answer at once.
const RESYNC_COST_FACTOR: u32 = 10;

/// When the next periodic complete answer is due, after `full_resync` at least.
fn resync_every(full_resync: Duration, last_full_took: Duration) -> Duration {
    full_resync.max(last_full_took * RESYNC_COST_FACTOR)
}

/// What the loop asks its source for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// What changed since the last answer.
    Delta,
    /// A complete answer because it is time for one (`requested`: someone asked, after an import).
    Refresh { requested: bool },
    /// A complete answer because the loop holds nothing reliable (first poll, after an error or an
    /// engine restart).
    Startup,
}

/// A stream answer's body, and whether it is complete (replaces everything held).
pub struct Fetched {
    pub body: bytes::Bytes,
    pub full: bool,
    /// How many live decisions the source holds after this answer, when it says (the bouncer's
    /// change feed, at a periodic refresh): a follower holding a different number missed
    /// something and takes a complete answer next.
    pub live: Option<usize>,
    /// When the engine poll this answer reflects was sent (Unix milliseconds), when known: a
    /// poll of the engine itself, or what the bouncer process's feed says of its own.
    pub as_of: Option<i64>,
}

/// Where a sync loop gets its decisions: the engine's stream with a bouncer key of its own (the
/// forward-auth bouncer process; the console when no data plane runs), or the bouncer process's
/// change feed (the console when the data plane runs: `feed_client`).
pub trait StreamSource: Send + Sync + 'static {
    /// `None` while polling makes no sense (engine stopped, no key yet).
    fn fetch(&self, want: Want) -> impl Future<Output = Option<Result<Fetched, String>>> + Send;
}

/// One poll of the engine's stream with `key`: complete unless only a delta is wanted.
pub async fn from_lapi(lapi: &Lapi, key: Option<String>, want: Want) -> Option<Result<Fetched, String>> {
    let key = key?;
    let full = want != Want::Delta;
    let as_of = crate::support::time::now_ms();
    Some(lapi.stream(&key, full).await.map(|body| Fetched { body, full, live: None, as_of: Some(as_of) }).map_err(|e| e.to_string()))
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
    /// The newest `Fetched::as_of` applied: the cache holds what the engine held then.
    pub as_of: Option<i64>,
}

pub type Health = Arc<Mutex<SyncHealth>>;

/// A sync loop's cache as other parts read it (the fleet listener seeds edge nodes from the
/// console's): the cache, its health, and the loop's poke.
#[derive(Clone)]
pub struct Followed {
    pub cache: Arc<DecisionCache>,
    pub health: Health,
    pub poke: Arc<Notify>,
}

impl Followed {
    /// Waits, `within` at most, until the cache holds a complete answer and reflects an engine
    /// poll sent at `since_ms` (Unix milliseconds) or later; pokes the loop so that it does not
    /// wait for its next tick. False when that did not happen in time.
    pub async fn caught_up(&self, since_ms: i64, within: Duration) -> bool {
        let current = || self.health.lock().is_ok_and(|h| h.synced && h.stale_since.is_none() && h.as_of.is_some_and(|t| t >= since_ms));
        let deadline = tokio::time::Instant::now() + within;
        self.poke.notify_one();
        while !current() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

/// Runs forever; spawn it once. `poke` makes it poll now instead of at the next tick; what each
/// answer changed is recorded in `feed` when there is one (the bouncer process relays it).
pub async fn run(
    source: impl StreamSource,
    cache: Arc<DecisionCache>,
    health: Health,
    interval: Duration,
    full_resync: Duration,
    poke: Arc<Notify>,
    feed: Option<Arc<ChangeFeed>>,
) {
    let mut need_startup = true;
    let mut last_full = std::time::Instant::now();
    let mut last_full_took = Duration::ZERO;
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
        let requested = std::mem::take(&mut health.lock().expect("health lock").full_requested);
        let want = if need_startup {
            Want::Startup
        } else if requested || last_full.elapsed() >= resync_every(full_resync, last_full_took) {
            Want::Refresh { requested }
        } else {
            Want::Delta
        };
        if want != Want::Delta {
            last_full = std::time::Instant::now();
        }
        let Some(answer) = source.fetch(want).await else {
            // Engine off or starting: keep what we have; a fresh start needs a full answer.
            need_startup = true;
            let mut h = health.lock().expect("health lock");
            if h.synced && h.stale_since.is_none() {
                h.stale_since = Some(now);
            }
            continue;
        };
        // Parsing and applying a complete answer (100 000 decisions: ~100 ms of CPU) runs on the
        // blocking pool, so the async workers keep answering lookups meanwhile.
        let full = answer.as_ref().is_ok_and(|a| a.full);
        let as_of = answer.as_ref().ok().and_then(|a| a.as_of);
        let applied = match answer {
            Err(e) => Err(e),
            Ok(fetched) => {
                let (cache, feed) = (cache.clone(), feed.clone());
                tokio::task::spawn_blocking(move || {
                    let mut delta = feed.as_ref().map(|_| Delta::default());
                    let changes = if fetched.full {
                        // Built batch by batch as it is parsed, then swapped in whole.
                        let mut fresh = Fresh::default();
                        StreamAnswer::for_each_new(&fetched.body, PARSE_BATCH, |batch| fresh.add(batch, now)).map_err(|e| e.to_string())?;
                        cache.replace_with(fresh, delta.as_mut())
                    } else {
                        let answer = StreamAnswer::parse(&fetched.body).map_err(|e| e.to_string())?;
                        cache.apply(&answer.new, &answer.deleted, false, now, delta.as_mut())
                    };
                    // Recorded after the cache took it: a consumer reading the cache for a complete
                    // answer takes the feed's cursor first, so it may see a change twice, never miss one.
                    if let (Some(feed), Some(delta)) = (feed, delta) {
                        feed.record(delta);
                    }
                    let disagrees = fetched.live.map(|theirs| (theirs, cache.live_len(now))).filter(|(theirs, ours)| theirs != ours);
                    Ok((changes, disagrees))
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r)
            }
        };
        match applied {
            Ok((changes, disagrees)) => {
                if changes > 0 {
                    tracing::debug!(changes, full, total = cache.len(), "decision cache updated");
                }
                if full {
                    last_full_took = last_full.elapsed();
                }
                let mut h = health.lock().expect("health lock");
                if full {
                    h.synced = true;
                }
                h.stale_since = None;
                h.last_error = None;
                h.last_sync = Some(now);
                if as_of.is_some() {
                    h.as_of = h.as_of.max(as_of);
                }
                // A follower can miss what its source never relayed (the source took a complete
                // answer that no longer held a decision the follower was told of another way).
                need_startup = if let Some((theirs, ours)) = disagrees {
                    tracing::info!(source = theirs, here = ours, "the decision source holds a different number of decisions: taking a complete answer");
                    true
                } else {
                    false
                };
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// Answers from a script, and the wants it was asked with.
    #[derive(Default)]
    struct Script {
        wants: Mutex<Vec<Want>>,
        answers: Mutex<VecDeque<(&'static str, bool, Option<usize>)>>,
        /// How long a complete answer takes.
        full_takes: Duration,
    }

    impl StreamSource for Arc<Script> {
        async fn fetch(&self, want: Want) -> Option<Result<Fetched, String>> {
            self.wants.lock().unwrap().push(want);
            if want != Want::Delta {
                tokio::time::sleep(self.full_takes).await;
            }
            let (body, full, live) = self.answers.lock().unwrap().pop_front().unwrap_or((r#"{"new":[],"deleted":[]}"#, false, None));
            Some(Ok(Fetched { body: bytes::Bytes::from_static(body.as_bytes()), full, live, as_of: None }))
        }
    }

    const ONE: &str = r#"{"new":[{"id":1,"value":"203.0.113.9","scope":"Ip","type":"ban","origin":"crowdsec","scenario":"s","duration":"1h"}],"deleted":[]}"#;

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting until {what}");
    }

    #[tokio::test]
    async fn a_follower_that_holds_a_different_number_than_its_source_takes_a_complete_answer() {
        let script = Arc::new(Script::default());
        script.answers.lock().unwrap().extend([(ONE, true, None), (r#"{"new":[],"deleted":[]}"#, false, Some(1)), (ONE, true, None)]);
        let cache = Arc::new(DecisionCache::new());
        let poke = Arc::new(Notify::new());
        let health = Health::default();
        // Polls only when poked (the first tick is immediate).
        let task = tokio::spawn(run(script.clone(), cache.clone(), health.clone(), Duration::from_secs(3600), Duration::ZERO, poke.clone(), None));
        until("the complete answer is held", || cache.len() == 1).await;
        // Told of a decision another way, which the source never relays (as the console's own writes).
        let now = crate::support::time::now();
        cache.insert(app::decisions::model::IpOrRange::parse("192.0.2.50").unwrap(), "ban", "cscli", "manual", 2, now + 3600);
        poke.notify_one();
        until("the refresh is answered", || script.wants.lock().unwrap().len() == 2).await;
        poke.notify_one();
        until("a third poll", || script.wants.lock().unwrap().len() == 3).await;
        until("the ghost is gone", || cache.len() == 1).await;
        // (The second poll is a delta or a periodic refresh, depending on how long the first took.)
        let wants = script.wants.lock().unwrap().clone();
        assert!(wants[0] == Want::Startup && wants[1] != Want::Startup && wants[2] == Want::Startup, "{wants:?}");
        // Agreeing counts keep the follower on deltas.
        script.answers.lock().unwrap().push_back((r#"{"new":[],"deleted":[]}"#, false, Some(1)));
        poke.notify_one();
        until("a fourth poll", || script.wants.lock().unwrap().len() == 4).await;
        poke.notify_one();
        until("a fifth poll", || script.wants.lock().unwrap().len() == 5).await;
        assert_ne!(script.wants.lock().unwrap()[4], Want::Startup);
        task.abort();
    }

    #[tokio::test]
    async fn a_cache_is_caught_up_once_it_took_a_poll_sent_after_the_question() {
        let followed = Followed { cache: Arc::new(DecisionCache::new()), health: Health::default(), poke: Arc::new(Notify::new()) };
        let set = |synced: bool, as_of: i64, stale: bool| {
            let mut h = followed.health.lock().unwrap();
            (h.synced, h.as_of, h.stale_since) = (synced, Some(as_of), stale.then_some(1));
        };
        set(true, 1_000, false);
        assert!(followed.caught_up(1_000, Duration::ZERO).await);
        assert!(!followed.caught_up(1_001, Duration::from_millis(50)).await, "an older poll");
        set(false, 2_000, false);
        assert!(!followed.caught_up(1_001, Duration::ZERO).await, "no complete answer yet");
        set(true, 2_000, true);
        assert!(!followed.caught_up(1_001, Duration::ZERO).await, "the source is failing");
        // The loop is poked, and a poll it makes meanwhile is waited for.
        set(true, 1_000, false);
        let (poke, health) = (followed.poke.clone(), followed.health.clone());
        let poller = tokio::spawn(async move {
            poke.notified().await;
            health.lock().unwrap().as_of = Some(3_000);
        });
        assert!(followed.caught_up(2_500, Duration::from_secs(5)).await);
        poller.await.unwrap();
    }

    #[test]
    fn periodic_complete_answers_come_no_more_often_than_ten_times_what_one_took() {
        let minute = Duration::from_secs(60);
        assert_eq!(resync_every(minute, Duration::ZERO), minute);
        assert_eq!(resync_every(minute, Duration::from_secs(2)), minute);
        assert_eq!(resync_every(minute, Duration::from_secs(15)), Duration::from_secs(150));
    }

    #[tokio::test]
    async fn a_slow_complete_answer_spaces_out_the_periodic_ones() {
        // Complete answers take 100 ms and are due every 100 ms at least: the next comes after a
        // second (10 × 100 ms); polls in between are deltas.
        let script = Arc::new(Script { full_takes: Duration::from_millis(100), ..Script::default() });
        script.answers.lock().unwrap().push_back((ONE, true, None));
        let cache = Arc::new(DecisionCache::new());
        let task = tokio::spawn(run(script.clone(), cache.clone(), Health::default(), Duration::from_millis(10), Duration::from_millis(100), Arc::new(Notify::new()), None));
        until("the complete answer is held", || cache.len() == 1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let wants = script.wants.lock().unwrap().clone();
        assert_eq!(wants[0], Want::Startup);
        assert!(wants.len() > 5 && wants[1..].iter().all(|w| *w == Want::Delta), "{wants:?}");
        until("a periodic complete answer", || script.wants.lock().unwrap().contains(&Want::Refresh { requested: false })).await;
        task.abort();
    }
}
