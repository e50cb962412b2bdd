//! The Alerts pages: the filtered list (newest first, a page at a time) and one alert with its
//! source, its events and the decisions it made. Filters live in the URL, so a filtered list can
//! be linked to ("Why?" on a Live Decisions row links here with the address).

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_params_map, use_query_map};

use crate::alerts::model::{Alert, AlertQuery, Evidence};
use crate::alerts::rpc::{get_alert, list_alerts};
use crate::components::error_message::ErrorMessage;
use crate::components::layout::{CurrentUser, Layout};
use crate::decisions::allow_for::UnbanAndAllowForm;
use crate::decisions::rpc::UnbanAndAllow;
use crate::components::query_link;
use crate::i18n::*;

const FILTERS: [&str; 7] = ["q", "scenario", "origin", "machine", "site", "since", "until"];

fn query_from_url(q: &leptos_router::params::ParamsMap) -> AlertQuery {
    let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
    AlertQuery {
        q: get("q"),
        scenario: get("scenario"),
        origin: get("origin"),
        machine: get("machine"),
        site: get("site"),
        since: get("since"),
        until: get("until"),
        page: get("page").and_then(|p| p.parse().ok()),
        per_page: get("per_page").and_then(|p| p.parse().ok()),
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let i18n = use_i18n();
    let query_map = use_query_map();
    let location = use_location();
    let page = Resource::new(move || query_map.try_with(query_from_url).unwrap_or_default(), list_alerts);
    let param = move |k: &str| query_map.with(|q| q.get(k).unwrap_or_default());
    let page_link = move |n: usize| {
        let path = location.pathname.try_get().unwrap_or_default();
        query_map.with(|q| query_link::page_link(&path, q, &FILTERS, n))
    };
    view! {
        <Layout>
            <h1>{t!(i18n, alerts_title)}</h1>
            <p class="lead">{t!(i18n, alerts_intro)}</p>
            <form method="get" class="filters" role="search" data-testid="alert-filters">
                <label for="a-q">{t!(i18n, decisions_filter_ip)}</label>
                <input id="a-q" name="q" value=param("q") placeholder="203.0.113.0/24" />
                <label for="a-scenario">{t!(i18n, alerts_scenario)}</label>
                <input id="a-scenario" name="scenario" value=param("scenario") placeholder="crowdsecurity/http-probing" />
                <label for="a-origin">{t!(i18n, col_origin)}</label>
                <input id="a-origin" name="origin" value=param("origin") />
                <label for="a-machine">{t!(i18n, alerts_machine)}</label>
                <input id="a-machine" name="machine" value=param("machine") />
                <label for="a-site">{t!(i18n, alerts_site)}</label>
                <input id="a-site" name="site" value=param("site") placeholder="shop.example.com" />
                <label for="a-since">{t!(i18n, alerts_since)}</label>
                <input id="a-since" name="since" value=param("since") placeholder="24h" size="5" />
                <button type="submit" class="btn btn-secondary">{t!(i18n, decisions_filter_apply)}</button>
            </form>
            <query_link::ExportLinks api="/api/v1/cerberus/crowdsec/alerts" keys=&FILTERS />
            <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        Ok(p) if p.rows.is_empty() => view! { <p class="empty" data-testid="alerts-empty">{t!(i18n, alerts_empty)}</p> }.into_any(),
                        Ok(p) => {
                            let (current, more) = (p.page, p.more);
                            view! {
                                <div class="table-scroll"><table class="table" data-testid="alerts-table">
                                    <thead><tr>
                                        <th scope="col">{t!(i18n, alerts_started)}</th>
                                        <th scope="col">{t!(i18n, alerts_source)}</th>
                                        <th scope="col">{t!(i18n, alerts_scenario)}</th>
                                        <th scope="col">{t!(i18n, alerts_events)}</th>
                                        <th scope="col">{t!(i18n, alerts_decisions)}</th>
                                        <th scope="col">{t!(i18n, alerts_machine)}</th>
                                    </tr></thead>
                                    <tbody>
                                        {p.rows.into_iter().map(|a| view! { <AlertRow a=a /> }).collect_view()}
                                    </tbody>
                                </table></div>
                                <nav class="pager" aria-label=move || t_string!(i18n, decisions_pages)>
                                    {(current > 1).then(|| view! { <a href=page_link(current - 1) rel="prev">{t!(i18n, decisions_prev)}</a> })}
                                    " "<span>{current}</span>" "
                                    {more.then(|| view! { <a href=page_link(current + 1) rel="next" data-testid="alerts-next">{t!(i18n, decisions_next)}</a> })}
                                </nav>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </Layout>
    }
}

#[component]
fn AlertRow(a: Alert) -> impl IntoView {
    let active = a.active_decisions();
    let total = a.decisions.len();
    view! {
        <tr data-testid="alert-row" data-id=a.id>
            <td><a href=format!("/security/alerts/{}", a.id)><time datetime=a.started_at.clone()>{a.started_at.clone()}</time></a></td>
            <td><code>{a.source_value.clone()}</code>{a.country.clone().map(|c| view! { " "<span class="badge">{c}</span> })}</td>
            <td>{a.scenario.clone()}</td>
            <td>{a.events_count}</td>
            <td>{active}" / "{total}</td>
            <td>{a.machine.clone()}</td>
        </tr>
    }
}

#[component]
pub fn AlertDetailPage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let alert = Resource::new(
        move || params.try_with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or(0)).unwrap_or(0),
        get_alert,
    );
    view! {
        <Layout>
            <p><a href="/security/alerts">"‹ "{t!(i18n, alerts_back)}</a></p>
            <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match alert.await {
                        Err(e) => view! { <h1>{t!(i18n, alerts_title)}</h1><ErrorMessage error=e /> }.into_any(),
                        Ok(a) => view! { <AlertDetail a=a /> }.into_any(),
                    }
                })}
            </Transition>
        </Layout>
    }
}

