//! The audit log, read back: changes made through Charon are listed newest first with their actor,
//! filtered by actor, action (or its prefix), text and age; only administrators may read it.

use serde_json::{json, Value};

use super::common::*;

#[tokio::test]
async fn administrators_read_who_changed_what_and_nobody_else_does() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let viewer = viewer(&app, &admin).await; // user.create by the admin, login by vera
    let (status, _) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/tokens", &json!({"name": "ci-reader", "role": "viewer"})).await;
    assert_eq!(status, 201);

    let (status, page) = app.get_json(&admin, "/api/v1/audit").await;
    assert_eq!(status, 200, "{page}");
    let actions: Vec<&str> = page["rows"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions.first(), Some(&"token.create"), "newest first: {actions:?}");
    assert!(actions.contains(&"user.create") && actions.contains(&"login"), "{actions:?}");
    let token = &page["rows"][0];
    assert_eq!(token["target"], "ci-reader", "{token}");
    assert_eq!(token["via"], "web UI", "{token}");
    assert_eq!(token["address"], "127.0.0.1", "{token}");
    assert_eq!(token["result"], "ok", "{token}");
    assert!(token["at"].as_str().unwrap().ends_with('Z'));
    let admin_name = token["actor"].as_str().unwrap().to_owned();

    // Filters: action prefix, exact actor, text, age, paging.
    let (_, tokens) = app.get_json(&admin, "/api/v1/audit?action=token").await;
    assert!(tokens["rows"].as_array().unwrap().iter().all(|r| r["action"].as_str().unwrap().starts_with("token.")), "{tokens}");
    assert_eq!(tokens["total"], 1);
    let (_, by_vera) = app.get_json(&admin, "/api/v1/audit?actor=vera").await;
    assert!(by_vera["rows"].as_array().unwrap().iter().all(|r| r["actor"] == "vera"), "{by_vera}");
    assert!(by_vera["total"].as_i64().unwrap() >= 1, "vera's sign-in: {by_vera}");
    let (_, text) = app.get_json(&admin, "/api/v1/audit?q=ci-read").await;
    assert_eq!(text["total"], 1, "{text}");
    let (_, wild) = app.get_json(&admin, "/api/v1/audit?q=%25").await;
    assert_eq!(wild["total"], 0, "a % in the text is a character, not a wildcard: {wild}");
    let (_, recent) = app.get_json(&admin, "/api/v1/audit?since=1h").await;
    assert_eq!(recent["total"], page["total"]);
    let (_, first) = app.get_json(&admin, &format!("/api/v1/audit?actor={admin_name}&per_page=1")).await;
    assert_eq!(first["rows"].as_array().unwrap().len(), 1);
    assert!(first["total"].as_i64().unwrap() >= 2, "{first}");

    // Bad filters are refused and name the field; viewers and strangers read nothing.
    for (query, field) in [("since=1w", "duration"), ("actor=a%20b", "username"), ("action=x%3Bdrop", "name")] {
        let (status, body): (u16, Value) = app.get_json(&admin, &format!("/api/v1/audit?{query}")).await;
        assert_eq!((status, body["field"].as_str()), (400, Some(field)), "{query}: {body}");
    }
    let (status, _) = app.get_json(&viewer, "/api/v1/audit").await;
    assert_eq!(status, 403);
    let (status, _) = app.get_json(&reqwest::Client::new(), "/api/v1/audit").await;
    assert_eq!(status, 401);
}
