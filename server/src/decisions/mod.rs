//! Live Decisions: listing (filter, sort, page, group by address over the in-memory cache; see
//! `query`), exports, manual bans (`POST /v1/alerts` with the machine JWT, scope `Ip`/`Range`,
//! origin `charon`, refused when they would lock out an administrator: `lockout`), unbans
//! (`DELETE /v1/decisions`), unban-and-allow, and the allowlist (`allowlist`). Bans and unbans are
//! applied to the cache at once, so enforcement does not wait for the next poll, and are audited
//! with their outcome; who made each manual ban is kept (`decision_authors`). Nothing is sent to the
//! LAPI before the input is valid. `Decisions` is the `DecisionService` REST and the server
//! functions both call.

pub mod allowlist;
pub mod import;
pub mod import_list;
pub mod lockout;
pub mod query;
pub mod scoped;

use crate::db::on_db;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::json;
use tokio_stream::wrappers::BroadcastStream;

use app::decisions::model::{
    AddressGroup, AllowAdded, AllowEntry, AllowFor, Scope, Shielded, BanRequest, MadeBy, UnbannedAndAllowed, EXPORT_DECISIONS_MAX, ImportProgress, ImportRequest, Decision, DecisionPage, DecisionQuery, IpOrRange, OriginCount, Reason,
    MANUAL_ORIGIN,
};
use app::error::{AppError, ErrorCode};
use app::accounts::model::{Admin, Role};
use app::services::{DecisionService, Feed};

use self::allowlist::Allowlist;
use self::lockout::Lockout;
use self::scoped::ScopedRules;
use crate::bouncer::cache::DecisionCache;
use crate::bouncer::sync::Health;
use crate::crowdsec::lapi::session::{lapi_down, MachineSession};
use crate::db::{audit, Db};
use crate::geo::Geo;
use crate::support::time::{now, rfc3339};

#[derive(Clone)]
pub struct Decisions {
    session: MachineSession,
    cache: Arc<DecisionCache>,
    health: Health,
    db: Db,
    geo: Arc<Geo>,
    allowlist: Allowlist,
    imports: Arc<import::Imports>,
    /// Who made the decisions made through Charon, by engine id (`decision_authors`).
    authors: Arc<Mutex<HashMap<i64, MadeBy>>>,
    lockout: Lockout,
    scoped: ScopedRules,
    /// The protected set as last told to the cache and the bouncer.
    protected: Arc<Mutex<Option<Vec<IpOrRange>>>>,
    /// Manual actions are notified (channels subscribed to `manual`).
    events: crate::notify::Events,
    /// The shortest prefixes an operator may ban (IPv4, IPv6).
    operator_limit: (u8, u8),
}

impl Decisions {
    #[allow(clippy::too_many_arguments)]
    pub fn new(session: MachineSession, cache: Arc<DecisionCache>, health: Health, db: Db, geo: Arc<Geo>, allowlist: Allowlist, lockout: Lockout, scoped: ScopedRules, events: crate::notify::Events) -> Self {
        Decisions {
            session,
            cache,
            health,
            db,
            geo,
            allowlist,
            imports: Arc::default(),
            authors: Arc::default(),
            lockout,
            scoped,
            protected: Arc::default(),
            events,
            operator_limit: (24, 64),
        }
    }

    /// The widest ranges an operator may ban (IPv4 and IPv6 prefix lengths).
    pub fn with_operator_limit(mut self, v4: u8, v6: u8) -> Self {
        self.operator_limit = (v4, v6);
        self
    }

    pub fn scoped(&self) -> &ScopedRules {
        &self.scoped
    }

    /// The cache's rows and the scoped bans the query selects, sorted.
    fn selected(&self, q: &DecisionQuery) -> Vec<Decision> {
        let filter = query::Filter::new(q);
        let mut rows = self.cache.select(now(), |subject, kind, origin, scenario| filter.matches(&subject, kind, origin, scenario));
        rows.extend(self.scoped.bans().into_iter().filter(|d| {
            filter.site_matches(&d.sites)
                && IpOrRange::parse(&d.value).is_ok_and(|t| filter.matches(&crate::bouncer::cache::Subject::Address(&t), &d.kind, &d.origin, &d.scenario))
        }));
        query::sort(&mut rows, q.sort.as_deref());
        rows
    }

