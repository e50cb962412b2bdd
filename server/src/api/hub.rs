//! REST routes of Hub presets under `/api/v1/cerberus/crowdsec/hub`: the filtered catalogue, one
//! item's detail, and install / remove (admin only, audited, one at a time).

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::error::{AppError, ErrorCode};
use app::hub::model::{HubChange, HubItem, HubItemDetail, HubItemRef, HubItemType, HubQuery};
use app::services::Services;

use super::admin::AdminCaller;
use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(install))
        .routes(routes!(remove))
        .routes(routes!(detail))
}

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// The query string as text, so a bad `type` is a 400 naming the field, not a bare rejection.
#[derive(Deserialize)]
struct ListQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    q: Option<String>,
    installed: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/hub", tag = "hub", security(("bearer" = []), ("session" = [])),
    params(
        ("type" = Option<String>, Query, description = "collections, parsers, scenarios or postoverflows"),
        ("q" = Option<String>, Query, description = "Words of the name, description or tags"),
        ("installed" = Option<bool>, Query, description = "Only installed (true) or not installed (false) items")
    ),
    responses((status = 200, body = Vec<HubItem>), (status = 400, description = "Invalid filter"), (status = 503, description = "The hub index is not available")))]
async fn list(State(s): State<Services>, Query(q): Query<ListQuery>) -> Result<Json<Vec<HubItem>>, ApiError> {
    let kind = q.kind.as_deref().filter(|k| !k.is_empty()).map(HubItemType::parse).transpose()?;
    let installed = match q.installed.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ErrorCode::ValueInvalid.into()),
    };
    Ok(Json(s.hub.list(&HubQuery { kind, q: q.q, installed }).await?))
}

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/hub/{kind}/{author}/{name}", tag = "hub", security(("bearer" = []), ("session" = [])),
    params(
        ("kind" = String, Path, description = "collections, parsers, scenarios or postoverflows"),
        ("author" = String, Path, description = "e.g. crowdsecurity"),
        ("name" = String, Path, description = "e.g. nginx")
    ),
    responses((status = 200, body = HubItemDetail), (status = 404, description = "No such item")))]
async fn detail(State(s): State<Services>, Path((kind, author, name)): Path<(String, String, String)>) -> Result<Json<HubItemDetail>, ApiError> {
    let kind = HubItemType::parse(&kind).map_err(|_| AppError::NotFound)?;
    Ok(Json(s.hub.detail(&HubItemRef::new(kind, format!("{author}/{name}"))).await?))
}

/// Installs an item and what it needs, restarts the engine and verifies it loaded them.
#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/hub/install", tag = "hub", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    request_body = HubItemRef,
    responses((status = 200, body = HubChange), (status = 400, description = "Invalid name"), (status = 403, description = "Not an administrator"),
        (status = 404, description = "No such item"), (status = 409, description = "Another change is in progress"),
        (status = 502, description = "The change failed and was rolled back")))]
async fn install(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Body<HubItemRef>) -> Result<Json<HubChange>, ApiError> {
    let Json(item) = body?;
    Ok(Json(s.hub.install(&admin, item).await?))
}

/// Removes an item and the dependencies nothing else needs.
#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/hub/remove", tag = "hub", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    request_body = HubItemRef,
    responses((status = 200, body = HubChange), (status = 400, description = "Invalid name"), (status = 403, description = "Not an administrator"),
        (status = 404, description = "No such item"), (status = 409, description = "Another change is in progress, or the item is part of an installed collection"),
        (status = 502, description = "The change failed and was rolled back")))]
async fn remove(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Body<HubItemRef>) -> Result<Json<HubChange>, ApiError> {
    let Json(item) = body?;
    Ok(Json(s.hub.remove(&admin, item).await?))
}
