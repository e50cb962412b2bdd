//! The forward-auth endpoint Caddy asks before every request of a protected site
//! (`GET /bouncer/check`), answered from the in-memory decision cache without any I/O:
//!
//! - the client is the right-most address of `X-Forwarded-For` that is not a trusted proxy (Caddy
//!   appends the peer it saw), IPv4-mapped IPv6 normalised; without the header, the socket peer;
//! - ban → 403 with a short "Access denied" page, captcha → 403 as well (Charon has no captcha
//!   page), throttle → 429 with `Retry-After`, no decision or allowlisted → 200;
//! - before the first complete sync: 200 when failing open (the default), 503 when failing closed;
//! - `X-Crowdsec-Decision` is set on **every** answer: Caddy 2.6.2 copies it unconditionally and
//!   would otherwise hand the upstream a literal placeholder.
//!
//! Also here: `POST /bouncer/sync` (poll the LAPI now, for instant manual bans), `GET
//! /bouncer/changes` (the change feed the console reads instead of polling the engine), `GET /metrics`
//! (Prometheus text), `GET /bouncer/stats` (JSON for the Security page) and `GET /health`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ipnet::IpNet;
use tokio::sync::Notify;

use app::decisions::model::normalise_ip;

pub use app::proxy::model::{BlockedBy, BouncerStats, FailMode};

use super::cache::DecisionCache;
use super::feed::{self, ChangeFeed, Owed};
use super::sync::Health;

pub const DECISION_HEADER: &str = "X-Crowdsec-Decision";
/// Set by Caddy on the visitor's answer when the bouncer let the request through (its decision:
/// `allow`, or `unknown` before the first sync in fail-open mode) or could not be asked and the
/// fail mode let it through (`unavailable`). The access log shows it, so every checked request is
/// counted there; a refusal carries `DECISION_HEADER` instead.
pub const CHECKED_HEADER: &str = "X-Charon-Checked";
/// The site and the request URI Caddy's forward_auth sets on the check (overwriting whatever the
/// visitor sent): what site-scoped bans and exceptions are judged by.
pub const FORWARDED_HOST: &str = "x-forwarded-host";
pub const FORWARDED_URI: &str = "x-forwarded-uri";

#[derive(Default)]
pub struct Counters {
    pub checked: AtomicU64,
    pub allowed: AtomicU64,
    pub blocked: AtomicU64,
    /// Blocked requests by (origin, scenario).
    by_reason: Mutex<HashMap<(Arc<str>, Arc<str>), u64>>,
}

#[derive(Clone)]
pub struct CheckState {
    pub cache: Arc<DecisionCache>,
    pub health: Health,
    pub trusted: Arc<Vec<IpNet>>,
    pub fail_mode: FailMode,
    pub counters: Arc<Counters>,
    pub sync_now: Arc<Notify>,
    /// What `POST /bouncer/sync` and `GET /bouncer/changes` must present in `X-Charon-Sync`
    /// (`None`: nobody may).
    pub sync_token: Option<Arc<str>>,
    pub feed: Arc<ChangeFeed>,
    /// The console's self-test: a one-time token a probe presents in `X-Charon-Self-Test` to be
    /// taken for `SELF_TEST_ADDRESS`, and until when (Unix seconds).
    pub self_test: Arc<Mutex<Option<(String, i64)>>>,
}

/// The header a self-test probe carries through Caddy (which passes the visitor's headers on to
/// the check). Any other value is ignored: the request is then judged by its real address.
pub const SELF_TEST_HEADER: &str = "x-charon-self-test";
pub use app::security::model::SELF_TEST_ADDRESS;

/// The header the console's poke carries.
pub const SYNC_HEADER: &str = "x-charon-sync";
/// `GET /bouncer/changes`: the cursor to come back with, and whether the answer is complete.
pub const CURSOR_HEADER: &str = "x-charon-cursor";
pub const FULL_HEADER: &str = "x-charon-full";
/// How many live decisions the bouncer holds after the answer (asked for with `count=true`).
pub const LIVE_HEADER: &str = "x-charon-live";
/// `GET /bouncer/changes`: when the engine poll the answer reflects was sent (Unix ms), the
/// console's `Fetched::as_of`.
pub const AS_OF_HEADER: &str = "x-charon-as-of";

/// The check alone, for the bouncer's Unix socket (`<data>/bouncer/check.sock`): only Caddy
/// connects there (the directory is private to Charon's user), so the peer is a trusted proxy
/// whatever `bouncer_trusted_proxies` says, and the visitor is the right-most untrusted address of
/// `X-Forwarded-For`.
pub fn socket_router(state: CheckState) -> Router {
    Router::new().route("/bouncer/check", get(check_socket)).with_state(state)
}

