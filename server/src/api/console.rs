//! REST routes of console enrollment and diagnostics under `/api/v1/cerberus/crowdsec/`:
//! `console/enroll`, `console/status`, `console/enrollment` (DELETE: local reset),
//! `console/heartbeat`, `diagnostics/connectivity`, `diagnostics/config`. Enrollment errors answer
//! `{"error": "<documented message>", "status": "<enrollment status>", "code": …}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use app::console_model::{ConfigCheck, Connectivity, EnrollInput, EnrollRequest, EnrollmentStatus};
use app::error::AppError;
use app::model::Principal;

use super::error::ApiError;
use super::require_admin;
use crate::console::ConsoleServices;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cerberus/crowdsec/console/enroll", post(enroll))
        .route("/api/v1/cerberus/crowdsec/console/status", get(status))
        .route("/api/v1/cerberus/crowdsec/console/enrollment", delete(clear))
        .route("/api/v1/cerberus/crowdsec/console/heartbeat", post(heartbeat))
        .route("/api/v1/cerberus/crowdsec/diagnostics/connectivity", get(connectivity))
        .route("/api/v1/cerberus/crowdsec/diagnostics/config", get(config))
}

fn services(s: &AppState) -> ConsoleServices {
    ConsoleServices { console: s.console.clone(), config: s.config.clone() }
}

/// An enrollment error with the current status attached.
async fn failure(s: &AppState, e: AppError) -> Response {
    let status = s.console.status().await.map(|st| st.status.as_str()).unwrap_or("not_enrolled");
    match e {
        AppError::Engine { code, detail } => {
            let body = json!({
                "error": crate::console::message(&AppError::Engine { code, detail: detail.clone() }),
                "code": code.as_str(),
                "status": status,
            });
            (app::auth::guard::engine_status_code(code), Json(body)).into_response()
        }
        other => ApiError::from(other).into_response(),
    }
}

async fn enroll(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Result<Json<EnrollInput>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(e) = require_admin(&p) {
        return e.into_response();
    }
    let Json(input) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let req = match EnrollRequest::parse(&input, s.console.hostname()) {
        Ok(r) => r,
        Err(code) => return ApiError::Invalid(code).into_response(),
    };
    match s.console.enroll(&p.username, req).await {
        Ok(st) => Json(st).into_response(),
        Err(e) => failure(&s, e).await,
    }
}

async fn status(State(s): State<AppState>) -> Result<Json<EnrollmentStatus>, ApiError> {
    Ok(Json(s.console.status().await?))
}

async fn clear(State(s): State<AppState>, Extension(p): Extension<Principal>) -> Result<Response, ApiError> {
    require_admin(&p)?;
    s.console.clear(&p.username).await?;
    Ok((StatusCode::OK, Json(json!({"message": "enrollment state cleared"}))).into_response())
}

async fn heartbeat(State(s): State<AppState>, Extension(p): Extension<Principal>) -> Response {
    if let Err(e) = require_admin(&p) {
        return e.into_response();
    }
    match s.console.heartbeat().await {
        Ok(st) => Json(st).into_response(),
        Err(e) => failure(&s, e).await,
    }
}

async fn connectivity(State(s): State<AppState>) -> Json<Connectivity> {
    Json(services(&s).connectivity().await)
}

async fn config(State(s): State<AppState>) -> Json<Vec<ConfigCheck>> {
    Json(services(&s).config_checks().await)
}
