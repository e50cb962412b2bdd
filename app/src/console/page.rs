//! Console enrollment: the enrollment form (key as a password field with show/hide, agent name
//! defaulting to the host name, tags, overwrite), the status panel with Force heartbeat and Clear,
//! and the connectivity panel with LAPI/CAPI latencies, configuration checks and the fixes.
//! Everything that needs the engine is disabled, with the reason, while the LAPI is not ready.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::components::error_message::ErrorMessage;
use crate::components::layout::{CurrentUser, Layout};
use crate::console::rpc::{get_console_status, get_diagnostics, ClearEnrollment, EnrollConsole, ForceHeartbeat};
use crate::console::model::{EnrollmentState, EnrollmentStatus};
use crate::i18n::*;
use crate::security::rpc::get_engine_status;

pub fn state_label(i18n: leptos_i18n::I18nContext<Locale>, s: EnrollmentState) -> &'static str {
    match s {
        EnrollmentState::NotEnrolled => t_string!(i18n, console_state_not_enrolled),
        EnrollmentState::Enrolling => t_string!(i18n, console_state_enrolling),
        EnrollmentState::PendingAcceptance => t_string!(i18n, console_state_pending),
        EnrollmentState::Enrolled => t_string!(i18n, console_state_enrolled),
        EnrollmentState::Failed => t_string!(i18n, console_state_failed),
    }
}

#[component]
pub fn ConsolePage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Layout>
            <h1>{t!(i18n, console_title)}</h1>
            <p class="lead">{t!(i18n, console_intro)}</p>
            <ConsoleView />
        </Layout>
    }
}

#[component]
fn StatusPanel(st: EnrollmentStatus) -> impl IntoView {
    let i18n = use_i18n();
    let dash = || "—".to_owned();
    let class = match st.status {
        EnrollmentState::Enrolled => "status status-on",
        EnrollmentState::Failed => "status status-error",
        _ => "status status-off",
    };
    view! {
        <dl class="facts" data-testid="console-status">
            <dt>{t!(i18n, console_status_label)}</dt>
            <dd><span class=class data-testid="console-state" data-state=st.status.as_str()>{state_label(i18n, st.status)}</span></dd>
            <dt>{t!(i18n, console_agent_name)}</dt><dd>{st.agent_name.clone().unwrap_or_else(dash)}</dd>
            <dt>{t!(i18n, console_last_heartbeat)}</dt><dd>{st.last_heartbeat_at.clone().unwrap_or_else(dash)}</dd>
            <dt>{t!(i18n, console_last_attempt)}</dt><dd>{st.last_attempt_at.clone().unwrap_or_else(dash)}</dd>
            <dt>{t!(i18n, console_enrolled_at)}</dt><dd>{st.enrolled_at.clone().unwrap_or_else(dash)}</dd>
            <dt>{t!(i18n, console_last_error)}</dt><dd data-testid="console-last-error">{st.last_error.clone().unwrap_or_else(dash)}</dd>
        </dl>
    }
}

