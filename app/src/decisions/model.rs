//! Live Decisions: the DTOs (one set of field names for the API, the server functions and the UI)
//! and the input newtypes of a manual ban, parsed at the edge so bad input never reaches the LAPI.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{AppError, ErrorCode};

/// One active decision, as the table and the REST API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Decision {
    pub id: i64,
    /// An address (`Ip` scope), a CIDR range (`Range` scope), or — for decisions this bouncer
    /// does not enforce — a country code (`Country`), an AS number (`AS`), ….
    pub value: String,
    pub scope: String,
    /// `ban`, `captcha`, `throttle`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub origin: String,
    pub scenario: String,
    /// ISO 3166 code, when a country database is installed.
    pub country: Option<String>,
    /// RFC 3339.
    pub until: String,
    /// An allowlist entry covers it: it is listed but never enforced.
    #[serde(default)]
    pub allowlisted: bool,
    /// Its scope (Country, AS, …) is not one the forward-auth bouncer can enforce: the engine
    /// holds it, but no request is blocked by it.
    #[serde(default)]
    pub not_enforced: bool,
    /// Who made it, when it was made through Charon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<MadeBy>,
    /// A site-scoped ban (Charon's own, enforced by its bouncer): the proxy-host domains it
    /// applies to. Empty: every site (every engine decision).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<String>,
}

/// A decision the bouncer does not enforce for an address an administrator uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Shielded {
    /// The protected address or range it covers.
    pub protected: String,
    pub decision: Decision,
}

/// Who made a decision through Charon: "banned by alice via the web UI, 12:03".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MadeBy {
    pub actor: String,
    /// `web UI`, `API token "name"`, `CLI`.
    pub via: String,
    /// RFC 3339.
    pub at: String,
}

/// An allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AllowEntry {
    pub id: i64,
    pub value: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: String,
    /// RFC 3339; absent: until removed. An entry leaves the list by itself when it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// A scoped exception: only on these proxy-host domains (empty: every site) …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<String>,
    /// … only for requests under this path …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// … only against decisions of this scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
}

impl AllowEntry {
    /// Narrower than "this address, everywhere, always".
    pub fn is_scoped(&self) -> bool {
        !self.sites.is_empty() || self.path_prefix.is_some() || self.scenario.is_some()
    }
}

/// Where a scoped ban or exception applies; the server checks the sites against its proxy hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Lower-case domains, sorted, without repeats; empty: every site.
    pub sites: Vec<String>,
    pub path_prefix: Option<String>,
    pub scenario: Option<String>,
}

/// At most this many sites in one scope.
pub const SCOPE_SITES_MAX: usize = 50;

impl Scope {
    /// `sites` as given (each trimmed; empty strings ignored), a path prefix and a scenario (empty:
    /// none).
    pub fn parse(sites: &[String], path_prefix: &str, scenario: &str) -> Result<Scope, ErrorCode> {
        let mut list = Vec::new();
        for raw in sites.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let domain = crate::proxy::model::Domain::parse(raw).map_err(|_| ErrorCode::SiteUnknown)?;
            list.push(domain.as_str().to_owned());
        }
        list.sort();
        list.dedup();
        if list.len() > SCOPE_SITES_MAX {
            return Err(ErrorCode::SiteUnknown);
        }
        let path_prefix = match path_prefix.trim() {
            "" => None,
            p if is_canonical_path(p) && p.len() <= 256 => Some(p.to_owned()),
            _ => return Err(ErrorCode::PathPrefixInvalid),
        };
        let scenario = match scenario.trim() {
            "" => None,
            sc if sc.len() <= 200 && sc.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c)) => Some(sc.to_owned()),
            _ => return Err(ErrorCode::ValueInvalid),
        };
        Ok(Scope { sites: list, path_prefix, scenario })
    }

    pub fn is_everywhere(&self) -> bool {
        self.sites.is_empty() && self.path_prefix.is_none() && self.scenario.is_none()
    }

    /// For the audit log: `sites a.example, b.example, path /x, scenario s` (`every site` …).
    pub fn describe(&self) -> String {
        let sites = if self.sites.is_empty() { "every site".to_owned() } else { format!("sites {}", self.sites.join(", ")) };
        let path = self.path_prefix.as_ref().map(|p| format!(", path {p}")).unwrap_or_default();
        let scenario = self.scenario.as_ref().map(|s| format!(", scenario {s}")).unwrap_or_default();
        format!("{sites}{path}{scenario}")
    }
}

