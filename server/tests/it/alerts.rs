//! Alerts against the real engine: a manual ban's alert is found by address, machine and paging,
//! its detail carries the decision it made, and bad filters are refused before the LAPI is asked.
//! (Alerts with events, from a real detection, are checked in `proxy`.)

use serde_json::{json, Value};

use super::common::*;

async fn started() -> (TestApp, reqwest::Client) {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let res = admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    (app, admin)
}

const ALERTS: &str = "/api/v1/cerberus/crowdsec/alerts";

#[tokio::test]
async fn a_manual_bans_alert_is_listed_filtered_paged_and_shown_with_its_decision() {
    let (app, admin) = started().await;
    for ip in ["203.0.113.71", "203.0.113.72", "203.0.113.73"] {
        let res = admin
            .post(app.url("/api/v1/cerberus/crowdsec/decisions"))
            .json(&json!({"value": ip, "duration": "1h", "reason": "alerts test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }

    let (status, page) = app.get_json(&admin, &format!("{ALERTS}?q=203.0.113.72")).await;
    assert_eq!(status, 200, "{page}");
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{page}");
    let alert = &rows[0];
    assert_eq!(alert["source_value"], "203.0.113.72");
    assert!(alert["scenario"].as_str().unwrap().contains("alerts test"), "{alert}");
    assert_eq!(alert["decisions"][0]["value"], "203.0.113.72");
    assert_eq!(alert["decisions"][0]["active"], true);
    assert_eq!(alert["events"], json!([]), "lists leave events out");
    let machine = alert["machine"].as_str().unwrap().to_owned();
    assert!(!machine.is_empty());

    // Newest first, a page at a time.
    let (_, first) = app.get_json(&admin, &format!("{ALERTS}?per_page=2")).await;
    let ids: Vec<i64> = first["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] > ids[1], "{ids:?}");
    assert_eq!(first["more"], true);
    let (_, second) = app.get_json(&admin, &format!("{ALERTS}?per_page=2&page=2")).await;
    let second_ids: Vec<i64> = second["rows"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(second_ids.len(), 1, "{second}");
    assert!(second_ids[0] < ids[1]);
    assert_eq!(second["more"], false);

    // The machine filter (applied by Charon: the LAPI has none) and the scenario filter.
    let (_, mine) = app.get_json(&admin, &format!("{ALERTS}?machine={machine}")).await;
    assert_eq!(mine["rows"].as_array().unwrap().len(), 3);
    let (_, none) = app.get_json(&admin, &format!("{ALERTS}?machine=someone-else")).await;
    assert_eq!(none["rows"], json!([]));
    let (_, nothing) = app.get_json(&admin, &format!("{ALERTS}?q=198.51.100.1")).await;
    assert_eq!(nothing["rows"], json!([]));
    let (status, _) = app.get_json(&admin, &format!("{ALERTS}?since=1h")).await;
    assert_eq!(status, 200);

    // One alert, with the decision it made; viewers may read it.
    let id = alert["id"].as_i64().unwrap();
    let viewer = viewer(&app, &admin).await;
    let (status, detail) = app.get_json(&viewer, &format!("{ALERTS}/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["id"], id);
    assert_eq!(detail["decisions"][0]["value"], "203.0.113.72");
    assert!(detail["started_at"].as_str().unwrap().ends_with('Z'), "{detail}");
    // The address never reached a protected site: the evidence says so (nothing seen, nothing refused).
    assert_eq!(detail["evidence"]["requests"], json!([]), "{detail}");
    assert_eq!(detail["evidence"]["requests_total"], 0);
    assert_eq!(detail["evidence"]["refused"], json!([]));

    // Unknown or malformed ids are 404; bad filters are 400 and name the field.
    for path in [format!("{ALERTS}/999999"), format!("{ALERTS}/0"), format!("{ALERTS}/nope")] {
        let (status, _) = app.get_json(&admin, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    for (query, field) in [("q=not-an-ip", "value"), ("since=1w", "duration"), ("until=-3h", "duration"), ("origin=a%26b", "origin"), ("scenario=a%20b", "value")] {
        let (status, body): (u16, Value) = app.get_json(&admin, &format!("{ALERTS}?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
}

#[tokio::test]
async fn with_the_engine_off_alerts_say_the_lapi_is_unavailable() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let (status, body) = app.get_json(&admin, ALERTS).await;
    assert_eq!(status, 503, "{body}");
}
