//! TOTP as a second factor, with codes computed here from the secret the set-up shows: turning it
//! on, the sign-in's second step (no session before it; a code's time step accepted once; recovery
//! codes used once; five wrong codes end the attempt; the sign-in limits count wrong codes), an
//! administrator requiring it for everyone, and turning it off.

use reqwest::header::LOCATION;
use serde_json::Value;
use totp_rs::{Algorithm, Secret, TOTP};

use super::common::*;

async fn rpc(app: &TestApp, c: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = c.post(app.url(path)).header("accept", "application/json").form(form).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The code of the time step after the current one: accepted (within the skew) and newer than any
/// step used so far in this test.
fn next_code(t: &TOTP, steps_ahead: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    t.generate((now / 30 + steps_ahead) * 30)
}

/// Password, then the second step with `code`: where the second step sends the browser.
async fn sign_in(app: &TestApp, user: &str, password: &str, code: &str) -> (reqwest::Client, u16, String) {
    let (client, res) = login(app, user, password).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()[LOCATION].to_str().unwrap().starts_with("/login/code?next="), "the password alone earns no session");
    assert_eq!(client.get(app.url("/api/v1/auth/me")).send().await.unwrap().status(), 401, "no session before the code");
    let res = client.post(app.url("/login/code")).form(&[("code", code), ("next", "/overview")]).send().await.unwrap();
    let status = res.status().as_u16();
    let to = res.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (client, status, to)
}

