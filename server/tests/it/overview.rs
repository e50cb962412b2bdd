//! The Overview counts what the protected sites saw, exactly: 1 000 requests through a real Caddy
//! and bouncer in front of a test upstream, some from banned addresses, while the console runs,
//! while it is stopped (the data plane keeps serving and logging), and after it came back and
//! the bouncer was killed and restarted; `GET /api/v1/overview` then says what was sent.

use std::net::IpAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::serve::{data_plane_pids, signal, start_with, wait_exit, Reaper};

const SITE: &str = "count.localhost";
const VISITOR: &str = "127.0.0.30";
const BANNED: [&str; 2] = ["127.0.0.31", "127.0.0.32"];

/// What the test sent, by the answer it got.
#[derive(Default, Debug)]
struct Sent {
    allowed: u64,
    blocked: u64,
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip.parse::<IpAddr>().unwrap()).timeout(Duration::from_secs(5)).build().unwrap()
}

async fn send(proxy: &str, from: &str, sent: &mut Sent) -> u16 {
    let status = client_from(from).get(format!("http://{proxy}/")).header("host", SITE).send().await.unwrap().status().as_u16();
    match status {
        200 => sent.allowed += 1,
        403 => sent.blocked += 1,
        other => panic!("unexpected answer {other} for {from}"),
    }
    status
}

/// `n` requests: one in ten from each banned address, the rest from the visitor.
async fn traffic(proxy: &str, n: u64, sent: &mut Sent) {
    for i in 0..n {
        let from = match i % 10 {
            0 => BANNED[0],
            1 => BANNED[1],
            _ => VISITOR,
        };
        send(proxy, from, sent).await;
    }
}

fn console_address(line: &str) -> String {
    let v: Value = serde_json::from_str(line.trim()).unwrap();
    v["fields"]["address"].as_str().or_else(|| v["address"].as_str()).unwrap_or_else(|| panic!("no address in {line}")).to_owned()
}

struct Console {
    child: Child,
    base: String,
    /// Held open: the console logs there.
    _stderr: std::io::BufReader<std::process::ChildStderr>,
}

fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Console {
    let (child, stderr, line) = start_with(dir, env);
    Console { child, base: format!("http://{}", console_address(&line)), _stderr: stderr }
}

