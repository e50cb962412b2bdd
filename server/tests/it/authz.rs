//! Deny by default, proven on everything that is registered: every REST operation taken from the
//! router's own OpenAPI document (built by the same `routes!` calls that register the routes) and
//! every server function taken from the server-function registry, each called anonymously, as a
//! viewer and as an administrator. Nothing here is a hand-kept list of endpoints.

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

/// Whether the operation's security requirement names the role `admin`.
fn needs_admin(op: &Operation) -> bool {
    let doc = serde_json::to_value(op).unwrap();
    doc["security"].as_array().is_some_and(|reqs| {
        reqs.iter().any(|r| r.as_object().unwrap().values().any(|roles| roles.as_array().unwrap().iter().any(|x| x == "admin")))
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
    let anonymous = app.client();

    let doc = charon::api::openapi();
    let mut rest = 0;
    for (path, item) in &doc.paths.paths {
        for (method, op) in operations(item) {
            rest += 1;
            let url = app.url(&fill(path));
            if engine_only(op) {
                for (who, client) in [("anonymous", &anonymous), ("viewer", &viewer), ("admin", &admin)] {
                    assert_eq!(status(client, method.clone(), &url, false).await, 401, "{who} {method} {path}: only the engine's token opens it");
                }
                continue;
            }
            let admin_only = needs_admin(op);
            assert!(method == Method::GET || admin_only, "{method} {path} changes something but is not admin-only");
            assert_eq!(status(&anonymous, method.clone(), &url, false).await, 401, "anonymous {method} {path}");
            let as_viewer = status(&viewer, method.clone(), &url, false).await;
            if admin_only {
                assert_eq!(as_viewer, 403, "viewer {method} {path}");
            } else {
                assert!(![401, 403].contains(&as_viewer), "viewer {method} {path} answered {as_viewer}");
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
        if charon::auth::policy::RPC_READS.contains(&path) {
            assert!(![401, 403].contains(&as_viewer), "viewer {path} answered {as_viewer}");
        } else {
            assert_eq!(as_viewer, 403, "viewer {path}");
        }
        let as_admin = status(&admin, method, &url, true).await;
        assert!(![401, 403].contains(&as_admin), "admin {path} answered {as_admin}");
    }
    // Every read the policy allows is a registered server function (no stale entries).
    let registered: Vec<&str> = leptos::server_fn::axum::server_fn_paths().map(|(p, _)| p).collect();
    for read in charon::auth::policy::RPC_READS {
        assert!(registered.contains(read), "{read} is on the read list but not registered");
    }
    println!("checked {rest} REST operations and {rpc} server functions");
    assert!(rest >= 35 && rpc >= 30, "{rest} REST operations, {rpc} server functions: the registries look incomplete");
    let _: Value = Value::Null;
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