/// An absolute path with nothing a server could read differently: no empty, `.` or `..` segment,
/// no percent-encoding, no backslash, query, fragment, space or control character. Path-prefix
/// exceptions match only such paths, so `/public/../admin` or `/%70ublic` never widen one.
pub fn is_canonical_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.contains("//")
        && !p.chars().any(|c| c.is_control() || c.is_whitespace() || "%\\?#".contains(c))
        && !p.split('/').skip(1).any(|seg| seg == "." || seg == "..")
}

/// Whether `path` (canonical) is under `prefix`: equal, or continuing at a segment boundary.
pub fn under_prefix(path: &str, prefix: &str) -> bool {
    path == prefix
        || (path.starts_with(prefix) && (prefix.ends_with('/') || path.as_bytes().get(prefix.len()) == Some(&b'/')))
}

/// "Unban and allow for …": how long the allowlist entry lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowFor {
    Until(BanDuration),
    Removed,
}

impl AllowFor {
    /// `15m`, `1h`, `24h`, `7d` (at most 365 days); empty or `forever`: until removed.
    pub fn parse(raw: &str) -> Result<Self, BanInputError> {
        match raw.trim() {
            "" | "forever" => Ok(AllowFor::Removed),
            d => BanDuration::parse(d).map(AllowFor::Until),
        }
    }

    pub fn seconds(&self) -> Option<i64> {
        match self {
            AllowFor::Until(d) => Some(d.seconds()),
            AllowFor::Removed => None,
        }
    }
}

/// The answer to "unban and allow": the allowlist entry and how many decisions were deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UnbannedAndAllowed {
    pub entry: AllowEntry,
    pub unbanned: u64,
}

/// The answer to adding an entry: the entry and the active decisions it covers, which the UI
/// offers to unban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AllowAdded {
    pub entry: AllowEntry,
    pub covered: Vec<Decision>,
}

/// A page of the filtered, sorted list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DecisionPage {
    /// The page's decisions; empty when grouped by address (`groups` holds them).
    pub decisions: Vec<Decision>,
    /// With `group=address`: one entry per address or range, its decisions folded in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<AddressGroup>,
    /// Rows (decisions, or addresses when grouped) the filters select.
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    /// Active decisions per origin over the whole set (not just the filter), largest first.
    pub counts: Vec<OriginCount>,
    /// RFC 3339 time since which the LAPI has been unreachable; the list is the last known state.
    pub stale_since: Option<String>,
    /// False until the first successful sync since the engine started.
    pub synced: bool,
}

/// Every decision on one address or range, as one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AddressGroup {
    pub value: String,
    pub scope: String,
    pub country: Option<String>,
    /// Distinct scenarios, origins and types of its decisions, in the list's order.
    pub scenarios: Vec<String>,
    pub origins: Vec<String>,
    pub kinds: Vec<String>,
    /// The sites its decisions apply on; empty when one of them applies on every site.
    pub sites: Vec<String>,
    /// The latest end (RFC 3339): when the address is free again.
    pub until: String,
    pub allowlisted: bool,
    pub not_enforced: bool,
    pub decisions: Vec<Decision>,
}

