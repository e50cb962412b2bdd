//! The real `crowdsec` engine under Charon's supervisor: generated config in a temp data dir,
//! random loopback ports. These tests need the Debian `crowdsec` package (scripts/setup.sh).


use charon::on_db;
use app::services::SecurityService;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use app::security::model::{EngineState, KeySource};
use charon::crowdsec::lapi::KeyCheck;
use charon::crowdsec::process::is_our_engine;
use charon::crowdsec::CrowdSec;
use super::common::*;
use serde_json::Value;
use sqlx::ConnectOptions;

async fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

fn pid_alive_as_engine(engine: &CrowdSec, pid: u32) -> bool {
    is_our_engine(pid as i32, &engine.layout().config_file())
}

#[tokio::test]
async fn toggle_on_starts_a_ready_engine_with_a_valid_bouncer_key_and_off_stops_it() {
    // A variable only this test sets and nothing reads (not `CHARON_*`: the config refuses unknown
    // keys of its own prefix), so setting it races with no other test.
    std::env::set_var("ENV_CANARY_OF_A_TEST", "must-not-reach-children");
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let engine = app.state.crowdsec.clone();

    let t0 = Instant::now();
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    let elapsed = t0.elapsed();
    let status_code = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status_code, 200, "{body}");
    println!("MEASURE toggle -> LAPI ready: {:.2} s", elapsed.as_secs_f64());
    assert_eq!(body["state"], "running");
    assert_eq!(body["lapi_ready"], true);
    assert_eq!(body["enabled"], true);
    let pid = body["pid"].as_u64().unwrap() as u32;
    assert!(pid_alive_as_engine(&engine, pid));
    // The engine keeps only the short list of the console's environment (a bouncer key or any
    // other secret the console was started with must not show in /proc/<pid>/environ).
    let environ = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).unwrap()).into_owned();
    assert!(!environ.contains("must-not-reach-children"), "the console's environment leaked into the engine");
    assert!(environ.split('\0').any(|v| v.starts_with("PATH=")), "PATH is kept");

    // The LAPI is really up and the machine can log in; the bouncer key works.
    engine.lapi().health().await.unwrap();
    let key_file = engine.layout().bouncer_key_file();
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(&engine.layout().root).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(engine.lapi().check_bouncer_key(key.trim()).await.unwrap(), KeyCheck::Valid);
    assert_eq!(engine.lapi().check_bouncer_key("not-a-key").await.unwrap(), KeyCheck::Rejected);

    // The bouncer API: a preview, never the key, except from the audited key route.
    let info: Value = admin.get(app.url("/api/v1/cerberus/crowdsec/bouncer")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["name"], "charon-bouncer");
    assert_eq!(info["key_source"], "file");
    assert_eq!(info["registered"], true);
    let preview = info["key_preview"].as_str().unwrap();
    assert_eq!(preview, app::security::model::key_preview(key.trim()).unwrap());
    assert!(!info.to_string().contains(key.trim()));
    let full: Value = admin.get(app.url("/api/v1/cerberus/crowdsec/bouncer/key")).send().await.unwrap().json().await.unwrap();
    assert_eq!(full["key"], key.trim());
    let reads: i64 = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'bouncer.key_read'")
        .fetch_one(cx).await).unwrap();
    assert_eq!(reads, 1);

    // Off: the process is gone and reaped.
    let res: Value = admin.post(app.url("/api/v1/cerberus/crowdsec/stop")).send().await.unwrap().json().await.unwrap();
    assert_eq!(res["state"], "stopped");
    assert_eq!(res["enabled"], false);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "no zombie, no survivor");
    assert!(engine.lapi().health().await.is_err());
    assert!(!engine.layout().pid_file().exists());
}

