//! CrowdSec Console enrollment over the Central API (in Rust, over HTTP — no cscli, so the key is
//! never on a command line), the heartbeat poller, and diagnostics.
//!
//! States: `not_enrolled → enrolling → pending_acceptance → enrolled`, or `failed` with the last
//! error. Transient failures (timeouts, refused connections, 5xx) are retried three times with
//! backoff. The key is used for the one enrollment call and never stored (a re-enroll asks for it
//! again; the console issues a new one anyway).
//! The watcher's Central-API credentials are registered automatically when first needed.

pub mod capi;
pub mod credentials;
pub mod diagnose;
pub mod diagnostics;
mod service;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use app::console::model::{EnrollRequest, EnrollmentState, EnrollmentStatus};
use app::error::{AppError, EngineErrorCode};

use self::capi::{Capi, CapiError, EnrollAnswer, Login};
use self::credentials::OnlineCredentials;
use crate::config::Config;
use crate::crowdsec::CrowdSec;
use crate::db::{settings, Db};

const STATE_KEY: &str = "console.enrollment";
const ATTEMPTS: u32 = 3;

/// What is stored in the settings table: the public status. (Earlier versions also kept the key
/// sealed here; such a field is ignored and dropped at the next save.)
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    status: EnrollmentStatus,
}

#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    engine: CrowdSec,
    capi: Option<Capi>,
    creds_path: PathBuf,
    hostname: String,
    heartbeat_interval: Duration,
    /// The Central API's address (`None`: `capi_url = off`), for the configuration checks.
    capi_base: Option<String>,
    /// One enrollment or heartbeat at a time.
    busy: tokio::sync::Mutex<()>,
    /// Where a changed enrollment is announced (the console's notifications).
    events: crate::notify::Events,
}

fn now_rfc3339() -> String {
    crate::support::time::rfc3339(crate::support::time::now())
}

fn engine_error(code: EngineErrorCode, detail: Option<String>) -> AppError {
    AppError::Engine { code, detail }
}

/// A Central-API failure as the documented error.
fn capi_error(e: &CapiError, enrolling: bool) -> AppError {
    match e {
        CapiError::Timeout => engine_error(EngineErrorCode::CapiTimeout, None),
        CapiError::Refused => engine_error(EngineErrorCode::CapiRefused, None),
        CapiError::Status(401, _) => engine_error(EngineErrorCode::EnrollUnauthorized, None),
        CapiError::Status(403, m) if enrolling && m.to_lowercase().contains("expired") => {
            engine_error(EngineErrorCode::EnrollTokenExpired, None)
        }
        CapiError::Status(403, m) if enrolling && m.contains("attachment key") => engine_error(EngineErrorCode::EnrollKeyRejected, None),
        CapiError::Status(403, _) => engine_error(EngineErrorCode::EnrollUnauthorized, None),
        CapiError::Status(s, m) => engine_error(EngineErrorCode::CapiUnavailable, Some(format!("HTTP {s}: {m}"))),
        CapiError::Transport(m) => engine_error(EngineErrorCode::CapiUnavailable, Some(m.clone())),
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "console enrollment failure");
    AppError::Internal
}

