#![allow(dead_code)]
//! The test harness: `spawn_app()` serves the real router on 127.0.0.1:0 with a temporary data dir,
//! like production; `setup_admin` / `viewer` give signed-in clients; `get_json` / `send_json` are
//! the typed request methods; `admin` is the capability for calling services directly.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app::accounts::model::{Admin, AuthMethod, Principal, Role};
use charon::config::Config;
use serde_json::{json, Value};
use charon::AppState;

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `GET path` as `client`: the status and the JSON body (`Null` when there is none).
    pub async fn get_json(&self, client: &reqwest::Client, path: &str) -> (u16, Value) {
        let res = client.get(self.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `method path` with a JSON body as `client`: the status and the JSON answer.
    pub async fn send_json(&self, client: &reqwest::Client, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let res = client.request(method, self.url(path)).json(body).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A client that keeps cookies and never follows redirects, so tests see each response. Like a
    /// browser on one of the console's pages it sends `Origin` (a request may set another).
    pub fn client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", format!("http://{}", self.addr).parse().unwrap());
        reqwest::Client::builder()
            .default_headers(headers)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            // A request that never ends fails its test (naming it) instead of stalling the suite.
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A loopback port nobody listens on right now.
/// A port nobody listens on, for an engine, Caddy or the bouncer to bind a moment later. Taken
/// below the kernel's ephemeral range (32768–60999 here): a port from `bind(:0)` comes from that
/// range, and an outgoing connection of another test could take it before the engine binds it
/// ("address already in use", seen once in the full suite). Each call in this process gets a new
/// port, so tests never hand out the same one twice.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const BASE: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let start = (std::process::id() % 120) * 100;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < SPAN, "no free test port left");
        let port = (BASE + (start + n) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Charon's own database for a data dir. By default none: the SQLite file in the data dir. With
/// `TEST_POSTGRES_URL` (a superuser URL such as `postgres://postgres:pw@127.0.0.1:5432`, set by
/// `scripts/test-postgres.sh`) the suite runs on PostgreSQL: each data dir gets a database of its
/// own, the same one every time it is asked for (a restarted app, or `charon` run on that dir).
pub fn database_url_for(data_dir: &std::path::Path) -> Option<String> {
    let base = std::env::var("TEST_POSTGRES_URL").ok().filter(|b| !b.is_empty())?;
    let mut known = databases().lock().unwrap();
    if let Some(url) = known.get(data_dir) {
        return Some(url.clone());
    }
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!("charon_t{}_{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let admin = base.trim_end_matches('/').to_owned();
    // Off the caller's runtime (tests run on a current-thread one, and this is called from sync code).
    let create = format!("CREATE DATABASE {name}");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use sqlx::{Connection, Executor};
            let mut conn = sqlx::PgConnection::connect(&format!("{admin}/postgres")).await.expect("TEST_POSTGRES_URL answers");
            conn.execute(create.as_str()).await.unwrap();
            conn.close().await.unwrap();
        })
    })
    .join()
    .unwrap();
    let url = format!("{}/{name}", base.trim_end_matches('/'));
    known.insert(data_dir.to_path_buf(), url.clone());
    Some(url)
}

fn databases() -> &'static std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, String>> {
    static DATABASES: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, String>>> = std::sync::OnceLock::new();
    DATABASES.get_or_init(Default::default)
}

/// The environment a `charon` command run on `data_dir` needs to find the database an app of
/// this test made for that dir (none for a dir no app used: the command makes its SQLite file).
pub fn database_env(data_dir: &std::path::Path) -> Vec<(&'static str, String)> {
    databases().lock().unwrap().get(data_dir).map(|u| ("CHARON_DATABASE_URL", u.clone())).into_iter().collect()
}

pub fn test_config(data_dir: std::path::PathBuf) -> Config {
    Config {
        database_url: database_url_for(&data_dir).map(charon::config::Secret::new),
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        // Each test gets its own engine ports; metrics are not needed.
        crowdsec_lapi_listen: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
        crowdsec_prometheus: "off".into(),
        // The data plane binds fixed ports; only the proxy tests turn it on, on free ports.
        proxy_enabled: false,
        geoip_db: Some(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb").into(),
        ),
        ..Config::default()
    }
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().join("data"));
    let (first_dir, first_url) = (config.data_dir.clone(), config.database_url.clone());
    tweak(&mut config);
    // A test that points the app at another data dir (a restart) gets that dir's database; one
    // that sets or clears `database_url` itself keeps its choice.
    if config.data_dir != first_dir && first_url.is_some() && config.database_url == first_url {
        config.database_url = database_url_for(&config.data_dir).map(charon::config::Secret::new);
    }
    let state = AppState::new(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    state.listening_at(addr);
    // The production listener (timeouts, connection cap), never stopped: the test ends first.
    let app = charon::router(state.clone());
    let limits = charon::startup::limits(&state.config);
    tokio::spawn(charon::listener::serve(listener, app, limits, std::future::pending()));
    TestApp { addr, state, dir }
}

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// The one-time code `/setup` asks for, as Charon wrote it into the data dir.
pub fn setup_code(app: &TestApp) -> String {
    std::fs::read_to_string(app.state.config.data_dir.join("setup-code")).expect("a setup code while no admin exists").trim().to_owned()
}

