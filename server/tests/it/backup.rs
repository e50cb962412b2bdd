//! `charon backup` while the console and the engine run, `charon restore` into an empty data dir,
//! and a console on the restored dir: the same users, tokens, proxy hosts, allowlist and the
//! engine's decisions.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

fn charon(data_dir: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_charon"))
        .args(args)
        .env("CHARON_DATA_DIR", data_dir)
        .env("CHARON_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn a_backup_taken_while_running_restores_users_tokens_hosts_allowlist_and_the_engines_decisions() {
    // SQLite: the archive holds Charon's database only when it is a file in the data dir.
    let a = spawn_app_with(|c| {
        c.decision_sync_interval_ms = 200;
        c.database_url = None;
    })
    .await;
    let admin = setup_admin(&a).await;
    assert_eq!(admin.post(a.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap().status(), 200);
    let (status, token) = a.send_json(&admin, reqwest::Method::POST, "/api/v1/tokens", &json!({"name": "backup-check", "role": "viewer"})).await;
    assert_eq!(status, 201, "{token}");
    let token = token["token"].as_str().unwrap().to_owned();
    let (status, body) = a.send_json(&admin, reqwest::Method::POST, "/api/v1/proxy-hosts", &json!({"domain": "restored.localhost", "upstream": "http://127.0.0.1:9"})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = a.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/allowlist", &json!({"value": "192.0.2.0/24", "reason": "office"})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = a.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions", &json!({"value": "203.0.113.77", "duration": "4h", "reason": "kept by the backup"})).await;
    assert_eq!(status, 201, "{body}");

    // The backup, while both run: one file, private, never overwritten.
    let file = a.dir.path().join("charon-backup.tar.gz");
    let file_arg = file.to_str().unwrap();
    let (ok, stderr) = charon(&a.state.config.data_dir, &["backup", file_arg]);
    assert!(ok, "{stderr}");
    println!("MEASURE {}", stderr.trim());
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let (ok, stderr) = charon(&a.state.config.data_dir, &["backup", file_arg]);
    assert!(!ok && stderr.contains("exists"), "{stderr}");
    // Nothing of the backup is left in the data dir; the console still answers.
    assert!(!std::fs::read_dir(&a.state.config.data_dir).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with(".backup-")));
    assert_eq!(a.get_json(&admin, "/api/v1/proxy-hosts").await.0, 200);

    // Restore: only into an empty data dir; not from something else.
    let b_dir = tempfile::tempdir().unwrap();
    let restored = b_dir.path().join("data");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::write(restored.join("charon.db"), b"").unwrap();
    let (ok, stderr) = charon(&restored, &["restore", file_arg]);
    assert!(!ok && stderr.contains("not empty"), "{stderr}");
    std::fs::remove_file(restored.join("charon.db")).unwrap();
    let not_a_backup = b_dir.path().join("other.tar.gz");
    std::fs::write(&not_a_backup, b"not an archive").unwrap();
    let (ok, stderr) = charon(&restored, &["restore", not_a_backup.to_str().unwrap()]);
    assert!(!ok, "{stderr}");
    let (ok, stderr) = charon(&restored, &["restore", file_arg]);
    assert!(ok, "{stderr}");
    assert_eq!(std::fs::metadata(&restored).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(!restored.join("logs").exists() && !restored.join("evidence.db").exists(), "logs and the evidence index stay behind");
    // The hub's links moved with the data dir.
    let links = links_under(&restored);
    assert!(!links.is_empty());
    for (link, target) in &links {
        assert!(target.starts_with(&restored) && target.exists(), "{} → {}", link.display(), target.display());
    }

    // A console on the restored dir (another path: the hub's links follow), with the engine's port.
    let (status, _) = a.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/stop", &json!({})).await;
    assert_eq!(status, 200);
    let lapi = a.state.config.crowdsec_lapi_listen;
    let b = spawn_app_with(|c| {
        c.data_dir = restored.clone();
        c.database_url = None;
        c.crowdsec_lapi_listen = lapi;
        c.decision_sync_interval_ms = 200;
    })
    .await;
    let (signed_in, res) = login(&b, "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303, "the administrator's password works");
    let hosts: Value = b.client().get(b.url("/api/v1/proxy-hosts")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert!(hosts.to_string().contains("restored.localhost"), "the token works and the host is back: {hosts}");
    let (_, allow) = b.get_json(&signed_in, "/api/v1/cerberus/crowdsec/allowlist").await;
    assert!(allow.to_string().contains("192.0.2.0/24"), "{allow}");
    assert_eq!(signed_in.post(b.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap().status(), 200, "the engine starts on the restored files");
    wait_for_decisions(&b, &signed_in, "?q=203.0.113.77", Duration::from_secs(20), |v| v["total"] == 1).await;
    let _ = signed_in.post(b.url("/api/v1/cerberus/crowdsec/stop")).send().await;
}

/// Every symbolic link under `dir`, with its target.
fn links_under(dir: &Path) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            if kind.is_symlink() {
                out.push((e.path(), std::fs::read_link(e.path()).unwrap()));
            } else if kind.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

/// A Charon archive: the manifest, then what `entry` appends.
fn crafted(path: &Path, entry: impl FnOnce(&mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>)) {
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let manifest = br#"{"format":"charon-backup/1","charon":"charon test","created_at":"2026-12-02T00:00:00Z","data_dir":"/var/lib/charon"}"#;
    let mut h = tar::Header::new_gnu();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o600);
    tar.append_data(&mut h, "charon-backup.json", &manifest[..]).unwrap();
    entry(&mut tar);
    tar.into_inner().unwrap().finish().unwrap();
}

#[test]
fn restore_refuses_archives_that_reach_outside_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("link-out.tar.gz");
    crafted(&outside, |tar| {
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o600);
        tar.append_data(&mut h, "bouncer/key", &b"abc"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        tar.append_link(&mut h, "crowdsec/evil", "/etc/passwd").unwrap();
    });
    let traversal = dir.path().join("dotdot.tar.gz");
    crafted(&traversal, |tar| {
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o600);
        // `append_data` refuses `..`; write the name into the header by hand, as an attacker would.
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        h.set_cksum();
        tar.append(&h, &b"x"[..]).unwrap();
    });
    for (archive, says) in [(&outside, "links outside the data dir"), (&traversal, "unsafe path")] {
        let data = dir.path().join(format!("data-{}", archive.file_stem().unwrap().to_string_lossy()));
        let (ok, stderr) = charon(&data, &["restore", archive.to_str().unwrap()]);
        assert!(!ok && stderr.contains(says), "{stderr}");
        assert!(!dir.path().join("escape").exists());
        assert_eq!(std::fs::read_dir(&data).map(|d| d.count()).unwrap_or(0), 0, "a refused archive leaves nothing behind");
    }
}
