//! The JSON configuration Charon loads into Caddy 2.6.2 (`caddy run --config`, then `POST /load`):
//!
//! - admin API on a Unix socket inside the data directory (never TCP);
//! - one server on the proxy listen address; per enabled host a route `host → [forward_auth →]
//!   reverse_proxy upstream`; unknown hosts get 404;
//! - `forward_auth` is written out as the `reverse_proxy` it is sugar for (`GET /bouncer/check`,
//!   `X-Forwarded-Method`/`-Uri`/`-Host` (set, so a visitor's own are overwritten), the decision header copied on 2xx into
//!   the upstream's request and, as `X-Charon-Checked`, into the visitor's answer (the access log
//!   then shows every checked request); any other answer goes to the visitor as is);
//! - the bouncer being unreachable is a Caddy error in the "auth" phase (a `vars` marker): error
//!   routes then follow the fail mode — proxy to the upstream anyway (open) or 503 (closed);
//! - a JSON access log with rotation at `<data>/logs/access.log`, which CrowdSec follows;
//! - automatic HTTPS skipped for `localhost`, `*.localhost` and IP hosts.

use std::path::PathBuf;

use serde_json::{json, Value};

use app::proxy::model::{Domain, Upstream};

use crate::bouncer::forward_auth::{FailMode, CHECKED_HEADER, DECISION_HEADER};

/// Everything the configuration depends on besides the hosts.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub listen: String,
    /// `admin.listen`: `unix/<data>/caddy/admin.sock`.
    pub admin: String,
    /// Where `forward_auth` dials the bouncer: `unix/<data>/bouncer/check.sock`, or `host:port`.
    pub bouncer_dial: String,
    pub access_log: PathBuf,
    pub fail_mode: FailMode,
}

/// A host as the configuration needs it.
#[derive(Debug, Clone)]
pub struct Site {
    pub domain: Domain,
    pub upstream: Upstream,
    pub protect: bool,
}

impl Site {
    /// A stored host as Caddy serves it; `None` when it no longer parses (never stored so).
    pub fn from_stored(domain: &str, upstream: &str, protect: bool) -> Option<Site> {
        Some(Site { domain: Domain::parse(domain).ok()?, upstream: Upstream::parse(upstream).ok()?, protect })
    }
}

const PHASE: &str = "charon_phase";
const ACCESS_LOGGER: &str = "charon_access";

fn upstream_proxy(u: &Upstream) -> Value {
    let mut h = json!({"handler": "reverse_proxy", "upstreams": [{"dial": u.dial}]});
    if u.tls {
        h["transport"] = json!({"protocol": "http", "tls": {}});
    }
    h
}

fn forward_auth(bouncer: &str) -> Value {
    json!({
        "handler": "reverse_proxy",
        "upstreams": [{"dial": bouncer}],
        "rewrite": {"method": "GET", "uri": "/bouncer/check"},
        "headers": {"request": {"set": {
            "X-Forwarded-Method": ["{http.request.method}"],
            "X-Forwarded-Uri": ["{http.request.uri}"],
            "X-Forwarded-Host": ["{http.request.host}"]
        }}},
        "handle_response": [{
            "match": {"status_code": [2]},
            "routes": [{"handle": [{"handler": "headers",
                "request": {"set": {DECISION_HEADER: [format!("{{http.reverse_proxy.header.{DECISION_HEADER}}}")]}},
                "response": {"set": {CHECKED_HEADER: [format!("{{http.reverse_proxy.header.{DECISION_HEADER}}}")]}, "deferred": true}
            }]}]
        }]
    })
}

fn phase(p: &str) -> Value {
    json!({"handle": [{"handler": "vars", PHASE: p}]})
}

/// Caddy takes the first route whose host matches, so exact hosts must come before wildcards:
/// otherwise an unprotected `*.example.com` would serve a protected `app.example.com` without
/// the bouncer. (A Caddy wildcard covers one label, so two wildcards never match the same host.)
fn by_precedence(sites: &[Site]) -> Vec<&Site> {
    let mut ordered: Vec<&Site> = sites.iter().collect();
    ordered.sort_by_key(|s| (s.domain.is_wildcard(), s.domain.as_str().to_owned()));
    ordered
}

