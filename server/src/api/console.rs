//! REST routes of console enrollment and diagnostics under `/api/v1/cerberus/crowdsec/`:
//! `console/enroll`, `console/status`, `console/enrollment` (DELETE: local reset),
//! `console/heartbeat`, `diagnostics/connectivity`, `diagnostics/config`. Enrollment errors answer
//! `{"error": "<documented message>", "status": "<enrollment status>", "code": …}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::console::model::{ConfigCheck, Connectivity, EnrollInput, EnrollRequest, EnrollmentStatus};
use app::error::AppError;
use app::services::Services;

use super::admin::AdminCaller;
use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(enroll))
        .routes(routes!(status))
        .routes(routes!(clear))
        .routes(routes!(heartbeat))
        .routes(routes!(connectivity))
        .routes(routes!(config))
}

/// An enrollment error with the current status attached.
async fn failure(s: &Services, e: AppError) -> Response {
    let status = s.console.status().await.map(|st| st.status.as_str()).unwrap_or("not_enrolled");
    match &e {
        AppError::Engine { code, .. } => {
            let body = json!({ "error": e.message(), "code": code.as_str(), "status": status });
            (e.http_status(), Json(body)).into_response()
        }
        _ => ApiError::from(e).into_response(),
    }
}

#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/console/enroll", tag = "console", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    request_body = EnrollInput,
    responses((status = 200, body = EnrollmentStatus), (status = 400, description = "Invalid field"), (status = 403, description = "Not an administrator"),
        (status = 409, description = "Already enrolled, or an enrollment is in progress"), (status = 422, description = "The console refused the key"),
        (status = 502, description = "The Central API failed"), (status = 503, description = "LAPI not available, or the Central API is off"),
        (status = 504, description = "The Central API timed out")))]
async fn enroll(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Result<Json<EnrollInput>, axum::extract::rejection::JsonRejection>) -> Response {
    let Json(input) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let req = match EnrollRequest::parse(&input, &s.console.default_agent_name()) {
        Ok(r) => r,
        Err(code) => return ApiError::from(code).into_response(),
    };
    match s.console.enroll(&admin, req).await {
        Ok(st) => Json(st).into_response(),
        Err(e) => failure(&s, e).await,
    }
}

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/console/status", tag = "console", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = EnrollmentStatus)))]
async fn status(State(s): State<Services>) -> Result<Json<EnrollmentStatus>, ApiError> {
    Ok(Json(s.console.status().await?))
}

/// Forgets the enrollment locally (the console keeps its side).
#[utoipa::path(delete, path = "/api/v1/cerberus/crowdsec/console/enrollment", tag = "console", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, description = "Cleared"), (status = 403, description = "Not an administrator")))]
async fn clear(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Result<Response, ApiError> {
    s.console.clear(&admin).await?;
    Ok((StatusCode::OK, Json(json!({"message": "enrollment state cleared"}))).into_response())
}

/// Logs in to the Central API now and pushes metrics; moves to `enrolled` once accepted.
#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/console/heartbeat", tag = "console", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = EnrollmentStatus), (status = 403, description = "Not an administrator"),
        (status = 502, description = "The Central API failed"), (status = 503, description = "The Central API is off")))]
async fn heartbeat(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Response {
    match s.console.heartbeat(&admin).await {
        Ok(st) => Json(st).into_response(),
        Err(e) => failure(&s, e).await,
    }
}

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/diagnostics/connectivity", tag = "console", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Connectivity)))]
async fn connectivity(State(s): State<Services>) -> Json<Connectivity> {
    Json(s.console.connectivity().await)
}

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/diagnostics/config", tag = "console", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Vec<ConfigCheck>)))]
async fn config(State(s): State<Services>) -> Json<Vec<ConfigCheck>> {
    Json(s.console.config_checks().await)
}
