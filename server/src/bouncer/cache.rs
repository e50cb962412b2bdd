//! The in-memory decision set: what is blocked right now, and the one query enforcement uses,
//! `lookup(ip)`. Keyed by (scope, value, type) because the LAPI stream de-duplicates per value;
//! exact addresses live in hash maps, ranges in longest-prefix tries (`prefix-trie`), IPv4-mapped
//! IPv6 is folded into IPv4, and origin/scenario/type strings are interned so a decision costs a
//! few dozen bytes. Every change bumps a version published on a broadcast channel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, RwLock};

use hashbrown::HashMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use tokio::sync::broadcast;

use app::decisions::model::{normalise_ip, Decision, IpOrRange};

use super::go_duration;
use crate::crowdsec::lapi::StreamDecision;

/// One stored decision in 16 bytes: the id (48 bits), the expiry (Unix seconds, 32 bits), and
/// origin / scenario as symbol ids. Small slots are what keeps 100 000 decisions in a few MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    id_lo: u32,
    id_hi: u16,
    origin: u16,
    until: u32,
    scenario: u32,
}

impl Slot {
    fn new(id: i64, until: i64, origin: u32, scenario: u32) -> Self {
        let id = id.clamp(0, (1 << 48) - 1) as u64;
        Slot {
            id_lo: id as u32,
            id_hi: (id >> 32) as u16,
            origin: origin.min(u16::MAX as u32) as u16,
            until: until.clamp(0, u32::MAX as i64) as u32,
            scenario,
        }
    }
    fn id(&self) -> i64 {
        ((self.id_hi as i64) << 32) | self.id_lo as i64
    }
    fn until(&self) -> i64 {
        self.until as i64
    }
    fn origin(&self) -> u32 {
        self.origin as u32
    }
}

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

#[derive(Default)]
struct Symbols {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32>,
}

impl Symbols {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.names.len() as u32;
        let a: Arc<str> = Arc::from(s);
        self.names.push(a.clone());
        self.ids.insert(a, id);
        id
    }
    fn find(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
    fn name(&self, id: u32) -> &Arc<str> {
        &self.names[id as usize]
    }
}

type Kinds<T> = Vec<(u32, T)>;

#[derive(Default)]
struct Tables {
    /// Keys pack (address, type symbol): 8 bytes for IPv4, 20 for IPv6 (no u128 alignment padding).
    v4: HashMap<u64, Slot>,
    v6: HashMap<([u8; 16], u32), Slot>,
    r4: PrefixMap<Ipv4Net, Kinds<Slot>>,
    r6: PrefixMap<Ipv6Net, Kinds<Slot>>,
    ranges: usize,
    /// Types and scenarios.
    syms: Symbols,
    /// Origins: few, so their ids fit the slot's 16 bits.
    origins: Symbols,
    /// Kind symbols in the order lookups prefer them (ban, captcha, throttle, others).
    kinds: Vec<u32>,
}

fn k4(a: Ipv4Addr, kind: u32) -> u64 {
    ((u32::from(a) as u64) << 32) | kind as u64
}

fn severity(kind: &str) -> u8 {
    match kind {
        "ban" => 0,
        "captcha" => 1,
        "throttle" => 2,
        _ => 3,
    }
}

fn upsert(list: &mut Kinds<Slot>, kind: u32, slot: Slot) {
    match list.iter_mut().find(|(k, _)| *k == kind) {
        Some(e) => e.1 = slot,
        None => list.push((kind, slot)),
    }
}

impl Tables {
    fn kind_sym(&mut self, kind: &str) -> u32 {
        let id = self.syms.intern(kind);
        if !self.kinds.contains(&id) {
            self.kinds.push(id);
            let syms = &self.syms;
            self.kinds.sort_by_key(|k| (severity(syms.name(*k)), *k));
        }
        id
    }

