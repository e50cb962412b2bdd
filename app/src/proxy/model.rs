//! Proxy hosts: a site Charon's Caddy serves (domain → upstream), optionally protected by the
//! forward-auth bouncer. The DTOs and the input newtypes, parsed at the edge.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

/// One site as the table, the page and the REST API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProxyHost {
    pub id: i64,
    pub domain: String,
    pub upstream: String,
    pub enabled: bool,
    /// Every request is checked by the bouncer first.
    pub protect: bool,
    /// The nodes that serve it: `null` for every node (this one and every edge node), otherwise
    /// node names, `central` for this one.
    #[serde(default)]
    pub nodes: Option<Vec<String>>,
}

/// The name that stands for this (the central) node in a host's `nodes`; no edge node may take it.
pub const THIS_NODE: &str = "central";

/// At most this many names in a host's `nodes`.
const MAX_NODES: usize = 100;

impl ProxyHost {
    /// Whether the node named `node` ([`THIS_NODE`] for this one) serves this host (enabled or not).
    pub fn served_by(&self, node: &str) -> bool {
        self.nodes.as_ref().is_none_or(|names| names.iter().any(|n| n == node))
    }
}

/// Create or update input: `{"domain","upstream","enabled","protect","nodes"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProxyHostInput {
    pub domain: String,
    pub upstream: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "yes")]
    pub protect: bool,
    /// Absent or `null`: every node. Otherwise at least one node name (`central` for this node).
    #[serde(default)]
    pub nodes: Option<Vec<String>>,
}

/// The form's `nodes` field: names separated by commas or spaces; blank means every node.
pub fn nodes_from_text(text: &str) -> Option<Vec<String>> {
    let names: Vec<String> = text.split([',', ' ', '\t', '\n', '\r']).filter(|n| !n.is_empty()).map(str::to_owned).collect();
    (!names.is_empty()).then_some(names)
}

/// Node names, each valid, sorted, without repeats; an empty list is refused (a host served
/// nowhere is a disabled host).
fn parse_nodes(names: &[String]) -> Result<Vec<String>, ErrorCode> {
    let mut out = names
        .iter()
        .map(|n| crate::fleet::model::NodeName::parse(n).map(|n| n.as_str().to_owned()).map_err(|_| ErrorCode::NodesInvalid))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    if out.is_empty() || out.len() > MAX_NODES {
        return Err(ErrorCode::NodesInvalid);
    }
    Ok(out)
}

fn yes() -> bool {
    true
}

/// A host name Caddy can match: lowercase DNS labels (a leading `*.` wildcard allowed) or an IP
/// address; no scheme, port, path or spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Domain(String);

impl Domain {
    pub fn parse(s: &str) -> Result<Self, ErrorCode> {
        let s = s.trim().to_ascii_lowercase();
        if s.parse::<std::net::IpAddr>().is_ok() {
            return Ok(Domain(s));
        }
        let name = s.strip_prefix("*.").unwrap_or(&s);
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !s.is_empty() && s.len() <= 253 && name.split('.').all(label_ok) {
            Ok(Domain(s))
        } else {
            Err(ErrorCode::DomainInvalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `*.example.com`: matches one label in front of the rest.
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// Hosts Caddy's automatic HTTPS must not touch: `localhost`, `*.localhost`, IP addresses.
    pub fn is_local(&self) -> bool {
        self.0 == "localhost" || self.0.ends_with(".localhost") || self.0.parse::<std::net::IpAddr>().is_ok()
    }
}

/// `http(s)://host:port` with nothing after the authority; the port defaults by scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub tls: bool,
    /// `host:port` as Caddy dials it (IPv6 in brackets).
    pub dial: String,
}

impl Upstream {
    pub fn parse(s: &str) -> Result<Self, ErrorCode> {
        let s = s.trim();
        let (tls, rest) = if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(ErrorCode::UpstreamInvalid);
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ', '{', '}']) || rest.len() > 260 {
            return Err(ErrorCode::UpstreamInvalid);
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or(ErrorCode::UpstreamInvalid)?;
            h.parse::<std::net::Ipv6Addr>().map_err(|_| ErrorCode::UpstreamInvalid)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse::<u16>().map_err(|_| ErrorCode::UpstreamInvalid)?,
                None if after.is_empty() => default_port,
                None => return Err(ErrorCode::UpstreamInvalid),
            };
            (format!("[{h}]"), port)
        } else {
            let (h, port) = match rest.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().map_err(|_| ErrorCode::UpstreamInvalid)?),
                None => (rest, default_port),
            };
            Domain::parse(h).map_err(|_| ErrorCode::UpstreamInvalid)?;
            (h.to_ascii_lowercase(), port)
        };
        if port == 0 {
            return Err(ErrorCode::UpstreamInvalid);
        }
        Ok(Upstream { tls, dial: format!("{host}:{port}") })
    }

    /// The canonical URL stored and shown.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.dial)
    }
}

