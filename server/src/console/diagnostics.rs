//! Diagnostics shared by the REST API and `charon diagnose`: LAPI and CAPI connectivity with
//! latencies, and one check per configuration file the engine and the enrollment depend on.

use std::time::Instant;

use app::console::model::{CapiConnectivity, ConfigCheck, Connectivity, EnrollmentState, EnrollmentStatus, LapiConnectivity};

use super::capi::{Capi, CapiError};
use super::credentials::OnlineCredentials;
use crate::crowdsec::layout::Layout;
use crate::crowdsec::lapi::Lapi;

/// `running`: what the server knows (`Some(false)`: stopped, no probe); `None` (the CLI): probe.
pub async fn lapi(lapi: &Lapi, running: Option<bool>) -> LapiConnectivity {
    if running == Some(false) {
        return LapiConnectivity { status: "stopped".into(), latency_ms: None, error: None };
    }
    let t0 = Instant::now();
    match lapi.health().await {
        Ok(()) => LapiConnectivity { status: "healthy".into(), latency_ms: Some(t0.elapsed().as_millis() as u64), error: None },
        Err(e) => {
            let text = e.to_string();
            let refused = text.contains("refused") || text.contains("not available");
            LapiConnectivity {
                status: if refused && running.is_none() { "stopped".into() } else { "unhealthy".into() },
                latency_ms: None,
                error: Some(if refused { "connection refused".into() } else { text }),
            }
        }
    }
}

pub async fn capi(capi: Option<&Capi>) -> CapiConnectivity {
    let Some(capi) = capi else {
        return CapiConnectivity { status: "off".into(), latency_ms: None, error: None, url: None };
    };
    let (r, took) = capi.health().await;
    CapiConnectivity {
        status: if r.is_ok() { "reachable".into() } else { "unreachable".into() },
        latency_ms: r.is_ok().then_some(took.as_millis() as u64),
        error: r.err().map(|e: CapiError| e.to_string()),
        url: Some(capi.base().to_owned()),
    }
}

pub async fn connectivity(l: &Lapi, running: Option<bool>, c: Option<&Capi>, console: EnrollmentState) -> Connectivity {
    let (lapi, capi) = tokio::join!(lapi(l, running), capi(c));
    Connectivity { lapi, capi, console }
}

fn check(name: &str, ok: bool, detail: impl Into<String>) -> ConfigCheck {
    ConfigCheck { name: name.into(), ok, detail: detail.into() }
}

fn yaml_file(path: &std::path::Path) -> Result<serde_norway::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_norway::from_str(&text).map_err(|e| format!("{}: not valid YAML: {e}", path.display()))
}

/// One entry per file and setting the engine and the enrollment need.
pub fn config_checks(layout: &Layout, capi_url: Option<&str>, status: &EnrollmentStatus) -> Vec<ConfigCheck> {
    let mut out = Vec::new();
    out.push(match yaml_file(&layout.config_file()) {
        Ok(v) if v["api"]["server"]["listen_uri"].as_str().is_some() => check("config.yaml", true, layout.config_file().display().to_string()),
        Ok(_) => check("config.yaml", false, "api.server.listen_uri is missing"),
        Err(e) => check("config.yaml", false, format!("{e} (start CrowdSec once to generate it)")),
    });
    let acquis = layout.config_dir.join("acquis.yaml");
    out.push(match yaml_file(&acquis) {
        Ok(v) if v["filenames"].as_sequence().is_some_and(|f| !f.is_empty()) && v["labels"]["type"].as_str().is_some() => {
            check("acquis.yaml", true, format!("follows {}", layout.access_log.display()))
        }
        Ok(_) => check("acquis.yaml", false, "needs filenames and labels.type"),
        Err(e) => check("acquis.yaml", false, e),
    });
    out.push(match yaml_file(&layout.credentials_file()) {
        Ok(v) if v["login"].as_str().is_some() && v["password"].as_str().is_some() => check("local_api_credentials.yaml", true, "machine credentials present"),
        Ok(_) => check("local_api_credentials.yaml", false, "login or password missing"),
        Err(e) => check("local_api_credentials.yaml", false, e),
    });
    let key_ok = std::fs::metadata(layout.bouncer_key_file()).map(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o077 == 0
    });
    out.push(match key_ok {
        Ok(true) => check("bouncer_key", true, "present, mode 0600"),
        Ok(false) => check("bouncer_key", false, "readable by others: chmod 600"),
        Err(_) => check("bouncer_key", false, "missing (start CrowdSec once to register the bouncer)"),
    });
    let online = layout.online_credentials_file();
    let enrolled_somehow = status.status != EnrollmentState::NotEnrolled;
    out.push(match (capi_url, OnlineCredentials::load(&online)) {
        (None, _) => check("online_api_credentials.yaml", !enrolled_somehow, "the Central API is off (capi_url = off)"),
        (Some(url), Ok(c)) if c.url == url => check("online_api_credentials.yaml", true, format!("registered with {url}")),
        (Some(url), Ok(c)) => check("online_api_credentials.yaml", false, format!("registered with {} but capi_url is {url}", c.url)),
        (Some(_), Err(_)) if enrolled_somehow => check("online_api_credentials.yaml", false, "missing although an enrollment exists"),
        (Some(_), Err(_)) => check("online_api_credentials.yaml", true, "not registered yet (registered automatically at enrollment)"),
    });
    out.push(match status.status {
        EnrollmentState::Failed => check("enrollment", false, status.last_error.clone().unwrap_or_else(|| "failed".into())),
        s => check("enrollment", true, s.as_str()),
    });
    out.push(match crate::crowdsec::hub::Index::load(&layout.hub_dir) {
        Ok(i) => check("hub index", true, format!("{} items", i.iter().count())),
        Err(e) => check("hub index", false, format!("{e:#}")),
    });
    out
}