impl AddressGroup {
    /// Folds decisions on the same value (at least one) into a group.
    pub fn fold(decisions: Vec<Decision>) -> AddressGroup {
        fn distinct(it: impl Iterator<Item = String>) -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for v in it {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            out
        }
        let first = &decisions[0];
        AddressGroup {
            value: first.value.clone(),
            scope: first.scope.clone(),
            country: first.country.clone(),
            scenarios: distinct(decisions.iter().map(|d| d.scenario.clone())),
            origins: distinct(decisions.iter().map(|d| d.origin.clone())),
            kinds: distinct(decisions.iter().map(|d| d.kind.clone())),
            sites: if decisions.iter().any(|d| d.sites.is_empty()) { Vec::new() } else { distinct(decisions.iter().flat_map(|d| d.sites.clone())) },
            // RFC 3339 in UTC with the same shape sorts as text.
            until: decisions.iter().map(|d| d.until.clone()).max().unwrap_or_default(),
            allowlisted: decisions.iter().all(|d| d.allowlisted),
            not_enforced: decisions.iter().all(|d| d.not_enforced),
            decisions,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OriginCount {
    pub origin: String,
    pub count: usize,
}

/// The most decisions one export may hold.
pub const EXPORT_DECISIONS_MAX: usize = 200_000;

/// Filter, sort and page of the list; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DecisionQuery {
    /// An IP (decisions covering it) or a CIDR (decisions inside it), or a substring of the value.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub scenario: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub page: Option<usize>,
    #[serde(default)]
    pub per_page: Option<usize>,
    /// `address`: one row per address or range, its decisions folded in.
    #[serde(default)]
    pub group: Option<String>,
    /// A proxy-host domain: the decisions that apply there (every engine decision, and the
    /// site-scoped bans on it).
    #[serde(default)]
    pub site: Option<String>,
}

impl DecisionQuery {
    pub fn grouped(&self) -> bool {
        self.group.as_deref() == Some("address")
    }
}

pub const PER_PAGE_DEFAULT: usize = 50;
pub const PER_PAGE_MAX: usize = 500;
pub const REASON_MAX: usize = 256;

/// The origin this product writes on manual bans, so they are recognisable everywhere.
pub const MANUAL_ORIGIN: &str = "charon";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum BanInputError {
    #[error("value must be an IP address or a CIDR range")]
    Value,
    #[error("duration must look like 90m, 4h, 2d or 1w (at most 365 days)")]
    Duration,
    #[error("reason must be at most 256 characters without control characters")]
    Reason,
    #[error("type must be ban, captcha or throttle")]
    Type,
    #[error("ranges shorter than /8 (IPv4) or /32 (IPv6) need force")]
    TooWide,
    #[error("origin must be 1 to 32 letters, digits, '-', '_' or '.'")]
    Origin,
}

impl BanInputError {
    pub fn field(self) -> &'static str {
        match self {
            BanInputError::Value => "value",
            BanInputError::Duration => "duration",
            BanInputError::Reason => "reason",
            BanInputError::Type => "type",
            BanInputError::TooWide => "value",
            BanInputError::Origin => "origin",
        }
    }
}

/// An address or a network, normalised: IPv4-mapped IPv6 becomes IPv4, host bits are cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpOrRange {
    Ip(IpAddr),
    Range(ipnet::IpNet),
}

pub fn normalise_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

impl IpOrRange {
    pub fn parse(raw: &str) -> Result<Self, BanInputError> {
        let s = raw.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(IpOrRange::Ip(normalise_ip(ip)));
        }
        let net: ipnet::IpNet = s.parse().map_err(|_| BanInputError::Value)?;
        let net = match net {
            ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
                Some(v4) => ipnet::IpNet::V4(
                    ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_err(|_| BanInputError::Value)?,
                ),
                None => net,
            },
            other => other,
        };
        let net = net.trunc();
        if net.prefix_len() == net.max_prefix_len() {
            Ok(IpOrRange::Ip(net.addr()))
        } else {
            Ok(IpOrRange::Range(net))
        }
    }

    /// Shorter than /8 (IPv4) or /32 (IPv6): one click on it blocks or frees a large part of the
    /// Internet, so it needs an explicit `force`.
    pub fn is_too_wide(&self) -> bool {
        match self {
            IpOrRange::Ip(_) => false,
            IpOrRange::Range(ipnet::IpNet::V4(n)) => n.prefix_len() < 8,
            IpOrRange::Range(ipnet::IpNet::V6(n)) => n.prefix_len() < 32,
        }
    }

    /// `parse`, refusing a too-wide range unless `force`.
    pub fn parse_guarded(raw: &str, force: bool) -> Result<Self, BanInputError> {
        let target = Self::parse(raw)?;
        if target.is_too_wide() && !force {
            return Err(BanInputError::TooWide);
        }
        Ok(target)
    }

    /// CrowdSec's scope, capitalised (a lowercase scope never reaches the decision stream).
    pub fn scope(&self) -> &'static str {
        match self {
            IpOrRange::Ip(_) => "Ip",
            IpOrRange::Range(_) => "Range",
        }
    }

    pub fn value(&self) -> String {
        match self {
            IpOrRange::Ip(ip) => ip.to_string(),
            IpOrRange::Range(net) => net.to_string(),
        }
    }
}

