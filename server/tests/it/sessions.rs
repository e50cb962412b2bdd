//! The Sessions page's API: each user lists and ends their own sessions (an ended session's
//! browser is signed out at its next request); administrators list and end anyone's; nobody else
//! learns of or ends someone else's session; the list never shows a session id.

use charon::on_db;
use reqwest::Method;
use serde_json::{json, Value};

use super::common::*;

async fn sessions(app: &TestApp, c: &reqwest::Client, query: &str) -> (u16, Value) {
    app.send_json(c, Method::GET, &format!("/api/v1/sessions{query}"), &Value::Null).await
}

#[tokio::test]
async fn users_end_their_own_sessions_and_administrators_anyones() {
    let app = spawn_app_with(|c| {
        c.crowdsec_bin = Some("/nonexistent/crowdsec".into());
        c.capi_url = "off".into();
    })
    .await;
    let admin = setup_admin(&app).await;
    let laptop = viewer(&app, &admin).await;
    let (phone, res) = login(&app, "vera", VIEWER_PASSWORD).await;
    assert_eq!(res.status(), 303);

    // The viewer sees both of her sessions, this one marked, and nobody else's.
    let (status, mine) = sessions(&app, &laptop, "").await;
    assert_eq!(status, 200, "{mine}");
    let mine = mine.as_array().unwrap().clone();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(mine.iter().all(|s| s["username"] == "vera" && s["address"] == "127.0.0.1"), "{mine:?}");
    assert_eq!(mine.iter().filter(|s| s["current"] == true).count(), 1, "{mine:?}");
    assert!(mine.iter().all(|s| s["id"].as_str().unwrap().len() == 16 && s["last_seen_at"].is_string()), "{mine:?}");
    // Everyone's sessions are for administrators.
    assert_eq!(sessions(&app, &laptop, "?all=true").await.0, 403);
    // A value that is neither true nor false is named, not read as false.
    let (status, bad) = sessions(&app, &admin, "?all=yes").await;
    assert_eq!((status, bad["field"].as_str()), (400, Some("all")), "{bad}");
    // Reading the list again within the minute writes nothing: last seen stays as it was.
    let seen: Vec<Option<i64>> = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT last_seen_at FROM sessions ORDER BY id_hash").fetch_all(cx).await).unwrap();
    on_db!(app.state.db, cx => sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 30").execute(cx).await.map(|r| r.rows_affected())).unwrap();
    let _ = sessions(&app, &laptop, "").await;
    let after: Vec<Option<i64>> = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT last_seen_at FROM sessions ORDER BY id_hash").fetch_all(cx).await).unwrap();
    assert_eq!(after, seen.iter().map(|t| t.map(|t| t - 30)).collect::<Vec<_>>(), "no write while last seen is under a minute old");
    // Once it is older than a minute, the next request notes the use.
    on_db!(app.state.db, cx => sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 60").execute(cx).await.map(|r| r.rows_affected())).unwrap();
    let _ = sessions(&app, &laptop, "").await;
    let now = charon::support::time::now();
    let laptops_seen: i64 = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT MAX(last_seen_at) FROM sessions").fetch_one(cx).await).unwrap();
    assert!(laptops_seen >= now - 2, "the used session was noted: {laptops_seen} vs {now}");

    // From the laptop she ends the phone's session: the phone is signed out at once.
    let other = mine.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(app.send_json(&phone, Method::GET, "/api/v1/auth/me", &Value::Null).await.0, 200);
    let (status, body) = app.send_json(&laptop, Method::DELETE, &format!("/api/v1/sessions/{other}"), &json!({})).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(app.send_json(&phone, Method::GET, "/api/v1/auth/me", &Value::Null).await.0, 401, "the ended session signs nobody in");
    assert_eq!(app.send_json(&laptop, Method::GET, "/api/v1/auth/me", &Value::Null).await.0, 200, "the other one still works");

    // The administrator's session is not hers to end (nor to learn of): 404 as for no session.
    let (_, everyone) = sessions(&app, &admin, "?all=true").await;
    let everyone = everyone.as_array().unwrap().clone();
    assert_eq!(everyone.len(), 2, "the admin's and the laptop's: {everyone:?}");
    let admins = everyone.iter().find(|s| s["username"] == "admin").unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(app.send_json(&laptop, Method::DELETE, &format!("/api/v1/sessions/{admins}"), &json!({})).await.0, 404);
    assert_eq!(app.send_json(&laptop, Method::DELETE, "/api/v1/sessions/not-a-session", &json!({})).await.0, 404);

    // The administrator ends the laptop's session.
    let laptops = everyone.iter().find(|s| s["username"] == "vera").unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(app.send_json(&admin, Method::DELETE, &format!("/api/v1/sessions/{laptops}"), &json!({})).await.0, 204);
    assert_eq!(app.send_json(&laptop, Method::GET, "/api/v1/auth/me", &Value::Null).await.0, 401);
    // Both ends are in the audit log.
    let (_, audit) = app.send_json(&admin, Method::GET, "/api/v1/audit?action=session.end", &Value::Null).await;
    assert_eq!(audit["total"], 2, "{audit}");
}
