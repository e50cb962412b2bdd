//! REST routes of accounts: who am I, users, API tokens, sessions, and how people sign in.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::accounts::model::{ApiTokenSummary, Password, Principal, Role, SessionInfo, SignInSettings, SignInSettingsInput, TokenName, TwoFactorStatus, UserSummary, Username};
use app::services::Services;

use super::admin::AdminCaller;
use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
        .routes(routes!(sign_in_settings, save_sign_in_settings))
        .routes(routes!(two_factor_status))
        .routes(routes!(require_two_factor))
}

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// The caller.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "accounts", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Principal), (status = 401, description = "Not signed in")))]
async fn me(Extension(p): Extension<Principal>) -> Json<Principal> {
    Json(p)
}

#[utoipa::path(get, path = "/api/v1/users", tag = "accounts", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Vec<UserSummary>)))]
async fn list_users(State(s): State<Services>) -> Result<Json<Vec<UserSummary>>, ApiError> {
    Ok(Json(s.accounts.list_users().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewUser {
    username: String,
    /// At least 12 characters.
    password: String,
    role: Role,
}

#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    request_body = NewUser,
    responses((status = 201, body = UserSummary), (status = 400, description = "Invalid field"),
        (status = 403, description = "Not an administrator"), (status = 409, description = "Username taken")))]
async fn create_user(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Body<NewUser>) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let username = Username::parse(&body.username)?;
    let password = Password::parse(&body.password)?;
    let user = s.accounts.create_user(&admin, username, password, body.role).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Vec<ApiTokenSummary>)))]
async fn list_tokens(State(s): State<Services>) -> Result<Json<Vec<ApiTokenSummary>>, ApiError> {
    Ok(Json(s.accounts.list_tokens().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewToken {
    name: String,
    /// `viewer` when absent.
    #[serde(default = "default_token_role")]
    role: Role,
}

fn default_token_role() -> Role {
    Role::Viewer
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct CreatedToken {
    /// Shown only this once.
    token: String,
    summary: ApiTokenSummary,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, description = "Invalid name"), (status = 403, description = "Not an administrator")))]
async fn create_token(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Body<NewToken>) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let name = TokenName::parse(&body.name)?;
    let created = s.accounts.create_token(&admin, name, body.role).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token: created.token, summary: created.summary })).into_response())
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "accounts", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"), (status = 403, description = "Not an administrator"), (status = 404, description = "No such token")))]
async fn revoke_token(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    s.accounts.revoke_token(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
struct SessionsQuery {
    /// `true`: every user's sessions (administrators only).
    #[serde(default)]
    #[param(value_type = Option<bool>)]
    all: Option<String>,
}

/// The caller's live sessions (`all=true`: everyone's, for administrators), most recently used first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "accounts", security(("bearer" = []), ("session" = [])), params(SessionsQuery),
    responses((status = 200, body = Vec<SessionInfo>), (status = 400, description = "`all` is neither `true` nor `false`"),
        (status = 403, description = "`all=true` from someone who is not an administrator")))]
async fn list_sessions(State(s): State<Services>, Extension(p): Extension<Principal>, q: Result<axum::extract::Query<SessionsQuery>, axum::extract::rejection::QueryRejection>) -> Result<Response, ApiError> {
    let axum::extract::Query(q) = q?;
    let all = match q.all.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            let body = serde_json::json!({"error": "all must be true or false", "code": app::error::ErrorCode::ValueInvalid.as_str(), "field": "all"});
            return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
        }
    };
    Ok(Json(s.accounts.sessions(&p, all).await?).into_response())
}

/// Ends a session: one's own (any role), or anyone's (administrators). Its browser is signed out
/// at its next request.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "accounts", security(("bearer" = ["admin", "operator", "viewer"]), ("session" = ["admin", "operator", "viewer"])),
    params(("id" = String, Path, description = "The session's `id` from the list")),
    responses((status = 204, description = "Ended"), (status = 404, description = "No such session of yours")))]
async fn end_session(State(s): State<Services>, Extension(p): Extension<Principal>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    s.accounts.end_session(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How people sign in: single sign-on's provider (the client secret is never returned, only
/// whether one is stored) and whether local passwords sign in.
#[utoipa::path(get, path = "/api/v1/settings/sign-in", tag = "accounts", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = SignInSettings), (status = 403, description = "Not an administrator")))]
async fn sign_in_settings(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Result<Json<SignInSettings>, ApiError> {
    Ok(Json(s.sign_in.settings(&admin).await?))
}

/// Saves how people sign in, in force at the next sign-in. The provider's discovery document must
/// answer for the issuer first; password sign-in can be turned off only once an administrator has
/// signed in through that provider (`charon admin reset-password` turns it on again).
#[utoipa::path(put, path = "/api/v1/settings/sign-in", tag = "accounts", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    request_body = SignInSettingsInput,
    responses((status = 200, body = SignInSettings),
        (status = 400, description = "Invalid field (named: issuer — also when its discovery document does not answer —, client_id, scopes, role_map, label, password_login)"),
        (status = 403, description = "Not an administrator")))]
async fn save_sign_in_settings(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Body<SignInSettingsInput>) -> Result<Json<SignInSettings>, ApiError> {
    let Json(body) = body?;
    Ok(Json(s.sign_in.save(&admin, body).await?))
}

/// The caller's second factor (set up, turned on and off in a browser session only: Settings →
/// Two-factor sign-in), and whether an administrator requires one for every local account.
#[utoipa::path(get, path = "/api/v1/account/two-factor", tag = "accounts", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = TwoFactorStatus)))]
async fn two_factor_status(State(s): State<Services>, Extension(p): Extension<Principal>) -> Result<Json<TwoFactorStatus>, ApiError> {
    Ok(Json(s.two_factor.status(&p).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct TwoFactorPolicy {
    /// Every local account must have a second factor (accounts of the identity provider excepted).
    required: bool,
}

/// Whether every local account needs a second factor; one without is sent to set it up at its next page.
#[utoipa::path(put, path = "/api/v1/settings/two-factor", tag = "accounts", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    request_body = TwoFactorPolicy,
    responses((status = 204, description = "Saved"), (status = 400, description = "Not `{\"required\": true|false}`"), (status = 403, description = "Not an administrator")))]
async fn require_two_factor(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Body<TwoFactorPolicy>) -> Result<StatusCode, ApiError> {
    let Json(body) = body?;
    s.two_factor.set_required(&admin, body.required).await?;
    Ok(StatusCode::NO_CONTENT)
}
