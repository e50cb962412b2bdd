//! OpenID Connect sign-in against an identity provider that runs inside the test on loopback:
//! discovery, JWKS, authorization (auto-approved, PKCE checked) and token endpoints, ES256 keys it
//! makes itself. Groups map to roles (made at the first sign-in, updated at the next); a user in
//! no mapped group is refused; tampered tokens (another key's signature, another audience,
//! expired, another nonce) and a foreign `state` sign nobody in; a provider account cannot take a
//! local username; with password sign-in off, only the provider signs in.

use charon::on_db;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use reqwest::header::LOCATION;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::Digest;

use super::common::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tamper {
    None,
    OtherKey,
    OtherAudience,
    Expired,
    OtherNonce,
}

struct Idp {
    issuer: String,
    key: Vec<u8>,
    other_key: Vec<u8>,
    jwk: Value,
    tamper: Tamper,
    /// (sub, preferred_username, groups) of whoever signs in next.
    user: (String, String, Vec<String>),
    /// code → (nonce, PKCE challenge, redirect_uri)
    codes: HashMap<String, (String, String, String)>,
}

type Shared = Arc<Mutex<Idp>>;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn es256_key() -> (Vec<u8>, Value) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]), "kid": "k1", "alg": "ES256", "use": "sig"});
    (pkcs8.as_ref().to_vec(), jwk)
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    let i = s.lock().unwrap().issuer.clone();
    Json(json!({"issuer": i, "authorization_endpoint": format!("{i}/authorize"), "token_endpoint": format!("{i}/token"), "jwks_uri": format!("{i}/jwks"),
                "response_types_supported": ["code"], "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["ES256"]}))
}

async fn jwks(State(s): State<Shared>) -> Json<Value> {
    Json(json!({"keys": [s.lock().unwrap().jwk.clone()]}))
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q["client_id"], "charon");
    assert_eq!((q["response_type"].as_str(), q["code_challenge_method"].as_str()), ("code", "S256"));
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let code = format!("code-{}", rand_hex());
    s.lock().unwrap().codes.insert(code.clone(), (q["nonce"].clone(), q["code_challenge"].clone(), q["redirect_uri"].clone()));
    Redirect::to(&format!("{}?code={code}&state={}", q["redirect_uri"], q["state"])).into_response()
}

fn rand_hex() -> String {
    let mut b = [0u8; 16];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn token(State(s): State<Shared>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("charon:s3cret"));
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
    }
    let mut idp = s.lock().unwrap();
    let Some((nonce, challenge, redirect)) = idp.codes.remove(&f["code"]) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    };
    if b64(&sha2::Sha256::digest(f["code_verifier"].as_bytes())) != challenge || f["redirect_uri"] != redirect {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (sub, name, groups) = idp.user.clone();
    let mut claims = json!({"iss": idp.issuer, "aud": "charon", "sub": sub, "iat": now, "exp": now + 300, "nonce": nonce,
                            "preferred_username": name, "groups": groups});
    let mut key = idp.key.clone();
    match idp.tamper {
        Tamper::None => {}
        Tamper::OtherKey => key = idp.other_key.clone(),
        Tamper::OtherAudience => claims["aud"] = json!("someone-else"),
        Tamper::Expired => claims["exp"] = json!(now - 3600),
        Tamper::OtherNonce => claims["nonce"] = json!("not-the-nonce"),
    }
    let mut head = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    head.kid = Some("k1".into());
    let id_token = jsonwebtoken::encode(&head, &claims, &jsonwebtoken::EncodingKey::from_ec_der(&key)).unwrap();
    Json(json!({"id_token": id_token, "access_token": "unused", "token_type": "Bearer"})).into_response()
}

async fn start_idp() -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let (key, jwk) = es256_key();
    let (other_key, _) = es256_key();
    let s: Shared = Arc::new(Mutex::new(Idp { issuer, key, other_key, jwk, tamper: Tamper::None, user: Default::default(), codes: HashMap::new() }));
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(s.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    s
}

fn oidc_config(c: &mut charon::config::Config, issuer: &str) {
    c.crowdsec_bin = Some("/nonexistent/crowdsec".into());
    c.capi_url = "off".into();
    c.oidc_issuer = Some(issuer.to_owned());
    c.oidc_client_id = "charon".into();
    c.oidc_client_secret = Some(charon::config::Secret::new("s3cret"));
    c.oidc_role_map = "charon-admins=admin, oncall=operator, staff=viewer".into();
    c.oidc_label = "Test IdP".into();
}