#[tokio::test]
async fn totp_is_set_up_asked_for_at_sign_in_used_once_and_can_be_required() {
    let app = spawn_app_with(|c| {
        c.crowdsec_bin = Some("/nonexistent/crowdsec".into());
        c.capi_url = "off".into();
        c.login_max_failures = 50;
    })
    .await;
    let admin = setup_admin(&app).await;
    let vera = viewer(&app, &admin).await;
    // An API token is a credential of its own: it is not held back when a second factor is required.
    let (status, token) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/tokens", &serde_json::json!({"name": "audit-reader", "role": "admin"})).await;
    assert_eq!(status, 201);
    let token = token["token"].as_str().unwrap().to_owned();

    // An API token acts for its creator but cannot set up, confirm or remove the creator's second
    // factor (whoever held it would hold the factor): a browser session only.
    let bearer = reqwest::Client::builder()
        .default_headers([(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap())].into_iter().collect())
        .build()
        .unwrap();
    for path in ["/rpc/totp/begin", "/rpc/totp/confirm", "/rpc/totp/disable"] {
        assert_eq!(rpc(&app, &bearer, path, &[("code", "000000")]).await.0, 403, "{path} with an API token");
    }
    assert_eq!(rpc(&app, &bearer, "/rpc/totp/status", &[]).await.0, 200, "reading is fine");

    // Set-up: a secret (text, otpauth URI, QR path); a wrong code does not turn it on.
    let (status, setup) = rpc(&app, &vera, "/rpc/totp/begin", &[]).await;
    assert_eq!(status, 200, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_owned();
    assert!(setup["uri"].as_str().unwrap().starts_with("otpauth://totp/Charon:vera?secret="), "{setup}");
    assert!(setup["qr_path"].as_str().unwrap().starts_with('M') && setup["qr_size"].as_u64().unwrap() >= 29);
    let t = TOTP::new(Algorithm::SHA1, 6, 1, 30, Secret::Encoded(secret.clone()).to_bytes().unwrap(), Some("Charon".into()), "vera".into()).unwrap();
    let (status, body) = rpc(&app, &vera, "/rpc/totp/confirm", &[("code", "000000")]).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("totp_code_invalid")), "{body}");
    let (status, codes) = rpc(&app, &vera, "/rpc/totp/confirm", &[("code", t.generate_current().unwrap().as_str())]).await;
    assert_eq!(status, 200, "{codes}");
    let codes: Vec<String> = codes.as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    let (_, st) = rpc(&app, &vera, "/rpc/totp/status", &[]).await;
    assert_eq!((st["enabled"].as_bool(), st["recovery_codes_left"].as_u64()), (Some(true), Some(10)), "{st}");
    assert_eq!(rpc(&app, &vera, "/rpc/totp/begin", &[]).await.0, 409, "a second set-up while one is on");
    let (status, rest) = app.get_json(&vera, "/api/v1/account/two-factor").await;
    assert_eq!((status, rest), (200, st), "the REST twin says the same");
    assert_eq!(app.send_json(&vera, reqwest::Method::PUT, "/api/v1/settings/two-factor", &serde_json::json!({"required": true})).await.0, 403);

    // Sign-in: password, then a code of a newer step: signed in.
    let code = next_code(&t, 1);
    let (client, status, to) = sign_in(&app, "vera", VIEWER_PASSWORD, &code).await;
    assert_eq!((status, to.as_str()), (303, "/security"), "the page asked for before the password");
    assert_eq!(client.get(app.url("/api/v1/auth/me")).send().await.unwrap().status(), 200);
    // The same code again (its step is used): refused.
    let (_, status, to) = sign_in(&app, "vera", VIEWER_PASSWORD, &code).await;
    assert_eq!((status, to.starts_with("/login/code?error=invalid")), (303, true), "{to}");
    // A recovery code (typed with spaces and capitals), once.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let (client, status, to) = sign_in(&app, "vera", VIEWER_PASSWORD, &typed).await;
    assert_eq!((status, to.as_str()), (303, "/security"), "the page asked for before the password");
    assert_eq!(client.get(app.url("/api/v1/auth/me")).send().await.unwrap().status(), 200);
    let (_, _, to) = sign_in(&app, "vera", VIEWER_PASSWORD, &codes[0]).await;
    assert!(to.starts_with("/login/code?error=invalid"), "a recovery code works once: {to}");
    // Five wrong codes end the attempt: the password is asked for again.
    let (client, res) = login(&app, "vera", VIEWER_PASSWORD).await;
    assert_eq!(res.status(), 303);
    let mut last = String::new();
    for _ in 0..5 {
        let res = client.post(app.url("/login/code")).form(&[("code", "123456"), ("next", "/overview")]).send().await.unwrap();
        last = res.headers()[LOCATION].to_str().unwrap().to_owned();
    }
    assert!(last.starts_with("/login?error=invalid"), "{last}");
    let res = client.post(app.url("/login/code")).form(&[("code", next_code(&t, 2).as_str()), ("next", "/overview")]).send().await.unwrap();
    assert!(res.headers()[LOCATION].to_str().unwrap().starts_with("/login?error=expired"), "the ended attempt takes no code");

    // Required for everyone: the administrator (no second factor yet) may only set one up.
    let (status, _) = rpc(&app, &admin, "/rpc/totp/require", &[("required", "on")]).await;
    assert_eq!(status, 200);
    let res = admin.get(app.url("/api/v1/users")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("second factor"));
    let res = admin.get(app.url("/security")).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.headers()[LOCATION].to_str().unwrap()), (303, "/settings/two-factor"));
    assert_eq!(rpc(&app, &admin, "/rpc/totp/status", &[]).await.0, 200);
    // Vera has one: not held back.
    assert_eq!(vera.get(app.url("/api/v1/users")).send().await.unwrap().status(), 200);
    assert_eq!(rpc(&app, &vera, "/rpc/totp/require", &[]).await.0, 403, "requiring is an administrator's");

    // Off again with a code (a wrong one changes nothing).
    assert_eq!(rpc(&app, &vera, "/rpc/totp/disable", &[("code", "000000")]).await.0, 400);
    // (Codes of this step and the next are used up by the sign-ins above: a recovery code does it.)
    assert_eq!(rpc(&app, &vera, "/rpc/totp/disable", &[("code", next_code(&t, 0).as_str())]).await.0, 400, "a used step, again");
    assert_eq!(rpc(&app, &vera, "/rpc/totp/disable", &[("code", codes[1].as_str())]).await.0, 200);
    let (_, st) = rpc(&app, &vera, "/rpc/totp/status", &[]).await;
    assert_eq!(st["enabled"], false, "{st}");
    // The policy through REST: an administrator's token may change it; bad input changes nothing.
    let policy = |body: Value| bearer.put(app.url("/api/v1/settings/two-factor")).json(&body).send();
    assert_eq!(policy(serde_json::json!({"required": "yes"})).await.unwrap().status(), 400);
    assert_eq!(app.get_json(&vera, "/api/v1/account/two-factor").await.1["required"], true);
    assert_eq!(policy(serde_json::json!({"required": false})).await.unwrap().status(), 204);
    assert_eq!(app.get_json(&vera, "/api/v1/account/two-factor").await.1["required"], false);
    let audit: Value = reqwest::Client::new().get(app.url("/api/v1/audit?action=totp")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(audit["total"], 4, "enable, require, disable, not required: {audit}");
    assert!(!audit.to_string().contains(&secret), "the secret is never written down");
}

#[tokio::test]
async fn wrong_codes_count_against_the_sign_in_limit() {
    let app = spawn_app_with(|c| {
        c.crowdsec_bin = Some("/nonexistent/crowdsec".into());
        c.capi_url = "off".into();
        c.login_max_failures = 3;
    })
    .await;
    let admin = setup_admin(&app).await;
    let vera = viewer(&app, &admin).await;
    let (_, setup) = rpc(&app, &vera, "/rpc/totp/begin", &[]).await;
    let t = TOTP::new(Algorithm::SHA1, 6, 1, 30, Secret::Encoded(setup["secret"].as_str().unwrap().into()).to_bytes().unwrap(), Some("Charon".into()), "vera".into()).unwrap();
    assert_eq!(rpc(&app, &vera, "/rpc/totp/confirm", &[("code", t.generate_current().unwrap().as_str())]).await.0, 200);
    let (client, _) = login(&app, "vera", VIEWER_PASSWORD).await;
    for _ in 0..3 {
        let res = client.post(app.url("/login/code")).form(&[("code", "999999")]).send().await.unwrap();
        assert_eq!(res.status(), 303);
    }
    // The limit is reached: even the right code waits.
    let res = client.post(app.url("/login/code")).form(&[("code", next_code(&t, 1).as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
}
