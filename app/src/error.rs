//! The one error type server functions return. The browser receives `{kind, code}` and translates
//! it; internal details stay in the server log.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A machine-readable reason for a rejected input; each has a message in every locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    #[error("username_invalid")]
    UsernameInvalid,
    #[error("username_taken")]
    UsernameTaken,
    #[error("password_too_short")]
    PasswordTooShort,
    #[error("password_too_long")]
    PasswordTooLong,
    #[error("password_mismatch")]
    PasswordMismatch,
    #[error("name_invalid")]
    NameInvalid,
    #[error("role_invalid")]
    RoleInvalid,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UsernameInvalid => "username_invalid",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::PasswordTooShort => "password_too_short",
            ErrorCode::PasswordTooLong => "password_too_long",
            ErrorCode::PasswordMismatch => "password_mismatch",
            ErrorCode::NameInvalid => "name_invalid",
            ErrorCode::RoleInvalid => "role_invalid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ErrorCode::UsernameInvalid,
            ErrorCode::UsernameTaken,
            ErrorCode::PasswordTooShort,
            ErrorCode::PasswordTooLong,
            ErrorCode::PasswordMismatch,
            ErrorCode::NameInvalid,
            ErrorCode::RoleInvalid,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum AppError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0}")]
    Invalid(ErrorCode),
    #[error("internal error")]
    Internal,
    /// Transport-level failure (network, decoding) reported by the server-fn machinery.
    #[error("request failed")]
    Transport,
}

impl From<ErrorCode> for AppError {
    fn from(code: ErrorCode) -> Self {
        AppError::Invalid(code)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(_value: ServerFnErrorErr) -> Self {
        AppError::Transport
    }
}
