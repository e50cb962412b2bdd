//! `GET /metrics`: Charon's own metrics for Prometheus (everyone signed in: scrape with an API
//! token; a viewer token is the least it needs).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::services::Services;

use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(metrics))
}

/// The metrics in the OpenMetrics text format: `charon_engine_up`, `charon_engine_restarts_total`,
/// `charon_decisions{origin,type}`, `charon_requests_total{site,outcome,origin}`,
/// `charon_bouncer_up`, `charon_caddy_up`, `charon_bouncer_decisions`,
/// `charon_bouncer_sync_age_seconds`, `charon_notification_messages{status}`,
/// `charon_http_request_duration_seconds{method,route,status}`.
#[utoipa::path(get, path = "/metrics", tag = "overview", security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "application/openmetrics-text", body = String), (status = 401, description = "No token or session")))]
async fn metrics(State(s): State<Services>) -> Result<impl IntoResponse, ApiError> {
    let body = s.metrics.scrape().await?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body))
}