#[component]
fn AlertDetail(a: Alert) -> impl IntoView {
    let i18n = use_i18n();
    let source = [
        Some(format!("{} {}", a.source_scope, a.source_value)),
        a.source_range.clone(),
        a.country.clone(),
        match (&a.as_number, &a.as_name) {
            (Some(n), Some(name)) => Some(format!("AS{n} {name}")),
            (Some(n), None) => Some(format!("AS{n}")),
            (None, Some(name)) => Some(name.clone()),
            (None, None) => None,
        },
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let is_address = a.source_scope.eq_ignore_ascii_case("ip") || a.source_scope.eq_ignore_ascii_case("range");
    view! {
        <article data-testid="alert-detail" data-id=a.id>
            <h1>{a.scenario.clone()}</h1>
            <p class="lead">{a.message.clone()}</p>
            <dl class="facts">
                <dt>{t!(i18n, alerts_source)}</dt><dd data-testid="alert-source">{source}</dd>
                <dt>{t!(i18n, alerts_started)}</dt><dd><time datetime=a.started_at.clone()>{a.started_at.clone()}</time></dd>
                <dt>{t!(i18n, alerts_stopped)}</dt><dd><time datetime=a.stopped_at.clone()>{a.stopped_at.clone()}</time></dd>
                <dt>{t!(i18n, alerts_machine)}</dt><dd>{a.machine.clone()}</dd>
                <dt>{t!(i18n, alerts_events)}</dt><dd>{a.events_count}</dd>
            </dl>
            {(is_address && a.active_decisions() > 0).then(|| view! { <UnbanFromAlert value=a.source_value.clone() /> })}
            <h2>{t!(i18n, alerts_decisions)}</h2>
            {if a.decisions.is_empty() {
                view! { <p class="empty">{t!(i18n, alerts_no_decisions)}</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll"><table class="table" data-testid="alert-decisions">
                        <thead><tr>
                            <th scope="col">{t!(i18n, col_value)}</th>
                            <th scope="col">{t!(i18n, col_action)}</th>
                            <th scope="col">{t!(i18n, col_origin)}</th>
                            <th scope="col">{t!(i18n, alerts_remaining)}</th>
                        </tr></thead>
                        <tbody>
                            {a.decisions.iter().map(|d| view! {
                                <tr data-testid="alert-decision" data-active=d.active.to_string()>
                                    <td><code>{d.value.clone()}</code></td>
                                    <td>{d.kind.clone()}</td>
                                    <td>{d.origin.clone()}</td>
                                    <td>{if d.active { d.duration.clone() } else { t_string!(i18n, alerts_expired).to_owned() }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
            {a.evidence.clone().map(|e| view! { <EvidenceSection e=e /> })}
            <h2>{t!(i18n, alerts_events)}</h2>
            {if a.events.is_empty() {
                view! { <p class="empty" data-testid="alert-no-events">{t!(i18n, alerts_no_events)}</p> }.into_any()
            } else {
                view! {
                    <ol class="events" data-testid="alert-events">
                        {a.events.iter().map(|e| view! {
                            <li>
                                <time datetime=e.timestamp.clone()>{e.timestamp.clone()}</time>
                                <dl class="meta">
                                    {e.meta.iter().map(|(k, v)| view! { <dt>{k.clone()}</dt><dd><code>{v.clone()}</code></dd> }).collect_view()}
                                </dl>
                            </li>
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </article>
    }
}

/// "Unban and allow for …" of the alert's source, for administrators.
#[component]
fn UnbanFromAlert(value: String) -> impl IntoView {
    let i18n = use_i18n();
    let user = expect_context::<CurrentUser>().0;
    let may_act = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_unban());
    let action = ServerAction::<UnbanAndAllow>::new();
    view! {
        <Show when=may_act>
            <div class="card" data-testid="alert-unban">
                <UnbanAndAllowForm value=value.clone() action=action />
                <div aria-live="polite">
                    {move || action.value().try_get().flatten().map(|r| match r {
                        Ok(done) => {
                            let n = done.unbanned;
                            let until = done.entry.expires_at.clone().unwrap_or_else(|| t_string!(i18n, allow_for_forever).to_string());
                            view! { <p class="alert alert-ok" data-testid="unban-allow-done">{t!(i18n, allow_for_done, count = move || n)}" "{until}</p> }.into_any()
                        }
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    })}
                </div>
            </div>
        </Show>
    }
}

/// What Charon's own access log saw of the source: its requests around the alert and what the
/// bouncer refused it afterwards, by site.
#[component]
fn EvidenceSection(e: Evidence) -> impl IntoView {
    let i18n = use_i18n();
    let shown = e.requests.len();
    let total = e.requests_total;
    let nothing = e.requests.is_empty() && e.refused.is_empty();
    view! {
        <section aria-labelledby="evidence-title" data-testid="evidence">
            <h2 id="evidence-title">{t!(i18n, evidence_title)}</h2>
            {if nothing {
                let since = e.indexed_since.clone();
                view! {
                    <p class="empty" data-testid="evidence-none">
                        {t!(i18n, evidence_none)}" "
                        {match since {
                            Some(s) => view! { {t!(i18n, evidence_kept_since)}" "<time datetime=s.clone()>{s.clone()}</time>"." }.into_any(),
                            None => view! { {t!(i18n, evidence_index_empty)} }.into_any(),
                        }}
                    </p>
                }.into_any()
            } else {
                view! {
                    {(!e.refused.is_empty()).then(|| view! {
                        <h3>{t!(i18n, evidence_refused)}</h3>
                        <div class="table-scroll"><table class="table" data-testid="evidence-refused">
                            <thead><tr>
                                <th scope="col">{t!(i18n, evidence_site)}</th>
                                <th scope="col">{t!(i18n, evidence_count)}</th>
                                <th scope="col">{t!(i18n, evidence_first)}</th>
                                <th scope="col">{t!(i18n, evidence_last)}</th>
                            </tr></thead>
                            <tbody>
                                {e.refused.iter().map(|r| view! {
                                    <tr>
                                        <td><code>{r.host.clone()}</code></td>
                                        <td>{r.count}</td>
                                        <td><time datetime=r.first.clone()>{r.first.clone()}</time></td>
                                        <td><time datetime=r.last.clone()>{r.last.clone()}</time></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    })}
                    <h3>{t!(i18n, evidence_requests)}</h3>
                    <p class="hint" data-testid="evidence-total">{t!(i18n, evidence_shown, shown = move || shown, total = move || total)}</p>
                    <div class="table-scroll">
                        <table class="table" data-testid="evidence-requests">
                            <thead><tr>
                                <th scope="col">{t!(i18n, audit_when)}</th>
                                <th scope="col">{t!(i18n, evidence_site)}</th>
                                <th scope="col">{t!(i18n, evidence_request)}</th>
                                <th scope="col">{t!(i18n, evidence_status)}</th>
                                <th scope="col">{t!(i18n, evidence_agent)}</th>
                            </tr></thead>
                            <tbody>
                                {e.requests.iter().map(|q| view! {
                                    <tr data-testid="evidence-request" data-refused=q.refused.to_string()>
                                        <td><time datetime=q.at.clone()>{q.at.clone()}</time></td>
                                        <td><code>{q.host.clone()}</code></td>
                                        <td><code class="wrap">{q.method.clone()}" "{q.path.clone()}</code></td>
                                        <td>{q.status}{q.refused.then(|| view! { " "<span class="badge badge-warn">{t!(i18n, evidence_refused_badge)}</span> })}</td>
                                        <td class="wrap">{q.user_agent.clone()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}
