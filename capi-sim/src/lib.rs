//! A faithful stand-in for CrowdSec's Central API (CAPI), for tests and the `capi-sim` demo
//! binary — never used by `charon serve`. It speaks the `v2` routes crowdsec 1.4.6 uses and the
//! `v3` ones of ≥ 1.5: register, login (a JWT that gains `organization_id` once the enrollment was
//! accepted), enroll (202 fresh, 200 already enrolled without overwrite, 403 with CAPI's message for
//! an invalid key, 403 `token expired` for keys marked expired), signals, metrics, the community
//! blocklist (`GET …/decisions/stream`, origin `CAPI`) and `/health`. `/admin/…` routes play the
//! console website (accept an enrollment) and inject faults (delay, 5xx, 401) for the next N calls.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// CAPI's answer to a bad attachment key (as cscli quotes it).
pub const INVALID_KEY_MESSAGE: &str = "the attachment key provided is not valid (hint: get your enrollement key from console, crowdsec login or machine id are not valid values)";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Faults {
    /// Added before answering.
    #[serde(default)]
    pub delay_ms: u64,
    /// Answer this status instead (5xx, 401, …).
    #[serde(default)]
    pub status: Option<u16>,
    /// How many API calls the faults apply to (`None`: until cleared).
    #[serde(default)]
    pub count: Option<u32>,
}

/// `POST /admin/keys`: keys the simulated console rejects.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeySets {
    #[serde(default)]
    pub invalid: Vec<String>,
    #[serde(default)]
    pub expired: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimEnrollment {
    pub machine_id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub accepted: bool,
}

#[derive(Default)]
struct SimState {
    machines: HashMap<String, String>,
    enrollments: HashMap<String, SimEnrollment>,
    expired_keys: HashSet<String>,
    invalid_keys: HashSet<String>,
    blocklist: Vec<String>,
    faults: Faults,
    calls: HashMap<String, u64>,
}

#[derive(Clone, Default)]
pub struct CapiSim {
    state: Arc<Mutex<SimState>>,
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"message": message, "errors": ""}))).into_response()
}

impl CapiSim {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys the simulated console rejects: invalid ones (CAPI's 403 message) and expired ones.
    pub fn set_keys(&self, invalid: &[&str], expired: &[&str]) {
        let mut s = self.state.lock().unwrap();
        s.invalid_keys = invalid.iter().map(|k| k.to_string()).collect();
        s.expired_keys = expired.iter().map(|k| k.to_string()).collect();
    }

    pub fn set_blocklist(&self, ips: Vec<String>) {
        self.state.lock().unwrap().blocklist = ips;
    }

    pub fn set_faults(&self, f: Faults) {
        self.state.lock().unwrap().faults = f;
    }

    /// What the user does on the console website: accept every pending enrollment.
    pub fn accept_all(&self) {
        for e in self.state.lock().unwrap().enrollments.values_mut() {
            e.accepted = true;
        }
    }

    pub fn enrollments(&self) -> Vec<SimEnrollment> {
        self.state.lock().unwrap().enrollments.values().cloned().collect()
    }

    /// How many times a route (`login`, `enroll`, `metrics`, `register`, `signals`, `pull`) was called.
    pub fn calls(&self, route: &str) -> u64 {
        self.state.lock().unwrap().calls.get(route).copied().unwrap_or(0)
    }

    fn count(&self, route: &str) {
        *self.state.lock().unwrap().calls.entry(route.to_owned()).or_default() += 1;
    }

    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/{v}/watchers", post(register))
            .route("/{v}/watchers/login", post(login))
            .route("/{v}/watchers/enroll", post(enroll))
            .route("/{v}/signals", post(signals))
            .route("/{v}/metrics", post(metrics))
            .route("/{v}/metrics/", post(metrics))
            .route("/{v}/decisions/stream", get(pull))
            .route("/health", get(|| async { Json(json!({"status": "up"})) }))
            .layer(axum::middleware::from_fn_with_state(self.clone(), inject_faults));
        let admin = Router::new()
            .route("/admin/accept", post(|State(s): State<CapiSim>| async move { s.accept_all(); StatusCode::NO_CONTENT }))
            .route(
                "/admin/faults",
                post(|State(s): State<CapiSim>, Json(f): Json<Faults>| async move { s.set_faults(f); StatusCode::NO_CONTENT }),
            )
            .route(
                "/admin/keys",
                post(|State(s): State<CapiSim>, Json(k): Json<KeySets>| async move {
                    let invalid: Vec<&str> = k.invalid.iter().map(String::as_str).collect();
                    let expired: Vec<&str> = k.expired.iter().map(String::as_str).collect();
                    s.set_keys(&invalid, &expired);
                    StatusCode::NO_CONTENT
                }),
            )
            .route(
                "/admin/blocklist",
                post(|State(s): State<CapiSim>, Json(ips): Json<Vec<String>>| async move { s.set_blocklist(ips); StatusCode::NO_CONTENT }),
            )
            .route("/admin/state", get(|State(s): State<CapiSim>| async move { Json(json!({"enrollments": s.enrollments(), "calls": s.state.lock().unwrap().calls.clone()})) }));
        api.merge(admin).with_state(self.clone())
    }

