//! The bouncer process's change feed: what its decision cache took from the engine's stream,
//! relayed to the console (`GET /bouncer/changes`), so that one engine has **one** stream consumer
//! when the data plane runs. Every poll of the LAPI's stream writes the polling bouncer's
//! `last_pull` to the engine's SQLite; two consumers polling every second made a concurrent
//! `cscli decisions import` fail with "database is locked".
//!
//! A consumer holds a cursor `<epoch>-<seq>`. It gets the changes after its cursor merged into
//! one answer (last word per decision wins), or, when its cursor is unknown (first call, another
//! bouncer process, or so far behind that the bounded log no longer holds its changes), a
//! complete answer built from the cache. Answers are LAPI-stream shaped, so the console applies
//! them with the same code as the engine's own.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use hashbrown::HashMap;

use super::cache::{Change, Delta};
use crate::crowdsec::lapi::{StreamAnswer, StreamDecision};

/// At most this many changes are kept for consumers that are behind; older ones are dropped and
/// such a consumer gets a complete answer instead.
pub const MAX_HELD: usize = 200_000;

struct Batch {
    seq: u64,
    delta: Delta,
}

struct Log {
    /// The seq of the last batch recorded (0: none yet).
    last: u64,
    /// A cursor at or after this seq can be answered from `batches`.
    oldest_known: u64,
    batches: VecDeque<Batch>,
    held: usize,
}

pub struct ChangeFeed {
    epoch: String,
    log: Mutex<Log>,
}

fn wire(c: &Change, now: i64) -> StreamDecision<'_> {
    StreamDecision {
        id: c.id,
        value: (&*c.value).into(),
        scope: (&*c.scope).into(),
        kind: (&*c.kind).into(),
        origin: (&*c.origin).into(),
        scenario: (&*c.scenario).into(),
        duration: format!("{}s", (c.until - now).max(0)).into(),
    }
}

/// Changes as the engine's stream answers them (JSON, durations from `now`; expired new ones
/// left out), so that a follower applies them with the engine's own parser.
pub fn stream_json(delta: &Delta, now: i64) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&StreamAnswer {
        new: delta.new.iter().filter(|c| c.until > now).map(|c| wire(c, now)).collect(),
        deleted: delta.deleted.iter().map(|c| wire(c, now)).collect(),
    })
}

/// What a consumer is owed.
#[derive(Debug, PartialEq, Eq)]
pub enum Owed {
    /// Changes after its cursor, merged.
    Changes(Delta),
    /// Everything: its cursor is unknown or too old.
    Everything,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        Self::new()
    }
}

impl ChangeFeed {
    pub fn new() -> Self {
        ChangeFeed {
            // A new process starts a new epoch: cursors of its predecessor are unknown here.
            epoch: crate::auth::secret::random_hex(8),
            log: Mutex::new(Log { last: 0, oldest_known: 0, batches: VecDeque::new(), held: 0 }),
        }
    }

    /// Records what one stream answer changed (nothing for an empty delta).
    pub fn record(&self, delta: Delta) {
        if delta.is_empty() {
            return;
        }
        let mut log = self.log.lock().expect("feed lock");
        log.last += 1;
        let seq = log.last;
        log.held += delta.len();
        log.batches.push_back(Batch { seq, delta });
        while log.held > MAX_HELD {
            let Some(old) = log.batches.pop_front() else { break };
            log.held -= old.delta.len();
            log.oldest_known = old.seq;
        }
    }

    /// The cursor of everything recorded so far.
    pub fn cursor(&self) -> String {
        format!("{}-{}", self.epoch, self.log.lock().expect("feed lock").last)
    }

