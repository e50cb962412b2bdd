//! `app::services::DecisionService` for the server functions, over `Decisions` and `Allowlist`.

use app::decisions_model::{AllowAdded, AllowEntry, BanRequest, Decision, DecisionPage, DecisionQuery, IpOrRange, Reason};
use app::error::AppError;
use app::model::Principal;
use app::services::DecisionService;

use crate::allowlist::Allowlist;
use crate::decisions::Decisions;

/// The decision and allowlist services behind one contract object.
#[derive(Clone)]
pub struct DecisionServices {
    pub decisions: Decisions,
    pub allowlist: Allowlist,
}

#[async_trait::async_trait]
impl DecisionService for DecisionServices {
    fn list(&self, query: &DecisionQuery) -> DecisionPage {
        self.decisions.list(query)
    }

    async fn ban(&self, actor: &Principal, request: BanRequest) -> Result<Decision, AppError> {
        self.decisions.ban(&actor.username, request).await
    }

    async fn unban(&self, actor: &Principal, id: i64) -> Result<u64, AppError> {
        self.decisions.unban_id(&actor.username, id).await
    }

    async fn unban_value(&self, actor: &Principal, target: IpOrRange) -> Result<u64, AppError> {
        self.decisions.unban_value(&actor.username, target).await
    }

    async fn allowlist(&self) -> Result<Vec<AllowEntry>, AppError> {
        self.allowlist.list().await
    }

    async fn allow(&self, actor: &Principal, target: IpOrRange, reason: Reason) -> Result<AllowAdded, AppError> {
        self.allowlist.add(&actor.username, target, reason).await
    }

    async fn disallow(&self, actor: &Principal, target: IpOrRange) -> Result<(), AppError> {
        self.allowlist.remove(&actor.username, target).await
    }
}
