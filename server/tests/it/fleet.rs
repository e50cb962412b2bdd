//! The central node's Local API on PostgreSQL (issue "Fleet", part 1): a PostgreSQL server from
//! Debian's package, started by the test as user `postgres` on a loopback port in a temp dir (never
//! a system service), and the real engine configured with `crowdsec_database_url`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use super::common::*;

/// A PostgreSQL server of its own for one test; stopped when dropped.
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

fn pg_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path().join("bin")).filter(|b| b.join("initdb").exists()).collect();
    found.sort();
    found.pop()
}

fn as_postgres(bin: &Path, tool: &str, args: &[&str]) {
    let out = Command::new("runuser").args(["-u", "postgres", "--"]).arg(bin.join(tool)).args(args).output().expect("runuser");
    assert!(out.status.success(), "{tool} {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

impl Postgres {
    /// `None` when Debian's `postgresql` is not installed (`scripts/setup.sh --test` installs it).
    pub fn start() -> Option<Postgres> {
        let bin = pg_bin()?;
        let dir = tempfile::Builder::new().prefix("charon-pg-").tempdir().unwrap();
        let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
        assert!(status.success());
        let data = dir.path().join("data");
        // Local socket connections are trusted (the socket lives in this private temp dir); TCP
        // needs a password.
        as_postgres(&bin, "initdb", &["-D", data.to_str().unwrap(), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"]);
        let port = free_port();
        let opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", dir.path().display());
        let log = dir.path().join("postgres.log");
        as_postgres(&bin, "pg_ctl", &["-D", data.to_str().unwrap(), "-o", &opts, "-l", log.to_str().unwrap(), "-w", "-t", "60", "start"]);
        Some(Postgres { bin, dir, port })
    }

    /// Runs SQL as the superuser over the socket; the rows, `|`-separated.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", self.dir.path().to_str().unwrap(), "-p", &self.port.to_string(), "-U", "postgres", "-d", db, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// A login role owning a new database of the same name.
    pub fn create_database(&self, name: &str, password: &str) {
        self.psql("postgres", &format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'"));
        self.psql("postgres", &format!("CREATE DATABASE {name} OWNER {name}"));
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = Command::new("runuser").args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl")).args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"]).output();
    }
}

#[tokio::test]
async fn with_a_database_url_the_engine_keeps_its_decisions_in_postgresql() {
    let Some(pg) = Postgres::start() else {
        println!("SKIPPED: PostgreSQL is not installed (scripts/setup.sh --test installs Debian's postgresql)");
        return;
    };
    // A password that needs percent-encoding in the URL.
    pg.create_database("crowdsec", "p@ss%w0rd:1");
    let url = format!("postgres://crowdsec:p%40ss%25w0rd%3A1@127.0.0.1:{}/crowdsec", pg.port);
    let app = spawn_app_with(|c| {
        c.crowdsec_database_url = Some(charon::config::Secret::new(url.clone()));
        c.decision_sync_interval_ms = 200;
    })
    .await;
    let admin = setup_admin(&app).await;
    let t0 = std::time::Instant::now();
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    println!("NUMBERS engine on PostgreSQL running after {:?}", t0.elapsed());

    // The engine made its tables in PostgreSQL and registered Charon's machine and bouncer there.
    let tables = pg.psql("crowdsec", "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    for t in ["alerts", "bouncers", "decisions", "machines"] {
        assert!(tables.lines().any(|l| l == t), "{t} missing: {tables}");
    }
    assert!(pg.psql("crowdsec", "SELECT machine_id FROM machines").lines().any(|m| m == "charon"));
    let data = app.state.config.data_dir.clone();
    assert!(!data.join("crowdsec/data/crowdsec.db").exists(), "no SQLite file of the engine's");

    // A ban made in Charon is a row in PostgreSQL, and comes back through the stream.
    let (status, body) = app
        .send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions", &json!({"value": "192.0.2.44", "duration": "1h", "reason": "postgres test"}))
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    assert!(pg.psql("crowdsec", "SELECT value FROM decisions WHERE until > now()").lines().any(|v| v == "192.0.2.44"));
    wait_for_decisions(&app, &admin, "?q=192.0.2.44", Duration::from_secs(10), |v| v["total"] == 1).await;
    // Unbanned: gone from PostgreSQL too.
    let res = admin.delete(app.url("/api/v1/cerberus/crowdsec/decisions?value=192.0.2.44")).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert!(!pg.psql("crowdsec", "SELECT value FROM decisions WHERE until > now()").lines().any(|v| v == "192.0.2.44"));

    // The password is in the generated configuration (private) and nowhere else Charon writes.
    let config = std::fs::read_to_string(app.state.crowdsec.layout().config_file()).unwrap();
    assert!(config.contains("p@ss%w0rd:1"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(app.state.crowdsec.layout().config_file()).unwrap().permissions().mode() & 0o077, 0);
    let (_, diag) = app.get_json(&admin, "/api/v1/cerberus/crowdsec/status").await;
    assert!(!diag.to_string().contains("p@ss"), "{diag}");
    for log in [app.state.crowdsec.layout().engine_log()] {
        assert!(!std::fs::read_to_string(&log).unwrap_or_default().contains("p@ss"), "{}", log.display());
    }
    let pid = std::fs::read_to_string(app.state.crowdsec.layout().pid_file()).unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("p@ss"), "not in the engine's argv");
    admin.post(app.url("/api/v1/cerberus/crowdsec/stop")).send().await.unwrap();
}

#[test]
fn a_malformed_database_url_is_refused_without_repeating_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("charon.toml");
    std::fs::write(&path, "crowdsec_database_url = \"mysql://root:hunter2@db/crowdsec\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_charon")).args(["--config", path.to_str().unwrap(), "diagnose"]).env("CHARON_DATA_DIR", dir.path().join("data")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("crowdsec_database_url must look like postgres://"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
