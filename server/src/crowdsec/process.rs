//! The engine's process supervisor: starts `crowdsec -c <config>` as a child in its own process
//! group, copies its output to `logs/crowdsec.log` and to Charon's log (start-up lines prefixed
//! `[CROWDSEC_STARTUP]`), decides readiness (LAPI `/health` plus a machine login), restarts it after
//! an unexpected exit with exponential backoff (1 s doubling to 30 s, reset after a healthy minute),
//! and stops it with SIGTERM, then SIGKILL after a timeout, always reaping it (no zombie).
//!
//! One run loop task owns the child; `start`/`stop` talk to it. A pid file lets the next server
//! start find an engine left behind by a hard crash of the server and stop it first, so there are
//! never two engines on one data dir.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};

use app::security::model::{EngineState, EngineStatus};

use super::credentials::MachineCredentials;
use super::lapi::Lapi;
use super::layout::Layout;
use super::engine_log::{EngineLog, Loaded};
use crate::support::process::{clean_env, is_live_process, terminate_pid};

pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
pub const BACKOFF_START: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
const HEALTHY_RESET: Duration = Duration::from_secs(60);

/// Why a run of the engine ended before or after becoming ready.
#[derive(Debug, Clone)]
pub struct RunFailure(pub String);

pub struct RunLoop {
    stop_tx: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunLoop {
    /// Asks the loop to stop the engine and waits until it is gone.
    pub async fn stop(self) {
        let _ = self.stop_tx.send(true);
        let _ = self.task.await;
    }
}

#[derive(Clone)]
pub struct ProcessConfig {
    pub bin: PathBuf,
    pub layout: Layout,
    pub lapi: Lapi,
    pub ready_timeout: Duration,
    /// How long the LAPI may fail its health check before the engine is restarted.
    pub watchdog: Duration,
    /// What the current run reported loading; cleared at each spawn.
    pub loaded: Arc<StdMutex<Loaded>>,
    /// Extra environment (the alert hook's token, which its notification file names).
    pub env: Vec<(String, String)>,
}

/// Publishes status changes; shared with the supervisor for reads.
pub type StatusTx = Arc<watch::Sender<EngineStatus>>;

fn update(status: &StatusTx, f: impl FnOnce(&mut EngineStatus)) {
    status.send_modify(f);
}

fn mark_stopped(status: &StatusTx) {
    update(status, |s| {
        s.state = EngineState::Stopped;
        s.pid = None;
        s.lapi_ready = false;
        s.started_at = None;
        s.unresponsive_since = None;
    });
}

fn now_rfc3339() -> String {
    crate::support::time::rfc3339(crate::support::time::now())
}

/// Starts the run loop and waits for the first start's outcome (ready, or why not). When the first
/// start fails the loop has already ended and the engine is not running.
pub async fn spawn(cfg: ProcessConfig, status: StatusTx) -> Result<RunLoop, RunFailure> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (first_tx, first_rx) = oneshot::channel();
    let task = tokio::spawn(run_loop(cfg, status, stop_rx, first_tx));
    match first_rx.await {
        Ok(Ok(())) => Ok(RunLoop { stop_tx, task }),
        Ok(Err(e)) => {
            let _ = task.await;
            Err(e)
        }
        Err(_) => Err(RunFailure("the supervisor task ended unexpectedly".into())),
    }
}

