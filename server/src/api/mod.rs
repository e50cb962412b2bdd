//! The REST API under `/api/v1`. Every handler authorises, parses with the same domain types as
//! the server functions, and calls the same services; errors are `{"error": "..."}` JSON with the
//! matching status code.

pub mod console;
pub mod crowdsec;
pub mod decisions;
pub mod error;
pub mod hub;
pub mod proxy_hosts;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use app::model::{Password, Principal, Role, TokenName, Username};
use app::services::AccountService;

use self::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .merge(crowdsec::router())
        .merge(decisions::router())
        .merge(decisions::allowlist_router())
        .merge(hub::router())
        .merge(console::router())
        .merge(proxy_hosts::router())
        .route("/api/{*rest}", any(|| async { ApiError::NotFound }))
}

pub fn require_admin(p: &Principal) -> Result<(), ApiError> {
    if p.role.may_mutate() {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

async fn me(Extension(p): Extension<Principal>) -> Json<Principal> {
    Json(p)
}

async fn list_users(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.accounts.list_users().await?).into_response())
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    role: Role,
}

async fn create_user(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NewUser>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&p)?;
    let Json(body) = body?;
    let username = Username::parse(&body.username)?;
    let password = Password::parse(&body.password)?;
    let user = s.accounts.create_user(&p, username, password, body.role).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn list_tokens(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.accounts.list_tokens().await?).into_response())
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    #[serde(default = "default_token_role")]
    role: Role,
}

fn default_token_role() -> Role {
    Role::Viewer
}

async fn create_token(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NewToken>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&p)?;
    let Json(body) = body?;
    let name = TokenName::parse(&body.name)?;
    let created = s.accounts.create_token(&p, name, body.role).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"token": created.token, "summary": created.summary})),
    )
        .into_response())
}

async fn revoke_token(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    require_admin(&p)?;
    s.accounts.revoke_token(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
