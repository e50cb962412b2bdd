//! Server functions of the Console page.

use leptos::prelude::*;

use crate::console::model::{ConfigCheck, Connectivity, EnrollmentStatus};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::auth::guard;
#[cfg(feature = "ssr")]
use crate::console::model::{EnrollInput, EnrollRequest};

/// The status and the agent name to suggest.
#[server(prefix = "/rpc", endpoint = "console/status")]
pub async fn get_console_status() -> Result<(EnrollmentStatus, String), AppError> {
    guard::principal()?;
    let services = guard::services()?;
    let st = guard::status_for(services.console.status().await)?;
    Ok((st, services.console.default_agent_name()))
}

/// `tags` is comma-separated (one text field); `overwrite` arrives only when ticked.
#[server(prefix = "/rpc", endpoint = "console/enroll")]
pub async fn enroll_console(enrollment_key: String, agent_name: String, tags: String, overwrite: Option<String>) -> Result<EnrollmentStatus, AppError> {
    let actor = guard::admin()?;
    let result = async {
        let services = guard::services()?;
        let input = EnrollInput {
            enrollment_key,
            agent_name,
            tags: tags.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
            overwrite: overwrite.is_some(),
        };
        let req = EnrollRequest::parse(&input, &services.console.default_agent_name())?;
        services.console.enroll(&actor, req).await
    }
    .await;
    guard::status_for(result)
}

#[server(prefix = "/rpc", endpoint = "console/heartbeat")]
pub async fn force_heartbeat() -> Result<EnrollmentStatus, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.console.heartbeat(&actor).await)
}

#[server(prefix = "/rpc", endpoint = "console/clear")]
pub async fn clear_enrollment() -> Result<EnrollmentStatus, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.console.clear(&actor).await)
}

#[server(prefix = "/rpc", endpoint = "console/diagnostics")]
pub async fn get_diagnostics() -> Result<(Connectivity, Vec<ConfigCheck>), AppError> {
    guard::principal()?;
    let s = guard::services()?;
    Ok((s.console.connectivity().await, s.console.config_checks().await))
}