    /// Brings the cache's and the bouncer's protected set up to date with the signed-in
    /// administrators (called every few seconds; only a change is passed on).
    pub async fn refresh_protected(&self) -> Result<(), AppError> {
        let now = self.lockout.protected().await?;
        let mut last = self.protected.lock().expect("protected lock");
        if last.as_ref() != Some(&now) {
            self.allowlist.set_protected(&now);
            *last = Some(now);
        }
        Ok(())
    }

    /// Loads who made the decisions made through Charon, forgetting those too old to be active
    /// (a ban lasts at most 365 days).
    pub async fn restore_authors(&self) -> anyhow::Result<()> {
        on_db!(self.db, cx => sqlx::query("DELETE FROM decision_authors WHERE at < $1").bind(now() - 366 * 86_400).execute(cx).await.map(|r| r.rows_affected()))?;
        let rows: Vec<(i64, String, String, i64)> =
            on_db!(self.db, cx => sqlx::query_as("SELECT decision_id, actor, via, at FROM decision_authors").fetch_all(cx).await)?;
        let mut map = self.authors.lock().expect("authors lock");
        for (id, actor, via, at) in rows {
            map.insert(id, MadeBy { actor, via, at: rfc3339(at) });
        }
        Ok(())
    }

    async fn remember_author(&self, id: i64, actor: &Admin) {
        let (via, at) = (actor.principal().via(), now());
        let res = on_db!(self.db, cx => sqlx::query("INSERT INTO decision_authors (decision_id, actor, via, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (decision_id) DO UPDATE SET actor = excluded.actor, via = excluded.via, at = excluded.at")
            .bind(id)
            .bind(actor.username())
            .bind(&via)
            .bind(at)
            .execute(cx).await.map(|r| r.rows_affected()));
        if let Err(e) = res {
            tracing::warn!(error = %e, "cannot record who made decision {id}");
        }
        self.authors.lock().expect("authors lock").insert(id, MadeBy { actor: actor.username().to_owned(), via, at: rfc3339(at) });
    }

    fn author_of(&self, d: &mut Decision) {
        if d.origin == MANUAL_ORIGIN && d.id > 0 {
            d.made_by = self.authors.lock().expect("authors lock").get(&d.id).cloned();
        }
    }

    /// Deletes at the engine every decision covering `target` and drops them from the cache.
    async fn unban_covering(&self, target: &IpOrRange) -> Result<u64, AppError> {
        let n = delete_covering(&self.session, target).await?;
        let covered = self.cache.select(now(), |subject, _, _, _| allowlist::covers(target, &subject));
        let mut local = 0;
        for value in covered.iter().map(|d| d.value.clone()).collect::<std::collections::BTreeSet<_>>() {
            if let Ok(t) = IpOrRange::parse(&value) {
                local += self.cache.remove_all(t);
            }
        }
        Ok(n.max(local as u64))
    }

    /// Countries are looked up for the rows shown only (at most a page).
    fn with_country(&self, mut d: Decision) -> Decision {
        d.country = if d.scope.eq_ignore_ascii_case("country") {
            Some(d.value.to_uppercase())
        } else {
            IpOrRange::parse(&d.value).ok().and_then(|t| self.geo.country(&t))
        };
        d
    }

    pub fn cache(&self) -> &Arc<DecisionCache> {
        &self.cache
    }

    pub fn allowlist_store(&self) -> &Allowlist {
        &self.allowlist
    }
}

/// The LAPI `DELETE /v1/decisions` queries that together select every decision covering `target`
/// (an address: those on it and on ranges holding it; a range: those inside it too).
pub fn covering_queries(target: &IpOrRange) -> Vec<Vec<(&'static str, String)>> {
    match target {
        IpOrRange::Ip(_) => vec![vec![("ip", target.value())]],
        IpOrRange::Range(_) => vec![
            vec![("range", target.value()), ("contains", "true".into())],
            vec![("range", target.value()), ("contains", "false".into())],
        ],
    }
}

/// Deletes at the engine every decision covering `target`; returns how many.
async fn delete_covering(session: &MachineSession, target: &IpOrRange) -> Result<u64, AppError> {
    let mut n = 0;
    for q in covering_queries(target) {
        n += session.call(|t| { let q = q.clone(); async move { session.engine().lapi().delete_decisions(&t, None, &q).await } }).await?;
    }
    Ok(n)
}

