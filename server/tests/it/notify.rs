//! Notifications against a webhook sink on loopback: channels kept secret and validated, engine
//! alerts from real log lines arriving signed (the real engine and its http plugin), manual bans,
//! a channel that is down first and up later, a burst grouped into one message.

use charon::on_db;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

const CHANNELS: &str = "/api/v1/notifications/channels";
const HISTORY: &str = "/api/v1/notifications/history";

/// What the sink received: when, the headers, the raw body.
type Received = Arc<Mutex<Vec<(Instant, HeaderMap, Vec<u8>)>>>;

/// An HTTP receiver on loopback that answers 503 to its first `fail_first` requests.
async fn sink(fail_first: usize) -> (String, Received) {
    let got: Received = Arc::default();
    let seen = Arc::new(Mutex::new(0usize));
    let app = {
        let got = got.clone();
        axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
            let got = got.clone();
            let seen = seen.clone();
            async move {
                let n = {
                    let mut s = seen.lock().unwrap();
                    *s += 1;
                    *s
                };
                if n <= fail_first {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                got.lock().unwrap().push((Instant::now(), headers, body.to_vec()));
                StatusCode::OK
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook?token=sink-secret-token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn wait_received(got: &Received, n: usize, timeout: Duration) -> Vec<(Instant, HeaderMap, Vec<u8>)> {
    let t0 = Instant::now();
    loop {
        let now = got.lock().unwrap().clone();
        if now.len() >= n {
            return now;
        }
        assert!(t0.elapsed() < timeout, "the sink got {} of {n} messages in {timeout:?}", now.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn channels_keep_their_secrets_refuse_bad_input_and_viewers_only_read() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let viewer = viewer(&app, &admin).await;
    let (url, _) = sink(0).await;

    let (status, created) = app.send_json(&admin, reqwest::Method::POST, CHANNELS, &json!({"kind": "webhook", "name": "ops", "url": url})).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().expect("a made signing secret, shown once").to_owned();
    assert_eq!(secret.len(), 64);
    let id = created["channel"]["id"].as_i64().unwrap();
    assert_eq!(created["channel"]["rules"]["events"], json!(["engine_down", "bouncer_down", "alert"]), "the defaults");
    assert_eq!(created["channel"]["rules"]["group_window_secs"], 300);
    assert_eq!(created["channel"]["rules"]["digest"], Value::Null, "no digest unless asked for");

    let (_, listed) = app.get_json(&viewer, CHANNELS).await;
    let text = listed.to_string();
    assert!(!text.contains("sink-secret-token") && !text.contains(&secret), "secrets never listed: {text}");
    assert!(listed[0]["url_masked"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{listed}");
    assert_eq!((listed[0]["has_secret"].as_bool(), listed[0]["has_token"].as_bool()), (Some(true), Some(false)));
    // At rest too: the database holds no URL, token or secret in clear.
    let sealed: Vec<u8> = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT sealed FROM notify_channels WHERE id = $1").bind(id).fetch_one(cx).await).unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("sink-secret-token"));

    // Bad input: 400 naming the field, nothing stored.
    for (body, field) in [
        (json!({"kind": "pager", "name": "x", "url": url}), "kind"),
        (json!({"kind": "slack", "name": "x", "url": "ftp://example.com/"}), "url"),
        (json!({"kind": "slack", "name": "", "url": url}), "name"),
        (json!({"kind": "gotify", "name": "x", "url": url}), "secret"),
        (json!({"kind": "webhook", "name": "x", "url": url, "secret": "short"}), "secret"),
        (json!({"kind": "slack", "name": "x", "url": url, "events": ["everything"]}), "events"),
        (json!({"kind": "slack", "name": "x", "url": url, "quiet_hours": {"from": "24:00", "to": "07:00"}}), "rules"),
    ] {
        let (status, answer) = app.send_json(&admin, reqwest::Method::POST, CHANNELS, &body).await;
        assert_eq!((status, answer["field"].as_str()), (400, Some(field)), "{body}: {answer}");
    }
    let (status, answer) = app.send_json(&admin, reqwest::Method::POST, CHANNELS, &json!({"kind": "slack", "name": "ops", "url": url})).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("name_taken")));
    assert_eq!(app.get_json(&admin, CHANNELS).await.1.as_array().unwrap().len(), 1, "nothing stored");

    // An update keeps the secrets it does not give; viewers change nothing.
    let (status, updated) = app.send_json(&admin, reqwest::Method::PUT, &format!("{CHANNELS}/{id}"), &json!({"events": ["manual", "engine_down"], "group_window_secs": 0})).await;
    assert_eq!(status, 200, "{updated}");
    assert!(updated["secret"].is_null());
    let (ok, _) = (app.send_json(&admin, reqwest::Method::POST, &format!("{CHANNELS}/{id}/test"), &json!({})).await.1, ());
    assert_eq!(ok["ok"], true, "the test still signs and reaches the same URL: {ok}");
    for (method, path) in [(reqwest::Method::POST, CHANNELS.to_owned()), (reqwest::Method::PUT, format!("{CHANNELS}/{id}")), (reqwest::Method::DELETE, format!("{CHANNELS}/{id}")), (reqwest::Method::POST, format!("{CHANNELS}/{id}/test"))] {
        assert_eq!(app.send_json(&viewer, method.clone(), &path, &json!({})).await.0, 403, "viewer {method} {path}");
    }
    let (status, history) = app.get_json(&viewer, HISTORY).await;
    assert_eq!((status, history["rows"][0]["event"].as_str(), history["rows"][0]["status"].as_str()), (200, Some("test"), Some("sent")), "{history}");
    // The audit log names the channel, never its URL's secret part.
    let audit: Vec<String> = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT detail FROM audit_log WHERE action LIKE 'notify.%'").fetch_all(cx).await).unwrap();
    assert!(audit.len() >= 3 && audit.iter().all(|d| !d.contains("sink-secret-token")), "{audit:?}");
    // The hook answers nobody but the engine.
    let res = admin.post(app.url("/api/v1/internal/engine-alerts")).json(&json!([])).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_channel_down_at_first_gets_the_message_after_retries_and_a_burst_is_one_message() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let (url, got) = sink(2).await;
    let (status, created) = app
        .send_json(&admin, reqwest::Method::POST, CHANNELS, &json!({"kind": "webhook", "name": "flaky", "url": url, "events": ["alert", "manual"], "group_window_secs": 2}))
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let hook = app.state.notifier.listen_at(app.addr);

    // A burst of 50 alerts in one window, as the engine's plugin posts them.
    let alerts: Vec<Value> = (1..=50)
        .map(|n| json!({"scenario": "crowdsecurity/http-probing", "source": {"value": format!("203.0.113.{n}"), "cn": "FR"},
            "decisions": [{"origin": "crowdsec", "value": format!("203.0.113.{n}"), "type": "ban"}], "created_at": "2026-12-02T10:00:00Z"}))
        .collect();
    let client = reqwest::Client::new();
    let post = |body: Value, token: String| client.post(app.url("/api/v1/internal/engine-alerts")).bearer_auth(token).json(&body).send();
    assert_eq!(post(json!(alerts[..1]), "wrong".into()).await.unwrap().status(), 401);
    let t0 = Instant::now();
    for chunk in alerts.chunks(10) {
        assert_eq!(post(json!(chunk), hook.token.clone()).await.unwrap().status(), 200);
    }
    // Down twice (503), then delivered: 2 s window + 2 s + 5 s of pauses.
    let received = wait_received(&got, 1, Duration::from_secs(20)).await;
    println!("MEASURE burst of 50 → delivered after two failures in {:?}", t0.elapsed());
    let (_, headers, body) = &received[0];
    let message: Value = serde_json::from_slice(body).unwrap();
    assert_eq!((message["event"].as_str(), message["count"].as_u64()), (Some("alert"), Some(50)), "{message}");
    assert_eq!((message["value"].as_str(), message["scenario"].as_str(), message["origin"].as_str()), (Some("203.0.113.1"), Some("crowdsecurity/http-probing"), Some("crowdsec")));
    assert_eq!(headers["x-charon-signature"].to_str().unwrap(), hmac_hex(&secret, body), "a valid signature of the raw body");
    let (_, history) = app.get_json(&admin, &format!("{HISTORY}?status=sent")).await;
    assert_eq!((history["rows"][0]["attempts"].as_u64(), history["rows"][0]["count"].as_u64()), (Some(3), Some(50)), "{history}");
    assert_eq!(history["total"], 1, "one message for the burst: {history}");
    // An administrator can send it again.
    let sent_id = history["rows"][0]["id"].as_i64().unwrap();
    let (status, queued) = app.send_json(&admin, reqwest::Method::POST, &format!("{HISTORY}/{sent_id}/resend"), &json!({})).await;
    assert_eq!(status, 202, "{queued}");
    let again = wait_received(&got, 2, Duration::from_secs(10)).await;
    assert_eq!(again[1].2, received[0].2, "the same message");

    // A channel that never answers does not hold back the others; its message waits for the next
    // attempt with the error recorded (never the URL).
    let (status, _) = app
        .send_json(&admin, reqwest::Method::POST, CHANNELS, &json!({"kind": "slack", "name": "nowhere", "url": format!("http://127.0.0.1:{}/", free_port()), "events": ["manual"], "group_window_secs": 0}))
        .await;
    assert_eq!(status, 201);
    let (status, _) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/allowlist", &json!({"value": "192.0.2.44", "reason": "office"})).await;
    assert_eq!(status, 201);
    // The webhook (manual too, grouped per 2 s) gets the allow; the dead Slack retries.
    let received = wait_received(&got, 3, Duration::from_secs(10)).await;
    let manual: Value = serde_json::from_slice(&received[2].2).unwrap();
    assert_eq!((manual["event"].as_str(), manual["value"].as_str(), manual["items"][0]["actor"].as_str()), (Some("manual"), Some("192.0.2.44"), Some("admin")), "{manual}");
    let t0 = Instant::now();
    loop {
        let (_, pending) = app.get_json(&admin, &format!("{HISTORY}?status=pending")).await;
        if let Some(row) = pending["rows"].as_array().unwrap().iter().find(|r| r["channel"] == "nowhere" && r["attempts"].as_u64() >= Some(2)) {
            assert!(!row["last_error"].as_str().unwrap().is_empty(), "{row}");
            assert!(!row["last_error"].as_str().unwrap().contains("127.0.0.1"), "errors never name the URL: {row}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "no retry recorded: {pending}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_engine_alert_from_real_log_lines_reaches_the_webhook_signed_and_no_plugin_outlives_the_engine() {
    let app = spawn_app_with(|c| c.decision_sync_interval_ms = 200).await;
    let admin = setup_admin(&app).await;
    let (url, got) = sink(0).await;
    let (status, created) = app.send_json(&admin, reqwest::Method::POST, CHANNELS, &json!({"kind": "webhook", "name": "soc", "url": url, "events": ["alert"], "group_window_secs": 0})).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let (oncall_url, oncall) = sink(0).await;
    let (status, _) = app.send_json(&admin, reqwest::Method::POST, CHANNELS, &json!({"kind": "ntfy", "name": "on call", "url": oncall_url, "events": ["engine_down"]})).await;
    assert_eq!(status, 201);
    let (status, engine) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/start", &json!({})).await;
    assert_eq!(status, 200, "{engine}");
    assert_eq!(app.state.crowdsec.status().alerts_notified, true, "the http plugin is there: the engine's alerts are notified");
    let profiles = std::fs::read_to_string(app.state.crowdsec.layout().config_dir.join("profiles.yaml")).unwrap();
    assert!(profiles.contains("notifications:\n - charon"), "{profiles}");

    // Five CVE probes from five addresses, one after the other; each alert's way to the webhook.
    let mut took = Vec::new();
    for n in 1..=5 {
        let attacker = format!("198.51.100.{}", 60 + n);
        let t0 = Instant::now();
        append(&app.state.crowdsec.layout().access_log, &access_line(&attacker, "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd", 404));
        let deadline = Duration::from_secs(30);
        loop {
            let arrived = got.lock().unwrap().iter().find_map(|(at, headers, body)| {
                let m: Value = serde_json::from_slice(body).ok()?;
                m["items"].as_array()?.iter().any(|i| i["value"] == attacker.as_str()).then(|| (*at, headers.clone(), body.clone(), m))
            });
            if let Some((at, headers, body, m)) = arrived {
                took.push(at.duration_since(t0));
                assert_eq!(headers["x-charon-signature"].to_str().unwrap(), hmac_hex(&secret, &body));
                let item = m["items"].as_array().unwrap().iter().find(|i| i["value"] == attacker.as_str()).unwrap().clone();
                assert_eq!((item["scenario"].as_str(), item["origin"].as_str()), (Some("crowdsecurity/http-cve-2021-41773"), Some("crowdsec")), "{m}");
                break;
            }
            assert!(t0.elapsed() < deadline, "no webhook for {attacker}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    took.sort();
    println!("MEASURE log line → signed webhook delivered: p50 {:?}, max {:?} ({} alerts)", took[took.len() / 2], took[took.len() - 1], took.len());

    // The digest counts those five bans (the engine's alerts), the requests the evidence index
    // read from the same log, and the engine's uptime; by e-mail, sent now.
    let (port, mails) = smtp_sink().await;
    let smtp = json!({"host": "127.0.0.1", "port": port, "security": "plain", "from": "charon@example.com", "to": ["ops@example.com"]});
    let (status, created) = app
        .send_json(&admin, reqwest::Method::POST, CHANNELS, &json!({"kind": "email", "name": "digest", "smtp": smtp, "events": ["engine_down"], "digest": {"period": "daily", "at": "07:30"}}))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["channel"]["rules"]["digest"], json!({"period": "daily", "at": "07:30"}));
    let id = created["channel"]["id"].as_i64().unwrap();
    let t0 = Instant::now();
    while app.state.evidence.store().count().await.unwrap() < 5 {
        assert!(t0.elapsed() < Duration::from_secs(10), "the evidence index did not read the five requests");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, preview) = app.send_json(&admin, reqwest::Method::POST, &format!("{CHANNELS}/{id}/digest"), &json!({})).await;
    assert_eq!(status, 200, "{preview}");
    let d = &preview["digest"];
    assert_eq!((d["period"].as_str(), d["bans"].as_u64(), d["bans_before"].as_u64()), (Some("daily"), Some(5), Some(0)), "{preview}");
    assert_eq!(d["by_scenario"], json!([{"name": "crowdsecurity/http-cve-2021-41773", "count": 5, "before": 0}]), "{preview}");
    assert_eq!(d["by_origin"], json!([{"name": "crowdsec", "count": 5, "before": 0}]), "{preview}");
    assert_eq!(d["top_addresses"].as_array().unwrap().len(), 5, "{preview}");
    assert_eq!((d["requests"].as_u64(), d["blocked"].as_u64()), (Some(5), Some(0)), "{preview}");
    assert!(d["engine_uptime_permille"].as_u64().is_some_and(|p| p > 0 && p <= 1000), "{preview}");
    assert_eq!(d["engine_restarts"], 0);
    let text = preview["text"].as_str().unwrap();
    assert!(text.contains("Bans: 5 (+5 from 0)") && text.contains("crowdsecurity/http-cve-2021-41773 — 5 (+5 from 0)"), "{text}");
    assert_eq!(preview["result"]["ok"], true, "{preview}");
    let mail = mails.lock().unwrap().last().cloned().unwrap_or_default();
    assert!(mail.contains("Subject: Charon daily digest: 5 bans, 0 blocked requests"), "{mail}");
    let (_, history) = app.get_json(&admin, &format!("{HISTORY}?channel={id}")).await;
    assert_eq!((history["rows"][0]["event"].as_str(), history["rows"][0]["status"].as_str()), (Some("digest"), Some("sent")), "{history}");

    // Stopping the engine stops its plugin processes too.
    let plugin = app.state.crowdsec.layout().plugins_dir().join("notification-http");
    let running = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(plugin.to_str().unwrap()))
        })
    };
    assert!(running(), "the plugin runs with the engine");
    let (status, _) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/stop", &json!({})).await;
    assert_eq!(status, 200);
    let t0 = Instant::now();
    while running() {
        assert!(t0.elapsed() < Duration::from_secs(10), "a plugin process outlived the engine");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The on-call channel hears that the engine was stopped (ntfy: a title and a line of text).
    let told = wait_received(&oncall, 1, Duration::from_secs(10)).await;
    assert_eq!(told[0].1["title"].to_str().unwrap(), "CrowdSec engine down");
    assert!(String::from_utf8_lossy(&told[0].2).contains("stopped by an administrator"), "{:?}", String::from_utf8_lossy(&told[0].2));
}

/// A plain SMTP server on loopback that accepts every login and mail, and keeps the AUTH lines
/// and each mail's DATA.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mails: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let kept = mails.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink.test ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            kept.lock().unwrap().push(data.take().unwrap());
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-sink.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n",
                        "AUTH" => {
                            kept.lock().unwrap().push(line.clone());
                            b"235 authenticated\r\n"
                        }
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(answer).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

#[tokio::test]
async fn an_email_channel_sends_over_smtp_and_its_password_stays_secret() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let (port, mails) = smtp_sink().await;
    let smtp = json!({"host": "127.0.0.1", "port": port, "security": "plain", "username": "alerts", "from": "charon@example.com", "to": ["ops@example.com", "oncall@example.com"]});
    let (status, answer) = app.send_json(&admin, reqwest::Method::POST, CHANNELS, &json!({"kind": "email", "name": "mail", "smtp": smtp})).await;
    assert_eq!((status, answer["field"].as_str()), (400, Some("secret")), "a user needs its password: {answer}");
    let (status, created) = app
        .send_json(&admin, reqwest::Method::POST, CHANNELS, &json!({"kind": "email", "name": "mail", "smtp": smtp, "token": "smtp-password-42", "events": ["manual"], "group_window_secs": 0}))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["channel"]["id"].as_i64().unwrap();
    assert_eq!(created["channel"]["smtp"]["to"], json!(["ops@example.com", "oncall@example.com"]));
    assert_eq!(created["channel"]["url_masked"], format!("smtp://127.0.0.1:{port}/…"));
    assert!(!app.get_json(&admin, CHANNELS).await.1.to_string().contains("smtp-password-42"));

    let (_, test) = app.send_json(&admin, reqwest::Method::POST, &format!("{CHANNELS}/{id}/test"), &json!({})).await;
    assert_eq!(test["ok"], true, "{test}");
    let (status, _) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/allowlist", &json!({"value": "192.0.2.77", "reason": "printer"})).await;
    assert_eq!(status, 201);
    let t0 = Instant::now();
    while mails.lock().unwrap().len() < 4 {
        assert!(t0.elapsed() < Duration::from_secs(10), "mails: {:?}", mails.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (auth, got): (Vec<String>, Vec<String>) = mails.lock().unwrap().clone().into_iter().partition(|m| m.starts_with("AUTH"));
    use base64::Engine;
    let plain = base64::engine::general_purpose::STANDARD.decode(auth[0].split_whitespace().nth(2).unwrap()).unwrap();
    assert_eq!(plain, b"\0alerts\0smtp-password-42", "it signs in with the stored password");
    assert!(got[0].contains("Subject: Test message from Charon") && got[0].contains("To: ops@example.com, oncall@example.com"), "{}", got[0]);
    assert!(got[1].contains("Subject: Manual action in Charon") && got[1].contains("admin allowed 192.0.2.77"), "{}", got[1]);
}
