//! `charon diagnose [--json] [--data-dir DIR]`: LAPI availability and health, Central-API
//! connectivity, console enrollment, the heartbeat, and configuration validity — with PASS / WARN /
//! FAIL and the fixes of the troubleshooting guide. Works while the server is stopped (it reads the
//! data dir, opens the database read-only and probes the network itself). Exit status 1 when a
//! check fails.

use std::time::Duration;

use serde::Serialize;

use app::console::model::{Connectivity, EnrollmentState, EnrollmentStatus};

use super::capi::Capi;
use super::diagnostics;
use crate::config::Config;
use crate::crowdsec::lapi::Lapi;
use crate::crowdsec::layout::Layout;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub result: Outcome,
    pub detail: String,
    /// What to do about it (the troubleshooting guide's fix), when there is something to do.
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Heartbeat {
    pub last_heartbeat_at: Option<String>,
    pub age_secs: Option<i64>,
    pub interval_secs: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
    pub connectivity: Connectivity,
    pub enrollment: EnrollmentStatus,
    pub heartbeat: Heartbeat,
}

fn c(name: &str, result: Outcome, detail: impl Into<String>, hint: Option<&str>) -> Check {
    Check { name: name.into(), result, detail: detail.into(), hint: hint.map(str::to_owned) }
}

async fn enrollment(config: &Config) -> EnrollmentStatus {
    let db = if let Some(url) = config.postgres_url() {
        let Ok(options) = crate::config::database_url::parse(url) else { return EnrollmentStatus::default() };
        let Ok(pool) = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(options).await else { return EnrollmentStatus::default() };
        crate::db::Db::Postgres(pool)
    } else {
        let path = config.database_path();
        if !path.exists() {
            return EnrollmentStatus::default();
        }
        let url = format!("sqlite://{}?mode=ro", path.display());
        let Ok(pool) = sqlx::SqlitePool::connect(&url).await else { return EnrollmentStatus::default() };
        crate::db::Db::Sqlite(pool)
    };
    let raw: Option<String> = crate::db::on_db!(db, cx => sqlx::query_scalar("SELECT value FROM settings WHERE key = 'console.enrollment'").fetch_optional(cx).await)
        .ok()
        .flatten();
    db.close().await;
    raw.and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
        .and_then(|v| serde_json::from_value(v["status"].clone()).ok())
        .unwrap_or_default()
}