/// A validated create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHostSpec {
    pub domain: Domain,
    pub upstream: Upstream,
    pub enabled: bool,
    pub protect: bool,
    /// `None`: every node.
    pub nodes: Option<Vec<String>>,
}

impl ProxyHostSpec {
    pub fn parse(input: &ProxyHostInput) -> Result<Self, ErrorCode> {
        Ok(ProxyHostSpec {
            domain: Domain::parse(&input.domain)?,
            upstream: Upstream::parse(&input.upstream)?,
            enabled: input.enabled,
            protect: input.protect,
            nodes: input.nodes.as_deref().map(parse_nodes).transpose()?,
        })
    }
}

/// Whether visitors pass while the bouncer cannot decide (before its first sync, or when Caddy
/// cannot reach it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    Open,
    Closed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BlockedBy {
    pub origin: String,
    pub scenario: String,
    pub count: u64,
}

/// The bouncer's counters since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BouncerStats {
    pub checked: u64,
    pub allowed: u64,
    pub blocked: u64,
    pub blocked_by: Vec<BlockedBy>,
    pub decisions: usize,
    /// Decisions of scopes the bouncer cannot enforce (Country, AS, …), listed apart.
    #[serde(default)]
    pub not_enforced: usize,
    pub synced: bool,
    pub stale_since: Option<i64>,
    /// Unix seconds of the last successful poll of the engine.
    #[serde(default)]
    pub last_pull: Option<i64>,
    pub fail_mode: Option<FailMode>,
}

/// One data-plane process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DaemonStatus {
    pub running: bool,
    pub pid: Option<u32>,
    pub last_error: Option<String>,
}

/// Caddy and the bouncer, for the Security page and `GET /api/v1/proxy/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DataPlaneStatus {
    pub enabled: bool,
    pub listen: String,
    pub fail_mode: FailMode,
    pub caddy: DaemonStatus,
    pub bouncer: DaemonStatus,
    /// `None` while the bouncer does not answer.
    pub stats: Option<BouncerStats>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        for ok in ["example.com", "App.Example.com", "*.example.com", "localhost", "app.localhost", "127.0.0.1", "::1", "x-1.test"] {
            assert!(Domain::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "http://example.com", "example.com/x", "exa mple.com", "-a.com", "a..com", "example.com:80", "{http.request.host}", "a\nb"] {
            assert_eq!(Domain::parse(bad), Err(ErrorCode::DomainInvalid), "{bad:?}");
        }
        assert!(Domain::parse("app.localhost").unwrap().is_local());
        assert!(Domain::parse("10.0.0.1").unwrap().is_local());
        assert!(!Domain::parse("example.com").unwrap().is_local());
    }

    #[test]
    fn nodes() {
        let input = |nodes: Option<Vec<String>>| ProxyHostInput { domain: "a.test".into(), upstream: "http://127.0.0.1:1".into(), enabled: true, protect: true, nodes };
        assert_eq!(ProxyHostSpec::parse(&input(None)).unwrap().nodes, None);
        let names = nodes_from_text(" edge2, central edge1,edge2 ");
        assert_eq!(ProxyHostSpec::parse(&input(names)).unwrap().nodes, Some(vec!["central".into(), "edge1".into(), "edge2".into()]));
        assert_eq!(nodes_from_text(" , "), None);
        for bad in [vec![], vec!["Edge1".to_owned()], vec!["a b".to_owned()], vec!["x".repeat(41)], (0..101).map(|i| format!("n{i}")).collect()] {
            assert_eq!(ProxyHostSpec::parse(&input(Some(bad.clone()))), Err(ErrorCode::NodesInvalid), "{bad:?}");
        }
        let host = |nodes: Option<Vec<String>>| ProxyHost { id: 1, domain: "a.test".into(), upstream: "http://127.0.0.1:1".into(), enabled: true, protect: true, nodes };
        assert!(host(None).served_by(THIS_NODE) && host(None).served_by("edge1"));
        let only = host(Some(vec!["edge1".into()]));
        assert!(only.served_by("edge1") && !only.served_by("edge2") && !only.served_by(THIS_NODE));
    }

    #[test]
    fn upstreams() {
        assert_eq!(Upstream::parse("http://127.0.0.1:9000").unwrap().dial, "127.0.0.1:9000");
        assert_eq!(Upstream::parse("http://app").unwrap().dial, "app:80");
        assert_eq!(Upstream::parse("https://App.internal/").unwrap().url(), "https://app.internal:443");
        assert_eq!(Upstream::parse("http://[::1]:8080").unwrap().dial, "[::1]:8080");
        for bad in ["127.0.0.1:9000", "ftp://x", "http://", "http://x:99999", "http://x/path", "http://u@x", "http://x:0", "http://{env.X}"] {
            assert_eq!(Upstream::parse(bad), Err(ErrorCode::UpstreamInvalid), "{bad:?}");
        }
    }
}
