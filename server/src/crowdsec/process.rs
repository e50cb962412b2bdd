//! The engine's process supervisor: starts `crowdsec -c <config>` as a child in its own process
//! group, copies its output to `logs/crowdsec.log` and to Charon's log (start-up lines prefixed
//! `[CROWDSEC_STARTUP]`), decides readiness (LAPI `/health` plus a machine login), restarts it after
//! an unexpected exit with exponential backoff (1 s doubling to 30 s, reset after a healthy minute),
//! and stops it with SIGTERM, then SIGKILL after a timeout, always reaping it (no zombie).
//!
//! One run loop task owns the child; `start`/`stop` talk to it. A pid file lets the next server
//! start find an engine left behind by a hard crash of the server and stop it first, so there are
//! never two engines on one data dir.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};

use app::security::model::{EngineState, EngineStatus};

use super::credentials::MachineCredentials;
use super::lapi::Lapi;
use super::layout::Layout;
use crate::support::process::terminate_pid;

pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
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
    /// What the current run reported loading; cleared at each spawn.
    pub loaded: Arc<StdMutex<Loaded>>,
}

/// The parser, postoverflow and scenario files and the scenarios the engine reported loading at
/// its last start (its own log: `Loaded N parser nodes file=…`, `Adding <kind> bucket file=…
/// name=…`). This is how a hub install is verified: the engine, not the file system, says what
/// runs. Files, not names: a hub item's index name is not always the name of the scenario(s) its
/// file defines (`crowdsecurity/CVE-2022-46169` defines `…-bf` and `…-cmd`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    pub files: std::collections::HashSet<PathBuf>,
    pub scenarios: std::collections::HashSet<String>,
}

impl Loaded {
    /// Records what one start-up log line reports.
    pub fn observe(&mut self, line: &str) {
        if line.contains("msg=\"Loaded ") && line.contains(" parser nodes\"") {
            if let Some(f) = logrus_field(line, "file") {
                self.files.insert(PathBuf::from(f));
            }
        } else if line.contains("msg=\"Adding ") && line.contains(" bucket\"") {
            if let Some(f) = logrus_field(line, "file") {
                self.files.insert(PathBuf::from(f));
            }
            if let Some(n) = logrus_field(line, "name") {
                self.scenarios.insert(n);
            }
        }
    }
}

/// The value of `key=` in a logrus text line (`key=value` or `key="quoted \" value"`).
fn logrus_field(line: &str, key: &str) -> Option<String> {
    let pat = format!(" {key}=");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return Some(out),
                c => out.push(c),
            }
        }
        None
    } else {
        Some(rest.split_whitespace().next().unwrap_or_default().to_owned())
    }
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
            // Running: until it exits or we are asked to stop.
            tokio::select! {
                exit = run.child.wait() => {
                    let how = match exit {
                        Ok(st) => format!("CrowdSec exited unexpectedly ({st})"),
                        Err(e) => format!("CrowdSec vanished: {e}"),
                    };
                    let tail = run.log.tail();
                    let msg = if tail.is_empty() { how } else { format!("{how}: {tail}") };
                    tracing::error!("{msg}");
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
        cmd.arg("-c")
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
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(pid = self.pid, "CrowdSec ignored SIGTERM; sending SIGKILL");
                let _ = killpg(pgid, Signal::SIGKILL);
                let _ = self.child.wait().await;
            }
        }
        self.forget();
        tracing::info!(pid = self.pid, "CrowdSec stopped");
    }

    fn forget(&self) {
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// The engine's output: appended to `logs/crowdsec.log`, echoed to Charon's log, and the last
/// lines kept for error messages.
#[derive(Clone)]
struct EngineLog {
    file: Arc<StdMutex<std::fs::File>>,
    tail: Arc<StdMutex<VecDeque<String>>>,
    starting: Arc<std::sync::atomic::AtomicBool>,
    processing: Arc<std::sync::atomic::AtomicBool>,
    loaded: Arc<StdMutex<Loaded>>,
}

impl EngineLog {
    fn open(path: &Path, loaded: Arc<StdMutex<Loaded>>) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(EngineLog {
            file: Arc::new(StdMutex::new(file)),
            tail: Arc::new(StdMutex::new(VecDeque::new())),
            starting: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            processing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            loaded,
        })
    }

    /// The agent finished loading and reads its sources.
    fn processing(&self) -> bool {
        self.processing.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn ready(&self) {
        self.starting.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    fn pump(&self, stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("Starting processing data") {
                    this.processing.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                if let Ok(mut f) = this.file.lock() {
                    let _ = writeln!(f, "{line}");
                }
                if this.starting.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(mut l) = this.loaded.lock() {
                        l.observe(&line);
                    }
                    tracing::info!("[CROWDSEC_STARTUP] {line}");
                } else if line.contains("level=error") || line.contains("level=fatal") {
                    tracing::warn!("[CROWDSEC] {line}");
                } else {
                    tracing::debug!("[CROWDSEC] {line}");
                }
                if let Ok(mut t) = this.tail.lock() {
                    t.push_back(line);
                    if t.len() > 20 {
                        t.pop_front();
                    }
                }
            }
        });
    }

    /// The most telling recent line: the last fatal/error, else the last line.
    fn tail(&self) -> String {
        let t = self.tail.lock().map(|t| t.clone()).unwrap_or_default();
        let pick = t
            .iter()
            .rev()
            .find(|l| l.contains("level=fatal") || l.contains("level=error"))
            .or_else(|| t.back())
            .cloned()
            .unwrap_or_default();
        match pick.split_once("msg=\"") {
            Some((_, rest)) => rest.trim_end_matches('"').to_owned(),
            None => pick,
        }
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
    let _ = std::fs::remove_file(&pid_file);
}

