//! Server function of the Audit page (administrators only).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::audit::model::{AuditPage, AuditQuery};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::auth::guard;

#[server(prefix = "/rpc", endpoint = "audit/list", input = Json)]
pub async fn list_audit(query: AuditQuery) -> Result<AuditPage, AppError> {
    let actor = guard::admin()?;
    let result = async {
        let filter = query.parse()?;
        guard::services()?.audit.list(&actor, &filter).await
    }
    .await;
    guard::status_for(result)
}