/// A ban duration: `90m`, `4h`, `2d`, `1w` (positive, at most a year), rendered as the Go
/// duration CrowdSec accepts (`90m`, `4h`, `48h`, `168h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanDuration {
    minutes: u64,
}

impl BanDuration {
    pub fn parse(raw: &str) -> Result<Self, BanInputError> {
        let s = raw.trim().to_ascii_lowercase();
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or(BanInputError::Duration)?;
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().map_err(|_| BanInputError::Duration)?;
        let per = match unit {
            "m" | "min" => 1,
            "h" => 60,
            "d" => 60 * 24,
            "w" => 60 * 24 * 7,
            _ => return Err(BanInputError::Duration),
        };
        let minutes = n.checked_mul(per).ok_or(BanInputError::Duration)?;
        if minutes == 0 || minutes > 365 * 24 * 60 {
            return Err(BanInputError::Duration);
        }
        Ok(BanDuration { minutes })
    }

    pub fn to_go(&self) -> String {
        if self.minutes % 60 == 0 {
            format!("{}h", self.minutes / 60)
        } else {
            format!("{}m", self.minutes)
        }
    }

    pub fn seconds(&self) -> i64 {
        self.minutes as i64 * 60
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(raw: &str) -> Result<Self, BanInputError> {
        let s = raw.trim();
        if s.chars().count() > REASON_MAX || s.chars().any(char::is_control) {
            return Err(BanInputError::Reason);
        }
        Ok(Reason(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionType {
    Ban,
    Captcha,
    Throttle,
}

impl DecisionType {
    pub fn parse(raw: &str) -> Result<Self, BanInputError> {
        match raw.trim() {
            "" | "ban" => Ok(DecisionType::Ban),
            "captcha" => Ok(DecisionType::Captcha),
            "throttle" => Ok(DecisionType::Throttle),
            _ => Err(BanInputError::Type),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DecisionType::Ban => "ban",
            DecisionType::Captcha => "captcha",
            DecisionType::Throttle => "throttle",
        }
    }
}

/// How an imported blocklist is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    /// A `value` (or `ip`) column, or the first column when there is no header.
    Csv,
    /// An array of strings, or of objects with a `value`.
    Json,
    /// One address or range per line; `#` starts a comment.
    Lines,
}

/// The origin imported decisions carry unless another label is given.
pub const IMPORT_ORIGIN: &str = "charon-import";

/// An origin label: 1–32 letters, digits, `-`, `_` or `.` (it is shown and filtered on).
pub fn parse_origin_label(raw: &str) -> Result<String, BanInputError> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(IMPORT_ORIGIN.to_owned());
    }
    if s.len() > 32 || !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(BanInputError::Origin);
    }
    Ok(s.to_owned())
}

/// A row of an imported list that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RefusedRow {
    /// 1-based line (plain lines, CSV) or array index (JSON).
    pub line: usize,
    pub value: String,
    pub reason: String,
}

/// What a blocklist import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportReport {
    /// Decisions created in the engine.
    pub added: usize,
    /// Rows repeating an earlier row, or a target that already has an active decision of this type.
    pub duplicates: usize,
    /// Rows that are not an address or range (or too wide without `force`).
    pub invalid: usize,
    /// The first refused rows (all are counted in `invalid`).
    pub refused: Vec<RefusedRow>,
    /// `LAPI` answers "database is locked" that were waited out and retried.
    pub retries: usize,
}

/// Where a running import stands (`GET …/decisions/imports/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportProgress {
    pub id: u64,
    /// Decisions sent so far, of `total` to send.
    pub done: usize,
    pub total: usize,
    /// Set when the import has ended.
    pub report: Option<ImportReport>,
    /// Set when it ended early; `done` decisions were added before.
    pub error: Option<String>,
}