/// A browser's round trip: Charon → provider → Charon's callback. Returns the client and where
/// the callback sent it (a page that moves on, or `/login?error=…`).
async fn sign_in(app: &TestApp) -> (reqwest::Client, u16, String) {
    let browser = app.client();
    let res = browser.get(app.url("/login/oidc?next=/proxy-hosts")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let to_idp = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let res = browser.get(&to_idp).send().await.unwrap();
    assert_eq!(res.status(), 303, "the provider approves at once");
    let back = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(back.starts_with(&app.url("/login/oidc/callback?")), "{back}");
    let res = browser.get(&back).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    (browser, status, location.unwrap_or(body))
}

async fn me(app: &TestApp, c: &reqwest::Client) -> Option<Value> {
    let res = c.get(app.url("/api/v1/auth/me")).send().await.unwrap();
    (res.status() == 200).then(|| futures_json(res))?.await
}

async fn futures_json(res: reqwest::Response) -> Option<Value> {
    res.json().await.ok()
}

#[tokio::test]
async fn groups_map_to_roles_and_tampered_tokens_sign_nobody_in() {
    let idp = start_idp().await;
    let issuer = idp.lock().unwrap().issuer.clone();
    let app = spawn_app_with(|c| oidc_config(c, &issuer)).await;
    let admin = setup_admin(&app).await;
    let _vera = viewer(&app, &admin).await;

    // The sign-in page offers the provider (and still the password).
    let page = app.client().get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let tag = |id: &str| {
        let at = &page[page.find(&format!("data-testid=\"{id}\"")).expect(id)..];
        at[..at.find('>').unwrap()].to_owned()
    };
    assert!(!tag("oidc-login").contains("hidden") && !tag("login-form").contains("hidden") && page.contains("Test IdP"), "{page}");

    // First sign-in: the account is made with the strongest mapped role; the page moves on to
    // where the user was going (a page of ours: the session cookie is SameSite=Strict).
    idp.lock().unwrap().user = ("sub-alice".into(), "alice".into(), vec!["staff".into(), "oncall".into()]);
    let (alice, status, body) = sign_in(&app).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("url=/proxy-hosts"), "{body}");
    let who = me(&app, &alice).await.expect("signed in");
    assert_eq!((who["username"].as_str(), who["role"].as_str()), (Some("alice"), Some("operator")));
    // Next sign-in in another group: the same account, its role follows the groups.
    idp.lock().unwrap().user.2 = vec!["charon-admins".into()];
    let (alice2, status, _) = sign_in(&app).await;
    assert_eq!(status, 200);
    let again = me(&app, &alice2).await.expect("signed in");
    assert_eq!((again["user_id"].clone(), again["role"].as_str()), (who["user_id"].clone(), Some("admin")));

    // No mapped group: refused, and no account is made.
    idp.lock().unwrap().user = ("sub-bob".into(), "bob".into(), vec!["visitors".into()]);
    let (bob, status, to) = sign_in(&app).await;
    assert_eq!((status, to.starts_with("/login?error=oidc_no_role")), (303, true), "{to}");
    assert!(me(&app, &bob).await.is_none());
    let (_, users) = app.send_json(&admin, reqwest::Method::GET, "/api/v1/users", &Value::Null).await;
    assert!(!users.to_string().contains("\"bob\""), "{users}");

    // Tampered tokens: nobody is signed in.
    idp.lock().unwrap().user = ("sub-carol".into(), "carol".into(), vec!["staff".into()]);
    for tamper in [Tamper::OtherKey, Tamper::OtherAudience, Tamper::Expired, Tamper::OtherNonce] {
        idp.lock().unwrap().tamper = tamper;
        let (carol, status, to) = sign_in(&app).await;
        assert_eq!((status, to.starts_with("/login?error=oidc_failed")), (303, true), "{to}");
        assert!(me(&app, &carol).await.is_none());
    }
    idp.lock().unwrap().tamper = Tamper::None;
    // Each for its own reason (the audit log keeps it).
    let (_, failures) = app.send_json(&admin, reqwest::Method::GET, "/api/v1/audit?action=login.failed&per_page=50", &Value::Null).await;
    let text = failures.to_string();
    for reason in ["InvalidSignature", "InvalidAudience", "ExpiredSignature", "wrong nonce"] {
        assert!(text.contains(reason), "{reason} not among {text}");
    }

    // A provider that names users by e-mail address: the part before the `@` is the username.
    idp.lock().unwrap().user = ("sub-erin".into(), "erin@example.com".into(), vec!["staff".into()]);
    let (erin, status, _) = sign_in(&app).await;
    assert_eq!(status, 200);
    assert_eq!(me(&app, &erin).await.unwrap()["username"], "erin");

    // A callback this browser did not start (another browser's state): refused.
    let other = app.client();
    let res = other.get(app.url("/login/oidc?next=/overview")).send().await.unwrap();
    let to_idp = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let back = other.get(&to_idp).send().await.unwrap().headers()[LOCATION].to_str().unwrap().to_owned();
    let thief = app.client();
    let res = thief.get(&back).send().await.unwrap();
    assert!(res.headers()[LOCATION].to_str().unwrap().starts_with("/login?error=oidc_failed"));
    assert!(me(&app, &thief).await.is_none());

    // A provider account named like a local one does not get into it.
    idp.lock().unwrap().user = ("sub-mallory".into(), "vera".into(), vec!["charon-admins".into()]);
    let (m, _, to) = sign_in(&app).await;
    assert!(to.starts_with("/login?error=oidc_username_taken"), "{to}");
    assert!(me(&app, &m).await.is_none());
    // The client secret is in no log line, page or audit entry.
    let (_, audit) = app.send_json(&admin, reqwest::Method::GET, "/api/v1/audit?per_page=200", &Value::Null).await;
    assert!(!audit.to_string().contains("s3cret"));
}

