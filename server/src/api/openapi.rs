//! The OpenAPI 3.1 description: the document's frame (title, security schemes, tags) here, every
//! operation from the `#[utoipa::path]` of its handler, collected by the router that serves it.
//! Operations that need an administrator say so with the role `admin` in their security
//! requirement; `docs/openapi.json` is this document, committed (a test keeps it equal).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Charon REST API",
        description = "Charon's console over HTTP: the CrowdSec engine, Live Decisions, alerts, the audit log, the allowlist, Hub presets, Console enrollment, diagnostics, proxy hosts, notifications, users and API tokens. Authenticate with an API token (`Authorization: Bearer …`, created under Settings or with `charon admin token create`) or the session cookie. Viewers may call the operations without the `admin` role; everything else answers them 403.",
        license(name = "MIT")
    ),
    tags(
        (name = "accounts", description = "Users and API tokens"),
        (name = "engine", description = "The CrowdSec engine and its bouncer key"),
        (name = "decisions", description = "Live Decisions and the allowlist"),
        (name = "alerts", description = "Alerts: which scenario fired on which source, and what it decided"),
        (name = "audit", description = "The audit log: who changed what through Charon"),
        (name = "hub", description = "Hub presets"),
        (name = "console", description = "CrowdSec Console enrollment and diagnostics"),
        (name = "proxy", description = "Proxy hosts and the data plane"),
        (name = "notifications", description = "Notification channels, their messages, and the engine's alerts coming in"),
        (name = "overview", description = "Traffic let through and refused, bans, and the protection state, counted locally"),
        (name = "fleet", description = "Edge nodes: join tokens, their health, removal"),
        (name = "meta", description = "This description")
    )
)]
struct Frame;

pub fn base() -> OpenApi {
    let mut doc = <Frame as utoipa::OpenApi>::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An API token")).build()),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description("charon_session", "The console's session cookie"))),
    );
    components.add_security_scheme(
        "engine_hook",
        SecurityScheme::Http(
            HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("The token Charon hands the engine at each start (machine to machine; no API token or session opens it)")).build(),
        ),
    );
    doc
}

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The OpenAPI 3.1 description of this API", content_type = "application/json")))]
async fn openapi_json() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let json = DOC.get_or_init(|| super::openapi().to_pretty_json().expect("the description serialises"));
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}
