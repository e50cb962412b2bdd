//! The data plane and proxy hosts: Caddy (Debian's 2.6.2) serving the user's sites, each optionally
//! behind `forward_auth` to the `charon bouncer` process. Both run detached from the console and
//! are adopted after a console restart (`data_plane`); configuration changes go through Caddy's
//! admin API (`POST /load`), so a rejected configuration leaves the running one in place; the
//! configuration itself is built in `caddy_config`, the hosts are stored in `hosts`.

pub mod caddy_admin;
pub mod caddy_config;
pub mod data_plane;
pub mod hosts;
mod self_test;
mod service;

use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use app::error::{AppError, EngineErrorCode};
use app::proxy::model::THIS_NODE;

use self::caddy_admin::CaddyAdmin;
use self::caddy_config::{ProxySettings, Site};
use self::data_plane::DaemonSpec;
use crate::bouncer::daemon::{BouncerFiles, DaemonSettings};
use crate::bouncer::forward_auth::SYNC_HEADER;
use crate::config::Config;
use crate::crowdsec::CrowdSec;
use crate::db::Db;

/// The bouncer the forward-auth process polls the LAPI as (its own key: deltas are per key).
pub const FORWARD_AUTH_BOUNCER: &str = "charon-forward-auth";

const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the bouncer's decisions may be stale before it is announced.
const STALE_NOTICE: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    engine: CrowdSec,
    enabled: bool,
    settings: ProxySettings,
    daemon: DaemonSettings,
    /// What the bouncer is told besides its fixed settings, as last told (each setter replaces
    /// its part and `write_daemon_settings` writes all of them): the allowlist, the addresses
    /// administrators use, the site-scoped rules.
    last_allowlist: StdMutex<Vec<String>>,
    protected: StdMutex<Vec<String>>,
    scoped: StdMutex<Vec<crate::bouncer::scoped::ScopedRule>>,
    files: BouncerFiles,
    caddy_dir: PathBuf,
    admin: CaddyAdmin,
    caddy: Option<DaemonSpec>,
    bouncer: DaemonSpec,
    http: reqwest::Client,
    /// One configuration change at a time (the DB change and the `/load` that applies it).
    change: tokio::sync::Mutex<()>,
    errors: StdMutex<(Option<String>, Option<String>)>,
    supervising: std::sync::atomic::AtomicBool,
    /// Set by `stop_data_plane`: the supervisor stops restarting anything.
    halted: std::sync::atomic::AtomicBool,
    /// A failed self-test, Caddy or the bouncer going down are announced.
    events: crate::notify::Events,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "proxy failure");
    AppError::Internal
}

