//! The Charon server: configuration, persistence, authentication, the REST API and the Leptos
//! pages, wired into one axum router by [`router`]. `main.rs` only parses the command line.

pub mod accounts;
pub mod allowlist;
pub mod api;
pub mod auth;
pub mod bouncer;
pub mod capi_sim;
pub mod cli;
pub mod config;
pub mod console;
pub mod crowdsec;
pub mod db;
pub mod geo;
pub mod hub_items;
pub mod decisions;
mod decisions_service;
pub mod locale;
pub mod proxy;
pub mod shutdown;
pub mod telemetry;
pub mod web;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use leptos::config::LeptosOptions;
use serde_json::json;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::accounts::Accounts;
use crate::auth::rate_limit::LoginLimiter;
use crate::config::Config;
use crate::db::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
    pub limiter: Arc<LoginLimiter>,
    pub accounts: Arc<Accounts>,
    pub crowdsec: crowdsec::CrowdSec,
    pub decisions: decisions::Decisions,
    pub allowlist: allowlist::Allowlist,
    pub hub: hub_items::HubItems,
    pub proxy: proxy::Proxy,
    pub console: console::Console,
    /// Cached "an administrator exists"; see `auth::middleware::setup_done`.
    pub setup_done: Arc<AtomicBool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    /// Opens the data dir and database and builds the shared state. Does not bind any socket.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        ensure_private_dir(&config.data_dir)?;
        let db = db::connect(&config.database_path()).await?;
        let leptos = LeptosOptions::builder()
            .output_name("charon")
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(config.listen)
            .build();
        let crowdsec = crowdsec::CrowdSec::new(db.clone(), &config);
        let cache = Arc::new(bouncer::cache::DecisionCache::new());
        let health = bouncer::sync::Health::default();
        tokio::spawn(bouncer::sync::run(
            crowdsec.clone(),
            cache.clone(),
            health.clone(),
            Duration::from_millis(config.decision_sync_interval_ms),
            Duration::from_secs(config.decision_full_resync_secs),
            Arc::new(tokio::sync::Notify::new()),
        ));
        let proxy = proxy::Proxy::new(db.clone(), crowdsec.clone(), &config);
        let allowlist = allowlist::Allowlist::new(db.clone(), cache.clone(), crowdsec.clone(), proxy.clone());
        // The stored allowlist is in force before anything is enforced or the engine starts.
        allowlist.sync().await.map_err(|e| anyhow::anyhow!("cannot load the allowlist: {e}"))?;
        Ok(AppState {
            console: console::Console::new(db.clone(), crowdsec.clone(), &config),
            proxy,
            hub: hub_items::HubItems::new(db.clone(), crowdsec.clone()),
            allowlist,
            decisions: decisions::Decisions::new(
                crowdsec.clone(),
                cache,
                health,
                db.clone(),
                Arc::new(geo::Geo::open(config.geoip_db.as_deref())),
            ),
            crowdsec,
            limiter: Arc::new(LoginLimiter::new(
                config.login_max_failures,
                Duration::from_secs(config.login_window_secs),
            )),
            accounts: Arc::new(Accounts::new(db.clone())),
            setup_done: Arc::new(AtomicBool::new(false)),
            config: Arc::new(config),
            leptos,
            db,
        })
    }
}

/// The data dir holds the database and, later, keys: readable by this user only.
fn ensure_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| anyhow::anyhow!("cannot restrict data dir {}: {e}", dir.display()))?;
    }
    Ok(())
}

async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if db::ping(&state.db).await {
        (StatusCode::OK, Json(json!({"status": "ready", "database": "ok"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "database": "unreachable"})),
        )
    }
}

/// The whole application. Tests build exactly this and drive it with `oneshot` or on port 0.
pub fn router(state: AppState) -> Router {
    let gate = axum::middleware::from_fn_with_state(state.clone(), auth::middleware::gate);
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/login", post(auth::handlers::login))
        .route("/setup", post(auth::handlers::setup))
        .route("/logout", post(auth::handlers::logout))
        .route("/locale", post(auth::handlers::set_locale))
        .merge(api::router())
        .merge(web::router(&state))
        .layer(gate)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Starts or adopts Caddy and the bouncer process (in the background), and pokes the bouncer at
/// every change of the console's decision cache so a manual ban is enforced without waiting for
/// its next poll. The data plane is not stopped when the console stops.
pub async fn start_data_plane(state: &AppState) {
    let allow: Vec<String> = state.allowlist.list().await.unwrap_or_default().into_iter().map(|e| e.value).collect();
    let proxy = state.proxy.clone();
    tokio::spawn(async move { proxy.start(allow).await });
    let proxy = state.proxy.clone();
    let mut changes = state.decisions.cache().subscribe();
    tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => proxy.poke_bouncer().await,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// Binds, serves until SIGINT/SIGTERM, then finishes in-flight requests.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = AppState::new(config).await?;
    let shutdown = shutdown::install()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        data_dir = %state.config.data_dir.display(),
        "charon is listening"
    );
    // Reconcile in the background: the UI is usable while the engine starts.
    let engine = state.crowdsec.clone();
    tokio::spawn(async move { engine.reconcile().await });
    start_data_plane(&state).await;
    state.console.spawn_poller();
    let engine = state.crowdsec.clone();
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.wait())
    .await?;
    engine.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
