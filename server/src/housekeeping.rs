//! Periodic work the console does by itself: allowlist entries and site-scoped rules whose time is
//! up are removed, changes `charon unban` made from the shell are applied, and the addresses
//! administrators are signed in from reach the bouncer (every few seconds, so "allow for 15 min"
//! ends close to when it says), and audit-log lines older than the retention window are deleted
//! (hourly).

use std::time::Duration;

use crate::db::{audit, Db};
use crate::decisions::Decisions;
use crate::support::time::now;

const EXPIRY_EVERY: Duration = Duration::from_secs(5);
const PURGE_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(db: Db, decisions: Decisions, audit_retention_days: u64) {
    let mut expiry = tokio::time::interval(EXPIRY_EVERY);
    let mut purge = tokio::time::interval(PURGE_EVERY);
    expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = expiry.tick() => {
                if let Err(e) = decisions.allowlist_store().expire_due().await {
                    tracing::warn!("expired allowlist entries not removed yet: {e:?}");
                }
                if let Err(e) = decisions.allowlist_store().resync_if_changed().await {
                    tracing::warn!("the allowlist is not re-read yet: {e:?}");
                }
                if let Err(e) = decisions.scoped().expire_due().await {
                    tracing::warn!("expired site-scoped rules not removed yet: {e:?}");
                }
                if let Err(e) = decisions.scoped().resync_if_changed().await {
                    tracing::warn!("the site-scoped rules are not re-read yet: {e:?}");
                }
                if let Err(e) = decisions.refresh_protected().await {
                    tracing::warn!("the addresses administrators use are not passed on yet: {e:?}");
                }
            }
            _ = purge.tick() => {
                let before = now() - audit_retention_days as i64 * 86_400;
                match audit::purge(&db, before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(lines = n, days = audit_retention_days, "audit log: old lines deleted"),
                    Err(e) => tracing::warn!(error = %e, "audit log: old lines not deleted"),
                }
            }
        }
    }
}
