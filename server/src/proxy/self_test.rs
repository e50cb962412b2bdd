//! The enforcement self-test: proof, end to end, that a ban blocks and an unban frees. For a
//! reserved test address (`SELF_TEST_ADDRESS`) it hands the bouncer a one-time token (a probe
//! through Caddy presenting it is taken for that address: no visitor can use it, and it can only
//! ever stand for the test address), checks every protected site serves it, places a two-minute
//! ban at the engine, waits until the bouncer has it, expects 403 from every site through Caddy,
//! deletes the ban, waits until the bouncer lets it pass and expects every site to serve again.
//! It stops at the first failing step, says what to do, and always cleans up: the test ban and
//! the token are gone afterwards, also after a failure.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;

use app::accounts::model::Admin;
use app::error::AppError;
use app::proxy::model::ProxyHost;
use app::security::model::{SelfTestReport, SelfTestStep, SELF_TEST_ADDRESS};

use super::Proxy;
use crate::bouncer::forward_auth::{SELF_TEST_HEADER, SYNC_HEADER};
use crate::crowdsec::lapi::MachineSession;
use crate::db::audit;
use crate::support::time::{now, rfc3339};

const WAIT: Duration = Duration::from_secs(10);
const TOKEN_SECS: i64 = 120;

struct Run {
    steps: Vec<SelfTestStep>,
}

impl Run {
    /// Records a step; `false` when it failed (the run stops there).
    fn step(&mut self, name: impl Into<String>, started: Instant, result: Result<String, String>) -> bool {
        let ok = result.is_ok();
        let detail = result.unwrap_or_else(|e| e);
        self.steps.push(SelfTestStep { name: name.into(), ok, ms: started.elapsed().as_millis() as u64, detail });
        ok
    }
}

/// Where a probe for `domain` goes: Caddy's listen port on loopback.
fn caddy_addr(listen: &str) -> Option<SocketAddr> {
    let port: u16 = listen.rsplit(':').next()?.parse().ok()?;
    Some(SocketAddr::from(([127, 0, 0, 1], port)))
}

impl Proxy {
    pub(super) async fn self_test(&self, actor: &Admin) -> Result<SelfTestReport, AppError> {
        let session = MachineSession::new(self.inner.engine.clone());
        let token = crate::auth::secret::random_hex(32);
        let mut run = Run { steps: Vec::new() };
        let mut decision: Option<i64> = None;
        self.self_test_steps(&session, &token, &mut run, &mut decision).await;
        // Clean up whatever happened: the test ban (by value: also one whose id never came back)
        // and the token.
        let q = [("value", SELF_TEST_ADDRESS.to_owned())];
        if decision.is_some() || run.steps.iter().any(|s| s.name == "engine accepted the ban") {
            let _ = session.call(|t| { let q = q.clone(); async move { self.inner.engine.lapi().delete_decisions(&t, None, &q).await } }).await;
            self.poke_bouncer().await;
        }
        let _ = self.bouncer_call(reqwest::Method::DELETE, None).await;
        let ok = !run.steps.is_empty() && run.steps.iter().all(|s| s.ok);
        let last_pull = self.bouncer_stats().await.and_then(|s| s.last_pull).map(rfc3339);
        let failed = run.steps.iter().find(|s| !s.ok).map(|s| format!("{}: {}", s.name, s.detail));
        let result: Result<(), AppError> = match &failed {
            None => Ok(()),
            Some(f) => Err(AppError::Engine { code: app::error::EngineErrorCode::ProxyUnavailable, detail: Some(f.clone()) }),
        };
        let summary = format!("{} steps, {}", run.steps.len(), if ok { "all passed" } else { "stopped at a failure" });
        audit::outcome(&self.inner.db, actor, "selftest.run", "enforcement", &summary, &result).await;
        Ok(SelfTestReport { ok, steps: run.steps, bouncer_last_pull: last_pull })
    }