    fn insert(&mut self, target: IpOrRange, kind: &str, origin: &str, scenario: &str, id: i64, until: i64) {
        let kind = self.kind_sym(kind);
        let slot = Slot::new(id, until, self.origins.intern(origin), self.syms.intern(scenario));
        match target {
            IpOrRange::Ip(IpAddr::V4(a)) => {
                self.v4.insert(k4(a, kind), slot);
            }
            IpOrRange::Ip(IpAddr::V6(a)) => {
                self.v6.insert((a.octets(), kind), slot);
            }
            IpOrRange::Range(IpNet::V4(n)) => {
                let list = self.r4.entry(n).or_default();
                let before = list.len();
                upsert(list, kind, slot);
                self.ranges += list.len() - before;
            }
            IpOrRange::Range(IpNet::V6(n)) => {
                let list = self.r6.entry(n).or_default();
                let before = list.len();
                upsert(list, kind, slot);
                self.ranges += list.len() - before;
            }
        }
    }

    fn remove(&mut self, target: IpOrRange, kind: &str) -> bool {
        let Some(kind) = self.syms.find(kind) else { return false };
        fn take<P: prefix_trie::Prefix>(map: &mut PrefixMap<P, Kinds<Slot>>, n: &P, kind: u32) -> bool {
            let Some(list) = map.get_mut(n) else { return false };
            let before = list.len();
            list.retain(|(k, _)| *k != kind);
            let removed = list.len() != before;
            if list.is_empty() {
                map.remove(n);
            }
            removed
        }
        match target {
            IpOrRange::Ip(IpAddr::V4(a)) => self.v4.remove(&k4(a, kind)).is_some(),
            IpOrRange::Ip(IpAddr::V6(a)) => self.v6.remove(&(a.octets(), kind)).is_some(),
            IpOrRange::Range(IpNet::V4(n)) => {
                let r = take(&mut self.r4, &n, kind);
                self.ranges -= r as usize;
                r
            }
            IpOrRange::Range(IpNet::V6(n)) => {
                let r = take(&mut self.r6, &n, kind);
                self.ranges -= r as usize;
                r
            }
        }
    }

    fn len(&self) -> usize {
        self.v4.len() + self.v6.len() + self.ranges
    }

    fn hit(&self, target: IpOrRange, kind: u32, s: &Slot) -> Hit {
        Hit {
            id: s.id(),
            target,
            kind: self.syms.name(kind).clone(),
            origin: self.origins.name(s.origin()).clone(),
            scenario: self.syms.name(s.scenario).clone(),
            until: s.until(),
        }
    }

    fn lookup(&self, ip: IpAddr, now: i64) -> Option<Hit> {
        let ip = normalise_ip(ip);
        for kind in &self.kinds {
            let exact = match ip {
                IpAddr::V4(a) => self.v4.get(&k4(a, *kind)),
                IpAddr::V6(a) => self.v6.get(&(a.octets(), *kind)),
            };
            if let Some(s) = exact.filter(|s| s.until() > now) {
                return Some(self.hit(IpOrRange::Ip(ip), *kind, s));
            }
        }
        // Every covering range, most specific first; the most severe live decision wins.
        let mut best: Option<(u8, IpNet, u32, Slot)> = None;
        let mut consider = |net: IpNet, list: &Kinds<Slot>| {
            for (k, s) in list {
                if s.until() <= now {
                    continue;
                }
                let sev = severity(self.syms.name(*k));
                if best.as_ref().is_none_or(|b| sev < b.0) {
                    best = Some((sev, net, *k, *s));
                }
            }
        };
        match ip {
            IpAddr::V4(a) => {
                if self.r4.len() > 0 {
                    let host = Ipv4Net::new(a, 32).expect("valid /32");
                    for (net, list) in self.r4.cover(&host) {
                        consider(IpNet::V4(net), list);
                    }
                }
            }
            IpAddr::V6(a) => {
                if self.r6.len() > 0 {
                    let host = Ipv6Net::new(a, 128).expect("valid /128");
                    for (net, list) in self.r6.cover(&host) {
                        consider(IpNet::V6(net), list);
                    }
                }
            }
        }
        best.map(|(_, net, k, s)| self.hit(IpOrRange::Range(net), k, &s))
    }

