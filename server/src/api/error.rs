//! REST errors: each variant maps once to a status code and a safe message.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use app::error::{AppError, EngineErrorCode, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(ErrorCode),
    #[error("malformed request body")]
    Body,
    #[error("engine error")]
    Engine {
        code: EngineErrorCode,
        detail: Option<String>,
    },
    #[error("internal error")]
    Internal,
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unauthorized => ApiError::Unauthorized,
            AppError::Forbidden => ApiError::Forbidden,
            AppError::NotFound => ApiError::NotFound,
            AppError::Invalid { code } => ApiError::Invalid(code),
            AppError::Engine { code, detail } => ApiError::Engine { code, detail },
            AppError::Internal | AppError::Transport => ApiError::Internal,
        }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::Invalid(code)
    }
}

impl From<app::decisions_model::BanInputError> for ApiError {
    fn from(e: app::decisions_model::BanInputError) -> Self {
        ApiError::Invalid(e.into())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(_: JsonRejection) -> Self {
        // serde's message can quote the offending value (a password sent as a number, say), so
        // neither the client nor the log gets it.
        ApiError::Body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"})),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, json!({"error": "forbidden"})),
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({"error": "not found"})),
            ApiError::Invalid(ErrorCode::UsernameTaken) => (
                StatusCode::CONFLICT,
                json!({"error": "username already taken", "code": ErrorCode::UsernameTaken.as_str()}),
            ),
            ApiError::Invalid(ErrorCode::Duplicate) => (
                StatusCode::CONFLICT,
                json!({"error": "already on the allowlist", "code": "duplicate", "field": "value"}),
            ),
            ApiError::Invalid(ErrorCode::DomainTaken) => (
                StatusCode::CONFLICT,
                json!({"error": "another proxy host serves this domain", "code": "domain_taken", "field": "domain"}),
            ),
            ApiError::Invalid(code) => (
                StatusCode::BAD_REQUEST,
                json!({"error": format!("invalid {}", code.field()), "code": code.as_str(), "field": code.field()}),
            ),
            ApiError::Body => (
                StatusCode::BAD_REQUEST,
                json!({"error": "the request body must be JSON with the documented fields"}),
            ),
            ApiError::Engine { code, detail } => (
                app::auth::guard::engine_status_code(*code),
                json!({"error": engine_message(*code), "code": code.as_str(), "detail": detail}),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "internal error; details are in the server log"}),
            ),
        };
        (status, Json(body)).into_response()
    }
}

/// The documented English messages (the spec's troubleshooting section quotes some of them).
pub fn engine_message(code: EngineErrorCode) -> &'static str {
    match code {
        EngineErrorCode::NotInstalled => "CrowdSec is not installed",
        EngineErrorCode::Busy => "a start or stop of CrowdSec is already in progress",
        EngineErrorCode::StartFailed => "CrowdSec failed to start",
        EngineErrorCode::LapiUnavailable => "LAPI not available",
        EngineErrorCode::BouncerFailed => "the bouncer key could not be registered",
        EngineErrorCode::HubUnavailable => "the hub index is not available",
        EngineErrorCode::HubBusy => "another hub install or remove is in progress",
        EngineErrorCode::HubItemInUse => "the item is part of an installed collection; remove the collection instead",
        EngineErrorCode::HubChangeFailed => "the change failed and was rolled back",
        EngineErrorCode::ProxyRejected => "Caddy refused the configuration; the previous one keeps running",
        EngineErrorCode::ProxyUnavailable => "the proxy is not running",
        EngineErrorCode::EnrollKeyRejected => "invalid enrollment key",
        EngineErrorCode::EnrollTokenExpired => "token expired",
        EngineErrorCode::EnrollUnauthorized => "unauthorized",
        EngineErrorCode::EnrollAlreadyEnrolled => "instance already enrolled",
        EngineErrorCode::CapiRefused => "connection refused",
        EngineErrorCode::CapiTimeout => "timeout",
        EngineErrorCode::CapiUnavailable => "CAPI unavailable",
        EngineErrorCode::CapiOff => "the Central API is turned off (capi_url = off)",
    }
}
