//! Site-scoped bans and exceptions, which the engine cannot express and this bouncer enforces from
//! the request's address **and** the site and path Caddy forwards (`X-Forwarded-Host`,
//! `X-Forwarded-Uri`, both set by Caddy, never taken from the visitor):
//! - a scoped ban blocks an address or range on the listed sites only;
//! - a scoped exception lets an address or range through a ban (an engine decision or a scoped ban)
//!   on the listed sites (or all), under a path prefix, for one scenario — each optional. A path
//!   prefix matches only a canonical path (`is_canonical_path`): `/public/../admin` or
//!   `/%70ublic` never widen an exception.
//!
//! Sites are keyed by proxy-host domain; a request for `a.example.com` also finds rules on
//! `*.example.com` (Caddy's wildcard covers one label). The rules arrive with the bouncer's settings
//! (`DaemonSettings::scoped`); an empty set costs one branch per request.

use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use serde::{Deserialize, Serialize};

use app::decisions::model::{is_canonical_path, normalise_ip, under_prefix, IpOrRange, MANUAL_ORIGIN};

use super::cache::Hit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Ban,
    Allow,
}

/// One rule as the console sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopedRule {
    pub id: i64,
    pub kind: RuleKind,
    /// An address or a CIDR range.
    pub value: String,
    /// Proxy-host domains; empty: every site (exceptions only).
    #[serde(default)]
    pub sites: Vec<String>,
    #[serde(default)]
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub scenario: Option<String>,
    /// Bans: `ban`, `captcha` or `throttle`.
    #[serde(default)]
    pub ban_type: Option<String>,
    /// Bans: why (shown as the hit's scenario).
    #[serde(default)]
    pub reason: String,
    /// Unix seconds; bans only.
    #[serde(default)]
    pub until: Option<i64>,
}

struct Ban {
    id: i64,
    target: IpOrRange,
    kind: Arc<str>,
    scenario: Arc<str>,
    until: i64,
}

struct Exception {
    path_prefix: Option<String>,
    scenario: Option<String>,
    /// Given for a while ("unban and allow on this site for 1 h"): forgives nothing after.
    until: i64,
}

struct Nets<T> {
    v4: PrefixMap<Ipv4Net, Vec<T>>,
    v6: PrefixMap<Ipv6Net, Vec<T>>,
}

impl<T> Default for Nets<T> {
    fn default() -> Self {
        Nets { v4: PrefixMap::new(), v6: PrefixMap::new() }
    }
}

impl<T> Nets<T> {
    fn insert(&mut self, target: &IpOrRange, item: T) {
        match target {
            IpOrRange::Ip(IpAddr::V4(a)) => self.v4.entry(Ipv4Net::new(*a, 32).expect("/32")).or_default().push(item),
            IpOrRange::Ip(IpAddr::V6(a)) => self.v6.entry(Ipv6Net::new(*a, 128).expect("/128")).or_default().push(item),
            IpOrRange::Range(IpNet::V4(n)) => self.v4.entry(*n).or_default().push(item),
            IpOrRange::Range(IpNet::V6(n)) => self.v6.entry(*n).or_default().push(item),
        }
    }

    /// The first `Some` that `f` makes of an item on a net holding `ip` (no allocation).
    fn find<R>(&self, ip: IpAddr, mut f: impl FnMut(&T) -> Option<R>) -> Option<R> {
        match ip {
            IpAddr::V4(a) => self.v4.cover(&Ipv4Net::new(a, 32).expect("/32")).flat_map(|(_, v)| v.iter()).find_map(&mut f),
            IpAddr::V6(a) => self.v6.cover(&Ipv6Net::new(a, 128).expect("/128")).flat_map(|(_, v)| v.iter()).find_map(&mut f),
        }
    }
}

/// Rules filed by site: exact domains, and wildcard domains (`*.example.com`) by what follows the
/// `*.` so a request's site finds both without building a key.
struct BySite<T> {
    exact: HashMap<String, Nets<T>>,
    wildcard: HashMap<String, Nets<T>>,
}

impl<T> Default for BySite<T> {
    fn default() -> Self {
        BySite { exact: HashMap::new(), wildcard: HashMap::new() }
    }
}

