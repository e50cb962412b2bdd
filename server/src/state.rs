//! The composition root: `AppState::new` opens the data dir and the database and builds every
//! service once; `services` is what REST handlers and server functions call (one road per
//! operation), the concrete services are kept for start-up and background work.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use app::services::Services;

use crate::accounts::Accounts;
use crate::auth::rate_limit::LoginLimiter;
use crate::auth::AuthState;
use crate::config::Config;
use crate::crowdsec::hub::HubItems;
use crate::crowdsec::lapi::MachineSession;
use crate::db::{self, Db};
use crate::decisions::allowlist::Allowlist;
use crate::decisions::Decisions;
use crate::support::files::ensure_private_dir;
use crate::{bouncer, console, crowdsec, geo, proxy};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
    pub auth: AuthState,
    pub accounts: Accounts,
    pub crowdsec: crowdsec::CrowdSec,
    pub decisions: Decisions,
    pub hub: HubItems,
    pub proxy: proxy::Proxy,
    pub console: console::Console,
    pub evidence: crate::evidence::EvidenceIndex,
    /// The console's request durations (recorded by a layer, read by `/metrics`).
    pub http_metrics: crate::metrics::HttpMetrics,
    pub notifier: crate::notify::Notifier,
    /// Edge nodes and the fleet listener (off unless `fleet_listen` is set).
    pub fleet: crate::fleet::Fleet,
    pub services: Services,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl FromRef<AppState> for Services {
    fn from_ref(state: &AppState) -> Self {
        state.services.clone()
    }
}

impl FromRef<AppState> for AuthState {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl AppState {
    /// The console listens at `addr`: the engine's alerts are posted there from its next start.
    pub fn listening_at(&self, addr: std::net::SocketAddr) {
        self.crowdsec.set_alert_hook(self.notifier.listen_at(addr));
    }

