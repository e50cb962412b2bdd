//! What Live Decisions shows of the decision set: the filter (`q`, origin, scenario, type), the
//! sort and the page. Pure functions over `Decision` rows, tested without an engine.

use std::net::IpAddr;

use app::decisions::model::{Decision, DecisionQuery, IpOrRange, PER_PAGE_DEFAULT, PER_PAGE_MAX};

use crate::bouncer::cache::Subject;

/// Whether a decision's target matches the `q` filter: an IP matches decisions covering it, a
/// CIDR matches decisions inside it, anything else is a substring of the value.
enum Needle {
    Ip(IpAddr),
    Net(ipnet::IpNet),
    Text(String),
}

impl Needle {
    fn parse(q: &str) -> Option<Self> {
        let q = q.trim();
        if q.is_empty() {
            return None;
        }
        Some(match IpOrRange::parse(q) {
            Ok(IpOrRange::Ip(ip)) if !q.contains('/') => Needle::Ip(ip),
            Ok(IpOrRange::Ip(ip)) => Needle::Net(ipnet::IpNet::from(ip)),
            Ok(IpOrRange::Range(net)) => Needle::Net(net),
            Err(_) => Needle::Text(q.to_lowercase()),
        })
    }

    fn matches(&self, subject: &Subject<'_>) -> bool {
        let target = match subject {
            Subject::Address(t) => *t,
            // A Country or AS decision matches text only (`fr`, `6449`).
            Subject::Other(value) => return matches!(self, Needle::Text(s) if value.to_lowercase().contains(s.as_str())),
        };
        match (self, target) {
            (Needle::Ip(ip), IpOrRange::Ip(t)) => ip == t,
            (Needle::Ip(ip), IpOrRange::Range(n)) => n.contains(ip),
            (Needle::Net(net), IpOrRange::Ip(t)) => net.contains(t),
            (Needle::Net(net), IpOrRange::Range(n)) => net.contains(n),
            (Needle::Text(s), t) => t.value().contains(s.as_str()),
        }
    }
}

/// The query's filters, parsed once and applied to every row of the cache.
pub struct Filter {
    needle: Option<Needle>,
    /// A site: engine decisions (every site) and the scoped bans on it.
    site: Option<String>,
    origin: Option<String>,
    scenario: Option<String>,
    kind: Option<String>,
}

fn lowered(field: &Option<String>) -> Option<String> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase)
}

impl Filter {
    pub fn new(q: &DecisionQuery) -> Self {
        Filter {
            needle: q.q.as_deref().and_then(Needle::parse),
            site: lowered(&q.site),
            origin: lowered(&q.origin),
            scenario: lowered(&q.scenario),
            kind: lowered(&q.kind),
        }
    }

    /// A decision on `sites` (empty: every site) is shown for the site filter.
    pub fn site_matches(&self, sites: &[String]) -> bool {
        self.site.as_ref().is_none_or(|f| sites.is_empty() || sites.iter().any(|s| s == f))
    }

    /// Origin and type match exactly (any case), the scenario as a substring.
    pub fn matches(&self, subject: &Subject<'_>, kind: &str, origin: &str, scenario: &str) -> bool {
        self.origin.as_ref().is_none_or(|f| origin.eq_ignore_ascii_case(f))
            && self.kind.as_ref().is_none_or(|f| kind.eq_ignore_ascii_case(f))
            && self.scenario.as_ref().is_none_or(|f| scenario.to_lowercase().contains(f.as_str()))
            && self.needle.as_ref().is_none_or(|n| n.matches(subject))
    }
}

/// Sorts by `value`, `origin`, `scenario`, `type` or (default, and for anything unknown) `until`;
/// a leading `-` reverses. Ties go by value so pages are stable.
pub fn sort(rows: &mut [Decision], sort: Option<&str>) {
    let sort = sort.unwrap_or("until");
    let (desc, key) = match sort.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, sort),
    };
    rows.sort_by(|a, b| {
        let o = match key {
            "value" => a.value.cmp(&b.value),
            "origin" => a.origin.cmp(&b.origin),
            "scenario" => a.scenario.cmp(&b.scenario),
            "type" => a.kind.cmp(&b.kind),
            _ => a.until.cmp(&b.until),
        }
        .then_with(|| a.value.cmp(&b.value));
        if desc {
            o.reverse()
        } else {
            o
        }
    });
}

/// One page of the sorted rows.
#[derive(Debug, PartialEq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: usize,
    /// 1-based, clamped to the pages there are (an empty list has one, empty, page).
    pub page: usize,
    pub per_page: usize,
}

pub fn page<T>(rows: Vec<T>, page: Option<usize>, per_page: Option<usize>) -> Page<T> {
    let per_page = per_page.unwrap_or(PER_PAGE_DEFAULT).clamp(1, PER_PAGE_MAX);
    let total = rows.len();
    let pages = total.div_ceil(per_page).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    let rows = rows.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    Page { rows, total, page, per_page }
}

