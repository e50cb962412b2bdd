use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::security::bouncer_key_display::BouncerKeyDisplay;
use crate::components::error_message::ErrorMessage;
use crate::components::layout::CurrentUser;
use crate::i18n::*;
use crate::security::rpc::{get_engine_status, SetEngineEnabled};
use crate::security::model::{EngineState, EngineStatus};
use leptos_i18n::I18nContext;

pub fn state_label(i18n: I18nContext<Locale>, state: EngineState) -> &'static str {
    match state {
        EngineState::Starting => t_string!(i18n, crowdsec_status_starting),
        EngineState::Running => t_string!(i18n, crowdsec_status_enabled),
        EngineState::Stopped => t_string!(i18n, crowdsec_status_disabled),
        EngineState::Stopping => t_string!(i18n, crowdsec_status_stopping),
        EngineState::Crashed => t_string!(i18n, crowdsec_status_error),
        EngineState::NotInstalled => t_string!(i18n, crowdsec_status_not_installed),
        EngineState::Unresponsive => t_string!(i18n, crowdsec_status_unresponsive),
    }
}

/// The engine's status as the server announces it (Server-Sent Events); the server renders the
/// first status itself.
fn live_status() -> RwSignal<Option<EngineStatus>> {
    let live = RwSignal::new(None);
    crate::components::server_events::subscribe("/api/v1/cerberus/crowdsec/events", "status", move |data| {
        if let Ok(status) = serde_json::from_str::<EngineStatus>(&data) {
            live.set(Some(status));
        }
    });
    live
}

/// The CrowdSec card of the Security page: live status, the on/off switch, start-up progress,
/// the outcome, and the bouncer key while the engine runs.
#[component]
pub fn CrowdSecCard() -> impl IntoView {
    let i18n = use_i18n();
    let toggle = ServerAction::<SetEngineEnabled>::new();
    let initial = Resource::new(move || toggle.version().try_get().unwrap_or_default(), |_| get_engine_status());
    let live = live_status();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());

    // The freshest of: the last event, the toggle's answer, the server-rendered status.
    let current = move || {
        // try_*: a render finishing after the request was abandoned must not panic.
        live.try_get()
            .flatten()
            .or_else(|| toggle.value().try_get().flatten().and_then(|r| r.ok()))
            .or_else(|| initial.try_get().flatten().and_then(|r| r.ok()))
    };
    let pending = move || toggle.pending().try_get().unwrap_or(false);
    let wanted_on = move || toggle.input().get().map(|i| i.enabled);

    view! {
        <section class="card" aria-labelledby="crowdsec-title" data-testid="crowdsec-card">
            <div class="card-head">
                <div>
                    <h2 id="crowdsec-title">{t!(i18n, crowdsec_title)}</h2>
                    <p class="subtitle">{t!(i18n, crowdsec_subtitle)}</p>
                </div>
                <div class="badges">
                    <span class="badge">{t!(i18n, badge_layer1)}</span>
                    <span class="badge">{t!(i18n, badge_ids)}</span>
                </div>
            </div>
            <Suspense fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    let _ = initial.await;
                    view! {
                        <div class="toggle-row">
                            <span id="crowdsec-toggle-label">{t!(i18n, crowdsec_toggle_label)}</span>
                            <ActionForm action=toggle attr:class="inline-form">
                                <input
                                    type="hidden"
                                    name="enabled"
                                    value=move || if current().is_some_and(|s| s.enabled) { "false" } else { "true" }
                                />
                                <button
                                    type="submit"
                                    class="switch"
                                    role="switch"
                                    aria-checked=move || if current().is_some_and(|s| s.enabled) { "true" } else { "false" }
                                    aria-labelledby="crowdsec-toggle-label"
                                    aria-busy=move || if pending() { "true" } else { "false" }
                                    disabled=move || pending() || !is_admin()
                                        || current().is_some_and(|s| s.state == EngineState::NotInstalled)
                                    data-testid="toggle-crowdsec"
                                >
                                    <span class="switch-knob" aria-hidden="true"></span>
                                </button>
                            </ActionForm>
                            <span
                                class=move || match current().map(|s| s.state) {
                                    Some(EngineState::Running) => "status status-on",
                                    Some(EngineState::Crashed) | Some(EngineState::NotInstalled) | Some(EngineState::Unresponsive) => "status status-error",
                                    _ => "status status-off",
                                }
                                data-testid="crowdsec-status"
                            >
                                {move || current().map(|s| state_label(i18n, s.state))}
                            </span>
                        </div>
                        <p class="hint" data-testid="crowdsec-process">
                            {move || match current() {
                                Some(EngineStatus { pid: Some(pid), state: EngineState::Running | EngineState::Starting, .. }) => {
                                    t!(i18n, crowdsec_running_pid, pid = move || pid).into_any()
                                }
                                _ => t!(i18n, crowdsec_process_stopped).into_any(),
                            }}
                        </p>
                        <div aria-live="polite" class="live-region">
                            <Show when=pending>
                                <p class="alert alert-info" data-testid="crowdsec-progress">
                                    {move || if wanted_on() == Some(false) {
                                        t_string!(i18n, crowdsec_stopping_progress)
                                    } else {
                                        t_string!(i18n, crowdsec_starting_progress)
                                    }}
                                </p>
                            </Show>
                            {move || (!pending()).then(|| toggle.value().try_get().flatten()).flatten().map(|r| match r {
                                Ok(s) if s.enabled && s.lapi_ready => view! {
                                    <p class="alert alert-ok toast" data-testid="crowdsec-toast">{t!(i18n, crowdsec_started_toast)}</p>
                                }.into_any(),
                                Ok(_) => view! {
                                    <p class="alert alert-ok toast" data-testid="crowdsec-toast">{t!(i18n, crowdsec_stopped_toast)}</p>
                                }.into_any(),
                                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                            })}
                        </div>
                        {move || current().and_then(|s| s.last_error).map(|err| view! {
                            <p class="alert alert-error" data-testid="crowdsec-last-error">
                                {t!(i18n, crowdsec_last_error)}" "{err}
                            </p>
                        })}
                        <Show when=move || !is_admin()>
                            <p class="hint">{t!(i18n, viewer_readonly)}</p>
                        </Show>
                        // The registration names the key file and the key's source: admins only.
                        <Show when=move || is_admin() && current().is_some_and(|s| s.state == EngineState::Running)>
                            <BouncerKeyDisplay can_copy=Signal::derive(is_admin) />
                        </Show>
                    }
                })}
            </Suspense>
        </section>
    }
}