async fn overview(c: &Console, token: &str) -> Value {
    let res = reqwest::Client::new().get(format!("{}/api/v1/overview?range=1h", c.base)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn wait_counted(c: &Console, token: &str, total: u64) -> Value {
    let t0 = Instant::now();
    loop {
        let o = overview(c, token).await;
        if o["checked"].as_u64() == Some(total) {
            return o;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "counted {} of {total}: {o}", o["checked"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_overview_counts_every_request_exactly_across_console_and_bouncer_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = format!("127.0.0.1:{}", crate::common::free_port());
    let bouncer = format!("127.0.0.1:{}", crate::common::free_port());
    let lapi = format!("127.0.0.1:{}", crate::common::free_port());
    let env = [
        ("CHARON_PROXY_LISTEN", proxy.as_str()),
        ("CHARON_BOUNCER_LISTEN", bouncer.as_str()),
        ("CHARON_CROWDSEC_LAPI_LISTEN", lapi.as_str()),
        ("CHARON_CROWDSEC_PROMETHEUS", "off"),
        ("CHARON_CAPI_URL", "off"),
        ("CHARON_DECISION_SYNC_INTERVAL_MS", "200"),
    ];
    let token = Command::new(env!("CARGO_BIN_EXE_charon"))
        .args(["admin", "token", "create", "--name", "overview-test", "--role", "admin"])
        .env("CHARON_DATA_DIR", dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let api = reqwest::Client::new();

    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = upstream.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(upstream, axum::Router::new().fallback(|| async { "hello" })).await.unwrap() });

    let mut console = start(dir.path(), &env);
    let mut reaper = Reaper(data_plane_pids(dir.path()));
    reaper.0.push(console.child.id() as i32);
    let post = |c: &Console, path: &str, body: Value| api.post(format!("{}{path}", c.base)).bearer_auth(&token).json(&body).send();
    assert_eq!(post(&console, "/api/v1/proxy-hosts", json!({"domain": SITE, "upstream": format!("http://{up}"), "protect": true})).await.unwrap().status(), 201);
    assert_eq!(post(&console, "/api/v1/cerberus/crowdsec/start", json!({})).await.unwrap().status(), 200);
    for ip in BANNED {
        assert_eq!(post(&console, "/api/v1/cerberus/crowdsec/decisions", json!({"value": ip, "duration": "1h"})).await.unwrap().status(), 201);
    }
    // Every request counts, the probes too.
    let mut sent = Sent::default();
    let t0 = Instant::now();
    for ip in BANNED {
        while send(&proxy, ip, &mut sent).await != 403 {
            assert!(t0.elapsed() < Duration::from_secs(20), "the ban of {ip} is not enforced");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    traffic(&proxy, 500, &mut sent).await;

    // The console stops (SIGTERM): Caddy and the bouncer keep serving and logging.
    signal(&console.child, "TERM");
    assert!(wait_exit(&mut console.child).success());
    traffic(&proxy, 300, &mut sent).await;

    // The next console reads on where the last one stopped; the bouncer is killed and restarted.
    console = start(dir.path(), &env);
    reaper.0.push(console.child.id() as i32);
    let bouncer_pid = std::fs::read_to_string(dir.path().join("bouncer/bouncer.pid")).unwrap().trim().parse::<i32>().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(bouncer_pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let t0 = Instant::now();
    loop {
        let pids = data_plane_pids(dir.path());
        if !pids.contains(&bouncer_pid) {
            reaper.0.extend(pids);
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "the bouncer was not restarted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t0 = Instant::now();
    while client_from(VISITOR).get(format!("http://{proxy}/")).header("host", SITE).send().await.map(|r| r.status().as_u16()).unwrap_or(0) == 0 {
        assert!(t0.elapsed() < Duration::from_secs(20));
    }
    sent.allowed += 1;
    traffic(&proxy, 200 - 1, &mut sent).await;

    let total = sent.allowed + sent.blocked;
    assert!(total >= 1000, "{sent:?}");
    let o = wait_counted(&console, &token, total).await;
    println!("MEASURE overview: {total} requests sent ({sent:?}); counted {} checked, {} allowed, {} blocked", o["checked"], o["allowed"], o["blocked"]);
    assert_eq!((o["allowed"].as_u64(), o["blocked"].as_u64(), o["unchecked"].as_u64()), (Some(sent.allowed), Some(sent.blocked), Some(0)), "{o}");
    // Refused by Charon's own bans ("charon"): the restarted console read its backlog only once
    // its copy of the decisions had synced.
    assert_eq!(o["blocked_by_origin"], json!([{"name": "charon", "count": sent.blocked}]), "{o}");
    assert_eq!(o["blocked_by_site"], json!([{"name": SITE, "count": sent.blocked}]), "{o}");
    let top: Vec<&str> = o["top_blocked_addresses"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(top.contains(&BANNED[0]) && top.contains(&BANNED[1]) && !top.contains(&VISITOR), "{o}");
    assert_eq!(o["bans"], 2, "the two manual bans: {o}");
    let series = o["series"].as_array().unwrap();
    let bars: u64 = series.iter().map(|b| b["allowed"].as_u64().unwrap()).sum();
    assert_eq!(bars, sent.allowed, "the bars add up to the total");
    // The bans over time, by scenario: both are Charon's manual bans.
    assert_eq!(o["scenarios"].as_array().map(Vec::len), Some(1), "{o}");
    let by_scenario: u64 = series.iter().map(|b| b["bans_by_scenario"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum::<u64>()).sum();
    assert_eq!(by_scenario, 2, "{o}");
    // The engine ran for part of the hour at least; the bouncer's sync lag is sampled every 10 s
    // while the engine runs, and with a 200 ms sync interval it stays short.
    assert!(o["engine_up_permille"].as_u64().is_some_and(|p| p > 0), "{o}");
    let t0 = Instant::now();
    let lag = loop {
        let o = overview(&console, &token).await;
        if let Some(lag) = o["sync_lag_max_seconds"].as_u64() {
            break lag;
        }
        assert!(t0.elapsed() < Duration::from_secs(40), "no sync lag sample: {o}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(lag <= 5, "sync lag {lag} s");
    // /metrics agrees: the request counters by outcome; once the restarted console's engine is up
    // again and its copy of the decisions synced, the engine up and the two bans live.
    let scrape = || async {
        let res = api.get(format!("{}/metrics", console.base)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
        res.text().await.unwrap()
    };
    let sum = |text: &str, prefix: &str, needle: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with(prefix) && l.contains(needle))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64)
            .sum()
    };
    let text = scrape().await;
    assert_eq!(sum(&text, "charon_requests_total{", "outcome=\"allowed\""), sent.allowed, "{text}");
    assert_eq!(sum(&text, "charon_requests_total{", "outcome=\"blocked\""), sent.blocked, "{text}");
    assert!(text.contains("# TYPE charon_http_request_duration_seconds histogram") && text.contains("route=\"/api/v1/overview\""), "{text}");
    assert!(!text.contains(&token), "no secret in the metrics");
    let t0 = Instant::now();
    loop {
        let text = scrape().await;
        if sum(&text, "charon_engine_up", "") == 1 && sum(&text, "charon_decisions{", "origin=\"charon\"") == 2 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "engine not up or bans not live: {text}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Without a token: 401, not the login page.
    assert_eq!(api.get(format!("{}/metrics", console.base)).send().await.unwrap().status(), 401);

    // A range that is not one of the four: 400 naming the field.
    let res = api.get(format!("{}/api/v1/overview?range=2y", console.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "range");

    signal(&console.child, "QUIT");
    assert!(wait_exit(&mut console.child).success());
}
