//! The CrowdSec engine, owned by the server: generated configuration (`layout`), the supervised
//! process (`process`), LAPI and cscli clients, the machine credentials and the dedicated bouncer
//! key. `CrowdSec` is the service the server functions, the REST API and start-up reconciliation
//! use; it persists the desired state (`crowdsec.enabled`) and serialises starts and stops.

pub mod bouncer_key;
pub mod credentials;
pub mod cscli;
pub mod engine_indexes;
pub mod engine_log;
pub mod hub;
pub mod lapi;
mod node_accounts;
pub mod layout;
pub mod notifications;
pub use node_accounts::{NodeAccount, NodeActivity};
pub mod process;
mod security;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::watch;

use app::error::{AppError, EngineErrorCode};
use app::security::model::{EngineState, EngineStatus};

use crate::config::Config;
use crate::support::process::find_binary;
use crate::db::{settings, Db};

use self::bouncer_key::{BouncerKeys, Resolution};
use self::cscli::Cscli;
use self::lapi::Lapi;
use self::layout::{EngineSettings, Layout, MACHINE_ID};
use self::process::{ProcessConfig, RunLoop};

const ENABLED_KEY: &str = "crowdsec.enabled";

#[derive(Clone)]
pub struct CrowdSec {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    layout: Layout,
    engine: EngineSettings,
    /// `crowdsec` and `cscli`; `None` when either is missing.
    bins: Option<(PathBuf, PathBuf)>,
    lapi: Lapi,
    env_key: Option<String>,
    ready_timeout: Duration,
    watchdog: Duration,
    status: process::StatusTx,
    /// The running loop; the mutex also makes start and stop one-at-a-time.
    run: tokio::sync::Mutex<Option<RunLoop>>,
    bouncer: StdMutex<Resolution>,
    loaded: Arc<StdMutex<engine_log::Loaded>>,
    /// Generating the engine's files is one writer at a time (start, hub, registration).
    generating: Arc<StdMutex<()>>,
    /// Where the engine's alerts go (set once the console listens); its token reaches the
    /// engine in its environment only.
    alert_hook: StdMutex<Option<crate::notify::engine_alerts::AlertHook>>,
}

fn engine_error(code: EngineErrorCode, detail: impl Into<String>) -> AppError {
    AppError::Engine { code, detail: Some(detail.into()) }
}

impl CrowdSec {
    pub fn new(db: Db, config: &Config) -> Self {
        let c = config.crowdsec();
        let c = &c;
        let bins = find_binary(c.bin.as_deref(), "crowdsec").zip(find_binary(c.cscli_bin.as_deref(), "cscli"));
        let layout = Layout::new(&config.data_dir);
        let engine = EngineSettings {
            lapi_listen: c.lapi_listen,
            prometheus: c.prometheus_addr(),
            hub_source: c.hub_source.clone(),
            data_source: c.data_source.clone(),
            patterns_source: c.patterns_source.clone(),
            plugin_dir: c.plugin_dir.clone(),
            alert_hook: None,
            database: c.database.clone(),
        };
        let initial = if bins.is_some() {
            EngineStatus::stopped(false)
        } else {
            EngineStatus { state: EngineState::NotInstalled, ..EngineStatus::stopped(false) }
        };
        CrowdSec {
            inner: Arc::new(Inner {
                db,
                lapi: Lapi::new(c.lapi_listen),
                layout,
                engine,
                bins,
                env_key: c.bouncer_key.as_ref().map(|s| s.expose().to_owned()),
                ready_timeout: Duration::from_secs(c.ready_timeout_secs),
                watchdog: Duration::from_secs(c.watchdog_secs),
                status: Arc::new(watch::channel(initial).0),
                run: tokio::sync::Mutex::new(None),
                bouncer: StdMutex::new(Resolution::default()),
                loaded: Arc::new(StdMutex::new(engine_log::Loaded::default())),
                generating: Arc::new(StdMutex::new(())),
                alert_hook: StdMutex::new(None),
            }),
        }
    }

    /// The engine's alerts go to this hook from its next start on.
    pub fn set_alert_hook(&self, hook: crate::notify::engine_alerts::AlertHook) {
        *self.inner.alert_hook.lock().expect("hook lock") = Some(hook);
    }

    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    pub fn lapi(&self) -> &Lapi {
        &self.inner.lapi
    }

    pub fn status(&self) -> EngineStatus {
        self.inner.status.borrow().clone()
    }

    /// Every status change, for Server-Sent Events.
    pub fn subscribe(&self) -> watch::Receiver<EngineStatus> {
        self.inner.status.subscribe()
    }

    fn cscli(&self) -> Option<Cscli> {
        self.inner
            .bins
            .as_ref()
            .map(|(_, cscli)| Cscli::new(cscli.clone(), &self.inner.layout.config_file()).with_database(&self.inner.engine.database))
    }