/// A blocklist import with its options validated; the list itself is read by the server
/// (`format` `None`: guessed from the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRequest {
    pub text: String,
    pub format: Option<ListFormat>,
    pub duration: BanDuration,
    pub reason: Reason,
    pub kind: DecisionType,
    pub origin: String,
    pub force: bool,
}

/// Imported decisions last this long unless a duration is given (as `cscli decisions import`).
pub const IMPORT_DURATION: &str = "4h";

impl ImportRequest {
    pub fn parse(
        text: String,
        format: Option<ListFormat>,
        duration: &str,
        reason: &str,
        kind: &str,
        origin: &str,
        force: bool,
    ) -> Result<Self, BanInputError> {
        let duration = if duration.trim().is_empty() { IMPORT_DURATION } else { duration };
        Ok(ImportRequest {
            text,
            format,
            duration: BanDuration::parse(duration)?,
            reason: Reason::parse(reason)?,
            kind: DecisionType::parse(kind)?,
            origin: parse_origin_label(origin)?,
            force,
        })
    }
}

/// A manual ban, fully validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanRequest {
    pub target: IpOrRange,
    pub duration: BanDuration,
    pub reason: Reason,
    pub kind: DecisionType,
    /// The caller knows it covers an address an administrator uses (lockout protection).
    pub confirm: bool,
    /// Only on these proxy-host domains (empty: every site, an engine decision).
    pub sites: Vec<String>,
}

impl BanRequest {
    /// `force` allows a range shorter than /8 or /32 (see `IpOrRange::is_too_wide`).
    pub fn parse(value: &str, duration: &str, reason: &str, kind: &str, force: bool) -> Result<Self, BanInputError> {
        Ok(BanRequest {
            target: IpOrRange::parse_guarded(value, force)?,
            duration: BanDuration::parse(duration)?,
            reason: Reason::parse(reason)?,
            kind: DecisionType::parse(kind)?,
            confirm: false,
            sites: Vec::new(),
        })
    }

    /// Only on these sites (already parsed by `Scope::parse`).
    pub fn on_sites(mut self, sites: Vec<String>) -> Self {
        self.sites = sites;
        self
    }

