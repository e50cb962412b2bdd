//! The allowlist: addresses and ranges that are never blocked. Stored in the database, honoured by
//! the decision cache's lookup (the console's and the bouncer process's), and written into a CrowdSec `s02-enrich` whitelist parser in the
//! engine's config dir (the engine is restarted to load it: SIGHUP stops 1.4.6 instead).
//! An entry may expire ("unban and allow for 1 h"): expired entries are not in force from the
//! moment they expire and are deleted by `expire_due`, which the console runs every few seconds.

use crate::db::{on_db, on_tx};
use std::sync::Arc;

use app::decisions::model::{AllowAdded, AllowEntry, AllowFor, IpOrRange, Reason};
use app::error::{AppError, ErrorCode};
use app::accounts::model::Admin;
use serde_json::json;

use crate::bouncer::cache::{DecisionCache, Subject};
use crate::support::files::write_if_changed;
use crate::crowdsec::CrowdSec;
use crate::db::{audit, Db};

#[derive(Clone)]
pub struct Allowlist {
    db: Db,
    cache: Arc<DecisionCache>,
    engine: CrowdSec,
    proxy: crate::proxy::Proxy,
    /// The list's shape when last applied (see `resync_if_changed`).
    fingerprint: Arc<std::sync::Mutex<Option<(i64, i64, i64, i64)>>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    value: String,
    reason: String,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
}

impl Row {
    fn entry(&self) -> AllowEntry {
        AllowEntry {
            id: self.id,
            value: self.value.clone(),
            reason: self.reason.clone(),
            created_by: self.created_by.clone(),
            created_at: crate::support::time::rfc3339(self.created_at),
            expires_at: self.expires_at.map(crate::support::time::rfc3339),
            sites: Vec::new(),
            path_prefix: None,
            scenario: None,
        }
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "allowlist failure");
    AppError::Internal
}

impl Allowlist {
    pub fn new(db: Db, cache: Arc<DecisionCache>, engine: CrowdSec, proxy: crate::proxy::Proxy) -> Self {
        Allowlist { db, cache, engine, proxy, fingerprint: Arc::default() }
    }

    /// The entries in force now (an expired entry not yet deleted is not).
    async fn rows(&self) -> Result<Vec<Row>, AppError> {
        on_db!(self.db, cx => sqlx::query_as("SELECT * FROM allowlist WHERE expires_at IS NULL OR expires_at > $1 ORDER BY value")
            .bind(crate::support::time::now())
            .fetch_all(cx).await)
            .map_err(internal)
    }

    pub async fn list(&self) -> Result<Vec<AllowEntry>, AppError> {
        Ok(self.rows().await?.iter().map(Row::entry).collect())
    }