    /// What a consumer at `since` is owed, and the cursor to come back with. Call it **before**
    /// reading the cache for an `Everything` answer: a change recorded in between is then sent
    /// twice (harmless: changes are idempotent), never lost.
    pub fn since(&self, since: Option<&str>) -> (String, Owed) {
        let log = self.log.lock().expect("feed lock");
        let cursor = format!("{}-{}", self.epoch, log.last);
        let seq = since
            .and_then(|c| c.rsplit_once('-'))
            .filter(|(epoch, _)| *epoch == self.epoch)
            .and_then(|(_, seq)| seq.parse::<u64>().ok())
            .filter(|seq| *seq >= log.oldest_known && *seq <= log.last);
        let Some(seq) = seq else {
            return (cursor, Owed::Everything);
        };
        // The last word per (scope, value, type) wins; within a batch removals come first, as
        // the consumer applies them.
        let mut merged: HashMap<(Arc<str>, Arc<str>, Arc<str>), (bool, &Change)> = HashMap::new();
        for batch in log.batches.iter().filter(|b| b.seq > seq) {
            for c in &batch.delta.deleted {
                merged.insert((c.scope.clone(), c.value.clone(), c.kind.clone()), (false, c));
            }
            for c in &batch.delta.new {
                merged.insert((c.scope.clone(), c.value.clone(), c.kind.clone()), (true, c));
            }
        }
        let mut delta = Delta::default();
        for (added, c) in merged.into_values() {
            if added {
                delta.new.push(c.clone());
            } else {
                delta.deleted.push(c.clone());
            }
        }
        (cursor, Owed::Changes(delta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(value: &str, until: i64) -> Change {
        Change {
            id: 1,
            scope: "Ip".into(),
            value: value.into(),
            kind: "ban".into(),
            origin: "cscli".into(),
            scenario: "manual".into(),
            until,
        }
    }

    fn delta(new: &[Change], deleted: &[Change]) -> Delta {
        Delta { new: new.to_vec(), deleted: deleted.to_vec() }
    }

    fn values(v: &[Change]) -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|c| c.value.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_consumer_gets_what_came_after_its_cursor_merged_last_word_wins() {
        let feed = ChangeFeed::new();
        let (start, owed) = feed.since(None);
        assert_eq!(owed, Owed::Everything, "no cursor: everything");
        feed.record(delta(&[c("1.1.1.1", 10), c("2.2.2.2", 10)], &[]));
        feed.record(Delta::default());
        feed.record(delta(&[c("3.3.3.3", 10)], &[c("1.1.1.1", 0)]));
        feed.record(delta(&[c("1.1.1.1", 20)], &[c("2.2.2.2", 0)]));
        let (now, owed) = feed.since(Some(&start));
        let Owed::Changes(d) = owed else { panic!("the log holds everything after the cursor") };
        assert_eq!(values(&d.new), ["1.1.1.1", "3.3.3.3"], "re-added after its removal: new, with the last expiry");
        assert_eq!(d.new.iter().find(|c| &*c.value == "1.1.1.1").unwrap().until, 20);
        assert_eq!(values(&d.deleted), ["2.2.2.2"]);
        assert_eq!(now, feed.cursor());
        let (_, owed) = feed.since(Some(&now));
        assert_eq!(owed, Owed::Changes(Delta::default()), "up to date: nothing");
    }

    #[test]
    fn unknown_future_or_foreign_cursors_and_cursors_the_bounded_log_dropped_get_everything() {
        let feed = ChangeFeed::new();
        let other = ChangeFeed::new();
        let (cursor, _) = feed.since(None);
        for since in ["", "garbage", "x-1", &other.cursor(), &format!("{}-99", feed.epoch)] {
            assert_eq!(feed.since(Some(since)).1, Owed::Everything, "{since:?}");
        }
        let many: Vec<Change> = (0..MAX_HELD / 2 + 1).map(|i| c(&i.to_string(), 10)).collect();
        feed.record(delta(&many, &[]));
        let (middle, _) = feed.since(None);
        feed.record(delta(&many, &[]));
        assert_eq!(feed.since(Some(&cursor)).1, Owed::Everything, "its changes were dropped");
        let Owed::Changes(d) = feed.since(Some(&middle)).1 else { panic!("the newest batch is held") };
        assert_eq!(d.new.len(), many.len());
        assert!(feed.log.lock().unwrap().held <= MAX_HELD);
    }
}
