//! Server functions of the Settings pages: users, API tokens and sessions. Thin: authorise, parse, call the
//! `AccountService`, map the error.

use leptos::prelude::*;

use crate::error::AppError;
use crate::accounts::model::{ApiTokenSummary, NewApiToken, SessionInfo, UserSummary};
#[cfg(feature = "ssr")]
use crate::accounts::model::{Password, Role, TokenName, Username};
#[cfg(feature = "ssr")]
use crate::auth::guard;

#[server(prefix = "/rpc", endpoint = "users/list")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    guard::principal()?;
    guard::status_for(guard::services()?.accounts.list_users().await)
}

#[server(prefix = "/rpc", endpoint = "users/create")]
pub async fn create_user(
    username: String,
    password: String,
    role: String,
) -> Result<UserSummary, AppError> {
    let actor = guard::admin()?;
    let result = async {
        let username = Username::parse(&username)?;
        let password = Password::parse(&password)?;
        let role = Role::parse(&role)?;
        guard::services()?
            .accounts
            .create_user(&actor, username, password, role)
            .await
    }
    .await;
    guard::status_for(result)
}

#[server(prefix = "/rpc", endpoint = "tokens/list")]
pub async fn list_tokens() -> Result<Vec<ApiTokenSummary>, AppError> {
    guard::principal()?;
    guard::status_for(guard::services()?.accounts.list_tokens().await)
}

#[server(prefix = "/rpc", endpoint = "tokens/create")]
pub async fn create_token(name: String, role: String) -> Result<NewApiToken, AppError> {
    let actor = guard::admin()?;
    let result = async {
        let name = TokenName::parse(&name)?;
        let role = Role::parse(&role)?;
        guard::services()?
            .accounts
            .create_token(&actor, name, role)
            .await
    }
    .await;
    guard::status_for(result)
}

#[server(prefix = "/rpc", endpoint = "tokens/revoke")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.accounts.revoke_token(&actor, id).await)
}

/// The caller's live sessions; `everyone` (administrators): all users'.
#[server(prefix = "/rpc", endpoint = "sessions/list")]
pub async fn list_sessions(everyone: bool) -> Result<Vec<SessionInfo>, AppError> {
    let caller = guard::principal()?;
    guard::status_for(guard::services()?.accounts.sessions(&caller, everyone).await)
}

/// Ends one of the caller's sessions (an administrator: anyone's).
#[server(prefix = "/rpc", endpoint = "sessions/end")]
pub async fn end_session(id: String) -> Result<(), AppError> {
    let caller = guard::principal()?;
    guard::status_for(guard::services()?.accounts.end_session(&caller, &id).await)
}
