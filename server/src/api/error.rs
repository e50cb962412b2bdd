//! REST errors: an `AppError` answered with its status from the one table
//! (`AppError::http_status`, shared with the server functions) and a safe JSON body; internal
//! details stay in the server log.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use app::error::{AppError, ErrorCode};

#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    /// The body or query string is not the documented JSON / fields.
    Malformed,
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::App(code.into())
    }
}

impl From<app::decisions::model::BanInputError> for ApiError {
    fn from(e: app::decisions::model::BanInputError) -> Self {
        ApiError::App(e.into())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(_: JsonRejection) -> Self {
        // serde's message can quote the offending value (a password sent as a number, say), so
        // neither the client nor the log gets it.
        ApiError::Malformed
    }
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        ApiError::Malformed
    }
}

/// The JSON body of an error answer.
pub fn body(e: &AppError) -> serde_json::Value {
    match e {
        AppError::Unauthorized => json!({"error": "unauthorized"}),
        AppError::Forbidden => json!({"error": "forbidden"}),
        AppError::NotFound => json!({"error": "not found"}),
        AppError::Invalid { code: ErrorCode::UsernameTaken } => {
            json!({"error": "username already taken", "code": ErrorCode::UsernameTaken.as_str()})
        }
        AppError::Invalid { code: ErrorCode::Duplicate } => {
            json!({"error": "already on the allowlist", "code": "duplicate", "field": "value"})
        }
        AppError::Invalid { code: ErrorCode::DomainTaken } => {
            json!({"error": "another proxy host serves this domain", "code": "domain_taken", "field": "domain"})
        }
        AppError::Invalid { code: ErrorCode::NameTaken } => {
            json!({"error": "another channel has this name", "code": "name_taken", "field": "name"})
        }
        AppError::Invalid { code: ErrorCode::ExportTooLarge } => json!({
            "error": "the filters select more rows than one export may hold (decisions 200 000, alerts 10 000): narrow them",
            "code": "export_too_large", "field": "format"
        }),
        AppError::Invalid { code } => {
            json!({"error": format!("invalid {}", code.field()), "code": code.as_str(), "field": code.field()})
        }
        AppError::Engine { code, detail } => json!({"error": code.message(), "code": code.as_str(), "detail": detail}),
        AppError::LocksOut { address } => json!({
            "error": format!("this ban covers {address}, an address an administrator uses; send \"confirm\": true to ban it anyway"),
            "code": "locks_out", "address": address
        }),
        AppError::Internal | AppError::Transport => json!({"error": "internal error; details are in the server log"}),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::App(e) => (e.http_status(), Json(body(&e))).into_response(),
            ApiError::Malformed => (
                AppError::Invalid { code: ErrorCode::ValueInvalid }.http_status(),
                Json(json!({"error": "the request body must be JSON with the documented fields"})),
            )
                .into_response(),
        }
    }
}
