//! Processes Charon runs but does not own as children: finding a binary, and stopping a process
//! by pid (the caller re-checks its identity, so a reused pid is never hit).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// `name` on `PATH`, or the configured path.
pub fn find_binary(configured: Option<&Path>, name: &str) -> Option<PathBuf> {
    if let Some(p) = configured {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Stops a process that is not our child: SIGTERM, then SIGKILL when it is still `alive()` after
/// `timeout`. `alive` must re-check the identity (pid file + cmdline), so a reused pid is never hit.
pub async fn terminate_pid(pid: i32, timeout: Duration, alive: impl Fn() -> bool) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
    let deadline = Instant::now() + timeout;
    while alive() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if alive() {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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

/// What a child process (crowdsec, cscli, caddy, the bouncer) keeps of Charon's environment.
/// Everything else stays behind — `CHARON_CROWDSEC_BOUNCER_KEY` and whatever else the console was
/// started with must not leak into programs that do not need it (nor into `/proc/<pid>/environ`).
const KEPT_ENV: &[&str] = &[
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "RUST_LOG", "RUST_BACKTRACE",
    "CHARON_LOG_FORMAT", "CHARON_LOG_LEVEL",
];

/// Clears `cmd`'s environment down to [`KEPT_ENV`].
pub fn clean_env(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    cmd.env_clear();
    for key in KEPT_ENV {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    cmd
}