/// The alert that carries decisions made in Charon (a manual ban, an import batch) to
/// `POST /v1/alerts`: no events, started and stopped now.
fn alert(scenario: &str, message: String, source: serde_json::Value, decisions: Vec<serde_json::Value>) -> serde_json::Value {
    let stamp = rfc3339(now());
    json!([{
        "scenario": scenario, "scenario_hash": "", "scenario_version": "",
        "message": message, "events_count": decisions.len(), "start_at": stamp, "stop_at": stamp,
        "capacity": 0, "leakspeed": "0", "simulated": false, "events": [], "remediation": true,
        "source": source, "decisions": decisions
    }])
}

impl Decisions {
    async fn ban_once(&self, actor: &Admin, request: BanRequest) -> Result<Decision, AppError> {
        let req = request;
        // An operator bans addresses and narrow ranges only (a confirmation does not widen that).
        if actor.principal().role == Role::Operator {
            if let IpOrRange::Range(net) = &req.target {
                let shortest = if net.addr().is_ipv4() { self.operator_limit.0 } else { self.operator_limit.1 };
                if net.prefix_len() < shortest {
                    return Err(ErrorCode::RangeBeyondRole.into());
                }
            }
        }
        if !req.confirm {
            if let Some(address) = self.lockout.would_lock_out(&req.target, actor.principal().address.as_deref()).await? {
                return Err(AppError::LocksOut { address });
            }
        }
        if !req.sites.is_empty() {
            return self.scoped.ban(actor, &req).await;
        }
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
        let decision = json!({
            "duration": req.duration.to_go(), "origin": MANUAL_ORIGIN, "scenario": scenario,
            "scope": req.target.scope(), "type": req.kind.as_str(), "value": value
        });
        let message = format!("manual '{}' from '{MANUAL_ORIGIN}' by {}", req.kind.as_str(), actor.username());
        let body = alert(&scenario, message, source, vec![decision]);
        let ids = self.session.call(|t| { let body = body.clone(); async move { self.session.engine().lapi().post_alerts(&t, &body).await } }).await?;
        let alert_id = ids.first().cloned().ok_or_else(|| lapi_down("no alert id returned"))?;
        let alert = self.session.call(|t| { let id = alert_id.clone(); async move { self.session.engine().lapi().get_alert(&t, &id).await } }).await?;
        let decision_id = alert["decisions"][0]["id"].as_i64().unwrap_or(0);
        let until = now() + req.duration.seconds();
        self.cache.insert(req.target, req.kind.as_str(), MANUAL_ORIGIN, &scenario, decision_id, until);
        if decision_id > 0 {
            self.remember_author(decision_id, actor).await;
        }
        tracing::info!(value = %value, by = actor.username(), "manual {} added", req.kind.as_str());
        Ok(self.with_country(Decision {
            id: decision_id,
            value,
            scope: req.target.scope().to_owned(),
            kind: req.kind.as_str().to_owned(),
            origin: MANUAL_ORIGIN.to_owned(),
            scenario,
            country: None,
            until: rfc3339(until),
            allowlisted: self.cache.is_allowlisted(&req.target),
            not_enforced: false,
            made_by: self.authors.lock().expect("authors lock").get(&decision_id).cloned(),
            sites: Vec::new(),
        }))
    }

    async fn unban_once(&self, id: i64) -> Result<(u64, Option<String>), AppError> {
        // A site-scoped ban is listed with the negation of its rule's id.
        if id < 0 {
            let value = self.scoped.remove("ban", -id).await?;
            return Ok((1, Some(value)));
        }
        // The engine's ids start at 1; 0 marks an imported decision whose id has not arrived yet.
        if id <= 0 {
            return Err(AppError::NotFound);
        }
        let n = self.session.call(|t| async move { self.session.engine().lapi().delete_decisions(&t, Some(id), &[]).await }).await?;
        let target = self.cache.remove_id(id);
        if n == 0 && target.is_none() {
            return Err(AppError::NotFound);
        }
        Ok((n.max(target.is_some() as u64), target.map(|t| t.value())))
    }
}

