//! The storage behind `DecisionCache`: 16-byte slots, interned strings, the exact-address hash
//! maps and range tries keyed by (target, type), and the allowlist's prefix sets. Only the cache
//! uses it; lookups here never allocate.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use hashbrown::HashMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

use app::decisions::model::{normalise_ip, IpOrRange};

use super::cache::Hit;

/// One stored decision in 16 bytes: the id (48 bits), the expiry (Unix seconds, 32 bits), and
/// origin / scenario as symbol ids. Small slots are what keeps 100 000 decisions in a few MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    pub(super) id_lo: u32,
    pub(super) id_hi: u16,
    pub(super) origin: u16,
    pub(super) until: u32,
    pub(super) scenario: u32,
}

impl Slot {
    pub(super) fn new(id: i64, until: i64, origin: u32, scenario: u32) -> Self {
        let id = id.clamp(0, (1 << 48) - 1) as u64;
        Slot {
            id_lo: id as u32,
            id_hi: (id >> 32) as u16,
            origin: origin.min(u16::MAX as u32) as u16,
            until: until.clamp(0, u32::MAX as i64) as u32,
            scenario,
        }
    }
    pub(super) fn id(&self) -> i64 {
        ((self.id_hi as i64) << 32) | self.id_lo as i64
    }
    pub(super) fn until(&self) -> i64 {
        self.until as i64
    }
    pub(super) fn origin(&self) -> u32 {
        self.origin as u32
    }
}

#[derive(Default)]
pub(super) struct Symbols {
    pub(super) names: Vec<Arc<str>>,
    pub(super) ids: HashMap<Arc<str>, u32>,
}

impl Symbols {
    pub(super) fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.names.len() as u32;
        let a: Arc<str> = Arc::from(s);
        self.names.push(a.clone());
        self.ids.insert(a, id);
        id
    }
    pub(super) fn find(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
    pub(super) fn name(&self, id: u32) -> &Arc<str> {
        &self.names[id as usize]
    }
}

pub(super) type Kinds<T> = Vec<(u32, T)>;

#[derive(Default)]
pub(super) struct Tables {
    /// Keys pack (address, type symbol): 8 bytes for IPv4, 20 for IPv6 (no u128 alignment padding).
    pub(super) v4: HashMap<u64, Slot>,
    pub(super) v6: HashMap<([u8; 16], u32), Slot>,
    pub(super) r4: PrefixMap<Ipv4Net, Kinds<Slot>>,
    pub(super) r6: PrefixMap<Ipv6Net, Kinds<Slot>>,
    pub(super) ranges: usize,
    /// Types and scenarios.
    pub(super) syms: Symbols,
    /// Origins: few, so their ids fit the slot's 16 bits.
    pub(super) origins: Symbols,
    /// Kind symbols in the order lookups prefer them (ban, captcha, throttle, others).
    pub(super) kinds: Vec<u32>,
}

pub(super) fn k4(a: Ipv4Addr, kind: u32) -> u64 {
    ((u32::from(a) as u64) << 32) | kind as u64
}

pub(super) fn severity(kind: &str) -> u8 {
    match kind {
        "ban" => 0,
        "captcha" => 1,
        "throttle" => 2,
        _ => 3,
    }
}

pub(super) fn upsert(list: &mut Kinds<Slot>, kind: u32, slot: Slot) {
    match list.iter_mut().find(|(k, _)| *k == kind) {
        Some(e) => e.1 = slot,
        None => list.push((kind, slot)),
    }
}

impl Tables {
    pub(super) fn kind_sym(&mut self, kind: &str) -> u32 {
        let id = self.syms.intern(kind);
        if !self.kinds.contains(&id) {
            self.kinds.push(id);
            let syms = &self.syms;
            self.kinds.sort_by_key(|k| (severity(syms.name(*k)), *k));
        }
        id
    }

