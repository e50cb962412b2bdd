//! Alerts: why an address was banned. The DTOs the API, the server functions and the pages share,
//! and the list filter, parsed at the edge so a bad filter never reaches the LAPI.

use serde::{Deserialize, Serialize};

use crate::age::Age;
use crate::decisions::model::IpOrRange;
use crate::error::{AppError, ErrorCode};

/// Rows per page by default and at most.
pub const ALERTS_PER_PAGE: usize = 50;
pub const ALERTS_PER_PAGE_MAX: usize = 100;
/// The LAPI has no offset: a page is cut from the newest `page × per_page` alerts, so paging stops
/// this deep (filters narrow a search instead).
pub const ALERTS_DEPTH_MAX: usize = 10_000;

/// The list filter as it arrives (query string or server-function JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertQuery {
    /// An address (alerts about it or a range holding it) or a CIDR range.
    pub q: Option<String>,
    /// A scenario name, exactly (`crowdsecurity/http-probing`).
    pub scenario: Option<String>,
    /// `crowdsec`, `cscli`, `charon`, `lists`, …
    pub origin: Option<String>,
    /// The machine that raised it, exactly.
    pub machine: Option<String>,
    /// A protected site (its domain): alerts whose events were requests to it.
    pub site: Option<String>,
    /// Only alerts newer than this (`30m`, `24h`, `7d`).
    pub since: Option<String>,
    /// Only alerts older than this (`30m`, `24h`, `7d`).
    pub until: Option<String>,
    /// 1-based.
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

/// An address filter for the LAPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertTarget {
    Ip(std::net::IpAddr),
    Range(ipnet::IpNet),
}

/// `AlertQuery`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFilter {
    pub target: Option<AlertTarget>,
    pub scenario: Option<String>,
    pub origin: Option<String>,
    pub machine: Option<String>,
    /// Lower case.
    pub site: Option<String>,
    /// Go durations in hours, minutes or seconds (`168h`): what the LAPI parses.
    pub since: Option<String>,
    pub until: Option<String>,
    pub page: usize,
    pub per_page: usize,
}

fn field(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Scenario, origin and machine names: printable, no spaces, bounded.
fn name(v: &str, code: ErrorCode) -> Result<String, AppError> {
    let ok = v.len() <= 200 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c));
    if ok { Ok(v.to_owned()) } else { Err(code.into()) }
}

impl AlertQuery {
    pub fn parse(&self) -> Result<AlertFilter, AppError> {
        let target = match field(&self.q) {
            None => None,
            Some(q) => Some(match IpOrRange::parse(q).map_err(|_| AppError::from(ErrorCode::ValueInvalid))? {
                IpOrRange::Ip(ip) if !q.contains('/') => AlertTarget::Ip(ip),
                IpOrRange::Ip(ip) => AlertTarget::Range(ipnet::IpNet::from(ip)),
                IpOrRange::Range(net) => AlertTarget::Range(net),
            }),
        };
        let per_page = self.per_page.unwrap_or(ALERTS_PER_PAGE).clamp(1, ALERTS_PER_PAGE_MAX);
        let page = self.page.unwrap_or(1).clamp(1, ALERTS_DEPTH_MAX / per_page);
        Ok(AlertFilter {
            target,
            scenario: field(&self.scenario).map(|s| name(s, ErrorCode::ValueInvalid)).transpose()?,
            origin: field(&self.origin).map(|s| name(s, ErrorCode::OriginInvalid)).transpose()?,
            machine: field(&self.machine).map(|s| name(s, ErrorCode::ValueInvalid)).transpose()?,
            site: field(&self.site).map(|s| name(s, ErrorCode::DomainInvalid).map(|s| s.to_ascii_lowercase())).transpose()?,
            since: field(&self.since).map(|v| Age::parse(v).map(|a| a.to_go())).transpose()?,
            until: field(&self.until).map(|v| Age::parse(v).map(|a| a.to_go())).transpose()?,
            page,
            per_page,
        })
    }
}

/// A decision an alert produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertDecision {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub scope: String,
    pub value: String,
    pub origin: String,
    /// Remaining time as the engine reports it (`3h59m12s`); negative once expired.
    pub duration: String,
    /// Still in force.
    pub active: bool,
}

/// One event of an alert: its time and what the parser found (for HTTP scenarios: method, host,
/// path, status, user agent, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertEvent {
    pub timestamp: String,
    pub meta: Vec<(String, String)>,
}

