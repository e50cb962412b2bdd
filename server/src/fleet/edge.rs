//! `charon node`: an edge node. It joins the central node once (the token pins the central
//! node's CA; the credentials it gets are kept in `<data>/node/`, 0600), then runs without a web
//! UI or database of its own:
//!
//! - a CrowdSec log processor (`crowdsec -no-api`) reading this node's Caddy access log and
//!   pushing alerts to the central Local API over TLS; 1.4.6 exits when that API is unreachable
//!   at its start, so it is restarted with backoff (1 s doubling to 30 s) for as long as it runs;
//!   its pid is recorded, and one left running by a node that was killed outright is stopped
//!   when the node starts again (never two on one access log);
//! - the bouncer (`charon bouncer`, its own key, polling the central decision stream) and Caddy,
//!   detached and adopted like the console's data plane, so they keep enforcing from their cache
//!   while the central node or this process is down;
//! - its proxy hosts (those assigned to every node or to this one), asked for every second and
//!   applied to Caddy when they change;
//! - a report every 5 s (versions, log processor up or since when down, decisions held,
//!   requests refused, hosts) that the Nodes page shows.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::wire::{self, JoinAnswer, JoinRequest, NodeConfig, NodeReport};
use crate::bouncer::daemon::{BouncerFiles, DaemonSettings, RemoteLapi};
use crate::config::Config;
use crate::crowdsec::layout::{EngineSettings, Layout};
use crate::proxy::caddy_admin::CaddyAdmin;
use crate::proxy::caddy_config::{self, ProxySettings, Site};
use crate::proxy::data_plane::{self, DaemonSpec};
use crate::support::files::{private, write_private_file};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const HOSTS_EVERY: Duration = Duration::from_secs(1);
const REPORT_EVERY: Duration = Duration::from_secs(5);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How a node is told to join.
#[derive(Debug, Clone)]
pub struct Join {
    pub url: String,
    pub token: String,
    pub name: Option<String>,
}

/// What the node keeps of its membership (`<data>/node/membership.json`, 0600).
#[derive(Clone, Serialize, Deserialize)]
struct Membership {
    url: String,
    name: String,
    machine_login: String,
    machine_password: String,
    bouncer_key: String,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership").field("url", &self.url).field("name", &self.name).finish_non_exhaustive()
    }
}

/// The log processor's credentials file (1.4.6 reads `ca_cert_path` from it).
#[derive(Serialize)]
struct AgentCredentials<'a> {
    url: String,
    login: &'a str,
    password: &'a str,
    ca_cert_path: String,
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn membership(&self) -> PathBuf {
        self.dir.join("membership.json")
    }
    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

/// The host name as a node name: lowercase, anything else than `a-z0-9-` becomes `-`.
fn default_name() -> String {
    let host = crate::support::host_name().unwrap_or_default();
    let name: String = host
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .take(40)
        .collect();
    let name = name.trim_matches('-').to_owned();
    if name.is_empty() { "node".to_owned() } else { name }
}