#[async_trait::async_trait]
impl DecisionService for Decisions {
    fn list(&self, q: &DecisionQuery) -> DecisionPage {
        let now = now();
        let rows = self.selected(q);
        let shown = |d: Decision| {
            let mut d = self.with_country(d);
            self.author_of(&mut d);
            d
        };
        let (decisions, groups, total, current, per_page) = if q.grouped() {
            let page = query::page(query::group_by_value(rows), q.page, q.per_page);
            let groups = page.rows.into_iter().map(|g| AddressGroup::fold(g.into_iter().map(shown).collect())).collect();
            (Vec::new(), groups, page.total, page.page, page.per_page)
        } else {
            let page = query::page(rows, q.page, q.per_page);
            (page.rows.into_iter().map(shown).collect(), Vec::new(), page.total, page.page, page.per_page)
        };
        let health = self.health.lock().expect("health lock").clone();
        DecisionPage {
            decisions,
            groups,
            total,
            page: current,
            per_page,
            counts: self
                .cache
                .origin_counts(now)
                .into_iter()
                .map(|(o, n)| OriginCount { origin: o.to_string(), count: n })
                .collect(),
            stale_since: health.stale_since.map(rfc3339),
            synced: health.synced,
        }
    }

    fn export(&self, q: &DecisionQuery) -> Result<Vec<Decision>, AppError> {
        let rows = self.selected(q);
        if rows.len() > EXPORT_DECISIONS_MAX {
            return Err(ErrorCode::ExportTooLarge.into());
        }
        Ok(rows.into_iter().map(|d| self.with_country(d)).map(|mut d| { self.author_of(&mut d); d }).collect())
    }

    fn change_feed(&self) -> Feed<u64> {
        let first = self.cache.version();
        // A lagging client only needs to know that something changed.
        let changes = BroadcastStream::new(self.cache.subscribe()).map(|v| v.unwrap_or(0));
        futures_util::stream::once(async move { first }).chain(changes).boxed()
    }

    async fn ban(&self, actor: &Admin, request: BanRequest) -> Result<Decision, AppError> {
        let on = if request.sites.is_empty() { String::new() } else { format!(" on {}", request.sites.join(", ")) };
        let (value, what) = (request.target.value(), format!("{} for {}{on}", request.kind.as_str(), request.duration.to_go()));
        let result = self.ban_once(actor, request).await;
        let detail = result.as_ref().map(|d| format!("{what} ({})", d.scenario)).unwrap_or(what);
        if let Ok(d) = &result {
            self.events.banned(actor, &value, &d.scenario, &detail);
        }
        audit::outcome(&self.db, actor, "decision.ban", &value, &detail, &result).await;
        result
    }

    /// Deletes one decision by id (any origin: engine, cscli, CAPI, lists, manual).
    async fn unban(&self, actor: &Admin, id: i64) -> Result<u64, AppError> {
        let result = self.unban_once(id).await;
        let target = result.as_ref().ok().and_then(|(_, t)| t.clone()).unwrap_or_else(|| format!("#{id}"));
        let result = result.map(|(n, _)| n);
        if result.is_ok() {
            self.events.manual(actor, "unbanned", &target, &format!("decision #{id} deleted"));
        }
        audit::outcome(&self.db, actor, "decision.unban", &target, &format!("decision #{id} deleted"), &result).await;
        result
    }

    /// Deletes every decision on exactly this value (an address or a range). `value=` rather
    /// than `ip=`: the latter also deletes wider ranges that merely contain the address.
    async fn unban_value(&self, actor: &Admin, target: IpOrRange) -> Result<u64, AppError> {
        let value = target.value();
        let result = async {
            let n = self
                .session
                .call(|t| {
                    let q = [("value", value.clone())];
                    async move { self.session.engine().lapi().delete_decisions(&t, None, &q).await }
                })
                .await?;
            let scoped = self.scoped.remove_bans(|v| *v == target).await?;
            Ok(n.max(self.cache.remove_all(target) as u64) + scoped)
        }
        .await;
        let detail = result.as_ref().map(|n| format!("{n} decisions deleted")).unwrap_or_default();
        if result.is_ok() {
            self.events.manual(actor, "unbanned", &value, &detail);
        }
        audit::outcome(&self.db, actor, "decision.unban", &value, &detail, &result).await;
        result
    }

