//! The data plane's processes — Caddy and `charon bouncer` — started **detached** (their own
//! process group, output to a log file, never killed when the console exits) and found again by
//! pid file + `/proc/<pid>/cmdline` after a restart of the console, which adopts them instead of
//! starting a second copy.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::support::process::is_live_process;
use crate::support::process::terminate_pid;

/// How to start one data-plane process and recognise it later.
#[derive(Debug, Clone)]
pub struct DaemonSpec {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, OsString)>,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
    /// Program name suffix and one argument that identify it in `/proc/<pid>/cmdline`.
    pub program_name: &'static str,
    pub marker: PathBuf,
}

impl DaemonSpec {
    /// The pid of the running instance, if the pid file names a live process of ours.
    pub fn running(&self) -> Option<u32> {
        let pid = std::fs::read_to_string(&self.pid_file).ok()?.trim().parse::<i32>().ok()?;
        is_live_process(pid, self.program_name, &self.marker).then_some(pid as u32)
    }

    /// Starts it in its own process group with output appended to its log file, and records the
    /// pid. A task reaps it when it exits while this console runs; after the console exits it is
    /// re-parented and keeps running.
    pub fn spawn(&self) -> std::io::Result<u32> {
        if let Some(dir) = self.log_file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log_file)?;
        let mut cmd = tokio::process::Command::new(&self.program);
        crate::support::process::clean_env(&mut cmd)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .kill_on_drop(false);
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or(0);
        std::fs::write(&self.pid_file, format!("{pid}\n"))?;
        let name = self.name;
        tokio::spawn(async move {
            let status = child.wait().await;
            tracing::warn!(pid, ?status, "[DATA_PLANE] {name} exited");
        });
        tracing::info!(pid, "[DATA_PLANE] started {name}");
        Ok(pid)
    }

    /// SIGTERM, then SIGKILL after `timeout`.
    pub async fn stop(&self, timeout: Duration) {
        let Some(pid) = self.running() else { return };
        terminate_pid(pid as i32, timeout, || self.running().is_some()).await;
        let _ = std::fs::remove_file(&self.pid_file);
        tracing::info!(pid, "[DATA_PLANE] stopped {}", self.name);
    }
}

/// `caddy run` on a config file, with its state (certificates, autosave) under `dir`.
pub fn caddy_spec(bin: &Path, dir: &Path, logs_dir: &Path) -> DaemonSpec {
    let config = dir.join("caddy.json");
    DaemonSpec {
        name: "caddy",
        program: bin.to_path_buf(),
        args: vec!["run".into(), "--config".into(), config.clone().into()],
        env: vec![
            ("XDG_DATA_HOME".into(), dir.join("data").into()),
            ("XDG_CONFIG_HOME".into(), dir.join("config").into()),
            ("HOME".into(), dir.to_path_buf().into()),
        ],
        pid_file: dir.join("caddy.pid"),
        log_file: logs_dir.join("caddy.log"),
        program_name: "caddy",
        marker: config,
    }
}

/// `charon --data-dir <data> bouncer` with the running executable.
pub fn bouncer_spec(exe: &Path, data_dir: &Path, pid_file: &Path, logs_dir: &Path) -> DaemonSpec {
    DaemonSpec {
        name: "bouncer",
        program: exe.to_path_buf(),
        args: vec!["--data-dir".into(), data_dir.into(), "bouncer".into()],
        env: Vec::new(),
        pid_file: pid_file.to_path_buf(),
        log_file: logs_dir.join("bouncer.log"),
        program_name: "charon",
        marker: data_dir.to_path_buf(),
    }
}
