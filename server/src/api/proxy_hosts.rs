//! REST routes of proxy hosts (`/api/v1/proxy-hosts`) and the data-plane status
//! (`/api/v1/proxy/status`). Changes are admin only, audited, and applied to Caddy before they
//! answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::proxy::model::{DataPlaneStatus, ProxyHost, ProxyHostInput, ProxyHostSpec};
use app::services::Services;

use super::admin::AdminCaller;
use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, remove))
        .routes(routes!(status))
}

type Body = Result<Json<ProxyHostInput>, axum::extract::rejection::JsonRejection>;

#[utoipa::path(get, path = "/api/v1/proxy-hosts", tag = "proxy", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Vec<ProxyHost>)))]
async fn list(State(s): State<Services>) -> Result<Json<Vec<ProxyHost>>, ApiError> {
    Ok(Json(s.proxy.list().await?))
}

#[utoipa::path(post, path = "/api/v1/proxy-hosts", tag = "proxy", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    request_body = ProxyHostInput,
    responses((status = 201, body = ProxyHost), (status = 400, description = "Invalid field"), (status = 403, description = "Not an administrator"),
        (status = 409, description = "Another host serves this domain"), (status = 502, description = "Caddy refused the configuration")))]
async fn create(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Body) -> Result<(StatusCode, Json<ProxyHost>), ApiError> {
    let Json(input) = body?;
    let spec = ProxyHostSpec::parse(&input)?;
    Ok((StatusCode::CREATED, Json(s.proxy.create(&admin, spec).await?)))
}

#[utoipa::path(put, path = "/api/v1/proxy-hosts/{id}", tag = "proxy", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "The host's id")),
    request_body = ProxyHostInput,
    responses((status = 200, body = ProxyHost), (status = 400, description = "Invalid field"), (status = 403, description = "Not an administrator"),
        (status = 404, description = "No such host"), (status = 409, description = "Another host serves this domain"),
        (status = 502, description = "Caddy refused the configuration")))]
async fn update(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>, body: Body) -> Result<Json<ProxyHost>, ApiError> {
    let Json(input) = body?;
    let spec = ProxyHostSpec::parse(&input)?;
    Ok(Json(s.proxy.update(&admin, id, spec).await?))
}

#[utoipa::path(delete, path = "/api/v1/proxy-hosts/{id}", tag = "proxy", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "The host's id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Not an administrator"), (status = 404, description = "No such host")))]
async fn remove(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    s.proxy.delete(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/proxy/status", tag = "proxy", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = DataPlaneStatus)))]
async fn status(State(s): State<Services>) -> Json<DataPlaneStatus> {
    Json(s.proxy.status().await)
}