    async fn shielded(&self, _actor: &Admin) -> Result<Vec<Shielded>, AppError> {
        let protected = self.lockout.protected().await?;
        let mut out = Vec::new();
        for p in &protected {
            let rows = self.cache.select(now(), |subject, _, origin, _| origin != MANUAL_ORIGIN && allowlist::covers(p, &subject));
            out.extend(rows.into_iter().map(|d| Shielded { protected: p.value(), decision: self.with_country(d) }));
        }
        Ok(out)
    }

    async fn unban_and_allow(&self, actor: &Admin, target: IpOrRange, period: AllowFor, scope: Scope, reason: Reason) -> Result<UnbannedAndAllowed, AppError> {
        let value = target.value();
        let narrow = !scope.is_everywhere();
        let result = if narrow {
            // Only where the scope says: the decisions stay (they still apply elsewhere); an
            // exception lets the address through there for the chosen time.
            let until = period.seconds().map(|s| now() + s);
            self.scoped.allow(actor, &target, &scope, &reason, until).await.map(|entry| UnbannedAndAllowed { entry, unbanned: 0 })
        } else {
            match self.allowlist.allow_while(actor, &target, period, &reason, || self.unban_covering(&target)).await {
                // Charon's own site-scoped bans go once the entry is stored (the allowlist's
                // transaction holds SQLite's write lock until then); the entry outranks them meanwhile.
                Ok((entry, unbanned)) => self
                    .scoped
                    .remove_bans(|v| allowlist::covers(&target, &crate::bouncer::cache::Subject::Address(v)))
                    .await
                    .map(|scoped| UnbannedAndAllowed { entry, unbanned: unbanned + scoped }),
                Err(e) => Err(e),
            }
        };
        let how_long = match (&result, period) {
            (Ok(UnbannedAndAllowed { entry: AllowEntry { expires_at: Some(t), .. }, .. }), _) => format!("allowed until {t}"),
            (Ok(_), _) | (Err(_), AllowFor::Removed) => "allowed until removed".to_owned(),
            (Err(_), AllowFor::Until(d)) => format!("allow for {}", d.to_go()),
        };
        let where_ = if narrow { format!(" on {}", scope.describe()) } else { String::new() };
        let detail = match &result {
            Ok(r) => format!("{} decisions deleted, {how_long}{where_} ({})", r.unbanned, reason.as_str()),
            Err(_) => format!("nothing changed; asked: {how_long}{where_} ({})", reason.as_str()),
        };
        if result.is_ok() {
            self.events.manual(actor, "unbanned and allowed", &value, &detail);
        }
        audit::outcome(&self.db, actor, "decision.unban_and_allow", &value, &detail, &result).await;
        result
    }

    async fn allowlist(&self) -> Result<Vec<AllowEntry>, AppError> {
        let mut all = self.allowlist.list().await?;
        all.extend(self.scoped.exceptions());
        Ok(all)
    }

    async fn allow(&self, actor: &Admin, target: IpOrRange, scope: Scope, reason: Reason) -> Result<AllowAdded, AppError> {
        if scope.is_everywhere() {
            let added = self.allowlist.add(actor, target, reason.clone()).await?;
            self.events.manual(actor, "allowed", &added.entry.value, &format!("on every site ({})", reason.as_str()));
            return Ok(added);
        }
        let entry = self.scoped.allow(actor, &target, &scope, &reason, None).await?;
        let detail = format!("scoped: {} ({})", scope.describe(), reason.as_str());
        self.events.manual(actor, "allowed", &entry.value, &detail);
        audit::by(&self.db, actor, "allowlist.add", &entry.value, &detail).await;
        Ok(AllowAdded { entry, covered: Vec::new() })
    }

    async fn disallow_id(&self, actor: &Admin, id: i64) -> Result<(), AppError> {
        if id >= 0 {
            return Err(AppError::NotFound);
        }
        let value = self.scoped.remove("allow", -id).await?;
        audit::by(&self.db, actor, "allowlist.remove", &value, "scoped exception removed").await;
        Ok(())
    }

    async fn disallow(&self, actor: &Admin, target: IpOrRange) -> Result<(), AppError> {
        self.allowlist.remove(actor, target).await
    }

    async fn import(&self, actor: &Admin, request: ImportRequest) -> Result<ImportProgress, AppError> {
        self.start_import(actor, request).await
    }

    fn import_progress(&self, id: u64) -> Option<ImportProgress> {
        self.imports.progress(id)
    }
}
