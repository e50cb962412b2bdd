//! `app::services::SecurityService` for the server functions, over `CrowdSec`.

use app::error::AppError;
use app::model::Principal;
use app::security_model::{BouncerInfo, EngineStatus};
use app::services::SecurityService;

use super::CrowdSec;

#[async_trait::async_trait]
impl SecurityService for CrowdSec {
    fn engine_status(&self) -> EngineStatus {
        self.status()
    }

    async fn set_engine_enabled(&self, actor: &Principal, enabled: bool) -> Result<EngineStatus, AppError> {
        self.set_enabled(&actor.username, enabled).await
    }

    async fn bouncer_info(&self) -> Result<BouncerInfo, AppError> {
        CrowdSec::bouncer_info(self).await
    }

    async fn bouncer_key(&self, actor: &Principal) -> Result<String, AppError> {
        CrowdSec::bouncer_key(self, &actor.username).await
    }

    async fn rotate_bouncer_key(&self, actor: &Principal) -> Result<BouncerInfo, AppError> {
        CrowdSec::rotate_bouncer_key(self, &actor.username).await
    }
}