    /// Made even when it covers an administrator's address.
    pub fn confirmed(mut self, confirm: bool) -> Self {
        self.confirm = confirm;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_take_known_shapes_and_paths_only_when_canonical() {
        let sites = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let s = Scope::parse(&sites(&[" Shop.Example.com", "blog.example.com", "shop.example.com", ""]), " /api/ ", "crowdsecurity/http-probing").unwrap();
        assert_eq!(s.sites, ["blog.example.com", "shop.example.com"]);
        assert_eq!((s.path_prefix.as_deref(), s.scenario.as_deref()), (Some("/api/"), Some("crowdsecurity/http-probing")));
        assert!(Scope::parse(&[], "", "").unwrap().is_everywhere());
        assert_eq!(Scope::parse(&sites(&["not a domain"]), "", ""), Err(ErrorCode::SiteUnknown));
        for bad in ["api", "/a//b", "/a/../b", "/a/./b", "/a/%2e%2e", "/a?x", "/a#b", "/a b", "/a\\b", "/.."] {
            assert_eq!(Scope::parse(&[], bad, ""), Err(ErrorCode::PathPrefixInvalid), "{bad}");
        }
        assert_eq!(Scope::parse(&[], "", "a b"), Err(ErrorCode::ValueInvalid));
        assert!(under_prefix("/api/v1", "/api/") && under_prefix("/api", "/api") && under_prefix("/api/x", "/api"));
        assert!(!under_prefix("/apix", "/api") && !under_prefix("/ap", "/api"));
        assert!(is_canonical_path("/") && is_canonical_path("/a/b.c/d") && !is_canonical_path("/a/.."));
    }

    #[test]
    fn import_options_are_checked_and_defaulted() {
        let r = ImportRequest::parse("203.0.113.7".into(), None, "", "", "", "", false).unwrap();
        assert_eq!(r.duration.to_go(), "4h");
        assert_eq!(r.origin, IMPORT_ORIGIN);
        assert_eq!(r.kind, DecisionType::Ban);
        assert_eq!(ImportRequest::parse(String::new(), None, "1d", "", "", "firehol_level1", false).unwrap().origin, "firehol_level1");
        for bad in ["has space", "x/y", "a-very-long-origin-label-over-32-chars"] {
            assert_eq!(ImportRequest::parse(String::new(), None, "", "", "", bad, false), Err(BanInputError::Origin), "{bad}");
        }
        assert_eq!(ImportRequest::parse(String::new(), None, "0h", "", "", "", false), Err(BanInputError::Duration));
    }

    #[test]
    fn values_are_parsed_and_normalised() {
        assert_eq!(IpOrRange::parse("203.0.113.7").unwrap().value(), "203.0.113.7");
        assert_eq!(IpOrRange::parse(" 203.0.113.0/24 ").unwrap().scope(), "Range");
        assert_eq!(IpOrRange::parse("203.0.113.9/24").unwrap().value(), "203.0.113.0/24");
        assert_eq!(IpOrRange::parse("::ffff:198.51.100.4").unwrap().value(), "198.51.100.4");
        assert_eq!(IpOrRange::parse("::ffff:198.51.100.0/120").unwrap().value(), "198.51.100.0/24");
        assert_eq!(IpOrRange::parse("2001:db8::/32").unwrap().scope(), "Range");
        assert_eq!(IpOrRange::parse("10.0.0.1/32").unwrap().scope(), "Ip");
        for bad in ["999.1.1.1", "10.0.0.0/33", "fe80::/129", "1.2.3.4; rm -rf /", "", "example.com"] {
            assert_eq!(IpOrRange::parse(bad), Err(BanInputError::Value), "{bad}");
        }
    }

    #[test]
    fn ranges_that_cover_much_of_the_internet_need_force() {
        for wide in ["0.0.0.0/0", "10.0.0.0/7", "::/0", "2000::/3", "2001:db8::/31"] {
            assert_eq!(IpOrRange::parse_guarded(wide, false), Err(BanInputError::TooWide), "{wide}");
            assert!(IpOrRange::parse_guarded(wide, true).is_ok(), "{wide} with force");
        }
        for fine in ["10.0.0.0/8", "2001:db8::/32", "203.0.113.7", "::1"] {
            assert!(IpOrRange::parse_guarded(fine, false).is_ok(), "{fine}");
        }
        assert_eq!(BanRequest::parse("0.0.0.0/0", "4h", "", "ban", false), Err(BanInputError::TooWide));
    }

    #[test]
    fn durations_become_go_durations() {
        assert_eq!(BanDuration::parse("90m").unwrap().to_go(), "90m");
        assert_eq!(BanDuration::parse("4h").unwrap().to_go(), "4h");
        assert_eq!(BanDuration::parse("2d").unwrap().to_go(), "48h");
        assert_eq!(BanDuration::parse("1w").unwrap().to_go(), "168h");
        assert_eq!(BanDuration::parse("30d").unwrap().seconds(), 30 * 86400);
        for bad in ["-1h", "forever", "0h", "h", "4", "400d", "1.5h", "99999999999999999999w"] {
            assert_eq!(BanDuration::parse(bad), Err(BanInputError::Duration), "{bad}");
        }
    }

    #[test]
    fn reasons_are_bounded() {
        assert!(Reason::parse("brute force on /login").is_ok());
        assert_eq!(Reason::parse(&"x".repeat(257)), Err(BanInputError::Reason));
        assert_eq!(Reason::parse(&"x".repeat(1 << 20)), Err(BanInputError::Reason));
        assert_eq!(Reason::parse("a\nb"), Err(BanInputError::Reason));
    }
}

impl From<BanInputError> for ErrorCode {
    fn from(e: BanInputError) -> Self {
        use BanInputError as B;
        match e {
            B::Value => ErrorCode::ValueInvalid,
            B::Duration => ErrorCode::DurationInvalid,
            B::Reason => ErrorCode::ReasonInvalid,
            B::Type => ErrorCode::TypeInvalid,
            B::TooWide => ErrorCode::RangeTooWide,
            B::Origin => ErrorCode::OriginInvalid,
        }
    }
}

impl From<BanInputError> for AppError {
    fn from(e: BanInputError) -> Self {
        AppError::Invalid { code: e.into() }
    }
}