    /// Every live decision, in no particular order.
    fn for_each(&self, mut f: impl FnMut(IpOrRange, u32, &Slot)) {
        for (key, s) in &self.v4 {
            f(IpOrRange::Ip(IpAddr::V4(Ipv4Addr::from((key >> 32) as u32))), *key as u32, s);
        }
        for ((a, k), s) in &self.v6 {
            f(IpOrRange::Ip(IpAddr::V6(Ipv6Addr::from(*a))), *k, s);
        }
        for (n, list) in self.r4.iter() {
            for (k, s) in list {
                f(IpOrRange::Range(IpNet::V4(n)), *k, s);
            }
        }
        for (n, list) in self.r6.iter() {
            for (k, s) in list {
                f(IpOrRange::Range(IpNet::V6(n)), *k, s);
            }
        }
    }
}

/// Addresses and ranges that are never blocked.
#[derive(Default)]
struct AllowSet {
    v4: PrefixMap<Ipv4Net, ()>,
    v6: PrefixMap<Ipv6Net, ()>,
}

impl AllowSet {
    fn covers(&self, ip: IpAddr) -> bool {
        match normalise_ip(ip) {
            IpAddr::V4(a) => self.v4.len() > 0 && self.v4.get_spm(&Ipv4Net::new(a, 32).expect("valid /32")).is_some(),
            IpAddr::V6(a) => self.v6.len() > 0 && self.v6.get_spm(&Ipv6Net::new(a, 128).expect("valid /128")).is_some(),
        }
    }

    fn covers_target(&self, t: &IpOrRange) -> bool {
        match t {
            IpOrRange::Ip(ip) => self.covers(*ip),
            IpOrRange::Range(IpNet::V4(n)) => self.v4.get_spm(n).is_some(),
            IpOrRange::Range(IpNet::V6(n)) => self.v6.get_spm(n).is_some(),
        }
    }
}

pub struct DecisionCache {
    allow: RwLock<AllowSet>,
    tables: RwLock<Tables>,
    version: broadcast::Sender<u64>,
    counter: std::sync::atomic::AtomicU64,
}

impl Default for DecisionCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Parses a stream decision's target; unknown scopes (Country, AS, …) and bad values are skipped.
/// A CIDR under scope `Ip` is a range: `cscli decisions import` on 1.4.6 stores every row as `Ip`
/// whatever its scope column says, and the engine itself matches it as a range.
fn target_of(scope: &str, value: &str) -> Option<IpOrRange> {
    match scope.to_ascii_lowercase().as_str() {
        "ip" | "range" => IpOrRange::parse(value).ok(),
        _ => None,
    }
}