    pub(super) fn insert(&mut self, target: IpOrRange, kind: &str, origin: &str, scenario: &str, id: i64, until: i64) {
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

    pub(super) fn remove(&mut self, target: IpOrRange, kind: &str) -> bool {
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

    pub(super) fn len(&self) -> usize {
        self.v4.len() + self.v6.len() + self.ranges
    }

    /// Whether exactly this target has a live decision of this type.
    pub(super) fn active(&self, target: IpOrRange, kind: &str, now: i64) -> bool {
        let Some(kind) = self.syms.find(kind) else { return false };
        let live = |s: &Slot| s.until() > now;
        match target {
            IpOrRange::Ip(IpAddr::V4(a)) => self.v4.get(&k4(a, kind)).is_some_and(live),
            IpOrRange::Ip(IpAddr::V6(a)) => self.v6.get(&(a.octets(), kind)).is_some_and(live),
            IpOrRange::Range(IpNet::V4(n)) => self.r4.get(&n).is_some_and(|l| l.iter().any(|(k, s)| *k == kind && live(s))),
            IpOrRange::Range(IpNet::V6(n)) => self.r6.get(&n).is_some_and(|l| l.iter().any(|(k, s)| *k == kind && live(s))),
        }
    }

    pub(super) fn hit(&self, target: IpOrRange, kind: u32, s: &Slot) -> Hit {
        Hit {
            id: s.id(),
            target,
            kind: self.syms.name(kind).clone(),
            origin: self.origins.name(s.origin()).clone(),
            scenario: self.syms.name(s.scenario).clone(),
            until: s.until(),
        }
    }

    pub(super) fn lookup(&self, ip: IpAddr, now: i64) -> Option<Hit> {
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

    /// The slot of exactly this (target, type), live or not.
    pub(super) fn get(&self, target: IpOrRange, kind: u32) -> Option<&Slot> {
        fn in_list(l: &Kinds<Slot>, kind: u32) -> Option<&Slot> {
            l.iter().find(|(k, _)| *k == kind).map(|(_, s)| s)
        }
        match target {
            IpOrRange::Ip(IpAddr::V4(a)) => self.v4.get(&k4(a, kind)),
            IpOrRange::Ip(IpAddr::V6(a)) => self.v6.get(&(a.octets(), kind)),
            IpOrRange::Range(IpNet::V4(n)) => self.r4.get(&n).and_then(|l| in_list(l, kind)),
            IpOrRange::Range(IpNet::V6(n)) => self.r6.get(&n).and_then(|l| in_list(l, kind)),
        }
    }

    /// Calls `f` for every entry of `self` that `other` does not hold the same way: missing there,
    /// or with another id, origin or scenario, or an expiry more than `slack` seconds apart (the
    /// stream sends remaining durations, so the same decision read twice moves by a second).
    pub(super) fn each_not_in(&self, other: &Tables, slack: i64, mut f: impl FnMut(IpOrRange, u32, &Slot)) {
        self.for_each(|target, k, s| {
            let same = other.syms.find(self.syms.name(k)).and_then(|ok| other.get(target, ok)).is_some_and(|o| {
                o.id() == s.id()
                    && (o.until() - s.until()).abs() <= slack
                    && other.origins.name(o.origin()) == self.origins.name(s.origin())
                    && other.syms.name(o.scenario) == self.syms.name(s.scenario)
            });
            if !same {
                f(target, k, s);
            }
        });
    }

    /// Every live decision, in no particular order.
    pub(super) fn for_each(&self, mut f: impl FnMut(IpOrRange, u32, &Slot)) {
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
pub(super) struct AllowSet {
    pub(super) v4: PrefixMap<Ipv4Net, ()>,
    pub(super) v6: PrefixMap<Ipv6Net, ()>,
}

impl AllowSet {
    pub(super) fn covers(&self, ip: IpAddr) -> bool {
        match normalise_ip(ip) {
            IpAddr::V4(a) => self.v4.len() > 0 && self.v4.get_spm(&Ipv4Net::new(a, 32).expect("valid /32")).is_some(),
            IpAddr::V6(a) => self.v6.len() > 0 && self.v6.get_spm(&Ipv6Net::new(a, 128).expect("valid /128")).is_some(),
        }
    }

    pub(super) fn covers_target(&self, t: &IpOrRange) -> bool {
        match t {
            IpOrRange::Ip(ip) => self.covers(*ip),
            IpOrRange::Range(IpNet::V4(n)) => self.v4.get_spm(n).is_some(),
            IpOrRange::Range(IpNet::V6(n)) => self.v6.get_spm(n).is_some(),
        }
    }
}
