//! The in-memory decision set: what is blocked right now, and the one query enforcement uses,
//! `lookup(ip)`. Keyed by (scope, value, type) because the LAPI stream de-duplicates per value;
//! exact addresses live in hash maps, ranges in longest-prefix tries (`prefix-trie`), IPv4-mapped
//! IPv6 is folded into IPv4, and origin/scenario/type strings are interned so a decision costs a
//! few dozen bytes. Decisions of scopes the lookup cannot enforce (Country, AS) are kept apart
//! (`unenforced`) so they can be listed as such. Every change bumps a version published on a
//! broadcast channel; changes this process made itself (a manual ban, an import, an unban) also
//! wake `local_change`, which is what the console pokes the bouncer process for. A complete stream
//! answer is compared with what is held, so only real changes count, and `apply` can report them
//! (the bouncer relays them to the console: `feed`).

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use hashbrown::HashMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use tokio::sync::broadcast;

use app::decisions::model::{Decision, IpOrRange};

use super::go_duration;
use super::tables::{AllowSet, Tables};
use super::unenforced::{self, Unenforced};
use crate::crowdsec::lapi::StreamDecision;

/// What `lookup` found. Building it allocates nothing (strings are shared, the target is a
/// plain value), which keeps the enforcement path cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: i64,
    pub target: IpOrRange,
    pub kind: Arc<str>,
    pub origin: Arc<str>,
    pub scenario: Arc<str>,
    pub until: i64,
}

/// One decision as a change reports it: owned, with an absolute expiry (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    pub scope: Arc<str>,
    pub value: Arc<str>,
    pub kind: Arc<str>,
    pub origin: Arc<str>,
    pub scenario: Arc<str>,
    pub until: i64,
}

/// What one stream answer changed: decisions added or replaced, and decisions removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delta {
    pub new: Vec<Change>,
    pub deleted: Vec<Change>,
}

