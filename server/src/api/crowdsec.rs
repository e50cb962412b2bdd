//! REST routes of the engine under `/api/v1/cerberus/crowdsec/`: status, start, stop, the bouncer
//! and its key, and a Server-Sent Events stream of status changes. Viewers may read the status;
//! everything else is admin only.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures_util::stream::Stream;
use serde_json::json;
use tokio_stream::StreamExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::security::model::{BouncerInfo, EngineStatus, SelfTestReport};
use app::services::Services;

use super::admin::AdminCaller;
use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(events))
        .routes(routes!(start))
        .routes(routes!(stop))
        .routes(routes!(bouncer))
        .routes(routes!(bouncer_key))
        .routes(routes!(rotate))
        .routes(routes!(self_test))
}

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/status", tag = "engine", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = EngineStatus)))]
async fn status(State(s): State<Services>) -> Json<EngineStatus> {
    Json(s.security.engine_status())
}

/// One `status` event now and one per change; a comment every 15 s keeps proxies from closing it.
#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/events", tag = "engine", security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "Server-Sent Events: `status` with an EngineStatus as data", content_type = "text/event-stream")))]
async fn events(State(s): State<Services>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = s.security.status_feed().map(|status| {
        Ok(Event::default()
            .event("status")
            .json_data(&status)
            .unwrap_or_else(|_| Event::default().comment("unserialisable status")))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Turns the engine on and waits until its LAPI is ready (or the start failed).
#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/start", tag = "engine", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = EngineStatus), (status = 403, description = "Not an administrator"),
        (status = 409, description = "A start or stop is in progress"), (status = 502, description = "CrowdSec failed to start"),
        (status = 503, description = "CrowdSec is not installed")))]
async fn start(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Result<Json<EngineStatus>, ApiError> {
    Ok(Json(s.security.set_engine_enabled(&admin, true).await?))
}

#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/stop", tag = "engine", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = EngineStatus), (status = 403, description = "Not an administrator"),
        (status = 409, description = "A start or stop is in progress")))]
async fn stop(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Result<Json<EngineStatus>, ApiError> {
    Ok(Json(s.security.set_engine_enabled(&admin, false).await?))
}

/// The bouncer's registration with its key masked.
#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/bouncer", tag = "engine", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = BouncerInfo), (status = 403, description = "Not an administrator")))]
async fn bouncer(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Result<Json<BouncerInfo>, ApiError> {
    Ok(Json(s.security.bouncer_info(&admin).await?))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct BouncerKey {
    key: String,
}

/// The full bouncer key; every read is audited.
#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/bouncer/key", tag = "engine", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = BouncerKey), (status = 403, description = "Not an administrator"), (status = 404, description = "No key yet")))]
async fn bouncer_key(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Result<Json<serde_json::Value>, ApiError> {
    let key = s.security.bouncer_key(&admin).await?;
    Ok(Json(json!({ "key": key })))
}

/// Registers a new key with the running engine; the old one stops working.
#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/bouncer/rotate", tag = "engine", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = BouncerInfo), (status = 403, description = "Not an administrator"),
        (status = 502, description = "The key could not be registered"), (status = 503, description = "LAPI not available")))]
async fn rotate(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Result<Json<BouncerInfo>, ApiError> {
    Ok(Json(s.security.rotate_bouncer_key(&admin).await?))
}

/// The enforcement self-test: a two-minute ban on a reserved test address (192.0.2.254) must reach
/// the bouncer, make every protected site answer 403 through Caddy, and after the unban every site
/// must serve again. Each step with its time; it stops at the first failure, says what to do, and
/// leaves nothing behind. 200 either way (`ok` says how it went).
#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/self-test", tag = "engine", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = SelfTestReport), (status = 403, description = "Not an administrator")))]
async fn self_test(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Result<Json<SelfTestReport>, ApiError> {
    Ok(Json(s.proxy.self_test(&admin).await?))
}
