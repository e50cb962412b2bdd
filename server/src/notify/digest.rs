//! A channel's daily or weekly summary: bans by scenario, origin, country and site, the top
//! addresses (from the event log), the requests the protected sites saw and the bouncer refused
//! (from the evidence index of Charon's access log), the engine's uptime and restarts — each with
//! the period before for comparison. Scheduled at the channel's time (UTC; weekly on Mondays);
//! "send now" sends one about the period that ends now.

use app::error::AppError;
use app::notify::model::{Digest, DigestCount, DigestPeriod, DigestSchedule};

use super::event_log::EventLog;
use super::spec::minutes;
use crate::support::time::rfc3339;

/// Where a digest counts requests: per site, the requests seen and refused between two times
/// (Unix milliseconds). The evidence index of Charon's access log is one.
#[async_trait::async_trait]
pub trait Traffic: Send + Sync {
    async fn by_site(&self, from_ms: i64, to_ms: i64) -> anyhow::Result<Vec<(String, u64, u64)>>;
}

/// Rows in each top list.
const TOP: i64 = 10;

/// The latest time at or before `now` the schedule fires (unix seconds, UTC).
pub fn occurrence(s: &DigestSchedule, now: i64) -> i64 {
    let at = minutes(&s.at).unwrap_or(0) as i64 * 60;
    let day = now - now.rem_euclid(86_400);
    let mut t = day + at;
    if t > now {
        t -= 86_400;
    }
    if s.period == DigestPeriod::Weekly {
        // 1970-01-01 was a Thursday: days since the epoch + 3, mod 7, is 0 on Mondays.
        let weekday = (t.div_euclid(86_400) + 3).rem_euclid(7);
        t -= weekday * 86_400;
    }
    t
}

async fn top(log: &EventLog, column: &str, from: i64, to: i64) -> Result<Vec<DigestCount>, AppError> {
    let now = log.bans_by(column, from, to, TOP).await?;
    let names: Vec<String> = now.iter().map(|(n, _)| n.clone()).collect();
    let before = log.bans_of(column, &names, from - (to - from), from).await?;
    Ok(now.into_iter().zip(before).map(|((name, count), before)| DigestCount { name, count, before }).collect())
}

/// The digest of `[to - period, to)`.
pub async fn compute(log: &EventLog, traffic: &dyn Traffic, period: DigestPeriod, to: i64) -> Result<Digest, AppError> {
    let from = to - period.seconds();
    let prev = from - period.seconds();
    let traffic = |a: i64, b: i64| async move {
        traffic.by_site(a * 1000, b * 1000).await.map_err(|e| {
            tracing::warn!(error = %e, "digest: cannot read the evidence index");
            AppError::Internal
        })
    };
    let (seen, seen_before) = (traffic(from, to).await?, traffic(prev, from).await?);
    let sum = |rows: &[(String, u64, u64)], refused: bool| rows.iter().map(|r| if refused { r.2 } else { r.1 }).sum::<u64>();
    let mut blocked_by_site: Vec<DigestCount> = seen
        .iter()
        .filter(|r| r.2 > 0)
        .map(|(host, _, refused)| DigestCount { name: host.clone(), count: *refused, before: seen_before.iter().find(|b| &b.0 == host).map_or(0, |b| b.2) })
        .collect();
    blocked_by_site.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    blocked_by_site.truncate(TOP as usize);
    let (uptime, restarts) = log.engine_uptime(from, to).await?;
    Ok(Digest {
        period,
        from: rfc3339(from),
        to: rfc3339(to),
        bans: log.bans(from, to).await?,
        bans_before: log.bans(prev, from).await?,
        by_scenario: top(log, "scenario", from, to).await?,
        by_origin: top(log, "origin", from, to).await?,
        by_country: top(log, "country", from, to).await?,
        by_site: top(log, "site", from, to).await?,
        top_addresses: top(log, "value", from, to).await?,
        requests: sum(&seen, false),
        requests_before: sum(&seen_before, false),
        blocked: sum(&seen, true),
        blocked_before: sum(&seen_before, true),
        blocked_by_site,
        engine_uptime_permille: uptime,
        engine_restarts: restarts,
        engine_restarts_before: log.engine_uptime(prev, from).await?.1,
    })
}

fn change(now: u64, before: u64) -> String {
    match now.cmp(&before) {
        std::cmp::Ordering::Equal => "(same as the period before)".to_owned(),
        std::cmp::Ordering::Greater => format!("(+{} from {before})", now - before),
        std::cmp::Ordering::Less => format!("(−{} from {before})", before - now),
    }
}

