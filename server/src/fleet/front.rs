//! The fleet listener: TLS with the fleet's CA, for edge nodes only. It passes through to the
//! engine's Local API (on loopback) exactly the calls a node's log processor and bouncer make —
//! machine login, alerts pushed, heartbeat, the decision stream and a decision lookup, `/health` —
//! and answers 403 to everything else, so a node's machine cannot delete decisions or alerts
//! (1.4.6 would see every node as loopback here and trust it). Charon's own calls: the CA
//! (public; a node checks it against the fingerprint its token pins), join (the one-time
//! token), a node's configuration, its reports and the decisions its bouncer starts from (its
//! bouncer key).

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::wire::{self, JoinRequest, NodeReport};
use super::{store::NodeRow, Fleet, JoinError};

/// The engine calls a node may make through the listener.
fn passes(method: &Method, path: &str) -> bool {
    matches!(
        (method.as_str(), path),
        ("POST", "/v1/watchers/login") | ("POST", "/v1/alerts") | ("GET", "/v1/heartbeat") | ("GET", "/v1/decisions/stream") | ("GET", "/v1/decisions") | ("GET", "/health")
    )
}

/// Headers that describe one hop, not the message.
const HOP: &[&str] = &["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"];

#[derive(Clone)]
struct Front {
    fleet: Fleet,
    http: reqwest::Client,
    lapi: String,
    /// One answer of every decision built at a time (a million: ~130 MB of JSON).
    exporting: std::sync::Arc<tokio::sync::Semaphore>,
}

pub fn router(fleet: Fleet) -> Router {
    let lapi = format!("http://{}", fleet.lapi());
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    Router::new()
        .route(wire::CA_PATH, get(ca))
        .route(wire::JOIN_PATH, post(join))
        .route(wire::CONFIG_PATH, get(config))
        .route(wire::REPORT_PATH, post(report))
        .route(wire::ROTATE_PATH, post(rotate))
        .route(wire::DECISIONS_PATH, get(decisions))
        .fallback(pass)
        // Alerts with their events are the largest thing a node sends.
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(Front { fleet, http, lapi, exporting: std::sync::Arc::new(tokio::sync::Semaphore::new(1)) })
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "message": message }))).into_response()
}

async fn ca(State(f): State<Front>) -> Response {
    match f.fleet.pki() {
        Some(p) => ([("content-type", "application/x-pem-file")], p.ca_pem.clone()).into_response(),
        None => refuse(StatusCode::SERVICE_UNAVAILABLE, "no fleet CA"),
    }
}

async fn join(State(f): State<Front>, ConnectInfo(peer): ConnectInfo<SocketAddr>, body: Result<Json<JoinRequest>, axum::extract::rejection::JsonRejection>) -> Response {
    let Ok(Json(request)) = body else {
        return refuse(StatusCode::BAD_REQUEST, "expected {\"token\", \"name\", \"version\"}");
    };
    match f.fleet.join(&request, peer.ip()).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e @ JoinError::Token) => refuse(StatusCode::UNAUTHORIZED, &e.to_string()),
        Err(e @ JoinError::NameTaken(_)) => refuse(StatusCode::CONFLICT, &e.to_string()),
        Err(e @ JoinError::Name) => refuse(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e @ JoinError::Engine) => refuse(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

async fn node_of(f: &Front, headers: &HeaderMap) -> Option<NodeRow> {
    let key = headers.get(wire::KEY_HEADER)?.to_str().ok()?;
    f.fleet.node_by_key(key).await
}

async fn config(State(f): State<Front>, headers: HeaderMap) -> Response {
    let Some(node) = node_of(&f, &headers).await else {
        return refuse(StatusCode::UNAUTHORIZED, "unknown node key");
    };
    match f.fleet.config_for(&node).await {
        Ok(c) => Json(c).into_response(),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "the configuration could not be read"),
    }
}

async fn report(State(f): State<Front>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, body: Result<Json<NodeReport>, axum::extract::rejection::JsonRejection>) -> Response {
    let Some(node) = node_of(&f, &headers).await else {
        return refuse(StatusCode::UNAUTHORIZED, "unknown node key");
    };
    let Ok(Json(report)) = body else {
        return refuse(StatusCode::BAD_REQUEST, "expected a node report");
    };
    match f.fleet.save_report(&node, peer.ip(), &report).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "the report could not be kept"),
    }
}

