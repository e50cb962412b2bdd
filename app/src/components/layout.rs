use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::auth::whoami;
use crate::components::language_switcher::LanguageSwitcher;
use crate::components::theme::ThemeSwitcher;
use crate::i18n::*;
use leptos_i18n::I18nContext;
use crate::accounts::model::{Principal, Role};

/// The signed-in user, shared by the layout and the pages inside it.
#[derive(Clone, Copy)]
pub struct CurrentUser(pub Resource<Option<Principal>>);

pub fn role_label(i18n: I18nContext<Locale>, role: Role) -> &'static str {
    match role {
        Role::Admin => t_string!(i18n, role_admin),
        Role::Operator => t_string!(i18n, role_operator),
        Role::Viewer => t_string!(i18n, role_viewer),
    }
}

/// The frame of every signed-in page: skip link, navigation, user menu, language switcher.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let i18n = use_i18n();
    let user = Resource::new(|| (), |_| async { whoami().await.ok().flatten() });
    provide_context(CurrentUser(user));
    let path = use_location().pathname;
    let nav_link = move |href: &'static str, label: &'static str| {
        let current = move || {
            let p = path.try_get().unwrap_or_default();
            // "/security" is current only on itself; the sub-pages have their own entries.
            let active = if href == "/security" { p == href } else { p.starts_with(href) };
            active.then_some("page")
        };
        view! { <li><a href=href aria-current=current>{label}</a></li> }
    };

    view! {
        <a class="skip-link" href="#main">{t!(i18n, skip_to_content)}</a>
        <header class="topbar">
            <a class="brand" href="/overview">{t!(i18n, app_name)}</a>
            <nav aria-label=move || t_string!(i18n, nav_label)>
                <ul class="nav">
                    {move || nav_link("/overview", t_string!(i18n, nav_overview))}
                    {move || nav_link("/security", t_string!(i18n, nav_security))}
                    {move || nav_link("/security/decisions", t_string!(i18n, nav_decisions))}
                    {move || nav_link("/security/alerts", t_string!(i18n, nav_alerts))}
                    {move || nav_link("/security/hub", t_string!(i18n, nav_hub))}
                    {move || nav_link("/security/console", t_string!(i18n, nav_console))}
                    {move || nav_link("/proxy-hosts", t_string!(i18n, nav_proxy))}
                    {move || nav_link("/nodes", t_string!(i18n, nav_nodes))}
                    {move || nav_link("/settings", t_string!(i18n, nav_settings))}
                </ul>
            </nav>
            <div class="topbar-end">
                <LanguageSwitcher />
                <ThemeSwitcher />
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        user.await.map(|p| view! { <UserMenu principal=p /> })
                    })}
                </Suspense>
            </div>
        </header>
        <main id="main" tabindex="-1">
            {children()}
        </main>
        <crate::components::hydration::HydrationMarker />
    }
}

#[component]
fn UserMenu(principal: Principal) -> impl IntoView {
    let i18n = use_i18n();
    let role = principal.role;
    view! {
        <section class="user-menu" aria-label=move || t_string!(i18n, user_menu_label) data-testid="user-menu">
            <span class="user-name">
                <span class="visually-hidden">{t!(i18n, signed_in_as)}" "</span>
                <span data-testid="current-username">{principal.username}</span>
            </span>
            <span class="badge" data-testid="current-role">{move || role_label(i18n, role)}</span>
            {(role == Role::Admin).then(|| view! { <a href="/audit" data-testid="audit-link">{t!(i18n, nav_audit)}</a> })}
            <form method="post" action="/logout">
                <button type="submit" class="btn btn-secondary" data-testid="logout">{t!(i18n, logout)}</button>
            </form>
        </section>
    }
}

/// Shown to viewers wherever an administrator could act.
#[component]
pub fn ReadOnlyNotice() -> impl IntoView {
    let i18n = use_i18n();
    view! { <p class="alert alert-info" data-testid="readonly-notice">{t!(i18n, viewer_readonly)}</p> }
}