    /// Serves on `addr` (port 0 for any) and returns the bound address.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let app = self.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(bound)
    }
}

/// The route name `calls` counts, from the request path (faulted calls count too).
fn route_name(path: &str) -> &'static str {
    match path.trim_end_matches('/').rsplit('/').next().unwrap_or_default() {
        "watchers" => "register",
        "login" => "login",
        "enroll" => "enroll",
        "signals" => "signals",
        "metrics" => "metrics",
        "stream" => "pull",
        _ => "other",
    }
}

async fn inject_faults(State(sim): State<CapiSim>, req: Request, next: Next) -> Response {
    sim.count(route_name(req.uri().path()));
    let faults = {
        let mut s = sim.state.lock().unwrap();
        let f = s.faults.clone();
        match s.faults.count {
            Some(0) => Faults::default(),
            Some(n) => {
                s.faults.count = Some(n - 1);
                f
            }
            None => f,
        }
    };
    if faults.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
    }
    if let Some(code) = faults.status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = if code == 401 { "Unauthorized" } else { "injected failure" };
        return error(status, message);
    }
    next.run(req).await
}

#[derive(Deserialize)]
struct Credentials {
    machine_id: String,
    password: String,
}

async fn register(State(sim): State<CapiSim>, Path(_v): Path<String>, Json(c): Json<Credentials>) -> Response {
    let ok = c.machine_id.len() >= 10 && c.machine_id.chars().all(|ch| ch.is_ascii_alphanumeric()) && c.password.len() >= 8;
    if !ok {
        return error(StatusCode::BAD_REQUEST, "invalid machine_id or password");
    }
    sim.state.lock().unwrap().machines.insert(c.machine_id, c.password);
    StatusCode::OK.into_response()
}

fn bearer_machine(sim: &CapiSim, headers: &HeaderMap) -> Option<String> {
    let token = headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")?;
    let payload = token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let id = claims["id"].as_str()?.to_owned();
    sim.state.lock().unwrap().machines.contains_key(&id).then_some(id)
}

async fn login(State(sim): State<CapiSim>, Path(_v): Path<String>, Json(c): Json<Credentials>) -> Response {
    let s = sim.state.lock().unwrap();
    if s.machines.get(&c.machine_id) != Some(&c.password) {
        return error(StatusCode::FORBIDDEN, "Forbidden");
    }
    let expire = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let mut claims = json!({"id": c.machine_id, "exp": expire.unix_timestamp(), "orig_iat": expire.unix_timestamp() - 3600});
    if s.enrollments.get(&c.machine_id).is_some_and(|e| e.accepted) {
        claims["organization_id"] = json!("org-charon-sim");
        claims["subscription_type"] = json!("COMMUNITY");
    }
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = b64(claims.to_string().as_bytes());
    let token = format!("{header}.{body}.{}", b64(b"capi-sim-signature"));
    let expire = expire.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    Json(json!({"code": 200, "expire": expire, "token": token})).into_response()
}

#[derive(Deserialize)]
struct EnrollBody {
    attachment_key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    overwrite: bool,
}

async fn enroll(State(sim): State<CapiSim>, Path(_v): Path<String>, headers: HeaderMap, Json(b): Json<EnrollBody>) -> Response {
    let Some(machine) = bearer_machine(&sim, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    let mut s = sim.state.lock().unwrap();
    if s.expired_keys.contains(&b.attachment_key) {
        return error(StatusCode::FORBIDDEN, "token expired");
    }
    if s.invalid_keys.contains(&b.attachment_key) || b.attachment_key.len() < 10 {
        return error(StatusCode::FORBIDDEN, INVALID_KEY_MESSAGE);
    }
    if s.enrollments.contains_key(&machine) && !b.overwrite {
        return (StatusCode::OK, Json(json!({"message": "instance already enrolled"}))).into_response();
    }
    s.enrollments.insert(machine.clone(), SimEnrollment { machine_id: machine, name: b.name, tags: b.tags, accepted: false });
    (StatusCode::ACCEPTED, Json(json!({"message": "enrollment pending acceptance"}))).into_response()
}

async fn signals(Path(_v): Path<String>) -> StatusCode {
    StatusCode::OK
}

async fn metrics(Path(_v): Path<String>) -> StatusCode {
    StatusCode::OK
}

async fn pull(State(sim): State<CapiSim>, Path(_v): Path<String>) -> Json<Value> {
    let list = sim.state.lock().unwrap().blocklist.clone();
    let new: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            json!({"id": i + 1, "origin": "CAPI", "type": "ban", "scope": "Ip", "value": ip,
                   "duration": "24h", "scenario": "crowdsecurity/community-blocklist"})
        })
        .collect();
    Json(json!({"new": new, "deleted": []}))
}
