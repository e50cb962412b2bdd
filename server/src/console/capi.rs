//! The Central API client (reqwest): register a watcher, log in (the JWT says whether the console
//! accepted the enrollment: an `organization_id` claim, decoded without verification as cscli
//! does), enroll, push metrics, and a health probe. The enrollment key only ever travels in a
//! request body over this client — never argv, URLs or logs.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

/// crowdsec 1.4.6 speaks `v2`.
const PREFIX: &str = "v2";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapiError {
    #[error("timeout")]
    Timeout,
    #[error("connection refused")]
    Refused,
    #[error("HTTP {0}: {1}")]
    Status(u16, String),
    #[error("{0}")]
    Transport(String),
}

impl CapiError {
    /// Worth another attempt: the network or CAPI itself failed, not our request.
    pub fn transient(&self) -> bool {
        matches!(self, CapiError::Timeout | CapiError::Refused | CapiError::Transport(_))
            || matches!(self, CapiError::Status(s, _) if *s >= 500)
    }
}

fn transport(e: reqwest::Error) -> CapiError {
    if e.is_timeout() {
        return CapiError::Timeout;
    }
    let text = format!("{e:?}");
    if e.is_connect() && (text.contains("ConnectionRefused") || text.contains("Connection refused")) {
        return CapiError::Refused;
    }
    // The cause chain ("dns error: failed to lookup address …") without the URL.
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    CapiError::Transport(msg)
}

#[derive(Clone)]
pub struct Capi {
    base: String,
    http: reqwest::Client,
}

/// A login: the token and what it says about the enrollment.
#[derive(Clone)]
pub struct Login {
    pub token: String,
    pub organization_id: Option<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("organization_id", &self.organization_id).finish_non_exhaustive()
    }
}

/// What an enroll call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollAnswer {
    /// A non-200 2xx: enrolled, waiting for acceptance on the console.
    Accepted,
    /// 200: this machine was already enrolled (and `overwrite` was false).
    AlreadyEnrolled,
}

fn claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?).ok()
}

async fn message(res: reqwest::Response) -> CapiError {
    let status = res.status().as_u16();
    #[derive(Deserialize)]
    struct Msg {
        message: String,
    }
    let text = res.text().await.unwrap_or_default();
    let msg = serde_json::from_str::<Msg>(&text).map(|m| m.message).unwrap_or_else(|_| "invalid body".into());
    CapiError::Status(status, msg)
}

impl Capi {
    pub fn new(base: &str, timeout: Duration) -> Self {
        Capi {
            base: format!("{}/", base.trim_end_matches('/')),
            http: reqwest::Client::builder()
                .timeout(timeout)
                .user_agent(concat!("charon/v", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("http client"),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{PREFIX}/{path}", self.base)
    }

    pub async fn register(&self, machine_id: &str, password: &str) -> Result<(), CapiError> {
        let res = self
            .http
            .post(self.url("watchers"))
            .json(&json!({"machine_id": machine_id, "password": password}))
            .send()
            .await
            .map_err(transport)?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(message(res).await)
        }
    }

    pub async fn login(&self, machine_id: &str, password: &str, scenarios: &[String]) -> Result<Login, CapiError> {
        let res = self
            .http
            .post(self.url("watchers/login"))
            .json(&json!({"machine_id": machine_id, "password": password, "scenarios": scenarios}))
            .send()
            .await
            .map_err(transport)?;
        if !res.status().is_success() {
            return Err(message(res).await);
        }
        #[derive(Deserialize)]
        struct Answer {
            token: String,
        }
        let a: Answer = res.json().await.map_err(|e| CapiError::Transport(e.without_url().to_string()))?;
        let organization_id = claims(&a.token).and_then(|c| c["organization_id"].as_str().map(str::to_owned)).filter(|s| !s.is_empty());
        Ok(Login { token: a.token, organization_id })
    }

    pub async fn enroll(&self, login: &Login, key: &str, name: &str, tags: &[String], overwrite: bool) -> Result<EnrollAnswer, CapiError> {
        let res = self
            .http
            .post(self.url("watchers/enroll"))
            .bearer_auth(&login.token)
            .json(&json!({"attachment_key": key, "name": name, "tags": tags, "overwrite": overwrite}))
            .send()
            .await
            .map_err(transport)?;
        match res.status().as_u16() {
            200 => Ok(EnrollAnswer::AlreadyEnrolled),
            s if (200..300).contains(&s) => Ok(EnrollAnswer::Accepted),
            _ => Err(message(res).await),
        }
    }

    /// The metrics push crowdsec makes (the closest thing CAPI has to a heartbeat).
    pub async fn push_metrics(&self, login: &Login, machine_id: &str) -> Result<(), CapiError> {
        let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let body = json!({
            "apil_version": concat!("charon/v", env!("CARGO_PKG_VERSION")),
            "bouncers": [],
            "machines": [{"name": machine_id, "version": "v1.4.6", "last_update": now, "last_push": now}]
        });
        let res = self.http.post(self.url("metrics/")).bearer_auth(&login.token).json(&body).send().await.map_err(transport)?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(message(res).await)
        }
    }

    /// `GET /health` and how long it took.
    pub async fn health(&self) -> (Result<(), CapiError>, Duration) {
        let t0 = Instant::now();
        let r = match self.http.get(format!("{}health", self.base)).send().await {
            Ok(res) if res.status().is_success() => Ok(()),
            Ok(res) => Err(CapiError::Status(res.status().as_u16(), "health check failed".into())),
            Err(e) => Err(transport(e)),
        };
        (r, t0.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_organization_claim_is_read_without_verification() {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"id":"m","organization_id":"org-1"}"#);
        assert_eq!(claims(&format!("h.{body}.s")).unwrap()["organization_id"], "org-1");
        assert!(claims("garbage").is_none());
    }

    #[test]
    fn transient_errors_are_the_network_and_5xx() {
        assert!(CapiError::Timeout.transient());
        assert!(CapiError::Refused.transient());
        assert!(CapiError::Status(503, String::new()).transient());
        assert!(!CapiError::Status(403, String::new()).transient());
        assert!(!CapiError::Status(401, String::new()).transient());
    }
}
