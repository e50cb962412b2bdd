//! Server functions of the Live Decisions page.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::decisions::model::{Decision, DecisionPage, DecisionQuery};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::auth::guard;
#[cfg(feature = "ssr")]
use crate::decisions::model::BanRequest;

// JSON input: the query is a struct with optional fields, which form encoding handles poorly.
#[server(prefix = "/rpc", endpoint = "decisions/list", input = Json)]
pub async fn list_decisions(query: DecisionQuery) -> Result<DecisionPage, AppError> {
    guard::principal()?;
    Ok(guard::services()?.decisions.list(&query))
}

#[server(prefix = "/rpc", endpoint = "decisions/ban")]
/// `force` arrives only when its checkbox is ticked (a range shorter than /8 or /32).
/// `confirm` arrives when "ban it anyway" is ticked (it covers an administrator's address).
/// `sites`: comma-separated proxy-host domains for a site-scoped ban (empty: every site).
pub async fn ban_decision(
    value: String,
    duration: String,
    reason: String,
    kind: String,
    force: Option<String>,
    confirm: Option<String>,
    sites: Option<String>,
) -> Result<Decision, AppError> {
    let actor = guard::admin()?;
    let result = async {
        let sites: Vec<String> = sites.unwrap_or_default().split(',').map(str::to_owned).collect();
        let scope = crate::decisions::model::Scope::parse(&sites, "", "")?;
        let request = BanRequest::parse(&value, &duration, &reason, &kind, force.is_some())?.confirmed(confirm.is_some()).on_sites(scope.sites);
        guard::services()?.decisions.ban(&actor, request).await
    }
    .await;
    guard::status_for(result)
}

#[server(prefix = "/rpc", endpoint = "decisions/unban")]
pub async fn unban_decision(id: i64) -> Result<u64, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.decisions.unban(&actor, id).await)
}

#[server(prefix = "/rpc", endpoint = "allowlist/list")]
pub async fn list_allowlist() -> Result<Vec<crate::decisions::model::AllowEntry>, AppError> {
    guard::principal()?;
    guard::status_for(guard::services()?.decisions.allowlist().await)
}

/// An allowlist entry; with sites (comma-separated), a path prefix or a scenario, a scoped
/// exception instead.
#[server(prefix = "/rpc", endpoint = "allowlist/add")]
pub async fn add_allowlist(
    value: String,
    reason: String,
    force: Option<String>,
    sites: Option<String>,
    path_prefix: Option<String>,
    scenario: Option<String>,
) -> Result<crate::decisions::model::AllowAdded, AppError> {
    use crate::decisions::model::{IpOrRange, Reason, Scope};
    let actor = guard::admin()?;
    let result = async {
        let target = IpOrRange::parse_guarded(&value, force.is_some())?;
        let reason = Reason::parse(&reason)?;
        let sites: Vec<String> = sites.unwrap_or_default().split(',').map(str::to_owned).collect();
        let scope = Scope::parse(&sites, &path_prefix.unwrap_or_default(), &scenario.unwrap_or_default())?;
        guard::services()?.decisions.allow(&actor, target, scope, reason).await
    }
    .await;
    guard::status_for(result)
}

/// Removes a scoped exception by the id the allowlist lists it with.
#[server(prefix = "/rpc", endpoint = "allowlist/remove-scoped")]
pub async fn remove_scoped_exception(id: i64) -> Result<(), AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.decisions.disallow_id(&actor, id).await)
}

#[server(prefix = "/rpc", endpoint = "allowlist/remove")]
pub async fn remove_allowlist(value: String) -> Result<(), AppError> {
    let actor = guard::admin()?;
    let result = async {
        let target = crate::decisions::model::IpOrRange::parse(&value)?;
        guard::services()?.decisions.disallow(&actor, target).await
    }
    .await;
    guard::status_for(result)
}

/// "Unban and allow for …" from a decision row or an alert: `duration` empty means until removed;
/// with sites (comma-separated) or a path prefix, only there (the decisions stay elsewhere).
#[server(prefix = "/rpc", endpoint = "decisions/unban-and-allow")]
pub async fn unban_and_allow(
    value: String,
    duration: String,
    reason: String,
    sites: Option<String>,
    path_prefix: Option<String>,
) -> Result<crate::decisions::model::UnbannedAndAllowed, AppError> {
    use crate::decisions::model::{AllowFor, IpOrRange, Reason, Scope};
    let actor = guard::admin()?;
    let result = async {
        let target = IpOrRange::parse_guarded(&value, false)?;
        let period = AllowFor::parse(&duration)?;
        let reason = Reason::parse(&reason)?;
        let sites: Vec<String> = sites.unwrap_or_default().split(',').map(str::to_owned).collect();
        let scope = Scope::parse(&sites, &path_prefix.unwrap_or_default(), "")?;
        guard::services()?.decisions.unban_and_allow(&actor, target, period, scope, reason).await
    }
    .await;
    guard::status_for(result)
}

/// Unbans every decision on these values (offered after an allowlist entry covers them).
#[server(prefix = "/rpc", endpoint = "decisions/unban-values")]
pub async fn unban_values(values: Vec<String>) -> Result<u64, AppError> {
    let actor = guard::admin()?;
    let result = async {
        let services = guard::services()?;
        let mut n = 0;
        for v in values.iter().take(1000) {
            let target = crate::decisions::model::IpOrRange::parse(v)?;
            n += services.decisions.unban_value(&actor, target).await?;
        }
        Ok(n)
    }
    .await;
    guard::status_for(result)
}

/// Starts a blocklist import (the list pasted or read from a file); progress via
/// `import_progress`. `format` empty: guessed from the text.
#[server(prefix = "/rpc", endpoint = "decisions/import")]
pub async fn start_import(
    list: String,
    format: String,
    duration: String,
    reason: String,
    origin: String,
    kind: String,
    force: Option<String>,
) -> Result<crate::decisions::model::ImportProgress, AppError> {
    use crate::decisions::model::{ImportRequest, ListFormat};
    let actor = guard::admin()?;
    let result = async {
        let format = match format.as_str() {
            "csv" => Some(ListFormat::Csv),
            "json" => Some(ListFormat::Json),
            "lines" => Some(ListFormat::Lines),
            _ => None,
        };
        let request = ImportRequest::parse(list, format, &duration, &reason, &kind, &origin, force.is_some())?;
        guard::services()?.decisions.import(&actor, request).await
    }
    .await;
    guard::status_for(result)
}

#[server(prefix = "/rpc", endpoint = "decisions/import-progress")]
pub async fn import_progress(id: u64) -> Result<crate::decisions::model::ImportProgress, AppError> {
    guard::admin()?;
    guard::status_for(guard::services()?.decisions.import_progress(id).ok_or(AppError::NotFound))
}

/// Decisions the bouncer does not enforce because they cover an address an administrator uses
/// (administrators only: it names those addresses).
#[server(prefix = "/rpc", endpoint = "decisions/shielded")]
pub async fn shielded_decisions() -> Result<Vec<crate::decisions::model::Shielded>, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.decisions.shielded(&actor).await)
}

/// How many decisions the bouncer spares for administrators' addresses (the Security page's notice).
#[server(prefix = "/rpc", endpoint = "decisions/shielded-count")]
pub async fn shielded_count() -> Result<usize, AppError> {
    let actor = guard::admin()?;
    guard::status_for(guard::services()?.decisions.shielded(&actor).await.map(|l| l.len()))
}