#[tokio::test]
async fn a_killed_engine_is_restarted_by_the_supervisor() {
    let app = spawn_app().await;
    let engine = app.state.crowdsec.clone();
    let st = engine.set_engine_enabled(&admin("test"), true).await.unwrap();
    let pid = st.pid.unwrap();
    // The engine gets a cleaned environment: nothing of the console's (this test binary has
    // plenty: CARGO_*, …) beyond the few variables every program needs.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let names: Vec<String> = environ
        .split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).split('=').next().unwrap_or_default().to_owned())
        .collect();
    // Plus the one variable Charon adds: the alert hook's token, which the engine's notification
    // file names.
    let kept = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "RUST_LOG", "RUST_BACKTRACE", "CHARON_LOG_FORMAT", "CHARON_LOG_LEVEL", "CHARON_ALERT_HOOK_TOKEN"];
    assert!(names.iter().all(|n| kept.contains(&n.as_str())), "the engine inherited {names:?}");
    assert!(std::env::vars().count() > names.len(), "the test process has more to leak than the engine got");

    let t0 = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    let e = engine.clone();
    wait_until("the restarted engine", Duration::from_secs(60), move || {
        let s = e.status();
        s.state == EngineState::Running && s.pid.is_some_and(|p| p != pid)
    })
    .await;
    println!("MEASURE kill -9 -> running again: {:.2} s", t0.elapsed().as_secs_f64());
    let s = engine.status();
    assert_eq!(s.restarts, 1);
    assert!(s.lapi_ready);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the killed engine was reaped");
    // Nothing of the killed engine's process group (its notification plugins) outlives it. A
    // zombie (state Z) is dead: orphans are reparented to PID 1, whose reaping is not Charon's
    // to do (the CI's PID 1 does not reap at all).
    let group: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let rest: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
            rest.get(2).is_some_and(|pgrp| *pgrp == pid.to_string()) && rest.first().is_some_and(|state| *state != "Z")
        })
        .collect();
    assert!(group.is_empty(), "left in the killed engine's group: {group:?}");
    engine.set_engine_enabled(&admin("test"), false).await.unwrap();
}

#[tokio::test]
async fn an_enabled_engine_starts_again_after_a_server_restart_and_a_leftover_is_never_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path().join("data"));
    let first = charon::AppState::new(config.clone()).await.unwrap();
    let st = first.crowdsec.set_engine_enabled(&admin("test"), true).await.unwrap();
    let old_pid = st.pid.unwrap();
    // Once the Local API made its tables, the console indexes its decisions for the streams' polls.
    let engine_db = first.crowdsec.layout().database();
    let indexes = || async {
        let mut c = sqlx::sqlite::SqliteConnectOptions::new().filename(&engine_db).connect().await.unwrap();
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'charon_%' ORDER BY name").fetch_all(&mut c).await.unwrap();
        names
    };
    let t = Instant::now();
    while indexes().await.len() < 2 {
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", indexes().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(indexes().await, ["charon_decisions_alert", "charon_decisions_created_at"]);
    // Simulate a hard crash of the server: the engine keeps running, nobody stops it.
    std::mem::forget(first);

    let second = charon::AppState::new(config).await.unwrap();
    assert!(second.crowdsec.status().state != EngineState::Running);
    second.crowdsec.reconcile().await;
    let s = second.crowdsec.status();
    assert_eq!(s.state, EngineState::Running, "{s:?}");
    assert!(s.enabled);
    let new_pid = s.pid.unwrap();
    assert_ne!(new_pid, old_pid);
    assert!(!pid_alive_as_engine(&second.crowdsec, old_pid), "the leftover engine was stopped");
    // The engine's schema migration at its new start kept them.
    assert_eq!(indexes().await, ["charon_decisions_alert", "charon_decisions_created_at"]);
    second.crowdsec.shutdown().await;
    assert!(!pid_alive_as_engine(&second.crowdsec, new_pid));
}