    async fn self_test_steps(&self, session: &MachineSession, token: &str, run: &mut Run, decision: &mut Option<i64>) {
        // The sites to prove it on.
        let t = Instant::now();
        let sites: Vec<ProxyHost> = crate::proxy::hosts::list(&self.inner.db).await.unwrap_or_default().into_iter().filter(|h| h.enabled && h.protect).collect();
        let listed = sites.iter().map(|h| h.domain.clone()).collect::<Vec<_>>().join(", ");
        if !run.step("protected sites", t, if sites.is_empty() { Err("no enabled proxy host has protection on: add one on Proxy Hosts".into()) } else { Ok(listed) }) {
            return;
        }
        let t = Instant::now();
        let caddy_ok = self.inner.caddy.as_ref().and_then(|c| c.running()).is_some();
        let bouncer_ok = self.inner.bouncer.running().is_some();
        let plane = match (self.inner.enabled, caddy_ok, bouncer_ok) {
            (false, _, _) => Err("the data plane is off (proxy_enabled = false)".into()),
            (true, false, _) => Err("Caddy is not running: see the data-plane card on this page for its last error".into()),
            (true, true, false) => Err("the bouncer is not running: see the data-plane card on this page for its last error".into()),
            (true, true, true) => Ok("Caddy and the bouncer are running".into()),
        };
        if !run.step("data plane running", t, plane) {
            return;
        }
        let Some(caddy) = caddy_addr(&self.inner.settings.listen) else {
            run.step("data plane running", Instant::now(), Err(format!("cannot tell Caddy's port from {}", self.inner.settings.listen)));
            return;
        };
        let t = Instant::now();
        let handed = match self.bouncer_call(reqwest::Method::POST, Some(json!({"token": token, "seconds": TOKEN_SECS}))).await {
            Ok(()) => Ok(format!("probes presenting it are taken for {SELF_TEST_ADDRESS}")),
            Err(e) => Err(format!("the bouncer does not answer on {} ({e}): see the data-plane card", self.inner.daemon.listen)),
        };
        if !run.step("bouncer took the test token", t, handed) {
            return;
        }
        // Every site serves the test address before the ban.
        let mut baseline = Vec::new();
        for site in &sites {
            let t = Instant::now();
            let r = match probe(caddy, &site.domain, token).await {
                Ok(s) if s == 403 || s == 429 || s == 503 => Err(format!("{} already answers {s} to the test address: a decision on {SELF_TEST_ADDRESS} or a failing-closed bouncer", site.domain)),
                Ok(s) => Ok(format!("{s}")),
                Err(e) => Err(format!("Caddy does not answer for {} on {caddy}: {e}", site.domain)),
            };
            baseline.push(r.as_ref().ok().and_then(|s| s.parse::<u16>().ok()).unwrap_or(0));
            if !run.step(format!("{} serves the test address", site.domain), t, r) {
                return;
            }
        }
        // The ban.
        let t = Instant::now();
        let stamp = rfc3339(now());
        let body = json!([{
            "scenario": "charon/self-test", "scenario_hash": "", "scenario_version": "",
            "message": "Charon enforcement self-test", "events_count": 1, "start_at": stamp, "stop_at": stamp,
            "capacity": 0, "leakspeed": "0", "simulated": false, "events": [], "remediation": true,
            "source": {"scope": "Ip", "value": SELF_TEST_ADDRESS, "ip": SELF_TEST_ADDRESS},
            "decisions": [{"duration": "2m", "origin": app::decisions::model::MANUAL_ORIGIN, "scenario": "charon/self-test",
                           "scope": "Ip", "type": "ban", "value": SELF_TEST_ADDRESS}]
        }]);
        let posted = session.call(|jwt| { let body = body.clone(); async move { self.inner.engine.lapi().post_alerts(&jwt, &body).await } }).await;
        let accepted = match posted {
            Ok(ids) => match ids.first() {
                Some(id) => {
                    let alert = session.call(|jwt| { let id = id.clone(); async move { self.inner.engine.lapi().get_alert(&jwt, &id).await } }).await;
                    *decision = alert.ok().and_then(|a| a["decisions"][0]["id"].as_i64());
                    Ok(format!("a 2-minute ban on {SELF_TEST_ADDRESS} (decision #{})", decision.unwrap_or(0)))
                }
                None => Err("the engine returned no alert id".into()),
            },
            Err(e) => Err(format!("{}: turn protection on (Security page) and try again", e.message())),
        };
        if !run.step("engine accepted the ban", t, accepted) {
            return;
        }
        self.poke_bouncer().await;
        let t = Instant::now();
        let pulled = self.until_bouncer_says(token, 403).await.map(|_| "the bouncer refuses the test address".to_owned()).map_err(|s| {
            format!("after {}s the bouncer still answers {s}: it has not pulled the ban (is it synced with the engine? see its last pull below)", WAIT.as_secs())
        });
        if !run.step("bouncer pulled the ban", t, pulled) {
            return;
        }
        for site in &sites {
            let t = Instant::now();
            let r = match probe(caddy, &site.domain, token).await {
                Ok(403) => Ok("403 through Caddy".to_owned()),
                Ok(s) => Err(format!("{} answered {s} to a banned address: is protection on for it and Caddy's configuration current?", site.domain)),
                Err(e) => Err(format!("Caddy does not answer for {}: {e}", site.domain)),
            };
            if !run.step(format!("403 seen on {}", site.domain), t, r) {
                return;
            }
        }
        // The unban.
        let t = Instant::now();
        let deleted = match *decision {
            Some(id) => session.call(|jwt| async move { self.inner.engine.lapi().delete_decisions(&jwt, Some(id), &[]).await }).await,
            None => {
                let q = [("value", SELF_TEST_ADDRESS.to_owned())];
                session.call(|jwt| { let q = q.clone(); async move { self.inner.engine.lapi().delete_decisions(&jwt, None, &q).await } }).await
            }
        };
        self.poke_bouncer().await;
        let unbanned = match deleted {
            Err(e) => Err(format!("the engine did not delete the test ban: {}", e.message())),
            Ok(_) => self.until_bouncer_says(token, 200).await.map(|_| "the bouncer lets the test address pass".to_owned()).map_err(|s| {
                format!("after {}s the bouncer still answers {s}: it has not pulled the unban", WAIT.as_secs())
            }),
        };
        if unbanned.is_ok() {
            *decision = None;
        }
        if !run.step("unbanned", t, unbanned) {
            return;
        }
        for (site, before) in sites.iter().zip(baseline) {
            let t = Instant::now();
            let r = match probe(caddy, &site.domain, token).await {
                Ok(s) if s == before => Ok(format!("{s} again")),
                Ok(s) => Err(format!("{} answers {s} after the unban ({before} before)", site.domain)),
                Err(e) => Err(format!("Caddy does not answer for {}: {e}", site.domain)),
            };
            if !run.step(format!("{} served again", site.domain), t, r) {
                return;
            }
        }
    }

