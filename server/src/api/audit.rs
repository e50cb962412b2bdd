//! REST route of the audit log: `GET /api/v1/audit` (administrators only).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::audit::model::{AuditPage, AuditQuery};
use app::services::Services;

use super::admin::AdminCaller;
use super::error::ApiError;
use super::export::{self, Format, FormatQuery};

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
        ("per_page" = Option<usize>, Query, description = "Rows per page (at most 200)"),
        ("format" = Option<String>, Query, description = "csv or json: every entry the filters select as a download, streamed from the database a chunk at a time (page and per_page are ignored)")
    ),
    responses((status = 200, body = AuditPage, description = "Newest first; with format, a CSV (text/csv) or JSON array download"),
        (status = 400, description = "Invalid filter (the field is named) or unknown format"),
        (status = 403, description = "Not an administrator")))]
async fn list(
    State(s): State<Services>,
    AdminCaller(admin): AdminCaller,
    q: Result<Query<AuditQuery>, QueryRejection>,
    f: Result<Query<FormatQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (Query(q), Query(f)) = (q?, f?);
    let filter = q.parse()?;
    Ok(match Format::parse(f.format.as_deref())? {
        Some(format) => export::download(format, "audit", s.audit.export(&admin, &filter)),
        None => Json(s.audit.list(&admin, &filter).await?).into_response(),
    })
}
