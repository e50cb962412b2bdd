//! REST routes of alerts under `/api/v1/cerberus/crowdsec/`: the filtered, paged list (newest
//! first) and one alert with its events. Read-only: viewers may call them.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::alerts::model::{Alert, AlertPage, AlertQuery};
use app::error::AppError;
use app::services::Services;

use super::error::ApiError;
use super::export::{self, Format, FormatQuery};

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(one))
}

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/alerts", tag = "alerts", security(("bearer" = []), ("session" = [])),
    params(
        ("q" = Option<String>, Query, description = "An address (alerts about it, or about a range holding it) or a CIDR range (alerts about addresses and ranges inside it)"),
        ("scenario" = Option<String>, Query, description = "A scenario name, exactly"),
        ("origin" = Option<String>, Query, description = "crowdsec, cscli, charon, lists, …"),
        ("machine" = Option<String>, Query, description = "The machine that raised it, exactly"),
        ("site" = Option<String>, Query, description = "A protected site's domain: alerts whose events were requests to it"),
        ("since" = Option<String>, Query, description = "Only alerts newer than this: 30s, 15m, 24h, 7d"),
        ("until" = Option<String>, Query, description = "Only alerts older than this: 30s, 15m, 24h, 7d"),
        ("page" = Option<usize>, Query, description = "1-based (paging stops 10 000 alerts deep)"),
        ("per_page" = Option<usize>, Query, description = "Rows per page (at most 100)"),
        ("format" = Option<String>, Query, description = "csv or json: every alert the filters select as a download, streamed (at most 10 000; page and per_page are ignored)")
    ),
    responses((status = 200, body = AlertPage, description = "A page; with format, a CSV (text/csv) or JSON array download of the alerts"),
        (status = 400, description = "Invalid filter (the field is named), unknown format, or more alerts than one export may hold"),
        (status = 503, description = "LAPI not available")))]
async fn list(
    State(s): State<Services>,
    q: Result<Query<AlertQuery>, QueryRejection>,
    f: Result<Query<FormatQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (Query(q), Query(f)) = (q?, f?);
    let filter = q.parse()?;
    Ok(match Format::parse(f.format.as_deref())? {
        Some(format) => export::download(format, "alerts", export::chunked(s.alerts.export(&filter).await?)),
        None => Json(s.alerts.list(&filter).await?).into_response(),
    })
}

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/alerts/{id}", tag = "alerts", security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path, description = "The alert's id")),
    responses((status = 200, body = Alert, description = "The alert with its events and decisions"),
        (status = 404, description = "No such alert"), (status = 503, description = "LAPI not available")))]
async fn one(State(s): State<Services>, id: Result<Path<i64>, PathRejection>) -> Result<Json<Alert>, ApiError> {
    // A path that is not a number names no alert.
    let Ok(Path(id)) = id else { return Err(AppError::NotFound.into()) };
    Ok(Json(s.alerts.get(id).await?))
}
