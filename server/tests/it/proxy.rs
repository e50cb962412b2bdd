//! Real-time blocking end to end: real Caddy, the real `charon bouncer` process, the real engine
//! and a small upstream, all on loopback with free ports. An attacker address (the socket bound to
//! 127.0.0.2) probes a CVE path until a scenario fires and is then refused while another address
//! still passes; a manual ban applies at once and an unban lifts it; the data plane survives a
//! console restart and is adopted; the fail mode holds before the first sync and with the bouncer
//! down. Measured latencies are printed (`NUMBERS …`).

use charon::on_db;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use charon::config::FailMode;
use serde_json::{json, Value};

use super::common::*;

const HOST: &str = "app.localhost";

/// Kills the data-plane processes a test started, whatever happens to the test.
struct DataPlaneGuard(PathBuf);

impl Drop for DataPlaneGuard {
    fn drop(&mut self) {
        for pid_file in ["caddy/caddy.pid", "bouncer/bouncer.pid"] {
            if let Some(pid) = std::fs::read_to_string(self.0.join(pid_file)).ok().and_then(|s| s.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// An upstream that says who it is and echoes the decision header Caddy copied.
async fn upstream() -> SocketAddr {
    use axum::http::HeaderMap;
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|h: HeaderMap| async move {
                let d = h.get("x-crowdsec-decision").and_then(|v| v.to_str().ok()).unwrap_or("none").to_owned();
                format!("hello from upstream; decision={d}")
            }),
        )
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "not found") });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

/// Fields drop in order: the guard must run while the data dir (in `app`) still exists.
struct Site {
    _guard: DataPlaneGuard,
    app: TestApp,
    admin: reqwest::Client,
    proxy: SocketAddr,
    bouncer: SocketAddr,
}

fn data_plane_config(c: &mut charon::config::Config, proxy: SocketAddr, bouncer: SocketAddr, fail_mode: FailMode) {
    c.proxy_enabled = true;
    c.proxy_listen = proxy.to_string();
    c.bouncer_listen = bouncer;
    c.bouncer_bin = Some(env!("CARGO_BIN_EXE_charon").into());
    c.bouncer_fail_mode = fail_mode;
    c.decision_sync_interval_ms = 200;
}

async fn protected_site(fail_mode: FailMode, start_engine: bool) -> Site {
    protected_site_with(fail_mode, start_engine, |_| {}).await
}

