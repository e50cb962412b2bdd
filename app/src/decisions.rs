//! Server functions of the Live Decisions page.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::decisions_model::{Decision, DecisionPage, DecisionQuery};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::{auth::guard, decisions_model::BanRequest};

// JSON input: the query is a struct with optional fields, which form encoding handles poorly.
#[server(prefix = "/rpc", endpoint = "decisions/list", input = Json)]
pub async fn list_decisions(query: DecisionQuery) -> Result<DecisionPage, AppError> {
    guard::principal()?;
    Ok(guard::services()?.decisions.list(&query))
}

#[server(prefix = "/rpc", endpoint = "decisions/ban")]
pub async fn ban_decision(value: String, duration: String, reason: String, kind: String) -> Result<Decision, AppError> {
    let actor = guard::admin()?;
    let result = async {
        let request = BanRequest::parse(&value, &duration, &reason, &kind)?;
        guard::services()?.decisions.ban(&actor, request).await
    }
    .await;
    guard::status_for(result)
}

#[server(prefix = "/rpc", endpoint = "decisions/unban")]
pub async fn unban_decision(id: i64) -> Result<u64, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.decisions.unban(&actor, id).await)
}
