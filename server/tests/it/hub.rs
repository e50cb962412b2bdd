//! Hub presets against the real engine: offline installs with dependency resolution, verified
//! from the engine's own start-up log; removes that keep what is still needed; rollback of a
//! broken item with the engine left running; and bad names refused before the disk is touched.

use charon::on_db;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::Digest;

use super::common::*;

const HUB: &str = "/api/v1/cerberus/crowdsec/hub";

async fn started() -> (TestApp, reqwest::Client) {
    let app = spawn_app_with(|c| c.decision_sync_interval_ms = 200).await;
    let admin = setup_admin(&app).await;
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    (app, admin)
}

async fn post(app: &TestApp, c: &reqwest::Client, action: &str, kind: &str, name: &str) -> (u16, Value) {
    let res = c
        .post(app.url(&format!("{HUB}/{action}")))
        .json(&json!({"type": kind, "name": name}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Scenario files (base names) the engine logged loading at its most recent start — read from
/// the engine's own log file, independently of the server's in-memory record.
fn scenarios_in_engine_log(app: &TestApp) -> BTreeSet<String> {
    let log = std::fs::read_to_string(app.state.crowdsec.layout().engine_log()).unwrap();
    let last_start = log.rfind("msg=\"Crowdsec v").expect("the engine started");
    log[last_start..]
        .lines()
        .filter(|l| l.contains(" bucket\"") && l.contains("msg=\"Adding "))
        .filter_map(|l| l.split(" file=").nth(1))
        .map(|f| f.split_whitespace().next().unwrap_or_default().rsplit('/').next().unwrap().to_owned())
        .collect()
}

/// The scenario file base name of an index entry (what the engine log shows).
fn scenario_file(app: &TestApp, name: &str) -> String {
    let item = index_item(app, "scenarios", name);
    item["path"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

fn names(v: &Value, field: &str) -> BTreeSet<String> {
    v[field].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
}

fn index_item(app: &TestApp, kind: &str, name: &str) -> Value {
    let text = std::fs::read_to_string(app.state.crowdsec.layout().hub_dir.join(".index.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v[kind][name].clone()
}

/// Every file and link under the engine's config dir with its target or size.
fn config_tree(dir: &Path) -> BTreeSet<(PathBuf, String)> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            out.insert((p.clone(), std::fs::read_link(&p).unwrap().display().to_string()));
        } else if meta.is_dir() {
            out.extend(config_tree(&p));
        } else {
            out.insert((p, meta.len().to_string()));
        }
    }
    out
}

/// One Caddy 2.6.2 JSON access-log line (the fields the 1.4.6 caddy-logs parser reads).
#[tokio::test]
async fn http_cve_installs_offline_loads_detects_and_removes_keeping_shared_dependencies() {
    let (app, admin) = started().await;
    let cve = index_item(&app, "collections", "crowdsecurity/http-cve");
    let cve_names: BTreeSet<String> =
        cve["scenarios"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    let cve_scenarios: BTreeSet<String> = cve_names.iter().map(|n| scenario_file(&app, n)).collect();
    assert_eq!(cve_scenarios.len(), 21);
    let probing = scenario_file(&app, "crowdsecurity/http-probing");
    let loaded = scenarios_in_engine_log(&app);
    assert!(cve_scenarios.is_subset(&loaded), "the defaults include it: {loaded:?}");

    // Part of base-http-scenarios: refused on its own, nothing changed.
    let before = config_tree(&app.state.crowdsec.layout().config_dir);
    let (status, v) = post(&app, &admin, "remove", "collections", "crowdsecurity/http-cve").await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["code"], "hub_item_in_use");
    assert!(v["detail"].as_str().unwrap().contains("crowdsecurity/base-http-scenarios"), "{v}");
    assert_eq!(config_tree(&app.state.crowdsec.layout().config_dir), before);

    // caddy → its parser and base-http-scenarios were installed on their own (defaults): they stay.
    let (status, v) = post(&app, &admin, "remove", "collections", "crowdsecurity/caddy").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(names(&v, "changed"), BTreeSet::from(["crowdsecurity/caddy".to_owned()]));
    assert!(names(&v, "kept").contains("crowdsecurity/base-http-scenarios"), "{v}");
    assert_eq!(v["verified"], true);

    // base-http-scenarios takes http-cve and every scenario with it; the default parsers stay.
    let (status, v) = post(&app, &admin, "remove", "collections", "crowdsecurity/base-http-scenarios").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["verified"], true, "{v}");
    let gone = names(&v, "changed");
    assert!(gone.contains("crowdsecurity/http-cve") && gone.contains("crowdsecurity/http-probing"), "{v}");
    assert!(names(&v, "kept").contains("crowdsecurity/http-logs"), "{v}");
    let loaded = scenarios_in_engine_log(&app);
    assert!(loaded.is_disjoint(&cve_scenarios), "CVE scenarios still loaded: {loaded:?}");
    assert!(!loaded.contains(&probing));

    // Install http-cve: every dependency enabled, the engine reports loading all of them.
    // A second change while it runs is refused, not queued.
    let t0 = Instant::now();
    let (first, second) = tokio::join!(
        post(&app, &admin, "install", "collections", "crowdsecurity/http-cve"),
        async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            post(&app, &admin, "install", "scenarios", "crowdsecurity/ssh-bf").await
        }
    );
    let took = t0.elapsed();
    let (status, v) = first;
    assert_eq!(status, 200, "{v}");
    assert_eq!(second.0, 409, "{:?}", second.1);
    assert_eq!(second.1["code"], "hub_busy");
    assert_eq!(v["verified"], true);
    let mut expected = cve_names.clone();
    expected.insert("crowdsecurity/http-cve".into());
    assert_eq!(names(&v, "changed"), expected);
    assert!(cve_scenarios.is_subset(&scenarios_in_engine_log(&app)));
    println!("NUMBERS hub install crowdsecurity/http-cve: request→verified {took:?} (server measured {} ms)", v["duration_ms"]);
    let listed: Value = admin.get(app.url(&format!("{HUB}?type=collections&q=cve&installed=true"))).send().await.unwrap().json().await.unwrap();
    assert!(listed.as_array().unwrap().iter().any(|i| i["name"] == "crowdsecurity/http-cve" && i["installed"] == true && i["up_to_date"] == true));

    // Detection: a CVE-2021-41773 probe in the access log becomes a decision.
    let attacker = "198.51.100.23";
    let t0 = Instant::now();
    append(&app.state.crowdsec.layout().access_log, &access_line(attacker, "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd", 404));
    let query = format!("?q={attacker}");
    wait_for_decisions(&app, &admin, &query, Duration::from_secs(20), |v| v["total"] != 0).await;
    let d = &list_decisions(&app, &admin, &query).await["decisions"][0];
    assert_eq!(d["scenario"], "crowdsecurity/http-cve-2021-41773", "{d}");
    println!("NUMBERS CVE probe line → decision visible: {:?}", t0.elapsed());

    // nginx brings base-http-scenarios (→ http-cve); removing nginx drops what only it needed and
    // keeps http-cve (installed on its own) with its scenarios.
    let (status, v) = post(&app, &admin, "install", "collections", "crowdsecurity/nginx").await;
    assert_eq!(status, 200, "{v}");
    assert!(scenarios_in_engine_log(&app).contains(&probing));
    let (status, v) = post(&app, &admin, "remove", "collections", "crowdsecurity/nginx").await;
    assert_eq!(status, 200, "{v}");
    let removed = names(&v, "changed");
    assert!(removed.contains("crowdsecurity/nginx-logs") && removed.contains("crowdsecurity/base-http-scenarios"), "{v}");
    assert!(names(&v, "kept").contains("crowdsecurity/http-cve"), "{v}");
    let loaded = scenarios_in_engine_log(&app);
    assert!(cve_scenarios.is_subset(&loaded) && !loaded.contains(&probing), "{loaded:?}");

    // Remove http-cve itself: its scenarios are no longer loaded.
    let (status, v) = post(&app, &admin, "remove", "collections", "crowdsecurity/http-cve").await;
    assert_eq!(status, 200, "{v}");
    assert!(scenarios_in_engine_log(&app).is_disjoint(&cve_scenarios));

    // Every change is in the audit log, the refused one with its error.
    let audit: Vec<(String, String)> = on_db!(app.state.db, cx => sqlx::query_as("SELECT action, result FROM audit_log WHERE action LIKE 'hub.%'")
        .fetch_all(cx).await)
        .unwrap();
    assert_eq!(audit.iter().filter(|a| a.1 == "ok").count(), 6, "{audit:?}");
    assert_eq!(audit.iter().filter(|a| a.1 != "ok").count(), 1, "{audit:?}");
}

#[tokio::test]
async fn a_corrupted_or_broken_item_fails_and_the_previous_set_keeps_running() {
    let (app, admin) = started().await;
    let layout = app.state.crowdsec.layout().clone();
    let scenarios_before = scenarios_in_engine_log(&app);
    let pid_before = app.state.crowdsec.status().pid;

    // A hub file that differs from the index digest is refused before anything is linked.
    let tampered = layout.hub_dir.join("scenarios/crowdsecurity/ssh-bf.yaml");
    let mut text = std::fs::read_to_string(&tampered).unwrap();
    text.push_str("\n# tampered\n");
    std::fs::write(&tampered, &text).unwrap();
    let tree = config_tree(&layout.config_dir);
    let (status, v) = post(&app, &admin, "install", "scenarios", "crowdsecurity/ssh-bf").await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["code"], "hub_change_failed");
    assert!(v["detail"].as_str().unwrap().contains("digest"), "{v}");
    assert_eq!(config_tree(&layout.config_dir), tree);
    assert_eq!(app.state.crowdsec.status().pid, pid_before, "no restart for a refused install");

    // A broken scenario whose digest matches (a corrupted copy in this test's hub): the engine
    // refuses it, the install is rolled back and the engine runs again on the previous set.
    let broken = layout.hub_dir.join("scenarios/crowdsecurity/ssh-slow-bf.yaml");
    let content = "type: leaky\nname: crowdsecurity/ssh-slow-bf\ndescription: broken\nfilter: \"evt.Meta.log_type == \"\ngroupby: evt.Meta.source_ip\ncapacity: 5\nleakspeed: 10s\nlabels:\n  remediation: true\n";
    std::fs::write(&broken, content).unwrap();
    let index_path = layout.hub_dir.join(".index.json");
    let mut index: Value = serde_json::from_str(&std::fs::read_to_string(&index_path).unwrap()).unwrap();
    let item = &mut index["scenarios"]["crowdsecurity/ssh-slow-bf"];
    let version = item["version"].as_str().unwrap().to_owned();
    item["versions"][&version]["digest"] = json!(hex::encode(sha2::Sha256::digest(content.as_bytes())));
    std::fs::write(&index_path, serde_json::to_string(&index).unwrap()).unwrap();

    let (status, v) = post(&app, &admin, "install", "scenarios", "crowdsecurity/ssh-slow-bf").await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["code"], "hub_change_failed");
    assert!(v["detail"].as_str().unwrap().contains("did not start"), "{v}");
    assert_eq!(config_tree(&layout.config_dir), tree, "links restored");
    let st = app.state.crowdsec.status();
    assert!(st.lapi_ready, "the engine runs again: {st:?}");
    assert_eq!(scenarios_in_engine_log(&app), scenarios_before, "on the previous set");
    let listed: Value = admin.get(app.url(&format!("{HUB}?type=scenarios&q=ssh-slow-bf"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["installed"], false, "{listed}");
}

#[tokio::test]
async fn bad_names_are_refused_before_the_disk_is_touched_and_viewers_cannot_change_anything() {
    // No engine start: the catalogue works before the engine ever ran.
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let all: Value = admin.get(app.url(HUB)).send().await.unwrap().json().await.unwrap();
    assert!(all.as_array().unwrap().len() > 200, "the whole offline hub is listed");
    let config_dir = app.state.crowdsec.layout().config_dir.clone();
    let before = config_tree(&config_dir);

    for (kind, name) in [
        ("collections", "../../etc/passwd"),
        ("collections", "/etc/passwd"),
        ("collections", "crowdsecurity/http-cve; rm -rf /"),
        ("collections", "crowdsecurity/$(id)"),
        ("collections", "crowdsecurity/no-such-collection"),
        ("scenarios", "crowdsecurity/http-cve"), // exists, but as a collection
        ("parsers", ""),
    ] {
        for action in ["install", "remove"] {
            let (status, v) = post(&app, &admin, action, kind, name).await;
            assert_eq!(status, 400, "{action} {kind} {name:?}: {v}");
            assert_eq!(v["code"], "hub_item_invalid", "{v}");
        }
    }
    let res = admin.post(app.url(&format!("{HUB}/install"))).json(&json!({"type": "collection", "name": "crowdsecurity/http-cve"})).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let res = admin.get(app.url(&format!("{HUB}?type=nonsense"))).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(config_tree(&config_dir), before, "no file changed");

    // Detail: dependency tree, data files, who includes it.
    let d: Value = admin.get(app.url(&format!("{HUB}/collections/crowdsecurity/base-http-scenarios"))).send().await.unwrap().json().await.unwrap();
    let deps: Vec<&str> = d["dependencies"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert!(deps.contains(&"crowdsecurity/http-probing") && deps.contains(&"crowdsecurity/http-cve"), "{d}");
    assert!(d["data_files"].as_array().unwrap().iter().any(|f| f == "bad_user_agents.regex.txt"), "{d}");
    assert_eq!(d["required_by"], json!(["crowdsecurity/caddy"]));
    let res = admin.get(app.url(&format!("{HUB}/collections/crowdsecurity/nope"))).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // Viewers browse but never change.
    let create = admin
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "viewer", "password": ADMIN_PASSWORD, "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 201);
    let (viewer, _) = login(&app, "viewer", ADMIN_PASSWORD).await;
    let res = viewer.get(app.url(&format!("{HUB}?q=probing"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (status, _) = post(&app, &viewer, "install", "scenarios", "crowdsecurity/ssh-bf").await;
    assert_eq!(status, 403);

    // With the engine stopped an install only changes files and says so.
    let (status, v) = post(&app, &admin, "install", "scenarios", "crowdsecurity/ssh-bf").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["engine_running"], false);
    assert_eq!(v["verified"], false);
    assert!(config_dir.join("scenarios/ssh-bf.yaml").exists());
}