/// Joins the central node at `join.url`: its CA is fetched and must have the fingerprint the
/// token carries (otherwise nothing is sent), then the token is presented over TLS trusting only
/// that CA.
async fn join(files: &Files, join: &Join) -> anyhow::Result<Membership> {
    let token = super::parse_token(&join.token).ok_or_else(|| anyhow::anyhow!("the join token is malformed; copy the whole command from the Nodes page"))?;
    let url = join.url.trim().trim_end_matches('/').to_owned();
    if !url.starts_with("https://") {
        anyhow::bail!("--join must be the central node's https:// address");
    }
    // Only to read the CA's bytes, which are checked against the token before anything is sent.
    let fetch = reqwest::Client::builder().danger_accept_invalid_certs(true).timeout(Duration::from_secs(10)).build()?;
    let ca_pem = fetch
        .get(format!("{url}{}", wire::CA_PATH))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("the central node did not answer at {url}: {}", e.without_url()))?
        .error_for_status()
        .map_err(|e| anyhow::anyhow!("the central node refused to give its CA: {}", e.without_url()))?
        .text()
        .await?;
    if super::pki::fingerprint(&ca_pem)? != token.ca_sha256.to_ascii_lowercase() {
        anyhow::bail!("the CA at {url} is not the one the join token names: not joining (a wrong address, or someone in between)");
    }
    let client = pinned_client(&ca_pem)?;
    let name = join.name.clone().unwrap_or_else(default_name);
    let answer = client
        .post(format!("{url}{}", wire::JOIN_PATH))
        .json(&JoinRequest { token: join.token.trim().to_owned(), name: name.clone(), version: VERSION.to_owned() })
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("the join request failed: {}", e.without_url()))?;
    if !answer.status().is_success() {
        let status = answer.status().as_u16();
        let message = answer.json::<serde_json::Value>().await.ok().and_then(|v| v["message"].as_str().map(str::to_owned)).unwrap_or_default();
        anyhow::bail!("the central node refused the join (HTTP {status}): {message}");
    }
    let answer: JoinAnswer = answer.json().await?;
    std::fs::create_dir_all(&files.dir)?;
    private(&files.dir)?;
    write_private_file(&files.ca(), ca_pem.as_bytes())?;
    let membership = Membership {
        url,
        name: answer.name,
        machine_login: answer.machine_login,
        machine_password: answer.machine_password,
        bouncer_key: answer.bouncer_key,
    };
    write_private_file(&files.membership(), serde_json::to_string_pretty(&membership)?.as_bytes())?;
    tracing::info!(node = %membership.name, central = %membership.url, "[NODE] joined the fleet");
    Ok(membership)
}

fn pinned_client(ca_pem: &str) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes())?)
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
        .build()?)
}

/// Asks the central node for a new key (the current one stops working when it answers).
async fn rotate_key(central: &reqwest::Client, membership: &Membership) -> anyhow::Result<String> {
    let answer = central
        .post(format!("{}{}", membership.url, wire::ROTATE_PATH))
        .header(wire::KEY_HEADER, &membership.bouncer_key)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.without_url()))?;
    if !answer.status().is_success() {
        anyhow::bail!("HTTP {}", answer.status().as_u16());
    }
    Ok(answer.json::<wire::RotatedKey>().await?.bouncer_key)
}

/// The engine's version line (`v1.4.6-…`), once.
async fn engine_version(bin: &Path) -> Option<String> {
    let mut cmd = tokio::process::Command::new(bin);
    crate::support::process::clean_env(&mut cmd).arg("-version").kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(5), cmd.output()).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines().find_map(|l| l.split_once("version: ").map(|(_, v)| v.trim().to_owned()))
}

/// The log processor's state, as the report tells it.
#[derive(Debug, Clone, Copy, Default)]
struct AgentState {
    running: bool,
    down_since: Option<i64>,
}

