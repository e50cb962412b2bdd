//! Console enrollment, heartbeat, diagnostics and the community blocklist against the project's
//! CAPI simulator, with the real engine pointed at it; `charon diagnose` and the secrecy of the key
//! checked on the real binary.

use charon::on_db;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use capi_sim::{CapiSim, Faults};
use serde_json::{json, Value};

use super::common::*;

const KEY: &str = "cl5vt1v9v0000ml08ctq0uqyv";
const API: &str = "/api/v1/cerberus/crowdsec";

async fn sim() -> (CapiSim, SocketAddr) {
    let sim = CapiSim::new();
    let addr = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, addr)
}

async fn app_with_capi(capi_url: String, start: bool) -> (TestApp, reqwest::Client) {
    let app = spawn_app_with(|c| {
        c.capi_url = capi_url;
        c.capi_timeout_secs = 1;
        c.decision_sync_interval_ms = 200;
    })
    .await;
    let admin = setup_admin(&app).await;
    if start {
        let res = admin.post(app.url(&format!("{API}/start"))).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    (app, admin)
}

async fn enroll(app: &TestApp, c: &reqwest::Client, body: Value) -> (u16, Value) {
    let res = c.post(app.url(&format!("{API}/console/enroll"))).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, Value) {
    let res = c.post(app.url(&format!("{API}{path}"))).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn enroll_accept_heartbeat_enrolled_overwrite_and_the_community_blocklist() {
    let (sim, addr) = sim().await;
    sim.set_blocklist(vec!["203.0.113.50".into(), "203.0.113.51".into()]);
    let (app, admin) = app_with_capi(format!("http://{addr}/"), true).await;

    // The pasted cscli line is accepted; the key is extracted.
    let (status, v) = enroll(&app, &admin, json!({"enrollment_key": format!("sudo cscli console enroll {KEY}"), "agent_name": "web-1", "tags": ["prod", "eu"]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "pending_acceptance");
    assert_eq!(v["agent_name"], "web-1");
    assert!(v["last_attempt_at"].is_string() && v["enrolled_at"].is_null(), "{v}");
    let e = sim.enrollments();
    assert_eq!((e.len(), e[0].name.as_str(), e[0].tags.clone()), (1, "web-1", vec!["prod".to_owned(), "eu".to_owned()]));
    assert_eq!(sim.calls("register"), 1, "registered automatically");
    let creds = std::fs::read_to_string(app.state.crowdsec.layout().online_credentials_file()).unwrap();
    assert!(creds.contains(&addr.to_string()));

    // Not accepted yet: a heartbeat keeps it pending.
    let (status, v) = post(&app, &admin, "/console/heartbeat").await;
    assert_eq!((status, v["status"].as_str()), (200, Some("pending_acceptance")), "{v}");
    assert!(v["last_heartbeat_at"].is_string());
    // Accepted on the console website → the next heartbeat sees organization_id → enrolled.
    sim.accept_all();
    let (status, v) = post(&app, &admin, "/console/heartbeat").await;
    assert_eq!((status, v["status"].as_str()), (200, Some("enrolled")), "{v}");
    assert!(v["enrolled_at"].is_string());
    assert!(sim.calls("metrics") >= 2, "heartbeats push metrics");

    // Enrolling again without overwrite: CAPI's 200 is "instance already enrolled", not success;
    // the engine stays enrolled.
    let (status, v) = enroll(&app, &admin, json!({"enrollment_key": KEY})).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!((v["error"].as_str(), v["status"].as_str()), (Some("instance already enrolled"), Some("enrolled")));
    let st: Value = admin.get(app.url(&format!("{API}/console/status"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(st["last_error"], "instance already enrolled");
    // With overwrite: a fresh enrollment, pending again.
    let (status, v) = enroll(&app, &admin, json!({"enrollment_key": KEY, "agent_name": "web-2", "overwrite": true})).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("pending_acceptance")), "{v}");

    // The engine (restarted once registered) pulled the community blocklist: origin CAPI.
    let took = wait_for_decisions(&app, &admin, "?origin=CAPI", Duration::from_secs(40), |list| {
        let values: Vec<&str> = list["decisions"].as_array().into_iter().flatten().filter_map(|d| d["value"].as_str()).collect();
        values.contains(&"203.0.113.50") && values.contains(&"203.0.113.51")
    })
    .await;
    println!("NUMBERS community blocklist in Live Decisions {took:?} after the enrollment");
    assert!(sim.calls("pull") >= 1);

    // Local reset.
    let res = admin.delete(app.url(&format!("{API}/console/enrollment"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let st: Value = admin.get(app.url(&format!("{API}/console/status"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(st["status"], "not_enrolled");
    let audit: Vec<(String, String)> =
        on_db!(app.state.db, cx => sqlx::query_as("SELECT action, result FROM audit_log WHERE action LIKE 'console.%' ORDER BY id").fetch_all(cx).await).unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(actions, ["console.enroll", "console.enroll", "console.enroll", "console.clear"]);
    let results: Vec<bool> = audit.iter().map(|a| a.1 == "ok").collect();
    assert_eq!(results, [true, false, true, true], "the failed enrollment is recorded with its error: {audit:?}");
}

#[tokio::test]
async fn every_documented_error_comes_from_its_fault_and_transient_ones_are_retried() {
    let (sim, addr) = sim().await;
    sim.set_keys(&["invalidkey0000000000"], &["expiredkey0000000000"]);
    let (app, admin) = app_with_capi(format!("http://{addr}/"), true).await;

    let (status, v) = enroll(&app, &admin, json!({"enrollment_key": "invalidkey0000000000"})).await;
    assert_eq!((status, v["error"].as_str(), v["status"].as_str()), (422, Some("invalid enrollment key"), Some("failed")), "{v}");
    let (status, v) = enroll(&app, &admin, json!({"enrollment_key": "expiredkey0000000000"})).await;
    assert_eq!((status, v["error"].as_str()), (422, Some("token expired")), "{v}");

    sim.set_faults(Faults { status: Some(401), count: Some(1), ..Default::default() });
    let (status, v) = enroll(&app, &admin, json!({"enrollment_key": KEY})).await;
    assert_eq!((status, v["error"].as_str()), (502, Some("unauthorized")), "{v}");

    // Two 503s, then success: retried, and the third attempt enrolls.
    let logins = sim.calls("login");
    sim.set_faults(Faults { status: Some(503), count: Some(2), ..Default::default() });
    let (status, v) = enroll(&app, &admin, json!({"enrollment_key": KEY})).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("pending_acceptance")), "{v}");
    assert_eq!(sim.calls("login") - logins, 3, "two failed attempts and one that worked");

    // Persistent 5xx: three attempts, then the error.
    sim.set_faults(Faults { status: Some(503), count: None, ..Default::default() });
    let (status, v) = enroll(&app, &admin, json!({"enrollment_key": KEY, "overwrite": true})).await;
    assert_eq!(status, 502, "{v}");
    assert!(v["error"].as_str().unwrap().starts_with("CAPI unavailable"), "{v}");
    // Slower than the 1 s client timeout: "timeout" after three attempts.
    sim.set_faults(Faults { delay_ms: 1500, count: None, status: None });
    let (status, v) = enroll(&app, &admin, json!({"enrollment_key": KEY, "overwrite": true})).await;
    assert_eq!((status, v["error"].as_str()), (504, Some("timeout")), "{v}");
    sim.set_faults(Faults::default());

    // Bad input never leaves the server.
    let before = sim.calls("enroll");
    for (body, field) in [
        (json!({"enrollment_key": "short"}), "enrollment_key"),
        (json!({"enrollment_key": KEY, "agent_name": "bad name"}), "agent_name"),
        (json!({"enrollment_key": KEY, "tags": ["no spaces please"]}), "tags"),
    ] {
        let (status, v) = enroll(&app, &admin, body).await;
        assert_eq!((status, v["field"].as_str()), (400, Some(field)), "{v}");
        assert!(!v.to_string().contains(KEY));
    }
    assert_eq!(sim.calls("enroll"), before);

    // Nobody listening: "connection refused". Engine stopped: "LAPI not available".
    let closed = format!("http://127.0.0.1:{}/", free_port());
    let (app2, admin2) = app_with_capi(closed, true).await;
    let (status, v) = enroll(&app2, &admin2, json!({"enrollment_key": KEY})).await;
    assert_eq!((status, v["error"].as_str()), (502, Some("connection refused")), "{v}");
    let (app3, admin3) = app_with_capi(format!("http://{addr}/"), false).await;
    let (status, v) = enroll(&app3, &admin3, json!({"enrollment_key": KEY})).await;
    assert_eq!((status, v["error"].as_str()), (503, Some("LAPI not available")), "{v}");

    // Viewers see the status but cannot enroll.
    admin.post(app.url("/api/v1/users")).json(&json!({"username": "viewer", "password": ADMIN_PASSWORD, "role": "viewer"})).send().await.unwrap();
    let (viewer, _) = login(&app, "viewer", ADMIN_PASSWORD).await;
    assert_eq!(viewer.get(app.url(&format!("{API}/console/status"))).send().await.unwrap().status(), 200);
    assert_eq!(enroll(&app, &viewer, json!({"enrollment_key": KEY})).await.0, 403);
    assert_eq!(post(&app, &viewer, "/console/heartbeat").await.0, 403);
}

#[tokio::test]
async fn diagnostics_have_the_documented_shapes() {
    let (_sim, addr) = sim().await;
    let (app, admin) = app_with_capi(format!("http://{addr}/"), false).await;
    let get = |p: &str| admin.get(app.url(&format!("{API}{p}"))).send();
    let v: Value = get("/diagnostics/connectivity").await.unwrap().json().await.unwrap();
    assert_eq!(v["lapi"]["status"], "stopped");
    assert_eq!(v["capi"]["status"], "reachable");
    assert!(v["capi"]["latency_ms"].is_u64(), "{v}");
    assert_eq!(v["console"], "not_enrolled");
    admin.post(app.url(&format!("{API}/start"))).send().await.unwrap();
    let v: Value = get("/diagnostics/connectivity").await.unwrap().json().await.unwrap();
    assert_eq!(v["lapi"]["status"], "healthy", "{v}");
    assert!(v["lapi"]["latency_ms"].is_u64());
    let checks: Value = get("/diagnostics/config").await.unwrap().json().await.unwrap();
    let names: Vec<&str> = checks.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for n in ["config.yaml", "acquis.yaml", "local_api_credentials.yaml", "bouncer_key", "online_api_credentials.yaml", "enrollment", "hub index"] {
        assert!(names.contains(&n), "{n} missing from {checks}");
    }
    assert!(checks.as_array().unwrap().iter().all(|c| c["ok"].is_boolean() && c["detail"].is_string()));
    assert!(checks.as_array().unwrap().iter().all(|c| c["ok"] == true), "{checks}");
}

/// Runs off the test's runtime thread, so the simulator (on that runtime) can answer it.
async fn diagnose(data: &std::path::Path, lapi: &str, capi: &str) -> (i32, Value) {
    let (data, lapi, capi) = (data.to_path_buf(), lapi.to_owned(), capi.to_owned());
    tokio::task::spawn_blocking(move || diagnose_blocking(&data, &lapi, &capi)).await.unwrap()
}

fn diagnose_blocking(data: &std::path::Path, lapi: &str, capi: &str) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_charon"))
        .args(["diagnose", "--json", "--data-dir"])
        .arg(data)
        .env("CHARON_CROWDSEC_LAPI_LISTEN", lapi)
        .env("CHARON_CAPI_URL", capi)
        .env("CHARON_LOG_LEVEL", "error")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), v)
}

/// The real binary: the key is in no log line (ours or the engine's) and in no process's argv
/// while the enrollment runs; `charon diagnose --json` reports typed values, also with the
/// server stopped.
#[tokio::test]
async fn the_key_stays_secret_and_diagnose_reports_typed_json() {
    let (sim, addr) = sim().await;
    let capi = format!("http://{addr}/");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let lapi = format!("127.0.0.1:{}", free_port());
    let port = free_port();
    let log_path = dir.path().join("charon.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_charon"))
        .arg("serve")
        .env("CHARON_LISTEN", format!("127.0.0.1:{port}"))
        .env("CHARON_DATA_DIR", &data)
        .env("CHARON_CROWDSEC_LAPI_LISTEN", &lapi)
        .env("CHARON_CROWDSEC_PROMETHEUS", "off")
        .env("CHARON_PROXY_ENABLED", "false")
        .env("CHARON_CAPI_URL", &capi)
        .env("CHARON_LOG_LEVEL", "debug")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut origin = reqwest::header::HeaderMap::new();
    origin.insert("origin", base.parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(origin)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let t0 = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(t0.elapsed() < Duration::from_secs(30), "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = std::fs::read_to_string(data.join("setup-code")).unwrap();
    client
        .post(format!("{base}/setup"))
        .form(&[("setup_code", code.trim()), ("username", "admin"), ("password", ADMIN_PASSWORD), ("password_confirm", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(client.post(format!("{base}{API}/start")).send().await.unwrap().status(), 200);

    // A slow first answer keeps the enrollment running while every process's argv is read.
    sim.set_faults(Faults { delay_ms: 800, status: Some(503), count: Some(1) });
    let enrolling = tokio::spawn({
        let client = client.clone();
        let base = base.clone();
        async move {
            client.post(format!("{base}{API}/console/enroll")).json(&json!({"enrollment_key": KEY, "agent_name": "secret-test"})).send().await.unwrap().status()
        }
    });
    let mut scans = 0;
    while !enrolling.is_finished() {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(mut f) = std::fs::File::open(entry.path().join("cmdline")) {
                let mut buf = Vec::new();
                let _ = f.read_to_end(&mut buf);
                assert!(!String::from_utf8_lossy(&buf).contains(KEY), "the key is on a command line: {:?}", entry.path());
            }
        }
        scans += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(enrolling.await.unwrap(), 200);
    assert!(scans >= 5, "the process table was read during the enrollment ({scans} times)");

    // Diagnose while the server runs: typed JSON.
    let (code, v) = diagnose(&data, &lapi, &capi).await;
    assert!(v["ok"].is_boolean() && v["checks"].is_array(), "{v}");
    assert_eq!(v["connectivity"]["lapi"]["status"], "healthy", "{v}");
    assert!(v["connectivity"]["lapi"]["latency_ms"].is_u64());
    assert!(v["connectivity"]["capi"]["latency_ms"].is_u64());
    assert_eq!(v["enrollment"]["status"], "pending_acceptance");
    assert!(v["heartbeat"]["interval_secs"].is_u64());
    assert_eq!(code, 0, "nothing fails while all is well: {v}");
    let results: Vec<&str> = v["checks"].as_array().unwrap().iter().map(|c| c["result"].as_str().unwrap()).collect();
    assert!(results.iter().all(|r| ["pass", "warn", "fail"].contains(r)));

    // Stop the server: diagnose still works and says what fails (exit status 1).
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    let (code, v) = diagnose(&data, &lapi, &capi).await;
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["connectivity"]["lapi"]["status"], "stopped");
    assert_eq!(v["ok"], false);
    let human = {
        let (data, lapi, capi) = (data.clone(), lapi.clone(), capi.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_charon"))
                .args(["diagnose", "--data-dir"])
                .arg(&data)
                .env("CHARON_CROWDSEC_LAPI_LISTEN", &lapi)
                .env("CHARON_CAPI_URL", &capi)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("[FAIL] LAPI") && text.contains("fix:") && text.contains("[PASS] CAPI"), "{text}");

    // The script is a thin wrapper with the same flags.
    let script = {
        let data = data.clone();
        let (lapi, capi) = (lapi.clone(), capi.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/diagnose-crowdsec.sh"))
                .args(["--json", "--data-dir"])
                .arg(&data)
                .env("DIAGNOSE_BIN", env!("CARGO_BIN_EXE_charon"))
                .env("CHARON_CROWDSEC_LAPI_LISTEN", &lapi)
                .env("CHARON_CAPI_URL", &capi)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    assert_eq!(script.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&script.stdout).unwrap();
    assert_eq!(v["enrollment"]["status"], "pending_acceptance");

    // The logs: the documented lines, and never the key.
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("[CROWDSEC_ENROLLMENT] enrollment completed"), "{log}");
    assert!(log.contains("retrying enrollment (attempt 2/3)"), "{log}");
    assert!(!log.contains(KEY), "the key is in the server log");
    let engine_log = std::fs::read_to_string(data.join("crowdsec/logs/crowdsec.log")).unwrap_or_default();
    assert!(!engine_log.contains(KEY));
    let db = std::fs::read(data.join("charon.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains(KEY), "the key is not stored");
    // Not even sealed: the stored state has no key of any form, and no key file to open one.
    assert!(!data.join("secret.key").exists());
}