    /// Pushes the stored list into the cache and the engine's whitelist parser. Called at start
    /// and after every change; returns whether the parser file changed.
    pub async fn sync(&self) -> Result<bool, AppError> {
        let rows = self.rows().await?;
        let targets: Vec<IpOrRange> = rows.iter().filter_map(|r| IpOrRange::parse(&r.value).ok()).collect();
        self.cache.set_allowlist(&targets);
        self.proxy.set_allowlist(targets.iter().map(IpOrRange::value).collect());
        let ips: Vec<String> = targets.iter().filter(|t| matches!(t, IpOrRange::Ip(_))).map(|t| t.value()).collect();
        let cidrs: Vec<String> = targets.iter().filter(|t| matches!(t, IpOrRange::Range(_))).map(|t| t.value()).collect();
        let doc = json!({
            "name": "charon/allowlist",
            "description": "Addresses allowlisted in Charon; generated, edits are overwritten",
            "whitelist": { "reason": "allowlisted in Charon", "ip": ips, "cidr": cidrs }
        });
        let dir = self.engine.layout().config_dir.join("parsers").join("s02-enrich");
        let file = dir.join("charon-allowlist.yaml");
        if targets.is_empty() {
            // CrowdSec refuses a whitelist node without entries ("Node is empty") and exits.
            return match std::fs::remove_file(&file) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(internal(e)),
            };
        }
        let text = serde_norway::to_string(&doc).map_err(internal)?;
        std::fs::create_dir_all(&dir).map_err(internal)?;
        write_if_changed(&file, &text).map_err(internal)
    }

    /// Tells the cache and the bouncer the addresses administrators use (lockout protection).
    pub fn set_protected(&self, targets: &[IpOrRange]) {
        self.cache.set_protected(targets);
        self.proxy.set_protected(targets.iter().map(IpOrRange::value).collect());
    }

    async fn apply(&self) -> Result<(), AppError> {
        if self.sync().await? {
            self.engine.restart_if_running().await?;
        }
        Ok(())
    }

    pub async fn add(&self, actor: &Admin, target: IpOrRange, reason: Reason) -> Result<AllowAdded, AppError> {
        let res = on_db!(self.db, cx => sqlx::query_as::<_, Row>(
            "INSERT INTO allowlist (value, reason, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING *",
        )
        .bind(target.value())
        .bind(reason.as_str())
        .bind(actor.username())
        .bind(crate::support::time::now())
        .fetch_one(cx).await);
        let row = match res {
            Ok(r) => r,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(AppError::Invalid { code: ErrorCode::Duplicate })
            }
            Err(e) => return Err(internal(e)),
        };
        audit::by(&self.db, actor, "allowlist.add", &row.value, &format!("allowed until removed ({})", row.reason)).await;
        self.apply().await?;
        let covered = self.cache.select(crate::support::time::now(), |t, _, _, _| covers(&target, &t));
        Ok(AllowAdded { entry: row.entry(), covered })
    }

    /// Allowlists `target` for `period` and runs `unban` (the deletion at the engine) inside the
    /// same database transaction: when `unban` fails, the allowlist is left as it was. An entry
    /// that is already there keeps the later of both ends ("until removed" stays so).
    pub async fn allow_while<F, Fut>(&self, actor: &Admin, target: &IpOrRange, period: AllowFor, reason: &Reason, unban: F) -> Result<(AllowEntry, u64), AppError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<u64, AppError>>,
    {
        let mut tx = self.db.begin().await.map_err(internal)?;
        let row = upsert(&mut tx, actor, target, period, reason).await?;
        let deleted = match unban().await {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        tx.commit().await.map_err(internal)?;
        self.apply().await?;
        Ok((row.entry(), deleted))
    }

    /// The break-glass path (`charon unban`, from the server's shell, perhaps with the console
    /// down): stores the entry and tells the bouncer at once; the engine's whitelist follows when
    /// the console next looks (`resync_if_changed`).
    pub async fn allow_from_shell(&self, actor: &Admin, target: &IpOrRange, period: AllowFor, reason: &Reason) -> Result<AllowEntry, AppError> {
        let mut tx = self.db.begin().await.map_err(internal)?;
        let row = upsert(&mut tx, actor, target, period, reason).await?;
        tx.commit().await.map_err(internal)?;
        let values: Vec<String> = self.rows().await?.iter().map(|r| r.value.clone()).collect();
        self.proxy.set_allowlist(values);
        Ok(row.entry())
    }

    /// Re-applies the stored list when it changed behind the console's back (`charon unban`
    /// writes the database directly). Cheap: one aggregate query.
    pub async fn resync_if_changed(&self) -> Result<(), AppError> {
        let print: (i64, i64, i64, i64) = on_db!(self.db, cx => sqlx::query_as(
            "SELECT COUNT(*), COALESCE(MAX(id), 0), CAST(COALESCE(SUM(expires_at), 0) AS BIGINT), COALESCE(MAX(created_at), 0) FROM allowlist",
        )
        .fetch_one(cx).await)
        .map_err(internal)?;
        let changed = {
            let mut last = self.fingerprint.lock().expect("fingerprint lock");
            let changed = last.is_some_and(|l| l != print);
            *last = Some(print);
            changed
        };
        if changed {
            tracing::info!("the allowlist changed outside the console; applying it");
            self.apply().await?;
        }
        Ok(())
    }

    /// Deletes the entries whose time is up and brings the cache, the bouncer and the engine's
    /// whitelist in line, then records each in the audit log (so the log never says an entry
    /// left while the engine still applies it); returns how many left.
    pub async fn expire_due(&self) -> Result<usize, AppError> {
        let gone: Vec<(String,)> = on_db!(self.db, cx => sqlx::query_as("DELETE FROM allowlist WHERE expires_at IS NOT NULL AND expires_at <= $1 RETURNING value")
            .bind(crate::support::time::now())
            .fetch_all(cx).await)
            .map_err(internal)?;
        let applied = if gone.is_empty() { Ok(()) } else { self.apply().await };
        for (value,) in &gone {
            let entry = audit::Entry { actor: "charon", via: "expiry".into(), action: "allowlist.expire", target: value, detail: "the allowed time ran out", ..Default::default() };
            audit::write(&self.db, crate::support::time::now(), &entry).await;
            tracing::info!(value = %value, "allowlist entry expired");
        }
        applied.map(|()| gone.len())
    }

    pub async fn remove(&self, actor: &Admin, target: IpOrRange) -> Result<(), AppError> {
        let res = on_db!(self.db, cx => sqlx::query("DELETE FROM allowlist WHERE value = $1")
            .bind(target.value())
            .execute(cx).await.map(|r| r.rows_affected()))
            .map_err(internal)?;
        if res == 0 {
            return Err(AppError::NotFound);
        }
        audit::by(&self.db, actor, "allowlist.remove", &target.value(), "removed").await;
        self.apply().await
    }
}