    /// Starts (`POST` with the token) or ends (`DELETE`) the bouncer's self-test mode.
    async fn bouncer_call(&self, method: reqwest::Method, body: Option<serde_json::Value>) -> Result<(), String> {
        let sync = std::fs::read_to_string(self.inner.files.sync_token()).map_err(|e| e.to_string())?;
        let url = format!("http://{}/bouncer/self-test", self.inner.daemon.listen);
        let mut req = self.inner.http.request(method, url).header(SYNC_HEADER, sync.trim()).timeout(Duration::from_secs(2));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| e.to_string())?;
        if res.status().is_success() { Ok(()) } else { Err(format!("answered {}", res.status())) }
    }

    /// Polls the bouncer's own check for the test address until it answers `want`; `Err` with the
    /// last status when it did not within `WAIT`.
    async fn until_bouncer_says(&self, token: &str, want: u16) -> Result<(), u16> {
        let url = format!("http://{}/bouncer/check", self.inner.daemon.listen);
        let started = Instant::now();
        let mut last = 0;
        while started.elapsed() < WAIT {
            if let Ok(res) = self.inner.http.get(&url).header(SELF_TEST_HEADER, token).timeout(Duration::from_secs(2)).send().await {
                last = res.status().as_u16();
                if last == want {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(last)
    }
}

/// One request through Caddy for `domain`, presenting the token; the status it got (redirects
/// are not followed: a site's own redirect is its answer).
async fn probe(caddy: SocketAddr, domain: &str, token: &str) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(domain, caddy)
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let res = client
        .get(format!("http://{domain}:{}/", caddy.port()))
        .header(SELF_TEST_HEADER, token)
        .header(reqwest::header::USER_AGENT, "charon-self-test")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(res.status().as_u16())
}