/// Completes first-run setup as `admin`; the returned client holds the admin's session.
pub async fn setup_admin(app: &TestApp) -> reqwest::Client {
    let client = app.client();
    let code = setup_code(app);
    let res = client
        .post(app.url("/setup"))
        .form(&[
            ("setup_code", code.as_str()),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("password_confirm", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "setup should redirect");
    assert_eq!(res.headers()["location"], "/overview", "setup lands on the Overview");
    client
}

pub async fn login(app: &TestApp, username: &str, password: &str) -> (reqwest::Client, reqwest::Response) {
    let client = app.client();
    let res = client
        .post(app.url("/login"))
        .form(&[("username", username), ("password", password), ("next", "/security")])
        .send()
        .await
        .unwrap();
    (client, res)
}

/// `GET /api/v1/cerberus/crowdsec/decisions{query}` as JSON.
pub async fn list_decisions(app: &TestApp, c: &reqwest::Client, query: &str) -> Value {
    c.get(app.url(&format!("/api/v1/cerberus/crowdsec/decisions{query}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls the list until `pred` holds; returns how long it took.
pub async fn wait_for_decisions(app: &TestApp, c: &reqwest::Client, query: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Duration {
    let t0 = Instant::now();
    loop {
        let v = list_decisions(app, c, query).await;
        if pred(&v) {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < timeout, "timed out; last answer {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}


/// The capability a service's mutating methods take, for tests that call services directly.
pub fn admin(name: &str) -> Admin {
    Admin::check(Principal { user_id: 0, username: name.into(), role: Role::Admin, method: AuthMethod::Cli, token_name: None, address: None, session: None }).unwrap()
}

pub const VIEWER_PASSWORD: &str = "viewer password 123";

/// Creates the viewer `vera` (as the admin behind `admin_client`) and returns her signed-in client.
/// A signed-in operator ("otto"), created by the administrator.
pub async fn operator(app: &TestApp, admin_client: &reqwest::Client) -> reqwest::Client {
    let body = serde_json::json!({"username": "otto", "password": VIEWER_PASSWORD, "role": "operator"});
    let (status, _) = app.send_json(admin_client, reqwest::Method::POST, "/api/v1/users", &body).await;
    assert_eq!(status, 201, "creating the operator");
    let (client, res) = login(app, "otto", VIEWER_PASSWORD).await;
    assert_eq!(res.status(), 303, "the operator signs in");
    client
}

pub async fn viewer(app: &TestApp, admin_client: &reqwest::Client) -> reqwest::Client {
    let body = serde_json::json!({"username": "vera", "password": VIEWER_PASSWORD, "role": "viewer"});
    let (status, _) = app.send_json(admin_client, reqwest::Method::POST, "/api/v1/users", &body).await;
    assert_eq!(status, 201, "creating the viewer");
    let (client, res) = login(app, "vera", VIEWER_PASSWORD).await;
    assert_eq!(res.status(), 303, "the viewer signs in");
    client
}

/// Every `.rs` file below `dir`.
pub fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out
}

/// A line of Caddy's JSON access log, as the engine's acquisition reads it.
pub fn access_line(ip: &str, uri: &str, status: u16) -> String {
    let date = httpdate_now();
    json!({
        "level": "error", "ts": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64(), "logger": "http.log.access.log0", "msg": "handled request",
        "request": {"remote_ip": ip, "remote_port": "40000", "proto": "HTTP/1.1", "method": "GET",
                    "host": "site.test", "uri": uri, "headers": {"User-Agent": ["Mozilla/5.0"]}},
        "user_id": "", "duration": 0.001, "size": 0, "status": status,
        "resp_headers": {"Date": [date]}
    })
    .to_string()
}

pub fn httpdate_now() -> String {
    let out = std::process::Command::new("date").args(["-u", "+%a, %d %b %Y %H:%M:%S GMT"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn append(path: &std::path::Path, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(f, "{line}").unwrap();
}
