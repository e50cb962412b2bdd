//! `charon serve` as a real process: JSON logs on request, and a clean exit on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start(data_dir: &std::path::Path) -> (Child, BufReader<std::process::ChildStderr>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_charon"))
        .arg("serve")
        .env("CHARON_LISTEN", "127.0.0.1:0")
        .env("CHARON_DATA_DIR", data_dir)
        .env("CHARON_LOG_FORMAT", "json")
        .env("CHARON_LOG_LEVEL", "info")
        // The data plane binds fixed ports and outlives the process: not here.
        .env("CHARON_PROXY_ENABLED", "false")
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

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
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
