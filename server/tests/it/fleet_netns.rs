//! The fleet as the issue describes it, on one machine: the central node (`charon serve`, a real
//! process) in the root namespace; two edge nodes (`charon node`), each in a network namespace of
//! its own with its own address (Caddy, bouncer and log processor each), each protecting a site; a
//! scanner in a third namespace. Addresses come from TEST-NET-2 (198.51.100.0/24), which CrowdSec's
//! whitelist of private ranges does not cover. Skipped where network namespaces cannot be made
//! (not root, no `ip`).

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::common::free_port;

const SITE: &str = "app.localhost";
const CENTRAL: &str = "198.51.100.1";

/// A bridge in the root namespace and namespaces hanging off it; removed when dropped.
struct Net {
    bridge: String,
    namespaces: Vec<String>,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip").args(args).status().is_ok_and(|s| s.success())
}

impl Net {
    /// `None` when namespaces cannot be made here.
    fn new(names: &[&str]) -> Option<Net> {
        let tag = std::process::id() % 100_000;
        let bridge = format!("chb{tag}");
        if !ip(&["link", "add", &bridge, "type", "bridge"]) {
            return None;
        }
        let mut net = Net { bridge: bridge.clone(), namespaces: Vec::new() };
        assert!(ip(&["addr", "add", &format!("{CENTRAL}/24"), "dev", &bridge]));
        assert!(ip(&["link", "set", &bridge, "up"]));
        for (i, name) in names.iter().enumerate() {
            let ns = format!("charon-{name}-{tag}");
            assert!(ip(&["netns", "add", &ns]), "ip netns add {ns}");
            net.namespaces.push(ns.clone());
            let host_end = format!("chv{tag}x{i}");
            assert!(ip(&["link", "add", &host_end, "type", "veth", "peer", "name", "eth0", "netns", &ns]));
            assert!(ip(&["link", "set", &host_end, "master", &bridge, "up"]));
            let address = format!("198.51.100.{}/24", 11 + i);
            assert!(ip(&["netns", "exec", &ns, "ip", "addr", "add", &address, "dev", "eth0"]));
            assert!(ip(&["netns", "exec", &ns, "ip", "link", "set", "eth0", "up"]));
            assert!(ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]));
        }
        Some(net)
    }

    fn ns(&self, i: usize) -> &str {
        &self.namespaces[i]
    }

    fn address(i: usize) -> String {
        format!("198.51.100.{}", 11 + i)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            // Whatever still runs in it goes with it.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                }
            }
            ip(&["netns", "del", ns]);
        }
        ip(&["link", "del", &self.bridge]);
    }
}