impl DecisionCache {
    pub fn new() -> Self {
        DecisionCache {
            allow: RwLock::new(AllowSet::default()),
            tables: RwLock::new(Tables::default()),
            version: broadcast::channel(64).0,
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn changed(&self) {
        let v = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let _ = self.version.send(v);
    }

    /// A change counter, for Server-Sent Events and for pages that refetch.
    pub fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.version.subscribe()
    }

    pub fn version(&self) -> u64 {
        self.counter.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.tables.read().expect("cache lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies a stream answer. `startup` replaces the whole set (the answer is complete): the new
    /// tables are built without the lock and swapped in, so lookups never wait for a full rebuild
    /// (100 000 decisions take tens of milliseconds). Returns how many entries were added or removed.
    pub fn apply_stream(&self, new: &[StreamDecision<'_>], deleted: &[StreamDecision<'_>], startup: bool, now: i64) -> usize {
        let insert_all = |t: &mut Tables| {
            let mut n = 0;
            for d in new {
                let Some(target) = target_of(&d.scope, &d.value) else { continue };
                let Some(secs) = go_duration::parse_seconds(&d.duration) else { continue };
                let until = now + secs.ceil() as i64;
                if until <= now {
                    continue;
                }
                t.insert(target, &d.kind, &d.origin, &d.scenario, d.id, until);
                n += 1;
            }
            n
        };
        let changes = if startup {
            let mut fresh = Tables::default();
            let added = insert_all(&mut fresh);
            let old = std::mem::replace(&mut *self.tables.write().expect("cache lock"), fresh);
            let removed = old.len();
            drop(old); // freed outside the lock too
            removed + added
        } else {
            let mut t = self.tables.write().expect("cache lock");
            let mut changes = 0;
            for d in deleted {
                if let Some(target) = target_of(&d.scope, &d.value) {
                    changes += t.remove(target, &d.kind) as usize;
                }
            }
            changes + insert_all(&mut t)
        };
        if changes > 0 {
            self.changed();
        }
        changes
    }

    /// A decision this server just made: enforced at once, before the next poll.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(&self, target: IpOrRange, kind: &str, origin: &str, scenario: &str, id: i64, until: i64) {
        self.tables.write().expect("cache lock").insert(target, kind, origin, scenario, id, until);
        self.changed();
    }

    /// Removes every type of decision on `target`; returns how many.
    pub fn remove_all(&self, target: IpOrRange) -> usize {
        let mut t = self.tables.write().expect("cache lock");
        let kinds: Vec<Arc<str>> = t.kinds.iter().map(|k| t.syms.name(*k).clone()).collect();
        let n = kinds.iter().filter(|k| t.remove(target, k)).count();
        drop(t);
        if n > 0 {
            self.changed();
        }
        n
    }

    /// Removes the decision with this id; returns its target.
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
        let (target, kind) = found?;
        self.tables.write().expect("cache lock").remove(target, &kind);
        self.changed();
        Some(target)
    }

    /// Drops expired decisions (the stream reports them too, but not always promptly).
    pub fn sweep(&self, now: i64) -> usize {
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
        self.tables.read().expect("cache lock").lookup(ip, now)
    }

    /// Replaces the allowlist the lookup honours.
    pub fn set_allowlist(&self, entries: &[IpOrRange]) {
        let mut set = AllowSet::default();
        for e in entries {
            match e {
                IpOrRange::Ip(IpAddr::V4(a)) => { set.v4.insert(Ipv4Net::new(*a, 32).expect("valid /32"), ()); }
                IpOrRange::Ip(IpAddr::V6(a)) => { set.v6.insert(Ipv6Net::new(*a, 128).expect("valid /128"), ()); }
                IpOrRange::Range(IpNet::V4(n)) => { set.v4.insert(*n, ()); }
                IpOrRange::Range(IpNet::V6(n)) => { set.v6.insert(*n, ()); }
            }
        }
        *self.allow.write().expect("allow lock") = set;
        self.changed();
    }

    /// Whether an allowlist entry covers this decision's target (such rows are marked).
    pub fn is_allowlisted(&self, target: &IpOrRange) -> bool {
        self.allow.read().expect("allow lock").covers_target(target)
    }

    /// All live decisions as DTOs, for listing (filtering and paging happen on top).
    pub fn select(&self, now: i64, mut keep: impl FnMut(&IpOrRange, &str, &str, &str) -> bool) -> Vec<Decision> {
        let t = self.tables.read().expect("cache lock");
        let allow = self.allow.read().expect("allow lock");
        let mut out = Vec::new();
        t.for_each(|target, k, s| {
            if s.until() <= now {
                return;
            }
            let allowlisted = allow.covers_target(&target);
            let (kind, origin, scenario) = (t.syms.name(k), t.origins.name(s.origin()), t.syms.name(s.scenario));
            if keep(&target, kind, origin, scenario) {
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
                });
            }
        });
        out
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
        assert_eq!(c.len(), 1, "unknown scopes and bad values are ignored");
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
