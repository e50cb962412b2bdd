//! Exports: what a list's filters select, as CSV or JSON, streamed; too large an export is refused
//! with a 400 that says so, and a bad format names the field.

use charon::on_db;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use app::decisions::model::IpOrRange;
use serde_json::{json, Value};

use super::common::*;

const DECISIONS: &str = "/api/v1/cerberus/crowdsec/decisions";

fn addresses(n: u32, base: u32) -> Vec<IpOrRange> {
    (0..n).map(|i| IpOrRange::Ip(IpAddr::V4(Ipv4Addr::from(base + i)))).collect()
}

#[tokio::test]
async fn decisions_export_exactly_what_the_filters_select_and_refuse_too_many() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let cache = app.state.decisions.cache().clone();
    let until = charon::support::time::now() + 3600;
    // 150 000 from a list, 10 with a scenario a spreadsheet would run as a formula.
    cache.insert_many(&addresses(150_000, u32::from(Ipv4Addr::new(10, 0, 0, 0))), "ban", "lists:big", "big list", until);
    cache.insert_many(&addresses(10, u32::from(Ipv4Addr::new(198, 51, 100, 0))), "ban", "cscli", "=HYPERLINK(\"http://x\")", until);

    let t0 = Instant::now();
    let res = admin.get(app.url(&format!("{DECISIONS}?origin=lists:big&format=csv"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"charon-decisions-"));
    let text = res.text().await.unwrap();
    println!("MEASURE export of 150 000 decisions as CSV: {:.2} s, {} bytes", t0.elapsed().as_secs_f64(), text.len());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 150_001, "a header and every selected row");
    assert!(lines[0].starts_with("id,value,scope,type,origin,scenario,country,until"), "{}", lines[0]);
    assert!(lines[1..].iter().all(|l| l.contains(",lists:big,")));

    // JSON, another filter; the formula is defused in CSV and left as it is in JSON.
    let (status, rows) = app.get_json(&admin, &format!("{DECISIONS}?origin=cscli&format=json")).await;
    assert_eq!(status, 200, "{rows}");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[0]["scenario"], "=HYPERLINK(\"http://x\")");
    let csv = admin.get(app.url(&format!("{DECISIONS}?origin=cscli&format=csv"))).send().await.unwrap().text().await.unwrap();
    assert!(csv.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","), "{csv}");

    // More than one export may hold: a clear 400 and nothing else.
    cache.insert_many(&addresses(60_000, u32::from(Ipv4Addr::new(10, 100, 0, 0))), "ban", "lists:more", "more", until);
    let (status, body) = app.get_json(&admin, &format!("{DECISIONS}?format=csv")).await;
    assert_eq!((status, body["code"].as_str(), body["field"].as_str()), (400, Some("export_too_large"), Some("format")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("narrow"), "{body}");
    let (status, body) = app.get_json(&admin, &format!("{DECISIONS}?format=xml")).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("format")), "{body}");
    // The page itself is unchanged by the export parameter being absent.
    let (status, page) = app.get_json(&admin, &format!("{DECISIONS}?origin=cscli")).await;
    assert_eq!((status, page["total"].as_u64()), (200, Some(10)));
}

#[tokio::test]
async fn the_audit_log_exports_every_matching_entry_and_only_to_administrators() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    for i in 0..1_205 {
        on_db!(app.state.db, cx => sqlx::query("INSERT INTO audit_log (at, actor, via, address, action, target, detail, result) VALUES ($1, 'bot', 'API token \"ci\"', '192.0.2.1', 'decision.ban', $2, 'ban for 4h', 'ok')")
            .bind(charon::support::time::now())
            .bind(format!("203.0.113.{}", i % 250))
            .execute(cx).await.map(|r| r.rows_affected()))
            .unwrap();
    }
    let res = admin.get(app.url("/api/v1/audit?actor=bot&format=csv")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1_206, "every entry across the 1 000-row chunks, and the header");
    assert_eq!(lines[0], "id,at,actor,via,address,action,target,detail,result");
    assert!(lines[1].contains(",bot,\"API token \"\"ci\"\"\",192.0.2.1,decision.ban,"), "{}", lines[1]);
    let ids: Vec<i64> = lines[1..].iter().map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats");
    let (status, json) = app.get_json(&admin, "/api/v1/audit?actor=bot&q=203.0.113.7&format=json").await;
    assert_eq!(status, 200);
    assert!(json.as_array().unwrap().iter().all(|r| r["target"].as_str().unwrap().starts_with("203.0.113.7")), "{json}");
    assert!(!json.as_array().unwrap().is_empty());
    let viewer = viewer(&app, &admin).await;
    let (status, _) = app.get_json(&viewer, "/api/v1/audit?format=csv").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn alerts_export_what_the_filters_select() {
    let app = spawn_app_with(|c| c.decision_sync_interval_ms = 200).await;
    let admin = setup_admin(&app).await;
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    for ip in ["203.0.113.81", "203.0.113.82"] {
        let (status, _) = app.send_json(&admin, reqwest::Method::POST, DECISIONS, &json!({"value": ip, "duration": "1h", "reason": "export test"})).await;
        assert_eq!(status, 201);
    }
    let text = admin.get(app.url("/api/v1/cerberus/crowdsec/alerts?format=csv")).send().await.unwrap().text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("id,started_at,stopped_at,scenario,source_scope,source_value"));
    assert!(lines[1].contains("203.0.113.82") && lines[2].contains("203.0.113.81"), "newest first: {text}");
    let (status, one): (u16, Value) = app.get_json(&admin, "/api/v1/cerberus/crowdsec/alerts?q=203.0.113.81&format=json").await;
    assert_eq!(status, 200);
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["source_value"], "203.0.113.81");
}
