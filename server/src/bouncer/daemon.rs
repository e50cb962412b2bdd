//! `charon bouncer`: the forward-auth bouncer as a process of its own, so that restarting or
//! upgrading the console never takes the protected sites down. It reads its settings from
//! `<data>/bouncer/settings.json` (written by the console; no secrets in it), polls the LAPI's
//! decision stream with **its own** bouncer key (`<data>/bouncer/key`, mode 0600 — deltas are per
//! key, so it cannot share the console's), and answers Caddy from its own decision cache. It is the
//! engine's only stream consumer while it runs: the console reads its change feed
//! (`GET /bouncer/changes`) instead of polling the engine too. A change of the settings file (the
//! allowlist, the addresses administrators use) is picked up within a second.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use app::decisions::model::IpOrRange;

use super::cache::DecisionCache;
use super::forward_auth::{self, CheckState, Counters, FailMode};
use super::feed::ChangeFeed;
use super::sync::{self, Fetched, Health, StreamSource, Want};
use crate::crowdsec::bouncer_key::read_key_file;
use crate::crowdsec::lapi::Lapi;

/// The bouncer process's files under the data dir.
#[derive(Debug, Clone)]
pub struct BouncerFiles {
    pub dir: PathBuf,
}

impl BouncerFiles {
    pub fn new(data_dir: &Path) -> Self {
        BouncerFiles { dir: data_dir.join("bouncer") }
    }
    pub fn settings(&self) -> PathBuf {
        self.dir.join("settings.json")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("key")
    }
    pub fn pid(&self) -> PathBuf {
        self.dir.join("bouncer.pid")
    }
    /// Where Caddy asks `GET /bouncer/check`: a Unix socket in the private directory, so only Charon's
    /// user reaches it (as fast as loopback TCP; measured in docs/benchmarks.md).
    pub fn check_socket(&self) -> PathBuf {
        self.dir.join("check.sock")
    }
    /// The secret the console presents to `POST /bouncer/sync` (0600; written by the console).
    pub fn sync_token(&self) -> PathBuf {
        self.dir.join("sync-token")
    }
}

/// What the console tells the bouncer process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonSettings {
    pub listen: SocketAddr,
    pub lapi: SocketAddr,
    pub fail_mode: FailMode,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub sync_interval_ms: u64,
    pub full_resync_secs: u64,
    /// Addresses and ranges never blocked (the console's allowlist).
    pub allowlist: Vec<String>,
    /// Addresses administrators use: blocked only by decisions made in Charon.
    #[serde(default)]
    pub protected: Vec<String>,
    /// Site-scoped bans and exceptions.
    #[serde(default)]
    pub scoped: Vec<crate::bouncer::scoped::ScopedRule>,
    /// On an edge node: the central node's fleet listener (`https://…`) instead of `lapi`, and
    /// the CA file it is trusted by.
    #[serde(default)]
    pub remote: Option<RemoteLapi>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteLapi {
    pub url: String,
    pub ca_file: PathBuf,
    /// Where that server also answers every decision it holds as a complete stream answer (the
    /// central node's fleet listener): a start needs no complete answer from the engine then.
    #[serde(default)]
    pub decisions_path: Option<String>,
}

impl DaemonSettings {
    /// The fixed settings from the configuration: the engine on loopback, or `remote` (an edge
    /// node's central node). What the console tells it later (allowlist, …) starts empty.
    pub fn from_config(config: &crate::config::Config, remote: Option<RemoteLapi>) -> Self {
        DaemonSettings {
            listen: config.bouncer_listen,
            lapi: config.crowdsec_lapi_listen,
            fail_mode: config.bouncer_fail_mode,
            trusted_proxies: config.trusted_proxies().unwrap_or_default(),
            sync_interval_ms: config.decision_sync_interval_ms,
            full_resync_secs: config.decision_full_resync_secs,
            allowlist: Vec::new(),
            protected: Vec::new(),
            scoped: Vec::new(),
            remote,
        }
    }

    fn lapi(&self) -> anyhow::Result<Lapi> {
        match &self.remote {
            None => Ok(Lapi::new(self.lapi)),
            Some(r) => {
                let ca = std::fs::read_to_string(&r.ca_file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", r.ca_file.display()))?;
                Lapi::remote(&r.url, &ca)
            }
        }
    }
}

impl DaemonSettings {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read bouncer settings {}: {e}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    fn allowlist_targets(&self) -> Vec<IpOrRange> {
        self.allowlist.iter().filter_map(|v| IpOrRange::parse(v).ok()).collect()
    }

