//! Who is calling: the `whoami` server function and, on the server, the guards every server
//! function uses before it touches a service.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::Principal;

/// The signed-in user, or `None` (the auth layer already turned anonymous callers away from every
/// protected route, so `None` only happens on public pages).
#[server(prefix = "/rpc", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Principal>, AppError> {
    Ok(guard::principal().ok())
}

#[cfg(feature = "ssr")]
pub mod guard {
    use http::StatusCode;
    use leptos::prelude::*;

    use super::*;
    use crate::services::Services;

    fn set_status(code: StatusCode) {
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(code);
        }
    }

    /// The caller, or 401.
    pub fn principal() -> Result<Principal, AppError> {
        let found = use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>().cloned());
        found.ok_or_else(|| {
            set_status(StatusCode::UNAUTHORIZED);
            AppError::Unauthorized
        })
    }

    /// The caller if it may change things, or 401/403.
    pub fn admin() -> Result<Principal, AppError> {
        let p = principal()?;
        if p.role.may_mutate() {
            Ok(p)
        } else {
            set_status(StatusCode::FORBIDDEN);
            Err(AppError::Forbidden)
        }
    }

    pub fn services() -> Result<Services, AppError> {
        use_context::<Services>().ok_or(AppError::Internal)
    }

    pub fn engine_status_code(code: crate::error::EngineErrorCode) -> StatusCode {
        use crate::error::EngineErrorCode as E;
        match code {
            E::Busy | E::HubBusy | E::HubItemInUse | E::EnrollAlreadyEnrolled => StatusCode::CONFLICT,
            E::NotInstalled | E::LapiUnavailable | E::HubUnavailable | E::ProxyUnavailable | E::CapiOff => StatusCode::SERVICE_UNAVAILABLE,
            E::StartFailed | E::BouncerFailed | E::HubChangeFailed | E::ProxyRejected | E::CapiRefused | E::CapiUnavailable | E::EnrollUnauthorized => {
                StatusCode::BAD_GATEWAY
            }
            E::EnrollKeyRejected | E::EnrollTokenExpired => StatusCode::UNPROCESSABLE_ENTITY,
            E::CapiTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// Maps a service error to its HTTP status so browsers and scripts see the same codes as REST.
    pub fn status_for<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(e) = &result {
            set_status(match e {
                AppError::Unauthorized => StatusCode::UNAUTHORIZED,
                AppError::Forbidden => StatusCode::FORBIDDEN,
                AppError::NotFound => StatusCode::NOT_FOUND,
                AppError::Invalid { code: crate::error::ErrorCode::UsernameTaken | crate::error::ErrorCode::Duplicate | crate::error::ErrorCode::DomainTaken } => StatusCode::CONFLICT,
                AppError::Invalid { .. } => StatusCode::BAD_REQUEST,
                AppError::Engine { code, .. } => engine_status_code(*code),
                AppError::Internal | AppError::Transport => StatusCode::INTERNAL_SERVER_ERROR,
            });
        }
        result
    }
}
