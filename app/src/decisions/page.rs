use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

use crate::components::clock::{format_remaining, now_unix, parse_rfc3339_utc};
use crate::components::error_message::ErrorMessage;
use crate::components::query_link::{self, encode};
use crate::components::layout::{CurrentUser, Layout};
use crate::decisions::allowlist_panel::AllowlistSection;
use crate::decisions::import_panel::ImportPanel;
use crate::decisions::allow_for::UnbanAndAllowForm;
use crate::decisions::rpc::{list_decisions, BanDecision, UnbanAndAllow, UnbanDecision, UnbanValues};
use crate::decisions::model::{AddressGroup, Decision, DecisionPage, DecisionQuery};
use crate::i18n::*;

fn query_from_url(q: &leptos_router::params::ParamsMap) -> DecisionQuery {
    let get = |k: &str| q.get(k).filter(|v| !v.trim().is_empty());
    DecisionQuery {
        q: get("q"),
        origin: get("origin"),
        scenario: get("scenario"),
        kind: get("type"),
        sort: get("sort"),
        page: get("page").and_then(|p| p.parse().ok()),
        per_page: get("per_page").and_then(|p| p.parse().ok()),
        group: get("group"),
        site: get("site"),
    }
}

/// Bumps on every decision change the server announces (Server-Sent Events).
fn live_version() -> RwSignal<u64> {
    let version = RwSignal::new(0u64);
    crate::components::server_events::subscribe("/api/v1/cerberus/crowdsec/decisions/events", "changed", move |_| {
        version.update(|v| *v += 1)
    });
    version
}

#[component]
pub fn LiveDecisionsPage() -> impl IntoView {
    let i18n = use_i18n();
    // Shared with the allowlist panel, which refreshes after each use.
    provide_context(ServerAction::<UnbanAndAllow>::new());
    view! {
        <Layout>
            <h1>{t!(i18n, decisions_title)}</h1>
            <p class="lead">{t!(i18n, decisions_intro)}</p>
            <DecisionsView />
            <AllowlistSection />
        </Layout>
    }
}

