//! REST routes of notifications: channels (`/api/v1/notifications/channels`: list masked, create,
//! change, delete, send a test), the message history (`/api/v1/notifications/history`, resend),
//! and the engine's loopback hook (`/api/v1/internal/engine-alerts`, its own per-start token;
//! nothing else reaches it).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::notify::model::{Channel, ChannelInput, ChannelSaved, DigestPreview, HistoryPage, HistoryQuery, TestResult};
use app::services::Services;

use super::admin::AdminCaller;
use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, remove))
        .routes(routes!(test))
        .routes(routes!(digest))
        .routes(routes!(history))
        .routes(routes!(resend))
        .routes(routes!(engine_alerts))
}

type Body = Result<Json<ChannelInput>, axum::extract::rejection::JsonRejection>;

#[utoipa::path(get, path = "/api/v1/notifications/channels", tag = "notifications", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Vec<Channel>, description = "Every channel, its secrets masked")))]
async fn list(State(s): State<Services>) -> Result<Json<Vec<Channel>>, ApiError> {
    Ok(Json(s.notifications.channels().await?))
}

/// A new channel. A webhook without `secret` gets one made by Charon, returned this once.
#[utoipa::path(post, path = "/api/v1/notifications/channels", tag = "notifications", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    request_body = ChannelInput,
    responses((status = 201, body = ChannelSaved), (status = 400, description = "Invalid field (named)"), (status = 403, description = "Not an administrator"),
        (status = 409, description = "Another channel has this name")))]
async fn create(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Body) -> Result<(StatusCode, Json<ChannelSaved>), ApiError> {
    let Json(input) = body?;
    Ok((StatusCode::CREATED, Json(s.notifications.create_channel(&admin, input).await?)))
}

/// Changes what is given; secrets not given are kept.
#[utoipa::path(put, path = "/api/v1/notifications/channels/{id}", tag = "notifications", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "The channel's id")),
    request_body = ChannelInput,
    responses((status = 200, body = ChannelSaved), (status = 400, description = "Invalid field (named)"), (status = 403, description = "Not an administrator"),
        (status = 404, description = "No such channel"), (status = 409, description = "Another channel has this name")))]
async fn update(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>, body: Body) -> Result<Json<ChannelSaved>, ApiError> {
    let Json(input) = body?;
    Ok(Json(s.notifications.update_channel(&admin, id, input).await?))
}

#[utoipa::path(delete, path = "/api/v1/notifications/channels/{id}", tag = "notifications", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 204, description = "Deleted, with its history"), (status = 403, description = "Not an administrator"), (status = 404, description = "No such channel")))]
async fn remove(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    s.notifications.delete_channel(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test message now and says what the service answered (also recorded in the history).
#[utoipa::path(post, path = "/api/v1/notifications/channels/{id}/test", tag = "notifications", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 200, body = TestResult), (status = 403, description = "Not an administrator"), (status = 404, description = "No such channel")))]
async fn test(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<Json<TestResult>, ApiError> {
    Ok(Json(s.notifications.test_channel(&admin, id).await?))
}

/// Sends the channel's digest about the period that ends now (the last day, or week when the
/// channel's digest is weekly) and shows it: a preview of what the schedule sends.
#[utoipa::path(post, path = "/api/v1/notifications/channels/{id}/digest", tag = "notifications", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 200, body = DigestPreview, description = "The digest, as numbers and as the text sent, and how the delivery went"),
        (status = 403, description = "Not an administrator"), (status = 404, description = "No such channel")))]
async fn digest(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<Json<DigestPreview>, ApiError> {
    Ok(Json(s.notifications.send_digest(&admin, id).await?))
}

/// Messages, newest first: pending (in their window, retrying, held), sent, failed.
#[utoipa::path(get, path = "/api/v1/notifications/history", tag = "notifications", security(("bearer" = []), ("session" = [])),
    params(("channel" = Option<i64>, Query, description = "One channel's"), ("status" = Option<String>, Query, description = "pending, sent or failed"),
        ("page" = Option<usize>, Query, description = "1-based, 50 a page")),
    responses((status = 200, body = HistoryPage)))]
async fn history(State(s): State<Services>, q: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>) -> Result<Json<HistoryPage>, ApiError> {
    let Query(q) = q.map_err(|_| ApiError::App(app::error::ErrorCode::ValueInvalid.into()))?;
    Ok(Json(s.notifications.history(&q).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Queued {
    /// The new message's id.
    id: i64,
}

/// Queues a sent or failed message again, as a new message.
#[utoipa::path(post, path = "/api/v1/notifications/history/{id}/resend", tag = "notifications", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "The message's id")),
    responses((status = 202, body = Queued), (status = 403, description = "Not an administrator"), (status = 404, description = "No such sent or failed message")))]
async fn resend(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<(StatusCode, Json<Queued>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(Queued { id: s.notifications.resend(&admin, id).await? })))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Received {
    alerts: usize,
}

/// The engine's notification plugin posts its alerts here (a JSON list), over loopback, with the
/// token of this console's start. Not for people or scripts: without that token, 401.
#[utoipa::path(post, path = "/api/v1/internal/engine-alerts", tag = "notifications", security(("engine_hook" = [])),
    request_body(content = Vec<serde_json::Value>, description = "The engine's alerts, as its http plugin formats them (`{{ .|toJson }}`)"),
    responses((status = 200, body = Received), (status = 400, description = "Not a list of alerts"), (status = 401, description = "Not the engine")))]
async fn engine_alerts(State(s): State<Services>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Json<Received>, ApiError> {
    let auth = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    Ok(Json(Received { alerts: s.notifications.engine_alerts(auth, &body).await? }))
}
