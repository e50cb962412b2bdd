//! Server functions of the Proxy Hosts page and the Security page's data-plane card.

use leptos::prelude::*;

use crate::error::AppError;
use crate::proxy::model::{DataPlaneStatus, ProxyHost};
#[cfg(feature = "ssr")]
use crate::auth::guard;
#[cfg(feature = "ssr")]
use crate::proxy::model::{ProxyHostInput, ProxyHostSpec};

#[server(prefix = "/rpc", endpoint = "proxy/list")]
pub async fn list_proxy_hosts() -> Result<Vec<ProxyHost>, AppError> {
    guard::principal()?;
    guard::status_for(guard::services()?.proxy.list().await)
}

#[server(prefix = "/rpc", endpoint = "proxy/status")]
pub async fn get_data_plane_status() -> Result<DataPlaneStatus, AppError> {
    guard::principal()?;
    Ok(guard::services()?.proxy.status().await)
}

/// Creates (`id` absent) or updates a host. Checkboxes arrive only when ticked, as with any HTML form;
/// `nodes` is the names separated by commas (blank: every node).
#[server(prefix = "/rpc", endpoint = "proxy/save")]
pub async fn save_proxy_host(
    id: Option<i64>,
    domain: String,
    upstream: String,
    enabled: Option<String>,
    protect: Option<String>,
    nodes: Option<String>,
) -> Result<ProxyHost, AppError> {
    let actor = guard::admin()?;
    let result = async {
        let spec = ProxyHostSpec::parse(&ProxyHostInput {
            domain,
            upstream,
            enabled: enabled.is_some(),
            protect: protect.is_some(),
            nodes: nodes.as_deref().and_then(crate::proxy::model::nodes_from_text),
        })?;
        let services = guard::services()?;
        match id {
            Some(id) => services.proxy.update(&actor, id, spec).await,
            None => services.proxy.create(&actor, spec).await,
        }
    }
    .await;
    guard::status_for(result)
}

#[server(prefix = "/rpc", endpoint = "proxy/delete")]
pub async fn delete_proxy_host(id: i64) -> Result<(), AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.proxy.delete(&actor, id).await)
}
