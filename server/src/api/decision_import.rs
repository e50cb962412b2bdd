//! Blocklist import over REST: `POST /api/v1/cerberus/crowdsec/decisions/import` takes the list
//! as the body (`text/csv`, `application/json`, or plain lines; anything else is guessed) and the
//! options in the query; it answers 202 with the job (`?wait=true`: 200 once it has ended), whose
//! progress `GET …/decisions/imports/{id}` reports.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::decisions::model::{ImportProgress, ImportRequest, ListFormat};
use app::error::{AppError, ErrorCode};
use app::services::Services;

use super::admin::AdminCaller;
use super::error::ApiError;

/// A million rows of a verbose CSV fit.
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(import)).layer(DefaultBodyLimit::max(BODY_LIMIT)).routes(routes!(progress))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// `90m`, `4h` (default), `2d`, `1w`.
    #[serde(default)]
    duration: String,
    /// Shown as the decisions' scenario.
    #[serde(default)]
    reason: String,
    /// The decisions' origin label (default `charon-import`).
    #[serde(default)]
    origin: String,
    /// `ban` (default), `captcha` or `throttle`.
    #[serde(default, rename = "type")]
    kind: String,
    /// Admit ranges shorter than /8 (IPv4) or /32 (IPv6).
    #[serde(default)]
    force: bool,
    /// Answer only once the import has ended.
    #[serde(default)]
    wait: bool,
}

fn format_of(headers: &HeaderMap) -> Option<ListFormat> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?.split(';').next()?.trim().to_ascii_lowercase();
    match ct.as_str() {
        "text/csv" => Some(ListFormat::Csv),
        "application/json" => Some(ListFormat::Json),
        "text/plain" => Some(ListFormat::Lines),
        _ => None,
    }
}

fn location(p: &ImportProgress) -> [(header::HeaderName, HeaderValue); 1] {
    let url = format!("/api/v1/cerberus/crowdsec/decisions/imports/{}", p.id);
    [(header::LOCATION, HeaderValue::from_str(&url).unwrap_or(HeaderValue::from_static("/")))]
}

#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/decisions/import", tag = "decisions", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(ImportQuery),
    request_body(content = String, description = "The list: CSV with a `value` column (or addresses in the first column), a JSON array of addresses or of objects with `value`, or one address or range per line (`#` comments)",
        content_type = "text/plain"),
    responses((status = 202, body = ImportProgress, description = "Started; follow `Location`"),
        (status = 200, body = ImportProgress, description = "Ended (`wait=true`)"),
        (status = 400, description = "The list cannot be read, or an option is invalid"),
        (status = 403, description = "Not an administrator"), (status = 413, description = "Over 64 MiB"),
        (status = 503, description = "LAPI not available")))]
async fn import(
    State(s): State<Services>,
    AdminCaller(admin): AdminCaller,
    q: Result<Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let text = match body {
        Ok(text) => text,
        // Not UTF-8 (400) or over the limit (413): the status says which.
        Err(rejection) => {
            let error = serde_json::json!({"error": "the list must be UTF-8 text of at most 64 MiB", "code": ErrorCode::ListInvalid.as_str(), "field": "list"});
            return Ok((rejection.status(), Json(error)).into_response());
        }
    };
    let req = ImportRequest::parse(text, format_of(&headers), &q.duration, &q.reason, &q.kind, &q.origin, q.force)?;
    let started = s.decisions.import(&admin, req).await?;
    if !q.wait {
        return Ok((StatusCode::ACCEPTED, location(&started), Json(started)).into_response());
    }
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        match s.decisions.import_progress(started.id) {
            Some(p) if p.report.is_some() => return Ok((StatusCode::OK, location(&p), Json(p)).into_response()),
            Some(_) => continue,
            None => return Err(ApiError::App(AppError::NotFound)),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/decisions/imports/{id}", tag = "decisions", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("id" = u64, Path, description = "The import's id")),
    responses((status = 200, body = ImportProgress), (status = 403, description = "Not an administrator"),
        (status = 404, description = "No such import (or finished long ago)")))]
async fn progress(State(s): State<Services>, _admin: AdminCaller, Path(id): Path<u64>) -> Result<Json<ImportProgress>, ApiError> {
    s.decisions.import_progress(id).map(Json).ok_or(ApiError::App(AppError::NotFound))
}