/// A request the protected sites saw, from Charon's own access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeenRequest {
    /// RFC 3339 with milliseconds.
    pub at: String,
    /// The visitor (for a range alert, one address inside it).
    pub address: String,
    pub host: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub user_agent: String,
    /// The bouncer refused it (a decision was in force).
    pub refused: bool,
}

/// Requests the bouncer refused on one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RefusedOnSite {
    pub host: String,
    pub count: u64,
    pub first: String,
    pub last: String,
}

/// What Charon's access log holds about an alert's source: the requests it made around the alert
/// (from an hour before it started to when it stopped) and, from when it started, the requests the
/// bouncer refused, by site. Empty lists with `indexed_since` set: the address never reached the
/// protected sites in that time (a community-blocklist decision, for example).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// At most `EVIDENCE_REQUESTS_MAX`, oldest first; `requests_total` counts them all.
    pub requests: Vec<SeenRequest>,
    pub requests_total: u64,
    pub refused: Vec<RefusedOnSite>,
    /// RFC 3339: the oldest request the index still holds (it keeps a retention window); `None`
    /// when it holds nothing.
    pub indexed_since: Option<String>,
}

pub const EVIDENCE_REQUESTS_MAX: usize = 200;

/// An alert: which scenario fired on which source, when, on which machine, and what it decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Alert {
    pub id: i64,
    pub scenario: String,
    pub message: String,
    /// `Ip`, `Range`, …
    pub source_scope: String,
    pub source_value: String,
    pub source_range: Option<String>,
    pub country: Option<String>,
    pub as_name: Option<String>,
    pub as_number: Option<String>,
    pub machine: String,
    pub events_count: i64,
    /// RFC 3339 where the engine's time could be read, else as the engine printed it.
    pub started_at: String,
    pub stopped_at: String,
    pub decisions: Vec<AlertDecision>,
    /// Empty in lists; the detail carries them.
    pub events: Vec<AlertEvent>,
    /// Only in the detail of an alert on an address or a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

impl Alert {
    pub fn active_decisions(&self) -> usize {
        self.decisions.iter().filter(|d| d.active).count()
    }
}

/// A page of alerts, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertPage {
    pub rows: Vec<Alert>,
    pub page: usize,
    pub per_page: usize,
    /// Another page follows.
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(f: impl FnOnce(&mut AlertQuery)) -> Result<AlertFilter, AppError> {
        let mut query = AlertQuery::default();
        f(&mut query);
        query.parse()
    }

    #[test]
    fn filters_are_checked_before_they_reach_the_lapi() {
        let f = q(|_| {}).unwrap();
        assert_eq!((f.target, f.page, f.per_page), (None, 1, ALERTS_PER_PAGE));
        assert_eq!(q(|q| q.q = Some("203.0.113.9".into())).unwrap().target, Some(AlertTarget::Ip("203.0.113.9".parse().unwrap())));
        assert_eq!(q(|q| q.q = Some("203.0.113.0/24".into())).unwrap().target, Some(AlertTarget::Range("203.0.113.0/24".parse().unwrap())));
        assert_eq!(q(|q| q.since = Some("7d".into())).unwrap().since.as_deref(), Some("168h"));
        assert_eq!(q(|q| q.until = Some("30m".into())).unwrap().until.as_deref(), Some("30m"));
        for bad in ["", "7", "d", "-1h", "1w", "0h", "99999999h", "1h30m"] {
            let r = q(|q| q.since = Some(bad.into()));
            assert!(bad.is_empty() || r == Err(ErrorCode::DurationInvalid.into()), "{bad:?}: {r:?}");
        }
        assert_eq!(q(|q| q.q = Some("not-an-ip".into())), Err(ErrorCode::ValueInvalid.into()));
        assert_eq!(q(|q| q.scenario = Some("a b".into())), Err(ErrorCode::ValueInvalid.into()));
        assert_eq!(q(|q| q.origin = Some("x&y=1".into())), Err(ErrorCode::OriginInvalid.into()));
        let deep = q(|q| {
            q.page = Some(1_000_000);
            q.per_page = Some(1000);
        })
        .unwrap();
        assert_eq!((deep.page, deep.per_page), (ALERTS_DEPTH_MAX / ALERTS_PER_PAGE_MAX, ALERTS_PER_PAGE_MAX));
    }
}
