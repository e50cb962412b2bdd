//! The routes over real HTTP: first-run setup, sign-in and sessions, roles, tokens, the origin
//! check, the login rate limit, and the pages' server rendering.


use charon::on_db;
use super::common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn health_and_ready_answer_without_a_session() {
    let app = spawn_app().await;
    let c = app.client();
    let health = c.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = c.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["database"], "ok");
}

#[tokio::test]
async fn first_run_sends_every_page_to_setup_and_setup_disappears_afterwards() {
    let app = spawn_app().await;
    let c = app.client();
    for path in ["/", "/security", "/settings", "/login"] {
        let res = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()["location"], "/setup", "{path}");
    }
    let page = c.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Create the administrator account"));

    // Without the setup code (printed in the log, kept in <data>/setup-code) nothing happens.
    let code = setup_code(&app);
    for wrong in ["", "AAAAA-BBBBB-CCCCC-DDDDD"] {
        let res = c
            .post(app.url("/setup"))
            .form(&[("setup_code", wrong), ("username", "admin"), ("password", ADMIN_PASSWORD), ("password_confirm", ADMIN_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/setup?error=setup_code_invalid&username=admin");
    }
    assert!(!charon::db::users::admin_exists(&app.state.db).await.unwrap());

    // Bad input changes nothing.
    let res = c
        .post(app.url("/setup"))
        .form(&[("setup_code", code.as_str()), ("username", "admin"), ("password", "short"), ("password_confirm", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/setup?error=password_too_short&username=admin");
    let res = c
        .post(app.url("/setup"))
        .form(&[("setup_code", code.as_str()), ("username", "admin"), ("password", ADMIN_PASSWORD), ("password_confirm", "something else!")])
        .send()
        .await
        .unwrap();
    assert!(res.headers()["location"].to_str().unwrap().contains("error=password_mismatch"));
    assert!(!charon::db::users::admin_exists(&app.state.db).await.unwrap());

    let admin = setup_admin(&app).await;
    assert_eq!(c.get(app.url("/setup")).send().await.unwrap().status(), 404);
    assert!(!app.state.config.data_dir.join("setup-code").exists(), "the code is spent");
    let again = c
        .post(app.url("/setup"))
        .form(&[("setup_code", code.as_str()), ("username", "second"), ("password", ADMIN_PASSWORD), ("password_confirm", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "a second administrator cannot be created through setup");
    // Setup signed the admin in.
    let me: Value = admin.get(app.url("/api/v1/auth/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
}

#[tokio::test]
async fn anonymous_callers_get_a_login_redirect_or_401_json() {
    let app = spawn_app().await;
    setup_admin(&app).await;
    let c = app.client();
    let res = c.get(app.url("/settings?tab=users")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?next=%2Fsettings%3Ftab%3Dusers");
    for (method, path) in [("GET", "/api/v1/users"), ("POST", "/rpc/users/list"), ("GET", "/api/v1/nope")] {
        let res = c
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "unauthorized"}));
    }
}

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_and_rotates_the_session() {
    let app = spawn_app().await;
    setup_admin(&app).await;
    let (client, res) = login(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/security");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("charon_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag: {cookie}");
    let first_id = cookie.split(';').next().unwrap().to_owned();

    // Signing in again (same browser) ends the old session and issues a new id.
    let res = client
        .post(app.url("/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    let second_id = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_ne!(first_id, second_id);
    let stale = app.client();
    let res = stale
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", &first_id)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the pre-login session id must be dead");

    // Behind a TLS proxy the cookie is Secure.
    let res = app
        .client()
        .post(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("Secure"));

    // Logout ends the session server-side.
    let res = client.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/login");
    let res = app.client().get(app.url("/api/v1/auth/me")).header("cookie", &second_id).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn wrong_credentials_redirect_with_an_error_and_sign_nobody_in() {
    let app = spawn_app().await;
    setup_admin(&app).await;
    for (user, pass) in [("admin", "wrong password!!"), ("nobody", ADMIN_PASSWORD)] {
        let (_, res) = login(&app, user, pass).await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/login?error=invalid&next=%2Fsecurity");
        assert!(res.headers().get("set-cookie").is_none());
    }
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_with_retry_after() {
    let app = spawn_app().await;
    setup_admin(&app).await;
    for _ in 0..5 {
        let (_, res) = login(&app, "admin", "wrong password!!").await;
        assert_eq!(res.status(), 303);
    }
    // Even the right password is refused while limited: guessing cannot continue.
    let (_, res) = login(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(res.text().await.unwrap().contains("Too many failed sign-in attempts"));
}

#[tokio::test]
async fn a_parallel_burst_of_guesses_gets_no_more_verdicts_than_the_limit() {
    let app = spawn_app().await; // 5 failures per minute
    setup_admin(&app).await;
    let burst = (0..40).map(|i| {
        let app = &app;
        async move {
            // Variants of the name share the bucket of the name the lookup reads.
            let name = ["admin", " admin", "admin\t", "ADMIN"][i % 4];
            let res = app
                .client()
                .post(app.url("/login"))
                .form(&[("username", name), ("password", "wrong password!!"), ("next", "/security")])
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.headers().get("location").map(|l| l.to_str().unwrap().to_owned()))
        }
    });
    let answers = futures_util::future::join_all(burst).await;
    let verdicts = answers.iter().filter(|(s, l)| *s == 303 && l.as_deref().is_some_and(|l| l.contains("error=invalid"))).count();
    let limited = answers.iter().filter(|(s, _)| *s == 429).count();
    println!("MEASURE 40 parallel wrong passwords: {verdicts} verdicts, {limited} answered 429");
    assert!(verdicts <= 5, "{verdicts} passwords were checked");
    assert_eq!(verdicts + limited, 40, "{answers:?}");
}

#[tokio::test]
async fn a_client_that_does_not_finish_its_headers_is_cut_off_and_delays_nobody() {
    let app = spawn_app_with(|c| c.http_header_timeout_secs = 1).await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Slow clients: a request line and one header, then nothing.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        slow.push(s);
    }
    // Everyone else is served at once.
    let t0 = std::time::Instant::now();
    let res = app.client().get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(t0.elapsed() < std::time::Duration::from_millis(500), "{:?}", t0.elapsed());
    // And the slow ones are cut off after the header timeout (not kept forever).
    for mut s in slow {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "a slow client was still connected after 5 s");
    }
}

#[tokio::test]
async fn over_tls_the_session_cookie_is_host_prefixed_and_secure_and_hsts_is_sent() {
    let app = spawn_app().await;
    setup_admin(&app).await;
    // Behind a TLS-terminating proxy (X-Forwarded-Proto: https).
    let res = app
        .client()
        .post(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", "/security")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-charon_session=") && cookie.contains("Secure") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert_eq!(res.headers()["strict-transport-security"], "max-age=31536000");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let me = app.client().get(app.url("/api/v1/auth/me")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(me.status(), 200, "the __Host- cookie authenticates");
    // Plain HTTP: the plain name, no HSTS.
    let (_, plain) = login(&app, "admin", ADMIN_PASSWORD).await;
    let cookie = plain.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("charon_session=") && !cookie.contains("Secure"), "{cookie}");
    assert!(plain.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn a_https_public_url_makes_cookies_secure_and_origin_must_match_it() {
    let app = spawn_app_with(|c| c.public_url = Some("https://charon.example.com".into())).await;
    // The browser is on the public address: that is the Origin its forms carry.
    let code = setup_code(&app);
    let res = app
        .client()
        .post(app.url("/setup"))
        .header("origin", "https://charon.example.com")
        .form(&[("setup_code", code.as_str()), ("username", "admin"), ("password", ADMIN_PASSWORD), ("password_confirm", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let login_with = |origin: String| {
        let c = app.client();
        let url = app.url("/login");
        async move {
            c.post(url)
                .header("origin", origin)
                .form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", "/security")])
                .send()
                .await
                .unwrap()
        }
    };
    // A page whose Origin matches its own Host (DNS rebinding) is not the console.
    let rebound = login_with(format!("http://{}", app.addr)).await;
    assert_eq!(rebound.status(), 403);
    let ok = login_with("https://charon.example.com".to_owned()).await;
    assert_eq!(ok.status(), 303);
    assert!(ok.headers()["set-cookie"].to_str().unwrap().starts_with("__Host-charon_session="));
}

#[tokio::test]
async fn pages_carry_a_content_security_policy_with_the_nonce_of_their_scripts() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let res = admin.get(app.url("/security")).send().await.unwrap();
    let policy = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let html = res.text().await.unwrap();
    let nonce = policy.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).expect("a nonce in the policy").to_owned();
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let tags: Vec<&str> = html.split("<script").skip(1).map(|t| &t[..t.len().min(120)]).collect();
    assert!(!tags.is_empty());
    // Every script with code (or a source) carries it; Leptos ends the body with an empty
    // `<script></script>`, which runs nothing.
    let running: Vec<&str> = tags.into_iter().filter(|t| !t.starts_with("></script>")).collect();
    let without: Vec<&&str> = running
        .iter()
        .filter(|t| !t.split('>').next().unwrap_or_default().contains(&format!("nonce=\"{nonce}\"")))
        .collect();
    assert!(!running.is_empty());
    assert!(without.is_empty(), "scripts without the nonce: {without:?}");
    // Every other answer gets a policy too.
    let api = admin.get(app.url("/api/v1/auth/me")).send().await.unwrap();
    assert!(api.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    // A second page gets another nonce.
    let again = admin.get(app.url("/security")).send().await.unwrap();
    assert!(!again.headers()["content-security-policy"].to_str().unwrap().contains(&nonce));
}

#[tokio::test]
async fn a_ban_or_allowlist_entry_wider_than_8_or_32_needs_force() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    for (path, body) in [
        ("/api/v1/cerberus/crowdsec/decisions", json!({"value": "0.0.0.0/0", "duration": "4h"})),
        ("/api/v1/cerberus/crowdsec/decisions", json!({"value": "2000::/3", "duration": "4h"})),
        ("/api/v1/cerberus/crowdsec/allowlist", json!({"value": "0.0.0.0/1"})),
    ] {
        let (status, answer) = app.send_json(&admin, reqwest::Method::POST, path, &body).await;
        assert_eq!((status, answer["code"].as_str()), (400, Some("range_too_wide")), "{path} {body}");
    }
    let (_, list) = app.get_json(&admin, "/api/v1/cerberus/crowdsec/allowlist").await;
    assert_eq!(list, json!([]), "nothing was added");
    // With the explicit flag the (here harmless) allowlist entry is taken.
    let (status, _) = app
        .send_json(&admin, reqwest::Method::POST, "/api/v1/cerberus/crowdsec/allowlist", &json!({"value": "0.0.0.0/1", "force": true}))
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_cookie_mutation_that_does_not_say_where_it_comes_from_is_refused() {
    let app = spawn_app().await;
    setup_admin(&app).await;
    // A client that keeps the session cookie but, unlike a browser, sends no Origin.
    let bare = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = bare
        .post(app.url("/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", "/security")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signing in needs no session");
    let token = |c: &reqwest::Client| c.post(app.url("/api/v1/tokens")).json(&json!({"name": "t", "role": "admin"}));
    assert_eq!(token(&bare).send().await.unwrap().status(), 403);
    assert_eq!(bare.get(app.url("/api/v1/tokens")).send().await.unwrap().status(), 200, "reads are fine");
    let created = token(&bare).header("sec-fetch-site", "same-origin").send().await.unwrap();
    assert_eq!(created.status(), 201);
    // Scripts use a bearer token, which needs no Origin.
    let bearer = created.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let scripted = reqwest::Client::new().post(app.url("/api/v1/tokens")).bearer_auth(&bearer).json(&json!({"name": "u"})).send().await.unwrap();
    assert_eq!(scripted.status(), 201);
}

#[tokio::test]
async fn dot_segment_paths_are_refused_before_routing() {
    let app = spawn_app().await;
    setup_admin(&app).await;
    for path in ["/pkg/../settings", "/pkg/%2e%2e/settings", "/pkg/./../security"] {
        // reqwest would normalise the path; send it as written.
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", app.addr).as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{path}: {}", answer.lines().next().unwrap_or_default());
        assert!(!answer.contains("create-user-form") && !answer.contains("<html"), "{path} rendered a page");
    }
}

#[tokio::test]
async fn after_sign_in_only_a_path_on_this_origin_is_followed() {
    let app = spawn_app().await;
    setup_admin(&app).await;
    for (next, expected) in [
        ("/\t/evil.example", "/overview"),
        ("/\\evil.example", "/overview"),
        ("//evil.example", "/overview"),
        ("https://evil.example/", "/overview"),
        ("/settings?tab=tokens", "/settings?tab=tokens"),
    ] {
        let res = app
            .client()
            .post(app.url("/login"))
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], expected, "next={next:?}");
    }
}

#[tokio::test]
async fn a_password_reset_revokes_the_users_tokens_and_token_use_is_written_at_most_once_a_minute() {
    let app = spawn_app().await;
    let admin_client = setup_admin(&app).await;
    let (status, created) =
        app.send_json(&admin_client, reqwest::Method::POST, "/api/v1/tokens", &json!({"name": "ci", "role": "viewer"})).await;
    assert_eq!(status, 201);
    let token = created["token"].as_str().unwrap().to_owned();
    let me = |token: String| {
        let c = app.client();
        let url = app.url("/api/v1/auth/me");
        async move { c.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(me(token.clone()).await, 200);
    let last_used = || async {
        on_db!(app.state.db, cx => sqlx::query_scalar::<_, Option<i64>>("SELECT last_used_at FROM api_tokens WHERE name = 'ci'").fetch_one(cx).await).unwrap()
    };
    let first = last_used().await.unwrap();
    // Within a minute a use is not written again; after it, it is.
    on_db!(app.state.db, cx => sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE name = 'ci'").bind(first - 30).execute(cx).await.map(|r| r.rows_affected())).unwrap();
    assert_eq!(me(token.clone()).await, 200);
    assert_eq!(last_used().await, Some(first - 30), "written again within a minute");
    on_db!(app.state.db, cx => sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE name = 'ci'").bind(first - 61).execute(cx).await.map(|r| r.rows_affected())).unwrap();
    assert_eq!(me(token.clone()).await, 200);
    assert!(last_used().await.unwrap() >= first, "not written after a minute");

    let username = app::accounts::model::Username::parse("admin").unwrap();
    let password = app::accounts::model::Password::parse("a brand new password").unwrap();
    let revoked = app.state.accounts.reset_password(&admin("test"), &username, password).await.unwrap();
    assert_eq!(revoked, 1);
    assert_eq!(me(token).await, 401, "the token died with the old password");
}

#[tokio::test]
async fn expired_sessions_are_refused() {
    let app = spawn_app().await;
    setup_admin(&app).await;
    let (client, _) = login(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(client.get(app.url("/api/v1/auth/me")).send().await.unwrap().status(), 200);
    on_db!(app.state.db, cx => sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(charon::support::time::now() - 1)
        .execute(cx).await.map(|r| r.rows_affected()))
        .unwrap();
    assert_eq!(client.get(app.url("/api/v1/auth/me")).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn viewers_read_but_every_mutation_answers_403() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let res = admin
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "vera", "password": "viewer password 1", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let dup = admin
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "vera", "password": "viewer password 1", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 409);
    let bad = admin
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "x y", "password": "viewer password 1", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["code"], "username_invalid");

    let (viewer, res) = login(&app, "vera", "viewer password 1").await;
    assert_eq!(res.status(), 303);
    let list = viewer.get(app.url("/api/v1/users")).send().await.unwrap();
    assert_eq!(list.status(), 200);
    assert_eq!(list.json::<Value>().await.unwrap().as_array().unwrap().len(), 2);
    let users_before = charon::db::users::list(&app.state.db).await.unwrap().len();

    let rest = viewer
        .post(app.url("/api/v1/users"))
        .json(&json!({"username": "mallory", "password": "mallory password", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 403);
    let rpc = viewer
        .post(app.url("/rpc/users/create"))
        .form(&[("username", "mallory"), ("password", "mallory password"), ("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(rpc.status(), 403);
    let token = viewer
        .post(app.url("/rpc/tokens/create"))
        .form(&[("name", "sneaky"), ("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 403);
    assert_eq!(charon::db::users::list(&app.state.db).await.unwrap().len(), users_before);
}

#[tokio::test]
async fn api_tokens_authenticate_until_revoked_and_never_exceed_their_role() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let res = admin
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"name": "ci", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    let id = body["summary"]["id"].as_i64().unwrap();

    // Listed without the secret.
    let listed = admin.get(app.url("/api/v1/tokens")).send().await.unwrap().text().await.unwrap();
    assert!(!listed.contains(&token));
    assert!(listed.contains(&token[..8]));
    // Stored hashed.
    let stored: String = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT token_hash FROM api_tokens WHERE id = $1")
        .bind(id)
        .fetch_one(cx).await)
        .unwrap();
    assert_ne!(stored, token);

    let bearer = app.client();
    let me = bearer.get(app.url("/api/v1/auth/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await.unwrap()["method"], "token");

    // A viewer token cannot mutate.
    let res = admin
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"name": "dashboards", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    let viewer_token = res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let res = bearer
        .post(app.url("/api/v1/users"))
        .bearer_auth(&viewer_token)
        .json(&json!({"username": "x1x", "password": "long enough pass", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let revoked = admin.delete(app.url(&format!("/api/v1/tokens/{id}"))).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    let me = bearer.get(app.url("/api/v1/auth/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let again = admin.delete(app.url(&format!("/api/v1/tokens/{id}"))).send().await.unwrap();
    assert_eq!(again.status(), 404);
    // A bogus token is refused even with a valid cookie alongside.
    let res = admin.get(app.url("/api/v1/auth/me")).bearer_auth("chr_bogus").send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn mutating_requests_from_a_foreign_origin_are_refused() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let res = admin
        .post(app.url("/api/v1/tokens"))
        .header("origin", "http://evil.example")
        .json(&json!({"name": "csrf"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let same = admin
        .post(app.url("/api/v1/tokens"))
        .header("origin", format!("http://{}", app.addr))
        .json(&json!({"name": "fine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 201);
    let malformed = admin
        .post(app.url("/api/v1/tokens"))
        .header("content-type", "application/json")
        .body("{\"name\": 5}")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
}

#[tokio::test]
async fn pages_render_on_the_server_in_the_chosen_language() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let html = admin.get(app.url("/security")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("IP Reputation &amp; Threat Intelligence"), "{html}");
    assert!(html.contains("data-testid=\"toggle-crowdsec\""));
    assert!(html.contains("role=\"switch\""));

    let res = admin
        .post(app.url("/locale"))
        .form(&[("locale", "de"), ("next", "/security")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers()["set-cookie"].to_str().unwrap().starts_with("i18n_pref_locale=de"));
    let html = admin.get(app.url("/security")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Sicherheit"), "{html}");
    assert!(html.contains("lang=\"de\""), "{html}");

    let bad = admin.post(app.url("/locale")).form(&[("locale", "xx")]).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let offsite = admin
        .post(app.url("/locale"))
        .form(&[("locale", "en"), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(offsite.headers()["location"], "/overview");

    let missing = admin.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

/// A release site: hashed names listed in `hash.txt`, a brotli and a gzip copy beside each file.
fn hashed_site(root: &std::path::Path) {
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(root.join("hash.txt"), "js: J1\nwasm: W1\ncss: C1\n").unwrap();
    for (name, body) in [("charon.W1.wasm", "\0asm-raw"), ("charon.J1.js", "js-raw"), ("charon.C1.css", "css-raw")] {
        std::fs::write(pkg.join(name), body).unwrap();
        std::fs::write(pkg.join(format!("{name}.br")), "br-bytes").unwrap();
        std::fs::write(pkg.join(format!("{name}.gz")), "gz-bytes").unwrap();
    }
}

#[tokio::test]
async fn static_files_are_sent_precompressed_and_hashed_ones_cached_for_good() {
    let site = tempfile::tempdir().unwrap();
    hashed_site(site.path());
    let root = site.path().to_path_buf();
    let app = spawn_app_with(move |c| c.site_root = root).await;
    let c = app.client();
    let get = |path: &str, enc: Option<&str>| {
        let mut r = c.get(app.url(path));
        if let Some(e) = enc {
            r = r.header("accept-encoding", e);
        }
        r.send()
    };

    let br = get("/pkg/charon.W1.wasm", Some("gzip, deflate, br")).await.unwrap();
    assert_eq!(br.status(), 200);
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.headers()["content-type"], "application/wasm");
    assert_eq!(br.headers()["vary"], "accept-encoding");
    assert_eq!(br.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(br.text().await.unwrap(), "br-bytes");
    let gz = get("/pkg/charon.J1.js", Some("gzip")).await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.text().await.unwrap(), "gz-bytes");
    let raw = get("/pkg/charon.C1.css", None).await.unwrap();
    assert!(raw.headers().get("content-encoding").is_none());
    assert_eq!(raw.text().await.unwrap(), "css-raw");
    // A file that is not there is never cached (the next deployment may have it).
    let missing = get("/pkg/charon.OLD.wasm", Some("br")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["cache-control"], "no-store");

    // Pages name the hashed files and are revalidated every time.
    let page = get("/setup", Some("br")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "private, no-cache");
    let html = page.text().await.unwrap();
    for name in ["/pkg/charon.W1.wasm", "/pkg/charon.J1.js", "/pkg/charon.C1.css"] {
        assert!(html.contains(name), "{name} missing from the page");
    }
}

#[tokio::test]
async fn an_oversized_server_function_body_is_refused_before_it_is_read() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let huge = "a".repeat(charon::web::BODY_LIMIT + 1);
    let res = admin
        .post(app.url("/rpc/decisions/import"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("list={huge}&format=&duration=4h&reason=&origin=&kind=ban"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn the_theme_form_sets_its_cookie_the_page_carries_it_and_bad_input_changes_nothing() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let html = admin.get(app.url("/overview")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-theme=\"system\""), "the system's preference by default");
    let bad = admin.post(app.url("/theme")).form(&[("theme", "purple")]).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.headers().get("set-cookie").is_none());
    let res = admin.post(app.url("/theme")).form(&[("theme", "light"), ("next", "//evil.example/")]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/overview", "never to another site");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("charon_theme=light") && cookie.contains("SameSite=Lax"), "{cookie}");
    // The client keeps the cookie, as a browser does.
    let html = admin.get(app.url("/security")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-theme=\"light\""), "rendered with the chosen theme");
}