/// Resolves once a stop was requested (the watch guard is dropped before returning, so callers
/// may await again).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn run_loop(
    cfg: ProcessConfig,
    status: StatusTx,
    mut stop_rx: watch::Receiver<bool>,
    first_tx: oneshot::Sender<Result<(), RunFailure>>,
) {
    let mut first = Some(first_tx);
    let mut backoff = BACKOFF_START;
    loop {
        update(&status, |s| {
            s.state = EngineState::Starting;
            s.lapi_ready = false;
            s.pid = None;
        });
        let mut run = match Run::spawn(&cfg) {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("could not start {}: {e}", cfg.bin.display());
                tracing::error!("[CROWDSEC_STARTUP] {msg}");
                update(&status, |s| {
                    s.state = EngineState::Crashed;
                    s.last_error = Some(msg.clone());
                });
                if let Some(tx) = first.take() {
                    let _ = tx.send(Err(RunFailure(msg)));
                }
                return;
            }
        };
        update(&status, |s| s.pid = Some(run.pid));

        // Wait for readiness, an exit, or a stop request.
        let outcome = tokio::select! {
            r = run.wait_ready(&cfg) => r,
            _ = stopped(&mut stop_rx) => {
                run.terminate().await;
                mark_stopped(&status);
                if let Some(tx) = first.take() { let _ = tx.send(Err(RunFailure("stopped before it was ready".into()))); }
                return;
            }
        };
        if let Err(e) = outcome {
            run.terminate().await;
            tracing::error!("[CROWDSEC_STARTUP] {}", e.0);
            update(&status, |s| {
                s.state = EngineState::Crashed;
                s.pid = None;
                s.last_error = Some(e.0.clone());
            });
            if let Some(tx) = first.take() {
                // The user's start failed: report it and do not keep retrying behind their back.
                let _ = tx.send(Err(e));
                return;
            }
        } else {
            run.log.ready();
            let since = Instant::now();
            tracing::info!(pid = run.pid, "[CROWDSEC_STARTUP] CrowdSec started and LAPI is ready");
            update(&status, |s| {
                s.state = EngineState::Running;
                s.lapi_ready = true;
                s.started_at = Some(now_rfc3339());
                s.last_error = None;
            });
            if let Some(tx) = first.take() {
                let _ = tx.send(Ok(()));
            }
            // Running: until it exits, stops answering for too long, or we are asked to stop.
            tokio::select! {
                frozen_for = watchdog(&cfg.lapi, &status, cfg.watchdog) => {
                    let msg = format!("CrowdSec's Local API did not answer for {} s; restarting it", frozen_for.as_secs());
                    tracing::error!("[CROWDSEC] {msg}");
                    run.terminate().await;
                    update(&status, |s| {
                        s.state = EngineState::Crashed;
                        s.pid = None;
                        s.lapi_ready = false;
                        s.unresponsive_since = None;
                        s.last_error = Some(msg.clone());
                    });
                }
                exit = run.child.wait() => {
                    let how = match exit {
                        Ok(st) => format!("CrowdSec exited unexpectedly ({st})"),
                        Err(e) => format!("CrowdSec vanished: {e}"),
                    };
                    let tail = run.log.tail();
                    let msg = if tail.is_empty() { how } else { format!("{how}: {tail}") };
                    tracing::error!("{msg}");
                    // Its notification plugins share its process group and would outlive it: the
                    // group's id stays taken while any of them lives, so this reaches only them.
                    let _ = killpg(Pid::from_raw(run.pid as i32), Signal::SIGKILL);
                    run.forget();
                    update(&status, |s| {
                        s.state = EngineState::Crashed;
                        s.pid = None;
                        s.lapi_ready = false;
                        s.last_error = Some(msg.clone());
                    });
                    if since.elapsed() >= HEALTHY_RESET {
                        backoff = BACKOFF_START;
                    }
                }
                _ = stopped(&mut stop_rx) => {
                    run.terminate().await;
                    mark_stopped(&status);
                    return;
                }
            }
        }

        // Crashed: wait, then try again (a stop request cuts the wait short).
        tracing::warn!(delay_ms = backoff.as_millis() as u64, "restarting CrowdSec after a crash");
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped(&mut stop_rx) => {
                mark_stopped(&status);
                return;
            }
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
        update(&status, |s| s.restarts += 1);
    }
}

