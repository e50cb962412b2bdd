//! The `charon admin` commands, run as a real process on a data dir: passwords come from stdin,
//! tokens are printed once, and the server sees what the CLI created.


use std::io::Write;
use std::process::{Command, Stdio};

use super::common::*;

pub(super) fn charon(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_charon"))
        .args(args)
        .env("CHARON_DATA_DIR", data_dir)
        .envs(database_env(data_dir))
        .env("CHARON_LOG_LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn admin_create_reset_and_tokens_work_on_the_servers_data_dir() {
    let app = spawn_app().await;
    let dir = app.state.config.data_dir.clone();

    let out = charon(&dir, &["admin", "create", "--username", "root-admin", "--password-stdin"], "first password 1\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The running server notices the new administrator: setup is gone, login works.
    assert_eq!(app.client().get(app.url("/setup")).send().await.unwrap().status(), 404);
    let (_, res) = login(&app, "root-admin", "first password 1").await;
    assert_eq!(res.headers()["location"], "/security");

    let short = charon(&dir, &["admin", "create", "--username", "other", "--password-stdin"], "short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));

    let dup = charon(&dir, &["admin", "create", "--username", "root-admin", "--password-stdin"], "first password 1\n");
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already taken"));

    let out = charon(&dir, &["admin", "reset-password", "--username", "root-admin", "--password-stdin"], "second password 2\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, res) = login(&app, "root-admin", "first password 1").await;
    assert!(res.headers()["location"].to_str().unwrap().contains("error=invalid"));
    let (_, res) = login(&app, "root-admin", "second password 2").await;
    assert_eq!(res.headers()["location"], "/security");

    let out = charon(&dir, &["admin", "token", "create", "--name", "backup-script"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("chr_"), "{token}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&token), "printed once, on stdout only");
    let me = app.client().get(app.url("/api/v1/auth/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 200);

    let list = charon(&dir, &["admin", "token", "list"], "");
    let listed = String::from_utf8(list.stdout).unwrap();
    assert!(listed.contains("backup-script") && !listed.contains(&token));

    let out = charon(&dir, &["admin", "token", "revoke", "--name", "backup-script"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let me = app.client().get(app.url("/api/v1/auth/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let none = charon(&dir, &["admin", "token", "revoke", "--name", "backup-script"], "");
    assert!(!none.status.success());
}

#[test]
fn admin_commands_create_a_missing_data_dir_or_name_the_path_they_cannot_use() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("new/charon-data");
    let out = charon(&fresh, &["admin", "create", "--username", "first", "--password-stdin"], "first password 1\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(fresh.join("charon.db").exists());

    // A data dir that cannot exist (its parent is a file): the error names the path, and no raw
    // database error reaches the user.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = charon(&file.join("data"), &["admin", "token", "list"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&file.join("data").display().to_string()), "{err}");
    assert!(!err.contains("code: 14"), "{err}");
}

#[test]
fn version_names_the_release_and_the_build_commit() {
    let dir = tempfile::tempdir().unwrap();
    let out = charon(dir.path(), &["--version"], "");
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let expected = format!("charon {} (", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&expected) && line.ends_with(')'), "{line}");
    assert_eq!(line, format!("charon {}", app::build_info::VERSION_LINE));
}