async fn rotate(State(f): State<Front>, headers: HeaderMap) -> Response {
    let Some(node) = node_of(&f, &headers).await else {
        return refuse(StatusCode::UNAUTHORIZED, "unknown node key");
    };
    match f.fleet.rotate_key(&node).await {
        Ok(k) => Json(k).into_response(),
        Err(_) => refuse(StatusCode::BAD_GATEWAY, "the key could not be replaced; try again"),
    }
}

/// How long a node's request for decisions waits for the console's cache to take an engine poll
/// sent after the request came (about one sync interval when the engine is well).
const DECISIONS_WAIT: Duration = Duration::from_secs(10);

/// Every decision the console holds, as the engine's complete stream answer. A node's bouncer
/// starts from it instead of the engine's own complete answer (a million decisions: 1.4.6 needs
/// 12–13 s of both cores for that) and then follows the engine's deltas. The node polls the
/// engine's stream once just before asking (that sets its key's `last_pull`), and this answer
/// reflects an engine poll sent after the request came, so the node's next delta overlaps it:
/// nothing falls in between. 503 when the console is not current: the node takes the engine's
/// complete answer then.
async fn decisions(State(f): State<Front>, headers: HeaderMap) -> Response {
    if node_of(&f, &headers).await.is_none() {
        return refuse(StatusCode::UNAUTHORIZED, "unknown node key");
    }
    let asked = crate::support::time::now_ms();
    let console = f.fleet.decisions().clone();
    if !console.caught_up(asked, DECISIONS_WAIT).await {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "the central node's decisions are not current; take the Local API's complete answer");
    }
    let Ok(_turn) = f.exporting.acquire().await else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "the listener is stopping");
    };
    // A million decisions are ~130 MB of JSON: built off the async workers.
    let built = tokio::task::spawn_blocking(move || {
        let now = crate::support::time::now();
        let everything = crate::bouncer::cache::Delta { new: console.cache.export(now), deleted: Vec::new() };
        crate::bouncer::feed::stream_json(&everything, now)
    })
    .await;
    match built {
        Ok(Ok(body)) => ([("content-type", "application/json")], body).into_response(),
        _ => refuse(StatusCode::INTERNAL_SERVER_ERROR, "the decisions could not be written"),
    }
}

/// An allowed engine call, passed to the Local API as it came (body and answer streamed).
async fn pass(State(f): State<Front>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if !passes(&parts.method, parts.uri.path()) {
        tracing::warn!(method = %parts.method, path = parts.uri.path(), "[FLEET] refused an engine call edge nodes do not need");
        return refuse(StatusCode::FORBIDDEN, "not available to edge nodes");
    }
    let url = format!("{}{}", f.lapi, parts.uri.path_and_query().map_or("/", |p| p.as_str()));
    let mut out = f.http.request(parts.method.clone(), url);
    for (name, value) in &parts.headers {
        if !HOP.contains(&name.as_str()) {
            out = out.header(name, value);
        }
    }
    let answer = match out.body(reqwest::Body::wrap_stream(body.into_data_stream())).send().await {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!("[FLEET] the engine's Local API did not answer: {}", e.without_url());
            return refuse(StatusCode::BAD_GATEWAY, "the engine's Local API is not available");
        }
    };
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if !HOP.contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    response.body(Body::from_stream(answer.bytes_stream())).unwrap_or_else(|_| refuse(StatusCode::BAD_GATEWAY, "bad answer"))
}

/// Serves the listener until `shutdown` resolves.
pub async fn serve(fleet: Fleet, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let (Some(listen), Some(pki)) = (fleet.listen(), fleet.pki()) else { return Ok(()) };
    let tls = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(pki.server_config()?));
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen} for the fleet: {e}"))?;
    tracing::info!(%listen, ca_sha256 = %pki.ca_sha256, "[FLEET] listening for edge nodes (TLS)");
    let limits = crate::listener::Limits { header_read_timeout: Duration::from_secs(10), max_connections: 1024 };
    crate::listener::serve_tls(listener, tls, router(fleet), limits, shutdown).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_node_needs_passes() {
        for (m, p) in [("POST", "/v1/watchers/login"), ("POST", "/v1/alerts"), ("GET", "/v1/decisions/stream"), ("GET", "/v1/heartbeat")] {
            assert!(passes(&Method::from_bytes(m.as_bytes()).unwrap(), p), "{m} {p}");
        }
        for (m, p) in [("DELETE", "/v1/decisions"), ("DELETE", "/v1/alerts"), ("GET", "/v1/alerts"), ("POST", "/v1/watchers"), ("DELETE", "/v1/decisions/1"), ("GET", "/v1/decisions/stream/x")] {
            assert!(!passes(&Method::from_bytes(m.as_bytes()).unwrap(), p), "{m} {p}");
        }
    }
}