#[component]
fn DecisionsView() -> impl IntoView {
    let i18n = use_i18n();
    let query_map = use_query_map();
    let location = use_location();
    let ban = ServerAction::<BanDecision>::new();
    let unban = ServerAction::<UnbanDecision>::new();
    let unban_allow = expect_context::<ServerAction<UnbanAndAllow>>();
    let unban_values = ServerAction::<UnbanValues>::new();
    let live = live_version();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    // Operators ban, unban and allow too; importing lists stays an administrator's.
    let may_act = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_unban());
    let now = RwSignal::new(now_unix());
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || now.set(now_unix()), std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });

    let page = Resource::new(
        // try_*: a refetch scheduled after the page's owner is gone must not panic.
        move || {
            (
                query_map.try_with(query_from_url).unwrap_or_default(),
                live.try_get().unwrap_or_default(),
                ban.version().try_get().unwrap_or_default(),
                unban.version().try_get().unwrap_or_default(),
                unban_allow.version().try_get().unwrap_or_default(),
                unban_values.version().try_get().unwrap_or_default(),
            )
        },
        |(q, _, _, _, _, _)| list_decisions(q),
    );
    let param = move |k: &str| query_map.with(|q| q.get(k).unwrap_or_default());
    let page_link = move |n: usize| {
        let path = location.pathname.try_get().unwrap_or_default();
        query_map.with(|q| query_link::page_link(&path, q, &["q", "origin", "scenario", "type", "site", "sort", "per_page", "group"], n))
    };
    let grouped = move || query_map.with(|q| q.get("group").as_deref() == Some("address"));
    // The same filters, grouped or not.
    let toggle_link = move || {
        let path = location.pathname.try_get().unwrap_or_default();
        query_map.with(|q| {
            let mut q = q.clone();
            if q.get("group").as_deref() == Some("address") {
                q.remove("group");
            } else {
                q.insert("group", "address".to_owned());
            }
            query_link::page_link(&path, &q, &["q", "origin", "scenario", "type", "site", "sort", "per_page", "group"], 1)
        })
    };


    view! {
        <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    Ok(p) => {
                        let DecisionPage { decisions, groups, total, page: current, per_page, counts, stale_since, synced } = p;
                        let pages = total.div_ceil(per_page).max(1);
                        view! {
                            {stale_since.map(|since| view! {
                                <p class="alert alert-error" role="alert" data-testid="lapi-banner">
                                    {t!(i18n, decisions_stale)}" "<time datetime=since.clone()>{since.clone()}</time>
                                </p>
                            })}
                            {(!synced).then(|| view! {
                                <p class="alert alert-info" data-testid="not-synced">{t!(i18n, decisions_not_synced)}</p>
                            })}
                            <ul class="counts" aria-label=move || t_string!(i18n, decisions_counts_label) data-testid="origin-counts">
                                {counts.into_iter().map(|c| view! {
                                    <li class="badge"><a href=format!("?origin={}", c.origin)>{c.origin.clone()}</a>": "{c.count}</li>
                                }).collect_view()}
                            </ul>
                            <form method="get" class="filters" role="search" data-testid="decision-filters">
                                <label for="f-q">{t!(i18n, decisions_filter_ip)}</label>
                                <input id="f-q" name="q" value=param("q") placeholder="203.0.113.0/24" />
                                <label for="f-origin">{t!(i18n, col_origin)}</label>
                                <input id="f-origin" name="origin" value=param("origin") />
                                <label for="f-scenario">{t!(i18n, col_reason)}</label>
                                <input id="f-scenario" name="scenario" value=param("scenario") />
                                <label for="f-type">{t!(i18n, col_action)}</label>
                                <select id="f-type" name="type">
                                    <option value="">{t!(i18n, decisions_any)}</option>
                                    <option value="ban" selected=param("type") == "ban">"ban"</option>
                                    <option value="captcha" selected=param("type") == "captcha">"captcha"</option>
                                    <option value="throttle" selected=param("type") == "throttle">"throttle"</option>
                                </select>
                                <label for="f-site">{t!(i18n, decisions_filter_site)}</label>
                                <input id="f-site" name="site" value=param("site") placeholder="shop.example.com" />
                                {grouped().then(|| view! { <input type="hidden" name="group" value="address" /> })}
                                <button type="submit" class="btn btn-secondary">{t!(i18n, decisions_filter_apply)}</button>
                            </form>
                            <p><a href=toggle_link data-testid="group-toggle" aria-pressed=move || grouped().to_string()>
                                {move || if grouped() { t_string!(i18n, decisions_ungroup) } else { t_string!(i18n, decisions_group_by_address) }}
                            </a></p>
                            <p class="hint" data-testid="decisions-total">{t!(i18n, decisions_total, total = move || total)}</p>
                            <query_link::ExportLinks api="/api/v1/cerberus/crowdsec/decisions" keys=&["q", "origin", "scenario", "type", "site", "sort"] />
                            {if !groups.is_empty() {
                                view! {
                                    <div class="table-scroll"><table class="table" data-testid="groups-table">
                                        <thead><tr>
                                            <th scope="col">{t!(i18n, col_value)}</th>
                                            <th scope="col">{t!(i18n, col_country)}</th>
                                            <th scope="col">{t!(i18n, col_reason)}</th>
                                            <th scope="col">{t!(i18n, col_origin)}</th>
                                            <th scope="col">{t!(i18n, decisions_count)}</th>
                                            <th scope="col">{t!(i18n, col_scope)}</th>
                                            <th scope="col">{t!(i18n, col_expires)}</th>
                                            <th scope="col"><span class="visually-hidden">{t!(i18n, decisions_unban)}</span></th>
                                        </tr></thead>
                                        <tbody>
                                            {groups.into_iter().map(|g| view! { <GroupRow g=g now=now unban_values=unban_values unban_allow=unban_allow can_act=Signal::derive(may_act) /> }).collect_view()}
                                        </tbody>
                                    </table></div>
                                }.into_any()
                            } else if decisions.is_empty() {
                                view! { <p class="empty" data-testid="decisions-empty">{t!(i18n, decisions_empty)}</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-scroll"><table class="table" data-testid="decisions-table">
                                        <thead><tr>
                                            <th scope="col">{t!(i18n, col_value)}</th>
                                            <th scope="col">{t!(i18n, col_country)}</th>
                                            <th scope="col">{t!(i18n, col_reason)}</th>
                                            <th scope="col">{t!(i18n, col_origin)}</th>
                                            <th scope="col">{t!(i18n, col_action)}</th>
                                            <th scope="col">{t!(i18n, col_scope)}</th>
                                            <th scope="col">{t!(i18n, col_expires)}</th>
                                            <th scope="col"><span class="visually-hidden">{t!(i18n, decisions_unban)}</span></th>
                                        </tr></thead>
                                        <tbody>
                                            {decisions.into_iter().map(|d| view! { <DecisionRow d=d now=now unban=unban unban_allow=unban_allow can_act=Signal::derive(may_act) /> }).collect_view()}
                                        </tbody>
                                    </table></div>
                                }.into_any()
                            }}
                            {(pages > 1).then(|| view! {
                                <nav class="pager" aria-label=move || t_string!(i18n, decisions_pages)>
                                    {(current > 1).then(|| view! { <a href=page_link(current - 1) rel="prev">"‹ "{t!(i18n, decisions_prev)}</a> })}
                                    <span>{format!("{current} / {pages}")}</span>
                                    {(current < pages).then(|| view! { <a href=page_link(current + 1) rel="next">{t!(i18n, decisions_next)}" ›"</a> })}
                                </nav>
                            })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
        <div aria-live="polite">
            {move || unban.value().try_get().flatten().map(|r| match r {
                Ok(_) => view! { <p class="alert alert-ok toast" data-testid="unban-done">{t!(i18n, decisions_unbanned)}</p> }.into_any(),
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
            })}
            {move || unban_allow.value().try_get().flatten().map(|r| match r {
                Ok(done) => {
                    let n = done.unbanned;
                    let until = done.entry.expires_at.clone().unwrap_or_else(|| t_string!(i18n, allow_for_forever).to_string());
                    let scoped = !done.entry.sites.is_empty() || done.entry.path_prefix.is_some();
                    let scope = [Some(done.entry.sites.join(", ")).filter(|s| !s.is_empty()), done.entry.path_prefix.clone()].into_iter().flatten().collect::<Vec<_>>().join(" ");
                    view! {
                        <p class="alert alert-ok toast" data-testid="unban-allow-done">
                            <code>{done.entry.value.clone()}</code>": "
                            {if scoped {
                                view! { {t!(i18n, allow_for_done_scoped)}" "{scope}" · "{until} }.into_any()
                            } else {
                                view! { {t!(i18n, allow_for_done, count = move || n)}" "{until} }.into_any()
                            }}
                        </p>
                    }.into_any()
                }
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
            })}
        </div>
        <Show when=may_act>
            <details class="card ban-panel">
                <summary class="btn btn-primary" data-testid="ban-ip-trigger">{t!(i18n, decisions_ban_open)}</summary>
                <ActionForm action=ban attr:class="stack" attr:data-testid="ban-form">
                    <label for="ban-value">{t!(i18n, decisions_ban_value)}</label>
                    <input id="ban-value" name="value" required maxlength="64" placeholder="203.0.113.7" autocomplete="off" />
                    <label for="ban-duration">{t!(i18n, decisions_ban_duration)}</label>
                    <input id="ban-duration" name="duration" required value="4h" list="ban-durations" maxlength="12"
                        aria-describedby="ban-duration-hint" />
                    <datalist id="ban-durations">
                        <option value="1h"></option><option value="4h"></option><option value="24h"></option>
                        <option value="7d"></option><option value="30d"></option>
                    </datalist>
                    <p id="ban-duration-hint" class="hint">{t!(i18n, decisions_ban_duration_hint)}</p>
                    <label for="ban-reason">{t!(i18n, decisions_ban_reason)}</label>
                    <input id="ban-reason" name="reason" maxlength="256" />
                    <label for="ban-kind">{t!(i18n, col_action)}</label>
                    <select id="ban-kind" name="kind">
                        <option value="ban">"ban"</option>
                        <option value="captcha">"captcha"</option>
                        <option value="throttle">"throttle"</option>
                    </select>
                    <label for="ban-sites">{t!(i18n, scope_sites_label)}</label>
                    <input id="ban-sites" name="sites" maxlength="2000" placeholder="shop.example.com" autocomplete="off" />
                    <label class="check"><input type="checkbox" name="force" value="on" data-testid="ban-force" />{t!(i18n, decisions_force_wide)}</label>
                    <label class="check"><input type="checkbox" name="confirm" value="on" data-testid="ban-confirm" />{t!(i18n, decisions_confirm_lockout)}</label>
                    <button type="submit" class="btn btn-primary" data-testid="ban-submit" disabled=move || ban.pending().try_get().unwrap_or(false)>
                        {move || if ban.pending().try_get().unwrap_or(false) { t_string!(i18n, working) } else { t_string!(i18n, decisions_ban_submit) }}
                    </button>
                </ActionForm>
                <div aria-live="polite">
                    {move || ban.value().try_get().flatten().map(|r| match r {
                        Ok(d) => view! { <p class="alert alert-ok" data-testid="ban-done">{t!(i18n, decisions_banned)}" "<code>{d.value}</code></p> }.into_any(),
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    })}
                </div>
            </details>
        </Show>
        <Show when=is_admin>
            <ImportPanel />
        </Show>
    }
}

/// 🇫🇷 for "FR": the two regional-indicator symbols of an ISO 3166 code.
pub fn flag(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphabetic())
        .filter_map(|c| char::from_u32(0x1F1E6 + (c.to_ascii_uppercase() as u32 - 'A' as u32)))
        .collect()
}

#[component]
fn DecisionRow(
    d: Decision,
    now: RwSignal<i64>,
    unban: ServerAction<UnbanDecision>,
    unban_allow: ServerAction<UnbanAndAllow>,
    #[prop(into)] can_act: Signal<bool>,
) -> impl IntoView {
    let i18n = use_i18n();
    let until = parse_rfc3339_utc(&d.until).unwrap_or(0);
    let id = d.id;
    let value = StoredValue::new(d.value.clone());
    let confirm_text = move || format!("{} {}?", t_string!(i18n, decisions_unban_confirm), value.get_value());
    view! {
        <tr data-testid="decision-row" data-value=d.value.clone()>
            <td>
                <code>{d.value.clone()}</code>
                {d.allowlisted.then(|| view! { " "<span class="badge badge-ok" data-testid="allowlisted">{t!(i18n, allowlist_marked)}</span> })}
                {d.not_enforced.then(|| view! {
                    " "<span class="badge badge-warn" data-testid="not-enforced" title=t_string!(i18n, decisions_not_enforced_hint)>
                        {d.scope.clone()}" · "{t!(i18n, decisions_not_enforced)}
                    </span>
                })}
            </td>
            <td data-testid="country">{match d.country.clone() {
                Some(code) => view! { <span aria-hidden="true">{flag(&code)}" "</span>{code} }.into_any(),
                None => "—".into_any(),
            }}</td>
            <td>
                {d.scenario.clone()}
                {d.made_by.clone().map(|m| view! {
                    <br /><small class="hint" data-testid="made-by">
                        {t!(i18n, decisions_made_by)}" "{m.actor}" · "{m.via}" · "<time datetime=m.at.clone()>{m.at.clone()}</time>
                    </small>
                })}
                // The alert behind it: alerts about this address or range, newest first.
                {(!d.not_enforced).then(|| view! {
                    " "<a href=format!("/security/alerts?q={}", encode(&d.value)) data-testid="why"
                        aria-label=format!("{} {}", t_string!(i18n, decisions_why_label), d.value)>{t!(i18n, decisions_why)}</a>
                })}
            </td>
            <td>{d.origin.clone()}</td>
            <td>{d.kind.clone()}</td>
            <td data-testid="scope">{if d.sites.is_empty() { t_string!(i18n, scope_all_sites).to_string() } else { d.sites.join(", ") }}</td>
            <td><time datetime=d.until.clone()>{move || format_remaining(until - now.get())}</time></td>
            <td>
                <Show when=move || can_act.get()>
                    <ActionForm action=unban on:submit=move |ev| {
                        #[cfg(feature = "hydrate")]
                        {
                            let ok = web_sys::window().and_then(|w| w.confirm_with_message(&confirm_text()).ok()).unwrap_or(false);
                            if !ok {
                                ev.prevent_default();
                            }
                        }
                        #[cfg(not(feature = "hydrate"))]
                        { let _ = (&ev, &confirm_text); }
                    }>
                        <input type="hidden" name="id" value=id />
                        <button type="submit" class="btn btn-danger" data-testid="unban">{t!(i18n, decisions_unban)}</button>
                    </ActionForm>
                    {(!d.not_enforced).then(|| view! { <UnbanAndAllowForm value=value.get_value() action=unban_allow key=id /> })}
                </Show>
            </td>
        </tr>
    }
}

/// One address with all its decisions folded in: scenarios, origins, how many, when it is free.
#[component]
fn GroupRow(
    g: AddressGroup,
    now: RwSignal<i64>,
    unban_values: ServerAction<UnbanValues>,
    unban_allow: ServerAction<UnbanAndAllow>,
    #[prop(into)] can_act: Signal<bool>,
) -> impl IntoView {
    let i18n = use_i18n();
    let until = parse_rfc3339_utc(&g.until).unwrap_or(0);
    let value = StoredValue::new(g.value.clone());
    let count = g.decisions.len();
    view! {
        <tr data-testid="group-row" data-value=g.value.clone() data-count=count>
            <td>
                <code>{g.value.clone()}</code>
                {g.allowlisted.then(|| view! { " "<span class="badge badge-ok">{t!(i18n, allowlist_marked)}</span> })}
            </td>
            <td>{match g.country.clone() {
                Some(code) => view! { <span aria-hidden="true">{flag(&code)}" "</span>{code} }.into_any(),
                None => "—".into_any(),
            }}</td>
            <td>
                {g.scenarios.join("; ")}
                {(!g.not_enforced).then(|| view! {
                    " "<a href=format!("/security/alerts?q={}", encode(&g.value)) aria-label=format!("{} {}", t_string!(i18n, decisions_why_label), g.value)>{t!(i18n, decisions_why)}</a>
                })}
            </td>
            <td>{g.origins.join(", ")}</td>
            <td>{count}" ("{g.kinds.join(", ")}")"</td>
            <td data-testid="scope">{if g.sites.is_empty() { t_string!(i18n, scope_all_sites).to_string() } else { g.sites.join(", ") }}</td>
            <td><time datetime=g.until.clone()>{move || format_remaining(until - now.get())}</time></td>
            <td>
                <Show when=move || can_act.get()>
                    <ActionForm action=unban_values>
                        <input type="hidden" name="values[0]" value=value.get_value() />
                        <button type="submit" class="btn btn-danger" data-testid="unban-all">{t!(i18n, decisions_unban_all)}</button>
                    </ActionForm>
                    {(!g.not_enforced).then(|| view! { <UnbanAndAllowForm value=value.get_value() action=unban_allow /> })}
                </Show>
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_of_country_codes() {
        assert_eq!(flag("FR"), "🇫🇷");
    }
}
