//! `app::services::DecisionService` for the server functions, over `Decisions`.

use app::decisions_model::{BanRequest, Decision, DecisionPage, DecisionQuery};
use app::error::AppError;
use app::model::Principal;
use app::services::DecisionService;

use crate::decisions::Decisions;

#[async_trait::async_trait]
impl DecisionService for Decisions {
    fn list(&self, query: &DecisionQuery) -> DecisionPage {
        Decisions::list(self, query)
    }

    async fn ban(&self, actor: &Principal, request: BanRequest) -> Result<Decision, AppError> {
        Decisions::ban(self, &actor.username, request).await
    }

    async fn unban(&self, actor: &Principal, id: i64) -> Result<u64, AppError> {
        self.unban_id(&actor.username, id).await
    }
}
