//! Server functions of the Alerts pages (read-only: any signed-in user).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::alerts::model::{Alert, AlertPage, AlertQuery};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::auth::guard;

#[server(prefix = "/rpc", endpoint = "alerts/list", input = Json)]
pub async fn list_alerts(query: AlertQuery) -> Result<AlertPage, AppError> {
    guard::principal()?;
    let result = async {
        let filter = query.parse()?;
        guard::services()?.alerts.list(&filter).await
    }
    .await;
    guard::status_for(result)
}

#[server(prefix = "/rpc", endpoint = "alerts/get")]
pub async fn get_alert(id: i64) -> Result<Alert, AppError> {
    guard::principal()?;
    let result = async { guard::services()?.alerts.get(id).await }.await;
    guard::status_for(result)
}
