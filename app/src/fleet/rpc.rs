//! Server functions of the Nodes page.

use leptos::prelude::*;

use crate::error::AppError;
use crate::fleet::model::{JoinToken, Node};
#[cfg(feature = "ssr")]
use crate::auth::guard;
#[cfg(feature = "ssr")]
use crate::fleet::model::NodeName;

#[server(prefix = "/rpc", endpoint = "nodes/list")]
pub async fn list_nodes() -> Result<Vec<Node>, AppError> {
    guard::principal()?;
    guard::status_for(guard::services()?.nodes.list().await)
}

/// A one-time join token and the command for the new node (administrators).
#[server(prefix = "/rpc", endpoint = "nodes/join-token")]
pub async fn create_join_token() -> Result<JoinToken, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.nodes.create_join_token(&actor).await)
}

/// Removes a node: its machine and bouncer key stop working at the engine (administrators).
#[server(prefix = "/rpc", endpoint = "nodes/remove")]
pub async fn remove_node(name: String) -> Result<(), AppError> {
    let actor = guard::admin()?;
    let result = async { guard::services()?.nodes.remove(&actor, NodeName::parse(&name)?).await }.await;
    guard::status_for(result)
}

/// Asks a node to replace its bouncer key at its next call; the old key then stops working at
/// the engine (administrators).
#[server(prefix = "/rpc", endpoint = "nodes/rotate-key")]
pub async fn rotate_node_key(name: String) -> Result<(), AppError> {
    let actor = guard::admin()?;
    let result = async { guard::services()?.nodes.request_key_rotation(&actor, NodeName::parse(&name)?).await }.await;
    guard::status_for(result)
}
