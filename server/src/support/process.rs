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

/// Live processes of process group `pgid` whose program lies under `dir` (a reused group id or a
/// stranger's process is never listed; zombies are left out: they are dead already).
pub fn group_members_under(pgid: i32, dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            let rest: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
            let in_group = rest.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid);
            let alive = rest.first().is_some_and(|state| *state != "Z");
            in_group && alive && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| Path::new(&*String::from_utf8_lossy(c.split(|b| *b == 0).next().unwrap_or_default())).starts_with(dir))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_member_is_found_only_under_its_directory() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("notification-sleep");
        std::fs::copy("/bin/sleep", &program).unwrap();
        let mut child = std::process::Command::new(&program).arg("30").process_group(0).spawn().unwrap();
        let pgid = child.id() as i32;
        let t0 = Instant::now();
        while group_members_under(pgid, dir.path()).is_empty() {
            assert!(t0.elapsed() < Duration::from_secs(5), "not found");
        }
        assert_eq!(group_members_under(pgid, dir.path()), vec![pgid]);
        assert!(group_members_under(pgid, Path::new("/usr/lib")).is_empty(), "another directory's programs are not ours");
        assert!(group_members_under(pgid + 1_000_000, dir.path()).is_empty());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(group_members_under(pgid, dir.path()).is_empty(), "a reaped process is gone");
    }
}
