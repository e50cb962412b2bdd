//! The Security page's enforcement self-test (administrators): one button, then each step with
//! its time and, when one fails, what to do.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::components::error_message::ErrorMessage;
use crate::components::layout::CurrentUser;
use crate::i18n::*;
use crate::security::rpc::RunSelfTest;

#[component]
pub fn SelfTestCard() -> impl IntoView {
    let i18n = use_i18n();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    let run = ServerAction::<RunSelfTest>::new();
    let pending = move || run.pending().try_get().unwrap_or(false);
    view! {
        <Show when=is_admin>
            <section class="card" aria-labelledby="selftest-title" data-testid="self-test-card">
                <h2 id="selftest-title">{t!(i18n, selftest_title)}</h2>
                <p class="hint">{t!(i18n, selftest_intro)}</p>
                <ActionForm action=run>
                    <button type="submit" class="btn btn-primary" data-testid="self-test-run" disabled=pending>
                        {move || if pending() { t_string!(i18n, selftest_running) } else { t_string!(i18n, selftest_run) }}
                    </button>
                </ActionForm>
                <div aria-live="polite">
                    {move || run.value().try_get().flatten().map(|r| match r {
                        Ok(report) => view! {
                            <p class=if report.ok { "alert alert-ok" } else { "alert alert-error" } data-testid="self-test-result" data-ok=report.ok.to_string()>
                                {if report.ok { t_string!(i18n, selftest_passed) } else { t_string!(i18n, selftest_failed) }}
                            </p>
                            <ol class="steps" data-testid="self-test-steps">
                                {report.steps.into_iter().map(|s| view! {
                                    <li data-ok=s.ok.to_string()>
                                        <span aria-hidden="true">{if s.ok { "✓ " } else { "✗ " }}</span>
                                        <strong>{s.name}</strong>" ("{s.ms}" ms): "{s.detail}
                                    </li>
                                }).collect_view()}
                            </ol>
                            {report.bouncer_last_pull.map(|t| view! { <p class="hint">{t!(i18n, selftest_last_pull)}" "<time datetime=t.clone()>{t.clone()}</time></p> })}
                        }.into_any(),
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    })}
                </div>
            </section>
        </Show>
    }
}
