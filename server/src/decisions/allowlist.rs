//! The allowlist: addresses and ranges that are never blocked. Stored in the database, honoured by
//! the decision cache's lookup (the console's and the bouncer process's), and written into a CrowdSec `s02-enrich` whitelist parser in the
//! engine's config dir (the engine is restarted to load it: SIGHUP stops 1.4.6 instead).

use std::sync::Arc;

use app::decisions::model::{AllowAdded, AllowEntry, IpOrRange, Reason};
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
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    value: String,
    reason: String,
    created_by: String,
    created_at: i64,
}

impl Row {
    fn entry(&self) -> AllowEntry {
        AllowEntry {
            id: self.id,
            value: self.value.clone(),
            reason: self.reason.clone(),
            created_by: self.created_by.clone(),
            created_at: crate::support::time::rfc3339(self.created_at),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "allowlist failure");
    AppError::Internal
}

impl Allowlist {
    pub fn new(db: Db, cache: Arc<DecisionCache>, engine: CrowdSec, proxy: crate::proxy::Proxy) -> Self {
        Allowlist { db, cache, engine, proxy }
    }

    async fn rows(&self) -> Result<Vec<Row>, AppError> {
        sqlx::query_as("SELECT * FROM allowlist ORDER BY value").fetch_all(&self.db).await.map_err(internal)
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

    async fn apply(&self) -> Result<(), AppError> {
        if self.sync().await? {
            self.engine.restart_if_running().await?;
        }
        Ok(())
    }

    pub async fn add(&self, actor: &Admin, target: IpOrRange, reason: Reason) -> Result<AllowAdded, AppError> {
        let res = sqlx::query_as::<_, Row>(
            "INSERT INTO allowlist (value, reason, created_by, created_at) VALUES (?, ?, ?, ?) RETURNING *",
        )
        .bind(target.value())
        .bind(reason.as_str())
        .bind(actor.username())
        .bind(crate::support::time::now())
        .fetch_one(&self.db)
        .await;
        let row = match res {
            Ok(r) => r,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(AppError::Invalid { code: ErrorCode::Duplicate })
            }
            Err(e) => return Err(internal(e)),
        };
        audit::record(&self.db, crate::support::time::now(), actor.username(), "allowlist.add", &format!("{} ({})", row.value, row.reason)).await;
        self.apply().await?;
        // Only addresses and ranges can be covered (a Country decision is not).
        let covered = self.cache.select(crate::support::time::now(), |t, _, _, _| match (&target, t) {
            (_, Subject::Other(_)) => false,
            (IpOrRange::Ip(a), Subject::Address(IpOrRange::Ip(b))) => a == b,
            (IpOrRange::Ip(a), Subject::Address(IpOrRange::Range(n))) => n.contains(a),
            (IpOrRange::Range(n), Subject::Address(IpOrRange::Ip(b))) => n.contains(b),
            (IpOrRange::Range(n), Subject::Address(IpOrRange::Range(m))) => n.contains(m) || m.contains(n),
        });
        Ok(AllowAdded { entry: row.entry(), covered })
    }

    pub async fn remove(&self, actor: &Admin, target: IpOrRange) -> Result<(), AppError> {
        let res = sqlx::query("DELETE FROM allowlist WHERE value = ?")
            .bind(target.value())
            .execute(&self.db)
            .await
            .map_err(internal)?;
        if res.rows_affected() == 0 {
            return Err(AppError::NotFound);
        }
        audit::record(&self.db, crate::support::time::now(), actor.username(), "allowlist.remove", &target.value()).await;
        self.apply().await
    }
}
