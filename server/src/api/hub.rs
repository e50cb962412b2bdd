//! REST routes of Hub presets under `/api/v1/cerberus/crowdsec/hub`: the filtered catalogue, one
//! item's detail, and install / remove (admin only, audited, one at a time).

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use app::hub_model::{HubChange, HubItem, HubItemDetail, HubItemRef, HubItemType, HubQuery};
use app::model::Principal;

use super::error::ApiError;
use super::require_admin;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cerberus/crowdsec/hub", get(list))
        .route("/api/v1/cerberus/crowdsec/hub/install", post(install))
        .route("/api/v1/cerberus/crowdsec/hub/remove", post(remove))
        .route("/api/v1/cerberus/crowdsec/hub/{kind}/{author}/{name}", get(detail))
}

/// The query string as text, so a bad `type` is a 400 naming the field, not a bare rejection.
#[derive(Deserialize)]
struct ListQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    q: Option<String>,
    installed: Option<String>,
}

async fn list(State(s): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Vec<HubItem>>, ApiError> {
    let kind = q.kind.as_deref().filter(|k| !k.is_empty()).map(HubItemType::parse).transpose()?;
    let installed = match q.installed.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(app::error::ErrorCode::ValueInvalid.into()),
    };
    Ok(Json(s.hub.list(&HubQuery { kind, q: q.q, installed }).await?))
}

async fn detail(
    State(s): State<AppState>,
    Path((kind, author, name)): Path<(String, String, String)>,
) -> Result<Json<HubItemDetail>, ApiError> {
    let kind = HubItemType::parse(&kind).map_err(|_| ApiError::NotFound)?;
    Ok(Json(s.hub.detail(&HubItemRef::new(kind, format!("{author}/{name}"))).await?))
}

async fn install(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Result<Json<HubItemRef>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<HubChange>, ApiError> {
    require_admin(&p)?;
    let Json(item) = body?;
    Ok(Json(s.hub.install(&p.username, item).await?))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Result<Json<HubItemRef>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<HubChange>, ApiError> {
    require_admin(&p)?;
    let Json(item) = body?;
    Ok(Json(s.hub.remove(&p.username, item).await?))
}
