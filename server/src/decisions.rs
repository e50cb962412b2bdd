//! Live Decisions: listing (filter, sort, page over the in-memory cache), manual bans
//! (`POST /v1/alerts` with the machine JWT, scope `Ip`/`Range`, origin `charon`) and unbans
//! (`DELETE /v1/decisions`). Both are applied to the cache at once, so enforcement does not wait
//! for the next poll, and both are audited. Nothing is sent to the LAPI before the input is valid.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;

use app::decisions_model::{
    BanRequest, Decision, DecisionPage, DecisionQuery, IpOrRange, OriginCount, MANUAL_ORIGIN, PER_PAGE_DEFAULT,
    PER_PAGE_MAX,
};
use app::error::{AppError, EngineErrorCode};

use crate::bouncer::cache::DecisionCache;
use crate::bouncer::sync::Health;
use crate::crowdsec::lapi::LapiError;
use crate::crowdsec::CrowdSec;
use crate::db::{self, audit, Db};
use crate::geo::Geo;

#[derive(Clone)]
pub struct Decisions {
    engine: CrowdSec,
    cache: Arc<DecisionCache>,
    health: Health,
    db: Db,
    geo: Arc<Geo>,
    jwt: Arc<tokio::sync::Mutex<Option<(String, i64)>>>,
}

fn lapi_down(e: impl std::fmt::Display) -> AppError {
    tracing::warn!("LAPI call failed: {e}");
    AppError::Engine { code: EngineErrorCode::LapiUnavailable, detail: None }
}

/// Whether a decision's target matches the `q` filter: an IP matches decisions covering it, a
/// CIDR matches decisions inside it, anything else is a substring of the value.
enum Needle {
    Ip(IpAddr),
    Net(ipnet::IpNet),
    Text(String),
}

impl Needle {
    fn parse(q: &str) -> Option<Self> {
        let q = q.trim();
        if q.is_empty() {
            return None;
        }
        Some(match IpOrRange::parse(q) {
            Ok(IpOrRange::Ip(ip)) if !q.contains('/') => Needle::Ip(ip),
            Ok(IpOrRange::Ip(ip)) => Needle::Net(ipnet::IpNet::from(ip)),
            Ok(IpOrRange::Range(net)) => Needle::Net(net),
            Err(_) => Needle::Text(q.to_lowercase()),
        })
    }

    fn matches(&self, target: &IpOrRange) -> bool {
        match (self, target) {
            (Needle::Ip(ip), IpOrRange::Ip(t)) => ip == t,
            (Needle::Ip(ip), IpOrRange::Range(n)) => n.contains(ip),
            (Needle::Net(net), IpOrRange::Ip(t)) => net.contains(t),
            (Needle::Net(net), IpOrRange::Range(n)) => net.contains(n),
            (Needle::Text(s), t) => t.value().contains(s.as_str()),
        }
    }
}

impl Decisions {
    pub fn new(engine: CrowdSec, cache: Arc<DecisionCache>, health: Health, db: Db, geo: Arc<Geo>) -> Self {
        Decisions { engine, cache, health, db, geo, jwt: Arc::new(tokio::sync::Mutex::new(None)) }
    }

    /// Countries are looked up for the rows shown only (at most a page).
    fn with_country(&self, mut d: Decision) -> Decision {
        d.country = IpOrRange::parse(&d.value).ok().and_then(|t| self.geo.country(&t));
        d
    }

    pub fn cache(&self) -> &Arc<DecisionCache> {
        &self.cache
    }

