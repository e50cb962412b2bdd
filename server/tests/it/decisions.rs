//! Live Decisions against the real engine: the cache follows the LAPI stream, manual bans and
//! unbans go through the LAPI and apply locally at once, and bad input never reaches the LAPI.


use charon::on_db;
use std::process::Command;
use std::time::Duration;

use super::common::*;
use serde_json::{json, Value};

fn cscli(app: &TestApp, args: &[&str]) -> String {
    let out = Command::new("cscli")
        .arg("-c")
        .arg(app.state.crowdsec.layout().config_file())
        .args(args)
        .output()
        .unwrap();
    if !out.status.success() {
        let log = std::fs::read_to_string(app.state.crowdsec.layout().engine_log()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        panic!(
            "cscli {args:?}: {}\nengine status: {:?}\nengine log (last lines, newest first):\n{}",
            String::from_utf8_lossy(&out.stderr),
            app.state.crowdsec.status(),
            tail.join("\n")
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Active decision values as cscli lists them (an array of alerts with nested decisions).
fn cscli_values(app: &TestApp) -> Vec<String> {
    let out = cscli(app, &["decisions", "list", "-a", "-o", "json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or(Value::Null);
    let mut values = Vec::new();
    for alert in v.as_array().into_iter().flatten() {
        for d in alert["decisions"].as_array().into_iter().flatten() {
            values.push(d["value"].as_str().unwrap_or_default().to_owned());
        }
    }
    values
}

async fn started() -> (TestApp, reqwest::Client) {
    let app = spawn_app_with(|c| c.decision_sync_interval_ms = 200).await;
    let admin = setup_admin(&app).await;
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    (app, admin)
}

#[tokio::test]
async fn cscli_decisions_appear_and_ui_unbans_reach_the_engine() {
    let (app, admin) = started().await;
    cscli(&app, &["decisions", "add", "-i", "203.0.113.9", "-d", "1h"]);
    let took = wait_for_decisions(&app, &admin, "?q=203.0.113.9", Duration::from_secs(5), |v| v["total"] == 1).await;
    println!("MEASURE cscli add -> in the API: {:.2} s", took.as_secs_f64());
    let v = list_decisions(&app, &admin, "?q=203.0.113.9").await;
    let d = &v["decisions"][0];
    assert_eq!(d["value"], "203.0.113.9");
    assert_eq!(d["scope"], "Ip");
    assert_eq!(d["type"], "ban");
    assert_eq!(d["origin"], "cscli");
    assert!(d["until"].as_str().unwrap().ends_with('Z'));
    assert!(app.state.decisions.cache().lookup("203.0.113.9".parse().unwrap(), charon::support::time::now()).is_some());

    let id = d["id"].as_i64().unwrap();
    let res = admin.delete(app.url(&format!("/api/v1/cerberus/crowdsec/decisions/{id}"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(app.state.decisions.cache().lookup("203.0.113.9".parse().unwrap(), charon::support::time::now()).is_none(), "unban applies locally at once");
    assert!(!cscli_values(&app).contains(&"203.0.113.9".to_owned()));
    let unknown = admin.delete(app.url("/api/v1/cerberus/crowdsec/decisions/999999")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn decisions_of_scopes_the_bouncer_cannot_enforce_are_listed_as_such() {
    let (app, admin) = started().await;
    cscli(&app, &["decisions", "add", "--scope", "Country", "--value", "FR", "-d", "1h"]);
    cscli(&app, &["decisions", "add", "-i", "203.0.113.40", "-d", "1h"]);
    wait_for_decisions(&app, &admin, "", Duration::from_secs(5), |v| v["total"] == 2).await;
    let cache = app.state.decisions.cache();
    assert_eq!(cache.not_enforced_len(), 1, "held apart from what the lookup enforces");
    let v = list_decisions(&app, &admin, "?q=fr").await;
    assert_eq!(v["total"], 1, "{v}");
    let d = &v["decisions"][0];
    assert_eq!(d["scope"], "Country");
    assert_eq!(d["value"], "FR");
    assert_eq!(d["not_enforced"], true);
    assert_eq!(d["country"], "FR");
    let ip = list_decisions(&app, &admin, "?q=203.0.113.40").await;
    assert_eq!(ip["decisions"][0]["not_enforced"], false, "{ip}");
    let counted: u64 = v["counts"].as_array().unwrap().iter().filter(|c| c["origin"] == "cscli").map(|c| c["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 2, "origin counts include it: {v}");

    // It can be removed like any other decision, from the engine too.
    let id = d["id"].as_i64().unwrap();
    let res = admin.delete(app.url(&format!("/api/v1/cerberus/crowdsec/decisions/{id}"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(cache.not_enforced_len(), 0);
    assert!(!cscli_values(&app).contains(&"FR".to_owned()));
    assert_eq!(list_decisions(&app, &admin, "?q=fr").await["total"], 0);
}

#[tokio::test]
async fn manual_bans_are_enforced_at_once_with_capitalised_scopes() {
    let (app, admin) = started().await;
    let cache = app.state.decisions.cache().clone();
    let res = admin
        .post(app.url("/api/v1/cerberus/crowdsec/decisions"))
        .json(&json!({"value": "198.51.100.0/24", "duration": "4h", "reason": "probing from a bad net", "type": "ban"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let d: Value = res.json().await.unwrap();
    assert_eq!(d["scope"], "Range");
    assert_eq!(d["origin"], "charon");
    assert!(d["id"].as_i64().unwrap() > 0);
    // Enforced before any poll: an address inside the range is blocked.
    let hit = cache.lookup("198.51.100.77".parse().unwrap(), charon::support::time::now()).unwrap();
    assert_eq!(hit.target.value(), "198.51.100.0/24");

    // The engine has it, and its stream returns it (the scope was written as `Range`).
    assert!(cscli_values(&app).contains(&"198.51.100.0/24".to_owned()));
    let v = list_decisions(&app, &admin, "?q=198.51.100.77").await;
    assert_eq!(v["total"], 1, "filtering by an address finds the covering range: {v}");

    // The country comes from the installed CC0 database.
    let res = admin
        .post(app.url("/api/v1/cerberus/crowdsec/decisions"))
        .json(&json!({"value": "8.8.8.8", "duration": "1h"}))
        .send()
        .await
        .unwrap();
    let google: Value = res.json().await.unwrap();
    assert_eq!(google["country"], "US", "{google}");
    admin.delete(app.url("/api/v1/cerberus/crowdsec/decisions?value=8.8.8.8")).send().await.unwrap();

    // IPv6 and IPv4-mapped addresses.
    let res = admin
        .post(app.url("/api/v1/cerberus/crowdsec/decisions"))
        .json(&json!({"value": "2001:db8::/48", "duration": "90m", "reason": "", "type": "captcha"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(&*cache.lookup("2001:db8::1".parse().unwrap(), charon::support::time::now()).unwrap().kind, "captcha");
    let res = admin
        .post(app.url("/api/v1/cerberus/crowdsec/decisions"))
        .json(&json!({"value": "::ffff:192.0.2.44", "duration": "1h"}))
        .send()
        .await
        .unwrap();
    let d: Value = res.json().await.unwrap();
    assert_eq!(d["value"], "192.0.2.44");
    assert!(cache.lookup("::ffff:192.0.2.44".parse().unwrap(), charon::support::time::now()).is_some());

    // After the stream caught up the set is the same (keyed by scope, value and type).
    wait_for_decisions(&app, &admin, "", Duration::from_secs(5), |v| v["total"] == 3).await;
    let counts = list_decisions(&app, &admin, "").await["counts"].clone();
    assert_eq!(counts, json!([{"origin": "charon", "count": 3}]));

    // Unban by value.
    let res = admin
        .delete(app.url("/api/v1/cerberus/crowdsec/decisions?value=198.51.100.0/24"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(cache.lookup("198.51.100.77".parse().unwrap(), charon::support::time::now()).is_none());
    assert!(!cscli_values(&app).contains(&"198.51.100.0/24".to_owned()));
    let audit: i64 = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('decision.ban','decision.unban')")
        .fetch_one(cx).await)
        .unwrap();
    assert_eq!(audit, 6);
}

#[tokio::test]
async fn decisions_expiring_on_their_own_disappear_and_the_longest_duplicate_wins() {
    let (app, admin) = started().await;
    cscli(&app, &["decisions", "add", "-i", "203.0.113.20", "-d", "3s"]);
    wait_for_decisions(&app, &admin, "?q=203.0.113.20", Duration::from_secs(5), |v| v["total"] == 1).await;
    wait_for_decisions(&app, &admin, "?q=203.0.113.20", Duration::from_secs(10), |v| v["total"] == 0).await;
    assert!(app.state.decisions.cache().lookup("203.0.113.20".parse().unwrap(), charon::support::time::now()).is_none());

    // Two bans on one address: the stream keeps the longest; deleting the shorter changes nothing.
    cscli(&app, &["decisions", "add", "-i", "203.0.113.21", "-d", "1h"]);
    cscli(&app, &["decisions", "add", "-i", "203.0.113.21", "-d", "8h"]);
    wait_for_decisions(&app, &admin, "?q=203.0.113.21", Duration::from_secs(5), |v| {
        v["total"] == 1 && v["decisions"][0]["until"].as_str().is_some_and(|u| {
            let t = time::OffsetDateTime::parse(u, &time::format_description::well_known::Rfc3339).unwrap();
            t.unix_timestamp() - charon::support::time::now() > 7 * 3600
        })
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_the_lapi_untouched() {
    let (app, admin) = started().await;
    let cases = [
        (json!({"value": "999.1.1.1", "duration": "1h"}), "value"),
        (json!({"value": "10.0.0.0/33", "duration": "1h"}), "value"),
        (json!({"value": "fe80::/129", "duration": "1h"}), "value"),
        (json!({"value": "1.2.3.4; rm -rf /", "duration": "1h"}), "value"),
        (json!({"value": "1.2.3.4", "duration": "-1h"}), "duration"),
        (json!({"value": "1.2.3.4", "duration": "forever"}), "duration"),
        (json!({"value": "1.2.3.4", "duration": "1h", "reason": "x".repeat(1 << 20)}), "reason"),
        (json!({"value": "1.2.3.4", "duration": "1h", "type": "nuke"}), "type"),
    ];
    for (body, field) in cases {
        let res = admin.post(app.url("/api/v1/cerberus/crowdsec/decisions")).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 400, "{field}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["field"], field, "{v}");
    }
    assert!(cscli_values(&app).is_empty(), "nothing reached the LAPI");
    let bad = admin.delete(app.url("/api/v1/cerberus/crowdsec/decisions?value=not-an-ip")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn with_the_lapi_down_actions_answer_503_and_the_last_state_is_kept() {
    let (app, admin) = started().await;
    cscli(&app, &["decisions", "add", "-i", "203.0.113.30", "-d", "1h"]);
    wait_for_decisions(&app, &admin, "?q=203.0.113.30", Duration::from_secs(5), |v| v["total"] == 1).await;
    admin.post(app.url("/api/v1/cerberus/crowdsec/stop")).send().await.unwrap();
    let res = admin
        .post(app.url("/api/v1/cerberus/crowdsec/decisions"))
        .json(&json!({"value": "203.0.113.31", "duration": "1h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "LAPI not available");
    // The last known decisions are still enforced and listed, marked stale.
    let v = wait_for_decisions(&app, &admin, "", Duration::from_secs(5), |v| !v["stale_since"].is_null()).await;
    let _ = v;
    assert_eq!(list_decisions(&app, &admin, "").await["total"], 1);
    assert!(app.state.decisions.cache().lookup("203.0.113.30".parse().unwrap(), charon::support::time::now()).is_some());
    // It recovers on its own when the engine is back.
    admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    wait_for_decisions(&app, &admin, "", Duration::from_secs(10), |v| v["stale_since"].is_null() && v["total"] == 1).await;
}

#[tokio::test]
async fn viewers_read_decisions_but_cannot_ban_or_unban() {
    let (app, admin) = started().await;
    admin
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "vera", "password": "viewer password 1", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    let (viewer, _) = login(&app, "vera", "viewer password 1").await;
    assert_eq!(viewer.get(app.url("/api/v1/cerberus/crowdsec/decisions")).send().await.unwrap().status(), 200);
    let res = viewer
        .post(app.url("/api/v1/cerberus/crowdsec/decisions"))
        .json(&json!({"value": "203.0.113.40", "duration": "1h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = viewer.delete(app.url("/api/v1/cerberus/crowdsec/decisions?value=203.0.113.40")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(cscli_values(&app).is_empty());
}

#[tokio::test]
async fn the_allowlist_overrides_decisions_reaches_the_engine_and_can_be_removed() {
    let (app, admin) = started().await;
    let cache = app.state.decisions.cache().clone();
    cscli(&app, &["decisions", "add", "-i", "203.0.113.50", "-d", "1h"]);
    wait_for_decisions(&app, &admin, "?q=203.0.113.50", Duration::from_secs(5), |v| v["total"] == 1).await;
    assert!(cache.lookup("203.0.113.50".parse().unwrap(), charon::support::time::now()).is_some());

    let res = admin
        .post(app.url("/api/v1/cerberus/crowdsec/allowlist"))
        .json(&json!({"value": "203.0.113.0/24", "reason": "office network"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let added: Value = res.json().await.unwrap();
    assert_eq!(added["entry"]["value"], "203.0.113.0/24");
    assert_eq!(added["covered"][0]["value"], "203.0.113.50", "covered decisions are offered for unban");
    assert!(cache.lookup("203.0.113.50".parse().unwrap(), charon::support::time::now()).is_none(), "never blocked");
    let listed = list_decisions(&app, &admin, "?q=203.0.113.50").await;
    assert_eq!(listed["decisions"][0]["allowlisted"], true, "the row is marked");

    // The engine got a whitelist parser and is running again with it.
    let parser = app.state.crowdsec.layout().config_dir.join("parsers/s02-enrich/charon-allowlist.yaml");
    assert!(std::fs::read_to_string(&parser).unwrap().contains("203.0.113.0/24"));
    assert_eq!(app.state.crowdsec.status().state, app::security::model::EngineState::Running);

    let dup = admin
        .post(app.url("/api/v1/cerberus/crowdsec/allowlist"))
        .json(&json!({"value": "203.0.113.0/24"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 409);
    let bad = admin.post(app.url("/api/v1/cerberus/crowdsec/allowlist")).json(&json!({"value": "10.0.0.0/33"})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let all: Value = admin.get(app.url("/api/v1/cerberus/crowdsec/allowlist")).send().await.unwrap().json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);

    let res = admin
        .delete(app.url("/api/v1/cerberus/crowdsec/allowlist?value=203.0.113.0/24"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(cache.lookup("203.0.113.50".parse().unwrap(), charon::support::time::now()).is_some(), "removing the entry restores the block");
    assert!(!parser.exists(), "an empty allowlist has no parser (CrowdSec rejects empty whitelist nodes)");
    assert_eq!(app.state.crowdsec.status().state, app::security::model::EngineState::Running);
}

async fn audit_rows(app: &TestApp, admin: &reqwest::Client, action: &str) -> Vec<Value> {
    let (status, v) = app.get_json(admin, &format!("/api/v1/audit?action={action}")).await;
    assert_eq!(status, 200, "{v}");
    v["rows"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn unban_and_allow_deletes_every_covering_decision_allowlists_for_a_while_and_is_audited() {
    let (app, admin) = started().await;
    let cache = app.state.decisions.cache().clone();
    // A ban on the address, one on a range holding it, one on a neighbour that must stay.
    let (status, ban) = app
        .send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions", &json!({"value": "198.51.100.7", "duration": "4h"}))
        .await;
    assert_eq!(status, 201, "{ban}");
    assert_eq!(ban["made_by"]["actor"], "admin", "{ban}");
    assert_eq!(ban["made_by"]["via"], "web UI");
    cscli(&app, &["decisions", "add", "-r", "198.51.100.0/28", "-d", "1h"]);
    cscli(&app, &["decisions", "add", "-i", "198.51.100.99", "-d", "1h"]);
    wait_for_decisions(&app, &admin, "?q=198.51.100.0/24", Duration::from_secs(5), |v| v["total"] == 3).await;
    let listed = list_decisions(&app, &admin, "?q=198.51.100.7").await;
    let manual = listed["decisions"].as_array().unwrap().iter().find(|d| d["origin"] == "charon").cloned().unwrap();
    assert_eq!(manual["made_by"]["actor"], "admin", "the row says who made it: {manual}");

    // Bad input changes nothing.
    for body in [
        json!({"value": "198.51.100.7", "duration": "0m"}),
        json!({"value": "198.51.100.7", "duration": "400d"}),
        json!({"value": "not an address", "duration": "1h"}),
        json!({"value": "0.0.0.0/0", "duration": "1h"}),
    ] {
        let (status, v) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions/unban-and-allow", &body).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    assert_eq!(cscli_values(&app).len(), 3);
    assert!(app.state.decisions.allowlist_store().list().await.unwrap().is_empty());

    let (status, done) = app
        .send_json(
            &admin,
            reqwest::Method::POST,
            "/api/v1/cerberus/crowdsec/decisions/unban-and-allow",
            &json!({"value": "198.51.100.7", "duration": "1h", "reason": "our monitoring"}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["entry"]["value"], "198.51.100.7");
    assert_eq!(done["entry"]["reason"], "our monitoring");
    let expires = done["entry"]["expires_at"].as_str().expect("an expiry");
    let left = app::components::clock::parse_rfc3339_utc(expires).unwrap() - charon::support::time::now();
    assert!((3590..=3600).contains(&left), "expires in an hour, not {left} s");
    assert_eq!(done["unbanned"], 2, "the ban and the range holding the address: {done}");
    let mut values = cscli_values(&app);
    values.sort();
    assert_eq!(values, vec!["198.51.100.99".to_owned()], "the neighbour's ban stays at the engine");
    assert!(cache.lookup("198.51.100.7".parse().unwrap(), charon::support::time::now()).is_none());
    assert!(cache.lookup("198.51.100.99".parse().unwrap(), charon::support::time::now()).is_some());
    let parser = app.state.crowdsec.layout().config_dir.join("parsers/s02-enrich/charon-allowlist.yaml");
    assert!(std::fs::read_to_string(&parser).unwrap().contains("198.51.100.7"), "the engine's whitelist follows");

    // Asking again keeps the later end; "forever" makes it permanent.
    let (status, again) = app
        .send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions/unban-and-allow", &json!({"value": "198.51.100.7", "duration": "15m"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["entry"]["expires_at"], done["entry"]["expires_at"], "a shorter period does not shorten the entry");
    assert_eq!(again["unbanned"], 0);

    let rows = audit_rows(&app, &admin, "decision.unban_and_allow").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let first = rows.last().unwrap();
    assert_eq!(first["actor"], "admin");
    assert_eq!(first["via"], "web UI");
    assert_eq!(first["address"], "127.0.0.1");
    assert_eq!(first["target"], "198.51.100.7");
    assert_eq!(first["result"], "ok");
    assert!(first["detail"].as_str().unwrap().starts_with("2 decisions deleted, allowed until "), "{first}");
    let bans = audit_rows(&app, &admin, "decision.ban").await;
    assert_eq!(bans[0]["target"], "198.51.100.7");
    assert!(bans[0]["detail"].as_str().unwrap().starts_with("ban for 4h"), "{}", bans[0]);

    // An entry whose time is up leaves the allowlist by itself, and the bouncer's cache follows.
    on_db!(app.state.db, cx => sqlx::query("UPDATE allowlist SET expires_at = $1 WHERE value = '198.51.100.7'")
        .bind(charon::support::time::now() - 1)
        .execute(cx).await.map(|r| r.rows_affected()))
        .unwrap();
    assert!(app.state.decisions.allowlist_store().list().await.unwrap().is_empty(), "an expired entry is not in force");
    let t0 = std::time::Instant::now();
    while !audit_rows(&app, &admin, "allowlist.expire").await.iter().any(|r| r["target"] == "198.51.100.7") {
        assert!(t0.elapsed() < Duration::from_secs(15), "the expired entry was not removed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("MEASURE expired allowlist entry removed after {:.1} s", t0.elapsed().as_secs_f64());
    assert!(!parser.exists(), "the engine's whitelist follows");
    let left: i64 = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT COUNT(*) FROM allowlist").fetch_one(cx).await).unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn unban_and_allow_changes_nothing_when_the_engine_cannot_delete() {
    let (app, admin) = started().await;
    cscli(&app, &["decisions", "add", "-i", "198.51.100.20", "-d", "1h"]);
    wait_for_decisions(&app, &admin, "?q=198.51.100.20", Duration::from_secs(5), |v| v["total"] == 1).await;
    admin.post(app.url("/api/v1/cerberus/crowdsec/stop")).send().await.unwrap();
    let (status, v) = app
        .send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions/unban-and-allow", &json!({"value": "198.51.100.20", "duration": "1h"}))
        .await;
    assert_eq!(status, 503, "{v}");
    assert!(app.state.decisions.allowlist_store().list().await.unwrap().is_empty(), "the allowlist is as before");
    assert!(app.state.decisions.cache().lookup("198.51.100.20".parse().unwrap(), charon::support::time::now()).is_some(), "still blocked");
    let rows = audit_rows(&app, &admin, "decision.unban_and_allow").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["result"].as_str().unwrap().starts_with("LAPI not available"), "{}", rows[0]);
    assert!(rows[0]["detail"].as_str().unwrap().starts_with("nothing changed"));
    // A viewer may not.
    let viewer = viewer(&app, &admin).await;
    let (status, _) = app
        .send_json(&viewer, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions/unban-and-allow", &json!({"value": "198.51.100.20"}))
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn grouped_by_address_one_row_folds_every_decision_on_it() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let cache = app.state.decisions.cache().clone();
    let until = charon::support::time::now() + 3600;
    let ip = |s: &str| app::decisions::model::IpOrRange::parse(s).unwrap();
    cache.insert_many(&[ip("192.0.2.7")], "ban", "crowdsec", "crowdsecurity/http-probing", until);
    cache.insert_many(&[ip("192.0.2.7")], "captcha", "CAPI", "crowdsecurity/ssh-bf", until + 600);
    cache.insert_many(&[ip("192.0.2.8"), ip("192.0.2.9")], "ban", "lists:x", "x", until);
    let (status, page) = app.get_json(&admin, "/api/v1/cerberus/crowdsec/decisions?group=address&sort=value&per_page=2").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 3, "addresses, not decisions: {page}");
    assert_eq!(page["decisions"], json!([]));
    let g = &page["groups"][0];
    assert_eq!(g["value"], "192.0.2.7");
    assert_eq!(g["decisions"].as_array().unwrap().len(), 2);
    let mut origins: Vec<&str> = g["origins"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    origins.sort();
    assert_eq!(origins, ["CAPI", "crowdsec"], "{g}");
    assert_eq!(g["until"], json!(charon::support::time::rfc3339(until + 600)));
    assert_eq!(page["groups"].as_array().unwrap().len(), 2, "paged by address");
    let (_, flat) = app.get_json(&admin, "/api/v1/cerberus/crowdsec/decisions").await;
    assert_eq!(flat["total"], 4);
    assert!(flat.get("groups").is_none(), "ungrouped answers do not carry groups: {flat}");
}

#[tokio::test]
async fn a_ban_covering_an_administrators_address_needs_confirmation_and_engine_decisions_spare_it() {
    let (app, admin) = {
        let app = spawn_app_with(|c| {
            c.decision_sync_interval_ms = 200;
            c.admin_addresses = "192.0.2.10".into();
        })
        .await;
        let admin = setup_admin(&app).await;
        assert_eq!(admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap().status(), 200);
        (app, admin)
    };
    let ban = |value: &str, confirm: bool| json!({"value": value, "duration": "1h", "confirm": confirm});
    const DECISIONS: &str = "/api/v1/cerberus/crowdsec/decisions";
    // The caller's own address (and the address its session signed in from), a range holding it,
    // and a configured address: refused with 409 naming it; nothing reaches the engine.
    for (value, named) in [("127.0.0.1", "127.0.0.1"), ("127.0.0.0/24", "127.0.0.1"), ("192.0.2.0/24", "192.0.2.10")] {
        let (status, body) = app.send_json(&admin, reqwest::Method::POST, DECISIONS, &ban(value, false)).await;
        assert_eq!((status, body["code"].as_str(), body["address"].as_str()), (409, Some("locks_out"), Some(named)), "{value}: {body}");
        assert!(body["error"].as_str().unwrap().contains(named), "{body}");
    }
    assert!(cscli_values(&app).is_empty());
    let rows = audit_rows(&app, &admin, "decision.ban").await;
    assert!(rows.iter().all(|r| r["result"].as_str().unwrap().contains("would lock out")), "refusals are audited: {rows:?}");
    // Confirmed, it is made (and enforced: a manual ban the admin confirmed).
    let (status, body) = app.send_json(&admin, reqwest::Method::POST, DECISIONS, &ban("192.0.2.10", true)).await;
    assert_eq!(status, 201, "{body}");
    assert!(app.state.decisions.cache().lookup("192.0.2.10".parse().unwrap(), charon::support::time::now()).is_some());
    let (status, _) = app.send_json(&admin, reqwest::Method::DELETE, &format!("{DECISIONS}?value=192.0.2.10"), &json!({})).await;
    assert_eq!(status, 200);

    // A decision from the engine's side covering the protected address is not enforced for it,
    // and the Security page's list says so.
    cscli(&app, &["decisions", "add", "-r", "192.0.2.0/24", "-d", "1h"]);
    let cache = app.state.decisions.cache().clone();
    let t0 = std::time::Instant::now();
    while cache.lookup("192.0.2.11".parse().unwrap(), charon::support::time::now()).is_none() {
        assert!(t0.elapsed() < Duration::from_secs(10), "the range never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while !cache.is_protected("192.0.2.10".parse().unwrap()) {
        assert!(t0.elapsed() < Duration::from_secs(10), "the protected set never reached the cache");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cache.lookup("192.0.2.10".parse().unwrap(), charon::support::time::now()).is_none(), "the admin's address passes");
    let (status, shielded) = app.get_json(&admin, "/api/v1/cerberus/crowdsec/decisions/shielded").await;
    assert_eq!(status, 200, "{shielded}");
    let protected: Vec<&str> = shielded.as_array().unwrap().iter().map(|s| s["protected"].as_str().unwrap()).collect();
    assert!(protected.contains(&"192.0.2.10"), "{shielded}");
    assert!(shielded.as_array().unwrap().iter().all(|s| s["decision"]["value"] == "192.0.2.0/24"), "{shielded}");
    let viewer = viewer(&app, &admin).await;
    let (status, _) = app.get_json(&viewer, "/api/v1/cerberus/crowdsec/decisions/shielded").await;
    assert_eq!(status, 403, "it names administrators' addresses");
}

#[tokio::test]
async fn charon_unban_breaks_glass_from_the_shell_and_the_console_follows() {
    let (app, admin) = started().await;
    let (status, _) = app
        .send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/decisions", &json!({"value": "198.51.100.50", "duration": "4h"}))
        .await;
    assert_eq!(status, 201);
    cscli(&app, &["decisions", "add", "-r", "198.51.100.0/26", "-d", "1h"]);
    wait_for_decisions(&app, &admin, "?q=198.51.100.50", Duration::from_secs(5), |v| v["total"] == 2).await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_charon"))
            .args(args)
            .env("CHARON_DATA_DIR", &app.state.config.data_dir)
            .envs(database_env(&app.state.config.data_dir))
            .env("CHARON_CROWDSEC_LAPI_LISTEN", app.state.config.crowdsec_lapi_listen.to_string())
            .env("CHARON_CROWDSEC_PROMETHEUS", "off")
            .env("CHARON_LOG_LEVEL", "warn")
            .output()
            .unwrap()
    };
    let bad = run(&["unban", "not-an-address"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not-an-address"), "{}", String::from_utf8_lossy(&bad.stderr));
    let bad = run(&["unban", "198.51.100.50", "--allow-for", "400d"]);
    assert!(!bad.status.success());
    assert!(app.state.decisions.allowlist_store().list().await.unwrap().is_empty(), "bad input changes nothing");

    let out = run(&["unban", "198.51.100.50", "--allow-for", "1h"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("198.51.100.50: 2 decision(s) deleted at the engine; allowlisted until 20"), "{stderr}");
    assert!(cscli_values(&app).is_empty(), "the ban and the range holding it are gone");
    let rows = audit_rows(&app, &admin, "decision.break_glass").await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["actor"].as_str(), rows[0]["via"].as_str(), rows[0]["target"].as_str()), (Some("cli"), Some("CLI"), Some("198.51.100.50")));
    // The console notices the new entry and applies it (cache, engine whitelist) by itself.
    let parser = app.state.crowdsec.layout().config_dir.join("parsers/s02-enrich/charon-allowlist.yaml");
    let t0 = std::time::Instant::now();
    while !app.state.decisions.cache().is_allowlisted(&app::decisions::model::IpOrRange::parse("198.51.100.50").unwrap()) {
        assert!(t0.elapsed() < Duration::from_secs(10), "the console did not pick up the shell's entry");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("MEASURE console applied the shell's allowlist entry after {:.1} s", t0.elapsed().as_secs_f64());
    assert!(std::fs::read_to_string(&parser).unwrap().contains("198.51.100.50"));
    let entry = &app.state.decisions.allowlist_store().list().await.unwrap()[0];
    assert!(entry.expires_at.is_some(), "{entry:?}");

    // With the engine down it still allowlists (the bouncer stops blocking) and says what it could not do.
    // (The console may still be restarting the engine to load the new whitelist: 409 busy.)
    let t0 = std::time::Instant::now();
    while admin.post(app.url("/api/v1/cerberus/crowdsec/stop")).send().await.unwrap().status() != 200 {
        assert!(t0.elapsed() < Duration::from_secs(20), "the engine never stopped");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    while std::net::TcpStream::connect(app.state.config.crowdsec_lapi_listen).is_ok() {
        assert!(t0.elapsed() < Duration::from_secs(10), "the engine's LAPI still answers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = run(&["unban", "198.51.100.60"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("the engine did not answer") && stderr.contains("until removed"), "{stderr}");
    let values: Vec<String> = app.state.decisions.allowlist_store().list().await.unwrap().into_iter().map(|e| e.value).collect();
    assert!(values.contains(&"198.51.100.60".to_owned()), "{values:?}");
}
