//! The central node's Local API on PostgreSQL (issue "Fleet", part 1): a PostgreSQL server from
//! Debian's package, started by the test as user `postgres` on a loopback port in a temp dir (never
//! a system service), and the real engine configured with `crowdsec_database_url`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use super::common::*;

/// A PostgreSQL server of its own for one test; stopped when dropped.
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

fn pg_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path().join("bin")).filter(|b| b.join("initdb").exists()).collect();
    found.sort();
    found.pop()
}

fn as_postgres(bin: &Path, tool: &str, args: &[&str]) {
    let out = Command::new("runuser").args(["-u", "postgres", "--"]).arg(bin.join(tool)).args(args).output().expect("runuser");
    assert!(out.status.success(), "{tool} {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

impl Postgres {
    /// `None` when Debian's `postgresql` is not installed (`scripts/setup.sh --test` installs it).
    pub fn start() -> Option<Postgres> {
        let bin = pg_bin()?;
        let dir = tempfile::Builder::new().prefix("charon-pg-").tempdir().unwrap();
        let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
        assert!(status.success());
        let data = dir.path().join("data");
        // Local socket connections are trusted (the socket lives in this private temp dir); TCP
        // needs a password.
        as_postgres(&bin, "initdb", &["-D", data.to_str().unwrap(), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"]);
        let port = free_port();
        let opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", dir.path().display());
        let log = dir.path().join("postgres.log");
        as_postgres(&bin, "pg_ctl", &["-D", data.to_str().unwrap(), "-o", &opts, "-l", log.to_str().unwrap(), "-w", "-t", "60", "start"]);
        Some(Postgres { bin, dir, port })
    }

    /// Runs SQL as the superuser over the socket; the rows, `|`-separated.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", self.dir.path().to_str().unwrap(), "-p", &self.port.to_string(), "-U", "postgres", "-d", db, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// A login role owning a new database of the same name.
    pub fn create_database(&self, name: &str, password: &str) {
        self.psql("postgres", &format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'"));
        self.psql("postgres", &format!("CREATE DATABASE {name} OWNER {name}"));
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = Command::new("runuser").args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl")).args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"]).output();
    }
}

#[tokio::test]
async fn with_a_database_url_the_engine_keeps_its_decisions_in_postgresql() {
    let Some(pg) = Postgres::start() else {
        println!("SKIPPED: PostgreSQL is not installed (scripts/setup.sh --test installs Debian's postgresql)");
        return;
    };
    // A password that needs percent-encoding in the URL.
    pg.create_database("crowdsec", "p@ss%w0rd:1");
    let url = format!("postgres://crowdsec:p%40ss%25w0rd%3A1@127.0.0.1:{}/crowdsec", pg.port);
    let app = spawn_app_with(|c| {
        c.crowdsec_database_url = Some(charon::config::Secret::new(url.clone()));
        c.decision_sync_interval_ms = 200;
    })
    .await;
    let admin = setup_admin(&app).await;
    let t0 = std::time::Instant::now();
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    println!("NUMBERS engine on PostgreSQL running after {:?}", t0.elapsed());

    // The engine made its tables in PostgreSQL and registered Charon's machine and bouncer there.
    let tables = pg.psql("crowdsec", "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    for t in ["alerts", "bouncers", "decisions", "machines"] {
        assert!(tables.lines().any(|l| l == t), "{t} missing: {tables}");
    }
    assert!(pg.psql("crowdsec", "SELECT machine_id FROM machines").lines().any(|m| m == "charon"));
    let data = app.state.config.data_dir.clone();
    assert!(!data.join("crowdsec/data/crowdsec.db").exists(), "no SQLite file of the engine's");
    // The console indexes the engine's decisions for the streams' polls, and the engine's schema
    // migration at its next start keeps them.
    let indexes = || pg.psql("crowdsec", "SELECT indexname FROM pg_indexes WHERE tablename = 'decisions' AND indexname LIKE 'charon_%' ORDER BY 1");
    let t = std::time::Instant::now();
    while indexes().lines().count() < 2 {
        assert!(t.elapsed() < Duration::from_secs(10), "{}", indexes());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(indexes(), "charon_decisions_alert\ncharon_decisions_created_at\n");
    for action in ["stop", "start"] {
        let res = admin.post(app.url(&format!("/api/v1/cerberus/crowdsec/{action}"))).send().await.unwrap();
        assert_eq!(res.status(), 200, "{action}");
    }
    assert_eq!(indexes(), "charon_decisions_alert\ncharon_decisions_created_at\n");

    // A ban made in Charon is a row in PostgreSQL, and comes back through the stream.
    let (status, body) = app
        .send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions", &json!({"value": "192.0.2.44", "duration": "1h", "reason": "postgres test"}))
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    assert!(pg.psql("crowdsec", "SELECT value FROM decisions WHERE until > now()").lines().any(|v| v == "192.0.2.44"));
    wait_for_decisions(&app, &admin, "?q=192.0.2.44", Duration::from_secs(10), |v| v["total"] == 1).await;
    // Unbanned: gone from PostgreSQL too.
    let res = admin.delete(app.url("/api/v1/cerberus/crowdsec/decisions?value=192.0.2.44")).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert!(!pg.psql("crowdsec", "SELECT value FROM decisions WHERE until > now()").lines().any(|v| v == "192.0.2.44"));

    // The password is in the generated configuration (private) and nowhere else Charon writes.
    let config = std::fs::read_to_string(app.state.crowdsec.layout().config_file()).unwrap();
    assert!(config.contains("p@ss%w0rd:1"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(app.state.crowdsec.layout().config_file()).unwrap().permissions().mode() & 0o077, 0);
    let (_, diag) = app.get_json(&admin, "/api/v1/cerberus/crowdsec/status").await;
    assert!(!diag.to_string().contains("p@ss"), "{diag}");
    for log in [app.state.crowdsec.layout().engine_log()] {
        assert!(!std::fs::read_to_string(&log).unwrap_or_default().contains("p@ss"), "{}", log.display());
    }
    let pid = std::fs::read_to_string(app.state.crowdsec.layout().pid_file()).unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("p@ss"), "not in the engine's argv");
    admin.post(app.url("/api/v1/cerberus/crowdsec/stop")).send().await.unwrap();
}

/// Charon's own database on PostgreSQL (`database_url`): its schema is made there, accounts and
/// tokens live there (no `charon.db` in the data dir), a restarted console and the `charon` CLI
/// find them, and a wrong password or a malformed URL is refused without repeating the password.
#[tokio::test]
async fn with_a_database_url_charons_own_data_lives_in_postgresql() {
    let Some(pg) = Postgres::start() else {
        println!("SKIPPED: PostgreSQL is not installed (scripts/setup.sh --test installs Debian's postgresql)");
        return;
    };
    pg.create_database("console", "c0nsole-pw");
    let url = format!("postgres://console:c0nsole-pw@127.0.0.1:{}/console", pg.port);
    let app = spawn_app_with(|c| c.database_url = Some(charon::config::Secret::new(url.clone()))).await;
    assert!(app.state.db.is_postgres());
    let admin = setup_admin(&app).await;
    let (status, token) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/tokens", &json!({"name": "pg-check", "role": "viewer"})).await;
    assert_eq!(status, 201, "{token}");
    let data = app.state.config.data_dir.clone();
    assert!(!data.join("charon.db").exists(), "no SQLite file of Charon's");
    assert_eq!(pg.psql("console", "SELECT username, role FROM users"), "admin|admin\n");
    assert_eq!(pg.psql("console", "SELECT name FROM api_tokens"), "pg-check\n");
    let migrations: usize = pg.psql("console", "SELECT COUNT(*) FROM _sqlx_migrations WHERE success").trim().parse().unwrap();
    assert_eq!(migrations, charon::db::POSTGRES_MIGRATIONS.iter().count());

    // A restarted console on the same database: the administrator signs in, the token works.
    let again = spawn_app_with(|c| {
        c.data_dir = data.clone();
        c.database_url = Some(charon::config::Secret::new(url.clone()));
    })
    .await;
    let (_, res) = login(&again, "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303, "the administrator signs in after the restart");
    let res = again.client().get(again.url("/api/v1/proxy-hosts")).bearer_auth(token["token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(res.status(), 200, "the viewer token works after the restart");

    // The CLI on the same database.
    let cli = |database_url: &str| {
        Command::new(env!("CARGO_BIN_EXE_charon"))
            .args(["admin", "token", "list"])
            .env("CHARON_DATA_DIR", &data)
            .env("CHARON_DATABASE_URL", database_url)
            .env("CHARON_LOG_LEVEL", "warn")
            .output()
            .unwrap()
    };
    let out = cli(&url);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("pg-check"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&url.replace("c0nsole-pw", "wr0ng-pw"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("cannot open the database 127.0.0.1"), "{stderr}");
    assert!(!stderr.contains("wr0ng-pw") && !stderr.contains("c0nsole-pw"), "{stderr}");
    let out = cli("mysql://console:hunter2@127.0.0.1/console");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("database_url must look like postgres://") && !stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_malformed_database_url_is_refused_without_repeating_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("charon.toml");
    std::fs::write(&path, "crowdsec_database_url = \"mysql://root:hunter2@db/crowdsec\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_charon")).args(["--config", path.to_str().unwrap(), "diagnose"]).env("CHARON_DATA_DIR", dir.path().join("data")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("crowdsec_database_url must look like postgres://"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Edge nodes: `charon node` processes joined to a central node's fleet listener.

const SITE: &str = "app.localhost";

/// An edge node: the real `charon node` process with its own data dir, proxy and bouncer ports.
/// Dropping it kills the process and its detached Caddy and bouncer.
pub(super) struct Edge {
    child: Option<std::process::Child>,
    dir: tempfile::TempDir,
    proxy: std::net::SocketAddr,
    pub(super) bouncer: std::net::SocketAddr,
}

impl Edge {
    pub(super) fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }
    fn membership(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.data().join("node/membership.json")).unwrap()).unwrap()
    }
    /// The live `crowdsec` processes started on this node's configuration.
    fn log_processors(&self) -> Vec<i32> {
        let config = self.data().join("crowdsec/config/config.yaml");
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| charon::support::process::is_live_process(*pid, "crowdsec", &config))
            .collect()
    }
    /// Waits (10 s at most) until the node has replaced its key `old`; returns the new one.
    async fn replaced_key(&self, old: &str) -> String {
        let t0 = std::time::Instant::now();
        loop {
            let k = self.membership()["bouncer_key"].as_str().unwrap().to_owned();
            if k != old {
                return k;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "the key was not replaced; node log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    /// SIGKILL: the node gets no chance to stop anything it started.
    fn kill_node(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    /// `charon node` again on the same data dir (joined already: no token).
    fn restart(&mut self) {
        self.kill_node();
        self.child = Some(node_command(self.dir.path(), self.proxy, self.bouncer, &[], None));
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.kill_node();
        for pid in self.log_processors() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        for pid_file in ["caddy/caddy.pid", "bouncer/bouncer.pid"] {
            if let Some(pid) = std::fs::read_to_string(self.data().join(pid_file)).ok().and_then(|s| s.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// Runs `charon node` with `args`; the token goes through stdin when `stdin` is given.
fn node_command(dir: &Path, proxy: std::net::SocketAddr, bouncer: std::net::SocketAddr, args: &[&str], stdin: Option<&str>) -> std::process::Child {
    use std::io::Write;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("node.log")).unwrap();
    // A benchmark may run the node from a release build (`BENCH_EDGE_BIN=target/release/charon`).
    let bin = std::env::var_os("BENCH_EDGE_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_charon").into());
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("node")
        .args(args)
        .env_remove("CHARON_CONFIG")
        .env("CHARON_PROXY_LISTEN", proxy.to_string())
        .env("CHARON_BOUNCER_LISTEN", bouncer.to_string())
        .env("CHARON_DECISION_SYNC_INTERVAL_MS", "200")
        .env("CHARON_CROWDSEC_PROMETHEUS", "off")
        .stdin(std::process::Stdio::piped())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        writeln!(input, "{s}").unwrap();
    }
    drop(input);
    child
}

pub(super) fn edge(args: &[&str], stdin: Option<&str>) -> Edge {
    let dir = tempfile::Builder::new().prefix("charon-edge-").tempdir().unwrap();
    let proxy: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let bouncer: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = node_command(dir.path(), proxy, bouncer, args, stdin);
    Edge { child: Some(child), dir, proxy, bouncer }
}

/// The status of `GET path` on `SITE` through the edge's Caddy, from a loopback address of ours.
async fn through(edge: &Edge, from: &str, path: &str) -> u16 {
    through_to(edge, SITE, from, path).await
}

async fn through_to(edge: &Edge, site: &str, from: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let Ok(Ok(mut stream)) = tokio::time::timeout(Duration::from_secs(2), sock.connect(edge.proxy)).await else { return 0 };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {site}\r\nUser-Agent: probe\r\nConnection: close\r\n\r\n");
    if stream.write_all(req.as_bytes()).await.is_err() {
        return 0;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

async fn until_through(edge: &Edge, from: &str, status: u16, timeout: Duration) -> Duration {
    until_through_to(edge, SITE, from, status, timeout).await
}

async fn until_through_to(edge: &Edge, site: &str, from: &str, status: u16, timeout: Duration) -> Duration {
    let t0 = std::time::Instant::now();
    loop {
        let s = through_to(edge, site, from, "/").await;
        if s == status {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < timeout, "{from} still gets {s} from {site} (want {status}) after {timeout:?}; node log:\n{}", edge.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn hello_upstream() -> std::net::SocketAddr {
    let app = axum::Router::new().fallback(|| async { "hello from upstream" });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

/// Waits for the process without blocking the test's runtime (it serves the central node).
async fn exited(child: &mut std::process::Child) -> std::process::ExitStatus {
    let t0 = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the node did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pinned(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn new_token(app: &TestApp, admin: &reqwest::Client) -> (String, String) {
    let (status, t) = app.send_json(admin, reqwest::Method::POST, "/api/v1/nodes/join-tokens", &json!({})).await;
    assert_eq!(status, 201, "{t}");
    (t["token"].as_str().unwrap().to_owned(), t["command"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn edge_nodes_join_with_a_token_share_detection_and_bans_keep_enforcing_without_the_central_node_and_removal_revokes_them() {
    let fleet_port = free_port();
    let fleet_url = format!("https://127.0.0.1:{fleet_port}");
    let app = spawn_app_with(|c| {
        c.fleet_listen = Some(format!("127.0.0.1:{fleet_port}").parse().unwrap());
        c.fleet_url = Some(fleet_url.clone());
        c.decision_sync_interval_ms = 200;
    })
    .await;
    let (stop_front, front_stopped) = tokio::sync::oneshot::channel::<()>();
    let front = tokio::spawn(charon::fleet::front::serve(app.state.fleet.clone(), async move {
        let _ = front_stopped.await;
    }));
    let admin = setup_admin(&app).await;
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let up = hello_upstream().await;
    let (status, body) = app
        .send_json(&admin, reqwest::Method::POST, "/api/v1/proxy-hosts", &json!({"domain": SITE, "upstream": format!("http://{up}"), "protect": true}))
        .await;
    assert_eq!(status, 201, "{body}");

    // The join command names the listener; the token pins the CA the listener presents.
    let (token1, command) = new_token(&app, &admin).await;
    assert_eq!(command, format!("charon node --join {fleet_url} --token {token1}"));
    let ca_pem = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap()
        .get(format!("{fleet_url}/fleet/v1/ca")).send().await.unwrap().text().await.unwrap();
    let fingerprint = charon::fleet::pki::fingerprint(&ca_pem).unwrap();
    assert!(token1.ends_with(&fingerprint), "{token1}");
    let central = pinned(&ca_pem);

    // A token naming another CA is refused by the node before it sends anything.
    let forged = format!("{}.{}", token1.rsplit_once('.').unwrap().0, "0".repeat(64));
    let mut refused = edge(&["--join", &fleet_url, "--token", &forged, "--name", "forged"], None);
    let status = exited(refused.child.as_mut().unwrap()).await;
    assert!(!status.success());
    assert!(refused.log().contains("is not the one the join token names"), "{}", refused.log());

    // A ban made before any node joins: a node's bouncer starts from the console's decisions.
    let earlier = "127.0.0.8";
    let (status, body) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions", &json!({"value": earlier, "duration": "1h", "reason": "before the nodes"})).await;
    assert_eq!(status, 201, "{body}");

    let t_join = std::time::Instant::now();
    let mut edge1 = edge(&["--join", &fleet_url, "--token", &token1, "--name", "edge1"], None);
    let (token2, _) = new_token(&app, &admin).await;
    let edge2 = edge(&["--join", &fleet_url, "--token-stdin", "--name", "edge2"], Some(&token2));

    // Both serve the central node's proxy host, protected, within seconds.
    until_through(&edge1, "127.0.0.1", 200, Duration::from_secs(30)).await;
    until_through(&edge2, "127.0.0.1", 200, Duration::from_secs(30)).await;
    println!("NUMBERS two nodes joined and serving: {:?}", t_join.elapsed());
    for e in [&edge1, &edge2] {
        until_through(e, earlier, 403, Duration::from_secs(10)).await;
        let bouncer_log = std::fs::read_to_string(e.data().join("logs/bouncer.log")).unwrap_or_default();
        assert!(bouncer_log.contains("starting from the central node's decisions"), "{bouncer_log}");
    }

    // A used token joins nobody.
    let mut again = edge(&["--join", &fleet_url, "--token", &token1, "--name", "edge3"], None);
    assert!(!exited(again.child.as_mut().unwrap()).await.success());
    assert!(again.log().contains("not valid"), "{}", again.log());

    // Credentials: kept 0600 on the node, never in its log.
    let m1 = edge1.membership();
    let key1 = m1["bouncer_key"].as_str().unwrap().to_owned();
    let key2 = edge2.membership()["bouncer_key"].as_str().unwrap().to_owned();
    let password2 = edge2.membership()["machine_password"].as_str().unwrap().to_owned();
    let password1 = m1["machine_password"].as_str().unwrap().to_owned();
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["node/membership.json", "bouncer/key", "crowdsec/config/local_api_credentials.yaml"] {
            let mode = std::fs::metadata(edge1.data().join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
    }

    // The Nodes list: both, healthy once their log processors run and report.
    let t0 = std::time::Instant::now();
    let nodes = loop {
        let (status, nodes) = app.get_json(&admin, "/api/v1/nodes").await;
        assert_eq!(status, 200, "{nodes}");
        let healthy = nodes.as_array().unwrap().iter().filter(|n| n["health"] == "ok" && n["hosts"] == 1 && n["decisions"].is_u64()).count();
        if healthy == 2 {
            break nodes;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "nodes not healthy: {nodes}\nedge1:\n{}", edge1.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let names: Vec<&str> = nodes.as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["edge1", "edge2"], "{nodes}");
    assert_eq!(nodes[0]["address"], "127.0.0.1");
    assert_eq!(nodes[0]["hosts"], 1, "{nodes}");
    assert!(nodes[0]["engine_version"].as_str().unwrap_or("").contains("1.4.6"), "{nodes}");

    // A host assigned to edge 2 only is served there within 2 s, and edge 1 does not know it;
    // moved to edge 1, it follows within 2 s as well.
    let only = "only.localhost";
    let (status, host) = app
        .send_json(&admin, reqwest::Method::POST, "/api/v1/proxy-hosts", &json!({"domain": only, "upstream": format!("http://{up}"), "nodes": ["edge2"]}))
        .await;
    assert_eq!(status, 201, "{host}");
    assert_eq!(host["nodes"], json!(["edge2"]));
    let t_assign = std::time::Instant::now();
    let until = |edge, status| until_through_to(edge, only, "127.0.0.1", status, Duration::from_secs(2));
    let on2 = until(&edge2, 200).await;
    assert_eq!(through_to(&edge1, only, "127.0.0.1", "/").await, 404, "edge 1 does not serve edge 2's host");
    println!("NUMBERS host assigned to edge 2 → served there: {on2:?} (asked {:?} ago)", t_assign.elapsed());
    let id = host["id"].as_i64().unwrap();
    let (status, moved) = app
        .send_json(&admin, reqwest::Method::PUT, &format!("/api/v1/proxy-hosts/{id}"), &json!({"domain": only, "upstream": format!("http://{up}"), "nodes": ["edge1"]}))
        .await;
    assert_eq!(status, 200, "{moved}");
    let on1 = until(&edge1, 200).await;
    let off2 = until(&edge2, 404).await;
    println!("NUMBERS host moved to edge 1 → served there {on1:?}, gone from edge 2 {off2:?}");
    let (status, body) = app
        .send_json(&admin, reqwest::Method::PUT, &format!("/api/v1/proxy-hosts/{id}"), &json!({"domain": only, "upstream": format!("http://{up}"), "nodes": ["Edge 1"]}))
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("nodes_invalid")), "{body}");
    assert_eq!(admin.delete(app.url(&format!("/api/v1/proxy-hosts/{id}"))).send().await.unwrap().status(), 204);
    // No edge node may take the central node's name.
    let (token3, _) = new_token(&app, &admin).await;
    let mut central_named = edge(&["--join", &fleet_url, "--token", &token3, "--name", "central"], None);
    assert!(!exited(central_named.child.as_mut().unwrap()).await.success());
    assert!(central_named.log().contains("not central"), "{}", central_named.log());

    // Detection on edge 1 → a ban at the central Local API → refused on both edges.
    let attacker = "127.0.0.3";
    let t_detect = std::time::Instant::now();
    // Probed again every 2 s until refused: the log processor reads new lines only, and may still
    // be loading its scenarios right after its node reported in.
    'probe: loop {
        through(&edge1, attacker, "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd").await;
        for _ in 0..20 {
            if through(&edge1, attacker, "/").await == 403 {
                break 'probe;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(t_detect.elapsed() < Duration::from_secs(60), "the probe was never refused; node log:\n{}", edge1.log());
    }
    until_through(&edge2, attacker, 403, Duration::from_secs(10)).await;
    println!("NUMBERS probe on edge 1 → refused on both edges: {:?}", t_detect.elapsed());
    let (_, alerts) = app.get_json(&admin, &format!("/api/v1/cerberus/crowdsec/alerts?q={attacker}")).await;
    assert!(alerts["rows"].as_array().unwrap().iter().any(|a| a["machine"] == "node-edge1" && a["scenario"] == "crowdsecurity/http-cve-2021-41773"),
        "the alert names edge 1's machine: {alerts}");
    let (_, by_machine) = app.get_json(&admin, "/api/v1/cerberus/crowdsec/alerts?machine=node-edge1").await;
    assert!(by_machine["rows"].as_array().unwrap().iter().all(|a| a["machine"] == "node-edge1") && !by_machine["rows"].as_array().unwrap().is_empty(), "{by_machine}");
    let (_, other) = app.get_json(&admin, "/api/v1/cerberus/crowdsec/alerts?machine=node-edge2").await;
    assert_eq!(other["rows"], json!([]), "edge 2 detected nothing");

    // A ban made in the console reaches both edges within 2 s.
    let banned = "127.0.0.4";
    assert_eq!(through(&edge1, banned, "/").await, 200);
    let t_ban = std::time::Instant::now();
    let (status, body) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions", &json!({"value": banned, "duration": "1h", "reason": "fleet test"})).await;
    assert_eq!(status, 201, "{body}");
    let d1 = until_through(&edge1, banned, 403, Duration::from_secs(2)).await;
    let d2 = until_through(&edge2, banned, 403, Duration::from_secs(2)).await;
    println!("NUMBERS console ban → 403 on edge 1 {d1:?}, edge 2 {d2:?} (both within {:?})", t_ban.elapsed());

    // Edge nodes reach only what they need of the engine: deleting decisions is refused.
    let res = central.delete(format!("{fleet_url}/v1/decisions")).header("X-Api-Key", &key1).send().await.unwrap();
    assert_eq!(res.status(), 403);

    // The central node goes away (its listener and its engine): both edges keep refusing the
    // banned addresses from their caches and keep serving everyone else.
    let _ = stop_front.send(());
    front.await.unwrap().unwrap();
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/stop")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    for e in [&edge1, &edge2] {
        assert_eq!(through(e, banned, "/").await, 403);
        assert_eq!(through(e, attacker, "/").await, 403);
        assert_eq!(through(e, "127.0.0.1", "/").await, 200);
    }
    // Its log processor is restarted with backoff meanwhile (1.4.6 exits without its API).
    assert!(edge1.child.is_some());

    // Back: the engine and the listener return, and the nodes catch up on their own.
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (stop_front, front_stopped) = tokio::sync::oneshot::channel::<()>();
    let _front = tokio::spawn(charon::fleet::front::serve(app.state.fleet.clone(), async move {
        let _ = front_stopped.await;
    }));
    let late = "127.0.0.5";
    let (status, body) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions", &json!({"value": late, "duration": "1h", "reason": "after the outage"})).await;
    assert_eq!(status, 201, "{body}");
    until_through(&edge1, late, 403, Duration::from_secs(20)).await;
    until_through(&edge2, late, 403, Duration::from_secs(20)).await;

    // Rotating edge 1's key: the node replaces it within seconds, the old key stops working at the
    // engine, and the node keeps enforcing with the new one.
    assert_eq!(admin.post(app.url("/api/v1/nodes/nosuch/rotate-key")).send().await.unwrap().status(), 404);
    assert_eq!(admin.post(app.url("/api/v1/nodes/edge1/rotate-key")).send().await.unwrap().status(), 202);
    let t_rotate = std::time::Instant::now();
    let new_key1 = edge1.replaced_key(&key1).await;
    println!("NUMBERS key rotation asked → done by the node: {:?}", t_rotate.elapsed());
    // The bouncer's key file is written right after the membership file.
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(edge1.data().join("bouncer/key")).unwrap().trim() != new_key1 {
        assert!(t0.elapsed() < Duration::from_secs(2), "the bouncer's key file was not replaced");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stream_with = |key: String| {
        let central = central.clone();
        let url = format!("{fleet_url}/v1/decisions/stream?startup=true");
        async move { central.get(url).header("X-Api-Key", key).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(stream_with(key1.clone()).await, 403, "the old key no longer works");
    assert_eq!(stream_with(new_key1.clone()).await, 200);
    let another = "127.0.0.6";
    let (status, body) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions", &json!({"value": another, "duration": "1h", "reason": "after the rotation"})).await;
    assert_eq!(status, 201, "{body}");
    until_through(&edge1, another, 403, Duration::from_secs(10)).await;
    // The Nodes page's "Rotate key" (its server function) takes the same road.
    let res = admin.post(app.url("/rpc/nodes/rotate-key")).form(&[("name", "edge1")]).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = admin.post(app.url("/rpc/nodes/rotate-key")).form(&[("name", "nosuch")]).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let previous = new_key1;
    let key1 = edge1.replaced_key(&previous).await;
    assert_eq!(stream_with(previous).await, 403, "the previous key no longer works");
    assert_eq!(stream_with(key1.clone()).await, 200);

    // Edge 1 killed outright (SIGKILL: no chance to stop its log processor, which keeps running)
    // and started again: the processor it left behind is stopped, exactly one runs, and the node
    // serves and refuses as before.
    let t0 = std::time::Instant::now();
    let left = loop {
        if let [pid] = edge1.log_processors()[..] {
            break pid;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "edge 1's log processor is not running: {:?}; node log:\n{}", edge1.log_processors(), edge1.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    edge1.kill_node();
    assert_eq!(edge1.log_processors(), [left], "the case under test: a processor left behind by its node");
    let t_restart = std::time::Instant::now();
    edge1.restart();
    loop {
        let now = edge1.log_processors();
        if now.len() == 1 && now[0] != left {
            break;
        }
        assert!(now.len() <= 1, "two log processors on one node: {now:?}");
        assert!(t_restart.elapsed() < Duration::from_secs(30), "log processors after the restart: {now:?}; node log:\n{}", edge1.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(edge1.log().contains("found an engine left by a previous run"), "{}", edge1.log());
    assert_eq!(through(&edge1, another, "/").await, 403);
    assert_eq!(through(&edge1, "127.0.0.1", "/").await, 200);
    println!("NUMBERS node killed and restarted → its leftover log processor replaced: {:?}", t_restart.elapsed());

    // Removing edge 2 revokes its bouncer key and machine at the engine at once; edge 1 is untouched.
    let viewer = viewer(&app, &admin).await;
    assert_eq!(viewer.post(app.url("/api/v1/nodes/edge1/rotate-key")).send().await.unwrap().status(), 403);
    assert_eq!(viewer.delete(app.url("/api/v1/nodes/edge2")).send().await.unwrap().status(), 403);
    assert_eq!(admin.delete(app.url("/api/v1/nodes/Edge%202")).send().await.unwrap().status(), 400);
    assert_eq!(admin.delete(app.url("/api/v1/nodes/nosuch")).send().await.unwrap().status(), 404);
    assert_eq!(admin.delete(app.url("/api/v1/nodes/edge2")).send().await.unwrap().status(), 204);
    let stream = |key: String| {
        let central = central.clone();
        let url = format!("{fleet_url}/v1/decisions/stream?startup=true");
        async move { central.get(url).header("X-Api-Key", key).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(stream(key2.clone()).await, 403, "a removed node's key is refused by the engine");
    assert_eq!(stream(key1.clone()).await, 200, "the other node's key still works");
    let res = central.get(format!("{fleet_url}/fleet/v1/config")).header("X-Api-Key", &key2).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // The decisions a node's bouncer starts from: a member's key only, shaped as the engine's
    // complete answer.
    let res = central.get(format!("{fleet_url}/fleet/v1/decisions")).header("X-Api-Key", &key2).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = central.get(format!("{fleet_url}/fleet/v1/decisions")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = central.get(format!("{fleet_url}/fleet/v1/decisions")).header("X-Api-Key", &key1).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let held: serde_json::Value = res.json().await.unwrap();
    let values: Vec<&str> = held["new"].as_array().unwrap().iter().filter_map(|d| d["value"].as_str()).collect();
    for v in [earlier, banned, attacker, late, another] {
        assert!(values.contains(&v), "{v} missing from {held}");
    }
    assert_eq!(held["deleted"], json!([]));
    let res = central.post(format!("{fleet_url}/v1/watchers/login")).json(&json!({"machine_id": "node-edge2", "password": password2})).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("machine not found"), "the removed node's machine is gone");
    let (_, nodes) = app.get_json(&admin, "/api/v1/nodes").await;
    assert_eq!(nodes.as_array().unwrap().len(), 1, "{nodes}");
    assert_eq!(through(&edge1, "127.0.0.1", "/").await, 200);

    // Secrets stayed out of the nodes' logs and argv-free paths.
    for e in [&edge1, &edge2] {
        let log = e.log();
        assert!(!log.contains(&key1) && !log.contains(&key2) && !log.contains(&password1) && !log.contains(&password2), "a secret in the node's log");
    }
    let _ = stop_front.send(());
    drop((edge1, edge2, refused, again, central_named));
}
