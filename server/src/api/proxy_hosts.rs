//! REST routes of proxy hosts (`/api/v1/proxy-hosts`) and the data-plane status
//! (`/api/v1/proxy/status`). Changes are admin only, audited, and applied to Caddy before they
//! answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};

use app::model::Principal;
use app::proxy_model::{DataPlaneStatus, ProxyHost, ProxyHostInput};

use super::error::ApiError;
use super::require_admin;
use crate::proxy::Proxy;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/proxy-hosts", get(list).post(create))
        .route("/api/v1/proxy-hosts/{id}", put(update).delete(remove))
        .route("/api/v1/proxy/status", get(status))
}

type Body = Result<Json<ProxyHostInput>, axum::extract::rejection::JsonRejection>;

async fn list(State(s): State<AppState>) -> Result<Json<Vec<ProxyHost>>, ApiError> {
    Ok(Json(s.proxy.list().await?))
}

async fn create(State(s): State<AppState>, Extension(p): Extension<Principal>, body: Body) -> Result<(StatusCode, Json<ProxyHost>), ApiError> {
    require_admin(&p)?;
    let Json(input) = body?;
    let spec = Proxy::parse(&input)?;
    Ok((StatusCode::CREATED, Json(s.proxy.create(&p.username, spec).await?)))
}

async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    body: Body,
) -> Result<Json<ProxyHost>, ApiError> {
    require_admin(&p)?;
    let Json(input) = body?;
    let spec = Proxy::parse(&input)?;
    Ok(Json(s.proxy.update(&p.username, id, spec).await?))
}

async fn remove(State(s): State<AppState>, Extension(p): Extension<Principal>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    require_admin(&p)?;
    s.proxy.delete(&p.username, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn status(State(s): State<AppState>) -> Json<DataPlaneStatus> {
    Json(s.proxy.status().await)
}
