//! Server functions of the Notifications page: channels (read: everyone signed in; change: admins)
//! and the history. Checkboxes arrive only when ticked, as with any HTML form.

use leptos::prelude::*;

use crate::error::AppError;
use crate::notify::model::{Channel, ChannelSaved, DigestPreview, HistoryPage, TestResult};
#[cfg(feature = "ssr")]
use crate::auth::guard;

#[server(prefix = "/rpc", endpoint = "notify/channels")]
pub async fn list_channels() -> Result<Vec<Channel>, AppError> {
    guard::principal()?;
    guard::status_for(guard::services()?.notifications.channels().await)
}

#[server(prefix = "/rpc", endpoint = "notify/history")]
pub async fn notify_history(page: Option<usize>) -> Result<HistoryPage, AppError> {
    guard::principal()?;
    let query = crate::notify::model::HistoryQuery { page, ..Default::default() };
    guard::status_for(guard::services()?.notifications.history(&query).await)
}

/// A new channel from the page's form: the events ticked, the grouping window in seconds, the
/// digest (`daily`, `weekly` or empty for none) and its time.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/rpc", endpoint = "notify/create")]
pub async fn create_channel(
    kind: String,
    name: String,
    url: Option<String>,
    token: Option<String>,
    secret: Option<String>,
    alert: Option<String>,
    manual: Option<String>,
    engine_down: Option<String>,
    bouncer_down: Option<String>,
    caddy_down: Option<String>,
    enrollment_changed: Option<String>,
    self_test_failed: Option<String>,
    group_window_secs: Option<u64>,
    digest: Option<String>,
    digest_at: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<String>,
    smtp_security: Option<String>,
    smtp_username: Option<String>,
    smtp_from: Option<String>,
    smtp_to: Option<String>,
) -> Result<ChannelSaved, AppError> {
    let actor = guard::admin()?;
    let ticked = [
        ("alert", alert),
        ("manual", manual),
        ("engine_down", engine_down),
        ("bouncer_down", bouncer_down),
        ("caddy_down", caddy_down),
        ("enrollment_changed", enrollment_changed),
        ("self_test_failed", self_test_failed),
    ];
    let events = ticked
        .into_iter()
        .filter_map(|(e, ticked)| ticked.map(|_| e.to_owned()))
        .collect();
    let port = smtp_port.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(|p| p.parse::<u16>().map_err(|_| crate::error::ErrorCode::UrlInvalid)).transpose();
    let port = match port {
        Ok(p) => p,
        Err(code) => return guard::status_for(Err(code.into())),
    };
    use crate::notify::model::{DigestPeriod, DigestSchedule};
    let period = match digest.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("daily") => Some(DigestPeriod::Daily),
        Some("weekly") => Some(DigestPeriod::Weekly),
        Some(_) => return guard::status_for(Err(crate::error::ErrorCode::RulesInvalid.into())),
    };
    let digest = period.map(|period| DigestSchedule { period, at: digest_at.filter(|a| !a.trim().is_empty()).unwrap_or_else(|| "08:00".to_owned()) });
    let smtp = (kind == "email").then(|| crate::notify::model::SmtpSettings {
        host: smtp_host.unwrap_or_default(),
        port,
        security: smtp_security,
        username: smtp_username,
        from: smtp_from.unwrap_or_default(),
        to: smtp_to.unwrap_or_default().split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
    });
    let input = crate::notify::model::ChannelInput {
        kind: Some(kind),
        name: Some(name),
        url,
        smtp,
        token: token.filter(|t| !t.trim().is_empty()),
        secret: secret.filter(|s| !s.trim().is_empty()),
        events: Some(events),
        group_window_secs,
        digest: Some(digest),
        ..Default::default()
    };
    guard::status_for(guard::services()?.notifications.create_channel(&actor, input).await)
}

#[server(prefix = "/rpc", endpoint = "notify/enable")]
pub async fn enable_channel(id: i64, enabled: bool) -> Result<ChannelSaved, AppError> {
    let actor = guard::admin()?;
    let input = crate::notify::model::ChannelInput { enabled: Some(enabled), ..Default::default() };
    guard::status_for(guard::services()?.notifications.update_channel(&actor, id, input).await)
}

#[server(prefix = "/rpc", endpoint = "notify/delete")]
pub async fn delete_channel(id: i64) -> Result<(), AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.notifications.delete_channel(&actor, id).await)
}

#[server(prefix = "/rpc", endpoint = "notify/test")]
pub async fn test_channel(id: i64) -> Result<TestResult, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.notifications.test_channel(&actor, id).await)
}

#[server(prefix = "/rpc", endpoint = "notify/resend")]
pub async fn resend_message(id: i64) -> Result<i64, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.notifications.resend(&actor, id).await)
}

/// Sends the channel's digest now and shows it.
#[server(prefix = "/rpc", endpoint = "notify/digest")]
pub async fn send_digest(id: i64) -> Result<DigestPreview, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.notifications.send_digest(&actor, id).await)
}