/// Decisions on the same value, together, in the order each value first appears (so a sorted list
/// stays sorted by its first decision).
pub fn group_by_value(rows: Vec<Decision>) -> Vec<Vec<Decision>> {
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut groups: Vec<Vec<Decision>> = Vec::new();
    for d in rows {
        match index.get(&d.value) {
            Some(&i) => groups[i].push(d),
            None => {
                index.insert(d.value.clone(), groups.len());
                groups.push(vec![d]);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(value: &str, origin: &str, scenario: &str, kind: &str, until: &str) -> Decision {
        Decision {
            id: 0,
            value: value.into(),
            scope: if value.contains('/') { "Range" } else { "Ip" }.into(),
            kind: kind.into(),
            origin: origin.into(),
            scenario: scenario.into(),
            country: None,
            until: until.into(),
            allowlisted: false,
            not_enforced: false,
                    made_by: None,
                    sites: Vec::new(),
        }
    }

    fn matching(q: DecisionQuery, rows: &[Decision]) -> Vec<String> {
        let f = Filter::new(&q);
        rows.iter()
            .filter(|r| match IpOrRange::parse(&r.value) {
                Ok(t) => f.matches(&Subject::Address(&t), &r.kind, &r.origin, &r.scenario),
                Err(_) => f.matches(&Subject::Other(&r.value), &r.kind, &r.origin, &r.scenario),
            })
            .map(|r| r.value.clone())
            .collect()
    }

    fn rows() -> Vec<Decision> {
        vec![
            d("192.0.2.7", "crowdsec", "crowdsecurity/http-probing", "ban", "2026-01-01T00:00:03Z"),
            d("198.51.100.0/24", "cscli", "manual", "captcha", "2026-01-01T00:00:01Z"),
            d("2001:db8::1", "CAPI", "crowdsecurity/ssh-bf", "ban", "2026-01-01T00:00:02Z"),
        ]
    }

    #[test]
    fn an_address_finds_the_ranges_covering_it_and_a_range_the_addresses_inside() {
        let q = |s: &str| DecisionQuery { q: Some(s.into()), ..Default::default() };
        assert_eq!(matching(q("198.51.100.9"), &rows()), ["198.51.100.0/24"]);
        assert_eq!(matching(q("192.0.2.0/24"), &rows()), ["192.0.2.7"]);
        assert_eq!(matching(q("2001:db8"), &rows()), ["2001:db8::1"], "text is a substring of the value");
        assert_eq!(matching(q("  "), &rows()).len(), 3, "a blank filter is no filter");
        let mut with_country = rows();
        with_country.push(d("FR", "cscli", "manual", "ban", "2026-01-01T00:00:04Z"));
        assert_eq!(matching(q("fr"), &with_country), ["FR"], "a Country decision matches its code as text");
        assert_eq!(matching(q("192.0.2.0/24"), &with_country), ["192.0.2.7"], "but never an address filter");
    }

    #[test]
    fn origin_and_type_match_exactly_in_any_case_the_scenario_as_a_substring() {
        let origin = DecisionQuery { origin: Some("capi".into()), ..Default::default() };
        assert_eq!(matching(origin, &rows()), ["2001:db8::1"]);
        let kind = DecisionQuery { kind: Some("BAN".into()), ..Default::default() };
        assert_eq!(matching(kind, &rows()), ["192.0.2.7", "2001:db8::1"]);
        let scenario = DecisionQuery { scenario: Some("HTTP".into()), ..Default::default() };
        assert_eq!(matching(scenario, &rows()), ["192.0.2.7"]);
        let both = DecisionQuery { origin: Some("crowdsec".into()), kind: Some("captcha".into()), ..Default::default() };
        assert!(matching(both, &rows()).is_empty());
    }

    #[test]
    fn sorts_by_expiry_by_default_and_reverses_with_a_minus() {
        let mut r = rows();
        sort(&mut r, None);
        assert_eq!(r.iter().map(|d| d.value.as_str()).collect::<Vec<_>>(), ["198.51.100.0/24", "2001:db8::1", "192.0.2.7"]);
        sort(&mut r, Some("-origin"));
        assert_eq!(r[0].origin, "cscli");
        sort(&mut r, Some("nonsense"));
        assert_eq!(r[0].value, "198.51.100.0/24", "an unknown key sorts by expiry");
    }

    #[test]
    fn pages_are_clamped_to_what_exists() {
        let many: Vec<Decision> = (0..7).map(|i| d(&format!("192.0.2.{i}"), "crowdsec", "s", "ban", "t")).collect();
        let p = page(many.clone(), Some(2), Some(3));
        assert_eq!((p.total, p.page, p.per_page, p.rows.len()), (7, 2, 3, 3));
        assert_eq!(p.rows[0].value, "192.0.2.3");
        let last = page(many.clone(), Some(99), Some(3));
        assert_eq!((last.page, last.rows.len()), (3, 1));
        let huge = page(many, Some(0), Some(100_000));
        assert_eq!((huge.page, huge.per_page), (1, PER_PAGE_MAX));
        let empty = page(Vec::<Decision>::new(), Some(5), None);
        assert_eq!((empty.page, empty.total, empty.per_page), (1, 0, PER_PAGE_DEFAULT));
    }

    #[test]
    fn grouping_folds_each_value_in_the_order_it_first_appears() {
        let mut r = rows();
        r.push(d("192.0.2.7", "CAPI", "crowdsecurity/http-probing", "ban", "2026-01-01T00:00:09Z"));
        r.push(d("192.0.2.7", "cscli", "manual", "captcha", "2026-01-01T00:00:05Z"));
        sort(&mut r, Some("value"));
        let groups: Vec<app::decisions::model::AddressGroup> =
            group_by_value(r).into_iter().map(app::decisions::model::AddressGroup::fold).collect();
        assert_eq!(groups.iter().map(|g| g.value.as_str()).collect::<Vec<_>>(), ["192.0.2.7", "198.51.100.0/24", "2001:db8::1"]);
        let g = &groups[0];
        assert_eq!(g.decisions.len(), 3);
        assert_eq!(g.scenarios, ["crowdsecurity/http-probing", "manual"], "distinct, in order");
        assert_eq!(g.origins, ["crowdsec", "CAPI", "cscli"]);
        assert_eq!(g.kinds, ["ban", "captcha"]);
        assert_eq!(g.until, "2026-01-01T00:00:09Z", "free when the last one ends");
    }
}