fn charon_cli(data: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let out = super::cli::charon(data, args, stdin);
    assert!(out.status.success(), "charon {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The central node as a process; its console's address from its "listening" line.
fn central(data: &Path, lapi: u16, fleet: u16) -> (Child, String) {
    let (lapi, listen, url) = (format!("127.0.0.1:{lapi}"), format!("{CENTRAL}:{fleet}"), format!("https://{CENTRAL}:{fleet}"));
    let (child, mut stderr, line) = super::serve::start_with(
        data,
        &[
            ("CHARON_PROXY_ENABLED", "false"),
            ("CHARON_CAPI_URL", "off"),
            ("CHARON_CROWDSEC_PROMETHEUS", "off"),
            ("CHARON_CROWDSEC_LAPI_LISTEN", &lapi),
            ("CHARON_FLEET_LISTEN", &listen),
            ("CHARON_FLEET_URL", &url),
        ],
    );
    let v: Value = serde_json::from_str(&line).unwrap();
    let address = v["fields"]["address"].as_str().or(v["address"].as_str()).unwrap().to_owned();
    // Keep reading its log so it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stderr.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    (child, format!("http://{address}"))
}

/// `charon node` inside a namespace, its proxy on the namespace's address.
fn edge_in(ns: &str, dir: &Path, address: &str, args: &[&str]) -> Child {
    let log = std::fs::File::create(dir.join("node.log")).unwrap();
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(env!("CARGO_BIN_EXE_charon"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("node")
        .args(args)
        .env_remove("CHARON_CONFIG")
        .env("CHARON_PROXY_LISTEN", format!("{address}:8080"))
        .env("CHARON_BOUNCER_LISTEN", "127.0.0.1:8081")
        .env("CHARON_DECISION_SYNC_INTERVAL_MS", "200")
        .env("CHARON_CROWDSEC_PROMETHEUS", "off")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// `GET path` on the site of the edge at `edge` from namespace `from`, with curl: the status.
async fn from_ns(from: &str, edge: &str, path: &str) -> u16 {
    // `root`: from the root namespace (the bridge's address).
    let mut cmd = if from == "root" {
        tokio::process::Command::new("curl")
    } else {
        let mut c = tokio::process::Command::new("ip");
        c.args(["netns", "exec", from, "curl"]);
        c
    };
    let out = cmd
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--path-as-is", "-H", &format!("Host: {SITE}")])
        .arg(format!("http://{edge}:8080{path}"))
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

async fn until(from: &str, edge: &str, status: u16, timeout: Duration, log: &Path) -> Duration {
    let t0 = Instant::now();
    loop {
        let s = from_ns(from, edge, "/").await;
        if s == status {
            return t0.elapsed();
        }
        let agent = log.with_file_name("data/crowdsec/logs/crowdsec.log");
        let access = log.with_file_name("data/logs/access.log");
        assert!(
            t0.elapsed() < timeout,
            "{edge} answers {s} (want {status}) after {timeout:?}; node log:\n{}\nlog processor:\n{}\naccess log (tail):\n{}",
            std::fs::read_to_string(log).unwrap_or_default(),
            std::fs::read_to_string(&agent).unwrap_or_default().lines().filter(|l| !l.contains("level=info")).collect::<Vec<_>>().join("\n"),
            std::fs::read_to_string(&access).unwrap_or_default().lines().rev().take(3).collect::<Vec<_>>().join("\n"),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn engine_pid(data: &Path) -> Option<i32> {
    std::fs::read_to_string(data.join("crowdsec/crowdsec.pid")).ok()?.trim().parse().ok()
}

#[tokio::test]
async fn a_scan_on_one_edge_is_refused_on_both_and_the_edges_outlive_the_central_node() {
    let Some(net) = Net::new(&["edge1", "edge2", "scan"]) else {
        println!("SKIPPED: network namespaces cannot be made here (root and iproute2 needed)");
        return;
    };
    let tmp = tempfile::Builder::new().prefix("charon-fleet-").tempdir().unwrap();
    let data = tmp.path().join("central");
    charon_cli(&data, &["admin", "create", "--username", "admin", "--password-stdin"], "fleet test password 1\n");
    let token = String::from_utf8(charon_cli(&data, &["admin", "token", "create", "--name", "fleet"], "").stdout).unwrap().trim().to_owned();
    let (lapi, fleet) = (free_port(), free_port());
    let (mut central_proc, console) = central(&data, lapi, fleet);
    let api = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let req = api.request(method, format!("{console}{path}")).bearer_auth(&token);
        let req = if let Some(b) = body { req.json(&b) } else { req };
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = call(reqwest::Method::POST, "/api/v1/cerberus/crowdsec/start", None).await;
    assert_eq!(status, 200, "{body}");
    // The protected site's upstream, reachable from the namespaces on the bridge's address.
    let upstream = tokio::net::TcpListener::bind((CENTRAL, 0)).await.unwrap();
    let up = upstream.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(upstream, axum::Router::new().fallback(|| async { "hello" })).await.unwrap() });
    let (status, body) = call(reqwest::Method::POST, "/api/v1/proxy-hosts", Some(json!({"domain": SITE, "upstream": format!("http://{up}"), "protect": true}))).await;
    assert_eq!(status, 201, "{body}");

    let mut edges = Vec::new();
    for i in 0..2 {
        let (status, t) = call(reqwest::Method::POST, "/api/v1/nodes/join-tokens", Some(json!({}))).await;
        assert_eq!(status, 201, "{t}");
        let dir = tmp.path().join(format!("edge{}", i + 1));
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!("edge{}", i + 1);
        let child = edge_in(net.ns(i), &dir, &Net::address(i), &["--join", &format!("https://{CENTRAL}:{fleet}"), "--token", t["token"].as_str().unwrap(), "--name", &name]);
        edges.push((child, dir));
    }
    let (scan, e1, e2) = (net.ns(2).to_owned(), Net::address(0), Net::address(1));
    let log = |i: usize| edges[i].1.join("node.log");
    until(&scan, &e1, 200, Duration::from_secs(30), &log(0)).await;
    until(&scan, &e2, 200, Duration::from_secs(30), &log(1)).await;

    // Each node reports from its own address.
    let t0 = Instant::now();
    loop {
        let (_, nodes) = call(reqwest::Method::GET, "/api/v1/nodes", None).await;
        let rows = nodes.as_array().cloned().unwrap_or_default();
        let ok = rows.iter().filter(|n| n["health"] == "ok").count() == 2;
        if ok {
            let addresses: Vec<&str> = rows.iter().map(|n| n["address"].as_str().unwrap()).collect();
            assert_eq!(addresses, [e1.as_str(), e2.as_str()], "{nodes}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{nodes}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The scanner probes edge 1: banned at the central node, refused on both edges.
    let t_scan = Instant::now();
    // Probed again every 2 s until refused: the log processor reads new lines only, and may still
    // be loading its scenarios right after its node reported in.
    loop {
        if from_ns(&scan, &e1, "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd").await == 403 {
            break;
        }
        let next = Instant::now() + Duration::from_secs(2);
        let mut banned = false;
        while Instant::now() < next && !banned {
            banned = from_ns(&scan, &e1, "/").await == 403;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if banned {
            break;
        }
        assert!(t_scan.elapsed() < Duration::from_secs(60), "the scan was never refused; node log:\n{}", std::fs::read_to_string(log(0)).unwrap_or_default());
    }
    until(&scan, &e2, 403, Duration::from_secs(10), &log(1)).await;
    println!("NUMBERS scan on edge 1 → refused on both edges (namespaces): {:?}", t_scan.elapsed());

    // A ban made at the central node reaches both edges within 2 s: the scanner is unbanned
    // first, then banned again by hand.
    let (status, body) = call(reqwest::Method::DELETE, "/api/v1/cerberus/crowdsec/decisions?value=198.51.100.13", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["deleted"].as_u64().unwrap_or(0) >= 1, "{body}");
    until(&scan, &e1, 200, Duration::from_secs(10), &log(0)).await;
    until(&scan, &e2, 200, Duration::from_secs(10), &log(1)).await;
    let t_ban = Instant::now();
    let (status, body) = call(reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions", Some(json!({"value": "198.51.100.13", "duration": "1h", "reason": "fleet"}))).await;
    assert_eq!(status, 201, "{body}");
    until(&scan, &e1, 403, Duration::from_secs(2), &log(0)).await;
    until(&scan, &e2, 403, Duration::from_secs(2), &log(1)).await;
    println!("NUMBERS central ban → 403 on both edges (namespaces): {:?}", t_ban.elapsed());

    // Kill the central node (the console, then its engine): both edges keep refusing the banned
    // scanner and serving everyone else.
    let engine = engine_pid(&data);
    kill(&mut central_proc);
    if let Some(pid) = engine {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (i, edge) in [&e1, &e2].into_iter().enumerate() {
        assert_eq!(from_ns(&scan, edge, "/").await, 403, "edge {} with the central node gone", i + 1);
        assert_eq!(from_ns(net.ns(1 - i), edge, "/").await, 200, "another address is served by edge {}", i + 1);
    }

    // The central node comes back (its engine too, as it was on): the nodes catch up unaided —
    // they report again, and a ban made now reaches both.
    let back_at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    let back_at = back_at.split('.').next().unwrap().trim_end_matches('Z').to_owned() + "Z";
    let (mut central_proc, console2) = central(&data, lapi, fleet);
    let api2 = api.clone();
    let token2 = token.clone();
    let t_back = Instant::now();
    loop {
        let res = api2.get(format!("{console2}/api/v1/nodes")).bearer_auth(&token2).send().await.unwrap();
        let nodes: Value = res.json().await.unwrap_or(Value::Null);
        let fresh = nodes.as_array().is_some_and(|r| {
            r.len() == 2 && r.iter().all(|n| n["health"] == "ok" && n["last_report_at"].as_str().is_some_and(|t| t >= back_at.as_str()))
        });
        if fresh {
            break;
        }
        assert!(t_back.elapsed() < Duration::from_secs(90), "nodes did not report again: {nodes}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("NUMBERS central node back → both nodes reporting again: {:?}", t_back.elapsed());
    // The console answers before its engine is up again (it starts in the background): a 503
    // until then.
    let t_engine = Instant::now();
    loop {
        let res = api2
            .post(format!("{console2}/api/v1/cerberus/crowdsec/decisions"))
            .bearer_auth(&token2)
            .json(&json!({"value": "198.51.100.1", "duration": "1h", "reason": "after the outage"}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        if status == 201 {
            break;
        }
        assert!(status == 503 && t_engine.elapsed() < Duration::from_secs(60), "{status} {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    until("root", &e1, 403, Duration::from_secs(20), &log(0)).await;
    until("root", &e2, 403, Duration::from_secs(20), &log(1)).await;

    // Removing edge 2: its key no longer works at the Local API; edge 1 still enforces.
    let key2: Value = serde_json::from_str(&std::fs::read_to_string(edges[1].1.join("data/node/membership.json")).unwrap()).unwrap();
    let res = api2.delete(format!("{console2}/api/v1/nodes/edge2")).bearer_auth(&token2).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let lapi_direct = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{lapi}/v1/decisions/stream?startup=true"))
        .header("X-Api-Key", key2["bouncer_key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(lapi_direct.status(), 403, "a removed node's key is refused by the Local API");
    assert_eq!(from_ns(&scan, &e1, "/").await, 403);
    assert_eq!(from_ns("root", &e1, "/").await, 403);
    assert_eq!(from_ns(net.ns(1), &e1, "/").await, 200, "edge 2's address is served by edge 1");

    kill(&mut central_proc);
    if let Some(pid) = engine_pid(&data) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    for (child, _) in &mut edges {
        kill(child);
    }
    drop(net);
}
