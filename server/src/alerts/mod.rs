//! Alerts, read from the engine's LAPI with the machine's credentials (the session manual bans
//! use). The LAPI filters by address or range, scenario, origin and age; the machine and site
//! filters and the page are cut here (the LAPI has no offset, no machine filter and no site
//! filter: a site is the `target_fqdn` its events' parser read). Read-only.

pub mod convert;

use app::alerts::model::{Alert, AlertFilter, AlertPage, AlertTarget, ALERTS_DEPTH_MAX};
use app::error::{AppError, ErrorCode};
use app::services::AlertService;

use app::alerts::model::Evidence;
use app::decisions::model::IpOrRange;

use crate::crowdsec::lapi::MachineSession;
use crate::evidence::EvidenceIndex;
use crate::support::time::parse_rfc3339;

#[derive(Clone)]
pub struct Alerts {
    session: MachineSession,
    evidence: EvidenceIndex,
}

/// Whether one of the alert's events was a request to `site` (lower case).
fn about_site(raw: &serde_json::Value, site: &str) -> bool {
    raw["events"].as_array().into_iter().flatten().flat_map(|e| e["meta"].as_array().into_iter().flatten()).any(|m| {
        m["key"].as_str() == Some("target_fqdn") && m["value"].as_str().is_some_and(|v| v.eq_ignore_ascii_case(site))
    })
}

impl Alerts {
    /// At most `limit` alerts from the LAPI, filtered by machine and site here, newest first; and
    /// how many the LAPI returned.
    async fn fetch(&self, f: &AlertFilter, limit: usize) -> Result<(Vec<Alert>, usize), AppError> {
        let query = lapi_query(f, limit);
        let raw = self
            .session
            .call(|t| {
                let query = query.clone();
                async move { self.session.engine().lapi().list_alerts(&t, &query).await }
            })
            .await?;
        let mut rows: Vec<Alert> = raw
            .iter()
            .filter(|v| f.site.as_deref().is_none_or(|site| about_site(v, site)))
            .map(|v| convert::alert(v, false))
            .filter(|a| f.machine.as_ref().is_none_or(|m| &a.machine == m))
            .collect();
        rows.sort_by(|a, b| b.id.cmp(&a.id));
        Ok((rows, raw.len()))
    }

    pub fn new(session: MachineSession, evidence: EvidenceIndex) -> Self {
        Alerts { session, evidence }
    }

    /// The evidence about an alert on an address or a range; `None` for other scopes, or when the
    /// index cannot be read (the alert is still shown).
    async fn evidence(&self, a: &Alert) -> Option<Evidence> {
        let target = match a.source_scope.to_ascii_lowercase().as_str() {
            "ip" | "range" => IpOrRange::parse(&a.source_value).ok()?,
            _ => return None,
        };
        let started = parse_rfc3339(&a.started_at)?;
        let stopped = parse_rfc3339(&a.stopped_at).unwrap_or(started);
        match self.evidence.about(&target, started * 1000, stopped * 1000 + 999).await {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the evidence index");
                None
            }
        }
    }
}

/// The LAPI query of a filter, asking for at most `limit` alerts.
fn lapi_query(f: &AlertFilter, limit: usize) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    match f.target {
        Some(AlertTarget::Ip(ip)) => q.push(("ip", ip.to_string())),
        // Alerts about addresses or ranges inside it (the LAPI's default is ranges holding it).
        Some(AlertTarget::Range(net)) => {
            q.push(("range", net.to_string()));
            q.push(("contains", "false".to_owned()));
        }
        None => {}
    }
    for (key, value) in [("scenario", &f.scenario), ("origin", &f.origin), ("since", &f.since), ("until", &f.until)] {
        if let Some(v) = value {
            q.push((key, v.clone()));
        }
    }
    q.push(("limit", limit.to_string()));
    q
}

#[async_trait::async_trait]
impl AlertService for Alerts {
    async fn list(&self, f: &AlertFilter) -> Result<AlertPage, AppError> {
        let start = (f.page - 1) * f.per_page;
        // One more than the page shows, to know whether another follows; with a machine or site
        // filter the LAPI cannot narrow, so as deep as paging goes.
        let limit = if f.machine.is_some() || f.site.is_some() { ALERTS_DEPTH_MAX } else { start + f.per_page + 1 };
        let (rows, _) = self.fetch(f, limit).await?;
        let more = rows.len() > start + f.per_page;
        let rows = rows.into_iter().skip(start).take(f.per_page).collect();
        Ok(AlertPage { rows, page: f.page, per_page: f.per_page, more })
    }

    async fn export(&self, f: &AlertFilter) -> Result<Vec<Alert>, AppError> {
        let (rows, fetched) = self.fetch(f, ALERTS_DEPTH_MAX + 1).await?;
        if fetched > ALERTS_DEPTH_MAX {
            return Err(ErrorCode::ExportTooLarge.into());
        }
        Ok(rows)
    }

    async fn get(&self, id: i64) -> Result<Alert, AppError> {
        if id <= 0 {
            return Err(AppError::NotFound);
        }
        let found = self
            .session
            .call(|t| async move { self.session.engine().lapi().find_alert(&t, id).await })
            .await?;
        let mut alert = found.map(|v| convert::alert(&v, true)).ok_or(AppError::NotFound)?;
        alert.evidence = self.evidence(&alert).await;
        Ok(alert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::alerts::model::AlertQuery;

    #[test]
    fn filters_become_the_lapi_query() {
        let f = AlertQuery {
            q: Some("203.0.113.0/24".into()),
            scenario: Some("crowdsecurity/http-probing".into()),
            since: Some("2d".into()),
            ..Default::default()
        }
        .parse()
        .unwrap();
        let q = lapi_query(&f, 51);
        assert_eq!(
            q,
            [("range", "203.0.113.0/24".to_owned()), ("contains", "false".to_owned()), ("scenario", "crowdsecurity/http-probing".to_owned()), ("since", "48h".to_owned()), ("limit", "51".to_owned())]
        );
    }
}
