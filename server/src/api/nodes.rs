//! REST routes of the fleet's edge nodes: a one-time join token (admin; its secret shown once),
//! the node list with each node's health, and removal (admin; the node's machine and bouncer key
//! stop working at the engine at once), and a key rotation the node carries out at its next call.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::fleet::model::{JoinToken, Node, NodeName};
use app::services::Services;

use super::admin::AdminCaller;
use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(create_join_token)).routes(routes!(list)).routes(routes!(remove)).routes(routes!(rotate_key))
}

#[utoipa::path(post, path = "/api/v1/nodes/join-tokens", tag = "fleet", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 201, body = JoinToken, description = "A one-time token and the command to run on the new node"),
        (status = 403, description = "Not an administrator"), (status = 503, description = "The fleet listener is off (fleet_listen)")))]
async fn create_join_token(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Result<(StatusCode, Json<JoinToken>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.nodes.create_join_token(&admin).await?)))
}

#[utoipa::path(get, path = "/api/v1/nodes", tag = "fleet", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Vec<Node>)))]
async fn list(State(s): State<Services>) -> Result<Json<Vec<Node>>, ApiError> {
    Ok(Json(s.nodes.list().await?))
}

#[utoipa::path(delete, path = "/api/v1/nodes/{name}", tag = "fleet", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("name" = String, Path, description = "The node's name")),
    responses((status = 204, description = "Removed; its machine and bouncer key are revoked"), (status = 400, description = "Invalid name"),
        (status = 403, description = "Not an administrator"), (status = 404, description = "No such node")))]
async fn remove(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    let name = NodeName::parse(&name)?;
    s.nodes.remove(&admin, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/nodes/{name}/rotate-key", tag = "fleet", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("name" = String, Path, description = "The node's name")),
    responses((status = 202, description = "Asked; the node replaces its key at its next call and the old one stops working then"),
        (status = 400, description = "Invalid name"), (status = 403, description = "Not an administrator"), (status = 404, description = "No such node")))]
async fn rotate_key(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    let name = NodeName::parse(&name)?;
    s.nodes.request_key_rotation(&admin, name).await?;
    Ok(StatusCode::ACCEPTED)
}
