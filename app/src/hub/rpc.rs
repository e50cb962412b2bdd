//! Server functions of the Hub presets page.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::hub::model::{HubChange, HubItem, HubItemDetail, HubQuery};
#[cfg(feature = "ssr")]
use crate::hub::model::{HubItemRef, HubItemType};
#[cfg(feature = "ssr")]
use crate::auth::guard;

#[server(prefix = "/rpc", endpoint = "hub/list", input = Json)]
pub async fn list_hub_items(query: HubQuery) -> Result<Vec<HubItem>, AppError> {
    guard::principal()?;
    guard::status_for(guard::services()?.hub.list(&query).await)
}

#[server(prefix = "/rpc", endpoint = "hub/item")]
pub async fn get_hub_item(kind: String, name: String) -> Result<HubItemDetail, AppError> {
    guard::principal()?;
    let result = async {
        let kind = HubItemType::parse(&kind)?;
        guard::services()?.hub.detail(&HubItemRef::new(kind, name)).await
    }
    .await;
    guard::status_for(result)
}

#[server(prefix = "/rpc", endpoint = "hub/install")]
pub async fn install_hub_item(kind: String, name: String) -> Result<HubChange, AppError> {
    let actor = guard::admin()?;
    let result = async {
        let kind = HubItemType::parse(&kind)?;
        guard::services()?.hub.install(&actor, HubItemRef::new(kind, name)).await
    }
    .await;
    guard::status_for(result)
}

#[server(prefix = "/rpc", endpoint = "hub/remove")]
pub async fn remove_hub_item(kind: String, name: String) -> Result<HubChange, AppError> {
    let actor = guard::admin()?;
    let result = async {
        let kind = HubItemType::parse(&kind)?;
        guard::services()?.hub.remove(&actor, HubItemRef::new(kind, name)).await
    }
    .await;
    guard::status_for(result)
}
