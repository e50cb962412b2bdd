#![allow(dead_code)]
//! `spawn_app()`: the real router on 127.0.0.1:0 with a temporary data dir, like production.



use std::net::SocketAddr;
use std::time::{Duration, Instant};

use charon::config::Config;
use serde_json::Value;
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

    /// A client that keeps cookies and never follows redirects, so tests see each response.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn test_config(data_dir: std::path::PathBuf) -> Config {
    Config {
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
    tweak(&mut config);
    let state = AppState::new(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = charon::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestApp { addr, state, dir }
}

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Completes first-run setup as `admin`; the returned client holds the admin's session.
pub async fn setup_admin(app: &TestApp) -> reqwest::Client {
    let client = app.client();
    let res = client
        .post(app.url("/setup"))
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("password_confirm", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "setup should redirect");
    assert_eq!(res.headers()["location"], "/security");
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