/// Inserts or extends the entry for `target`: an existing entry keeps the later of both ends
/// ("until removed" stays so).
async fn upsert(tx: &mut crate::db::Tx, actor: &Admin, target: &IpOrRange, period: AllowFor, reason: &Reason) -> Result<Row, AppError> {
    let now = crate::support::time::now();
    let previous: Option<Row> = on_tx!(tx, cx => sqlx::query_as("SELECT * FROM allowlist WHERE value = $1")
        .bind(target.value())
        .fetch_optional(cx).await)
        .map_err(internal)?;
    let expires_at = match (previous.as_ref().map(|r| r.expires_at), period.seconds()) {
        (Some(None), _) | (_, None) => None,
        (Some(Some(old)), Some(s)) => Some(old.max(now + s)),
        (None, Some(s)) => Some(now + s),
    };
    on_tx!(tx, cx => sqlx::query_as(
        "INSERT INTO allowlist (value, reason, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (value) DO UPDATE SET reason = excluded.reason, created_by = excluded.created_by, \
         created_at = excluded.created_at, expires_at = excluded.expires_at RETURNING *",
    )
    .bind(target.value())
    .bind(reason.as_str())
    .bind(actor.username())
    .bind(now)
    .bind(expires_at)
    .fetch_one(cx).await)
    .map_err(internal)
}

/// Whether an allowlist entry (or an unban) for `target` covers a decision on `subject`: the
/// same address, a range holding it, or a range inside it. Country or AS decisions never are.
pub fn covers(target: &IpOrRange, subject: &Subject<'_>) -> bool {
    match (target, subject) {
        (_, Subject::Other(_)) => false,
        (IpOrRange::Ip(a), Subject::Address(IpOrRange::Ip(b))) => a == b,
        (IpOrRange::Ip(a), Subject::Address(IpOrRange::Range(n))) => n.contains(a),
        (IpOrRange::Range(n), Subject::Address(IpOrRange::Ip(b))) => n.contains(b),
        (IpOrRange::Range(n), Subject::Address(IpOrRange::Range(m))) => n.contains(m) || m.contains(n),
    }
}