/// Runs the log processor and starts it again whenever it exits, after a backoff.
async fn keep_agent_running(bin: PathBuf, layout: Layout, state: std::sync::Arc<std::sync::Mutex<AgentState>>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let log = std::fs::create_dir_all(&layout.logs_dir)
            .and_then(|()| std::fs::OpenOptions::new().create(true).append(true).open(layout.logs_dir.join("crowdsec.log")));
        let mut cmd = tokio::process::Command::new(&bin);
        crate::support::process::clean_env(&mut cmd)
            .arg("-c")
            .arg(layout.config_file())
            .arg("-no-api")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Ok(log) = log {
            if let Ok(copy) = log.try_clone() {
                cmd.stdout(copy);
            }
            cmd.stderr(log);
        }
        let started = Instant::now();
        match cmd.spawn() {
            Ok(mut child) => {
                let pid = child.id().unwrap_or(0);
                // Recorded so that a node killed outright (SIGKILL, the OOM killer) stops the one
                // it leaves behind when it starts again, instead of running a second one.
                if let Err(e) = std::fs::write(layout.pid_file(), format!("{pid}\n")) {
                    tracing::warn!("[NODE] cannot record the log processor's pid: {e}");
                }
                tracing::info!(pid, "[NODE] log processor started");
                *state.lock().expect("agent lock") = AgentState { running: true, down_since: None };
                let stopping = tokio::select! {
                    status = child.wait() => {
                        tracing::warn!(?status, "[NODE] the log processor exited (the central Local API unreachable, or the machine refused); starting it again in {backoff:?}");
                        false
                    }
                    _ = stop.wait_for(|s| *s) => true,
                };
                if stopping {
                    if let Some(pid) = child.id() {
                        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
                    }
                    if tokio::time::timeout(STOP_TIMEOUT, child.wait()).await.is_err() {
                        let _ = child.kill().await;
                    }
                    let _ = std::fs::remove_file(layout.pid_file());
                    return;
                }
                let _ = std::fs::remove_file(layout.pid_file());
            }
            Err(e) => tracing::error!("[NODE] cannot start the log processor: {e}"),
        }
        {
            let mut s = state.lock().expect("agent lock");
            s.running = false;
            s.down_since.get_or_insert_with(crate::support::time::now);
        }
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

struct DataPlane {
    caddy: Option<DaemonSpec>,
    bouncer: DaemonSpec,
    admin: CaddyAdmin,
    caddy_dir: PathBuf,
    settings: ProxySettings,
}

impl DataPlane {
    fn caddy_json(&self, config: &NodeConfig) -> serde_json::Value {
        let sites: Vec<Site> = config.hosts.iter().filter_map(|h| Site::from_stored(&h.domain, &h.upstream, h.protect)).collect();
        caddy_config::build(&self.settings, &sites)
    }

    /// Starts what is not running (the bouncer first: Caddy dials it).
    async fn ensure_running(&self, config: &NodeConfig) -> anyhow::Result<()> {
        if self.bouncer.running().is_none() {
            self.bouncer.spawn()?;
        }
        let Some(caddy) = &self.caddy else { anyhow::bail!("caddy is not installed") };
        if caddy.running().is_none() {
            std::fs::create_dir_all(&self.caddy_dir)?;
            private(&self.caddy_dir)?;
            crate::support::files::write_if_changed(&self.caddy_dir.join("caddy.json"), &self.caddy_json(config).to_string())?;
            caddy.spawn()?;
        }
        Ok(())
    }

    async fn apply(&self, config: &NodeConfig) -> anyhow::Result<()> {
        let json = self.caddy_json(config);
        crate::support::files::write_if_changed(&self.caddy_dir.join("caddy.json"), &json.to_string())?;
        let answer = self.admin.post_json("/load", json.to_string()).await?;
        if !(200..300).contains(&answer.status) {
            anyhow::bail!("Caddy refused the hosts (HTTP {}): {}", answer.status, answer.body);
        }
        Ok(())
    }

    async fn stop(&self) {
        if let Some(c) = &self.caddy {
            c.stop(STOP_TIMEOUT).await;
        }
        self.bouncer.stop(STOP_TIMEOUT).await;
    }
}

/// Runs the edge node until a signal: SIGINT/SIGTERM leave Caddy and the bouncer serving (like
/// the console), SIGQUIT stops them too.
pub async fn run(config: Config, join_with: Option<Join>) -> anyhow::Result<()> {
    let shutdown = crate::shutdown::install()?;
    let data_dir = std::path::absolute(&config.data_dir)?;
    std::fs::create_dir_all(&data_dir)?;
    private(&data_dir)?;
    let files = Files { dir: data_dir.join("node") };
    let mut membership = match (std::fs::read_to_string(files.membership()), &join_with) {
        (Ok(text), Some(j)) => {
            let m: Membership = serde_json::from_str(&text)?;
            if m.url != j.url.trim().trim_end_matches('/') {
                anyhow::bail!("this node already belongs to {}; remove {} to join another central node", m.url, files.membership().display());
            }
            tracing::info!(node = %m.name, "[NODE] already joined; the token is not needed again");
            m
        }
        (Ok(text), None) => serde_json::from_str(&text)?,
        (Err(_), Some(j)) => join(&files, j).await?,
        (Err(_), None) => anyhow::bail!("this node has not joined a fleet yet: run charon node --join https://CENTRAL:PORT --token TOKEN"),
    };
    let ca_pem = std::fs::read_to_string(files.ca())?;
    let central = pinned_client(&ca_pem)?;

    // The log processor's files: the same generated layout as the console's engine, with
    // credentials for the central Local API.
    let crowdsec = config.crowdsec();
    let layout = Layout::new(&data_dir);
    layout.generate(&EngineSettings {
        lapi_listen: crowdsec.lapi_listen,
        prometheus: None,
        hub_source: crowdsec.hub_source.clone(),
        data_source: crowdsec.data_source.clone(),
        patterns_source: crowdsec.patterns_source.clone(),
        plugin_dir: crowdsec.plugin_dir.clone(),
        alert_hook: None,
        database: crate::config::engine_database::EngineDatabase::Sqlite,
    })?;
    let creds = AgentCredentials {
        url: format!("{}/", membership.url),
        login: &membership.machine_login,
        password: &membership.machine_password,
        ca_cert_path: files.ca().to_string_lossy().into_owned(),
    };
    write_private_file(&layout.credentials_file(), serde_norway::to_string(&creds)?.as_bytes())?;

    // The bouncer: its own key, the central stream through the fleet listener.
    let bouncer_files = BouncerFiles::new(&data_dir);
    std::fs::create_dir_all(&bouncer_files.dir)?;
    private(&bouncer_files.dir)?;
    write_private_file(&bouncer_files.key(), membership.bouncer_key.as_bytes())?;
    if !bouncer_files.sync_token().exists() {
        write_private_file(&bouncer_files.sync_token(), crate::auth::secret::random_hex(32).as_bytes())?;
    }
    let daemon = DaemonSettings::from_config(&config, Some(RemoteLapi { url: membership.url.clone(), ca_file: files.ca(), decisions_path: Some(wire::DECISIONS_PATH.to_owned()) }));
    crate::support::files::write_if_changed(&bouncer_files.settings(), &serde_json::to_string_pretty(&daemon)?)?;

    let logs_dir = data_dir.join("logs");
    let caddy_dir = data_dir.join("caddy");
    let admin = CaddyAdmin::new(caddy_dir.join("admin.sock"));
    let exe = config.bouncer_bin.clone().or_else(|| std::env::current_exe().ok()).unwrap_or_else(|| PathBuf::from("charon"));
    let plane = DataPlane {
        caddy: crate::support::process::find_binary(config.caddy_bin.as_deref(), "caddy").map(|b| data_plane::caddy_spec(&b, &caddy_dir, &logs_dir)),
        bouncer: data_plane::bouncer_spec(&exe, &data_dir, &bouncer_files.pid(), &logs_dir),
        settings: ProxySettings {
            listen: config.proxy_listen.clone(),
            admin: admin.listen(),
            bouncer_dial: format!("unix/{}", bouncer_files.check_socket().display()),
            access_log: layout.access_log.clone(),
            fail_mode: config.bouncer_fail_mode,
        },
        admin,
        caddy_dir,
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let agent_state = std::sync::Arc::new(std::sync::Mutex::new(AgentState::default()));
    // A log processor left by a node that was killed outright still reads the access log and
    // pushes alerts: it goes before this run starts its own.
    crate::crowdsec::process::stop_leftover(&layout).await;
    let agent = match crate::support::process::find_binary(crowdsec.bin.as_deref(), "crowdsec") {
        Some(bin) => {
            let version = engine_version(&bin).await;
            Some((tokio::spawn(keep_agent_running(bin, layout.clone(), agent_state.clone(), stop_rx.clone())), version))
        }
        None => {
            tracing::error!("[NODE] crowdsec is not installed: this node enforces but does not detect");
            None
        }
    };
    let engine_version = agent.as_ref().and_then(|(_, v)| v.clone());

    // The last hosts applied survive a restart while the central node is away.
    let applied_file = files.dir.join("hosts.json");
    let mut applied: Option<NodeConfig> = std::fs::read_to_string(&applied_file).ok().and_then(|t| serde_json::from_str(&t).ok());
    if let Err(e) = plane.ensure_running(applied.as_ref().unwrap_or(&NodeConfig::default())).await {
        tracing::error!("[NODE] data plane: {e:#}");
    }
    tracing::info!(node = %membership.name, central = %membership.url, "[NODE] running");

    let wait = shutdown.wait();
    tokio::pin!(wait);
    let mut hosts_tick = tokio::time::interval(HOSTS_EVERY);
    let mut report_tick = tokio::time::interval(REPORT_EVERY);
    let stats_url = format!("http://{}/bouncer/stats", config.bouncer_listen);
    let local = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let stop = loop {
        tokio::select! {
            stop = &mut wait => break stop,
            _ = hosts_tick.tick() => {
                let current = applied.clone().unwrap_or_default();
                if let Err(e) = plane.ensure_running(&current).await {
                    tracing::warn!("[NODE] data plane: {e:#}");
                }
                let fetched = central.get(format!("{}{}", membership.url, wire::CONFIG_PATH))
                    .header(wire::KEY_HEADER, &membership.bouncer_key)
                    .send().await;
                let config = match fetched {
                    Ok(r) if r.status().is_success() => r.json::<NodeConfig>().await.ok(),
                    Ok(r) => { tracing::debug!(status = r.status().as_u16(), "[NODE] the central node refused the configuration call"); None }
                    Err(e) => { tracing::debug!("[NODE] the central node is unreachable: {}", e.without_url()); None }
                };
                if let Some(mut config) = config {
                    if std::mem::take(&mut config.rotate_key) {
                        match rotate_key(&central, &membership).await {
                            Ok(key) => {
                                membership.bouncer_key = key;
                                write_private_file(&files.membership(), serde_json::to_string_pretty(&membership)?.as_bytes())?;
                                // The bouncer follows its key file within a second.
                                write_private_file(&bouncer_files.key(), membership.bouncer_key.as_bytes())?;
                                tracing::info!("[NODE] replaced this node's key as the central node asked");
                            }
                            Err(e) => tracing::warn!("[NODE] the key could not be replaced yet (tried again in a second): {e:#}"),
                        }
                    }
                    if applied.as_ref() != Some(&config) {
                        match plane.apply(&config).await {
                            Ok(()) => {
                                tracing::info!(hosts = config.hosts.len(), "[NODE] applied the proxy hosts");
                                let _ = write_private_file(&applied_file, serde_json::to_string(&config)?.as_bytes());
                                applied = Some(config);
                            }
                            Err(e) => tracing::warn!("[NODE] the proxy hosts are not applied yet (tried again in a second): {e:#}"),
                        }
                    }
                }
            }
            _ = report_tick.tick() => {
                let stats: Option<app::proxy::model::BouncerStats> = match local.get(&stats_url).send().await {
                    Ok(r) => r.json().await.ok(),
                    Err(_) => None,
                };
                let agent = *agent_state.lock().expect("agent lock");
                let report = NodeReport {
                    version: VERSION.to_owned(),
                    engine_version: engine_version.clone(),
                    agent_running: agent.running,
                    agent_down_since: agent.down_since,
                    decisions: stats.as_ref().map(|s| s.decisions as u64),
                    blocked: stats.as_ref().map(|s| s.blocked),
                    last_sync: stats.as_ref().and_then(|s| s.last_pull),
                    hosts: applied.as_ref().map_or(0, |c| c.hosts.len()),
                };
                let sent = central.post(format!("{}{}", membership.url, wire::REPORT_PATH))
                    .header(wire::KEY_HEADER, &membership.bouncer_key)
                    .json(&report)
                    .send().await;
                if let Ok(r) = sent {
                    if r.status().as_u16() == 401 {
                        tracing::warn!("[NODE] the central node no longer knows this node (removed?)");
                    }
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    if let Some((task, _)) = agent {
        let _ = task.await;
    }
    if stop == crate::shutdown::Stop::Everything {
        plane.stop().await;
    }
    tracing::info!("[NODE] stopped");
    Ok(())
}