pub fn router(state: CheckState) -> Router {
    Router::new()
        .route("/bouncer/check", get(check))
        .route("/bouncer/sync", post(sync_now))
        .route("/bouncer/changes", get(changes))
        .route("/bouncer/stats", get(stats))
        .route("/bouncer/self-test", post(self_test_begin).delete(self_test_end))
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

/// The visitor: walking `X-Forwarded-For` (all of its headers, in order) from the right, the
/// first address that is not a trusted proxy; the peer itself when it is not trusted or sent no
/// header. `None` when an entry a trusted proxy wrote cannot be read: the visitor is then unknown
/// and the fail mode decides (a garbled header must not mean "allow").
/// `peer` is `None` for a request over the Unix socket (Caddy's, trusted).
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpNet]) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = peer.map(normalise_ip);
    if let Some(p) = peer.filter(|p| !is_trusted(p)) {
        return Some(p);
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut last = peer;
    for entry in entries.into_iter().rev() {
        let ip = normalise_ip(entry.parse::<IpAddr>().ok()?);
        last = Some(ip);
        if !is_trusted(&ip) {
            return Some(ip);
        }
    }
    // Everything was a trusted proxy: the left-most one is as close to the client as we know
    // (over the socket without any header, nobody is: the fail mode decides).
    last
}

const DENIED_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Access denied</title></head>\
<body><h1>Access denied</h1><p>Your address has been blocked by this site's security policy.</p></body></html>\n";
const THROTTLED_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Too many requests</title></head>\
<body><h1>Too many requests</h1><p>Please slow down and try again later.</p></body></html>\n";
const UNAVAILABLE_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Temporarily unavailable</title></head>\
<body><h1>Temporarily unavailable</h1><p>Please try again in a moment.</p></body></html>\n";

fn answer(status: StatusCode, decision: &'static str, page: Option<&'static str>) -> Response {
    let mut res = match page {
        Some(p) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], p).into_response(),
        None => status.into_response(),
    };
    res.headers_mut().insert(DECISION_HEADER, HeaderValue::from_static(decision));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn check(State(s): State<CheckState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    decide(&s, Some(peer.ip()), &headers)
}

async fn check_socket(State(s): State<CheckState>, headers: HeaderMap) -> Response {
    decide(&s, None, &headers)
}

/// The self-test's address when the request presents the live self-test token.
fn self_test_probe(s: &CheckState, headers: &HeaderMap) -> Option<IpAddr> {
    let presented = headers.get(SELF_TEST_HEADER)?.as_bytes();
    let guard = s.self_test.lock().ok()?;
    let (token, until) = guard.as_ref()?;
    (*until > crate::support::time::now() && crate::auth::secret::same(presented, token.as_bytes()))
        .then(|| SELF_TEST_ADDRESS.parse().expect("a valid address"))
}

fn decide(s: &CheckState, peer: Option<IpAddr>, headers: &HeaderMap) -> Response {
    s.counters.checked.fetch_add(1, Ordering::Relaxed);
    let synced = s.health.lock().map(|h| h.synced).unwrap_or(false);
    // Ordinary traffic has no such header: no lock is taken for it.
    let probe = if headers.contains_key(SELF_TEST_HEADER) { self_test_probe(s, headers) } else { None };
    let ip = probe.or_else(|| client_ip(headers, peer, &s.trusted));
    let Some(ip) = ip.filter(|_| synced) else {
        // Not synced yet, or the visitor cannot be told: the fail mode decides.
        return match s.fail_mode {
            FailMode::Open => {
                s.counters.allowed.fetch_add(1, Ordering::Relaxed);
                answer(StatusCode::OK, "unknown", None)
            }
            FailMode::Closed => {
                s.counters.blocked.fetch_add(1, Ordering::Relaxed);
                answer(StatusCode::SERVICE_UNAVAILABLE, "unknown", Some(UNAVAILABLE_PAGE))
            }
        };
    };
    let now = crate::support::time::now();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(hit) = s.cache.lookup_request(ip, header(FORWARDED_HOST), header(FORWARDED_URI), now) else {
        s.counters.allowed.fetch_add(1, Ordering::Relaxed);
        return answer(StatusCode::OK, "allow", None);
    };
    s.counters.blocked.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut m) = s.counters.by_reason.lock() {
        *m.entry((hit.origin.clone(), hit.scenario.clone())).or_default() += 1;
    }
    match &*hit.kind {
        "throttle" => {
            let mut res = answer(StatusCode::TOO_MANY_REQUESTS, "throttle", Some(THROTTLED_PAGE));
            let retry = (hit.until - now).clamp(1, 3600).to_string();
            if let Ok(v) = HeaderValue::from_str(&retry) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        "captcha" => answer(StatusCode::FORBIDDEN, "captcha", Some(DENIED_PAGE)),
        _ => answer(StatusCode::FORBIDDEN, "ban", Some(DENIED_PAGE)),
    }
}