impl<T> BySite<T> {
    fn entry(&mut self, site: &str) -> &mut Nets<T> {
        let site = site.to_ascii_lowercase();
        match site.strip_prefix("*.") {
            Some(rest) => self.wildcard.entry(rest.to_owned()).or_default(),
            None => self.exact.entry(site).or_default(),
        }
    }

    /// The rule sets that apply to `host` (lower case, no port).
    fn for_host<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Nets<T>> + 'a {
        let wild = host.split_once('.').and_then(|(_, rest)| self.wildcard.get(rest));
        self.exact.get(host).into_iter().chain(wild)
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.wildcard.is_empty()
    }
}

/// The compiled rules.
#[derive(Default)]
pub struct ScopedSet {
    bans: BySite<Ban>,
    allows: BySite<Exception>,
    /// Exceptions on every site.
    allows_everywhere: Nets<Exception>,
    len: usize,
}

/// The request's site as rules are filed: lower case, without a port or a final dot (allocates
/// only for a host that has upper-case letters).
fn site_of(host: &str) -> std::borrow::Cow<'_, str> {
    let host = host.trim().trim_end_matches('.');
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) { std::borrow::Cow::Owned(host.to_ascii_lowercase()) } else { std::borrow::Cow::Borrowed(host) }
}

impl ScopedSet {
    pub fn build(rules: &[ScopedRule]) -> ScopedSet {
        let mut set = ScopedSet::default();
        for r in rules {
            let Ok(target) = IpOrRange::parse(&r.value) else { continue };
            match r.kind {
                RuleKind::Ban => {
                    let kind: Arc<str> = Arc::from(r.ban_type.as_deref().unwrap_or("ban"));
                    let scenario: Arc<str> = Arc::from(if r.reason.is_empty() { "site ban".to_owned() } else { r.reason.clone() });
                    for site in &r.sites {
                        let ban = Ban { id: r.id, target, kind: kind.clone(), scenario: scenario.clone(), until: r.until.unwrap_or(i64::MAX) };
                        set.bans.entry(site).insert(&target, ban);
                        set.len += 1;
                    }
                }
                RuleKind::Allow => {
                    let exception = || Exception { path_prefix: r.path_prefix.clone(), scenario: r.scenario.clone(), until: r.until.unwrap_or(i64::MAX) };
                    if r.sites.is_empty() {
                        set.allows_everywhere.insert(&target, exception());
                        set.len += 1;
                    }
                    for site in &r.sites {
                        set.allows.entry(site).insert(&target, exception());
                        set.len += 1;
                    }
                }
            }
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What applies to this request given the address-only decision `hit`: a scoped ban on its
    /// site when there is none, then any exception that covers it.
    pub fn judge(&self, ip: IpAddr, host: Option<&str>, uri: Option<&str>, hit: Option<Hit>, now: i64) -> Option<Hit> {
        let ip = normalise_ip(ip);
        let site = host.map(site_of);
        let site = site.as_deref();
        let hit = match hit {
            Some(h) => h,
            None => {
                let site = site?;
                self.bans.for_host(site).find_map(|nets| {
                    nets.find(ip, |b| {
                        (b.until > now).then(|| Hit {
                            id: -b.id,
                            target: b.target,
                            kind: b.kind.clone(),
                            origin: Arc::from(MANUAL_ORIGIN),
                            scenario: b.scenario.clone(),
                            until: b.until,
                        })
                    })
                })?
            }
        };
        if self.allows.is_empty() && self.allows_everywhere.v4.len() == 0 && self.allows_everywhere.v6.len() == 0 {
            return Some(hit);
        }
        // The path without its query; a path that is not canonical matches no path prefix.
        let path = uri.map(|u| u.split(['?', '#']).next().unwrap_or("")).filter(|p| is_canonical_path(p));
        let forgives = |e: &Exception| {
            let path_ok = match (&e.path_prefix, path) {
                (None, _) => true,
                (Some(prefix), Some(p)) => under_prefix(p, prefix),
                (Some(_), None) => false,
            };
            (e.until > now && path_ok && e.scenario.as_deref().is_none_or(|s| s == &*hit.scenario)).then_some(())
        };
        let on_site = site.into_iter().flat_map(|s| self.allows.for_host(s));
        let forgiven = on_site.chain(std::iter::once(&self.allows_everywhere)).any(|nets| nets.find(ip, forgives).is_some());
        (!forgiven).then_some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(id: i64, value: &str, sites: &[&str]) -> ScopedRule {
        ScopedRule {
            id,
            kind: RuleKind::Ban,
            value: value.into(),
            sites: sites.iter().map(|s| s.to_string()).collect(),
            path_prefix: None,
            scenario: None,
            ban_type: None,
            reason: String::new(),
            until: Some(i64::MAX),
        }
    }

    fn allow(id: i64, value: &str, sites: &[&str], path: Option<&str>, scenario: Option<&str>) -> ScopedRule {
        ScopedRule { kind: RuleKind::Allow, path_prefix: path.map(Into::into), scenario: scenario.map(Into::into), until: None, ..ban(id, value, sites) }
    }

    fn engine_hit(ip: &str, scenario: &str) -> Option<Hit> {
        Some(Hit {
            id: 9,
            target: IpOrRange::parse(ip).unwrap(),
            kind: Arc::from("ban"),
            origin: Arc::from("crowdsec"),
            scenario: Arc::from(scenario),
            until: i64::MAX,
        })
    }

    #[test]
    fn a_scoped_ban_blocks_on_its_sites_only() {
        let set = ScopedSet::build(&[ban(1, "198.51.100.0/24", &["a.example", "*.wild.example"])]);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let hit = set.judge(ip, Some("A.Example:8080"), Some("/"), None, 0).expect("blocked on A");
        assert_eq!((hit.id, &*hit.origin, &*hit.kind), (-1, MANUAL_ORIGIN, "ban"));
        assert!(set.judge(ip, Some("b.example"), Some("/"), None, 0).is_none(), "not on B");
        assert!(set.judge(ip, Some("x.wild.example"), Some("/"), None, 0).is_some(), "a wildcard host's sites");
        assert!(set.judge(ip, None, None, None, 0).is_none(), "no site, no scoped ban");
        assert!(set.judge("198.51.101.1".parse().unwrap(), Some("a.example"), Some("/"), None, 0).is_none());
        let expired = ScopedSet::build(&[ScopedRule { until: Some(10), ..ban(2, "198.51.100.7", &["a.example"]) }]);
        assert!(expired.judge(ip, Some("a.example"), None, None, 11).is_none());
    }

    #[test]
    fn an_exception_forgives_only_its_site_path_and_scenario_and_never_a_trick_path() {
        let set = ScopedSet::build(&[
            allow(1, "203.0.113.5", &["a.example"], Some("/public"), None),
            allow(2, "203.0.113.0/24", &[], None, Some("crowdsecurity/http-probing")),
        ]);
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let hit = || engine_hit("203.0.113.5", "crowdsecurity/http-bad-user-agent");
        assert!(set.judge(ip, Some("a.example"), Some("/public/x?y=1"), hit(), 0).is_none(), "its path on its site passes");
        assert!(set.judge(ip, Some("a.example"), Some("/public"), hit(), 0).is_none());
        for tricky in ["/private", "/publicity", "/public/../private", "/public//x", "/%70ublic/x", "/public/./x", "public/x"] {
            assert!(set.judge(ip, Some("a.example"), Some(tricky), hit(), 0).is_some(), "{tricky} stays blocked");
        }
        assert!(set.judge(ip, Some("b.example"), Some("/public/x"), hit(), 0).is_some(), "another site stays blocked");
        // The scenario exception: every site, any path, that scenario only.
        assert!(set.judge(ip, Some("b.example"), Some("/x"), engine_hit("203.0.113.5", "crowdsecurity/http-probing"), 0).is_none());
        assert!(set.judge("203.0.113.9".parse().unwrap(), Some("b.example"), None, engine_hit("203.0.113.9", "crowdsecurity/http-probing"), 0).is_none());
        assert!(set.judge(ip, None, None, None, 0).is_none(), "nothing to forgive");
    }

    #[test]
    fn an_exception_given_for_a_while_forgives_nothing_after_it() {
        let set = ScopedSet::build(&[ScopedRule { until: Some(100), ..allow(1, "203.0.113.5", &["a.example"], None, None) }]);
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let hit = || engine_hit("203.0.113.5", "crowdsecurity/http-probing");
        assert!(set.judge(ip, Some("a.example"), Some("/"), hit(), 99).is_none());
        assert!(set.judge(ip, Some("a.example"), Some("/"), hit(), 100).is_some(), "its time is up");
    }
}