pub fn build(s: &ProxySettings, sites: &[Site]) -> Value {
    let mut routes = Vec::new();
    let mut error_routes = Vec::new();
    for site in by_precedence(sites) {
        let host = json!([{"host": [site.domain.as_str()]}]);
        let inner = if site.protect {
            vec![
                phase("auth"),
                json!({"handle": [forward_auth(&s.bouncer_dial)]}),
                phase("upstream"),
                json!({"handle": [upstream_proxy(&site.upstream)]}),
            ]
        } else {
            vec![json!({"handle": [upstream_proxy(&site.upstream)]})]
        };
        routes.push(json!({"match": host, "handle": [{"handler": "subroute", "routes": inner}], "terminal": true}));
        if site.protect {
            let on_fail = match s.fail_mode {
                // The upstream learns that nobody checked this request.
                FailMode::Open => json!({"handler": "subroute", "routes": [
                    {"handle": [{"handler": "headers", "request": {"set": {DECISION_HEADER: ["unavailable"]}},
                                 "response": {"set": {CHECKED_HEADER: ["unavailable"]}, "deferred": true}}]},
                    {"handle": [upstream_proxy(&site.upstream)]}
                ]}),
                FailMode::Closed => json!({
                    "handler": "static_response", "status_code": 503,
                    "headers": {"Content-Type": ["text/plain; charset=utf-8"], "Retry-After": ["10"]},
                    "body": "Temporarily unavailable: the security check cannot run. Please try again shortly.\n"
                }),
            };
            error_routes.push(json!({
                "match": [{"host": [site.domain.as_str()], "vars": {PHASE: ["auth"]}}],
                "handle": [on_fail],
                "terminal": true
            }));
        }
    }
    routes.push(json!({"handle": [{
        "handler": "static_response", "status_code": 404,
        "headers": {"Content-Type": ["text/plain; charset=utf-8"]},
        "body": "Unknown site.\n"
    }]}));
    let skip: Vec<&str> = sites.iter().filter(|h| h.domain.is_local()).map(|h| h.domain.as_str()).collect();
    let mut server = json!({
        "listen": [s.listen],
        "routes": routes,
        "automatic_https": {"skip": skip},
        "logs": {"default_logger_name": ACCESS_LOGGER}
    });
    if !error_routes.is_empty() {
        server["errors"] = json!({"routes": error_routes});
    }
    let logger = format!("http.log.access.{ACCESS_LOGGER}");
    let mut http = json!({"servers": {"charon": server}});
    // The listen port is plain HTTP (Caddy would otherwise serve TLS on any port but 80 once a
    // public name is configured; those names get HTTPS on 443 with a redirect from here).
    if let Some(port) = s.listen.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) {
        http["http_port"] = json!(port);
    }
    json!({
        "admin": {"listen": s.admin},
        "logging": {"logs": {
            "default": {"exclude": [logger]},
            "access": {
                "writer": {"output": "file", "filename": s.access_log.to_string_lossy(),
                           "roll_size_mb": 50, "roll_keep": 5, "roll_keep_days": 14},
                "encoder": {"format": "json"},
                "include": [logger]
            }
        }},
        "apps": {"http": http}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(fail_mode: FailMode) -> ProxySettings {
        ProxySettings {
            listen: ":8088".into(),
            admin: "unix//d/caddy/admin.sock".into(),
            bouncer_dial: "unix//d/bouncer/check.sock".into(),
            access_log: "/d/logs/access.log".into(),
            fail_mode,
        }
    }

    fn site(domain: &str, protect: bool) -> Site {
        Site { domain: Domain::parse(domain).unwrap(), upstream: Upstream::parse("http://127.0.0.1:9000").unwrap(), protect }
    }

    #[test]
    fn protected_hosts_ask_the_bouncer_first_and_follow_the_fail_mode_when_it_is_down() {
        let cfg = build(&settings(FailMode::Closed), &[site("app.localhost", true), site("example.com", false)]);
        let server = &cfg["apps"]["http"]["servers"]["charon"];
        let inner = &server["routes"][0]["handle"][0]["routes"];
        assert_eq!(inner[1]["handle"][0]["rewrite"]["uri"], "/bouncer/check");
        assert_eq!(inner[1]["handle"][0]["upstreams"][0]["dial"], "unix//d/bouncer/check.sock");
        assert_eq!(inner[3]["handle"][0]["upstreams"][0]["dial"], "127.0.0.1:9000");
        // Unprotected: straight to the upstream.
        assert_eq!(server["routes"][1]["handle"][0]["routes"][0]["handle"][0]["handler"], "reverse_proxy");
        assert_eq!(server["routes"][2]["handle"][0]["status_code"], 404);
        assert_eq!(server["errors"]["routes"][0]["handle"][0]["status_code"], 503);
        assert_eq!(server["automatic_https"]["skip"], json!(["app.localhost"]));
        assert_eq!(cfg["admin"]["listen"], "unix//d/caddy/admin.sock");
        assert_eq!(cfg["apps"]["http"]["http_port"], 8088);
        let open = build(&settings(FailMode::Open), &[site("app.localhost", true)]);
        let fallback = &open["apps"]["http"]["servers"]["charon"]["errors"]["routes"][0]["handle"][0]["routes"];
        assert_eq!(fallback[0]["handle"][0]["request"]["set"][DECISION_HEADER], json!(["unavailable"]));
        assert_eq!(fallback[1]["handle"][0]["handler"], "reverse_proxy");
    }

    #[test]
    fn an_exact_host_wins_over_a_wildcard_that_also_matches_it() {
        // Sorted by name, `*` came first and the unprotected wildcard swallowed the protected host.
        let cfg = build(&settings(FailMode::Open), &[site("*.example.com", false), site("app.example.com", true), site("www.example.com", false)]);
        let routes = &cfg["apps"]["http"]["servers"]["charon"]["routes"];
        let hosts: Vec<&str> = (0..3).map(|i| routes[i]["match"][0]["host"][0].as_str().unwrap()).collect();
        assert_eq!(hosts, ["app.example.com", "www.example.com", "*.example.com"]);
        assert_eq!(routes[0]["handle"][0]["routes"][1]["handle"][0]["rewrite"]["uri"], "/bouncer/check", "the protected host asks the bouncer");
    }
}
