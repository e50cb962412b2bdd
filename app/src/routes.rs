//! The pages that load lazily. A visitor meets the sign-in page and the Security page first; every
//! other page is a `LazyRoute`, so its code is a WASM chunk of its own that the browser fetches when
//! the page is first shown (`cargo leptos build --split`; the chunks are hashed and precompressed
//! like the rest of the site). The server renders every page in full either way, and a page visited
//! directly is hydrated once its chunk has arrived (`hydrate_lazy`).

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::accounts::page::SettingsPage;
use crate::accounts::sessions_page::SessionsPage;
use crate::accounts::sign_in_page::SignInPage;
use crate::accounts::two_factor_page::TwoFactorPage;
use crate::signin::code_page::CodePage;
use crate::alerts::page::{AlertDetailPage, AlertsPage};
use crate::audit::page::AuditPage;
use crate::console::page::ConsolePage;
use crate::decisions::page::LiveDecisionsPage;
use crate::fleet::page::NodesPage;
use crate::hub::page::{HubItemPage, HubPage};
use crate::notify::page::NotificationsPage;
use crate::overview::page::OverviewPage;
use crate::proxy::page::ProxyHostsPage;
use crate::security::enforcement_page::EnforcementPage;
use crate::signin::setup_page::SetupPage;

/// A route whose view is the page component `$page`, loaded lazily; the page fetches its own data.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $page:ident) => {
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    };
}

lazy_page!(/// `/setup`: once per installation.
    SetupRoute => SetupPage);
lazy_page!(/// `/security/decisions`.
    DecisionsRoute => LiveDecisionsPage);
lazy_page!(/// `/security/alerts`.
    AlertsRoute => AlertsPage);
lazy_page!(/// `/security/alerts/:id`.
    AlertDetailRoute => AlertDetailPage);
lazy_page!(/// `/security/hub`.
    HubRoute => HubPage);
lazy_page!(/// `/security/hub/:kind/:author/:name`.
    HubItemRoute => HubItemPage);
lazy_page!(/// `/security/enforcement`: the self-test.
    EnforcementRoute => EnforcementPage);
lazy_page!(/// `/security/console`.
    ConsoleRoute => ConsolePage);
lazy_page!(/// `/proxy-hosts`.
    ProxyHostsRoute => ProxyHostsPage);
lazy_page!(/// `/nodes`: the fleet's edge nodes.
    NodesRoute => NodesPage);
lazy_page!(/// `/audit` (administrators).
    AuditRoute => AuditPage);
lazy_page!(/// `/settings`.
    SettingsRoute => SettingsPage);
lazy_page!(/// `/settings/notifications`.
    NotificationsRoute => NotificationsPage);
lazy_page!(/// `/settings/sessions`.
    SessionsRoute => SessionsPage);
lazy_page!(/// `/settings/two-factor`.
    TwoFactorRoute => TwoFactorPage);
lazy_page!(/// `/settings/sign-in` (administrators).
    SignInRoute => SignInPage);
lazy_page!(/// `/login/code`: the sign-in's second step.
    CodeRoute => CodePage);
lazy_page!(/// `/overview`: the landing page after sign-in.
    OverviewRoute => OverviewPage);
