//! REST route of the audit log: `GET /api/v1/audit` (administrators only).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::audit::model::{AuditPage, AuditQuery};
use app::services::Services;

use super::admin::AdminCaller;
use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(list))
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(
        ("actor" = Option<String>, Query, description = "The user (or `token:<name>`) that acted, exactly"),
        ("action" = Option<String>, Query, description = "An action (`decision.ban`) or its prefix (`decision`)"),
        ("q" = Option<String>, Query, description = "Text in what was changed: an address, a domain, an item"),
        ("since" = Option<String>, Query, description = "Only entries newer than this: 30m, 24h, 7d"),
        ("page" = Option<usize>, Query, description = "1-based"),
        ("per_page" = Option<usize>, Query, description = "Rows per page (at most 200)")
    ),
    responses((status = 200, body = AuditPage, description = "Newest first"), (status = 400, description = "Invalid filter (the field is named)"),
        (status = 403, description = "Not an administrator")))]
async fn list(State(s): State<Services>, AdminCaller(admin): AdminCaller, q: Result<Query<AuditQuery>, QueryRejection>) -> Result<Json<AuditPage>, ApiError> {
    let Query(q) = q?;
    Ok(Json(s.audit.list(&admin, &q.parse()?).await?))
}
