//! `GET /api/v1/overview?range=1h|24h|7d|30d`: the Overview's numbers as JSON (everyone signed in).

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::error::ErrorCode;
use app::overview::model::{Overview, Range};
use app::services::Services;

use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(overview))
}

#[derive(Deserialize)]
struct RangeQuery {
    range: Option<String>,
}

/// Requests checked, let through and refused (per origin of the blocking decision and per site),
/// bans created (per scenario and country), the addresses refused most, bars over time, and the
/// protection state; for the period that ends now (default 24 h).
#[utoipa::path(get, path = "/api/v1/overview", tag = "overview", security(("bearer" = []), ("session" = [])),
    params(("range" = Option<String>, Query, description = "1h, 24h (the default), 7d or 30d")),
    responses((status = 200, body = Overview), (status = 400, description = "Another range (field `range`)")))]
async fn overview(State(s): State<Services>, q: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>) -> Result<Json<Overview>, ApiError> {
    let Query(q) = q.map_err(|_| ApiError::App(ErrorCode::PeriodInvalid.into()))?;
    let range = match q.range.as_deref() {
        None | Some("") => Range::default(),
        Some(r) => Range::parse(r).ok_or(ApiError::App(ErrorCode::PeriodInvalid.into()))?,
    };
    Ok(Json(s.overview.overview(range).await?))
}