pub async fn run(config: &Config) -> Report {
    let layout = Layout::new(&config.data_dir);
    let lapi = Lapi::new(config.crowdsec_lapi_listen);
    let capi = config.capi_base().map(|u| Capi::new(&u, Duration::from_secs(5)));
    let status = enrollment(config).await;
    let connectivity = diagnostics::connectivity(&lapi, None, capi.as_ref(), status.status).await;
    let mut checks = Vec::new();

    checks.push(match connectivity.lapi.status.as_str() {
        "healthy" => c("LAPI", Outcome::Pass, format!("healthy ({} ms)", connectivity.lapi.latency_ms.unwrap_or(0)), None),
        s => c(
            "LAPI",
            Outcome::Fail,
            format!("{s}: {}", connectivity.lapi.error.clone().unwrap_or_default()),
            Some("Check CrowdSec is enabled on the Security page; it needs up to a minute after a start. Try toggling it off and on."),
        ),
    });
    checks.push(match connectivity.capi.status.as_str() {
        "reachable" => c("CAPI", Outcome::Pass, format!("reachable ({} ms)", connectivity.capi.latency_ms.unwrap_or(0)), None),
        "off" => c("CAPI", Outcome::Warn, "turned off (capi_url = off)", Some("Set CHARON_CAPI_URL to use the CrowdSec Console.")),
        _ => c(
            "CAPI",
            Outcome::Fail,
            format!("unreachable: {}", connectivity.capi.error.clone().unwrap_or_default()),
            Some("Allow outbound HTTPS to api.crowdsec.net:443; check `nslookup api.crowdsec.net`; set HTTP_PROXY/HTTPS_PROXY if a proxy is required."),
        ),
    });
    checks.push(match status.status {
        EnrollmentState::Enrolled => c("console enrollment", Outcome::Pass, format!("enrolled as {}", status.agent_name.clone().unwrap_or_default()), None),
        EnrollmentState::PendingAcceptance => c(
            "console enrollment",
            Outcome::Warn,
            "pending acceptance",
            Some("Accept the instance on console.crowdsec.net, then force a heartbeat: curl -X POST http://localhost:8080/api/v1/cerberus/crowdsec/console/heartbeat"),
        ),
        EnrollmentState::NotEnrolled => c("console enrollment", Outcome::Warn, "not enrolled", Some("Enroll on the Console page with a key from console.crowdsec.net.")),
        EnrollmentState::Enrolling => c("console enrollment", Outcome::Warn, "an enrollment is in progress", None),
        EnrollmentState::Failed => {
            let err = status.last_error.clone().unwrap_or_default();
            let hint = if err.contains("invalid enrollment key") || err.contains("token expired") || err.contains("unauthorized") {
                "Generate a new enrollment token on console.crowdsec.net (Instances → Add Instance) and enroll again."
            } else if err.contains("already enrolled") {
                "The instance may already be listed on the console: force a heartbeat to sync, or enroll with overwrite."
            } else if err.contains("connection refused") || err.contains("LAPI") {
                "Wait a minute after starting CrowdSec, check it is enabled, then try again."
            } else {
                "Check the connectivity checks above and try again."
            };
            c("console enrollment", Outcome::Fail, format!("failed: {err}"), Some(hint))
        }
    });
    let age = status.last_heartbeat_at.as_deref().and_then(crate::support::time::parse_rfc3339).map(|t| crate::support::time::now() - t);
    let interval = config.heartbeat_interval_secs;
    checks.push(match (status.status, age) {
        (EnrollmentState::Enrolled | EnrollmentState::PendingAcceptance, Some(a)) if a <= 2 * interval as i64 + 60 => {
            c("heartbeat", Outcome::Pass, format!("last heartbeat {a} s ago (every {interval} s)"), None)
        }
        (EnrollmentState::Enrolled | EnrollmentState::PendingAcceptance, a) => c(
            "heartbeat",
            Outcome::Warn,
            match a {
                Some(a) => format!("last heartbeat {a} s ago (every {interval} s)"),
                None => "no heartbeat yet".into(),
            },
            Some("Force one: curl -X POST http://localhost:8080/api/v1/cerberus/crowdsec/console/heartbeat (the console must be running)."),
        ),
        _ => c("heartbeat", Outcome::Pass, "not needed (not enrolled)", None),
    });
    for cc in diagnostics::config_checks(&layout, config.capi_base().as_deref(), &status) {
        let hint = (!cc.ok).then_some("Start CrowdSec once from the Security page to regenerate its configuration.");
        checks.push(c(&format!("config: {}", cc.name), if cc.ok { Outcome::Pass } else { Outcome::Fail }, cc.detail, hint));
    }
    Report {
        ok: checks.iter().all(|c| c.result != Outcome::Fail),
        checks,
        connectivity,
        heartbeat: Heartbeat { last_heartbeat_at: status.last_heartbeat_at.clone(), age_secs: age, interval_secs: interval },
        enrollment: status,
    }
}

pub fn print_human(r: &Report) {
    println!("Charon CrowdSec diagnostics");
    for c in &r.checks {
        let tag = match c.result {
            Outcome::Pass => "PASS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
        };
        println!("[{tag}] {}: {}", c.name, c.detail);
        if let Some(h) = &c.hint {
            println!("       fix: {h}");
        }
    }
    println!("{}", if r.ok { "All checks passed." } else { "Some checks failed." });
}
