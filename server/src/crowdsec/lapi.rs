//! A small client of the engine's Local API: health, machine login, and bouncer-key checks.
//! Errors never carry a key or password.

use std::time::Duration;

use serde::Deserialize;

const USER_AGENT: &str = concat!("charon/v", env!("CARGO_PKG_VERSION"));

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

#[derive(Deserialize)]
struct LoginAnswer {
    token: String,
    expire: String,
}

/// A machine JWT and when it expires (RFC 3339, as the LAPI sends it).
#[derive(Clone)]
pub struct Jwt {
    pub token: String,
    pub expire: String,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt").field("expire", &self.expire).finish_non_exhaustive()
    }
}

impl Lapi {
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
