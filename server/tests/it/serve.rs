//! `charon serve` as a real process: JSON logs on request, a clean exit on SIGTERM and SIGINT that
//! leaves the data plane serving, and SIGQUIT (`systemctl stop`) that stops it too.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start(data_dir: &std::path::Path) -> (Child, BufReader<std::process::ChildStderr>, String) {
    // The data plane binds fixed ports and outlives the process: only where a test asks for it.
    start_with(data_dir, &[("CHARON_PROXY_ENABLED", "false")])
}

pub fn start_with(data_dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, BufReader<std::process::ChildStderr>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_charon"))
        .arg("serve")
        .env("CHARON_LISTEN", "127.0.0.1:0")
        .env("CHARON_DATA_DIR", data_dir)
        .env("CHARON_LOG_FORMAT", "json")
        .env("CHARON_LOG_LEVEL", "info")
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("charon exited before listening");
        }
        if line.contains("charon is listening") {
            return (child, stderr, line.clone());
        }
    }
    panic!("charon did not start listening in time");
}

pub fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "charon did not stop within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn logs_json_and_stops_cleanly_on_sigterm_and_sigint() {
    let dir = tempfile::tempdir().unwrap();
    for signal in ["TERM", "INT"] {
        let (mut child, mut stderr, listening) = start(dir.path());
        let event: serde_json::Value = serde_json::from_str(&listening).expect("a JSON log line");
        assert_eq!(event["level"], "INFO");
        assert_eq!(event["message"], "charon is listening");
        assert!(event["address"].as_str().unwrap().starts_with("127.0.0.1:"));

        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = wait_exit(&mut child);
        assert!(status.success(), "SIG{signal}: {status}");
        let mut rest = String::new();
        while stderr.read_line(&mut rest).unwrap() > 0 {}
        assert!(rest.contains("shutting down"), "{rest}");
    }
    assert!(dir.path().join("charon.db").exists());
}

pub fn signal(child: &Child, signal: &str) {
    let ok = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

/// The pids of Caddy and the bouncer once both run (from their pid files; live processes).
pub fn data_plane_pids(data_dir: &std::path::Path) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pids: Vec<i32> = ["caddy/caddy.pid", "bouncer/bouncer.pid"]
            .iter()
            .filter_map(|f| std::fs::read_to_string(data_dir.join(f)).ok()?.trim().parse().ok())
            .filter(|pid| alive(*pid))
            .collect();
        if pids.len() == 2 {
            return pids;
        }
        assert!(Instant::now() < deadline, "the data plane did not start: {pids:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A live process (a zombie, reaped by nobody once its parent exited, counts as gone).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
}

/// Kills what a failed run leaves behind.
pub struct Reaper(pub Vec<i32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

#[test]
fn sigterm_leaves_the_data_plane_serving_for_the_next_console_and_sigquit_stops_it_too() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = format!("127.0.0.1:{}", crate::common::free_port());
    let bouncer = format!("127.0.0.1:{}", crate::common::free_port());
    let lapi = format!("127.0.0.1:{}", crate::common::free_port());
    let env = [
        ("CHARON_PROXY_LISTEN", proxy.as_str()),
        ("CHARON_BOUNCER_LISTEN", bouncer.as_str()),
        ("CHARON_CROWDSEC_LAPI_LISTEN", lapi.as_str()),
        ("CHARON_CROWDSEC_PROMETHEUS", "off"),
    ];
    // SIGTERM (`systemctl restart`): the console goes, Caddy and the bouncer stay.
    let (mut child, _stderr, _) = start_with(dir.path(), &env);
    let pids = data_plane_pids(dir.path());
    let _reaper = Reaper(pids.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&proxy).is_err() {
        assert!(Instant::now() < deadline, "Caddy never listened on {proxy}");
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&child, "TERM");
    assert!(wait_exit(&mut child).success());
    assert!(pids.iter().all(|p| alive(*p)), "the data plane stopped with the console");
    assert!(std::net::TcpStream::connect(&proxy).is_ok(), "Caddy stopped serving");

    // The next console adopts them; SIGQUIT (`systemctl stop`) stops everything.
    let (mut child, mut stderr, _) = start_with(dir.path(), &env);
    assert_eq!(data_plane_pids(dir.path()), pids, "the next console adopted the same processes");
    signal(&child, "QUIT");
    assert!(wait_exit(&mut child).success());
    let mut rest = String::new();
    while stderr.read_line(&mut rest).unwrap() > 0 {}
    assert!(rest.contains("shutting down with the data plane"), "{rest}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| alive(*p)) {
        assert!(Instant::now() < deadline, "the data plane outlived SIGQUIT");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(std::net::TcpStream::connect(&proxy).is_err(), "Caddy still listens");
}