impl Delta {
    pub fn len(&self) -> usize {
        self.new.len() + self.deleted.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A complete answer holds the same decision as before when its expiry moved by at most this
/// (remaining durations are rounded up to whole seconds at each read).
const SAME_UNTIL_SLACK: i64 = 2;

pub struct DecisionCache {
    allow: RwLock<AllowSet>,
    /// Addresses administrators use: only decisions made in Charon (confirmed) block them.
    protected: RwLock<AllowSet>,
    /// Site-scoped bans and exceptions (`scoped`).
    scoped: RwLock<super::scoped::ScopedSet>,
    tables: RwLock<Tables>,
    unenforced: RwLock<Unenforced>,
    version: broadcast::Sender<u64>,
    counter: std::sync::atomic::AtomicU64,
    local: tokio::sync::Notify,
}

fn change_of(t: &Tables, target: IpOrRange, k: u32, s: &super::tables::Slot) -> Change {
    Change {
        id: s.id(),
        scope: Arc::from(target.scope()),
        value: Arc::from(target.value()),
        kind: t.syms.name(k).clone(),
        origin: t.origins.name(s.origin()).clone(),
        scenario: t.syms.name(s.scenario).clone(),
        until: s.until(),
    }
}

fn change_of_row(r: &unenforced::Row<'_>) -> Change {
    Change {
        id: r.entry.id,
        scope: Arc::from(r.scope),
        value: Arc::from(r.value),
        kind: Arc::from(r.kind),
        origin: r.entry.origin.clone(),
        scenario: r.entry.scenario.clone(),
        until: r.entry.until,
    }
}

impl Default for DecisionCache {
    fn default() -> Self {
        Self::new()
    }
}

/// A stream decision's target: an address or range this bouncer enforces, a decision of another
/// scope (Country, AS, …: listed, not enforced), or a bad value (skipped).
/// A CIDR under scope `Ip` is a range: `cscli decisions import` on 1.4.6 stores every row as `Ip`
/// whatever its scope column says, and the engine itself matches it as a range.
enum Target {
    Enforced(IpOrRange),
    Unenforced,
    Invalid,
}

fn stream_change(d: &StreamDecision<'_>, until: i64) -> Change {
    Change {
        id: d.id,
        scope: Arc::from(&*d.scope),
        value: Arc::from(&*d.value),
        kind: Arc::from(&*d.kind),
        origin: Arc::from(&*d.origin),
        scenario: Arc::from(&*d.scenario),
        until,
    }
}

fn target_of(scope: &str, value: &str) -> Target {
    match scope.to_ascii_lowercase().as_str() {
        "ip" | "range" => IpOrRange::parse(value).map_or(Target::Invalid, Target::Enforced),
        _ if value.trim().is_empty() || scope.trim().is_empty() => Target::Invalid,
        _ => Target::Unenforced,
    }
}

/// What `select` hands its filter: the row's target as the lookup knows it, or the raw value of a
/// decision this bouncer does not enforce.
pub enum Subject<'a> {
    Address(&'a IpOrRange),
    Other(&'a str),
}

/// A complete answer being read, possibly batch by batch as it is parsed
/// (`StreamAnswer::for_each_new`): built apart from the cache, which changes only when
/// `DecisionCache::replace_with` swaps it in (a parse failure half-way changes nothing).
#[derive(Default)]
pub struct Fresh {
    tables: Tables,
    unenforced: Unenforced,
}

impl Fresh {
    pub fn add(&mut self, decisions: &[StreamDecision<'_>], now: i64) {
        insert_decisions(&mut self.tables, &mut self.unenforced, decisions, now, None);
    }
}

/// Inserts the decisions still live at `now` (bad values are skipped); returns how many, and
/// reports them in `out`.
fn insert_decisions(t: &mut Tables, u: &mut Unenforced, decisions: &[StreamDecision<'_>], now: i64, mut out: Option<&mut Delta>) -> usize {
    let mut n = 0;
    for d in decisions {
        let Some(secs) = go_duration::parse_seconds(&d.duration) else { continue };
        let until = now + secs.ceil() as i64;
        if until <= now {
            continue;
        }
        match target_of(&d.scope, &d.value) {
            Target::Enforced(target) => t.insert(target, &d.kind, &d.origin, &d.scenario, d.id, until),
            Target::Unenforced => {
                let e = unenforced::Entry { id: d.id, origin: Arc::from(&*d.origin), scenario: Arc::from(&*d.scenario), until };
                if !u.insert(&d.scope, &d.value, &d.kind, e) {
                    continue;
                }
            }
            Target::Invalid => continue,
        }
        if let Some(out) = out.as_deref_mut() {
            out.new.push(stream_change(d, until));
        }
        n += 1;
    }
    n
}

impl DecisionCache {
    pub fn new() -> Self {
        DecisionCache {
            allow: RwLock::new(AllowSet::default()),
            protected: RwLock::new(AllowSet::default()),
            scoped: RwLock::new(super::scoped::ScopedSet::default()),
            tables: RwLock::new(Tables::default()),
            unenforced: RwLock::new(Unenforced::default()),
            version: broadcast::channel(64).0,
            counter: std::sync::atomic::AtomicU64::new(0),
            local: tokio::sync::Notify::new(),
        }
    }

    fn changed(&self) {
        let v = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let _ = self.version.send(v);
    }

    /// A change made here (not read from a stream): also wakes `local_change`.
    fn changed_locally(&self) {
        self.changed();
        self.local.notify_one();
    }

    /// Resolves after the next change made here rather than read from a stream (several changes
    /// in between resolve it once).
    pub async fn local_change(&self) {
        self.local.notified().await
    }

    /// A change counter, for Server-Sent Events and for pages that refetch.
    pub fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.version.subscribe()
    }

    pub fn version(&self) -> u64 {
        self.counter.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Decisions the lookup enforces.
    pub fn len(&self) -> usize {
        self.tables.read().expect("cache lock").len()
    }

    /// Decisions of scopes the lookup cannot enforce (Country, AS, …).
    pub fn not_enforced_len(&self) -> usize {
        self.unenforced.read().expect("unenforced lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies a stream answer. `startup` replaces the whole set (the answer is complete): the new
    /// tables are built without the lock and swapped in, so lookups never wait for a full rebuild
    /// (100 000 decisions take tens of milliseconds). Returns how many entries were added or removed.
    pub fn apply_stream(&self, new: &[StreamDecision<'_>], deleted: &[StreamDecision<'_>], startup: bool, now: i64) -> usize {
        self.apply(new, deleted, startup, now, None)
    }

    /// `apply_stream` that also reports what changed in `out`. For a complete answer that is the
    /// difference from what was held before (a decision missing from it is reported deleted), so a
    /// complete answer that repeats what is known changes nothing and wakes nobody.
    pub fn apply(&self, new: &[StreamDecision<'_>], deleted: &[StreamDecision<'_>], startup: bool, now: i64, mut out: Option<&mut Delta>) -> usize {
        if startup {
            let mut fresh = Fresh::default();
            fresh.add(new, now);
            return self.replace_with(fresh, out);
        }
        let changes = {
            let mut t = self.tables.write().expect("cache lock");
            let mut u = self.unenforced.write().expect("unenforced lock");
            let mut changes = 0;
            for d in deleted {
                let gone = match target_of(&d.scope, &d.value) {
                    Target::Enforced(target) => t.remove(target, &d.kind),
                    Target::Unenforced => u.remove(&d.scope, &d.value, &d.kind),
                    Target::Invalid => continue,
                };
                changes += usize::from(gone);
                // Relayed even when this cache did not hold it: a consumer may have been told of
                // the decision another way (the console inserts what it writes itself).
                if let Some(out) = out.as_deref_mut() {
                    out.deleted.push(stream_change(d, now));
                }
            }
            changes + insert_decisions(&mut t, &mut u, new, now, out)
        };
        if changes > 0 {
            self.changed();
        }
        changes
    }

    /// Replaces the whole set with a complete answer built apart (`Fresh`), reporting in `out` how
    /// it differs from what was held. Lookups wait only for the swap, never for the build.
    pub fn replace_with(&self, fresh: Fresh, mut out: Option<&mut Delta>) -> usize {
        let Fresh { tables: fresh, unenforced: fresh_u } = fresh;
        let mut changes = 0;
        {
            let old = self.tables.read().expect("cache lock");
            let old_u = self.unenforced.read().expect("unenforced lock");
            let mut report = |c: &mut dyn FnMut() -> Change, added: bool| {
                changes += 1;
                if let Some(out) = out.as_deref_mut() {
                    if added { out.new.push(c()) } else { out.deleted.push(c()) }
                }
            };
            old.each_not_in(&fresh, SAME_UNTIL_SLACK, |target, k, s| {
                // Only a decision that is gone is deleted; one held differently is reported new below.
                let kept = fresh.syms.find(old.syms.name(k)).and_then(|fk| fresh.get(target, fk)).is_some();
                if !kept {
                    report(&mut || change_of(&old, target, k, s), false);
                }
            });
            fresh.each_not_in(&old, SAME_UNTIL_SLACK, |target, k, s| report(&mut || change_of(&fresh, target, k, s), true));
            old_u.each_not_in(&fresh_u, SAME_UNTIL_SLACK, |r| {
                if !fresh_u.contains(r.scope, r.value, r.kind) {
                    report(&mut || change_of_row(&r), false);
                }
            });
            fresh_u.each_not_in(&old_u, SAME_UNTIL_SLACK, |r| report(&mut || change_of_row(&r), true));
        }
        let old = std::mem::replace(&mut *self.tables.write().expect("cache lock"), fresh);
        let old_u = std::mem::replace(&mut *self.unenforced.write().expect("unenforced lock"), fresh_u);
        drop((old, old_u)); // freed outside the lock too
        if changes > 0 {
            self.changed();
        }
        changes
    }

    /// How many decisions are live at `now` (what `export` would return), for a cheap check that
    /// two caches following the same engine agree.
    pub fn live_len(&self, now: i64) -> usize {
        let mut n = 0;
        self.tables.read().expect("cache lock").for_each(|_, _, s| n += usize::from(s.until() > now));
        self.unenforced.read().expect("unenforced lock").for_each(|r| n += usize::from(r.entry.until > now));
        n
    }

    /// Every live decision as a change (what a consumer that knows nothing yet needs).
    pub fn export(&self, now: i64) -> Vec<Change> {
        let mut out = Vec::new();
        let t = self.tables.read().expect("cache lock");
        t.for_each(|target, k, s| {
            if s.until() > now {
                out.push(change_of(&t, target, k, s));
            }
        });
        drop(t);
        self.unenforced.read().expect("unenforced lock").for_each(|r| {
            if r.entry.until > now {
                out.push(change_of_row(&r));
            }
        });
        out
    }

    /// A decision this server just made: enforced at once, before the next poll.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(&self, target: IpOrRange, kind: &str, origin: &str, scenario: &str, id: i64, until: i64) {
        self.tables.write().expect("cache lock").insert(target, kind, origin, scenario, id, until);
        self.changed_locally();
    }

    /// Whether exactly `target` (not a range around it) has a live decision of type `kind`.
    pub fn has_active(&self, target: IpOrRange, kind: &str, now: i64) -> bool {
        self.tables.read().expect("cache lock").active(target, kind, now)
    }

    /// Many decisions of one kind at once (an import's batch): one lock, one change event.
    pub fn insert_many(&self, targets: &[IpOrRange], kind: &str, origin: &str, scenario: &str, until: i64) {
        let mut t = self.tables.write().expect("cache lock");
        for target in targets {
            t.insert(*target, kind, origin, scenario, 0, until);
        }
        drop(t);
        self.changed_locally();
    }

    /// Removes every type of decision on `target`; returns how many.
    pub fn remove_all(&self, target: IpOrRange) -> usize {
        let mut t = self.tables.write().expect("cache lock");
        let kinds: Vec<Arc<str>> = t.kinds.iter().map(|k| t.syms.name(*k).clone()).collect();
        let n = kinds.iter().filter(|k| t.remove(target, k)).count();
        drop(t);
        if n > 0 {
            self.changed_locally();
        }
        n
    }

    /// Removes the decision with this id; returns its target (`None` for an unenforced scope,
    /// which is removed all the same).
    pub fn remove_id(&self, id: i64) -> Option<IpOrRange> {
        let mut found = None;
        {
            let t = self.tables.read().expect("cache lock");
            t.for_each(|target, k, s| {
                if s.id() == id && found.is_none() {
                    found = Some((target, t.syms.name(k).clone()));
                }
            });
        }
        let Some((target, kind)) = found else {
            if self.unenforced.write().expect("unenforced lock").remove_id(id) {
                self.changed_locally();
            }
            return None;
        };
        self.tables.write().expect("cache lock").remove(target, &kind);
        self.changed_locally();
        Some(target)
    }

    /// Drops expired decisions (the stream reports them too, but not always promptly).
    pub fn sweep(&self, now: i64) -> usize {
        let gone = self.unenforced.write().expect("unenforced lock").sweep(now);
        if gone > 0 {
            self.changed();
        }
        gone + self.sweep_tables(now)
    }

    fn sweep_tables(&self, now: i64) -> usize {
        let mut expired = Vec::new();
        {
            let t = self.tables.read().expect("cache lock");
            t.for_each(|target, k, s| {
                if s.until() <= now {
                    expired.push((target, t.syms.name(k).clone()));
                }
            });
        }
        if expired.is_empty() {
            return 0;
        }
        let mut t = self.tables.write().expect("cache lock");
        for (target, kind) in &expired {
            t.remove(*target, kind);
        }
        drop(t);
        self.changed();
        expired.len()
    }

    /// The decision that applies to `ip` now, if any; `None` for allowlisted addresses whatever
    /// decisions exist. Never touches the network.
    pub fn lookup(&self, ip: IpAddr, now: i64) -> Option<Hit> {
        if self.allow.read().expect("allow lock").covers(ip) {
            return None;
        }
        self.lookup_unlisted(ip, now)
    }

    /// `lookup` for an address the allowlist does not cover.
    fn lookup_unlisted(&self, ip: IpAddr, now: i64) -> Option<Hit> {
        let hit = self.tables.read().expect("cache lock").lookup(ip, now)?;
        // An administrator's address: the engine's and the lists' decisions do not block it.
        if &*hit.origin != app::decisions::model::MANUAL_ORIGIN && self.protected.read().expect("protected lock").covers(ip) {
            return None;
        }
        Some(hit)
    }

    /// What applies to a request: the address's decision (`lookup`), then the site-scoped bans and
    /// exceptions for its site (`Host` as Caddy forwards it) and path (the request URI).
    pub fn lookup_request(&self, ip: IpAddr, host: Option<&str>, uri: Option<&str>, now: i64) -> Option<Hit> {
        if self.allow.read().expect("allow lock").covers(ip) {
            return None;
        }
        let hit = self.lookup_unlisted(ip, now);
        let scoped = self.scoped.read().expect("scoped lock");
        if scoped.is_empty() {
            return hit;
        }
        scoped.judge(ip, host, uri, hit, now)
    }

    /// Replaces the site-scoped rules.
    pub fn set_scoped(&self, rules: &[super::scoped::ScopedRule]) {
        *self.scoped.write().expect("scoped lock") = super::scoped::ScopedSet::build(rules);
        self.changed();
    }

    /// Replaces the allowlist the lookup honours.
    pub fn set_allowlist(&self, entries: &[IpOrRange]) {
        *self.allow.write().expect("allow lock") = allow_set(entries);
        self.changed();
    }

    /// Replaces the addresses administrators use (see `lookup`).
    pub fn set_protected(&self, entries: &[IpOrRange]) {
        *self.protected.write().expect("protected lock") = allow_set(entries);
        self.changed();
    }

    /// Whether `ip` is an address administrators use.
    pub fn is_protected(&self, ip: IpAddr) -> bool {
        self.protected.read().expect("protected lock").covers(ip)
    }
}

fn allow_set(entries: &[IpOrRange]) -> AllowSet {
    let mut set = AllowSet::default();
    for e in entries {
        match e {
            IpOrRange::Ip(IpAddr::V4(a)) => { set.v4.insert(Ipv4Net::new(*a, 32).expect("valid /32"), ()); }
            IpOrRange::Ip(IpAddr::V6(a)) => { set.v6.insert(Ipv6Net::new(*a, 128).expect("valid /128"), ()); }
            IpOrRange::Range(IpNet::V4(n)) => { set.v4.insert(*n, ()); }
            IpOrRange::Range(IpNet::V6(n)) => { set.v6.insert(*n, ()); }
        }
    }
    set
}

impl DecisionCache {
    /// Whether an allowlist entry covers this decision's target (such rows are marked).
    pub fn is_allowlisted(&self, target: &IpOrRange) -> bool {
        self.allow.read().expect("allow lock").covers_target(target)
    }

    /// All live decisions as DTOs, for listing (filtering and paging happen on top), those of
    /// unenforced scopes included and marked.
    pub fn select(&self, now: i64, mut keep: impl FnMut(Subject<'_>, &str, &str, &str) -> bool) -> Vec<Decision> {
        let t = self.tables.read().expect("cache lock");
        let allow = self.allow.read().expect("allow lock");
        let mut out = Vec::new();
        t.for_each(|target, k, s| {
            if s.until() <= now {
                return;
            }
            let allowlisted = allow.covers_target(&target);
            let (kind, origin, scenario) = (t.syms.name(k), t.origins.name(s.origin()), t.syms.name(s.scenario));
            if keep(Subject::Address(&target), kind, origin, scenario) {
                out.push(Decision {
                    id: s.id(),
                    value: target.value(),
                    scope: target.scope().to_owned(),
                    kind: kind.to_string(),
                    origin: origin.to_string(),
                    scenario: scenario.to_string(),
                    country: None,
                    until: crate::support::time::rfc3339(s.until()),
                    allowlisted,
                    not_enforced: false,
                    made_by: None,
                    sites: Vec::new(),
                });
            }
        });
        drop((t, allow));
        self.unenforced.read().expect("unenforced lock").for_each(|r| {
            if r.entry.until > now && keep(Subject::Other(r.value), r.kind, &r.entry.origin, &r.entry.scenario) {
                out.push(Decision {
                    id: r.entry.id,
                    value: r.value.to_owned(),
                    scope: r.scope.to_owned(),
                    kind: r.kind.to_owned(),
                    origin: r.entry.origin.to_string(),
                    scenario: r.entry.scenario.to_string(),
                    country: None,
                    until: crate::support::time::rfc3339(r.entry.until),
                    allowlisted: false,
                    not_enforced: true,
                    made_by: None,
                    sites: Vec::new(),
                });
            }
        });
        out
    }

    /// Live decisions per origin and type (`ban`, `captcha`, …), enforced ones only.
    pub fn origin_kind_counts(&self, now: i64) -> Vec<(Arc<str>, Arc<str>, usize)> {
        let t = self.tables.read().expect("cache lock");
        let mut counts: HashMap<(u32, u32), usize> = HashMap::new();
        t.for_each(|_, kind, s| {
            if s.until() > now {
                *counts.entry((s.origin(), kind)).or_default() += 1;
            }
        });
        counts.into_iter().map(|((o, k), n)| (t.origins.name(o).clone(), t.syms.name(k).clone(), n)).collect()
    }

    /// Live decisions per origin.
    pub fn origin_counts(&self, now: i64) -> Vec<(Arc<str>, usize)> {
        let t = self.tables.read().expect("cache lock");
        let mut counts: HashMap<u32, usize> = HashMap::new();
        t.for_each(|_, _, s| {
            if s.until() > now {
                *counts.entry(s.origin()).or_default() += 1;
            }
        });
        let mut v: Vec<_> = counts.into_iter().map(|(o, n)| (t.origins.name(o).clone(), n)).collect();
        self.unenforced.read().expect("unenforced lock").for_each(|r| {
            if r.entry.until > now {
                match v.iter_mut().find(|(o, _)| *o == r.entry.origin) {
                    Some((_, n)) => *n += 1,
                    None => v.push((r.entry.origin.clone(), 1)),
                }
            }
        });
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(value: &str, scope: &str, kind: &str, duration: &str) -> StreamDecision<'static> {
        StreamDecision {
            id: 1,
            value: value.to_owned().into(),
            scope: scope.to_owned().into(),
            kind: kind.to_owned().into(),
            origin: "crowdsec".into(),
            scenario: "crowdsecurity/http-probing".into(),
            duration: duration.to_owned().into(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn exact_and_range_lookups_with_mapped_ipv6() {
        let c = DecisionCache::new();
        c.apply_stream(
            &[d("203.0.113.9", "Ip", "ban", "1h"), d("198.51.100.0/24", "Range", "ban", "1h"), d("2001:db8::/48", "Range", "captcha", "1h")],
            &[],
            true,
            1000,
        );
        assert_eq!(c.len(), 3);
        assert_eq!(c.lookup(ip("203.0.113.9"), 1000).unwrap().target.value(), "203.0.113.9");
        assert_eq!(c.lookup(ip("::ffff:203.0.113.9"), 1000).unwrap().target.value(), "203.0.113.9");
        assert_eq!(c.lookup(ip("198.51.100.77"), 1000).unwrap().target.value(), "198.51.100.0/24");
        assert_eq!(&*c.lookup(ip("2001:db8:0:1::5"), 1000).unwrap().kind, "captcha");
        assert!(c.lookup(ip("203.0.113.10"), 1000).is_none());
        assert!(c.lookup(ip("2001:db9::1"), 1000).is_none());
    }

    #[test]
    fn expiry_deletion_and_unknown_scopes() {
        let c = DecisionCache::new();
        c.apply_stream(&[d("203.0.113.9", "Ip", "ban", "10s"), d("FR", "Country", "ban", "1h"), d("bogus", "Ip", "ban", "1h")], &[], true, 0);
        assert_eq!(c.len(), 1, "bad values are ignored, other scopes are not enforced");
        assert_eq!(c.not_enforced_len(), 1);
        let listed = c.select(0, |_, _, _, _| true);
        let fr = listed.iter().find(|d| d.value == "FR").expect("the Country decision is listed");
        assert!(fr.not_enforced && fr.scope == "Country");
        assert!(listed.iter().any(|d| d.value == "203.0.113.9" && !d.not_enforced));
        c.apply_stream(&[], &[d("FR", "country", "ban", "-1s")], false, 0);
        assert_eq!(c.not_enforced_len(), 0, "deleted through the stream");
        assert!(c.lookup(ip("203.0.113.9"), 9).is_some());
        assert!(c.lookup(ip("203.0.113.9"), 10).is_none(), "expired decisions never match");
        assert_eq!(c.sweep(10), 1);
        c.apply_stream(&[d("203.0.113.9", "Ip", "ban", "1h")], &[], false, 20);
        c.apply_stream(&[], &[d("203.0.113.9", "Ip", "ban", "-1s")], false, 21);
        assert!(c.lookup(ip("203.0.113.9"), 21).is_none());
        // Lowercase scopes are accepted too, and a CIDR under `Ip` (cscli import) is a range.
        c.apply_stream(&[d("11.0.1.0/24", "Ip", "ban", "1h")], &[], false, 21);
        assert_eq!(c.lookup(ip("11.0.1.9"), 21).unwrap().target.value(), "11.0.1.0/24");
        c.apply_stream(&[d("203.0.113.1", "ip", "ban", "1h")], &[], false, 21);
        assert!(c.lookup(ip("203.0.113.1"), 21).is_some());
    }

    #[test]
    fn a_complete_answer_read_in_batches_is_the_same_as_one_read_at_once() {
        let all = [d("203.0.113.9", "Ip", "ban", "1h"), d("198.51.100.0/24", "Range", "ban", "1h"), d("FR", "Country", "ban", "1h"), d("203.0.113.7", "Ip", "ban", "1h")];
        let (once, batched) = (DecisionCache::new(), DecisionCache::new());
        once.apply_stream(&all, &[], true, 0);
        batched.apply_stream(&[d("192.0.2.1", "Ip", "ban", "1h")], &[], true, 0);
        let mut fresh = Fresh::default();
        for batch in all.chunks(3) {
            fresh.add(batch, 0);
        }
        assert_eq!(batched.len(), 1, "nothing changes before the swap");
        let mut out = Delta::default();
        assert_eq!(batched.replace_with(fresh, Some(&mut out)), 5, "four new, one gone");
        assert_eq!(values(&out.deleted), ["192.0.2.1 ban"]);
        assert_eq!((batched.len(), batched.not_enforced_len()), (once.len(), once.not_enforced_len()));
        assert_eq!(batched.export(0).len(), once.export(0).len());
        assert!(batched.lookup(ip("198.51.100.3"), 0).is_some() && batched.lookup(ip("192.0.2.1"), 0).is_none());
    }

    fn values(v: &[Change]) -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|c| format!("{} {}", c.value, c.kind)).collect();
        v.sort();
        v
    }

    #[test]
    fn a_complete_answer_reports_only_what_differs_from_what_is_held() {
        let c = DecisionCache::new();
        let mut first = Delta::default();
        let held = [d("203.0.113.9", "Ip", "ban", "1h"), d("198.51.100.0/24", "Range", "ban", "1h"), d("FR", "Country", "ban", "1h"), d("203.0.113.7", "Ip", "ban", "1h")];
        assert_eq!(c.apply(&held, &[], true, 1000, Some(&mut first)), 4);
        assert_eq!(values(&first.new).len(), 4);
        let version = c.version();
        // The same decisions a second later (remaining time one second less): nothing changed.
        let later = [d("203.0.113.9", "Ip", "ban", "3599s"), d("198.51.100.0/24", "Range", "ban", "3599s"), d("FR", "Country", "ban", "3599s"), d("203.0.113.7", "Ip", "ban", "3599s")];
        let mut same = Delta::default();
        assert_eq!(c.apply(&later, &[], true, 1001, Some(&mut same)), 0);
        assert!(same.is_empty(), "{same:?}");
        assert_eq!(c.version(), version, "nobody is woken");
        // One gone, one with a longer expiry, one new type, the country gone.
        let next = [d("203.0.113.9", "Ip", "ban", "4h"), d("198.51.100.0/24", "Range", "ban", "3599s"), d("203.0.113.9", "Ip", "captcha", "1h")];
        let mut delta = Delta::default();
        assert_eq!(c.apply(&next, &[], true, 1001, Some(&mut delta)), 4);
        assert_eq!(values(&delta.new), ["203.0.113.9 ban", "203.0.113.9 captcha"]);
        assert_eq!(values(&delta.deleted), ["203.0.113.7 ban", "FR ban"]);
        // A delta reports what it applied.
        let mut delta = Delta::default();
        let applied = c.apply(&[d("192.0.2.1", "Ip", "ban", "1h")], &[d("203.0.113.9", "Ip", "captcha", "-1s"), d("192.0.2.99", "Ip", "ban", "-1s"), d("", "Ip", "ban", "-1s")], false, 1002, Some(&mut delta));
        assert_eq!(applied, 2, "one added, one removed: the deletion of what was not held changes nothing here");
        assert_eq!(values(&delta.new), ["192.0.2.1 ban"]);
        assert_eq!(
            values(&delta.deleted),
            ["192.0.2.99 ban", "203.0.113.9 captcha"],
            "the engine's deletions are relayed even when not held (a follower may hold them), invalid rows are not"
        );
        assert_eq!(delta.new[0].until, 1002 + 3600);
        let exported = c.export(1002);
        assert_eq!(values(&exported), ["192.0.2.1 ban", "198.51.100.0/24 ban", "203.0.113.9 ban"]);
        assert_eq!(c.live_len(1002), 3);
        assert_eq!(c.live_len(1002 + 3600), 1, "only the 4 h ban outlives the hour");
    }

    #[tokio::test]
    async fn only_changes_made_here_wake_local_change() {
        let c = std::sync::Arc::new(DecisionCache::new());
        c.apply_stream(&[d("203.0.113.9", "Ip", "ban", "1h")], &[], true, 0);
        let woke = tokio::time::timeout(std::time::Duration::from_millis(50), c.local_change()).await;
        assert!(woke.is_err(), "a stream answer is not a local change");
        c.insert(IpOrRange::parse("192.0.2.1").unwrap(), "ban", "cscli", "manual", 0, 100);
        tokio::time::timeout(std::time::Duration::from_secs(1), c.local_change()).await.expect("a manual ban is");
    }

    #[test]
    fn keyed_by_scope_value_and_type_like_the_stream() {
        let c = DecisionCache::new();
        c.apply_stream(&[d("203.0.113.9", "Ip", "ban", "4h")], &[], true, 0);
        // The stream sends the longest decision per value; a longer one replaces the entry.
        c.apply_stream(&[d("203.0.113.9", "Ip", "ban", "8h")], &[], false, 0);
        assert_eq!(c.len(), 1);
        assert_eq!(c.lookup(ip("203.0.113.9"), 0).unwrap().until, 8 * 3600);
        // Another type on the same value is a separate entry; ban is preferred.
        c.apply_stream(&[d("203.0.113.9", "Ip", "captcha", "1h")], &[], false, 0);
        assert_eq!(c.len(), 2);
        assert_eq!(&*c.lookup(ip("203.0.113.9"), 0).unwrap().kind, "ban");
        assert_eq!(c.remove_all(IpOrRange::parse("203.0.113.9").unwrap()), 2);
        assert!(c.is_empty());
    }

    #[test]
    fn active_means_exactly_this_target_and_type() {
        let c = DecisionCache::new();
        c.apply_stream(&[d("203.0.113.9", "Ip", "ban", "1h"), d("198.51.100.0/24", "Range", "ban", "10s")], &[], true, 0);
        let t = |s: &str| IpOrRange::parse(s).unwrap();
        assert!(c.has_active(t("203.0.113.9"), "ban", 0));
        assert!(!c.has_active(t("203.0.113.9"), "captcha", 0));
        assert!(!c.has_active(t("198.51.100.7"), "ban", 0), "covered by a range is not the same target");
        assert!(c.has_active(t("198.51.100.0/24"), "ban", 9));
        assert!(!c.has_active(t("198.51.100.0/24"), "ban", 10), "expired");
    }

    #[test]
    fn administrators_addresses_are_blocked_only_by_decisions_made_in_charon() {
        let c = DecisionCache::new();
        let t = |s: &str| IpOrRange::parse(s).unwrap();
        c.insert(t("192.0.2.0/24"), "ban", "CAPI", "community", 1, i64::MAX);
        c.insert(t("198.51.100.9"), "ban", app::decisions::model::MANUAL_ORIGIN, "confirmed by hand", 2, i64::MAX);
        c.set_protected(&[t("192.0.2.10"), t("198.51.100.9")]);
        assert!(c.lookup("192.0.2.10".parse().unwrap(), 0).is_none(), "a community range does not block an admin");
        assert!(c.lookup("192.0.2.11".parse().unwrap(), 0).is_some(), "the rest of the range is still blocked");
        assert!(c.lookup("198.51.100.9".parse().unwrap(), 0).is_some(), "a confirmed manual ban does");
        assert!(c.is_protected("192.0.2.10".parse().unwrap()));
        c.set_protected(&[]);
        assert!(c.lookup("192.0.2.10".parse().unwrap(), 0).is_some());
    }

    #[test]
    fn allowlisted_addresses_are_never_blocked() {
        let c = DecisionCache::new();
        c.apply_stream(&[d("203.0.113.9", "Ip", "ban", "1h"), d("198.51.100.0/24", "Range", "ban", "1h")], &[], true, 0);
        c.set_allowlist(&[IpOrRange::parse("203.0.113.0/24").unwrap(), IpOrRange::parse("198.51.100.7").unwrap()]);
        assert!(c.lookup(ip("203.0.113.9"), 0).is_none());
        assert!(c.lookup(ip("::ffff:203.0.113.9"), 0).is_none());
        assert!(c.lookup(ip("198.51.100.7"), 0).is_none());
        assert!(c.lookup(ip("198.51.100.8"), 0).is_some(), "the rest of the range stays banned");
        assert!(c.is_allowlisted(&IpOrRange::parse("203.0.113.9").unwrap()));
        assert!(!c.is_allowlisted(&IpOrRange::parse("198.51.100.0/24").unwrap()));
        c.set_allowlist(&[]);
        assert!(c.lookup(ip("203.0.113.9"), 0).is_some(), "removing the entry restores the block");
    }

    #[test]
    fn a_startup_answer_replaces_the_whole_set_and_changes_are_published() {
        let c = DecisionCache::new();
        let mut rx = c.subscribe();
        c.apply_stream(&[d("203.0.113.9", "Ip", "ban", "1h")], &[], true, 0);
        assert!(rx.try_recv().is_ok());
        c.apply_stream(&[d("203.0.113.10", "Ip", "ban", "1h")], &[], true, 0);
        assert!(c.lookup(ip("203.0.113.9"), 0).is_none());
        assert!(c.lookup(ip("203.0.113.10"), 0).is_some());
        let counts = c.origin_counts(0);
        assert_eq!(counts.len(), 1);
        assert_eq!(&*counts[0].0, "crowdsec");
    }
}
