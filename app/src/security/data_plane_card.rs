//! The Security page's blocking card: Caddy and the bouncer process (running, pid, last error),
//! where the sites are served, the fail mode, and the bouncer's counters (checked, allowed,
//! blocked, blocked by scenario).

use leptos::prelude::*;

use crate::components::error_message::ErrorMessage;
use crate::i18n::*;
use crate::proxy::rpc::get_data_plane_status;
use crate::proxy::model::{DaemonStatus, FailMode};

#[component]
fn DaemonLine(label: &'static str, status: DaemonStatus, testid: &'static str) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <li data-testid=testid>
            <strong>{label}</strong>": "
            {if status.running {
                view! { <span class="status status-on">{t!(i18n, dp_running)}</span> }.into_any()
            } else {
                view! { <span class="status status-error">{t!(i18n, dp_stopped)}</span> }.into_any()
            }}
            {status.pid.map(|p| view! { " "<span class="hint">"PID "{p}</span> })}
            {status.last_error.map(|e| view! { <p class="alert alert-error">{e}</p> })}
        </li>
    }
}

#[component]
pub fn DataPlaneCard() -> impl IntoView {
    let i18n = use_i18n();
    let status = Resource::new(|| (), |_| get_data_plane_status());
    view! {
        <section class="card" aria-labelledby="dp-title" data-testid="data-plane-card">
            <h2 id="dp-title">{t!(i18n, dp_title)}</h2>
            <Suspense fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        Ok(s) if !s.enabled => view! { <p class="hint">{t!(i18n, dp_disabled)}</p> }.into_any(),
                        Ok(s) => {
                            let fail = match s.fail_mode {
                                FailMode::Open => t_string!(i18n, dp_fail_open),
                                FailMode::Closed => t_string!(i18n, dp_fail_closed),
                            };
                            view! {
                                <ul class="plain">
                                    <DaemonLine label="Caddy" status=s.caddy.clone() testid="dp-caddy" />
                                    <DaemonLine label="Bouncer" status=s.bouncer.clone() testid="dp-bouncer" />
                                </ul>
                                <p class="hint">{t!(i18n, dp_listen)}" "<code>{s.listen.clone()}</code>" · "{t!(i18n, dp_fail_mode)}" "{fail}</p>
                                {s.stats.clone().map(|st| view! {
                                    {(!st.synced).then(|| view! { <p class="alert alert-info">{t!(i18n, dp_not_synced)}</p> })}
                                    <dl class="stats" data-testid="dp-stats">
                                        <div><dt>{t!(i18n, dp_checked)}</dt><dd data-testid="dp-checked">{st.checked}</dd></div>
                                        <div><dt>{t!(i18n, dp_allowed)}</dt><dd>{st.allowed}</dd></div>
                                        <div><dt>{t!(i18n, dp_blocked)}</dt><dd data-testid="dp-blocked">{st.blocked}</dd></div>
                                        <div><dt>{t!(i18n, dp_decisions)}</dt><dd>{st.decisions}</dd></div>
                                        {(st.not_enforced > 0).then(|| view! {
                                            <div><dt>{t!(i18n, dp_not_enforced)}</dt><dd data-testid="dp-not-enforced">{st.not_enforced}</dd></div>
                                        })}
                                    </dl>
                                    {(!st.blocked_by.is_empty()).then(|| view! {
                                        <table class="table">
                                            <caption>{t!(i18n, dp_blocked_by)}</caption>
                                            <thead><tr><th scope="col">{t!(i18n, col_reason)}</th><th scope="col">{t!(i18n, col_origin)}</th><th scope="col">{t!(i18n, dp_blocked)}</th></tr></thead>
                                            <tbody>
                                                {st.blocked_by.iter().map(|b| view! {
                                                    <tr><td>{b.scenario.clone()}</td><td>{b.origin.clone()}</td><td>{b.count}</td></tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    })}
                                })}
                                <p><a href="/proxy-hosts">{t!(i18n, proxy_manage)}</a></p>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
