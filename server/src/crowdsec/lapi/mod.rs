//! A small client of the engine's Local API: health, machine login, and bouncer-key checks.
//! Errors never carry a key or password.

use std::time::Duration;


pub mod session;
pub mod wire;

pub use session::MachineSession;
pub use wire::{Jwt, StreamAnswer, StreamDecision};
use wire::LoginAnswer;

const USER_AGENT: &str = concat!("charon/v", env!("CARGO_PKG_VERSION"));

/// How long a complete (`startup=true`) stream answer may take, body included.
const COMPLETE_ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct Lapi {
    base: String,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum LapiError {
    #[error("LAPI not available: {0}")]
    Unreachable(String),
    #[error("LAPI rejected the credentials")]
    Rejected,
    #[error("unexpected LAPI answer: HTTP {0}")]
    Status(u16),
}

fn transport(e: reqwest::Error) -> LapiError {
    // reqwest's Display includes the URL, which never holds a secret here (keys go in headers).
    LapiError::Unreachable(e.without_url().to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Valid,
    Rejected,
}

/// A 2xx answer's JSON body; 401/403 mean the credentials were refused.
async fn json_answer<T: serde::de::DeserializeOwned>(res: reqwest::Response) -> Result<T, LapiError> {
    match res.status().as_u16() {
        200..=299 => res.json().await.map_err(transport),
        401 | 403 => Err(LapiError::Rejected),
        s => Err(LapiError::Status(s)),
    }
}

/// The scopes the decision stream is asked for.
pub const STREAM_SCOPES: &str = "ip,range,country,as";

impl Lapi {
    /// The decision stream's raw body for the bouncer key (`startup` = everything active); parse it
    /// with `StreamAnswer::parse`. The LAPI sends only `Ip` and `Range` decisions unless asked for
    /// more: `Country` and `AS` are asked for too, so they can be listed as not enforced.
    pub async fn stream(&self, key: &str, startup: bool) -> Result<bytes::Bytes, LapiError> {
        let res = self
            .http
            .get(format!("{}/v1/decisions/stream", self.base))
            .query(&[("startup", if startup { "true" } else { "false" }), ("scopes", STREAM_SCOPES)])
            .header("X-Api-Key", key)
            // A complete answer of a million decisions takes 1.4.6 13–45 s on two busy cores (the
            // whole request: reqwest's timeout covers the body too); a delta is small.
            .timeout(if startup { COMPLETE_ANSWER_TIMEOUT } else { Duration::from_secs(30) })
            .send()
            .await
            .map_err(transport)?;
        match res.status().as_u16() {
            200 => res.bytes().await.map_err(transport),
            401 | 403 => Err(LapiError::Rejected),
            s => Err(LapiError::Status(s)),
        }
    }

    /// A complete stream answer served elsewhere on the same server with the same key: an edge
    /// node's bouncer starts from its central node's decisions (`/fleet/v1/decisions`).
    pub async fn complete_answer_at(&self, path: &str, key: &str) -> Result<bytes::Bytes, LapiError> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("X-Api-Key", key)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(transport)?;
        match res.status().as_u16() {
            200 => res.bytes().await.map_err(transport),
            401 | 403 => Err(LapiError::Rejected),
            s => Err(LapiError::Status(s)),
        }
    }

    /// `POST /v1/alerts` with a machine JWT; returns the alert ids.
    pub async fn post_alerts(&self, jwt: &str, body: &serde_json::Value) -> Result<Vec<String>, LapiError> {
        let res = self
            .http
            .post(format!("{}/v1/alerts", self.base))
            .bearer_auth(jwt)
            .json(body)
            .send()
            .await
            .map_err(transport)?;
        json_answer(res).await
    }

    /// `GET /v1/alerts/{id}` with a machine JWT.
    pub async fn get_alert(&self, jwt: &str, id: &str) -> Result<serde_json::Value, LapiError> {
        let res = self
            .http
            .get(format!("{}/v1/alerts/{}", self.base, id))
            .bearer_auth(jwt)
            .send()
            .await
            .map_err(transport)?;
        json_answer(res).await
    }

    /// `GET /v1/alerts/{id}` with a machine JWT; `None` when the engine has no such alert.
    pub async fn find_alert(&self, jwt: &str, id: i64) -> Result<Option<serde_json::Value>, LapiError> {
        let res = self
            .http
            .get(format!("{}/v1/alerts/{id}", self.base))
            .bearer_auth(jwt)
            .send()
            .await
            .map_err(transport)?;
        if res.status().as_u16() == 404 {
            return Ok(None);
        }
        json_answer(res).await.map(Some)
    }

    /// `GET /v1/alerts?…` with a machine JWT: newest first, at most `limit` (1.4.6 answers `null`
    /// for none).
    pub async fn list_alerts(&self, jwt: &str, query: &[(&str, String)]) -> Result<Vec<serde_json::Value>, LapiError> {
        let res = self
            .http
            .get(format!("{}/v1/alerts", self.base))
            .query(query)
            .bearer_auth(jwt)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(transport)?;
        let v: Option<Vec<serde_json::Value>> = json_answer(res).await?;
        Ok(v.unwrap_or_default())
    }

    /// `DELETE /v1/decisions/{id}` or `DELETE /v1/decisions?ip=|range=` with a machine JWT;
    /// returns how many were deleted.
    pub async fn delete_decisions(&self, jwt: &str, id: Option<i64>, query: &[(&str, String)]) -> Result<u64, LapiError> {
        let url = match id {
            Some(id) => format!("{}/v1/decisions/{id}", self.base),
            None => format!("{}/v1/decisions", self.base),
        };
        let res = self
            .http
            .delete(url)
            .query(query)
            .bearer_auth(jwt)
            .send()
            .await
            .map_err(transport)?;
        match res.status().as_u16() {
            200 => {
                let v: serde_json::Value = res.json().await.map_err(transport)?;
                Ok(v.get("nbDeleted")
                    .and_then(|n| n.as_str().and_then(|s| s.parse().ok()).or_else(|| n.as_u64()))
                    .unwrap_or(0))
            }
            401 | 403 => Err(LapiError::Rejected),
            // 1.4.6 answers an unknown id with 500 "doesn't exist".
            500 if id.is_some() => Ok(0),
            s => Err(LapiError::Status(s)),
        }
    }

    pub fn new(listen: std::net::SocketAddr) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .expect("static client configuration");
        Lapi {
            base: format!("http://{listen}"),
            http,
        }
    }

    /// A Local API elsewhere (an edge node's central node), trusting only `ca_pem`: no public CA
    /// can stand in for the fleet's own.
    pub fn remote(url: &str, ca_pem: &str) -> anyhow::Result<Self> {
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .build()?;
        Ok(Lapi { base: url.trim_end_matches('/').to_owned(), http })
    }

    pub async fn health(&self) -> Result<(), LapiError> {
        let res = self
            .http
            .get(format!("{}/health", self.base))
            .send()
            .await
            .map_err(transport)?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(LapiError::Status(res.status().as_u16()))
        }
    }

    pub async fn login(&self, machine_id: &str, password: &str) -> Result<Jwt, LapiError> {
        let res = self
            .http
            .post(format!("{}/v1/watchers/login", self.base))
            .json(&serde_json::json!({"machine_id": machine_id, "password": password, "scenarios": []}))
            .send()
            .await
            .map_err(transport)?;
        match res.status().as_u16() {
            200 => {
                let a: LoginAnswer = res.json().await.map_err(transport)?;
                Ok(Jwt { token: a.token, expire: a.expire })
            }
            401 | 403 => Err(LapiError::Rejected),
            s => Err(LapiError::Status(s)),
        }
    }

    /// Asks the decision stream with the key: 200 valid, 403 rejected.
    pub async fn check_bouncer_key(&self, key: &str) -> Result<KeyCheck, LapiError> {
        let res = self
            .http
            .head(format!("{}/v1/decisions/stream", self.base))
            .header("X-Api-Key", key)
            .send()
            .await
            .map_err(transport)?;
        match res.status().as_u16() {
            200 => Ok(KeyCheck::Valid),
            401 | 403 => Ok(KeyCheck::Rejected),
            s => Err(LapiError::Status(s)),
        }
    }
}
