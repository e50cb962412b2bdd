//! Deny by default, proven on everything that is registered: every REST operation taken from the
//! router's own OpenAPI document (built by the same `routes!` calls that register the routes) and
//! every server function taken from the server-function registry, each called anonymously, as a
//! viewer, as an operator and as an administrator. Nothing here is a hand-kept list of endpoints.

use reqwest::Method;
use serde_json::{json, Value};
use utoipa::openapi::path::Operation;

use super::common::*;

/// A value for each path parameter that parses (so a 404 means "no such thing", not a bad route).
fn fill(path: &str) -> String {
    path.replace("{id}", "987654")
        .replace("{kind}", "collections")
        .replace("{author}", "crowdsecurity")
        .replace("{name}", "nginx")
}

/// Whether the operation's security requirement names `role` (`admin`, `operator`, or `viewer`
/// for what everyone signed in may do to their own things).
fn names_role(op: &Operation, role: &str) -> bool {
    let doc = serde_json::to_value(op).unwrap();
    doc["security"].as_array().is_some_and(|reqs| {
        reqs.iter().any(|r| r.as_object().unwrap().values().any(|roles| roles.as_array().unwrap().iter().any(|x| x == role)))
    })
}

/// Whether only the engine's per-start token opens the operation (the alert hook): no session
/// or API token does, so everyone here is answered 401.
fn engine_only(op: &Operation) -> bool {
    let doc = serde_json::to_value(op).unwrap();
    doc["security"].as_array().is_some_and(|reqs| reqs.iter().all(|r| r.as_object().unwrap().keys().all(|k| k == "engine_hook")))
}

fn operations(item: &utoipa::openapi::PathItem) -> Vec<(Method, &Operation)> {
    let mut out = Vec::new();
    for (m, op) in [
        (Method::GET, &item.get),
        (Method::POST, &item.post),
        (Method::PUT, &item.put),
        (Method::DELETE, &item.delete),
        (Method::PATCH, &item.patch),
    ] {
        if let Some(op) = op {
            out.push((m, op));
        }
    }
    out
}

async fn status(client: &reqwest::Client, method: Method, url: &str, rpc: bool) -> u16 {
    let req = client.request(method.clone(), url).header("accept", "application/json");
    let req = if rpc {
        req.header("content-type", "application/x-www-form-urlencoded").body("")
    } else if method == Method::GET {
        req
    } else {
        req.json(&json!({}))
    };
    // Only the status matters; an event stream answers its headers at once.
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn every_route_and_server_function_refuses_whoever_may_not_call_it() {
    // No engine, no Central API, no data plane: an admin's call is answered quickly without side
    // effects outside the temp dir.
    let app = spawn_app_with(|c| {
        c.crowdsec_bin = Some("/nonexistent/crowdsec".into());
        c.cscli_bin = Some("/nonexistent/cscli".into());
        c.capi_url = "off".into();
    })
    .await;
    let admin = setup_admin(&app).await;
    let viewer = viewer(&app, &admin).await;
    let operator = operator(&app, &admin).await;
    let anonymous = app.client();

    let doc = charon::api::openapi();
    let mut rest = 0;
    for (path, item) in &doc.paths.paths {
        for (method, op) in operations(item) {
            rest += 1;
            let url = app.url(&fill(path));
            if engine_only(op) {
                for (who, client) in [("anonymous", &anonymous), ("viewer", &viewer), ("operator", &operator), ("admin", &admin)] {
                    assert_eq!(status(client, method.clone(), &url, false).await, 401, "{who} {method} {path}: only the engine's token opens it");
                }
                continue;
            }
            let anyone = names_role(op, "viewer");
            let admin_only = names_role(op, "admin") && !anyone;
            assert!(method == Method::GET || admin_only || anyone, "{method} {path} changes something but names no role");
            assert_eq!(anyone, app::accounts::duties::anyone_may(method.as_str(), &path.replace("{id}", "{}")), "{method} {path}: the OpenAPI roles and SELF_ACTIONS disagree");
            assert_eq!(status(&anonymous, method.clone(), &url, false).await, 401, "anonymous {method} {path}");
            let as_viewer = status(&viewer, method.clone(), &url, false).await;
            if admin_only {
                assert_eq!(as_viewer, 403, "viewer {method} {path}");
            } else {
                assert!(![401, 403].contains(&as_viewer), "viewer {method} {path} answered {as_viewer}");
            }
            // The operator's duties: the OpenAPI document and the policy's table say the same.
            let duty = names_role(op, "operator") && !anyone;
            let template = path.replace("{id}", "{}");
            assert_eq!(duty, app::accounts::duties::operator_may(method.as_str(), &template), "{method} {path}: the OpenAPI roles and OPERATOR_ACTIONS disagree");
            let as_operator = status(&operator, method.clone(), &url, false).await;
            if admin_only && !duty {
                assert_eq!(as_operator, 403, "operator {method} {path}");
            } else {
                assert!(![401, 403].contains(&as_operator), "operator {method} {path} answered {as_operator}");
            }
            let as_admin = status(&admin, method.clone(), &url, false).await;
            assert!(![401, 403].contains(&as_admin), "admin {method} {path} answered {as_admin}");
        }
    }

    let mut rpc = 0;
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        rpc += 1;
        let method = Method::from_bytes(method.as_str().as_bytes()).unwrap();
        let url = app.url(path);
        assert_eq!(status(&anonymous, method.clone(), &url, true).await, 401, "anonymous {path}");
        let as_viewer = status(&viewer, method.clone(), &url, true).await;
        if charon::auth::policy::RPC_READS.contains(&path) || app::accounts::duties::anyone_may(method.as_str(), path) {
            assert!(![401, 403].contains(&as_viewer), "viewer {path} answered {as_viewer}");
        } else {
            assert_eq!(as_viewer, 403, "viewer {path}");
        }
        let as_operator = status(&operator, method.clone(), &url, true).await;
        if charon::auth::policy::RPC_READS.contains(&path) || app::accounts::duties::operator_may(method.as_str(), path) || app::accounts::duties::anyone_may(method.as_str(), path) {
            assert!(![401, 403].contains(&as_operator), "operator {path} answered {as_operator}");
        } else {
            assert_eq!(as_operator, 403, "operator {path}");
        }
        let as_admin = status(&admin, method, &url, true).await;
        assert!(![401, 403].contains(&as_admin), "admin {path} answered {as_admin}");
    }
    // Every read the policy allows is a registered server function (no stale entries), and so is
    // every operator's duty among them.
    let registered: Vec<&str> = leptos::server_fn::axum::server_fn_paths().map(|(p, _)| p).collect();
    for (_, duty) in app::accounts::duties::OPERATOR_ACTIONS.iter().filter(|(_, p)| p.starts_with("/rpc/")) {
        assert!(registered.contains(duty), "{duty} is an operator's duty but not registered");
    }
    for read in charon::auth::policy::RPC_READS {
        assert!(registered.contains(read), "{read} is on the read list but not registered");
    }
    println!("checked {rest} REST operations and {rpc} server functions");
    assert!(rest >= 35 && rpc >= 30, "{rest} REST operations, {rpc} server functions: the registries look incomplete");
    let _: Value = Value::Null;
}

