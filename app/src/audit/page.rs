//! The Audit page (administrators): who changed what through Charon, newest first, filtered by
//! actor, action, text and age; the filters live in the URL.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

use crate::audit::model::AuditQuery;
use crate::audit::rpc::list_audit;
use crate::components::error_message::ErrorMessage;
use crate::components::layout::Layout;
use crate::components::query_link;
use crate::i18n::*;

const FILTERS: [&str; 4] = ["actor", "action", "q", "since"];

fn query_from_url(q: &leptos_router::params::ParamsMap) -> AuditQuery {
    let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
    AuditQuery {
        actor: get("actor"),
        action: get("action"),
        q: get("q"),
        since: get("since"),
        page: get("page").and_then(|p| p.parse().ok()),
        per_page: get("per_page").and_then(|p| p.parse().ok()),
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let i18n = use_i18n();
    let query_map = use_query_map();
    let location = use_location();
    let page = Resource::new(move || query_map.try_with(query_from_url).unwrap_or_default(), list_audit);
    let param = move |k: &str| query_map.with(|q| q.get(k).unwrap_or_default());
    let page_link = move |n: usize| {
        let path = location.pathname.try_get().unwrap_or_default();
        query_map.with(|q| query_link::page_link(&path, q, &FILTERS, n))
    };
    view! {
        <Layout>
            <h1>{t!(i18n, audit_title)}</h1>
            <p class="lead">{t!(i18n, audit_intro)}</p>
            <form method="get" class="filters" role="search" data-testid="audit-filters">
                <label for="au-actor">{t!(i18n, audit_actor)}</label>
                <input id="au-actor" name="actor" value=param("actor") />
                <label for="au-action">{t!(i18n, audit_action)}</label>
                <input id="au-action" name="action" value=param("action") placeholder="decision" />
                <label for="au-q">{t!(i18n, audit_target)}</label>
                <input id="au-q" name="q" value=param("q") />
                <label for="au-since">{t!(i18n, alerts_since)}</label>
                <input id="au-since" name="since" value=param("since") placeholder="7d" size="5" />
                <button type="submit" class="btn btn-secondary">{t!(i18n, decisions_filter_apply)}</button>
            </form>
            <query_link::ExportLinks api="/api/v1/audit" keys=&FILTERS />
            <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        Ok(p) if p.rows.is_empty() => view! { <p class="empty" data-testid="audit-empty">{t!(i18n, audit_empty)}</p> }.into_any(),
                        Ok(p) => {
                            let (current, pages) = (p.page, (p.total as usize).div_ceil(p.per_page).max(1));
                            let total = p.total;
                            view! {
                                <p class="hint" data-testid="audit-total">{t!(i18n, audit_total, total = move || total)}</p>
                                <div class="table-scroll"><table class="table" data-testid="audit-table">
                                    <thead><tr>
                                        <th scope="col">{t!(i18n, audit_when)}</th>
                                        <th scope="col">{t!(i18n, audit_actor)}</th>
                                        <th scope="col">{t!(i18n, audit_action)}</th>
                                        <th scope="col">{t!(i18n, audit_target)}</th>
                                        <th scope="col">{t!(i18n, audit_result)}</th>
                                    </tr></thead>
                                    <tbody>
                                        {p.rows.into_iter().map(|e| view! {
                                            <tr data-testid="audit-row" data-action=e.action.clone()>
                                                <td><time datetime=e.at.clone()>{e.at.clone()}</time></td>
                                                <td data-testid="audit-actor">
                                                    {e.actor.clone()}
                                                    {(!e.via.is_empty()).then(|| view! { <br /><small class="hint">{e.via.clone()}</small> })}
                                                    {(!e.address.is_empty()).then(|| view! { <br /><small class="hint">{t!(i18n, audit_from)}" "<code>{e.address.clone()}</code></small> })}
                                                </td>
                                                <td><code>{e.action.clone()}</code></td>
                                                <td data-testid="audit-target">
                                                    {(!e.target.is_empty()).then(|| view! { <code>{e.target.clone()}</code>" " })}
                                                    {e.detail.clone()}
                                                </td>
                                                <td data-testid="audit-result">{if e.result == "ok" {
                                                    view! { <span class="badge badge-ok">"ok"</span> }.into_any()
                                                } else {
                                                    view! { <span class="badge badge-warn">{e.result.clone()}</span> }.into_any()
                                                }}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table></div>
                                <nav class="pager" aria-label=move || t_string!(i18n, decisions_pages)>
                                    {(current > 1).then(|| view! { <a href=page_link(current - 1) rel="prev">{t!(i18n, decisions_prev)}</a> })}
                                    " "<span>{current}" / "{pages}</span>" "
                                    {(current < pages).then(|| view! { <a href=page_link(current + 1) rel="next">{t!(i18n, decisions_next)}</a> })}
                                </nav>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </Layout>
    }
}
