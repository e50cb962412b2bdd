//! REST routes of the engine under `/api/v1/cerberus/crowdsec/`: status, start, stop, the bouncer
//! and its key, and a Server-Sent Events stream of status changes. Viewers may read the status;
//! everything else is admin only.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::stream::Stream;
use serde_json::json;
use tokio_stream::wrappers::WatchStream;
use tokio_stream::StreamExt;

use app::model::Principal;
use app::security_model::{BouncerInfo, EngineStatus};

use super::error::ApiError;
use super::require_admin;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cerberus/crowdsec/status", get(status))
        .route("/api/v1/cerberus/crowdsec/events", get(events))
        .route("/api/v1/cerberus/crowdsec/start", post(start))
        .route("/api/v1/cerberus/crowdsec/stop", post(stop))
        .route("/api/v1/cerberus/crowdsec/bouncer", get(bouncer))
        .route("/api/v1/cerberus/crowdsec/bouncer/key", get(bouncer_key))
        .route("/api/v1/cerberus/crowdsec/bouncer/rotate", post(rotate))
}

async fn status(State(s): State<AppState>) -> Json<EngineStatus> {
    Json(s.crowdsec.status())
}

/// One `status` event now and one per change; a comment every 15 s keeps proxies from closing it.
async fn events(State(s): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = WatchStream::new(s.crowdsec.subscribe()).map(|status| {
        Ok(Event::default()
            .event("status")
            .json_data(&status)
            .unwrap_or_else(|_| Event::default().comment("unserialisable status")))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn start(State(s): State<AppState>, Extension(p): Extension<Principal>) -> Result<Json<EngineStatus>, ApiError> {
    require_admin(&p)?;
    Ok(Json(s.crowdsec.set_enabled(&p.username, true).await?))
}

async fn stop(State(s): State<AppState>, Extension(p): Extension<Principal>) -> Result<Json<EngineStatus>, ApiError> {
    require_admin(&p)?;
    Ok(Json(s.crowdsec.set_enabled(&p.username, false).await?))
}

async fn bouncer(State(s): State<AppState>, Extension(p): Extension<Principal>) -> Result<Json<BouncerInfo>, ApiError> {
    require_admin(&p)?;
    Ok(Json(s.crowdsec.bouncer_info().await?))
}

async fn bouncer_key(State(s): State<AppState>, Extension(p): Extension<Principal>) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&p)?;
    let key = s.crowdsec.bouncer_key(&p.username).await?;
    Ok(Json(json!({ "key": key })))
}

async fn rotate(State(s): State<AppState>, Extension(p): Extension<Principal>) -> Result<Json<BouncerInfo>, ApiError> {
    require_admin(&p)?;
    Ok(Json(s.crowdsec.rotate_bouncer_key(&p.username).await?))
}