#[tokio::test]
async fn with_password_sign_in_off_only_the_provider_signs_in() {
    let idp = start_idp().await;
    let issuer = idp.lock().unwrap().issuer.clone();
    let app = spawn_app_with(|c| {
        oidc_config(c, &issuer);
        c.password_login = false;
    })
    .await;
    // The first administrator is made by setup as always; their password no longer signs in.
    let _ = setup_admin(&app).await;
    let (client, res) = login(&app, "admin", ADMIN_PASSWORD).await;
    assert!(res.headers()[LOCATION].to_str().unwrap().starts_with("/login?error=password_off"));
    assert!(me(&app, &client).await.is_none());
    let page = app.client().get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let form = &page[page.find("data-testid=\"login-form\"").expect("the form")..];
    assert!(form[..form.find('>').unwrap()].contains("hidden"), "the password form is hidden");
    let sso = &page[page.find("data-testid=\"oidc-login\"").expect("the button")..];
    assert!(!sso[..sso.find('>').unwrap()].contains("hidden"), "the provider's button shows");
    idp.lock().unwrap().user = ("sub-dave".into(), "dave".into(), vec!["staff".into()]);
    let (dave, status, _) = sign_in(&app).await;
    assert_eq!(status, 200);
    assert_eq!(me(&app, &dave).await.unwrap()["role"], "viewer");
}