#[component]
fn ConsoleView() -> impl IntoView {
    let i18n = use_i18n();
    let enroll = ServerAction::<EnrollConsole>::new();
    let heartbeat = ServerAction::<ForceHeartbeat>::new();
    let clear = ServerAction::<ClearEnrollment>::new();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    let versions = move || {
        (
            enroll.version().try_get().unwrap_or_default(),
            heartbeat.version().try_get().unwrap_or_default(),
            clear.version().try_get().unwrap_or_default(),
        )
    };
    let status = Resource::new(versions, |_| get_console_status());
    let engine = Resource::new(|| (), |_| get_engine_status());
    let diagnostics = Resource::new(versions, |_| get_diagnostics());
    let show_key = RwSignal::new(false);

    view! {
        <Suspense fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
            {move || Suspend::new(async move {
                let lapi_ready = engine.await.map(|e| e.lapi_ready).unwrap_or(false);
                let (st, default_name) = match status.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorMessage error=e /> }.into_any(),
                };
                let agent_value = StoredValue::new(st.agent_name.clone().unwrap_or(default_name));
                let tags_value = StoredValue::new(st.tags.join(", "));
                view! {
                    {(!lapi_ready).then(|| view! {
                        <p class="alert alert-info" data-testid="console-lapi-required">{t!(i18n, console_lapi_required)}</p>
                    })}
                    <section class="card" aria-labelledby="console-status-title">
                        <h2 id="console-status-title">{t!(i18n, console_status_label)}</h2>
                        <StatusPanel st=st.clone() />
                        {(st.status == EnrollmentState::PendingAcceptance).then(|| view! {
                            <p class="hint">{t!(i18n, console_enrolled_ok)}</p>
                        })}
                        <Show when=is_admin>
                            <div class="row">
                                <ActionForm action=heartbeat attr:class="inline-form">
                                    <button type="submit" class="btn btn-secondary" data-testid="console-heartbeat"
                                        disabled=move || !lapi_ready || heartbeat.pending().try_get().unwrap_or(false)>
                                        {t!(i18n, console_force_heartbeat)}
                                    </button>
                                </ActionForm>
                                <ActionForm action=clear attr:class="inline-form">
                                    <button type="submit" class="btn btn-danger" data-testid="console-clear">{t!(i18n, console_clear)}</button>
                                </ActionForm>
                            </div>
                        </Show>
                        <div aria-live="polite">
                            {move || heartbeat.value().try_get().flatten().map(|r| match r {
                                Ok(_) => view! { <p class="alert alert-ok">{t!(i18n, console_heartbeat_ok)}</p> }.into_any(),
                                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                            })}
                            {move || clear.value().try_get().flatten().map(|r| match r {
                                Ok(_) => view! { <p class="alert alert-ok">{t!(i18n, console_cleared)}</p> }.into_any(),
                                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                            })}
                        </div>
                    </section>
                    <Show when=is_admin>
                        <section class="card" aria-labelledby="console-enroll-title">
                            <h2 id="console-enroll-title">{t!(i18n, console_enroll)}</h2>
                            <ActionForm action=enroll attr:class="stack" attr:data-testid="console-form">
                                <fieldset disabled=!lapi_ready class="plain-fieldset">
                                    <label for="console-key">{t!(i18n, console_key)}</label>
                                    <div class="row">
                                        <input id="console-key" name="enrollment_key" required autocomplete="off" spellcheck="false"
                                            maxlength="512" aria-describedby="console-key-hint"
                                            type=move || if show_key.try_get().unwrap_or(false) { "text" } else { "password" } />
                                        <button type="button" class="btn btn-secondary" aria-controls="console-key"
                                            aria-pressed=move || show_key.try_get().unwrap_or(false).to_string()
                                            on:click=move |_| show_key.update(|s| *s = !*s)>
                                            {move || if show_key.try_get().unwrap_or(false) { t_string!(i18n, console_hide) } else { t_string!(i18n, console_show) }}
                                        </button>
                                    </div>
                                    <p id="console-key-hint" class="hint">{t!(i18n, console_key_hint)}</p>
                                    <label for="console-agent">{t!(i18n, console_agent_name)}</label>
                                    <input id="console-agent" name="agent_name" maxlength="64"
                                        value=agent_value.get_value() />
                                    <label for="console-tags">{t!(i18n, console_tags)}</label>
                                    <input id="console-tags" name="tags" maxlength="400" value=tags_value.get_value() />
                                    <label class="check"><input type="checkbox" name="overwrite" value="on" />{t!(i18n, console_overwrite)}</label>
                                    <button type="submit" class="btn btn-primary" data-testid="console-enroll"
                                        disabled=move || enroll.pending().try_get().unwrap_or(false)>
                                        {move || if enroll.pending().try_get().unwrap_or(false) { t_string!(i18n, working) } else { t_string!(i18n, console_enroll) }}
                                    </button>
                                </fieldset>
                            </ActionForm>
                            <div aria-live="polite">
                                {move || enroll.pending().try_get().unwrap_or(false).then(|| view! {
                                    <p class="alert alert-info progress">{t!(i18n, console_enrolling)}</p>
                                })}
                                {move || (!enroll.pending().try_get().unwrap_or(false)).then(|| enroll.value().try_get().flatten().map(|r| match r {
                                    Ok(_) => view! { <p class="alert alert-ok" data-testid="console-enrolled">{t!(i18n, console_enrolled_ok)}</p> }.into_any(),
                                    Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                                })).flatten()}
                            </div>
                        </section>
                    </Show>
                }.into_any()
            })}
        </Suspense>
        <section class="card" aria-labelledby="console-conn-title" data-testid="console-connectivity">
            <h2 id="console-conn-title">{t!(i18n, console_connectivity)}</h2>
            <Suspense fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match diagnostics.await {
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        Ok((conn, checks)) => {
                            let ms = |v: Option<u64>| v.map(|m| format!(" ({m} ms)")).unwrap_or_default();
                            let capi_bad = conn.capi.status == "unreachable";
                            view! {
                                <dl class="facts">
                                    <dt>{t!(i18n, console_lapi)}</dt>
                                    <dd data-testid="conn-lapi">{conn.lapi.status.clone()}{ms(conn.lapi.latency_ms)}</dd>
                                    <dt>{t!(i18n, console_capi)}</dt>
                                    <dd data-testid="conn-capi">{conn.capi.status.clone()}{ms(conn.capi.latency_ms)}
                                        {conn.capi.error.clone().map(|e| view! { <span class="hint">" — "{e}</span> })}</dd>
                                </dl>
                                {capi_bad.then(|| view! { <p class="hint">{t!(i18n, console_connectivity_hint)}</p> })}
                                <h3>{t!(i18n, console_config_checks)}</h3>
                                <ul class="plain" data-testid="config-checks">
                                    {checks.into_iter().map(|c| view! {
                                        <li>
                                            <span class=if c.ok { "status status-on" } else { "status status-error" }>
                                                {if c.ok { t_string!(i18n, console_ok) } else { t_string!(i18n, console_problem) }}
                                            </span>" "<strong>{c.name.clone()}</strong>": "{c.detail.clone()}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