#[tokio::test]
async fn rotating_the_bouncer_key_invalidates_the_old_one() {
    let app = spawn_app().await;
    let admin_client = setup_admin(&app).await;
    let engine = app.state.crowdsec.clone();
    engine.set_engine_enabled(&admin("test"), true).await.unwrap();
    let old = std::fs::read_to_string(engine.layout().bouncer_key_file()).unwrap();
    let res = admin_client.post(app.url("/api/v1/cerberus/crowdsec/bouncer/rotate")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let new = std::fs::read_to_string(engine.layout().bouncer_key_file()).unwrap();
    assert_ne!(old, new);
    assert_eq!(engine.lapi().check_bouncer_key(old.trim()).await.unwrap(), KeyCheck::Rejected);
    assert_eq!(engine.lapi().check_bouncer_key(new.trim()).await.unwrap(), KeyCheck::Valid);
    engine.set_engine_enabled(&admin("test"), false).await.unwrap();
}

#[tokio::test]
async fn a_rejected_environment_key_is_reported_and_the_file_key_is_used() {
    let app = spawn_app_with(|c| {
        c.crowdsec_bouncer_key = Some(charon::config::Secret::new("0123456789abcdef0123456789abcdef"));
    })
    .await;
    let engine = app.state.crowdsec.clone();
    engine.set_engine_enabled(&admin("test"), true).await.unwrap();
    let info = engine.bouncer_info(&admin("test")).await.unwrap();
    assert!(info.env_key_rejected);
    assert_eq!(info.key_source, KeySource::File);
    assert!(info.registered);
    engine.set_engine_enabled(&admin("test"), false).await.unwrap();
}

#[tokio::test]
async fn viewers_can_read_the_status_but_not_start_or_read_the_key() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    admin
        .post(app.url("/api/v1/users"))
        .json(&serde_json::json!({"username": "vera", "password": "viewer password 1", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    let (viewer, _) = login(&app, "vera", "viewer password 1").await;
    let st = viewer.get(app.url("/api/v1/cerberus/crowdsec/status")).send().await.unwrap();
    assert_eq!(st.status(), 200);
    assert_eq!(st.json::<Value>().await.unwrap()["state"], "stopped");
    for (m, p) in [("POST", "start"), ("POST", "stop"), ("GET", "bouncer/key"), ("POST", "bouncer/rotate")] {
        let res = viewer
            .request(m.parse().unwrap(), app.url(&format!("/api/v1/cerberus/crowdsec/{p}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{m} {p}");
    }
    assert_eq!(app.state.crowdsec.status().state, EngineState::Stopped);
}

#[tokio::test]
async fn a_missing_binary_is_a_clear_status_not_a_crash() {
    let app = spawn_app_with(|c| c.crowdsec_bin = Some("/nonexistent/crowdsec".into())).await;
    let admin = setup_admin(&app).await;
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "CrowdSec is not installed");
    assert_eq!(app.state.crowdsec.status().state, EngineState::NotInstalled);
}

#[tokio::test]
async fn config_generation_is_idempotent_and_keeps_product_changes() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path().join("data"));
    let state = charon::AppState::new(config.clone()).await.unwrap();
    let layout = state.crowdsec.layout().clone();
    let c = config.crowdsec();
    let settings = charon::crowdsec::layout::EngineSettings {
        lapi_listen: c.lapi_listen,
        prometheus: None,
        hub_source: c.hub_source.clone(),
        data_source: c.data_source.clone(),
        patterns_source: c.patterns_source.clone(),
        plugin_dir: c.plugin_dir.clone(),
        alert_hook: None,
        database: c.database.clone(),
    };
    layout.generate(&settings).unwrap();
    let snapshot = |root: &std::path::Path| {
        let mut out = Vec::new();
        for entry in walk(root) {
            let meta = std::fs::symlink_metadata(&entry).unwrap();
            out.push((entry.clone(), meta.modified().unwrap(), meta.len()));
        }
        out.sort();
        out
    };
    let before = snapshot(&layout.config_dir);
    // A product change: an extra enabled scenario link must survive regeneration.
    let extra = layout.config_dir.join("scenarios/ssh-bf.yaml");
    std::os::unix::fs::symlink(layout.hub_dir.join("scenarios/crowdsecurity/ssh-bf.yaml"), &extra).unwrap();
    layout.generate(&settings).unwrap();
    let after: Vec<_> = snapshot(&layout.config_dir).into_iter().filter(|(p, _, _)| *p != extra).collect();
    assert_eq!(before, after, "nothing rewritten the second time");
    assert!(extra.exists());
    let cfg = std::fs::read_to_string(layout.config_file()).unwrap();
    assert!(cfg.contains(&c.lapi_listen.to_string()));
    assert!(layout.config_dir.join("parsers/s00-raw/charon-non-syslog.yaml").exists());
    assert!(layout.config_dir.join("parsers/s01-parse/caddy-logs.yaml").exists());
    assert!(layout.config_dir.join("scenarios/http-probing.yaml").exists());
    let acquis = std::fs::read_to_string(layout.config_dir.join("acquis.yaml")).unwrap();
    assert!(acquis.contains("access.log") && acquis.contains("caddy"));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn a_failed_start_is_shown_not_silently_reverted() {
    // Something else already holds the LAPI port: the engine cannot start.
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    let app = spawn_app_with(|c| {
        c.crowdsec_lapi_listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.crowdsec_ready_timeout_secs = 10;
    })
    .await;
    let admin = setup_admin(&app).await;
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "CrowdSec failed to start");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    let status: Value = admin.get(app.url("/api/v1/cerberus/crowdsec/status")).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["enabled"], true, "the user's wish is kept");
    assert_eq!(status["state"], "crashed");
    assert!(status["last_error"].as_str().is_some());
    assert_eq!(status["pid"], Value::Null);
    drop(squatter);
}

#[tokio::test]
async fn only_one_start_or_stop_runs_at_a_time() {
    let app = spawn_app().await;
    let engine = app.state.crowdsec.clone();
    let (admin_a, admin_b) = (admin("a"), admin("b"));
    let (a, b) = tokio::join!(engine.set_engine_enabled(&admin_a, true), engine.set_engine_enabled(&admin_b, true));
    let busy = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(app::error::AppError::Engine { code: app::error::EngineErrorCode::Busy, .. })))
        .count();
    assert_eq!(busy, 1, "{a:?} / {b:?}");
    assert!(a.is_ok() || b.is_ok());
    let running: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| is_our_engine(*pid, &engine.layout().config_file()))
        .collect();
    assert_eq!(running.len(), 1, "exactly one engine on this data dir");
    engine.set_engine_enabled(&admin("a"), false).await.unwrap();
}