#[tokio::test]
async fn sign_in_is_set_up_in_settings_checked_against_the_provider_and_its_secret_never_shown() {
    let idp = start_idp().await;
    let issuer = idp.lock().unwrap().issuer.clone();
    let app = spawn_app_with(|c| {
        c.crowdsec_bin = Some("/nonexistent/crowdsec".into());
        c.capi_url = "off".into();
    })
    .await;
    let admin = setup_admin(&app).await;
    let vera = viewer(&app, &admin).await;
    const PATH: &str = "/api/v1/settings/sign-in";
    let (status, s) = app.get_json(&admin, PATH).await;
    assert_eq!(status, 200);
    assert_eq!((s["issuer"].as_str(), s["source"].as_str(), s["password_login"].as_bool()), (Some(""), Some("config"), Some(true)), "{s}");
    assert_eq!(app.get_json(&vera, PATH).await.0, 403, "administrators only: it names the provider and client");
    let good = json!({"issuer": issuer, "client_id": "charon", "client_secret": "s3cret", "role_map": "charon-admins=admin, oncall=operator", "label": "Corp IdP", "password_login": true});
    let with = |patch: Value| {
        let mut b = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };

    // Bad input: a 400 naming the field, and nothing saved.
    for (body, field) in [
        (with(json!({"issuer": "ftp://id.example"})), "issuer"),
        (with(json!({"issuer": "http://127.0.0.1:9"})), "issuer"), // nobody answers there
        (with(json!({"issuer": format!("{issuer}/realms/other")})), "issuer"), // answers for another issuer (404 here)
        (with(json!({"client_id": ""})), "client_id"),
        (with(json!({"client_secret": null})), "client_id"),
        (with(json!({"scopes": "profile email"})), "scopes"),
        (with(json!({"role_map": "charon-admins=root"})), "role_map"),
        (with(json!({"label": "x".repeat(65)})), "label"),
        (with(json!({"issuer": "", "password_login": false})), "password_login"),
        // The provider works, but no administrator has signed in through it yet.
        (with(json!({"password_login": false})), "password_login"),
    ] {
        let (status, answer) = app.send_json(&admin, reqwest::Method::PUT, PATH, &body).await;
        assert_eq!((status, answer["field"].as_str()), (400, Some(field)), "{body} → {answer}");
        assert!(!answer.to_string().contains("s3cret"));
    }
    assert_eq!(app.send_json(&vera, reqwest::Method::PUT, PATH, &good).await.0, 403);
    assert_eq!(app.get_json(&admin, PATH).await.1["source"], "config", "nothing was saved");
    assert!(app.client().get(app.url("/login/oidc")).send().await.unwrap().status() == 404, "no single sign-on yet");

    // Saved: in force at once, the secret sealed at rest and never returned.
    let (status, saved) = app.send_json(&admin, reqwest::Method::PUT, PATH, &good).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!((saved["source"].as_str(), saved["client_secret_stored"].as_bool(), saved["label"].as_str()), (Some("saved"), Some(true), Some("Corp IdP")));
    assert_eq!(saved["scopes"], "openid profile email groups", "defaults fill what was left empty");
    let (_, read) = app.get_json(&admin, PATH).await;
    assert_eq!(read, saved);
    assert!(!read.to_string().contains("s3cret"));
    let stored: String = on_db!(app.state.db, cx => sqlx::query_scalar("SELECT value FROM settings WHERE key = 'auth.sso'").fetch_one(cx).await).unwrap();
    assert!(!stored.contains("s3cret") && stored.contains("client_secret_sealed"), "{stored}");
    let page = app.client().get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Corp IdP"), "the sign-in page offers the provider");
    idp.lock().unwrap().user = ("sub-olga".into(), "olga".into(), vec!["charon-admins".into()]);
    let (olga, status, _) = sign_in(&app).await;
    assert_eq!(status, 200);
    assert_eq!(me(&app, &olga).await.unwrap()["role"], "admin");

    // Now passwords can be turned off; the stored secret is kept when none is given.
    let (status, off) = app.send_json(&admin, reqwest::Method::PUT, PATH, &with(json!({"client_secret": null, "password_login": false}))).await;
    assert_eq!(status, 200, "{off}");
    assert_eq!((off["password_login"].as_bool(), off["client_secret_stored"].as_bool()), (Some(false), Some(true)));
    let (_, res) = login(&app, "admin", ADMIN_PASSWORD).await;
    assert!(res.headers()[LOCATION].to_str().unwrap().starts_with("/login?error=password_off"));
    idp.lock().unwrap().user = ("sub-olga".into(), "olga".into(), vec!["charon-admins".into()]);
    assert_eq!(sign_in(&app).await.1, 200, "the kept secret still signs in");
    let (_, audit) = app.get_json(&olga, "/api/v1/audit?action=settings.sign_in").await;
    assert!(audit.to_string().contains("password sign-in off") && !audit.to_string().contains("s3cret"), "{audit}");

    // The way back in: `charon admin reset-password` turns passwords on again, followed by the running console.
    let out = super::cli::charon(&app.state.config.data_dir, &["admin", "reset-password", "--username", "admin", "--password-stdin"], "a new password 123\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password sign-in was off"));
    let t0 = std::time::Instant::now();
    loop {
        let (_, res) = login(&app, "admin", "a new password 123").await;
        if !res.headers()[LOCATION].to_str().unwrap().contains("password_off") {
            assert_eq!(res.headers()[LOCATION], "/security");
            break;
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(10), "passwords still off");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    println!("NUMBERS password sign-in back after reset-password in {:?}", t0.elapsed());
}
