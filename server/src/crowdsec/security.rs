//! The engine as the Security page and its REST routes see it: the toggle, the status feed and
//! the bouncer's registration and key. This is the `SecurityService` both roads call.

use futures_util::StreamExt;
use tokio_stream::wrappers::WatchStream;

use app::error::{AppError, EngineErrorCode};
use app::accounts::model::Admin;
use app::security::model::{key_preview, BouncerInfo, EngineStatus, KeySource};
use app::services::{Feed, SecurityService};

use super::bouncer_key::{BouncerKeys, BOUNCER_NAME};
use super::{engine_error, CrowdSec, ENABLED_KEY};
use crate::db::{audit, settings};
use crate::support::time::now;

#[async_trait::async_trait]
impl SecurityService for CrowdSec {
    fn engine_status(&self) -> EngineStatus {
        self.status()
    }

    fn status_feed(&self) -> Feed<EngineStatus> {
        WatchStream::new(self.subscribe()).boxed()
    }

    /// The user's toggle: persists the wish, then makes it so. A failed start keeps `enabled`
    /// and shows the error; nothing is silently reverted.
    async fn set_engine_enabled(&self, actor: &Admin, enabled: bool) -> Result<EngineStatus, AppError> {
        settings::set(&self.inner.db, ENABLED_KEY, if enabled { "true" } else { "false" }, now())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot persist the CrowdSec toggle");
                AppError::Internal
            })?;
        self.inner.status.send_modify(|s| s.enabled = enabled);
        audit::by(&self.inner.db, actor, if enabled { "crowdsec.enable" } else { "crowdsec.disable" }, "engine", if enabled { "turned on" } else { "turned off" }).await;
        if enabled {
            self.start().await
        } else {
            self.stop().await
        }
    }

    async fn bouncer_info(&self, _actor: &Admin) -> Result<BouncerInfo, AppError> {
        self.registration().await
    }

    /// The full key, for the Copy button and the REST route; every read is audited.
    async fn bouncer_key(&self, actor: &Admin) -> Result<String, AppError> {
        let key = self.inner.bouncer.lock().expect("bouncer lock").active.as_ref().map(|a| a.key.clone());
        let key = key.ok_or(AppError::NotFound)?;
        audit::by(&self.inner.db, actor, "bouncer.key_read", BOUNCER_NAME, "key shown").await;
        Ok(key)
    }

    async fn rotate_bouncer_key(&self, actor: &Admin) -> Result<BouncerInfo, AppError> {
        self.require_running()?;
        let cscli = self.cscli().ok_or(AppError::Engine { code: EngineErrorCode::NotInstalled, detail: None })?;
        let keys = BouncerKeys {
            env_key: None,
            key_file: self.inner.layout.bouncer_key_file(),
            lapi: &self.inner.lapi,
            cscli: &cscli,
        };
        let active = keys
            .register()
            .await
            .map_err(|e| engine_error(EngineErrorCode::BouncerFailed, format!("{e:#}")))?;
        {
            let mut res = self.inner.bouncer.lock().expect("bouncer lock");
            res.active = Some(active);
        }
        audit::by(&self.inner.db, actor, "bouncer.rotate", BOUNCER_NAME, "new key registered, old key deleted").await;
        self.registration().await
    }
}

impl CrowdSec {
    /// The bouncer's registration as the LAPI and the key file see it.
    pub async fn registration(&self) -> Result<BouncerInfo, AppError> {
        let res = self.inner.bouncer.lock().expect("bouncer lock").clone();
        let (registered, last_pull) = match (self.status().lapi_ready, self.cscli()) {
            (true, Some(cscli)) => match cscli.list_bouncers().await {
                Ok(list) => list
                    .into_iter()
                    .find(|(n, _)| n == BOUNCER_NAME)
                    .map(|(_, pull)| (true, pull))
                    .unwrap_or((false, None)),
                Err(e) => {
                    tracing::warn!("cannot list bouncers: {e}");
                    (false, None)
                }
            },
            _ => (false, None),
        };
        let active = res.active.as_ref();
        Ok(BouncerInfo {
            name: BOUNCER_NAME.to_owned(),
            key_preview: active.and_then(|a| key_preview(&a.key)),
            key_source: active.map(|a| a.source).unwrap_or(KeySource::None),
            key_path: self.inner.layout.bouncer_key_file().to_string_lossy().into_owned(),
            registered: registered && active.is_some(),
            last_pull: last_pull.filter(|p| !p.starts_with("0001-")),
            env_key_rejected: res.env_key_rejected,
        })
    }
}