    pub fn list(&self, q: &DecisionQuery) -> DecisionPage {
        let now = db::now();
        let needle = q.q.as_deref().and_then(Needle::parse);
        let origin = q.origin.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let scenario = q.scenario.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let kind = q.kind.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let mut rows = self.cache.select(now, |target, k, o, s| {
            origin.as_ref().is_none_or(|f| o.eq_ignore_ascii_case(f))
                && kind.as_ref().is_none_or(|f| k.eq_ignore_ascii_case(f))
                && scenario.as_ref().is_none_or(|f| s.to_lowercase().contains(f.as_str()))
                && needle.as_ref().is_none_or(|n| n.matches(target))
        });
        let sort = q.sort.as_deref().unwrap_or("until");
        let (desc, key) = match sort.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, sort),
        };
        rows.sort_by(|a, b| {
            let o = match key {
                "value" => a.value.cmp(&b.value),
                "origin" => a.origin.cmp(&b.origin),
                "scenario" => a.scenario.cmp(&b.scenario),
                "type" => a.kind.cmp(&b.kind),
                _ => a.until.cmp(&b.until),
            }
            .then_with(|| a.value.cmp(&b.value));
            if desc { o.reverse() } else { o }
        });
        let per_page = q.per_page.unwrap_or(PER_PAGE_DEFAULT).clamp(1, PER_PAGE_MAX);
        let total = rows.len();
        let pages = total.div_ceil(per_page).max(1);
        let page = q.page.unwrap_or(1).clamp(1, pages);
        let decisions: Vec<Decision> = rows
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|d| self.with_country(d))
            .collect();
        let health = self.health.lock().expect("health lock").clone();
        DecisionPage {
            decisions,
            total,
            page,
            per_page,
            counts: self
                .cache
                .origin_counts(now)
                .into_iter()
                .map(|(o, n)| OriginCount { origin: o.to_string(), count: n })
                .collect(),
            stale_since: health.stale_since.map(db::rfc3339),
            synced: health.synced,
        }
    }

    /// A machine JWT, logged in again a minute before it expires.
    async fn jwt(&self) -> Result<String, AppError> {
        if !self.engine.status().lapi_ready {
            return Err(AppError::Engine { code: EngineErrorCode::LapiUnavailable, detail: None });
        }
        let mut slot = self.jwt.lock().await;
        if let Some((token, exp)) = slot.as_ref() {
            if *exp - 60 > db::now() {
                return Ok(token.clone());
            }
        }
        let creds = self.engine.machine_credentials().map_err(lapi_down)?;
        let jwt = self.engine.lapi().login(&creds.login, creds.password()).await.map_err(lapi_down)?;
        let exp = time::OffsetDateTime::parse(&jwt.expire, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .unwrap_or_else(|_| db::now() + 600);
        *slot = Some((jwt.token.clone(), exp));
        Ok(jwt.token)
    }

    async fn with_jwt<T, F, Fut>(&self, f: F) -> Result<T, AppError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, LapiError>>,
    {
        let token = self.jwt().await?;
        match f(token).await {
            Err(LapiError::Rejected) => {
                // The engine restarted or the token expired early: log in once more.
                *self.jwt.lock().await = None;
                let token = self.jwt().await?;
                f(token).await.map_err(lapi_down)
            }
            other => other.map_err(lapi_down),
        }
    }

    pub async fn ban(&self, actor: &str, req: BanRequest) -> Result<Decision, AppError> {
        let now_rfc = db::rfc3339(db::now());
        let scenario = if req.reason.as_str().is_empty() {
            format!("manual '{}' from '{MANUAL_ORIGIN}'", req.kind.as_str())
        } else {
            req.reason.as_str().to_owned()
        };
        let value = req.target.value();
        let source = match req.target {
            IpOrRange::Ip(_) => json!({"scope": "Ip", "value": value, "ip": value}),
            IpOrRange::Range(_) => json!({"scope": "Range", "value": value, "range": value}),
        };
        let body = json!([{
            "scenario": scenario, "scenario_hash": "", "scenario_version": "",
            "message": format!("manual '{}' from '{MANUAL_ORIGIN}' by {actor}", req.kind.as_str()),
            "events_count": 1, "start_at": now_rfc, "stop_at": now_rfc,
            "capacity": 0, "leakspeed": "0", "simulated": false, "events": [], "remediation": true,
            "source": source,
            "decisions": [{
                "duration": req.duration.to_go(), "origin": MANUAL_ORIGIN, "scenario": scenario,
                "scope": req.target.scope(), "type": req.kind.as_str(), "value": value
            }]
        }]);
        let ids = self.with_jwt(|t| { let body = body.clone(); async move { self.engine.lapi().post_alerts(&t, &body).await } }).await?;
        let alert_id = ids.first().cloned().ok_or_else(|| lapi_down("no alert id returned"))?;
        let alert = self.with_jwt(|t| { let id = alert_id.clone(); async move { self.engine.lapi().get_alert(&t, &id).await } }).await?;
        let decision_id = alert["decisions"][0]["id"].as_i64().unwrap_or(0);
        let until = db::now() + req.duration.seconds();
        self.cache.insert(req.target, req.kind.as_str(), MANUAL_ORIGIN, &scenario, decision_id, until);
        audit::record(&self.db, db::now(), actor, "decision.ban", &format!("{value} {} {} ({})", req.kind.as_str(), req.duration.to_go(), scenario)).await;
        tracing::info!(value = %value, by = actor, "manual {} added", req.kind.as_str());
        Ok(self.with_country(Decision {
            id: decision_id,
            value,
            scope: req.target.scope().to_owned(),
            kind: req.kind.as_str().to_owned(),
            origin: MANUAL_ORIGIN.to_owned(),
            scenario,
            country: None,
            until: db::rfc3339(until),
            allowlisted: self.cache.is_allowlisted(&req.target),
        }))
    }

    /// Deletes one decision by id (any origin: engine, cscli, CAPI, lists, manual).
    pub async fn unban_id(&self, actor: &str, id: i64) -> Result<u64, AppError> {
        let n = self.with_jwt(|t| async move { self.engine.lapi().delete_decisions(&t, Some(id), &[]).await }).await?;
        let target = self.cache.remove_id(id);
        if n == 0 && target.is_none() {
            return Err(AppError::NotFound);
        }
        let what = target.map(|t| t.value()).unwrap_or_else(|| format!("#{id}"));
        audit::record(&self.db, db::now(), actor, "decision.unban", &what).await;
        Ok(n.max(target.is_some() as u64))
    }

    /// Deletes every decision on exactly this value (an address or a range). `value=` rather
    /// than `ip=`: the latter also deletes wider ranges that merely contain the address.
    pub async fn unban_value(&self, actor: &str, target: IpOrRange) -> Result<u64, AppError> {
        let value = target.value();
        let n = self
            .with_jwt(|t| {
                let q = [("value", value.clone())];
                async move { self.engine.lapi().delete_decisions(&t, None, &q).await }
            })
            .await?;
        let local = self.cache.remove_all(target);
        audit::record(&self.db, db::now(), actor, "decision.unban", &value).await;
        Ok(n.max(local as u64))
    }
}