impl Proxy {
    pub fn new(db: Db, engine: CrowdSec, config: &Config) -> Self {
        let logs_dir = config.data_dir.join("logs");
        // Absolute: Caddy gets the socket's path in its configuration.
        let caddy_dir = std::path::absolute(config.data_dir.join("caddy")).unwrap_or_else(|_| config.data_dir.join("caddy"));
        let admin = CaddyAdmin::new(caddy_dir.join("admin.sock"));
        let files = BouncerFiles::new(&config.data_dir);
        let caddy_bin = crate::support::process::find_binary(config.caddy_bin.as_deref(), "caddy");
        let exe = config
            .bouncer_bin
            .clone()
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("charon"));
        let settings = ProxySettings {
            listen: config.proxy_listen.clone(),
            admin: admin.listen(),
            bouncer_dial: format!("unix/{}", std::path::absolute(files.check_socket()).unwrap_or_else(|_| files.check_socket()).display()),
            access_log: engine.layout().access_log.clone(),
            fail_mode: config.bouncer_fail_mode,
        };
        let daemon = DaemonSettings::from_config(config, None);
        Proxy {
            inner: Arc::new(Inner {
                caddy: caddy_bin.map(|b| data_plane::caddy_spec(&b, &caddy_dir, &logs_dir)),
                bouncer: data_plane::bouncer_spec(&exe, &config.data_dir, &files.pid(), &logs_dir),
                db,
                engine,
                // What the bouncer was last told survives a process that did not compute it
                // (`charon unban` rewrites the settings with the allowlist only).
                protected: StdMutex::new(DaemonSettings::load(&files.settings()).map(|s| s.protected).unwrap_or_default()),
                scoped: StdMutex::new(DaemonSettings::load(&files.settings()).map(|s| s.scoped).unwrap_or_default()),
                last_allowlist: StdMutex::new(Vec::new()),
                enabled: config.proxy_enabled,
                settings,
                daemon,
                files,
                caddy_dir,
                admin,
                http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client"),
                change: tokio::sync::Mutex::new(()),
                errors: StdMutex::new((None, None)),
                supervising: std::sync::atomic::AtomicBool::new(false),
                halted: std::sync::atomic::AtomicBool::new(false),
                events: crate::notify::Events::disconnected(),
            }),
        }
    }

    /// Where a failed self-test is reported (the console's notifications).
    pub fn with_events(mut self, events: crate::notify::Events) -> Self {
        Arc::get_mut(&mut self.inner).expect("a new proxy is not shared").events = events;
        self
    }

    /// For `charon unban` from the server's shell: the bouncer's fixed settings stay as the running
    /// service last wrote them (its listen address, LAPI, fail mode, trusted proxies), whatever
    /// this shell's environment says; only what the command changes is replaced.
    pub fn for_shell(db: Db, engine: CrowdSec, config: &Config) -> Self {
        let mut proxy = Proxy::new(db, engine, config);
        let inner = Arc::get_mut(&mut proxy.inner).expect("a new proxy is not shared");
        if let Ok(written) = DaemonSettings::load(&inner.files.settings()) {
            inner.daemon = DaemonSettings { allowlist: Vec::new(), protected: Vec::new(), scoped: Vec::new(), ..written };
            inner.enabled = true;
        }
        proxy
    }

    fn set_error(&self, caddy: bool, e: Option<String>) {
        let mut errs = self.inner.errors.lock().expect("errors lock");
        if caddy {
            errs.0 = e;
        } else {
            errs.1 = e;
        }
    }

    /// Starts (or adopts) the bouncer and Caddy and keeps them running. Called once at server
    /// start; errors are shown in the status, never fatal for the console.
    pub async fn start(&self, allowlist: Vec<String>) {
        if !self.inner.enabled {
            return;
        }
        if let Err(e) = self.start_bouncer(allowlist).await {
            tracing::error!("[DATA_PLANE] bouncer: {e:#}");
            self.set_error(false, Some(format!("{e:#}")));
        }
        if let Err(e) = self.start_caddy().await {
            tracing::error!("[DATA_PLANE] caddy: {e:#}");
            self.set_error(true, Some(format!("{e:#}")));
        }
        if !self.inner.supervising.swap(true, std::sync::atomic::Ordering::SeqCst) {
            tokio::spawn(self.clone().supervise());
        }
    }

    fn write_daemon_settings(&self) -> anyhow::Result<()> {
        let mut s = self.inner.daemon.clone();
        s.allowlist = self.inner.last_allowlist.lock().expect("allowlist lock").clone();
        s.protected = self.inner.protected.lock().expect("protected lock").clone();
        s.scoped = self.inner.scoped.lock().expect("scoped lock").clone();
        std::fs::create_dir_all(&self.inner.files.dir)?;
        crate::support::files::private(&self.inner.files.dir)?;
        crate::support::files::write_if_changed(&self.inner.files.settings(), &serde_json::to_string_pretty(&s)?)?;
        if !self.inner.files.sync_token().exists() {
            crate::support::files::write_private_file(&self.inner.files.sync_token(), crate::auth::secret::random_hex(32).as_bytes())?;
        }
        Ok(())
    }

    async fn start_bouncer(&self, allowlist: Vec<String>) -> anyhow::Result<()> {
        *self.inner.last_allowlist.lock().expect("allowlist lock") = allowlist;
        self.write_daemon_settings()?;
        self.inner.engine.ensure_extra_bouncer(FORWARD_AUTH_BOUNCER, &self.inner.files.key()).await?;
        match self.inner.bouncer.running() {
            Some(pid) if self.inner.files.check_socket().exists() => {
                tracing::info!(pid, "[DATA_PLANE] adopted the running bouncer");
            }
            Some(pid) => {
                // Started by an older Charon without the check socket Caddy now dials.
                tracing::warn!(pid, "[DATA_PLANE] the running bouncer has no check socket; restarting it");
                self.inner.bouncer.stop(STOP_TIMEOUT).await;
                self.inner.bouncer.spawn()?;
            }
            None => {
                self.inner.bouncer.spawn()?;
            }
        }
        self.set_error(false, None);
        Ok(())
    }

    async fn start_caddy(&self) -> anyhow::Result<()> {
        let spec = self.inner.caddy.as_ref().ok_or_else(|| anyhow::anyhow!("caddy is not installed"))?;
        let config = self.config_json().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        std::fs::create_dir_all(&self.inner.caddy_dir)?;
        crate::support::files::private(&self.inner.caddy_dir)?;
        crate::support::files::write_if_changed(&self.inner.caddy_dir.join("caddy.json"), &config.to_string())?;
        match spec.running() {
            Some(pid) if self.inner.admin.socket().exists() => {
                tracing::info!(pid, "[DATA_PLANE] adopted the running Caddy");
                self.load(&config).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            running => {
                if let Some(pid) = running {
                    // Started by an older Charon with its admin API on TCP: replace it.
                    tracing::warn!(pid, "[DATA_PLANE] the running Caddy has no admin socket; restarting it");
                    spec.stop(STOP_TIMEOUT).await;
                }
                spec.spawn()?;
                self.wait_admin().await?;
            }
        }
        self.set_error(true, None);
        Ok(())
    }

    async fn wait_admin(&self) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let deadline = started + Duration::from_secs(15);
        loop {
            if self.inner.admin.get("/config/").await.is_ok_and(|a| (200..300).contains(&a.status)) {
                return Ok(());
            }
            // Right after the fork `/proc/<pid>/cmdline` can still be ours: judge after a moment.
            if started.elapsed() > Duration::from_secs(1) && self.inner.caddy.as_ref().and_then(|c| c.running()).is_none() {
                anyhow::bail!("Caddy exited during start-up; see logs/caddy.log");
            }
            if std::time::Instant::now() > deadline {
                anyhow::bail!("Caddy's admin API did not answer within 15 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Restarts a data-plane process that died, after a backoff (2 s doubling to 60 s, reset once
    /// it runs again), so a crash loop never spins; announces each process going down, and a
    /// bouncer whose decisions stay stale (it cannot reach the engine while the engine is meant
    /// to run) for `STALE_NOTICE`.
    async fn supervise(self) {
        let mut down_since: [Option<std::time::Instant>; 2] = [None, None];
        let mut backoff = [Duration::from_secs(2); 2];
        let mut stale_told = false;
        let mut ticks: u64 = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            ticks += 1;
            if self.inner.halted.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let running = [
                self.inner.bouncer.running().is_some(),
                self.inner.caddy.as_ref().is_none_or(|c| c.running().is_some()),
            ];
            if running[0] && ticks % 10 == 0 {
                stale_told = self.tell_if_stale(stale_told).await;
            }
            for i in 0..2 {
                if running[i] {
                    if down_since[i].take().is_some() {
                        backoff[i] = Duration::from_secs(2);
                    }
                    continue;
                }
                if down_since[i].is_none() {
                    self.tell_down(i == 1);
                }
                let since = *down_since[i].get_or_insert_with(std::time::Instant::now);
                if since.elapsed() < backoff[i] {
                    continue;
                }
                let result = if i == 0 {
                    tracing::warn!("[DATA_PLANE] the bouncer is not running; starting it");
                    let allow = DaemonSettings::load(&self.inner.files.settings()).map(|s| s.allowlist).unwrap_or_default();
                    self.start_bouncer(allow).await
                } else {
                    tracing::warn!("[DATA_PLANE] Caddy is not running; starting it");
                    self.start_caddy().await
                };
                if let Err(e) = result {
                    self.set_error(i == 1, Some(format!("{e:#}")));
                }
                down_since[i] = Some(std::time::Instant::now());
                backoff[i] = (backoff[i] * 2).min(Duration::from_secs(60));
            }
        }
    }

    fn tell_down(&self, caddy: bool) {
        use app::notify::model::EventKind;
        let (kind, detail) = if caddy {
            (EventKind::CaddyDown, "Caddy stopped: the sites behind Charon do not answer until it runs again; Charon restarts it.")
        } else {
            (EventKind::BouncerDown, "The bouncer stopped: Caddy applies the fail mode to every request until it runs again; Charon restarts it.")
        };
        self.inner.events.emit(kind, crate::notify::Item { detail: Some(detail.to_owned()), ..Default::default() });
    }

    /// Announces a bouncer stale for `STALE_NOTICE` while the engine is meant to run (a stopped
    /// engine is announced as such); whether it has been told, for the next look.
    async fn tell_if_stale(&self, told: bool) -> bool {
        let stale_since = self.bouncer_stats().await.and_then(|s| s.stale_since);
        let Some(since) = stale_since else { return false };
        if told || !self.inner.engine.status().enabled || crate::support::time::now() - since < STALE_NOTICE.as_secs() as i64 {
            return told;
        }
        let detail = format!(
            "The bouncer has not reached the engine since {}: it enforces the decisions it last had, and misses new ones.",
            crate::support::time::rfc3339(since)
        );
        self.inner.events.emit(app::notify::model::EventKind::BouncerDown, crate::notify::Item { detail: Some(detail), ..Default::default() });
        true
    }

    /// Stops both processes: on SIGQUIT (`systemctl stop`) and in tests; SIGINT/SIGTERM leave
    /// them serving.
    pub async fn stop_data_plane(&self) {
        self.inner.halted.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(c) = &self.inner.caddy {
            c.stop(STOP_TIMEOUT).await;
        }
        self.inner.bouncer.stop(STOP_TIMEOUT).await;
    }

    async fn config_json(&self) -> Result<serde_json::Value, AppError> {
        let sites: Vec<Site> = hosts::list(&self.inner.db)
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|h| h.enabled && h.served_by(THIS_NODE))
            .filter_map(|h| Site::from_stored(&h.domain, &h.upstream, h.protect))
            .collect();
        Ok(caddy_config::build(&self.inner.settings, &sites))
    }

    /// `POST /load`; Caddy keeps the old configuration when it refuses the new one. A Caddy that is
    /// still starting gets a few seconds to open its admin API.
    async fn load(&self, config: &serde_json::Value) -> Result<(), AppError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let answer = loop {
            match self.inner.admin.post_json("/load", config.to_string()).await {
                Ok(answer) => break answer,
                Err(e) if std::time::Instant::now() >= deadline => {
                    tracing::warn!("[DATA_PLANE] Caddy's admin API is unreachable: {e:#}");
                    return Err(AppError::Engine { code: EngineErrorCode::ProxyUnavailable, detail: None });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        if (200..300).contains(&answer.status) {
            return Ok(());
        }
        let detail = serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(answer.body);
        tracing::warn!("[DATA_PLANE] Caddy refused the configuration: {detail}");
        Err(AppError::Engine { code: EngineErrorCode::ProxyRejected, detail: Some(detail) })
    }

    /// Applies the stored hosts to Caddy; with the data plane off only the file is written.
    async fn apply(&self) -> Result<(), AppError> {
        let config = self.config_json().await?;
        if self.inner.enabled && self.inner.caddy.as_ref().and_then(|c| c.running()).is_some() {
            self.load(&config).await?;
        }
        std::fs::create_dir_all(&self.inner.caddy_dir).map_err(internal)?;
        crate::support::files::write_if_changed(&self.inner.caddy_dir.join("caddy.json"), &config.to_string())
            .map_err(internal)?;
        Ok(())
    }

    /// Asks the bouncer to poll the LAPI now (after a manual ban or unban).
    pub async fn poke_bouncer(&self) {
        if !self.inner.enabled {
            return;
        }
        let url = format!("http://{}/bouncer/sync", self.inner.daemon.listen);
        let token = std::fs::read_to_string(self.inner.files.sync_token()).unwrap_or_default();
        let request = self.inner.http.post(url).header(SYNC_HEADER, token.trim()).timeout(Duration::from_millis(500));
        let _ = request.send().await;
    }

    /// The allowlist, for the bouncer process (it re-reads its settings file within a second).
    pub fn set_allowlist(&self, values: Vec<String>) {
        self.tell_bouncer(|inner| *inner.last_allowlist.lock().expect("allowlist lock") = values);
    }

    /// Tells the bouncer the site-scoped bans and exceptions.
    pub fn set_scoped(&self, rules: Vec<crate::bouncer::scoped::ScopedRule>) {
        self.tell_bouncer(|inner| *inner.scoped.lock().expect("scoped lock") = rules);
    }

    /// Tells the bouncer the addresses administrators use (lockout protection).
    pub fn set_protected(&self, values: Vec<String>) {
        self.tell_bouncer(|inner| *inner.protected.lock().expect("protected lock") = values);
    }

    /// Replaces one part of what the bouncer is told and rewrites its settings file.
    fn tell_bouncer(&self, update: impl FnOnce(&Inner)) {
        if !self.inner.enabled {
            return;
        }
        update(&self.inner);
        if let Err(e) = self.write_daemon_settings() {
            tracing::error!("[DATA_PLANE] cannot write the bouncer settings: {e:#}");
        }
    }
}