/// True when `pid` is a live crowdsec process started with this data dir's config.
pub fn is_our_engine(pid: i32, config: &Path) -> bool {
    is_live_process(pid, "crowdsec", config)
}

/// True when `pid` is a live (not zombie) process whose program name ends with `program` and one
/// of whose arguments is `arg` — how a pid file is checked before a signal is sent, so a reused pid
/// is never hit.
pub fn is_live_process(pid: i32, program: &str, arg: &Path) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie (state Z) is already dead; its parent just has not reaped it yet.
        if stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')) {
            return false;
        }
    }
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let is_program = args.first().is_some_and(|a| a.ends_with(program));
    is_program && args.iter().any(|a| Path::new(a) == arg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_up_lines_name_the_loaded_parsers_and_scenarios() {
        let mut l = Loaded::default();
        for line in [
            r#"time="25-11-2026 17:48:33" level=info msg="Loaded 1 parser nodes" file=/d/config/parsers/s01-parse/caddy-logs.yaml stage=s01-parse"#,
            r#"time="25-11-2026 17:48:33" level=info msg="Loaded 1 parser nodes" file="/d i r/config/parsers/s02-enrich/x.yaml" stage=s02-enrich"#,
            r#"time="25-11-2026 17:48:33" level=info msg="Adding leaky bucket" cfg=holy-sea file=/d/config/scenarios/a.yaml name=crowdsecurity/http-probing"#,
            r#"time="25-11-2026 17:48:33" level=info msg="Adding trigger bucket" cfg=divine-sea file=/d/s.yaml name=crowdsecurity/CVE-2022-26134"#,
            r#"time="25-11-2026 17:48:33" level=warning msg="Loaded 35 scenarios""#,
        ] {
            l.observe(line);
        }
        assert!(l.files.contains(Path::new("/d/config/parsers/s01-parse/caddy-logs.yaml")));
        assert!(l.files.contains(Path::new("/d i r/config/parsers/s02-enrich/x.yaml")));
        assert!(l.files.contains(Path::new("/d/config/scenarios/a.yaml")));
        assert_eq!(l.files.len(), 4);
        let mut s: Vec<_> = l.scenarios.into_iter().collect();
        s.sort();
        assert_eq!(s, ["crowdsecurity/CVE-2022-26134", "crowdsecurity/http-probing"]);
    }
}
