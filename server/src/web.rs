//! The Leptos side of the router: server-rendered pages, server functions under `/rpc`, and the
//! static site (`/pkg` through `static_files`, the favicon). Each request gets the `Services`
//! context the server functions use.

use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

use app::{shell, App};

use crate::state::AppState;

/// The largest request body a page form or server function may send: a blocklist of a million
/// rows pasted into the import form. (Server functions read their bodies without axum's limit.)
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

pub fn router(state: &AppState) -> Router<AppState> {
    let routes = generate_route_list(App);
    let services = state.services.clone();
    let sign_in = state.auth.sign_in.clone();
    let context = move || {
        provide_context(services.clone());
        provide_context(sign_in.options());
        // A page's inline scripts carry the nonce leptos_axum made for this render; the policy
        // names it. (Server functions and static files have none and keep the default policy.)
        if let (Some(nonce), Some(res)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) {
            if let Ok(value) = axum::http::HeaderValue::from_str(&crate::security_headers::page_policy(&nonce)) {
                res.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
            }
            // Pages are per user and change with every decision: always asked for again.
            res.insert_header(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-cache"));
        }
    };
    let leptos_options = state.leptos.clone();
    Router::new()
        .nest_service("/pkg", crate::static_files::pkg_service(&state.leptos))
        .leptos_routes_with_context(state, routes, context.clone(), move || {
            shell(leptos_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
}