#[tokio::test]
async fn a_changed_lapi_address_is_applied_everywhere_at_the_next_start() {
    let app = spawn_app().await;
    let engine = app.state.crowdsec.clone();
    engine.set_engine_enabled(&admin("test"), true).await.unwrap();
    engine.set_engine_enabled(&admin("test"), false).await.unwrap();
    // Same data dir, another LAPI address: config.yaml and the machine credentials must agree.
    let mut config = app.state.config.as_ref().clone();
    config.crowdsec_lapi_listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let moved = charon::AppState::new(config.clone()).await.unwrap();
    let st = moved.crowdsec.set_engine_enabled(&admin("test"), true).await.unwrap();
    assert_eq!(st.state, EngineState::Running, "{st:?}");
    assert!(st.lapi_ready);
    let creds = std::fs::read_to_string(moved.crowdsec.layout().credentials_file()).unwrap();
    assert!(creds.contains(&config.crowdsec_lapi_listen.to_string()), "{creds}");
    moved.crowdsec.set_engine_enabled(&admin("test"), false).await.unwrap();
}

#[tokio::test]
async fn a_failed_automatic_start_is_retried_until_it_succeeds() {
    let app = spawn_app().await;
    // The user left the engine on, and its LAPI port is taken for now: the first start fails.
    charon::db::settings::set(&app.state.db, "crowdsec.enabled", "true", charon::support::time::now()).await.unwrap();
    let squatter = std::net::TcpListener::bind(app.state.config.crowdsec_lapi_listen).unwrap();
    let engine = app.state.crowdsec.clone();
    let reconcile = tokio::spawn({
        let engine = engine.clone();
        async move { engine.reconcile().await }
    });
    let e = engine.clone();
    wait_until("the first start to fail", Duration::from_secs(90), move || e.status().state == EngineState::Crashed).await;
    drop(squatter);
    let e = engine.clone();
    let took = wait_until("a retried start", Duration::from_secs(120), move || {
        let s = e.status();
        s.state == EngineState::Running && s.lapi_ready
    })
    .await;
    println!("MEASURE port freed -> running after an automatic retry: {:.1} s", took.as_secs_f64());
    tokio::time::timeout(Duration::from_secs(30), reconcile).await.expect("the retry loop ends once running").unwrap();
    engine.set_engine_enabled(&admin("test"), false).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_fresh_data_dirs_all_reach_ready_when_switched_on_at_once() {
    let apps = futures_util::future::join_all((0..10).map(|_| spawn_app())).await;
    let t0 = Instant::now();
    // As at a console's first start: the data plane's bouncer registration (cscli bouncers add)
    // races the engine start (cscli machines add) on a database that does not exist yet.
    let starts = apps.iter().map(|app| async move {
        let engine = app.state.crowdsec.clone();
        let key_file = app.state.config.data_dir.join("bouncer/forward-auth.key");
        let admin = admin("test");
        let (started, registered) = tokio::join!(
            engine.set_engine_enabled(&admin, true),
            engine.ensure_extra_bouncer("charon-forward-auth", &key_file)
        );
        (started, registered.map_err(|e| format!("{e:#}")))
    });
    let results = futures_util::future::join_all(starts).await;
    println!("MEASURE 10 fresh engines switched on at once: all answered after {:.1} s", t0.elapsed().as_secs_f64());
    for (i, (started, registered)) in results.iter().enumerate() {
        let st = started.as_ref().unwrap_or_else(|e| panic!("engine {i}: {e:?}"));
        assert!(st.lapi_ready, "engine {i}: {st:?}");
        registered.as_ref().unwrap_or_else(|e| panic!("engine {i} bouncer: {e}"));
    }
    for app in &apps {
        app.state.crowdsec.set_engine_enabled(&admin("test"), false).await.unwrap();
    }
}

#[tokio::test]
async fn a_frozen_engine_is_reported_unresponsive_and_restarted_by_the_watchdog() {
    // Long enough for the "unresponsive" state to be seen before the restart.
    let app = spawn_app_with(|c| c.crowdsec_watchdog_secs = 20).await;
    let admin_client = setup_admin(&app).await;
    let engine = app.state.crowdsec.clone();
    let st = engine.set_engine_enabled(&admin("test"), true).await.unwrap();
    let pid = st.pid.unwrap();
    // SIGSTOP: the process exists, its LAPI no longer answers.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGSTOP).unwrap();
    let e = engine.clone();
    let noticed = wait_until("the status to say unresponsive", Duration::from_secs(15), move || e.status().state == EngineState::Unresponsive).await;
    let s = engine.status();
    assert!(s.unresponsive_since.is_some() && !s.lapi_ready, "{s:?}");
    let (api_status, body) = app.get_json(&admin_client, "/api/v1/cerberus/crowdsec/status").await;
    assert_eq!((api_status, body["state"].as_str()), (200, Some("unresponsive")), "{body}");
    let e = engine.clone();
    let restarted = wait_until("the watchdog's restart", Duration::from_secs(60), move || {
        let s = e.status();
        s.state == EngineState::Running && s.lapi_ready && s.pid.is_some_and(|p| p != pid)
    })
    .await;
    println!(
        "MEASURE frozen engine: unresponsive after {:.1} s, running again (new pid) {:.1} s later",
        noticed.as_secs_f64(),
        restarted.as_secs_f64()
    );
    assert!(!is_our_engine(pid as i32, &engine.layout().config_file()), "the frozen process is gone");
    engine.set_engine_enabled(&admin("test"), false).await.unwrap();
}
