//! One line of Caddy's JSON access log as a `Seen` request: when, the visitor as the bouncer sees
//! it (`X-Forwarded-For` walked from the right past trusted proxies, the same rule that enforces),
//! host, method, path, status, user agent, and whether the bouncer refused it (Caddy hands the
//! visitor the bouncer's answer, whose `X-Crowdsec-Decision` header then shows in `resp_headers`).
//! Pure; lines that are not access-log entries are skipped.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};
use ipnet::IpNet;
use serde::Deserialize;

use crate::bouncer::forward_auth::{client_ip, CHECKED_HEADER, DECISION_HEADER};

/// Longest path and user agent kept (a scanner's 8 KiB URI is not worth 8 KiB per row).
pub const PATH_MAX: usize = 1024;
pub const AGENT_MAX: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Unix milliseconds.
    pub at_ms: i64,
    pub ip: IpAddr,
    pub host: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub user_agent: String,
    pub refused: bool,
    /// The bouncer decided on it (refused, or `X-Charon-Checked`): a request to a protected site.
    pub checked: bool,
}

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    logger: String,
    ts: f64,
    request: Request,
    #[serde(default)]
    status: u16,
    #[serde(default)]
    resp_headers: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct Request {
    remote_ip: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    uri: String,
    #[serde(default)]
    headers: HashMap<String, Vec<String>>,
}

fn header<'a>(h: &'a HashMap<String, Vec<String>>, name: &'a str) -> impl Iterator<Item = &'a String> {
    h.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).flat_map(|(_, v)| v.iter())
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `None` for anything but a well-formed access-log entry with a readable visitor.
pub fn parse(line: &str, trusted: &[IpNet]) -> Option<Seen> {
    let l: Line = serde_json::from_str(line).ok()?;
    if !l.logger.starts_with("http.log.access") {
        return None;
    }
    let peer: IpAddr = l.request.remote_ip.parse().ok()?;
    let mut forwarded = HeaderMap::new();
    for v in header(&l.request.headers, "x-forwarded-for") {
        forwarded.append("x-forwarded-for", HeaderValue::from_str(v).ok()?);
    }
    let ip = client_ip(&forwarded, Some(peer), trusted)?;
    let user_agent = cut(header(&l.request.headers, "user-agent").next().map(String::as_str).unwrap_or(""), AGENT_MAX);
    let passed = header(&l.resp_headers, CHECKED_HEADER).any(|d| !d.is_empty());
    let refused = !passed && l.status >= 400 && header(&l.resp_headers, DECISION_HEADER).any(|d| !d.is_empty());
    Some(Seen {
        at_ms: (l.ts * 1000.0) as i64,
        ip,
        host: cut(&l.request.host, 255),
        method: cut(&l.request.method, 16),
        path: cut(&l.request.uri, PATH_MAX),
        status: l.status,
        user_agent,
        refused,
        checked: refused || passed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: &str = "127.0.0.0/8";

    fn line(remote: &str, xff: Option<&str>, status: u16, decision: Option<&str>) -> String {
        let mut headers = serde_json::json!({"User-Agent": ["Nikto/2.5"], "Accept": ["*/*"]});
        if let Some(x) = xff {
            headers["X-Forwarded-For"] = serde_json::json!([x]);
        }
        let mut resp = serde_json::json!({"Server": ["Caddy"]});
        if let Some(d) = decision {
            resp["X-Crowdsec-Decision"] = serde_json::json!([d]);
        }
        serde_json::json!({
            "level": "info", "ts": 1796230689.5645473, "logger": "http.log.access.charon_access", "msg": "handled request",
            "request": {"remote_ip": remote, "remote_port": "34056", "proto": "HTTP/1.1", "method": "GET",
                        "host": "shop.localhost", "uri": "/.env?x=1", "headers": headers},
            "duration": 0.0001, "size": 14, "status": status, "resp_headers": resp
        })
        .to_string()
    }

    #[test]
    fn the_visitor_is_found_as_the_bouncer_finds_it_and_refusals_are_recognised() {
        let trusted = [LOOPBACK.parse().unwrap()];
        let seen = parse(&line("127.0.0.1", Some("198.51.100.7"), 403, Some("ban")), &trusted).unwrap();
        assert_eq!(seen.ip.to_string(), "198.51.100.7");
        assert_eq!(seen.at_ms, 1_796_230_689_564);
        assert_eq!((seen.host.as_str(), seen.method.as_str(), seen.path.as_str()), ("shop.localhost", "GET", "/.env?x=1"));
        assert_eq!((seen.status, seen.user_agent.as_str(), seen.refused), (403, "Nikto/2.5", true));
        assert!(seen.checked);
        // The upstream's own 403 is not a refusal; an untrusted peer's header is not believed.
        let upstream_403 = parse(&line("127.0.0.1", None, 403, None), &trusted).unwrap();
        assert!(!upstream_403.refused && !upstream_403.checked, "an unprotected site's answer");
        // Let through by the bouncer (Caddy says so in X-Charon-Checked), whatever the upstream answers.
        let mut passed: serde_json::Value = serde_json::from_str(&line("127.0.0.1", None, 404, None)).unwrap();
        passed["resp_headers"]["X-Charon-Checked"] = serde_json::json!(["allow"]);
        let passed = parse(&passed.to_string(), &trusted).unwrap();
        assert!(passed.checked && !passed.refused);
        assert_eq!(parse(&line("203.0.113.5", Some("198.51.100.7"), 200, None), &trusted).unwrap().ip.to_string(), "203.0.113.5");
        // Not an access-log entry, not JSON, a garbled forwarded address: skipped.
        assert!(parse(r#"{"logger":"http.handlers.reverse_proxy","ts":1,"request":{"remote_ip":"1.2.3.4"}}"#, &trusted).is_none());
        assert!(parse("not json", &trusted).is_none());
        assert!(parse(&line("127.0.0.1", Some("bogus"), 200, None), &trusted).is_none());
    }

    #[test]
    fn long_fields_are_cut_on_a_character_boundary() {
        assert_eq!(cut("ééé", 3), "é");
        assert_eq!(cut("abc", 10), "abc");
    }
}
