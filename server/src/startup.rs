//! Serving: the router every request goes through (`router`), the start of the data plane and the
//! listener with graceful shutdown (`serve`). Tests build exactly this router.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::state::AppState;
use crate::{api, auth, db, listener, security_headers, shutdown, web};

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
    let gate = axum::middleware::from_fn_with_state(state.auth.clone(), auth::middleware::gate);
    let (api, _) = api::routes::<AppState>();
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/login", post(auth::handlers::login))
        .route("/login/code", post(auth::handlers::login_code))
        .route("/login/oidc", get(auth::handlers::oidc_start))
        .route("/login/oidc/callback", get(auth::handlers::oidc_callback))
        .route("/setup", post(auth::handlers::setup))
        .route("/logout", post(auth::handlers::logout))
        .route("/locale", post(auth::handlers::set_locale))
        .route("/theme", post(auth::handlers::set_theme))
        .merge(api)
        .merge(web::router(&state))
        .layer(axum::middleware::from_fn_with_state(state.http_metrics.clone(), crate::metrics::record))
        .layer(gate)
        .layer(axum::middleware::from_fn_with_state(state.auth.clone(), security_headers::hsts))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(security_headers::DEFAULT_POLICY),
        ))
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
/// every change the console makes itself (a manual ban, an unban, an import) so it is enforced
/// without waiting for the next poll. Changes the console read from the bouncer's feed poke
/// nobody: that would make the engine's database busier with every change it reports. The data
/// plane is not stopped when the console stops on SIGINT/SIGTERM (only on SIGQUIT).
pub async fn start_data_plane(state: &AppState) {
    let allow: Vec<String> = state.decisions.allowlist_store().list().await.unwrap_or_default().into_iter().map(|e| e.value).collect();
    let proxy = state.proxy.clone();
    tokio::spawn(async move { proxy.start(allow).await });
    let proxy = state.proxy.clone();
    let cache = state.decisions.cache().clone();
    tokio::spawn(async move {
        loop {
            cache.local_change().await;
            proxy.poke_bouncer().await;
        }
    });
}

/// The listener limits the configuration asks for.
pub fn limits(config: &Config) -> listener::Limits {
    listener::Limits {
        header_read_timeout: Duration::from_secs(config.http_header_timeout_secs),
        max_connections: config.http_max_connections,
    }
}

/// Binds, serves until a signal (see `shutdown`), then finishes in-flight requests.
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
    state.listening_at(listener.local_addr()?);
    // Reconcile in the background: the UI is usable while the engine starts.
    let engine = state.crowdsec.clone();
    tokio::spawn(async move { engine.reconcile().await });
    start_data_plane(&state).await;
    state.console.spawn_poller();
    let engine = state.crowdsec.clone();
    let proxy = state.proxy.clone();
    let limits = limits(&state.config);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    let signalled = async move {
        let _ = stop_tx.send(shutdown.wait().await);
        let _ = stopping_tx.send(true);
    };
    // Edge nodes' listener, when `fleet_listen` is set; it stops with the console.
    let fleet = state.fleet.clone();
    let fleet_listener = tokio::spawn(async move {
        let stopped = async move {
            let _ = stopping_rx.wait_for(|s| *s).await;
        };
        if let Err(e) = crate::fleet::front::serve(fleet, stopped).await {
            tracing::error!("[FLEET] {e:#}");
        }
    });
    listener::serve(listener, router(state), limits, signalled).await;
    let _ = fleet_listener.await;
    if stop_rx.await == Ok(shutdown::Stop::Everything) {
        proxy.stop_data_plane().await;
    }
    engine.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