    fn protected_targets(&self) -> Vec<IpOrRange> {
        self.protected.iter().filter_map(|v| IpOrRange::parse(v).ok()).collect()
    }
}

/// The key from the key file, re-read when it changes (a rotation by the console).
struct KeyFileSource {
    lapi: Lapi,
    key_file: PathBuf,
    /// `RemoteLapi::decisions_path`.
    start_from: Option<String>,
}

impl StreamSource for KeyFileSource {
    async fn fetch(&self, want: Want) -> Option<Result<Fetched, String>> {
        let key = read_key_file(&self.key_file);
        if let (Want::Startup, Some(path), Some(key)) = (want, &self.start_from, &key) {
            match self.started_from(path, key).await {
                Ok(f) => return Some(Ok(f)),
                Err(e) => tracing::info!("taking the engine's complete answer instead of the central node's decisions: {e}"),
            }
        }
        sync::from_lapi(&self.lapi, key, want).await
    }
}

impl KeyFileSource {
    /// A start from the central node's decisions. The engine's stream is polled first and its
    /// answer dropped: that sets the key's `last_pull`, so the deltas that follow hold everything
    /// made after it, and the central node answers with what the engine held later than that.
    async fn started_from(&self, path: &str, key: &str) -> Result<Fetched, String> {
        self.lapi.stream(key, false).await.map_err(|e| e.to_string())?;
        let body = self.lapi.complete_answer_at(path, key).await.map_err(|e| format!("the central node: {e}"))?;
        tracing::info!(bytes = body.len(), "starting from the central node's decisions; following the engine's stream from here");
        Ok(Fetched { body, full: true, live: None, as_of: None })
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

pub async fn run(data_dir: &Path) -> anyhow::Result<()> {
    let files = BouncerFiles::new(data_dir);
    let settings = DaemonSettings::load(&files.settings())?;
    std::fs::write(files.pid(), format!("{}\n", std::process::id()))?;

    let cache = Arc::new(DecisionCache::new());
    cache.set_allowlist(&settings.allowlist_targets());
    cache.set_protected(&settings.protected_targets());
    cache.set_scoped(&settings.scoped);
    let health: Health = Arc::new(Mutex::new(sync::SyncHealth::default()));
    let poke = Arc::new(Notify::new());
    let source = KeyFileSource { lapi: settings.lapi()?, key_file: files.key(), start_from: settings.remote.as_ref().and_then(|r| r.decisions_path.clone()) };
    let feed = Arc::new(ChangeFeed::new());
    tokio::spawn(sync::run(
        source,
        cache.clone(),
        health.clone(),
        Duration::from_millis(settings.sync_interval_ms),
        Duration::from_secs(settings.full_resync_secs),
        poke.clone(),
        Some(feed.clone()),
    ));

    // Allowlist changes arrive as a rewritten settings file.
    {
        let cache = cache.clone();
        let path = files.settings();
        let mut seen = modified(&path);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = modified(&path);
                if now != seen {
                    seen = now;
                    match DaemonSettings::load(&path) {
                        Ok(s) => {
                            cache.set_allowlist(&s.allowlist_targets());
                            cache.set_protected(&s.protected_targets());
                            cache.set_scoped(&s.scoped);
                            tracing::info!(entries = s.allowlist.len(), protected = s.protected.len(), "allowlist reloaded");
                        }
                        Err(e) => tracing::warn!("keeping the previous allowlist: {e:#}"),
                    }
                }
            }
        });
    }

    let sync_token = std::fs::read_to_string(files.sync_token()).ok().map(|t| Arc::<str>::from(t.trim()));
    if sync_token.is_none() {
        tracing::warn!("no sync token in {}: POST /bouncer/sync will refuse every caller", files.sync_token().display());
    }
    let state = CheckState {
        cache,
        health,
        sync_token,
        trusted: Arc::new(settings.trusted_proxies.clone()),
        fail_mode: settings.fail_mode,
        counters: Arc::new(Counters::default()),
        sync_now: poke,
        feed,
        self_test: Arc::default(),
    };
    let shutdown = crate::shutdown::install()?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
    // A socket left by a killed predecessor would make the bind fail; the directory is private.
    let socket_path = files.check_socket();
    let _ = std::fs::remove_file(&socket_path);
    let socket = tokio::net::UnixListener::bind(&socket_path)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", socket_path.display()))?;
    tracing::info!(listen = %settings.listen, socket = %socket_path.display(), fail_mode = ?settings.fail_mode, "bouncer listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn(async move {
        shutdown.wait().await;
        let _ = stop_tx.send(true);
    });
    let tcp = axum::serve(listener, forward_auth::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    let unix = axum::serve(socket, forward_auth::socket_router(state).into_make_service()).with_graceful_shutdown(stopped(stop_rx));
    let (a, b) = tokio::join!(tcp.into_future(), unix.into_future());
    let _ = std::fs::remove_file(&socket_path);
    let _ = std::fs::remove_file(files.pid());
    a?;
    b?;
    Ok(())
}
