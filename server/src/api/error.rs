//! REST errors: each variant maps once to a status code and a safe message.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use app::error::{AppError, ErrorCode};

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
    #[error("internal error")]
    Internal,
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unauthorized => ApiError::Unauthorized,
            AppError::Forbidden => ApiError::Forbidden,
            AppError::NotFound => ApiError::NotFound,
            AppError::Invalid(code) => ApiError::Invalid(code),
            AppError::Internal | AppError::Transport => ApiError::Internal,
        }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::Invalid(code)
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
            ApiError::Invalid(code) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid input", "code": code.as_str()}),
            ),
            ApiError::Body => (
                StatusCode::BAD_REQUEST,
                json!({"error": "the request body must be JSON with the documented fields"}),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "internal error; details are in the server log"}),
            ),
        };
        (status, Json(body)).into_response()
    }
}