impl Console {
    pub fn new(db: Db, engine: CrowdSec, config: &Config) -> Self {
        let hostname = crate::support::host_name()
            .map(|h| h.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).take(64).collect())
            .filter(|h: &String| !h.is_empty())
            .unwrap_or_else(|| "charon".to_owned());
        // Earlier versions kept the enrollment key sealed with this file; without it the sealed
        // value that may linger in the database until the next save can never be opened.
        let _ = std::fs::remove_file(config.data_dir.join("secret.key"));
        Console {
            inner: Arc::new(Inner {
                creds_path: engine.layout().online_credentials_file(),
                capi_base: config.capi_base(),
                capi: config.capi_base().map(|u| Capi::new(&u, Duration::from_secs(config.capi_timeout_secs))),
                heartbeat_interval: Duration::from_secs(config.heartbeat_interval_secs),
                db,
                engine,
                hostname,
                busy: tokio::sync::Mutex::new(()),
                events: crate::notify::Events::disconnected(),
            }),
        }
    }

    pub fn with_events(mut self, events: crate::notify::Events) -> Self {
        Arc::get_mut(&mut self.inner).expect("a new console is not shared").events = events;
        self
    }

    pub fn hostname(&self) -> &str {
        &self.inner.hostname
    }

    pub fn capi(&self) -> Option<&Capi> {
        self.inner.capi.as_ref()
    }

    async fn load(&self) -> Result<Stored, AppError> {
        let raw = settings::get(&self.inner.db, STATE_KEY).await.map_err(internal)?;
        Ok(raw.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default())
    }

    /// Stores the state; a change to another settled state (not the passing `enrolling`) is
    /// announced.
    async fn save(&self, s: &Stored) -> Result<(), AppError> {
        let before = self.load().await?.status.status;
        let json = serde_json::to_string(s).map_err(internal)?;
        settings::set(&self.inner.db, STATE_KEY, &json, crate::support::time::now()).await.map_err(internal)?;
        let now = s.status.status;
        let agent = s.status.agent_name.clone().unwrap_or_else(|| self.inner.hostname.clone());
        let detail = match now {
            _ if now == before => return Ok(()),
            EnrollmentState::Enrolling => return Ok(()),
            EnrollmentState::NotEnrolled => "This engine is no longer enrolled in the CrowdSec Console (reset in Charon).".to_owned(),
            EnrollmentState::PendingAcceptance => format!("Enrollment sent: accept the engine \"{agent}\" in the CrowdSec Console."),
            EnrollmentState::Enrolled => format!("The engine \"{agent}\" is enrolled in the CrowdSec Console."),
            EnrollmentState::Failed => format!("Enrollment in the CrowdSec Console failed: {}", s.status.last_error.clone().unwrap_or_default()),
        };
        self.inner.events.emit(app::notify::model::EventKind::EnrollmentChanged, crate::notify::Item { detail: Some(detail), ..Default::default() });
        Ok(())
    }

    pub async fn status(&self) -> Result<EnrollmentStatus, AppError> {
        Ok(self.load().await?.status)
    }

    /// The watcher's credentials, registering one with the Central API when there are none (or
    /// they belong to another URL). A new registration restarts a running engine so it starts
    /// talking to the Central API (community blocklist, signals).
    pub async fn ensure_registered(&self) -> Result<OnlineCredentials, AppError> {
        let capi = self.inner.capi.as_ref().ok_or_else(|| engine_error(EngineErrorCode::CapiOff, None))?;
        if let Ok(c) = OnlineCredentials::load(&self.inner.creds_path) {
            if c.url == capi.base() {
                return Ok(c);
            }
        }
        let creds = OnlineCredentials::generate(capi.base());
        if let Err(e) = self.with_retries("registration", || capi.register(&creds.login, &creds.password)).await {
            tracing::warn!("[CROWDSEC_ENROLLMENT] CAPI registration failed: {e}");
            return Err(capi_error(&e, false));
        }
        if let Some(dir) = self.inner.creds_path.parent() {
            std::fs::create_dir_all(dir).map_err(internal)?;
        }
        creds.save(&self.inner.creds_path).map_err(internal)?;
        tracing::info!("[CROWDSEC_ENROLLMENT] registered this engine with the Central API; restarting CrowdSec to use it");
        // Awaited (about a second): when this returns the engine runs with its CAPI client.
        if let Err(e) = self.inner.engine.restart_if_running().await {
            tracing::warn!("[CROWDSEC_ENROLLMENT] could not restart CrowdSec to use the Central API: {e:?}");
        }
        Ok(creds)
    }

    async fn login(&self, creds: &OnlineCredentials) -> Result<Login, CapiError> {
        let capi = self.inner.capi.as_ref().expect("checked by the caller");
        let mut scenarios: Vec<String> = self.inner.engine.loaded().map(|l| l.scenarios.into_iter().collect()).unwrap_or_default();
        scenarios.sort();
        capi.login(&creds.login, &creds.password, &scenarios).await
    }

    /// Runs `f` up to three times while it fails transiently (0.5 s, then 1 s apart).
    async fn with_retries<T, F, Fut>(&self, what: &str, mut f: F) -> Result<T, CapiError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, CapiError>>,
    {
        let mut attempt = 1;
        loop {
            match f().await {
                Err(e) if e.transient() && attempt < ATTEMPTS => {
                    attempt += 1;
                    tracing::warn!("[CROWDSEC_ENROLLMENT] {what} failed ({e}); retrying enrollment (attempt {attempt}/{ATTEMPTS})");
                    tokio::time::sleep(Duration::from_millis(500 * (1 << (attempt - 2)))).await;
                }
                other => return other,
            }
        }
    }

    async fn enroll_once(&self, req: &EnrollRequest) -> Result<(), AppError> {
        let creds = self.ensure_registered().await?;
        let capi = self.inner.capi.as_ref().expect("checked");
        let login = self.with_retries("enrollment", || self.login(&creds)).await.map_err(|e| capi_error(&e, false))?;
        let answer = self
            .with_retries("enrollment", || capi.enroll(&login, req.key.expose(), req.agent_name.as_str(), &req.tags, req.overwrite))
            .await
            .map_err(|e| capi_error(&e, true))?;
        if answer == EnrollAnswer::AlreadyEnrolled {
            return Err(engine_error(EngineErrorCode::EnrollAlreadyEnrolled, None));
        }
        Ok(())
    }

    /// Logs in to the Central API and pushes metrics; records the result. A login token with an
    /// `organization_id` means the console accepted the enrollment.
    pub async fn send_heartbeat(&self) -> Result<EnrollmentStatus, AppError> {
        let _guard = self.inner.busy.lock().await;
        let mut stored = self.load().await?;
        let result: Result<Login, AppError> = async {
            let creds = self.ensure_registered().await?;
            let capi = self.inner.capi.as_ref().expect("registered");
            let login = self.login(&creds).await.map_err(|e| capi_error(&e, false))?;
            capi.push_metrics(&login, &creds.login).await.map_err(|e| capi_error(&e, false))?;
            Ok(login)
        }
        .await;
        match result {
            Ok(login) => {
                stored.status.last_heartbeat_at = Some(now_rfc3339());
                stored.status.last_error = None;
                if login.organization_id.is_some() && stored.status.status != EnrollmentState::NotEnrolled {
                    if stored.status.status != EnrollmentState::Enrolled {
                        tracing::info!("[HEARTBEAT_POLLER] the console accepted the enrollment");
                        stored.status.enrolled_at = Some(now_rfc3339());
                    }
                    stored.status.status = EnrollmentState::Enrolled;
                }
                self.save(&stored).await?;
                tracing::info!("[HEARTBEAT_POLLER] heartbeat sent successfully");
                Ok(stored.status)
            }
            Err(e) => {
                let msg = e.message();
                tracing::warn!("[HEARTBEAT_POLLER] heartbeat failed: {msg}");
                stored.status.last_error = Some(msg);
                self.save(&stored).await?;
                Err(e)
            }
        }
    }

    /// The supervised poller: a heartbeat every interval while an enrollment exists.
    pub async fn run_poller(self) {
        tracing::info!(interval_secs = self.inner.heartbeat_interval.as_secs(), "[HEARTBEAT_POLLER] started");
        let mut ticker = tokio::time::interval(self.inner.heartbeat_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let due = matches!(
                self.status().await.map(|s| s.status),
                Ok(EnrollmentState::PendingAcceptance | EnrollmentState::Enrolled)
            );
            if due && self.inner.engine.status().lapi_ready {
                let _ = self.send_heartbeat().await;
            }
        }
    }

    /// Keeps the poller running: a panic in one round is logged and the poller starts again.
    pub fn spawn_poller(&self) {
        let console = self.clone();
        tokio::spawn(async move {
            loop {
                let task = tokio::spawn(console.clone().run_poller());
                match task.await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::error!("[HEARTBEAT_POLLER] stopped unexpectedly ({e}); restarting it");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                }
            }
        });
    }
}
