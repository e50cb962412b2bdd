//! Proxy Hosts: the sites Caddy serves (domain → upstream) on every node or on chosen ones, enabled
//! or not, protected by the bouncer or not; admins create, edit and delete them. Works without
//! JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::components::error_message::ErrorMessage;
use crate::components::layout::{CurrentUser, Layout};
use crate::i18n::*;
use crate::proxy::rpc::{list_proxy_hosts, DeleteProxyHost, SaveProxyHost};
use crate::proxy::model::ProxyHost;

#[component]
fn HostForm(save: ServerAction<SaveProxyHost>, host: Option<ProxyHost>) -> impl IntoView {
    let i18n = use_i18n();
    let id = host.as_ref().map(|h| h.id);
    let prefix = id.map(|i| format!("h{i}")).unwrap_or_else(|| "new".into());
    let f = move |name: &str| format!("{prefix}-{name}");
    let (domain, upstream, enabled, protect, nodes) = match &host {
        Some(h) => (h.domain.clone(), h.upstream.clone(), h.enabled, h.protect, h.nodes.as_ref().map(|n| n.join(", ")).unwrap_or_default()),
        None => (String::new(), String::new(), true, true, String::new()),
    };
    view! {
        <ActionForm action=save attr:class="stack" attr:data-testid=if id.is_some() { "proxy-edit-form" } else { "proxy-form" }>
            {id.map(|i| view! { <input type="hidden" name="id" value=i /> })}
            <label for=f("domain")>{t!(i18n, proxy_col_domain)}</label>
            <input id=f("domain") name="domain" required maxlength="253" value=domain autocomplete="off"
                aria-describedby=f("domain-hint") placeholder="app.example.com" />
            <p id=f("domain-hint") class="hint">{t!(i18n, proxy_domain_hint)}</p>
            <label for=f("upstream")>{t!(i18n, proxy_col_upstream)}</label>
            <input id=f("upstream") name="upstream" required maxlength="270" value=upstream autocomplete="off"
                aria-describedby=f("upstream-hint") placeholder="http://127.0.0.1:3000" />
            <p id=f("upstream-hint") class="hint">{t!(i18n, proxy_upstream_hint)}</p>
            <label for=f("nodes")>{t!(i18n, nav_nodes)}</label>
            <input id=f("nodes") name="nodes" maxlength="4200" value=nodes autocomplete="off" aria-describedby=f("nodes-hint") />
            <p id=f("nodes-hint") class="hint">{t!(i18n, proxy_nodes_hint)}</p>
            <label class="check"><input type="checkbox" name="enabled" value="on" checked=enabled />{t!(i18n, proxy_col_enabled)}</label>
            <label class="check"><input type="checkbox" name="protect" value="on" checked=protect />{t!(i18n, proxy_col_protect)}</label>
            <button type="submit" class="btn btn-primary" data-testid="proxy-save" disabled=move || save.pending().try_get().unwrap_or(false)>
                {move || if save.pending().try_get().unwrap_or(false) { t_string!(i18n, working) } else { t_string!(i18n, proxy_save) }}
            </button>
        </ActionForm>
    }
}

#[component]
pub fn ProxyHostsPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Layout>
            <h1>{t!(i18n, proxy_title)}</h1>
            <p class="lead">{t!(i18n, proxy_intro)}</p>
            <ProxyHostsView />
        </Layout>
    }
}

/// Inside `Layout`, which provides the signed-in user.
#[component]
fn ProxyHostsView() -> impl IntoView {
    let i18n = use_i18n();
    let save = ServerAction::<SaveProxyHost>::new();
    let delete = ServerAction::<DeleteProxyHost>::new();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    let hosts = Resource::new(
        move || (save.version().try_get().unwrap_or_default(), delete.version().try_get().unwrap_or_default()),
        |_| list_proxy_hosts(),
    );
    let yes_no = move |b: bool| if b { t_string!(i18n, proxy_yes) } else { t_string!(i18n, proxy_no) };
    view! {
            <div aria-live="polite">
                {move || save.value().try_get().flatten().map(|r| match r {
                    Ok(h) => view! { <p class="alert alert-ok" data-testid="proxy-saved">{t!(i18n, proxy_saved)}" "<code>{h.domain}</code></p> }.into_any(),
                    Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                })}
                {move || delete.value().try_get().flatten().map(|r| match r {
                    Ok(()) => view! { <p class="alert alert-ok">{t!(i18n, proxy_deleted)}</p> }.into_any(),
                    Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                })}
            </div>
            <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match hosts.await {
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty" data-testid="proxy-empty">{t!(i18n, proxy_empty)}</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll"><table class="table" data-testid="proxy-table">
                                <thead><tr>
                                    <th scope="col">{t!(i18n, proxy_col_domain)}</th>
                                    <th scope="col">{t!(i18n, proxy_col_upstream)}</th>
                                    <th scope="col">{t!(i18n, proxy_col_enabled)}</th>
                                    <th scope="col">{t!(i18n, proxy_col_protect)}</th>
                                    <th scope="col">{t!(i18n, nav_nodes)}</th>
                                    <th scope="col"><span class="visually-hidden">{t!(i18n, proxy_edit)}</span></th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|h| {
                                        let host = StoredValue::new(h.clone());
                                        let id = h.id;
                                        view! {
                                            <tr data-testid="proxy-row" data-domain=h.domain.clone()>
                                                <td><code>{h.domain.clone()}</code></td>
                                                <td><code>{h.upstream.clone()}</code></td>
                                                <td>{yes_no(h.enabled)}</td>
                                                <td>{yes_no(h.protect)}</td>
                                                <td>{match h.nodes.clone() {
                                                    Some(n) => n.join(", "),
                                                    None => t_string!(i18n, proxy_nodes_all).to_owned(),
                                                }}</td>
                                                <td>
                                                    <Show when=is_admin>
                                                        <details>
                                                            <summary class="btn btn-secondary">{t!(i18n, proxy_edit)}<span class="visually-hidden">" "{host.with_value(|h| h.domain.clone())}</span></summary>
                                                            <HostForm save=save host=Some(host.get_value()) />
                                                        </details>
                                                        <ActionForm action=delete attr:class="inline-form">
                                                            <input type="hidden" name="id" value=id />
                                                            <button type="submit" class="btn btn-danger" data-testid="proxy-delete">
                                                                {t!(i18n, proxy_delete)}<span class="visually-hidden">" "{host.with_value(|h| h.domain.clone())}</span>
                                                            </button>
                                                        </ActionForm>
                                                    </Show>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
            <Show when=is_admin>
                <section class="card" aria-labelledby="proxy-add-title">
                    <h2 id="proxy-add-title">{t!(i18n, proxy_add)}</h2>
                    <HostForm save=save host=None />
                </section>
            </Show>
    }
}
