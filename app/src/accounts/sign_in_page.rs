//! `/settings/sign-in` (administrators): single sign-on through an OpenID Connect provider —
//! issuer, client ID and secret (stored sealed, never shown again: the field only replaces it),
//! scopes, the groups claim, the group → role map, the button's label — and whether local
//! passwords still sign in. Saving checks the provider's discovery document first. A plain form:
//! works without JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::accounts::rpc::{read_sign_in, SaveSignIn};
use crate::components::error_message::ErrorMessage;
use crate::components::layout::Layout;
use crate::i18n::*;

#[component]
pub fn SignInPage() -> impl IntoView {
    let i18n = use_i18n();
    let save = ServerAction::<SaveSignIn>::new();
    let current = Resource::new(move || save.version().try_get(), |_| read_sign_in());
    view! {
        <Layout>
            <h1>{t!(i18n, sso_title)}</h1>
            <p class="lead">{t!(i18n, sso_intro)}</p>
            <div aria-live="polite">
                {move || save.value().try_get().flatten().map(|r| match r {
                    Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    Ok(_) => view! { <p class="alert alert-ok" data-testid="sso-saved">{t!(i18n, sso_saved)}</p> }.into_any(),
                })}
            </div>
            <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match current.await {
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        Ok(s) => view! {
                            <section class="card">
                                <ActionForm action=save attr:class="stack" attr:data-testid="sso-form">
                                    <p class="hint" data-testid="sso-source">
                                        {if s.source == "saved" { t!(i18n, sso_source_saved).into_any() } else { t!(i18n, sso_source_config).into_any() }}
                                    </p>
                                    <label for="sso-issuer">{t!(i18n, sso_issuer)}</label>
                                    <input id="sso-issuer" name="issuer" type="url" value=s.issuer.clone() placeholder="https://id.example.com/realms/main" aria-describedby="sso-issuer-hint" />
                                    <p class="hint" id="sso-issuer-hint">{t!(i18n, sso_issuer_hint)}</p>
                                    <label for="sso-client">{t!(i18n, sso_client_id)}</label>
                                    <input id="sso-client" name="client_id" value=s.client_id.clone() autocomplete="off" />
                                    <label for="sso-secret">{t!(i18n, sso_client_secret)}</label>
                                    <input id="sso-secret" name="client_secret" type="password" autocomplete="new-password" aria-describedby="sso-secret-hint" />
                                    <p class="hint" id="sso-secret-hint" data-testid="sso-secret-state">
                                        {if s.client_secret_stored { t!(i18n, sso_secret_stored).into_any() } else { t!(i18n, sso_secret_none).into_any() }}
                                    </p>
                                    <label for="sso-scopes">{t!(i18n, sso_scopes)}</label>
                                    <input id="sso-scopes" name="scopes" value=s.scopes.clone() />
                                    <label for="sso-claim">{t!(i18n, sso_groups_claim)}</label>
                                    <input id="sso-claim" name="groups_claim" value=s.groups_claim.clone() />
                                    <label for="sso-roles">{t!(i18n, sso_role_map)}</label>
                                    <input id="sso-roles" name="role_map" value=s.role_map.clone() placeholder="ops=admin, oncall=operator, staff=viewer" aria-describedby="sso-roles-hint" />
                                    <p class="hint" id="sso-roles-hint">{t!(i18n, sso_role_map_hint)}</p>
                                    <label for="sso-label">{t!(i18n, sso_label)}</label>
                                    <input id="sso-label" name="label" value=s.label.clone() maxlength="64" />
                                    <label class="check">
                                        <input type="checkbox" name="password_login" value="on" checked=s.password_login data-testid="sso-password" aria-describedby="sso-password-hint" />
                                        {t!(i18n, sso_password_login)}
                                    </label>
                                    <p class="hint" id="sso-password-hint">{t!(i18n, sso_password_hint)}</p>
                                    <button type="submit" class="btn btn-primary" data-testid="sso-save" disabled=move || save.pending().get()>
                                        {move || if save.pending().get() { t!(i18n, sso_checking).into_any() } else { t!(i18n, sso_save).into_any() }}
                                    </button>
                                </ActionForm>
                            </section>
                        }.into_any(),
                    }
                })}
            </Transition>
        </Layout>
    }
}
