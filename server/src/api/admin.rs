//! The REST side of "an `Admin` or nothing": a handler that takes [`AdminCaller`] cannot run for an
//! anonymous caller (401) or a viewer (403), and hands the handler the `Admin` value that mutating
//! and secret-revealing service methods require.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use app::error::AppError;
use app::accounts::model::{Admin, Principal};

use super::error::ApiError;

pub struct AdminCaller(pub Admin);

impl<S: Send + Sync> FromRequestParts<S> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let principal = parts.extensions.get::<Principal>().cloned().ok_or(AppError::Unauthorized)?;
        Ok(AdminCaller(Admin::for_request(principal, parts.method.as_str(), parts.uri.path()).map_err(AppError::from)?))
    }
}
