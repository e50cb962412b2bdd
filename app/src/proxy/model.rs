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
}

/// Create or update input: `{"domain","upstream","enabled","protect"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProxyHostInput {
    pub domain: String,
    pub upstream: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "yes")]
    pub protect: bool,
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
}

impl ProxyHostSpec {
    pub fn parse(input: &ProxyHostInput) -> Result<Self, ErrorCode> {
        Ok(ProxyHostSpec {
            domain: Domain::parse(&input.domain)?,
            upstream: Upstream::parse(&input.upstream)?,
            enabled: input.enabled,
            protect: input.protect,
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
