//! REST routes of accounts: who am I, users and API tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::accounts::model::{ApiTokenSummary, Password, Principal, Role, SessionInfo, TokenName, UserSummary, Username};
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
    all: bool,
}

/// The caller's live sessions (`all=true`: everyone's, for administrators), most recently used first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "accounts", security(("bearer" = []), ("session" = [])), params(SessionsQuery),
    responses((status = 200, body = Vec<SessionInfo>), (status = 403, description = "`all=true` from someone who is not an administrator")))]
async fn list_sessions(State(s): State<Services>, Extension(p): Extension<Principal>, q: Result<axum::extract::Query<SessionsQuery>, axum::extract::rejection::QueryRejection>) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let all = q.map(|q| q.0.all).unwrap_or(false);
    Ok(Json(s.accounts.sessions(&p, all).await?))
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
