//! REST routes of Live Decisions under `/api/v1/cerberus/crowdsec/`: list (filter, sort, page),
//! ban, unban by id or value, and a Server-Sent Events stream that fires on every change.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use futures_util::stream::Stream;
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

use app::decisions_model::{BanRequest, Decision, DecisionPage, DecisionQuery, IpOrRange};
use app::model::Principal;

use super::error::ApiError;
use super::require_admin;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cerberus/crowdsec/decisions", get(list).post(ban).delete(unban_value))
        .route("/api/v1/cerberus/crowdsec/decisions/events", get(events))
        .route("/api/v1/cerberus/crowdsec/decisions/{id}", delete(unban_id))
}

async fn list(State(s): State<AppState>, Query(q): Query<DecisionQuery>) -> Json<DecisionPage> {
    Json(s.decisions.list(&q))
}

#[derive(Deserialize)]
struct BanBody {
    value: String,
    duration: String,
    #[serde(default)]
    reason: String,
    #[serde(default, rename = "type")]
    kind: String,
}

async fn ban(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Result<Json<BanBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Decision>), ApiError> {
    require_admin(&p)?;
    let Json(b) = body?;
    let req = BanRequest::parse(&b.value, &b.duration, &b.reason, &b.kind)?;
    Ok((StatusCode::CREATED, Json(s.decisions.ban(&p.username, req).await?)))
}

#[derive(Deserialize)]
struct ValueQuery {
    value: String,
}

async fn unban_value(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<ValueQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&p)?;
    let target = IpOrRange::parse(&q.value)?;
    let n = s.decisions.unban_value(&p.username, target).await?;
    Ok(Json(serde_json::json!({ "deleted": n })))
}

async fn unban_id(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&p)?;
    let n = s.decisions.unban_id(&p.username, id).await?;
    Ok(Json(serde_json::json!({ "deleted": n })))
}

/// `changed` with the cache's version after every change; clients refetch what they show.
async fn events(State(s): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let first = s.decisions.cache().version();
    let initial = tokio_stream::once(Ok(Event::default().event("changed").data(first.to_string())));
    let changes = BroadcastStream::new(s.decisions.cache().subscribe()).filter_map(|v| {
        // A lagging client only needs to know that something changed.
        let v = v.unwrap_or(0);
        Some(Ok(Event::default().event("changed").data(v.to_string())))
    });
    Sse::new(initial.chain(changes)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

pub fn allowlist_router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cerberus/crowdsec/allowlist", get(allow_list).post(allow_add).delete(allow_remove))
}

async fn allow_list(State(s): State<AppState>) -> Result<Json<Vec<app::decisions_model::AllowEntry>>, ApiError> {
    Ok(Json(s.allowlist.list().await?))
}

#[derive(Deserialize)]
struct AllowBody {
    value: String,
    #[serde(default)]
    reason: String,
}

async fn allow_add(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Result<Json<AllowBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<app::decisions_model::AllowAdded>), ApiError> {
    require_admin(&p)?;
    let Json(b) = body?;
    let target = IpOrRange::parse(&b.value)?;
    let reason = app::decisions_model::Reason::parse(&b.reason)?;
    Ok((StatusCode::CREATED, Json(s.allowlist.add(&p.username, target, reason).await?)))
}

async fn allow_remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<ValueQuery>,
) -> Result<StatusCode, ApiError> {
    require_admin(&p)?;
    let target = IpOrRange::parse(&q.value)?;
    s.allowlist.remove(&p.username, target).await?;
    Ok(StatusCode::NO_CONTENT)
}