#[tokio::test]
async fn an_operator_bans_narrow_ranges_only_adds_exceptions_and_a_token_can_carry_the_role() {
    let app = spawn_app_with(|c| {
        c.crowdsec_bin = Some("/nonexistent/crowdsec".into());
        c.cscli_bin = Some("/nonexistent/cscli".into());
        c.capi_url = "off".into();
        c.operator_ban_max_prefix_v4 = 24;
        c.operator_ban_max_prefix_v6 = 64;
    })
    .await;
    let admin = setup_admin(&app).await;
    let operator = operator(&app, &admin).await;
    let ban = |v: &str| json!({"value": v, "duration": "1h", "confirm": true, "force": true});
    // Wider than the limit: 403 naming the reason, before anything reaches the engine.
    for wide in ["198.51.0.0/16", "2001:db8::/48"] {
        let (status, body) = app.send_json(&operator, Method::POST, "/api/v1/cerberus/crowdsec/decisions", &ban(wide)).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("range_beyond_role")), "{wide}: {body}");
    }
    // Within it (an address, a /24, a /64): past the role check; the engine is absent here, so
    // the LAPI's 503 is the answer.
    for narrow in ["198.51.100.7", "198.51.100.0/24", "2001:db8::/64"] {
        let (status, body) = app.send_json(&operator, Method::POST, "/api/v1/cerberus/crowdsec/decisions", &ban(narrow)).await;
        assert_eq!(status, 503, "{narrow}: {body}");
    }
    // An administrator's wide ban is not limited by the operators' setting.
    let (status, body) = app.send_json(&admin, Method::POST, "/api/v1/cerberus/crowdsec/decisions", &ban("198.51.0.0/16")).await;
    assert_eq!(status, 503, "{body}");
    // The operator adds an exception but does not remove one, nor starts the engine.
    let (status, body) = app.send_json(&operator, Method::POST, "/api/v1/cerberus/crowdsec/allowlist", &json!({"value": "192.0.2.44", "reason": "our monitor"})).await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = app.send_json(&operator, Method::DELETE, &format!("/api/v1/cerberus/crowdsec/allowlist/{}", body["entry"]["id"]), &json!({})).await;
    assert_eq!(status, 403);
    let (status, _) = app.send_json(&operator, Method::POST, "/api/v1/cerberus/crowdsec/start", &json!({})).await;
    assert_eq!(status, 403);
    // The audit log names the operator.
    let (_, audit) = app.send_json(&admin, Method::GET, "/api/v1/audit?action=allowlist.add", &Value::Null).await;
    assert!(audit.to_string().contains("otto"), "{audit}");

    // An administrator's operator token acts as an operator.
    let (status, created) = app.send_json(&admin, Method::POST, "/api/v1/tokens", &json!({"name": "fp-desk", "role": "operator"})).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let bearer = |m: Method, path: &str| reqwest::Client::new().request(m, app.url(path)).bearer_auth(&token);
    let res = bearer(Method::POST, "/api/v1/cerberus/crowdsec/decisions").json(&ban("198.51.0.0/16")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = bearer(Method::POST, "/api/v1/cerberus/crowdsec/allowlist").json(&json!({"value": "192.0.2.45"})).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(bearer(Method::POST, "/api/v1/tokens").json(&json!({"name": "x"})).send().await.unwrap().status(), 403);
    let (status, _) = app.send_json(&admin, Method::POST, "/api/v1/users", &json!({"username": "bad", "password": VIEWER_PASSWORD, "role": "superuser"})).await;
    assert_eq!(status, 400, "an unknown role is refused");
}

#[test]
fn no_rest_route_is_registered_outside_the_openapi_router() {
    // `routes!` is the only way a route reaches the API router, so the description cannot miss
    // one; a plain `.route("/api…")` would.
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut offenders = Vec::new();
    for entry in rust_files(std::path::Path::new(src)) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains(".route(\"/api/v") {
                offenders.push(format!("{}:{}", entry.display(), n + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "routes outside the OpenAPI router: {offenders:?}");
}