async fn protected_site_with(fail_mode: FailMode, start_engine: bool, tweak: impl FnOnce(&mut charon::config::Config)) -> Site {
    let proxy: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let bouncer: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let app = spawn_app_with(|c| {
        data_plane_config(c, proxy, bouncer, fail_mode);
        tweak(c);
    })
    .await;
    let guard = DataPlaneGuard(app.state.config.data_dir.clone());
    let admin = setup_admin(&app).await;
    if start_engine {
        let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    charon::start_data_plane(&app.state).await;
    wait_running(&app, &admin).await;
    let up = upstream().await;
    let res = admin
        .post(app.url("/api/v1/proxy-hosts"))
        .json(&json!({"domain": HOST, "upstream": format!("http://{up}"), "enabled": true, "protect": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    Site { app, admin, proxy, bouncer, _guard: guard }
}

/// SIGKILL to the bouncer process; returns once it is gone (a zombie until the console reaps it).
async fn kill_bouncer(site: &Site) {
    let pid_file = site.app.state.config.data_dir.join("bouncer/bouncer.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    while std::path::Path::new(&format!("/proc/{pid}/stat")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z")
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_running(app: &TestApp, admin: &reqwest::Client) -> Value {
    let t0 = Instant::now();
    loop {
        let st: Value = admin.get(app.url("/api/v1/proxy/status")).send().await.unwrap().json().await.unwrap();
        if st["caddy"]["running"] == true && st["bouncer"]["running"] == true && st["stats"].is_object() {
            return st;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "data plane not running: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn get(site: &Site, c: &reqwest::Client, path: &str) -> (u16, String) {
    let res = c.get(format!("http://{}{path}", site.proxy)).header("Host", HOST).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// One request with the path exactly as given (HTTP clients normalise `/.%2e/` away, attackers
/// do not), from a socket bound to `from`; returns the status code.
async fn raw_get(proxy: SocketAddr, from: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = sock.connect(proxy).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: probe\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await.unwrap().unwrap();
    let head = String::from_utf8_lossy(&buf);
    head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Polls until `path` answers `status` for this client; returns how long it took.
async fn until_status(site: &Site, c: &reqwest::Client, status: u16, timeout: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let (s, body) = get(site, c, "/").await;
        if s == status {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < timeout, "still {s} after {timeout:?}: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn attacks_are_detected_and_blocked_manual_bans_apply_at_once_and_the_data_plane_outlives_the_console() {
    let site = protected_site(FailMode::Open, true).await;
    let visitor = client_from("127.0.0.1");
    let attacker = client_from("127.0.0.2");
    until_status(&site, &visitor, 200, Duration::from_secs(10)).await;
    let (status, body) = get(&site, &visitor, "/").await;
    assert_eq!(status, 200);
    assert_eq!(body, "hello from upstream; decision=allow", "the copied header is the bouncer's, never a placeholder");
    // Caddy's admin API is a socket in the private data dir, never TCP; the bouncer's "sync now"
    // answers only the console, which knows the token.
    let admin_socket = site.app.state.config.data_dir.join("caddy/admin.sock");
    assert!(std::os::unix::fs::FileTypeExt::is_socket(&std::fs::metadata(&admin_socket).unwrap().file_type()));
    let caddy_json = std::fs::read_to_string(site.app.state.config.data_dir.join("caddy/caddy.json")).unwrap();
    assert!(caddy_json.contains("\"listen\":\"unix/") && !caddy_json.contains("2019"), "{caddy_json}");
    let sync = format!("http://{}/bouncer/sync", site.bouncer);
    assert_eq!(reqwest::Client::new().post(&sync).send().await.unwrap().status(), 401);
    assert_eq!(reqwest::Client::new().post(&sync).header("x-charon-sync", "guess").send().await.unwrap().status(), 401);
    let token = std::fs::read_to_string(site.app.state.config.data_dir.join("bouncer/sync-token")).unwrap();
    assert_eq!(reqwest::Client::new().post(&sync).header("x-charon-sync", token.trim()).send().await.unwrap().status(), 202);
    // A forged decision header from the visitor is overwritten.
    let res = visitor.get(format!("http://{}/", site.proxy)).header("Host", HOST).header("X-Crowdsec-Decision", "allow-me").send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "hello from upstream; decision=allow");

    // Detection → enforcement: one CVE-2021-41773 probe fires a trigger scenario.
    let t0 = Instant::now();
    let status = raw_get(site.proxy, "127.0.0.2", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd").await;
    assert_eq!(status, 404);
    let took = until_status(&site, &attacker, 403, Duration::from_secs(30)).await;
    let (status, body) = get(&site, &attacker, "/").await;
    assert_eq!(status, 403);
    assert!(body.contains("Access denied") && !body.contains("crowdsec"), "{body}");
    println!("NUMBERS detection → first 403 for the attacker: {:?}", t0.elapsed().max(took));
    assert_eq!(get(&site, &visitor, "/").await.0, 200, "another address still passes");
    // The alert behind the ban names the scenario, and its events carry the request that fired it.
    let (status, alerts) = site.app.get_json(&site.admin, "/api/v1/cerberus/crowdsec/alerts?q=127.0.0.2").await;
    assert_eq!(status, 200, "{alerts}");
    let fired = alerts["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["scenario"] == "crowdsecurity/http-cve-2021-41773")
        .unwrap_or_else(|| panic!("no alert for the probe: {alerts}"))
        .clone();
    // The site filter: the alert's events were requests to this site, not to another.
    let (status, by_site) = site.app.get_json(&site.admin, &format!("/api/v1/cerberus/crowdsec/alerts?site={}", HOST.to_uppercase())).await;
    assert_eq!(status, 200, "{by_site}");
    assert!(by_site["rows"].as_array().unwrap().iter().any(|a| a["id"] == fired["id"]), "{by_site}");
    let (_, elsewhere) = site.app.get_json(&site.admin, "/api/v1/cerberus/crowdsec/alerts?site=other.localhost").await;
    assert_eq!(elsewhere["rows"], json!([]), "{elsewhere}");
    let (status, _) = site.app.get_json(&site.admin, "/api/v1/cerberus/crowdsec/alerts?site=a%20b").await;
    assert_eq!(status, 400);
    let (status, detail) = site.app.get_json(&site.admin, &format!("/api/v1/cerberus/crowdsec/alerts/{}", fired["id"])).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["source_value"], "127.0.0.2");
    let meta: Vec<String> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["meta"].as_array().unwrap().iter().map(|kv| format!("{}={}", kv[0].as_str().unwrap_or(""), kv[1].as_str().unwrap_or(""))))
        .collect();
    assert!(meta.iter().any(|m| m.contains("etc/passwd")), "the probed path is in the alert's events: {meta:?}");
    // Charon's own evidence: the probe as the site saw it, and the requests refused afterwards.
    let t_evidence = Instant::now();
    let evidence = loop {
        let (_, detail) = site.app.get_json(&site.admin, &format!("/api/v1/cerberus/crowdsec/alerts/{}", fired["id"])).await;
        let e = detail["evidence"].clone();
        let probe_seen = e["requests"].as_array().is_some_and(|r| r.iter().any(|q| q["path"].as_str().unwrap_or("").contains("etc/passwd")));
        if probe_seen && e["refused"].as_array().is_some_and(|r| !r.is_empty()) {
            break e;
        }
        assert!(t_evidence.elapsed() < Duration::from_secs(10), "no evidence for the probe: {detail}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("NUMBERS request → in the evidence index: ≤ {:?}", t_evidence.elapsed());
    let probe = evidence["requests"].as_array().unwrap().iter().find(|q| q["path"].as_str().unwrap().contains("etc/passwd")).unwrap();
    assert_eq!((probe["address"].as_str(), probe["host"].as_str(), probe["method"].as_str()), (Some("127.0.0.2"), Some(HOST), Some("GET")), "{probe}");
    assert_eq!((probe["status"].as_u64(), probe["refused"].as_bool()), (Some(404), Some(false)), "{probe}");
    let refused = &evidence["refused"][0];
    assert_eq!(refused["host"], HOST, "{evidence}");
    assert!(refused["count"].as_u64().unwrap() >= 1 && refused["first"].as_str().unwrap() <= refused["last"].as_str().unwrap(), "{refused}");
    assert!(evidence["indexed_since"].as_str().is_some_and(|t| t.ends_with('Z')), "{evidence}");

    // Manual ban from the console → 403 on the next request; unban → 200.
    let banned = client_from("127.0.0.3");
    assert_eq!(get(&site, &banned, "/").await.0, 200);
    let res = site
        .admin
        .post(site.app.url("/api/v1/cerberus/crowdsec/decisions"))
        .json(&json!({"value": "127.0.0.3", "duration": "1h", "reason": "e2e"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let ban_latency = until_status(&site, &banned, 403, Duration::from_secs(5)).await;
    println!("NUMBERS manual ban (API answered) → first 403: {ban_latency:?}");
    let res = site
        .admin
        .delete(site.app.url("/api/v1/cerberus/crowdsec/decisions?value=127.0.0.3"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let unban_latency = until_status(&site, &banned, 200, Duration::from_secs(5)).await;
    println!("NUMBERS unban (API answered) → first 200: {unban_latency:?}");

    // Counters on the status endpoint and in Prometheus form.
    let st = wait_running(&site.app, &site.admin).await;
    assert!(st["stats"]["blocked"].as_u64().unwrap() >= 3, "{st}");
    assert!(st["stats"]["blocked_by"].as_array().unwrap().iter().any(|b| b["scenario"] == "crowdsecurity/http-cve-2021-41773"), "{st}");
    let metrics = reqwest::get(format!("http://{}/metrics", site.bouncer)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("charon_bouncer_blocked_total{origin=\"crowdsec\",scenario=\"crowdsecurity/http-cve-2021-41773\"}"), "{metrics}");

    // The console stops (engine too): the sites keep being served and enforced.
    let pids = (st["caddy"]["pid"].clone(), st["bouncer"]["pid"].clone());
    site.app.state.crowdsec.shutdown().await;
    assert_eq!(get(&site, &visitor, "/").await.0, 200);
    assert_eq!(get(&site, &attacker, "/").await.0, 403);
    // A new console on the same data dir adopts both processes instead of starting copies.
    let config = site.app.state.config.as_ref().clone();
    let again = charon::AppState::new(config).await.unwrap();
    charon::start_data_plane(&again).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let st2 = again.services.proxy.status().await;
    assert_eq!((serde_json::to_value(st2.caddy.pid).unwrap(), serde_json::to_value(st2.bouncer.pid).unwrap()), pids, "adopted");
    assert_eq!(get(&site, &attacker, "/").await.0, 403);
    site.app.state.proxy.stop_data_plane().await;
    again.proxy.stop_data_plane().await;
}

#[tokio::test]
async fn before_the_first_sync_and_with_the_bouncer_down_the_fail_mode_decides() {
    for mode in [FailMode::Open, FailMode::Closed] {
        // The engine is not started: the bouncer can never sync.
        let site = protected_site(mode, false).await;
        let visitor = client_from("127.0.0.1");
        let (status, body) = get(&site, &visitor, "/").await;
        match mode {
            FailMode::Open => assert_eq!((status, body.as_str()), (200, "hello from upstream; decision=unknown")),
            FailMode::Closed => assert_eq!(status, 503, "{body}"),
        }
        // Bouncer down: Caddy cannot ask, and the same setting decides; a channel hears it (its
        // URL answers nothing: the history shows the message, whatever its delivery).
        let channel = json!({"kind": "slack", "name": "ops", "url": format!("http://127.0.0.1:{}/", free_port()), "events": ["bouncer_down", "caddy_down"]});
        let (status, created) = site.app.send_json(&site.admin, reqwest::Method::POST, "/api/v1/notifications/channels", &channel).await;
        assert_eq!(status, 201, "{created}");
        kill_bouncer(&site).await;
        let (status, body) = get(&site, &visitor, "/").await;
        match mode {
            FailMode::Open => assert_eq!((status, body.as_str()), (200, "hello from upstream; decision=unavailable")),
            FailMode::Closed => {
                assert_eq!(status, 503);
                assert!(body.contains("security check cannot run"), "{body}");
            }
        }
        // The console restarts it (after its backoff).
        let t0 = Instant::now();
        wait_running(&site.app, &site.admin).await;
        println!("NUMBERS {mode:?}: bouncer restarted by the console after {:?}", t0.elapsed());
        let t0 = Instant::now();
        let history = loop {
            let (_, history) = site.app.get_json(&site.admin, "/api/v1/notifications/history").await;
            if !history["rows"].as_array().unwrap().is_empty() || t0.elapsed() > Duration::from_secs(5) {
                break history;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let rows = history["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "one message for the bouncer going down, none for Caddy: {history}");
        assert_eq!(rows[0]["event"], "bouncer_down", "{history}");
        assert!(rows[0]["summary"].as_str().unwrap().contains("The bouncer stopped"), "{history}");
        site.app.state.proxy.stop_data_plane().await;
    }
}

#[tokio::test]
async fn proxy_hosts_validate_input_refuse_duplicates_and_viewers() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let post = |body: Value| admin.post(app.url("/api/v1/proxy-hosts")).json(&body).send();
    for (body, code) in [
        (json!({"domain": "http://x.com", "upstream": "http://127.0.0.1:1"}), "domain_invalid"),
        (json!({"domain": "x.com/../", "upstream": "http://127.0.0.1:1"}), "domain_invalid"),
        (json!({"domain": "{http.request.host}", "upstream": "http://127.0.0.1:1"}), "domain_invalid"),
        (json!({"domain": "x.com", "upstream": "127.0.0.1:1"}), "upstream_invalid"),
        (json!({"domain": "x.com", "upstream": "http://a/b"}), "upstream_invalid"),
        (json!({"domain": "x.com", "upstream": "http://a/b", "nodes": ["edge1"]}), "upstream_invalid"),
        (json!({"domain": "x.com", "upstream": "http://127.0.0.1:1", "nodes": []}), "nodes_invalid"),
        (json!({"domain": "x.com", "upstream": "http://127.0.0.1:1", "nodes": ["Edge 1"]}), "nodes_invalid"),
        (json!({"domain": "x.com", "upstream": "http://127.0.0.1:1", "nodes": "edge1"}), ""),
    ] {
        let res = post(body.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let v: Value = res.json().await.unwrap();
        if !code.is_empty() {
            assert_eq!(v["code"], code, "{body}: {v}");
        }
    }
    assert_eq!(admin.get(app.url("/api/v1/proxy-hosts")).send().await.unwrap().json::<Value>().await.unwrap(), json!([]), "nothing stored");
    let res = post(json!({"domain": "App.Example.com", "upstream": "http://127.0.0.1:3000"})).await.unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["domain"], "app.example.com");
    assert_eq!((created["enabled"].clone(), created["protect"].clone()), (json!(true), json!(true)), "safe defaults");
    let res = post(json!({"domain": "app.example.com", "upstream": "http://127.0.0.1:4000"})).await.unwrap();
    assert_eq!(res.status(), 409);
    let id = created["id"].as_i64().unwrap();
    let res = admin
        .put(app.url(&format!("/api/v1/proxy-hosts/{id}")))
        .json(&json!({"domain": "app.example.com", "upstream": "http://127.0.0.1:4000", "enabled": false, "protect": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = admin.get(app.url("/api/v1/proxy-hosts")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list[0]["upstream"], "http://127.0.0.1:4000");
    assert_eq!(list[0]["enabled"], false);
    // The generated configuration leaves disabled hosts out.
    let caddy = std::fs::read_to_string(app.state.config.data_dir.join("caddy/caddy.json")).unwrap();
    assert!(!caddy.contains("app.example.com"), "{caddy}");
    // Hosts for chosen nodes: this node's Caddy serves them only when `central` is among them.
    for (domain, nodes, here) in [("edge.example.com", json!(["edge1"]), false), ("both.example.com", json!(["edge1", "central", "edge1"]), true)] {
        let res = post(json!({"domain": domain, "upstream": "http://127.0.0.1:3000", "nodes": nodes})).await.unwrap();
        assert_eq!(res.status(), 201);
        let caddy = std::fs::read_to_string(app.state.config.data_dir.join("caddy/caddy.json")).unwrap();
        assert_eq!(caddy.contains(domain), here, "{domain}: {caddy}");
    }
    let list: Value = admin.get(app.url("/api/v1/proxy-hosts")).send().await.unwrap().json().await.unwrap();
    let nodes: Vec<&Value> = list.as_array().unwrap().iter().map(|h| &h["nodes"]).collect();
    assert_eq!(nodes, [&json!(null), &json!(["central", "edge1"]), &json!(["edge1"])], "sorted, once each; null for every node: {list}");
    assert_eq!(admin.delete(app.url("/api/v1/proxy-hosts/999")).send().await.unwrap().status(), 404);

    admin
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "viewer", "password": ADMIN_PASSWORD, "role": "viewer"}))
        .send()
        .await
        .unwrap();
    let (viewer, _) = login(&app, "viewer", ADMIN_PASSWORD).await;
    assert_eq!(viewer.get(app.url("/api/v1/proxy-hosts")).send().await.unwrap().status(), 200);
    let res = viewer.post(app.url("/api/v1/proxy-hosts")).json(&json!({"domain": "v.com", "upstream": "http://127.0.0.1:1"})).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(viewer.delete(app.url(&format!("/api/v1/proxy-hosts/{id}"))).send().await.unwrap().status(), 403);
    let audit: Vec<(String,)> = on_db!(app.state.db, cx => sqlx::query_as("SELECT action FROM audit_log WHERE action LIKE 'proxy_host.%'").fetch_all(cx).await).unwrap();
    assert_eq!(audit.len(), 4, "{audit:?}");
}

/// `last_pull` of each bouncer the engine knows, by name. (`tokio::process`: a blocking wait
/// would stop this test's runtime from draining the engine's output pipe, and a full pipe stops
/// the engine.)
async fn last_pulls(app: &TestApp) -> std::collections::HashMap<String, String> {
    let out = tokio::process::Command::new("cscli")
        .arg("-c")
        .arg(app.state.crowdsec.layout().config_file())
        .args(["bouncers", "list", "-o", "json"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_owned(), b["last_pull"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test]
async fn bulk_cscli_imports_succeed_first_time_while_the_data_plane_runs_with_one_stream_consumer() {
    const ROWS: usize = 50_000;
    // A complete answer every 5 s: it catches the rows 1.4.6 leaves out of deltas, and loads the
    // engine's database more than the default minute would.
    let site = protected_site_with(FailMode::Open, true, |c| c.decision_full_resync_secs = 5).await;
    let app = &site.app;
    let feed = format!("http://{}/bouncer/changes", site.bouncer);
    assert_eq!(reqwest::get(&feed).await.unwrap().status(), 401, "the feed answers the console only");
    // The console follows the bouncer: its own bouncer key stops polling the engine.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = last_pulls(app).await;
    assert!(before.contains_key(charon::proxy::FORWARD_AUTH_BOUNCER), "{before:?}");
    // What the console holds is dated by the bouncer's engine polls, relayed with its feed (edge
    // nodes of a fleet start from it once it is newer than their question).
    let asked = charon::support::time::now_ms();
    assert!(app.state.fleet.decisions().caught_up(asked, Duration::from_secs(5)).await, "the console's cache never took a poll newer than {asked}");

    for run in 0..3 {
        let csv = app.dir.path().join(format!("import-{run}.csv"));
        let mut rows = String::from("duration,scope,value,reason,origin\n");
        for i in 0..ROWS {
            rows.push_str(&format!("4h,Ip,{}.{}.{}.{},bulk-{run},lists\n", 20 + run, (i >> 16) & 255, (i >> 8) & 255, i & 255));
        }
        if run == 2 {
            rows.push_str("4h,Ip,127.0.0.9,bulk-2,lists\n");
        }
        std::fs::write(&csv, rows).unwrap();
        let t0 = Instant::now();
        let out = tokio::process::Command::new("cscli")
            .arg("-c")
            .arg(app.state.crowdsec.layout().config_file())
            .args(["decisions", "import", "-i"])
            .arg(&csv)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !stderr.contains("locked"), "import {run} failed: {stderr}");
        let imported = t0.elapsed();
        // Both caches get every row (the bouncer's periodic complete answer catches what 1.4.6's
        // deltas miss, and its feed carries that to the console).
        let want = (run + 1) * ROWS + usize::from(run == 2);
        let t1 = Instant::now();
        loop {
            let st = wait_running(app, &site.admin).await;
            let (bouncer, console) = (st["stats"]["decisions"].as_u64().unwrap() as usize, app.state.decisions.cache().len());
            if bouncer >= want && console >= want {
                break;
            }
            assert!(t1.elapsed() < Duration::from_secs(90), "import {run}: bouncer {bouncer}, console {console}, want {want}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!("NUMBERS cscli import {run} of {ROWS} rows: {imported:?}, then in both caches after {:?}", t1.elapsed());
    }
    assert_eq!(get(&site, &client_from("127.0.0.9"), "/").await.0, 403, "an imported address is refused");
    let after = last_pulls(app).await;
    assert_eq!(
        after.get(charon::crowdsec::bouncer_key::BOUNCER_NAME),
        before.get(charon::crowdsec::bouncer_key::BOUNCER_NAME),
        "the console's own key did not poll the engine: {before:?} → {after:?}"
    );
    assert_ne!(after.get(charon::proxy::FORWARD_AUTH_BOUNCER), before.get(charon::proxy::FORWARD_AUTH_BOUNCER), "the bouncer polls");

    // A bulk delete outside Charon reaches both caches: nothing is left behind in either (the
    // console compares its count with the bouncer's at each periodic refresh).
    let t0 = Instant::now();
    let out = tokio::process::Command::new("cscli")
        .arg("-c")
        .arg(app.state.crowdsec.layout().config_file())
        .args(["decisions", "delete", "--all"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deleted = t0.elapsed();
    let t1 = Instant::now();
    loop {
        let st = wait_running(app, &site.admin).await;
        let now = charon::support::time::now();
        let (bouncer, console) = (st["stats"]["decisions"].as_u64().unwrap(), app.state.decisions.cache().live_len(now));
        if bouncer == 0 && console == 0 {
            break;
        }
        assert!(t1.elapsed() < Duration::from_secs(60), "after deleting every decision: bouncer {bouncer}, console {console}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("NUMBERS cscli delete of {} decisions: {deleted:?}, then gone from both caches after {:?}", 3 * ROWS + 1, t1.elapsed());
    site.app.state.proxy.stop_data_plane().await;
}

#[tokio::test]
async fn the_self_test_proves_enforcement_on_every_protected_site_and_names_the_failing_step() {
    let site = protected_site(FailMode::Open, true).await;
    // A second protected site, and an unprotected one the test leaves out.
    let up = upstream().await;
    for (domain, protect) in [("shop.localhost", true), ("open.localhost", false)] {
        let (status, body) = site
            .app
            .send_json(&site.admin, reqwest::Method::POST, "/api/v1/proxy-hosts", &json!({"domain": domain, "upstream": format!("http://{up}"), "protect": protect}))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    until_status(&site, &client_from("127.0.0.1"), 200, Duration::from_secs(10)).await;
    let t0 = Instant::now();
    let (status, report) = site.app.send_json(&site.admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/self-test", &json!({})).await;
    println!("NUMBERS self-test on two sites: {:?}", t0.elapsed());
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], true, "{report:#}");
    let names: Vec<&str> = report["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    for name in [
        "protected sites", "data plane running", "bouncer took the test token", "engine accepted the ban", "bouncer pulled the ban",
        "403 seen on app.localhost", "403 seen on shop.localhost", "unbanned", "app.localhost served again", "shop.localhost served again",
    ] {
        assert!(names.contains(&name), "{name} missing: {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("open.localhost")), "unprotected sites are not tested: {names:?}");
    assert!(report["steps"].as_array().unwrap().iter().all(|s| s["ms"].as_u64().is_some()));
    assert!(report["bouncer_last_pull"].as_str().is_some_and(|t| t.ends_with('Z')), "{report}");
    for s in report["steps"].as_array().unwrap() {
        println!("  {} {} ms: {}", s["name"], s["ms"], s["detail"]);
    }
    // Nothing left behind: no decision on the test address at the engine, and the console's list
    // follows within its sync interval; the probe header alone is nobody.
    let lapi = std::process::Command::new("cscli")
        .arg("-c")
        .arg(site.app.state.crowdsec.layout().config_file())
        .args(["decisions", "list", "-i", "192.0.2.254", "-o", "json"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&lapi.stdout);
    assert!(lapi.status.success() && !listed.contains("192.0.2.254"), "the engine still holds the test ban: {listed}");
    let t0 = Instant::now();
    loop {
        let (_, left) = site.app.get_json(&site.admin, "/api/v1/cerberus/crowdsec/decisions?q=192.0.2.254").await;
        if left["total"] == 0 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "the console still lists the test ban: {left}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let forged = client_from("127.0.0.1");
    let res = forged.get(format!("http://{}/", site.proxy)).header("Host", HOST).header("X-Charon-Self-Test", "0".repeat(64)).send().await.unwrap();
    assert_eq!(res.status(), 200, "a guessed token is no test address");
    let (_, audit) = site.app.get_json(&site.admin, "/api/v1/audit?action=selftest").await;
    assert_eq!(audit["rows"][0]["result"], "ok", "{audit}");

    // A viewer may not run it.
    let viewer = viewer(&site.app, &site.admin).await;
    let (status, _) = site.app.send_json(&viewer, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/self-test", &json!({})).await;
    assert_eq!(status, 403);

    // The bouncer down: the report says which step failed and what to do; nothing is banned.
    kill_bouncer(&site).await;
    let (status, report) = site.app.send_json(&site.admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/self-test", &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], false, "{report:#}");
    let failed = report["steps"].as_array().unwrap().iter().find(|s| s["ok"] == false).unwrap();
    assert_eq!(failed["name"], "data plane running", "{report:#}");
    assert!(failed["detail"].as_str().unwrap().contains("bouncer is not running"), "{failed}");
    let (_, left) = site.app.get_json(&site.admin, "/api/v1/cerberus/crowdsec/decisions?q=192.0.2.254").await;
    assert_eq!(left["total"], 0, "{left}");
    site.app.state.proxy.stop_data_plane().await;
}

#[tokio::test]
async fn site_scoped_bans_and_path_exceptions_apply_to_their_sites_and_paths_only() {
    let site = protected_site(FailMode::Open, true).await;
    let up = upstream().await;
    const B: &str = "shop.localhost";
    let (status, body) = site
        .app
        .send_json(&site.admin, reqwest::Method::POST, "/api/v1/proxy-hosts", &json!({"domain": B, "upstream": format!("http://{up}")}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = site
        .app
        .send_json(&site.admin, reqwest::Method::POST, "/api/v1/proxy-hosts", &json!({"domain": "off.localhost", "upstream": format!("http://{up}"), "enabled": false}))
        .await;
    assert_eq!(status, 201, "{body}");
    let on = |c: &reqwest::Client, host: &'static str, path: &'static str| {
        let c = c.clone();
        let url = format!("http://{}{path}", site.proxy);
        async move { c.get(url).header("Host", host).send().await.unwrap().status().as_u16() }
    };
    let visitor = client_from("127.0.0.4");
    until_status(&site, &visitor, 200, Duration::from_secs(10)).await;
    assert_eq!(on(&visitor, B, "/").await, 200);

    // Bad scopes: nothing changes.
    const DECISIONS: &str = "/api/v1/cerberus/crowdsec/decisions";
    for sites in [json!(["nowhere.localhost"]), json!(["off.localhost"]), json!(["not a domain"])] {
        let (status, body) = site.app.send_json(&site.admin, reqwest::Method::POST, DECISIONS, &json!({"value": "127.0.0.4", "duration": "1h", "sites": sites})).await;
        assert_eq!((status, body["field"].as_str()), (400, Some("sites")), "{sites}: {body}");
    }
    // A ban on site A only: 403 there within a second, B still serves.
    let t0 = Instant::now();
    let (status, ban) = site.app.send_json(&site.admin, reqwest::Method::POST, DECISIONS, &json!({"value": "127.0.0.4", "duration": "1h", "sites": [HOST], "reason": "scraping A"})).await;
    assert_eq!(status, 201, "{ban}");
    assert_eq!(ban["sites"], json!([HOST]));
    let id = ban["id"].as_i64().unwrap();
    assert!(id < 0, "scoped bans are listed with negative ids: {ban}");
    until_status(&site, &visitor, 403, Duration::from_secs(3)).await;
    println!("NUMBERS scoped ban (API answered) → first 403 on its site: {:?}", t0.elapsed());
    assert_eq!(on(&visitor, B, "/").await, 200, "another site is not affected");
    // Listed with its scope; the site filter shows it for A, not for B.
    let (_, on_a) = site.app.get_json(&site.admin, &format!("{DECISIONS}?site={HOST}&q=127.0.0.4")).await;
    assert_eq!(on_a["decisions"][0]["sites"], json!([HOST]), "{on_a}");
    let (_, on_b) = site.app.get_json(&site.admin, &format!("{DECISIONS}?site={B}&q=127.0.0.4")).await;
    assert_eq!(on_b["total"], 0, "{on_b}");
    // It survives a console restart of the rules (they are read back) and is removed by its id.
    let (status, _) = site.app.send_json(&site.admin, reqwest::Method::DELETE, &format!("{DECISIONS}/{id}"), &json!({})).await;
    assert_eq!(status, 200);
    until_status(&site, &visitor, 200, Duration::from_secs(3)).await;

    // An exception for one path on A, against a ban on every site.
    let banned = client_from("127.0.0.5");
    let (status, _) = site.app.send_json(&site.admin, reqwest::Method::POST, DECISIONS, &json!({"value": "127.0.0.5", "duration": "1h"})).await;
    assert_eq!(status, 201);
    until_status(&site, &banned, 403, Duration::from_secs(5)).await;
    const ALLOW: &str = "/api/v1/cerberus/crowdsec/allowlist";
    let (status, body) = site.app.send_json(&site.admin, reqwest::Method::POST, ALLOW, &json!({"value": "127.0.0.5", "sites": [HOST], "path_prefix": "/a/../b"})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("path_prefix")), "{body}");
    let (status, added) = site.app.send_json(&site.admin, reqwest::Method::POST, ALLOW, &json!({"value": "127.0.0.5", "sites": [HOST], "path_prefix": "/", "reason": "health checks"})).await;
    assert_eq!(status, 201, "{added}");
    let exception = added["entry"]["id"].as_i64().unwrap();
    assert!(exception < 0);
    let t0 = Instant::now();
    while on(&banned, HOST, "/").await != 200 {
        assert!(t0.elapsed() < Duration::from_secs(3), "the exception did not arrive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("NUMBERS scoped exception (API answered) → first 200: {:?}", t0.elapsed());
    assert_eq!(on(&banned, B, "/").await, 403, "the exception is for site A only");
    // Narrower: replace it by one for /public only; tricks to widen it stay blocked.
    let (status, _) = site.app.send_json(&site.admin, reqwest::Method::DELETE, &format!("{ALLOW}/{exception}"), &json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = site.app.send_json(&site.admin, reqwest::Method::POST, ALLOW, &json!({"value": "127.0.0.5", "sites": [HOST], "path_prefix": "/public"})).await;
    assert_eq!(status, 201);
    let t0 = Instant::now();
    while on(&banned, HOST, "/").await != 403 {
        assert!(t0.elapsed() < Duration::from_secs(3), "the wider exception was not removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t0 = Instant::now();
    while on(&banned, HOST, "/public/x").await == 403 {
        assert!(t0.elapsed() < Duration::from_secs(3), "the path exception did not arrive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for tricky in ["/public/../private", "/publicity", "/%70ublic/x", "/public//x", "/private"] {
        let status = raw_get_host(site.proxy, "127.0.0.5", HOST, tricky).await;
        assert_eq!(status, 403, "{tricky} must stay blocked");
    }
    let (_, list) = site.app.get_json(&site.admin, ALLOW).await;
    let scoped: Vec<&Value> = list.as_array().unwrap().iter().filter(|e| e["id"].as_i64().unwrap() < 0).collect();
    assert_eq!(scoped.len(), 1, "{list}");
    assert_eq!((scoped[0]["sites"].clone(), scoped[0]["path_prefix"].clone()), (json!([HOST]), json!("/public")));

    // "Unban and allow" on one site only: the decision stays (A still blocks), B serves, for a while.
    const UNBAN_ALLOW: &str = "/api/v1/cerberus/crowdsec/decisions/unban-and-allow";
    let (status, body) = site.app.send_json(&site.admin, reqwest::Method::POST, UNBAN_ALLOW, &json!({"value": "127.0.0.5", "duration": "1h", "sites": ["nowhere.localhost"]})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("sites")), "{body}");
    let (_, before) = site.app.get_json(&site.admin, ALLOW).await;
    assert_eq!(before.as_array().unwrap().len(), 1, "a refused scope changes nothing: {before}");
    let (status, done) = site.app.send_json(&site.admin, reqwest::Method::POST, UNBAN_ALLOW, &json!({"value": "127.0.0.5", "duration": "1h", "sites": [B], "reason": "false positive on the shop"})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!((done["unbanned"].as_u64(), done["entry"]["sites"].clone()), (Some(0), json!([B])), "{done}");
    assert!(done["entry"]["expires_at"].is_string(), "given for a while: {done}");
    let t0 = Instant::now();
    while on(&banned, B, "/").await != 200 {
        assert!(t0.elapsed() < Duration::from_secs(3), "the site-only allow did not arrive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(on(&banned, HOST, "/").await, 403, "the decision still applies on A");
    let (_, listed) = site.app.get_json(&site.admin, &format!("{DECISIONS}?q=127.0.0.5")).await;
    assert_eq!(listed["total"], 1, "the decision stays: {listed}");
    let audit = site.app.get_json(&site.admin, "/api/v1/audit?action=decision.unban_and_allow").await.1;
    assert!(audit.to_string().contains(&format!("on sites {B}")), "{audit}");

    // An unban reaches site-scoped bans: by value, grouped (the group shows its sites) …
    let ban_on_a = |value: &'static str| {
        let app = &site.app;
        let admin = site.admin.clone();
        async move {
            let (status, body) = app.send_json(&admin, reqwest::Method::POST, DECISIONS, &json!({"value": value, "duration": "1h", "sites": [HOST]})).await;
            assert_eq!(status, 201, "{body}");
        }
    };
    ban_on_a("127.0.0.6").await;
    let (_, grouped) = site.app.get_json(&site.admin, &format!("{DECISIONS}?group=address&q=127.0.0.6")).await;
    assert_eq!(grouped["groups"][0]["sites"], json!([HOST]), "{grouped}");
    let (status, deleted) = site.app.send_json(&site.admin, reqwest::Method::DELETE, &format!("{DECISIONS}?value=127.0.0.6"), &json!({})).await;
    assert_eq!((status, deleted["deleted"].as_u64()), (200, Some(1)), "{deleted}");
    until_status(&site, &client_from("127.0.0.6"), 200, Duration::from_secs(3)).await;
    // … "unban and allow" everywhere …
    ban_on_a("127.0.0.7").await;
    let (status, done) = site.app.send_json(&site.admin, reqwest::Method::POST, UNBAN_ALLOW, &json!({"value": "127.0.0.7", "duration": "15m"})).await;
    assert_eq!((status, done["unbanned"].as_u64()), (200, Some(1)), "{done}");
    // … and `charon unban` from the shell (the console follows by itself).
    ban_on_a("127.0.0.8").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_charon"))
        .args(["unban", "127.0.0.8", "--allow-for", "15m"])
        .env("CHARON_DATA_DIR", &site.app.state.config.data_dir)
        .envs(database_env(&site.app.state.config.data_dir))
        .env("CHARON_CROWDSEC_LAPI_LISTEN", site.app.state.config.crowdsec_lapi_listen.to_string())
        .env("CHARON_CROWDSEC_PROMETHEUS", "off")
        .env("CHARON_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("and 1 site-scoped ban(s) in Charon"), "{stderr}");
    let t0 = Instant::now();
    loop {
        let (_, left) = site.app.get_json(&site.admin, &format!("{DECISIONS}?q=127.0.0.")).await;
        let values: Vec<&str> = left["decisions"].as_array().unwrap().iter().filter_map(|d| d["value"].as_str()).collect();
        if values == ["127.0.0.5"] {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "scoped bans left after the unbans: {values:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The shell kept the bouncer's own settings (this shell's environment has other defaults).
    let settings = charon::bouncer::daemon::DaemonSettings::load(&site.app.state.config.data_dir.join("bouncer/settings.json")).unwrap();
    assert_eq!((settings.listen, settings.sync_interval_ms), (site.bouncer, 200));
    assert_eq!(on(&client_from("127.0.0.8"), HOST, "/").await, 200);
    site.app.state.proxy.stop_data_plane().await;
}

/// A GET with a raw path (no client normalisation) from a chosen loopback address.
async fn raw_get_host(proxy: SocketAddr, from: &str, host: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = sock.connect(proxy).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf).split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}
