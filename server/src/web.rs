//! The Leptos side of the router: server-rendered pages, server functions under `/rpc`, and the
//! static site (`/pkg`, favicon). Each request gets the `Services` context the server functions use.

use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

use app::services::Services;
use app::{shell, App};

use crate::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    let routes = generate_route_list(App);
    let services = Services {
        accounts: state.accounts.clone(),
        security: std::sync::Arc::new(state.crowdsec.clone()),
        decisions: std::sync::Arc::new(crate::decisions_service::DecisionServices {
            decisions: state.decisions.clone(),
            allowlist: state.allowlist.clone(),
        }),
        hub: std::sync::Arc::new(state.hub.clone()),
        proxy: std::sync::Arc::new(state.proxy.clone()),
        console: std::sync::Arc::new(crate::console::ConsoleServices { console: state.console.clone(), config: state.config.clone() }),
    };
    let context = move || provide_context(services.clone());
    let leptos_options = state.leptos.clone();
    Router::new()
        .leptos_routes_with_context(state, routes, context.clone(), move || {
            shell(leptos_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
}
