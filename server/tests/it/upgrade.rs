//! Upgrades: the current code started on a database an earlier release wrote
//! (`server/tests/fixtures/upgrade-from-*.sql`, made by `scripts/upgrade_fixture.sh` with that
//! release's binary) migrates it and keeps accounts, sessions, tokens, proxy hosts, the allowlist,
//! scoped rules and the audit log.

use charon::on_db;
use serde_json::Value;

use crate::common::*;

/// A fixture's header line `-- key: value`.
fn header<'a>(sql: &'a str, key: &str) -> &'a str {
    sql.lines().find_map(|l| l.strip_prefix(&format!("-- {key}: "))).unwrap_or_else(|| panic!("the fixture names its {key}"))
}

#[tokio::test]
async fn every_earlier_release_database_is_migrated_with_nothing_lost() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "sql")).collect();
    fixtures.sort();
    assert!(!fixtures.is_empty(), "no fixture in {}", dir.display());
    for fixture in fixtures {
        let sql = std::fs::read_to_string(&fixture).unwrap();
        let name = fixture.file_name().unwrap().to_string_lossy().into_owned();
        let data = tempfile::tempdir().unwrap();
        // The release's database, as it wrote it.
        {
            use sqlx::ConnectOptions;
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(data.path().join("charon.db")).create_if_missing(true).connect().await.unwrap();
            sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
            // A signed-in viewer: rebuilding `users` (the operator role) must not cascade into it.
            sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ('00ff', 2, 1796247738, 4102444800)").execute(&mut conn).await.unwrap();
        }
        let before: i64 = {
            use sqlx::ConnectOptions;
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(data.path().join("charon.db")).connect().await.unwrap();
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&mut conn).await.unwrap()
        };
        // A release's SQLite file: this test runs on SQLite whatever backend the suite uses.
        let app = spawn_app_with(|c| {
            c.data_dir = data.path().to_path_buf();
            c.database_url = None;
        })
        .await;
        let applied: i64 = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(cx).await).unwrap();
        assert_eq!(applied as usize, charon::db::SQLITE_MIGRATIONS.iter().count(), "{name}: every migration is applied");
        println!("MEASURE {name}: {before} migrations in the release, {applied} now");
        let sessions: i64 = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE id_hash = '00ff' AND user_id = 2").fetch_one(cx).await).unwrap();
        assert_eq!(sessions, 1, "{name}: sessions survive the rebuilt users table");

        let password = header(&sql, "password (admin, vera)");
        let (admin, res) = login(&app, "admin", password).await;
        assert_eq!(res.status(), 303, "{name}: the administrator signs in");
        let (viewer, res) = login(&app, "vera", password).await;
        assert_eq!(res.status(), 303, "{name}: the viewer signs in");
        let (status, _) = app.get_json(&viewer, "/api/v1/proxy-hosts").await;
        assert_eq!(status, 200, "{name}: the viewer reads");
        let token = header(&sql, "token (admin)");
        let hosts: Value = app.client().get(app.url("/api/v1/proxy-hosts")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        assert!(hosts.to_string().contains("shop.example.com"), "{name}: the token works and the proxy host is kept: {hosts}");
        let (_, allow) = app.get_json(&admin, "/api/v1/cerberus/crowdsec/allowlist").await;
        let entries = allow.as_array().unwrap();
        let find = |v: &str| entries.iter().find(|e| e["value"] == v).unwrap_or_else(|| panic!("{name}: {v} kept: {allow}"));
        assert!(find("198.51.100.9")["expires_at"].is_string(), "{name}: the expiry is kept");
        assert!(find("192.0.2.0/24")["expires_at"].is_null());
        let scoped = find("203.0.113.0/24");
        assert_eq!((scoped["sites"][0].as_str(), scoped["path_prefix"].as_str()), (Some("shop.example.com"), Some("/health")), "{name}");
        let (_, audit) = app.get_json(&admin, "/api/v1/audit?action=decision.break_glass").await;
        assert_eq!(audit["total"], 1, "{name}: the audit log is kept: {audit}");
    }
}