/// Whether the caller is the console (it alone knows the token; any local user can reach the
/// loopback port).
fn from_console(s: &CheckState, headers: &HeaderMap) -> bool {
    let presented = headers.get(SYNC_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    s.sync_token.as_deref().is_some_and(|token| crate::auth::secret::same(presented, token.as_bytes()))
}

/// "Poll the LAPI now": only for the console (a flood of polls would load the engine).
async fn sync_now(State(s): State<CheckState>, headers: HeaderMap) -> StatusCode {
    if !from_console(&s, &headers) {
        return StatusCode::UNAUTHORIZED;
    }
    s.sync_now.notify_one();
    StatusCode::ACCEPTED
}

#[derive(serde::Deserialize)]
struct SelfTestBegin {
    token: String,
    /// How long the token is good for (at most 300 s).
    seconds: i64,
}

/// The console starts a self-test: from now on a probe presenting `token` is taken for
/// `SELF_TEST_ADDRESS`, until `seconds` have passed or the console ends it.
async fn self_test_begin(State(s): State<CheckState>, headers: HeaderMap, body: Json<SelfTestBegin>) -> StatusCode {
    if !from_console(&s, &headers) {
        return StatusCode::UNAUTHORIZED;
    }
    if body.token.len() < 32 {
        return StatusCode::BAD_REQUEST;
    }
    let until = crate::support::time::now() + body.seconds.clamp(1, 300);
    *s.self_test.lock().expect("self-test lock") = Some((body.token.clone(), until));
    StatusCode::NO_CONTENT
}

async fn self_test_end(State(s): State<CheckState>, headers: HeaderMap) -> StatusCode {
    if !from_console(&s, &headers) {
        return StatusCode::UNAUTHORIZED;
    }
    *s.self_test.lock().expect("self-test lock") = None;
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
struct ChangesQuery {
    since: Option<String>,
    /// Also take a complete answer from the engine at the next poll (after a bulk import).
    #[serde(default)]
    resync: bool,
    /// Also say how many live decisions are held (`LIVE_HEADER`), for the console's periodic check.
    #[serde(default)]
    count: bool,
}

/// The console's view of the engine's decisions, relayed: LAPI-stream shaped JSON, with the
/// cursor and completeness in headers. 503 until this process holds a complete answer itself.
async fn changes(State(s): State<CheckState>, headers: HeaderMap, axum::extract::Query(q): axum::extract::Query<ChangesQuery>) -> Response {
    if !from_console(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if !s.health.lock().map(|h| h.synced).unwrap_or(false) {
        return (StatusCode::SERVICE_UNAVAILABLE, "the bouncer has not synced yet").into_response();
    }
    if q.resync {
        if let Ok(mut h) = s.health.lock() {
            h.full_requested = true;
        }
        s.sync_now.notify_one();
    }
    // A complete answer of a million decisions is ~150 MB of JSON: built off the async workers.
    let built = tokio::task::spawn_blocking(move || {
        // Read before the changes are: the answer holds at least what that poll brought.
        let as_of = s.health.lock().ok().and_then(|h| h.as_of);
        let (cursor, owed) = s.feed.since(q.since.as_deref());
        let now = crate::support::time::now();
        // Counted after the cursor was taken: a change between them is also in the next answer.
        let live = q.count.then(|| s.cache.live_len(now));
        let (full, delta) = match owed {
            Owed::Changes(d) => (false, d),
            Owed::Everything => (true, super::cache::Delta { new: s.cache.export(now), deleted: Vec::new() }),
        };
        feed::stream_json(&delta, now).map(|body| (cursor, full, live, as_of, body))
    })
    .await;
    match built {
        Ok(Ok((cursor, full, live, as_of, body))) => {
            let mut res = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
            if let Ok(v) = HeaderValue::from_str(&cursor) {
                res.headers_mut().insert(CURSOR_HEADER, v);
            }
            if let Some(n) = live {
                res.headers_mut().insert(LIVE_HEADER, HeaderValue::from(n));
            }
            if let Some(t) = as_of {
                res.headers_mut().insert(AS_OF_HEADER, HeaderValue::from(t));
            }
            res.headers_mut().insert(FULL_HEADER, HeaderValue::from_static(if full { "true" } else { "false" }));
            res
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

impl CheckState {
    pub fn stats(&self) -> BouncerStats {
        let (synced, stale_since) = self.health.lock().map(|h| (h.synced, h.stale_since)).unwrap_or_default();
        let mut blocked_by: Vec<BlockedBy> = self
            .counters
            .by_reason
            .lock()
            .map(|m| {
                m.iter()
                    .map(|((o, sc), n)| BlockedBy { origin: o.to_string(), scenario: sc.to_string(), count: *n })
                    .collect()
            })
            .unwrap_or_default();
        blocked_by.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.scenario.cmp(&b.scenario)));
        BouncerStats {
            checked: self.counters.checked.load(Ordering::Relaxed),
            allowed: self.counters.allowed.load(Ordering::Relaxed),
            blocked: self.counters.blocked.load(Ordering::Relaxed),
            blocked_by,
            decisions: self.cache.len(),
            not_enforced: self.cache.not_enforced_len(),
            synced,
            stale_since,
            last_pull: self.health.lock().ok().and_then(|h| h.last_sync),
            fail_mode: Some(self.fail_mode),
        }
    }
}

async fn stats(State(s): State<CheckState>) -> Json<BouncerStats> {
    Json(s.stats())
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

async fn metrics(State(s): State<CheckState>) -> impl IntoResponse {
    let st = s.stats();
    let mut out = String::new();
    out.push_str("# HELP charon_bouncer_requests_total Forward-auth checks by outcome.\n# TYPE charon_bouncer_requests_total counter\n");
    out.push_str(&format!("charon_bouncer_requests_total{{outcome=\"checked\"}} {}\n", st.checked));
    out.push_str(&format!("charon_bouncer_requests_total{{outcome=\"allowed\"}} {}\n", st.allowed));
    out.push_str(&format!("charon_bouncer_requests_total{{outcome=\"blocked\"}} {}\n", st.blocked));
    out.push_str("# HELP charon_bouncer_blocked_total Blocked checks by decision origin and scenario.\n# TYPE charon_bouncer_blocked_total counter\n");
    for b in &st.blocked_by {
        out.push_str(&format!(
            "charon_bouncer_blocked_total{{origin=\"{}\",scenario=\"{}\"}} {}\n",
            label(&b.origin),
            label(&b.scenario),
            b.count
        ));
    }
    out.push_str("# HELP charon_bouncer_decisions Active decisions in the cache.\n# TYPE charon_bouncer_decisions gauge\n");
    out.push_str(&format!("charon_bouncer_decisions {}\n", st.decisions));
    out.push_str("# HELP charon_bouncer_synced 1 once a complete decision list was applied.\n# TYPE charon_bouncer_synced gauge\n");
    out.push_str(&format!("charon_bouncer_synced {}\n", u8::from(st.synced)));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(xff: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for v in xff {
            m.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_forwarded_address() {
        let trusted: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(&h(&["6.6.6.6, 10.0.0.1"]), Some(lo), &trusted), ip("6.6.6.6"));
        // A forged left part cannot hide the real client, garbage there included.
        assert_eq!(client_ip(&h(&["1.2.3.4, 5.5.5.5, 10.0.0.1"]), Some(lo), &trusted), ip("5.5.5.5"));
        assert_eq!(client_ip(&h(&["1.2.3.4", "5.5.5.5"]), Some(lo), &trusted), ip("5.5.5.5"));
        assert_eq!(client_ip(&h(&["not-an-ip, 5.5.5.5"]), Some(lo), &trusted), ip("5.5.5.5"));
        // An untrusted peer is the client, whatever it claims.
        let peer: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(client_ip(&h(&["1.2.3.4"]), Some(peer), &trusted), Some(peer));
        // IPv4-mapped IPv6 is the IPv4 address.
        assert_eq!(client_ip(&h(&["::ffff:203.0.113.9"]), Some(lo), &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(&HeaderMap::new(), Some("::ffff:127.0.0.2".parse().unwrap()), &[]), ip("127.0.0.2"));
        // No header from a trusted peer: the peer.
        assert_eq!(client_ip(&HeaderMap::new(), Some(lo), &trusted), Some(lo));
        assert_eq!(client_ip(&h(&["10.1.1.1, 127.0.0.5"]), Some(lo), &trusted), ip("10.1.1.1"));
    }

    #[test]
    fn over_the_socket_caddy_is_trusted_whatever_the_list_says() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(&h(&["6.6.6.6"]), None, &[]), ip("6.6.6.6"));
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(&h(&["6.6.6.6, 10.0.0.1"]), None, &trusted), ip("6.6.6.6"));
        assert_eq!(client_ip(&HeaderMap::new(), None, &trusted), None, "no header: unknown, the fail mode decides");
        assert_eq!(client_ip(&h(&["garbage"]), None, &trusted), None);
    }

    #[test]
    fn an_unreadable_address_from_a_trusted_proxy_leaves_the_visitor_unknown() {
        let trusted: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(&h(&["not-an-ip"]), Some(lo), &trusted), None);
        assert_eq!(client_ip(&h(&["5.5.5.5, garbage"]), Some(lo), &trusted), None);
        assert_eq!(client_ip(&h(&[""]), Some(lo), &trusted), None);
    }

    #[test]
    fn prometheus_labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
