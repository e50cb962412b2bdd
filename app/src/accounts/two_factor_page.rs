//! `/settings/two-factor`: the caller's own second factor. Off: "Set up" shows a QR code (drawn as
//! SVG by the page) and the secret as text, and one code from the app turns it on and shows ten
//! recovery codes once. On: a code turns it off. Administrators can require it for every local
//! account. Plain forms: works without JavaScript, except that the set-up's secret and recovery
//! codes are the answer of a server function and need it.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::accounts::rpc::{totp_status, TotpBegin, TotpConfirm, TotpDisable, TotpRequire};
use crate::components::error_message::ErrorMessage;
use crate::components::layout::{CurrentUser, Layout};
use crate::i18n::*;

#[component]
pub fn TwoFactorPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Layout>
            <h1>{t!(i18n, totp_title)}</h1>
            <p class="lead">{t!(i18n, totp_intro)}</p>
            <TwoFactorView />
        </Layout>
    }
}

#[component]
fn TwoFactorView() -> impl IntoView {
    let i18n = use_i18n();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    let begin = ServerAction::<TotpBegin>::new();
    let confirm = ServerAction::<TotpConfirm>::new();
    let disable = ServerAction::<TotpDisable>::new();
    let require = ServerAction::<TotpRequire>::new();
    let status = Resource::new(
        move || (confirm.version().try_get(), disable.version().try_get(), require.version().try_get()),
        |_| totp_status(),
    );
    view! {
        <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    Ok(s) => view! {
                        <section class="card" aria-labelledby="totp-state" data-testid="totp-status" data-enabled=s.enabled.to_string()>
                            <h2 id="totp-state">{if s.enabled { t!(i18n, totp_on).into_any() } else { t!(i18n, totp_off).into_any() }}</h2>
                            {s.required.then(|| view! { <p class="hint" data-testid="totp-required">{t!(i18n, totp_required_note)}</p> })}
                            {s.enabled.then(|| view! { <p class="hint">{t!(i18n, totp_codes_left)}" "{s.recovery_codes_left}</p> })}
                        </section>
                        {if s.enabled {
                            view! {
                                <section class="card">
                                    <ActionForm action=disable attr:class="stack" attr:data-testid="totp-disable-form">
                                        <label for="totp-off-code">{t!(i18n, totp_code)}</label>
                                        <input id="totp-off-code" name="code" autocomplete="one-time-code" inputmode="numeric" required maxlength="16" />
                                        <button type="submit" class="btn btn-danger">{t!(i18n, totp_turn_off)}</button>
                                    </ActionForm>
                                </section>
                            }.into_any()
                        } else {
                            view! {
                                <section class="card">
                                    <ActionForm action=begin>
                                        <button type="submit" class="btn btn-primary" data-testid="totp-begin">{t!(i18n, totp_set_up)}</button>
                                    </ActionForm>
                                </section>
                            }.into_any()
                        }}
                        <Show when=is_admin>
                            <section class="card" aria-labelledby="totp-policy">
                                <h2 id="totp-policy">{t!(i18n, totp_policy)}</h2>
                                <ActionForm action=require attr:class="stack">
                                    <label class="check"><input type="checkbox" name="required" value="on" checked=s.required data-testid="totp-require" />{t!(i18n, totp_require_all)}</label>
                                    <button type="submit" class="btn btn-secondary" data-testid="totp-policy-save">{t!(i18n, totp_policy_save)}</button>
                                </ActionForm>
                                {move || require.value().try_get().flatten().and_then(|r| r.err()).map(|e| view! { <ErrorMessage error=e /> })}
                            </section>
                        </Show>
                    }.into_any(),
                }
            })}
        </Transition>
        <div aria-live="polite">
            {move || begin.value().try_get().flatten().map(|r| match r {
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                Ok(setup) => view! {
                    <section class="card" data-testid="totp-setup">
                        <p>{t!(i18n, totp_scan)}</p>
                        <svg class="qr" viewBox=format!("0 0 {0} {0}", setup.qr_size) role="img" aria-label=move || t_string!(i18n, totp_qr_label) data-testid="totp-qr">
                            <rect width=setup.qr_size height=setup.qr_size class="qr-light" />
                            <path d=setup.qr_path.clone() class="qr-dark" />
                        </svg>
                        <p>{t!(i18n, totp_secret_text)}" "<code data-testid="totp-secret">{setup.secret.clone()}</code></p>
                        <ActionForm action=confirm attr:class="stack" attr:data-testid="totp-confirm-form">
                            <label for="totp-code">{t!(i18n, totp_code)}</label>
                            <input id="totp-code" name="code" autocomplete="one-time-code" inputmode="numeric" required maxlength="16" />
                            <button type="submit" class="btn btn-primary" data-testid="totp-confirm">{t!(i18n, totp_turn_on)}</button>
                        </ActionForm>
                    </section>
                }.into_any(),
            })}
            {move || confirm.value().try_get().flatten().map(|r| match r {
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                Ok(codes) => view! {
                    <section class="card card-warn" data-testid="totp-recovery">
                        <h2>{t!(i18n, totp_recovery_title)}</h2>
                        <p>{t!(i18n, totp_recovery_note)}</p>
                        <ul class="plain">{codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ul>
                    </section>
                }.into_any(),
            })}
            {move || disable.value().try_get().flatten().map(|r| match r {
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                Ok(()) => view! { <p class="alert alert-ok">{t!(i18n, totp_turned_off)}</p> }.into_any(),
            })}
        </div>
    }
}