/// How often the running engine's LAPI is asked `/health`, and how long one answer may take.
const HEALTH_EVERY: Duration = Duration::from_secs(3);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Watches a running engine: when its LAPI misses two health checks in a row (one slow answer on
/// a busy machine is not a frozen engine), the status says so ("unresponsive", since when) —
/// within 10 s; when it answers again, it is running again. Returns (so the engine is restarted)
/// once it has not answered for `limit`.
async fn watchdog(lapi: &Lapi, status: &StatusTx, limit: Duration) -> Duration {
    let mut first_miss: Option<Instant> = None;
    let mut reported = false;
    loop {
        tokio::time::sleep(HEALTH_EVERY).await;
        let asked = Instant::now();
        let answered = matches!(tokio::time::timeout(HEALTH_TIMEOUT, lapi.health()).await, Ok(Ok(())));
        if answered {
            if reported {
                tracing::info!("[CROWDSEC] the Local API answers again");
                update(status, |s| {
                    s.state = EngineState::Running;
                    s.lapi_ready = true;
                    s.unresponsive_since = None;
                    s.last_error = None;
                });
            }
            first_miss = None;
            reported = false;
            continue;
        }
        let since = *first_miss.get_or_insert(asked);
        if !reported && since != asked {
            reported = true;
            let at = crate::support::time::rfc3339(crate::support::time::now() - since.elapsed().as_secs() as i64);
            tracing::warn!("[CROWDSEC] the Local API stopped answering its health check");
            update(status, |s| {
                s.state = EngineState::Unresponsive;
                s.lapi_ready = false;
                s.last_error = Some(format!("the Local API has not answered since {at}"));
                s.unresponsive_since = Some(at);
            });
        }
        if since.elapsed() >= limit {
            return since.elapsed();
        }
    }
}

/// One running engine process.
struct Run {
    child: Child,
    pid: u32,
    pid_file: PathBuf,
    log: EngineLog,
}

impl Run {
    fn spawn(cfg: &ProcessConfig) -> std::io::Result<Run> {
        let mut cmd = Command::new(&cfg.bin);
        clean_env(&mut cmd)
            .envs(cfg.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("-c")
            .arg(cfg.layout.config_file())
            .current_dir(&cfg.layout.root)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(false);
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or(0);
        let pid_file = cfg.layout.pid_file();
        std::fs::write(&pid_file, format!("{pid}\n"))?;
        if let Ok(mut l) = cfg.loaded.lock() {
            *l = Loaded::default();
        }
        let log = EngineLog::open(&cfg.layout.engine_log(), cfg.loaded.clone())?;
        if let Some(out) = child.stdout.take() {
            log.pump(out);
        }
        if let Some(err) = child.stderr.take() {
            log.pump(err);
        }
        tracing::info!(pid, "[CROWDSEC_STARTUP] starting {} -c {}", cfg.bin.display(), cfg.layout.config_file().display());
        Ok(Run { child, pid, pid_file, log })
    }

    /// Ready = the LAPI answers `/health`, accepts the machine login, and the agent has loaded its
    /// parsers, scenarios and acquisition (it logs "Starting processing data"). The LAPI alone is up
    /// a second or two earlier, and an agent that then fails on a bad parser would exit right after
    /// a "ready" start. Fails when the process exits first or the timeout passes.
    async fn wait_ready(&mut self, cfg: &ProcessConfig) -> Result<(), RunFailure> {
        let deadline = Instant::now() + cfg.ready_timeout;
        let creds = MachineCredentials::load(&cfg.layout.credentials_file())
            .map_err(|e| RunFailure(format!("machine credentials unreadable: {e}")))?;
        loop {
            if let Some(st) = self.child.try_wait().map_err(|e| RunFailure(e.to_string()))? {
                let tail = self.log.tail();
                return Err(RunFailure(format!("CrowdSec exited during start-up ({st}){}", if tail.is_empty() { String::new() } else { format!(": {tail}") })));
            }
            if self.log.processing()
                && cfg.lapi.health().await.is_ok()
                && cfg.lapi.login(&creds.login, creds.password()).await.is_ok()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(RunFailure(format!(
                    "LAPI not available after {} s",
                    cfg.ready_timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM to the group, SIGKILL after `STOP_TIMEOUT`, and reap.
    async fn terminate(&mut self) {
        let pgid = Pid::from_raw(self.pid as i32);
        let _ = killpg(pgid, Signal::SIGTERM);
        // A frozen (stopped) engine only sees the SIGTERM once it runs again.
        let _ = killpg(pgid, Signal::SIGCONT);
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(pid = self.pid, "CrowdSec ignored SIGTERM; sending SIGKILL");
                let _ = killpg(pgid, Signal::SIGKILL);
                let _ = self.child.wait().await;
            }
        }
        // Anything of its group still there (a plugin that ignored SIGTERM).
        let _ = killpg(pgid, Signal::SIGKILL);
        self.forget();
        tracing::info!(pid = self.pid, "CrowdSec stopped");
    }

    fn forget(&self) {
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// After a hard crash of the server, an engine may still run on this data dir. Finds it by the
/// pid file and `/proc/<pid>/cmdline` (so a reused pid is never killed) and stops it.
pub async fn stop_leftover(layout: &Layout) {
    let pid_file = layout.pid_file();
    let Some(pid) = std::fs::read_to_string(&pid_file).ok().and_then(|s| s.trim().parse::<i32>().ok()) else {
        return;
    };
    let config = layout.config_file();
    if is_our_engine(pid, &config) {
        tracing::warn!(pid, "[CROWDSEC_STARTUP] found an engine left by a previous run of Charon; stopping it");
        terminate_pid(pid, STOP_TIMEOUT, || is_our_engine(pid, &config)).await;
    }
    // Its notification plugins (its process group, whose id is its pid) outlive an engine that
    // died with the console (a closed log pipe): they go too.
    let plugins = std::path::absolute(layout.plugins_dir()).unwrap_or_else(|_| layout.plugins_dir());
    for orphan in crate::support::process::group_members_under(pid, &plugins) {
        tracing::warn!(pid = orphan, "[CROWDSEC_STARTUP] stopping a notification plugin left by a previous engine");
        let _ = nix::sys::signal::kill(Pid::from_raw(orphan), Signal::SIGKILL);
    }
    let _ = std::fs::remove_file(&pid_file);
}

/// True when `pid` is a live crowdsec process started with this data dir's config.
pub fn is_our_engine(pid: i32, config: &Path) -> bool {
    is_live_process(pid, "crowdsec", config)
}
