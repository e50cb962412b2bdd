//! The REST API under `/api/v1`. Every handler parses with the same domain types as the server
//! functions and calls the same service contract (`app::services::Services`); a handler that
//! changes something or reveals a secret takes an [`admin::AdminCaller`]. Routes are registered
//! only through `utoipa_axum::routes!`, so the OpenAPI description (`openapi.rs`) is built from the
//! very list the router serves. Errors are `{"error": "..."}` JSON with the status of the one table.

pub mod accounts;
pub mod admin;
pub mod alerts;
pub mod audit;
pub mod console;
pub mod crowdsec;
pub mod decision_import;
pub mod decisions;
pub mod error;
pub mod export;
pub mod metrics;
pub mod nodes;
pub mod hub;
pub mod notifications;
pub mod openapi;
pub mod overview;
pub mod proxy_hosts;

use axum::extract::FromRef;
use axum::routing::any;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use app::services::Services;

use self::error::ApiError;

/// The REST routes and their OpenAPI description, for any state the `Services` can be taken from.
pub fn routes<S>() -> (Router<S>, utoipa::openapi::OpenApi)
where
    S: Clone + Send + Sync + 'static,
    Services: FromRef<S>,
{
    let (router, doc) = OpenApiRouter::with_openapi(openapi::base())
        .merge(accounts::routes())
        .merge(crowdsec::routes())
        .merge(decisions::routes())
        .merge(alerts::routes())
        .merge(audit::routes())
        .merge(decision_import::routes())
        .merge(hub::routes())
        .merge(console::routes())
        .merge(proxy_hosts::routes())
        .merge(notifications::routes())
        .merge(overview::routes())
        .merge(nodes::routes())
        .merge(metrics::routes())
        .merge(openapi::routes())
        .split_for_parts();
    // Not an operation: the answer for every path under /api that no route above serves.
    let router = router.route("/api/{*rest}", any(|| async { ApiError::App(app::error::AppError::NotFound) }));
    (router, doc)
}

/// The OpenAPI description of the REST API as served at `GET /api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::<Services>().1
}