fn section(out: &mut Vec<String>, title: &str, rows: &[DigestCount]) {
    if rows.is_empty() {
        return;
    }
    out.push(String::new());
    out.push(format!("{title}:"));
    for r in rows {
        out.push(format!("  {} — {} {}", r.name, r.count, change(r.count, r.before)));
    }
}

pub fn title(d: &Digest) -> String {
    let p = if d.period == DigestPeriod::Daily { "daily" } else { "weekly" };
    format!("Charon {p} digest: {} bans, {} blocked requests", d.bans, d.blocked)
}

/// The digest as lines of text (e-mail, chat and push services).
pub fn text(d: &Digest) -> String {
    let mut out = vec![
        format!("From {} to {} (UTC), compared with the {} before.", d.from, d.to, if d.period == DigestPeriod::Daily { "day" } else { "week" }),
        String::new(),
        format!("Bans: {} {}", d.bans, change(d.bans, d.bans_before)),
        format!("Requests seen: {} {}", d.requests, change(d.requests, d.requests_before)),
        format!("Requests blocked: {} {}", d.blocked, change(d.blocked, d.blocked_before)),
        match d.engine_uptime_permille {
            Some(p) => format!("Engine uptime: {}.{}%; restarts after a failure: {} {}", p / 10, p % 10, d.engine_restarts, change(d.engine_restarts, d.engine_restarts_before)),
            None => format!("Engine uptime: no record; restarts after a failure: {}", d.engine_restarts),
        },
    ];
    section(&mut out, "Bans by scenario", &d.by_scenario);
    section(&mut out, "Bans by origin", &d.by_origin);
    section(&mut out, "Bans by country", &d.by_country);
    section(&mut out, "Bans by site", &d.by_site);
    section(&mut out, "Top banned addresses", &d.top_addresses);
    section(&mut out, "Blocked requests by site", &d.blocked_by_site);
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        crate::support::time::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn a_schedule_fires_at_its_time_daily_or_on_mondays() {
        let daily = DigestSchedule { period: DigestPeriod::Daily, at: "08:00".into() };
        // 2026-12-03 is a Thursday.
        assert_eq!(occurrence(&daily, at("2026-12-03T09:30:00Z")), at("2026-12-03T08:00:00Z"));
        assert_eq!(occurrence(&daily, at("2026-12-03T07:59:59Z")), at("2026-12-02T08:00:00Z"));
        assert_eq!(occurrence(&daily, at("2026-12-03T08:00:00Z")), at("2026-12-03T08:00:00Z"));
        let weekly = DigestSchedule { period: DigestPeriod::Weekly, at: "06:30".into() };
        assert_eq!(occurrence(&weekly, at("2026-12-03T09:30:00Z")), at("2026-11-30T06:30:00Z"));
        assert_eq!(occurrence(&weekly, at("2026-11-30T06:29:00Z")), at("2026-11-23T06:30:00Z"));
        assert_eq!(occurrence(&weekly, at("2026-11-30T06:30:00Z")), at("2026-11-30T06:30:00Z"));
    }

    #[test]
    fn the_text_compares_with_the_period_before() {
        let d = Digest {
            period: DigestPeriod::Daily,
            from: "2026-12-02T08:00:00Z".into(),
            to: "2026-12-03T08:00:00Z".into(),
            bans: 12,
            bans_before: 4,
            by_scenario: vec![DigestCount { name: "crowdsecurity/http-probing".into(), count: 9, before: 9 }],
            by_origin: vec![],
            by_country: vec![],
            by_site: vec![],
            top_addresses: vec![],
            requests: 100,
            requests_before: 150,
            blocked: 7,
            blocked_before: 0,
            blocked_by_site: vec![],
            engine_uptime_permille: Some(995),
            engine_restarts: 1,
            engine_restarts_before: 0,
        };
        let t = text(&d);
        assert!(t.contains("Bans: 12 (+8 from 4)"), "{t}");
        assert!(t.contains("Requests seen: 100 (−50 from 150)"), "{t}");
        assert!(t.contains("crowdsecurity/http-probing — 9 (same as the period before)"), "{t}");
        assert!(t.contains("Engine uptime: 99.5%"), "{t}");
        assert!(!t.contains("Bans by origin"), "empty sections are left out");
        assert_eq!(title(&d), "Charon daily digest: 12 bans, 7 blocked requests");
    }
}
