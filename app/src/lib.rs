//! Charon's user interface: routes, pages, components, translations, the DTOs the browser and the
//! server exchange, and the `#[server]` functions. Compiled to WASM (feature `hydrate`) and to
//! native code for server-side rendering (feature `ssr`).

#![recursion_limit = "256"]

// The proc-macro form reads `[package.metadata.leptos-i18n]` and `locales/`. leptos_i18n 0.6 prefers
// build.rs code generation, but its build crate pulls ICU's data exporter (with networking) into
// every build; the macro produces the same module without it.
#[allow(deprecated)]
mod i18n_module {
    leptos_i18n::load_locales!();
}
pub use i18n_module::i18n;

// One folder per topic, each holding its types (`model`), server functions (`rpc`) and page.
pub mod accounts;
pub mod age;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod build_info;
pub mod components;
pub mod console;
pub mod decisions;
pub mod error;
pub mod fleet;
pub mod hub;
pub mod notify;
pub mod overview;
pub mod proxy;
pub mod routes;
pub mod security;
#[cfg(feature = "ssr")]
pub mod services;
pub mod signin;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path, Lazy, SsrMode,
};

use crate::i18n::*;
use crate::components::not_found::NotFound;
use crate::routes::*;
use crate::security::page::SecurityPage;
use crate::signin::login_page::LoginPage;

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let theme = crate::components::theme::current();
    view! {
        <!DOCTYPE html>
        <html data-theme=theme>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                // `/pkg/charon.<hash>.css` in a release build (cargo-leptos `hash-files`), so it can
                // be cached for good; the server sends it precompressed.
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// `I18nContextProvider` starts an isomorphic effect — it runs on the server too, on the
/// executor's next tick — that reads the locale signal. A page that renders without waiting for
/// anything (the sign-in page) could be sent, and its reactive owner force-disposed, before that
/// tick came; the effect then panicked in a detached task ("Tried to access a reactive value that
/// has already been disposed"). The response now waits a moment before it ends, so every effect
/// spawned during the render has run while its signals exist. 2 ms proved too short once the
/// machine was busy (seen once in five Playwright runs, at the first render after start-up); 20 ms
/// is still far below what a page takes to load, but it is a wait, not a guarantee. The route
/// listing at start-up, which nothing waits for, renders without the provider (`App`).
#[cfg(feature = "ssr")]
fn let_server_effects_run() {
    if let Some(context) = Owner::current_shared_context() {
        context.defer_stream(Box::pin(async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }));
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // The server lists the routes once at start-up by rendering the app in an owner it disposes
    // at once, waiting for nothing (`generate_route_list`): no page renders then, so the i18n
    // provider is left out, and with it its effect, which would race that disposal.
    #[cfg(feature = "ssr")]
    if leptos_router::RouteList::is_generating() {
        return view! { <AppRoutes /> }.into_any();
    }
    #[cfg(feature = "ssr")]
    let_server_effects_run();

    view! {
        <I18nContextProvider>
            <Title text="Charon" />
            <AppRoutes />
        </I18nContextProvider>
    }
    .into_any()
}

#[component]
fn AppRoutes() -> impl IntoView {
    view! {
        // SsrMode::Async: every page is sent complete, resources resolved, so it reads without
        // JavaScript (out-of-order streaming would need a script to place suspended content).
        <Router>
            <Routes fallback=NotFound>
                <Route ssr=SsrMode::Async path=path!("/") view=|| view! { <Redirect path="/overview" /> } />
                // Sign-in and Security are in the main WASM; the other pages are chunks
                // loaded when first shown (`routes`).
                <Route ssr=SsrMode::Async path=path!("/login") view=LoginPage />
                <Route ssr=SsrMode::Async path=path!("/overview") view={Lazy::<OverviewRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/security") view=SecurityPage />
                <Route ssr=SsrMode::Async path=path!("/setup") view={Lazy::<SetupRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/security/decisions") view={Lazy::<DecisionsRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/security/alerts") view={Lazy::<AlertsRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/security/alerts/:id") view={Lazy::<AlertDetailRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/security/hub") view={Lazy::<HubRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/security/hub/:kind/:author/:name") view={Lazy::<HubItemRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/security/console") view={Lazy::<ConsoleRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/security/enforcement") view={Lazy::<EnforcementRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/proxy-hosts") view={Lazy::<ProxyHostsRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/nodes") view={Lazy::<NodesRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/audit") view={Lazy::<AuditRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/settings") view={Lazy::<SettingsRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/settings/notifications") view={Lazy::<NotificationsRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/settings/sessions") view={Lazy::<SessionsRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/settings/two-factor") view={Lazy::<TwoFactorRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/settings/sign-in") view={Lazy::<SignInRoute>::new()} />
                <Route ssr=SsrMode::Async path=path!("/login/code") view={Lazy::<CodeRoute>::new()} />
            </Routes>
        </Router>
    }
}
