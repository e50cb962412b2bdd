//! Server functions of the Settings pages: users, API tokens, sessions, the second factor and how people sign in. Thin: authorise, parse, call the
//! `AccountService`, map the error.

use leptos::prelude::*;

use crate::error::AppError;
use crate::accounts::model::{ApiTokenSummary, NewApiToken, SessionInfo, SignInSettings, TotpSetup, TwoFactorStatus, UserSummary};
#[cfg(feature = "ssr")]
use crate::accounts::model::{Password, Role, SignInSettingsInput, TokenName, Username};
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

/// The caller's second factor.
#[server(prefix = "/rpc", endpoint = "totp/status")]
pub async fn totp_status() -> Result<TwoFactorStatus, AppError> {
    let caller = guard::principal()?;
    guard::status_for(guard::services()?.two_factor.status(&caller).await)
}

/// A new TOTP secret for the caller to set up.
#[server(prefix = "/rpc", endpoint = "totp/begin")]
pub async fn totp_begin() -> Result<TotpSetup, AppError> {
    let caller = guard::principal()?;
    guard::status_for(guard::services()?.two_factor.begin(&caller).await)
}

/// Turns the secret being set up on; the recovery codes, shown once.
#[server(prefix = "/rpc", endpoint = "totp/confirm")]
pub async fn totp_confirm(code: String) -> Result<Vec<String>, AppError> {
    let caller = guard::principal()?;
    guard::status_for(guard::services()?.two_factor.confirm(&caller, &code).await)
}

/// Turns the caller's second factor off (a current or recovery code proves it is them).
#[server(prefix = "/rpc", endpoint = "totp/disable")]
pub async fn totp_disable(code: String) -> Result<(), AppError> {
    let caller = guard::principal()?;
    guard::status_for(guard::services()?.two_factor.disable(&caller, &code).await)
}

/// Whether every local account needs a second factor (administrators).
#[server(prefix = "/rpc", endpoint = "totp/require")]
pub async fn totp_require(required: Option<String>) -> Result<(), AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.two_factor.set_required(&actor, required.is_some_and(|v| v == "on" || v == "true")).await)
}

/// How people sign in (administrators).
#[server(prefix = "/rpc", endpoint = "sign-in/settings")]
pub async fn read_sign_in() -> Result<SignInSettings, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.sign_in.settings(&actor).await)
}

/// Saves how people sign in (the page's form: a checkbox sends `password_login` only when ticked).
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/rpc", endpoint = "sign-in/save")]
pub async fn save_sign_in(
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    scopes: String,
    groups_claim: String,
    role_map: String,
    label: String,
    password_login: Option<String>,
) -> Result<SignInSettings, AppError> {
    let actor = guard::admin()?;
    let input = SignInSettingsInput {
        issuer,
        client_id,
        client_secret: client_secret.filter(|s| !s.is_empty()),
        scopes,
        groups_claim,
        role_map,
        label,
        password_login: password_login.is_some_and(|v| v == "on" || v == "true"),
    };
    guard::status_for(guard::services()?.sign_in.save(&actor, input).await)
}
