//! Server functions of the Security page: the engine's status and toggle, the bouncer key and the
//! enforcement self-test.

use leptos::prelude::*;

use crate::error::AppError;
use crate::security::model::{BouncerInfo, EngineStatus};
#[cfg(feature = "ssr")]
use crate::auth::guard;

#[server(prefix = "/rpc", endpoint = "crowdsec/status")]
pub async fn get_engine_status() -> Result<EngineStatus, AppError> {
    guard::principal()?;
    Ok(guard::services()?.security.engine_status())
}

/// Turns the engine on or off and waits for the outcome (the LAPI ready, or the error).
#[server(prefix = "/rpc", endpoint = "crowdsec/toggle")]
pub async fn set_engine_enabled(enabled: bool) -> Result<EngineStatus, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.security.set_engine_enabled(&actor, enabled).await)
}

/// The bouncer's registration with its key masked. Admin only (REST answers viewers 403 too).
#[server(prefix = "/rpc", endpoint = "crowdsec/bouncer")]
pub async fn get_bouncer_info() -> Result<BouncerInfo, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.security.bouncer_info(&actor).await)
}

/// The full bouncer key, for the Copy button. Admin only; each read is audited.
#[server(prefix = "/rpc", endpoint = "crowdsec/bouncer/key")]
pub async fn get_bouncer_key() -> Result<String, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.security.bouncer_key(&actor).await)
}

/// The enforcement self-test (administrators).
#[server(prefix = "/rpc", endpoint = "security/self-test")]
pub async fn run_self_test() -> Result<crate::security::model::SelfTestReport, AppError> {
    let actor = crate::auth::guard::admin()?;
    crate::auth::guard::status_for(crate::auth::guard::services()?.proxy.self_test(&actor).await)
}