    /// Opens the data dir and database and builds the shared state. Does not bind any socket.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        ensure_private_dir(&config.data_dir)?;
        let db = db::connect(&config).await?;
        let leptos = LeptosOptions::builder()
            .output_name("charon")
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(config.listen)
            .build();
        let leptos = crate::static_files::with_hashes(leptos, &config.site_root);
        let crowdsec = crowdsec::CrowdSec::new(db.clone(), &config);
        let cache = Arc::new(bouncer::cache::DecisionCache::new());
        let health = bouncer::sync::Health::default();
        // With a data plane, the console follows the bouncer process's cache instead of polling the
        // engine as a second consumer.
        let relay = config
            .proxy_enabled
            .then(|| bouncer::feed_client::Relay::new(config.bouncer_listen, bouncer::daemon::BouncerFiles::new(&config.data_dir).sync_token()));
        let console_sync = bouncer::sync::Followed { cache: cache.clone(), health: health.clone(), poke: Arc::new(tokio::sync::Notify::new()) };
        tokio::spawn(bouncer::sync::run(
            bouncer::feed_client::ConsoleSource::new(crowdsec.clone(), relay),
            cache.clone(),
            health.clone(),
            Duration::from_millis(config.decision_sync_interval_ms),
            Duration::from_secs(config.decision_full_resync_secs),
            console_sync.poke.clone(),
            None,
        ));
        let evidence = crate::evidence::EvidenceIndex::open(
            &config.evidence_path(),
            crowdsec.layout().access_log.clone(),
            config.trusted_proxies().unwrap_or_default(),
            config.evidence_retention_days,
            config.evidence_max_requests,
        )
        .await?
        .with_decisions(cache.clone(), health.clone());
        let decision_cache = cache.clone();
        let http_metrics = crate::metrics::HttpMetrics::default();
        tokio::spawn(evidence.clone().run());
        // One key for every secret sealed at rest (channels' secrets, TOTP secrets, the SSO client secret).
        let sealer = crate::support::sealed::Sealer::open(&config.data_dir)?;
        let notifier = crate::notify::Notifier::new(db.clone(), sealer.clone(), config.notify_block_private, Arc::new(evidence.clone()))?;
        notifier.spawn(crowdsec.subscribe());
        let proxy = proxy::Proxy::new(db.clone(), crowdsec.clone(), &config).with_events(notifier.events());
        let allowlist = Allowlist::new(db.clone(), cache.clone(), crowdsec.clone(), proxy.clone());
        // The stored allowlist is in force before anything is enforced or the engine starts.
        allowlist.sync().await.map_err(|e| anyhow::anyhow!("cannot load the allowlist: {e}"))?;
        let scoped = crate::decisions::scoped::ScopedRules::new(db.clone(), cache.clone(), proxy.clone());
        // Scoped bans and exceptions are in force before anything is enforced.
        scoped.sync().await.map_err(|e| anyhow::anyhow!("cannot load the site-scoped rules: {e}"))?;
        let session = MachineSession::new(crowdsec.clone());
        let decisions = Decisions::new(
            session.clone(),
            cache,
            health,
            db.clone(),
            Arc::new(geo::Geo::open(config.geoip_db.as_deref())),
            allowlist,
            crate::decisions::lockout::Lockout::new(db.clone(), config.admin_address_list().unwrap_or_default()),
            scoped.clone(),
            notifier.events(),
        )
        .with_operator_limit(config.operator_ban_max_prefix_v4, config.operator_ban_max_prefix_v6);
        decisions.restore_authors().await.map_err(|e| anyhow::anyhow!("cannot load who made the decisions: {e}"))?;
        tokio::spawn(crate::housekeeping::run(db.clone(), decisions.clone(), config.audit_retention_days));
        let console = console::Console::new(db.clone(), crowdsec.clone(), &config).with_events(notifier.events());
        let hub = HubItems::new(db.clone(), crowdsec.clone());
        let accounts = Accounts::new(db.clone());
        let two_factor = crate::auth::two_factor::TwoFactor::new(db.clone(), sealer.clone()).await?;
        let sign_in = crate::auth::sign_in_settings::SignInConfig::load(db.clone(), sealer, &config).await?;
        // The bouncer's sync lag over time (the Overview), sampled while the engine runs.
        tokio::spawn(crate::evidence::sync_lag::sample_forever(evidence.store().pool().clone(), {
            let (engine, proxy) = (crowdsec.clone(), proxy.clone());
            move || {
                let (engine, proxy) = (engine.clone(), proxy.clone());
                async move {
                    if engine.status().state != app::security::model::EngineState::Running {
                        return None;
                    }
                    let last = app::services::ProxyService::status(&proxy).await.stats?.last_pull?;
                    Some(crate::support::time::now() - last)
                }
            }
        }));
        let fleet = crate::fleet::Fleet::new(db.clone(), crowdsec.clone(), console_sync, &config)?;
        let services = Services {
            accounts: Arc::new(accounts.clone()),
            security: Arc::new(crowdsec.clone()),
            decisions: Arc::new(decisions.clone()),
            alerts: Arc::new(crate::alerts::Alerts::new(session, evidence.clone())),
            audit: Arc::new(crate::audit::Audit::new(db.clone())),
            hub: Arc::new(hub.clone()),
            proxy: Arc::new(proxy.clone()),
            console: Arc::new(console.clone()),
            notifications: Arc::new(notifier.clone()),
            metrics: Arc::new(crate::metrics::Metrics::new(
                http_metrics.clone(),
                crowdsec.clone(),
                decision_cache.clone(),
                evidence.clone(),
                Arc::new(proxy.clone()),
                db.clone(),
            )),
            overview: Arc::new(crate::overview::OverviewNumbers::new(
                evidence.clone(),
                crate::notify::event_log::EventLog::new(db.clone()),
                crowdsec.clone(),
                Arc::new(proxy.clone()),
                Arc::new(console.clone()),
            )),
            two_factor: Arc::new(two_factor.clone()),
            sign_in: Arc::new(sign_in.clone()),
            nodes: Arc::new(fleet.clone()),
        };
        let auth = AuthState {
            db: db.clone(),
            limiter: Arc::new(LoginLimiter::new(config.login_max_failures, Duration::from_secs(config.login_window_secs))),
            setup_done: Arc::new(AtomicBool::new(false)),
            session_ttl_hours: config.session_ttl_hours,
            data_dir: config.data_dir.clone(),
            public_origin: config.public_origin(),
            stylesheet: crate::static_files::stylesheet_href(&leptos).into(),
            two_factor,
            challenges: Arc::default(),
            sign_in: sign_in.methods(),
        };
        // Until the first administrator exists, /setup needs the code this prints.
        if !crate::db::users::admin_exists(&db).await.unwrap_or(false) {
            crate::auth::setup_code::ensure(&config.data_dir)?;
        } else {
            crate::auth::setup_code::remove(&config.data_dir);
        }
        Ok(AppState {
            db,
            config: Arc::new(config),
            leptos,
            auth,
            accounts,
            crowdsec,
            decisions,
            hub,
            proxy,
            console,
            evidence,
            http_metrics,
            notifier,
            fleet,
            services,
        })
    }
}