    async fn desired(&self) -> bool {
        settings::get(&self.inner.db, ENABLED_KEY).await.ok().flatten().as_deref() == Some("true")
    }

    /// Server start: start the engine if the user left it enabled. Never blocks the server. A
    /// failed start is retried with the crash backoff (1 s doubling to 30 s) for as long as the
    /// engine stays enabled and is not running.
    pub async fn reconcile(&self) {
        let enabled = self.desired().await;
        self.inner.status.send_modify(|s| s.enabled = enabled);
        if !enabled {
            return;
        }
        tracing::info!("[CROWDSEC_STARTUP] CrowdSec was enabled before the restart; starting it");
        let mut delay = process::BACKOFF_START;
        let mut attempt = 1u32;
        loop {
            match self.start().await {
                Ok(_) => return,
                Err(AppError::Engine { code: EngineErrorCode::NotInstalled, .. }) => return,
                Err(e) => tracing::error!("[CROWDSEC_STARTUP] automatic start failed (attempt {attempt}): {e:?}; retrying in {delay:?}"),
            }
            tokio::time::sleep(delay).await;
            if !self.desired().await || matches!(self.status().state, EngineState::Running | EngineState::Starting) {
                return;
            }
            delay = (delay * 2).min(process::BACKOFF_MAX);
            attempt += 1;
        }
    }

