//! Console enrollment, the forced heartbeat and the diagnostics as the `ConsoleService` REST and
//! the server functions both call.

use app::console::model::{ConfigCheck, Connectivity, EnrollRequest, EnrollmentState, EnrollmentStatus};
use app::error::{AppError, EngineErrorCode};
use app::accounts::model::Admin;
use app::security::model::EngineState;
use app::services::ConsoleService;

use super::{diagnostics, engine_error, now_rfc3339, Console, Stored};
use crate::db::audit;

#[async_trait::async_trait]
impl ConsoleService for Console {
    fn default_agent_name(&self) -> String {
        self.hostname().to_owned()
    }

    async fn status(&self) -> Result<EnrollmentStatus, AppError> {
        Console::status(self).await
    }

    async fn enroll(&self, actor: &Admin, req: EnrollRequest) -> Result<EnrollmentStatus, AppError> {
        if self.inner.capi.is_none() {
            return Err(engine_error(EngineErrorCode::CapiOff, None));
        }
        if !self.inner.engine.status().lapi_ready {
            return Err(engine_error(EngineErrorCode::LapiUnavailable, None));
        }
        let _guard = self.inner.busy.try_lock().map_err(|_| engine_error(EngineErrorCode::Busy, None))?;
        let mut stored = self.load().await?;
        let previous = stored.status.status;
        stored.status.status = EnrollmentState::Enrolling;
        stored.status.agent_name = Some(req.agent_name.as_str().to_owned());
        stored.status.tags = req.tags.clone();
        stored.status.last_attempt_at = Some(now_rfc3339());
        self.save(&stored).await?;
        tracing::info!(agent = req.agent_name.as_str(), "[CROWDSEC_ENROLLMENT] enrolling with the CrowdSec Console");

        let result = self.enroll_once(&req).await;
        match result {
            Ok(()) => {
                tracing::info!("[CROWDSEC_ENROLLMENT] enrollment completed");
                // A fresh enrollment waits for acceptance on the console; the heartbeat sees it.
                stored.status.status = EnrollmentState::PendingAcceptance;
                stored.status.enrolled_at = None;
                stored.status.last_error = None;
                self.save(&stored).await?;
                audit::by(&self.inner.db, actor, "console.enroll", req.agent_name.as_str(), "enrollment sent, pending acceptance").await;
                Ok(stored.status)
            }
            Err(e) => {
                let msg = e.message();
                tracing::warn!("[CROWDSEC_ENROLLMENT] enrollment failed: {msg}");
                // A repeated enroll of an enrolled engine does not lose what is true.
                let already = matches!(e, AppError::Engine { code: EngineErrorCode::EnrollAlreadyEnrolled, .. });
                stored.status.status = match previous {
                    EnrollmentState::Enrolled | EnrollmentState::PendingAcceptance if already => previous,
                    _ => EnrollmentState::Failed,
                };
                stored.status.last_error = Some(msg);
                self.save(&stored).await?;
                audit::outcome(&self.inner.db, actor, "console.enroll", req.agent_name.as_str(), "", &Err::<(), _>(e.clone())).await;
                Err(e)
            }
        }
    }

    /// Local reset: back to `not_enrolled` (the console keeps its side).
    async fn clear(&self, actor: &Admin) -> Result<EnrollmentStatus, AppError> {
        self.save(&Stored::default()).await?;
        audit::by(&self.inner.db, actor, "console.clear", "enrollment", "reset to not enrolled").await;
        Ok(EnrollmentStatus::default())
    }

    async fn heartbeat(&self, actor: &Admin) -> Result<EnrollmentStatus, AppError> {
        tracing::info!(by = actor.username(), "[HEARTBEAT_POLLER] heartbeat forced");
        self.send_heartbeat().await
    }

    async fn connectivity(&self) -> Connectivity {
        let engine = &self.inner.engine;
        let running = engine.status().state == EngineState::Running;
        let status = Console::status(self).await.map(|s| s.status).unwrap_or(EnrollmentState::NotEnrolled);
        diagnostics::connectivity(engine.lapi(), Some(running), self.capi(), status).await
    }

    async fn config_checks(&self) -> Vec<ConfigCheck> {
        let status = Console::status(self).await.unwrap_or_default();
        diagnostics::config_checks(self.inner.engine.layout(), self.inner.capi_base.as_deref(), &status)
    }
}
