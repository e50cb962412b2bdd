//! The machine's session with the Local API for calls that need a JWT (manual bans and unbans):
//! logged in on first use, again a minute before the token expires, and once more when the LAPI
//! refuses it (the engine restarted). The password never leaves the credentials file and this call.

use std::future::Future;
use std::sync::Arc;

use app::error::{AppError, EngineErrorCode};

use super::LapiError;
use crate::crowdsec::CrowdSec;
use crate::support::time::now;

#[derive(Clone)]
pub struct MachineSession {
    engine: CrowdSec,
    /// The token and its expiry (Unix seconds).
    jwt: Arc<tokio::sync::Mutex<Option<(String, i64)>>>,
}

/// A failed LAPI call as the user sees it: the details go to the log.
pub fn lapi_down(e: impl std::fmt::Display) -> AppError {
    tracing::warn!("LAPI call failed: {e}");
    AppError::Engine { code: EngineErrorCode::LapiUnavailable, detail: None }
}

impl MachineSession {
    pub fn new(engine: CrowdSec) -> Self {
        MachineSession { engine, jwt: Arc::new(tokio::sync::Mutex::new(None)) }
    }

    pub fn engine(&self) -> &CrowdSec {
        &self.engine
    }

    pub async fn token(&self) -> Result<String, AppError> {
        if !self.engine.status().lapi_ready {
            return Err(AppError::Engine { code: EngineErrorCode::LapiUnavailable, detail: None });
        }
        let mut slot = self.jwt.lock().await;
        if let Some((token, exp)) = slot.as_ref() {
            if *exp - 60 > now() {
                return Ok(token.clone());
            }
        }
        let creds = self.engine.machine_credentials().map_err(lapi_down)?;
        let jwt = self.engine.lapi().login(&creds.login, creds.password()).await.map_err(lapi_down)?;
        let exp = time::OffsetDateTime::parse(&jwt.expire, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .unwrap_or_else(|_| now() + 600);
        *slot = Some((jwt.token.clone(), exp));
        Ok(jwt.token)
    }

    /// Runs `f` with a valid token, logging in once more if the LAPI refuses the cached one.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, AppError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, LapiError>>,
    {
        let token = self.token().await?;
        match f(token).await {
            Err(LapiError::Rejected) => {
                *self.jwt.lock().await = None;
                let token = self.token().await?;
                f(token).await.map_err(lapi_down)
            }
            other => other.map_err(lapi_down),
        }
    }
}