    pub async fn start(&self) -> Result<EngineStatus, AppError> {
        let mut run = self
            .inner
            .run
            .try_lock()
            .map_err(|_| AppError::Engine { code: EngineErrorCode::Busy, detail: None })?;
        if run.is_some() {
            return Ok(self.status());
        }
        let Some((bin, _)) = self.inner.bins.clone() else {
            self.inner.status.send_modify(|s| s.state = EngineState::NotInstalled);
            return Err(AppError::Engine { code: EngineErrorCode::NotInstalled, detail: None });
        };
        let cscli = self.cscli().expect("bins present");
        self.inner.status.send_modify(|s| {
            s.state = EngineState::Starting;
            s.last_error = None;
            s.restarts = 0;
        });
        let fail = |detail: String| {
            self.inner.status.send_modify(|s| {
                s.state = EngineState::Crashed;
                s.last_error = Some(detail.clone());
            });
            engine_error(EngineErrorCode::StartFailed, detail)
        };

        process::stop_leftover(&self.inner.layout).await;
        let notified = self.generate()
            .await
            .map_err(|e| fail(format!("cannot write the engine configuration: {e:#}")))?;
        self.inner.status.send_modify(|s| s.alerts_notified = notified);
        if !self.inner.layout.credentials_file().exists() {
            cscli
                .add_machine(MACHINE_ID, &self.inner.layout.credentials_file())
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
        // Generated files follow the current configuration; so must the machine's credentials,
        // or a changed LAPI address leaves the agent logging in to the old one.
        match credentials::MachineCredentials::follow_listen(&self.inner.layout.credentials_file(), self.inner.engine.lapi_listen) {
            Ok(true) => tracing::info!("[CROWDSEC_STARTUP] the machine credentials now point at {}", self.inner.engine.lapi_listen),
            Ok(false) => {}
            Err(e) => return Err(fail(format!("cannot update the machine credentials: {e:#}"))),
        }

        let cfg = ProcessConfig {
            bin,
            layout: self.inner.layout.clone(),
            lapi: self.inner.lapi.clone(),
            ready_timeout: self.inner.ready_timeout,
            watchdog: self.inner.watchdog,
            loaded: self.inner.loaded.clone(),
            env: self.inner.alert_hook.lock().expect("hook lock").iter().map(|h| (crate::notify::engine_alerts::TOKEN_ENV.to_owned(), h.token.clone())).collect(),
        };
        let handle = process::spawn(cfg, self.inner.status.clone())
            .await
            .map_err(|f| engine_error(EngineErrorCode::StartFailed, f.0))?;
        *run = Some(handle);
        drop(run);
        // The Local API has created its tables by now; its polls stay cheap with these.
        let (database, file) = (self.inner.engine.database.clone(), self.inner.layout.database());
        tokio::spawn(async move { engine_indexes::ensure_logged(&database, &file).await });

        if let Err(e) = self.ensure_bouncer().await {
            // Detection keeps running; the key problem is shown, not hidden.
            self.inner.status.send_modify(|s| s.last_error = Some(format!("bouncer key: {e:#}")));
            return Err(engine_error(EngineErrorCode::BouncerFailed, format!("{e:#}")));
        }
        Ok(self.status())
    }

    pub async fn stop(&self) -> Result<EngineStatus, AppError> {
        let mut run = self
            .inner
            .run
            .try_lock()
            .map_err(|_| AppError::Engine { code: EngineErrorCode::Busy, detail: None })?;
        if let Some(handle) = run.take() {
            self.inner.status.send_modify(|s| s.state = EngineState::Stopping);
            handle.stop().await;
        }
        let installed = self.inner.bins.is_some();
        self.inner.status.send_modify(|s| {
            s.state = if installed { EngineState::Stopped } else { EngineState::NotInstalled };
            s.pid = None;
            s.lapi_ready = false;
            s.started_at = None;
        });
        Ok(self.status())
    }

    /// Applies configuration changes to a running engine (1.4.6 exits on SIGHUP, so: stop, start).
    pub async fn restart_if_running(&self) -> Result<(), AppError> {
        if self.status().state == EngineState::Running {
            tracing::info!("restarting CrowdSec to load configuration changes");
            self.stop().await?;
            self.start().await?;
        }
        Ok(())
    }

    /// Writes or refreshes the engine's files (one writer at a time); whether the engine's alerts
    /// are notified.
    pub async fn generate(&self) -> anyhow::Result<bool> {
        let layout = self.inner.layout.clone();
        let mut engine = self.inner.engine.clone();
        engine.alert_hook = self.inner.alert_hook.lock().expect("hook lock").clone();
        let lock = self.inner.generating.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            layout.generate(&engine)
        })
        .await?
    }

    /// Generates the engine's files unless they exist (the hub catalogue works before any start).
    pub async fn ensure_generated(&self) -> anyhow::Result<()> {
        if self.inner.layout.hub_dir.join(".index.json").exists() && self.inner.layout.config_file().exists() {
            return Ok(());
        }
        self.generate().await.map(|_| ())
    }

    /// What the running engine reported loading at its start; `None` unless it is running.
    pub fn loaded(&self) -> Option<engine_log::Loaded> {
        (self.status().state == EngineState::Running)
            .then(|| self.inner.loaded.lock().expect("loaded lock").clone())
    }

    /// Engine-side settings (the offline data-file source, for hub installs).
    pub fn settings(&self) -> &EngineSettings {
        &self.inner.engine
    }

    /// Graceful server shutdown: stop the engine but keep the user's wish for the next start.
    pub async fn shutdown(&self) {
        let mut run = self.inner.run.lock().await;
        if let Some(handle) = run.take() {
            handle.stop().await;
        }
    }

    async fn ensure_bouncer(&self) -> anyhow::Result<()> {
        let cscli = self.cscli().ok_or_else(|| anyhow::anyhow!("cscli is not installed"))?;
        let keys = BouncerKeys {
            env_key: self.inner.env_key.as_deref(),
            key_file: self.inner.layout.bouncer_key_file(),
            lapi: &self.inner.lapi,
            cscli: &cscli,
        };
        let resolution = keys.ensure().await?;
        *self.inner.bouncer.lock().expect("bouncer lock") = resolution;
        Ok(())
    }

    fn require_running(&self) -> Result<(), AppError> {
        if self.status().lapi_ready {
            Ok(())
        } else {
            Err(AppError::Engine { code: EngineErrorCode::LapiUnavailable, detail: None })
        }
    }

    /// Makes sure `key_file` holds a key of bouncer `name` the LAPI accepts: kept when the LAPI
    /// says it is valid (or cannot be asked: engine stopped), otherwise registered again with cscli
    /// (which writes the engine's database directly, so this works while the engine is stopped).
    pub async fn ensure_extra_bouncer(&self, name: &str, key_file: &Path) -> anyhow::Result<()> {
        if let Some(key) = bouncer_key::read_key_file(key_file) {
            match self.inner.lapi.check_bouncer_key(&key).await {
                Ok(lapi::KeyCheck::Rejected) => {
                    tracing::warn!("the stored key of bouncer {name} was rejected by the LAPI; registering it again")
                }
                _ => return Ok(()),
            }
        }
        let cscli = self.cscli().ok_or_else(|| anyhow::anyhow!("cscli is not installed"))?;
        self.ensure_generated().await?;
        cscli.delete_bouncer(name).await?;
        let key = cscli.add_bouncer(name).await?;
        if let Some(dir) = key_file.parent() {
            std::fs::create_dir_all(dir)?;
            crate::support::files::private(dir)?;
        }
        crate::support::files::write_private_file(key_file, key.as_bytes())?;
        tracing::info!(path = %key_file.display(), "registered bouncer {name}; key stored");
        Ok(())
    }

    /// The key the decision sync uses (never leaves the server).
    pub fn active_bouncer_key(&self) -> Option<String> {
        self.inner.bouncer.lock().expect("bouncer lock").active.as_ref().map(|a| a.key.clone())
    }

    /// The machine's credentials file, for the JWT the management calls use.
    pub fn machine_credentials(&self) -> anyhow::Result<credentials::MachineCredentials> {
        credentials::MachineCredentials::load(&self.inner.layout.credentials_file())
    }


}
