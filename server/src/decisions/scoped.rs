//! Site-scoped bans and exceptions as Charon stores them (`scoped_rules`): checked against the
//! proxy hosts (a site must be an enabled host), kept in memory for the synchronous listing,
//! passed to the console's cache and the bouncer on every change (the bouncer reloads its settings
//! within a second), and expired by `housekeeping`. Listed among the decisions and the allowlist
//! with negative ids (`-rule id`), which is how they are removed.

use crate::db::on_db;
use std::sync::{Arc, Mutex};

use app::accounts::model::Admin;
use app::decisions::model::{AllowEntry, BanRequest, Decision, IpOrRange, MadeBy, Reason, Scope, MANUAL_ORIGIN};
use app::error::{AppError, ErrorCode};

use crate::bouncer::cache::DecisionCache;
use crate::bouncer::scoped::{RuleKind, ScopedRule};
use crate::db::Db;
use crate::support::time::{now, rfc3339};

#[derive(sqlx::FromRow, Clone)]
struct Row {
    id: i64,
    kind: String,
    value: String,
    sites: String,
    path_prefix: String,
    scenario: String,
    ban_type: String,
    reason: String,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
}

fn list(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl Row {
    fn rule(&self) -> ScopedRule {
        ScopedRule {
            id: self.id,
            kind: if self.kind == "ban" { RuleKind::Ban } else { RuleKind::Allow },
            value: self.value.clone(),
            sites: list(&self.sites),
            path_prefix: some(&self.path_prefix),
            scenario: some(&self.scenario),
            ban_type: Some(self.ban_type.clone()),
            reason: self.reason.clone(),
            until: self.expires_at,
        }
    }

    fn decision(&self) -> Decision {
        let scope = if self.value.contains('/') { "Range" } else { "Ip" };
        Decision {
            id: -self.id,
            value: self.value.clone(),
            scope: scope.to_owned(),
            kind: self.ban_type.clone(),
            origin: MANUAL_ORIGIN.to_owned(),
            scenario: if self.reason.is_empty() { "site ban".to_owned() } else { self.reason.clone() },
            country: None,
            until: rfc3339(self.expires_at.unwrap_or(0)),
            allowlisted: false,
            not_enforced: false,
            made_by: Some(MadeBy { actor: self.created_by.clone(), via: String::new(), at: rfc3339(self.created_at) }),
            sites: list(&self.sites),
        }
    }

    fn entry(&self) -> AllowEntry {
        AllowEntry {
            id: -self.id,
            value: self.value.clone(),
            reason: self.reason.clone(),
            created_by: self.created_by.clone(),
            created_at: rfc3339(self.created_at),
            expires_at: self.expires_at.map(rfc3339),
            sites: list(&self.sites),
            path_prefix: some(&self.path_prefix),
            scenario: some(&self.scenario),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "scoped rules failure");
    AppError::Internal
}

#[derive(Clone)]
pub struct ScopedRules {
    db: Db,
    cache: Arc<DecisionCache>,
    proxy: crate::proxy::Proxy,
    /// The live rules, for the synchronous listing.
    live: Arc<Mutex<Vec<Row>>>,
    /// What `resync_if_changed` last saw of the table (count, sum of ids).
    fingerprint: Arc<Mutex<Option<(i64, i64)>>>,
}

impl ScopedRules {
    pub fn new(db: Db, cache: Arc<DecisionCache>, proxy: crate::proxy::Proxy) -> Self {
        ScopedRules { db, cache, proxy, live: Arc::default(), fingerprint: Arc::default() }
    }

    /// Reads the live rules and passes them to the cache and the bouncer.
    pub async fn sync(&self) -> Result<(), AppError> {
        let rows: Vec<Row> = on_db!(self.db, cx => sqlx::query_as("SELECT * FROM scoped_rules WHERE expires_at IS NULL OR expires_at > $1 ORDER BY id")
            .bind(now())
            .fetch_all(cx).await)
            .map_err(internal)?;
        let rules: Vec<ScopedRule> = rows.iter().map(Row::rule).collect();
        self.cache.set_scoped(&rules);
        self.proxy.set_scoped(rules);
        *self.live.lock().expect("scoped lock") = rows;
        Ok(())
    }

    /// The sites must be enabled proxy hosts (a scope on a disabled or unknown host is refused).
    async fn check_sites(&self, sites: &[String]) -> Result<(), AppError> {
        let hosts = crate::proxy::hosts::list(&self.db).await.map_err(internal)?;
        let enabled: Vec<String> = hosts.iter().filter(|h| h.enabled).map(|h| h.domain.to_ascii_lowercase()).collect();
        if sites.iter().all(|s| enabled.contains(s)) { Ok(()) } else { Err(ErrorCode::SiteUnknown.into()) }
    }

    async fn insert(&self, actor: &Admin, kind: &str, target: &IpOrRange, scope: &Scope, ban_type: &str, reason: &str, expires_at: Option<i64>) -> Result<Row, AppError> {
        self.check_sites(&scope.sites).await?;
        let row: Row = on_db!(self.db, cx => sqlx::query_as(
            "INSERT INTO scoped_rules (kind, value, sites, path_prefix, scenario, ban_type, reason, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
        )
        .bind(kind)
        .bind(target.value())
        .bind(scope.sites.join(","))
        .bind(scope.path_prefix.clone().unwrap_or_default())
        .bind(scope.scenario.clone().unwrap_or_default())
        .bind(ban_type)
        .bind(reason)
        .bind(actor.username())
        .bind(now())
        .bind(expires_at)
        .fetch_one(cx).await)
        .map_err(internal)?;
        self.sync().await?;
        Ok(row)
    }

    /// A ban on the request's sites only (never sent to the engine).
    pub async fn ban(&self, actor: &Admin, req: &BanRequest) -> Result<Decision, AppError> {
        let scope = Scope { sites: req.sites.clone(), ..Scope::default() };
        let row = self.insert(actor, "ban", &req.target, &scope, req.kind.as_str(), req.reason.as_str(), Some(now() + req.duration.seconds())).await?;
        Ok(row.decision())
    }

    /// An exception narrower than an allowlist entry, until removed or until `expires_at` (the
    /// caller writes the audit line).
    pub async fn allow(&self, actor: &Admin, target: &IpOrRange, scope: &Scope, reason: &Reason, expires_at: Option<i64>) -> Result<AllowEntry, AppError> {
        let row = self.insert(actor, "allow", target, scope, "", reason.as_str(), expires_at).await?;
        Ok(row.entry())
    }

    /// Deletes the site-scoped bans on a value `hit` selects (an unban reaches them like the
    /// engine's decisions); returns how many.
    pub async fn remove_bans(&self, hit: impl Fn(&IpOrRange) -> bool) -> Result<u64, AppError> {
        let bans: Vec<(i64, String)> = on_db!(self.db, cx => sqlx::query_as("SELECT id, value FROM scoped_rules WHERE kind = 'ban'").fetch_all(cx).await).map_err(internal)?;
        let mut n = 0;
        for (id, value) in bans {
            if IpOrRange::parse(&value).is_ok_and(|v| hit(&v)) {
                n += on_db!(self.db, cx => sqlx::query("DELETE FROM scoped_rules WHERE id = $1").bind(id).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?;
            }
        }
        if n > 0 {
            self.sync().await?;
        }
        Ok(n)
    }

    /// Re-reads the rules when they changed behind the console's back (`charon unban` deletes
    /// scoped bans from the shell). Cheap: one aggregate query.
    pub async fn resync_if_changed(&self) -> Result<(), AppError> {
        let print: (i64, i64) = on_db!(self.db, cx => sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(id), 0) AS BIGINT) FROM scoped_rules").fetch_one(cx).await).map_err(internal)?;
        let changed = {
            let mut last = self.fingerprint.lock().expect("fingerprint lock");
            let changed = last.is_some_and(|l| l != print);
            *last = Some(print);
            changed
        };
        if changed {
            tracing::info!("the site-scoped rules changed outside the console; applying them");
            self.sync().await?;
        }
        Ok(())
    }

    /// Removes a rule of this kind by its (positive) id; returns its value.
    pub async fn remove(&self, kind: &str, id: i64) -> Result<String, AppError> {
        let value: Option<String> = on_db!(self.db, cx => sqlx::query_scalar("DELETE FROM scoped_rules WHERE id = $1 AND kind = $2 RETURNING value")
            .bind(id)
            .bind(kind)
            .fetch_optional(cx).await)
            .map_err(internal)?;
        let value = value.ok_or(AppError::NotFound)?;
        self.sync().await?;
        Ok(value)
    }

    /// Deletes the rules whose time is up (bans, and exceptions given for a while).
    pub async fn expire_due(&self) -> Result<(), AppError> {
        let n = on_db!(self.db, cx => sqlx::query("DELETE FROM scoped_rules WHERE expires_at IS NOT NULL AND expires_at <= $1")
            .bind(now())
            .execute(cx).await.map(|r| r.rows_affected()))
            .map_err(internal)?;
        if n > 0 {
            self.sync().await?;
        }
        Ok(())
    }

    /// The live scoped bans as rows of Live Decisions.
    pub fn bans(&self) -> Vec<Decision> {
        let t = now();
        self.live.lock().expect("scoped lock").iter().filter(|r| r.kind == "ban" && r.expires_at.is_none_or(|e| e > t)).map(Row::decision).collect()
    }

    /// The scoped exceptions as allowlist entries.
    pub fn exceptions(&self) -> Vec<AllowEntry> {
        let t = now();
        self.live.lock().expect("scoped lock").iter().filter(|r| r.kind == "allow" && r.expires_at.is_none_or(|e| e > t)).map(Row::entry).collect()
    }
}
