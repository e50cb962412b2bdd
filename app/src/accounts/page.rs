use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::accounts::rpc::{
    list_tokens, list_users, CreateToken, CreateUser, RevokeToken,
};
use crate::components::error_message::ErrorMessage;
use crate::components::layout::{role_label, CurrentUser, Layout, ReadOnlyNotice};
use crate::i18n::*;
use crate::accounts::model::{Role, PASSWORD_MAX, PASSWORD_MIN, TOKEN_NAME_MAX, USERNAME_MAX, USERNAME_MIN};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Layout>
            <h1>{t!(i18n, settings_title)}</h1>
            <p><a href="/settings/notifications" data-testid="notify-link">{t!(i18n, notify_link)}" ›"</a></p>
            <p><a href="/settings/sessions" data-testid="sessions-link">{t!(i18n, sessions_link)}" ›"</a></p>
            <p><a href="/settings/two-factor" data-testid="two-factor-link">{t!(i18n, totp_link)}" ›"</a></p>
            <AdminGate />
            <Suspense fallback=|| ()>
                <Show when=move || is_admin()() == Some(true)>
                    <p><a href="/settings/sign-in" data-testid="sso-link">{t!(i18n, sso_link)}" ›"</a></p>
                </Show>
            </Suspense>
            <UsersSection />
            <TokensSection />
        </Layout>
    }
}

/// Whether the signed-in user may act; `None` while unknown.
fn is_admin() -> impl Fn() -> Option<bool> + Copy {
    let user = expect_context::<CurrentUser>().0;
    move || user.try_get().flatten().map(|p| p.is_some_and(|p| p.role.may_mutate()))
}

#[component]
fn AdminGate() -> impl IntoView {
    let admin = is_admin();
    view! {
        <Suspense fallback=|| ()>
            <Show when=move || admin() == Some(false)>
                <ReadOnlyNotice />
            </Show>
        </Suspense>
    }
}

#[component]
fn RoleSelect(id: &'static str) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <label for=id>{t!(i18n, role)}</label>
        <select id=id name="role">
            <option value="viewer">{move || role_label(i18n, Role::Viewer)}</option>
            <option value="operator">{move || role_label(i18n, Role::Operator)}</option>
            <option value="admin">{move || role_label(i18n, Role::Admin)}</option>
        </select>
    }
}

#[component]
fn UsersSection() -> impl IntoView {
    let i18n = use_i18n();
    let admin = is_admin();
    let create = ServerAction::<CreateUser>::new();
    let users = Resource::new(move || create.version().try_get().unwrap_or_default(), |_| list_users());

    view! {
        <section class="card" aria-labelledby="users-title">
            <h2 id="users-title">{t!(i18n, users_title)}</h2>
            <p class="hint">{t!(i18n, users_intro)}</p>
            <Transition fallback=|| view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! {
                            <div class="table-scroll"><table class="table" data-testid="users-table">
                                <thead><tr>
                                    <th scope="col">{t!(i18n, col_username)}</th>
                                    <th scope="col">{t!(i18n, col_role)}</th>
                                    <th scope="col">{t!(i18n, col_created)}</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|u| {
                                        let role = u.role;
                                        view! { <tr>
                                            <td>{u.username}</td>
                                            <td>{move || role_label(i18n, role)}</td>
                                            <td><time datetime=u.created_at.clone()>{u.created_at.clone()}</time></td>
                                        </tr> }
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    }
                })}
            </Transition>
            <Suspense fallback=|| ()>
                <Show when=move || admin() == Some(true)>
                    <h3>{t!(i18n, create_user_title)}</h3>
                    <ActionForm action=create attr:class="stack" attr:data-testid="create-user-form">
                        <label for="new-username">{t!(i18n, username)}</label>
                        <input id="new-username" name="username" required
                            minlength=USERNAME_MIN maxlength=USERNAME_MAX autocomplete="off" />
                        <label for="new-password">{t!(i18n, password)}</label>
                        <input id="new-password" name="password" type="password" required
                            minlength=PASSWORD_MIN maxlength=PASSWORD_MAX autocomplete="new-password"
                            aria-describedby="new-password-hint" />
                        <p id="new-password-hint" class="hint">{t!(i18n, password_hint)}</p>
                        <RoleSelect id="new-role" />
                        <button type="submit" class="btn btn-primary" disabled=move || create.pending().try_get().unwrap_or(false)>
                            {move || if create.pending().try_get().unwrap_or(false) { t_string!(i18n, working) } else { t_string!(i18n, create_user_submit) }}
                        </button>
                    </ActionForm>
                    <div aria-live="polite">
                        {move || create.value().try_get().flatten().map(|r| match r {
                            Ok(_) => view! { <p class="alert alert-ok" data-testid="user-created">{t!(i18n, user_created)}</p> }.into_any(),
                            Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        })}
                    </div>
                </Show>
            </Suspense>
        </section>
    }
}

#[component]
fn TokensSection() -> impl IntoView {
    let i18n = use_i18n();
    let admin = is_admin();
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().try_get().unwrap_or_default(), revoke.version().try_get().unwrap_or_default()),
        |_| list_tokens(),
    );

    view! {
        <section class="card" aria-labelledby="tokens-title">
            <h2 id="tokens-title">{t!(i18n, tokens_title)}</h2>
            <p class="hint">{t!(i18n, tokens_intro)}</p>
            <Transition fallback=|| view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) if list.is_empty() => view! { <p data-testid="no-tokens">{t!(i18n, no_tokens)}</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll"><table class="table" data-testid="tokens-table">
                                <thead><tr>
                                    <th scope="col">{t!(i18n, col_name)}</th>
                                    <th scope="col">{t!(i18n, col_prefix)}</th>
                                    <th scope="col">{t!(i18n, col_role)}</th>
                                    <th scope="col">{t!(i18n, col_created)}</th>
                                    <th scope="col">{t!(i18n, col_last_used)}</th>
                                    <th scope="col">{t!(i18n, col_actions)}</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|tok| {
                                        let role = tok.role;
                                        let last_used = tok.last_used_at.clone();
                                        view! { <tr>
                                            <td>{tok.name}</td>
                                            <td><code>{tok.prefix}"…"</code></td>
                                            <td>{move || role_label(i18n, role)}</td>
                                            <td>{tok.created_at}</td>
                                            <td>{move || last_used.clone().unwrap_or_else(|| t_string!(i18n, never).to_owned())}</td>
                                            <td>
                                                <Show when=move || admin() == Some(true)>
                                                    <ActionForm action=revoke>
                                                        <input type="hidden" name="id" value=tok.id />
                                                        <button type="submit" class="btn btn-danger">{t!(i18n, token_revoke)}</button>
                                                    </ActionForm>
                                                </Show>
                                            </td>
                                        </tr> }
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    }
                })}
            </Transition>
            <Suspense fallback=|| ()>
                <Show when=move || admin() == Some(true)>
                    <ActionForm action=create attr:class="stack" attr:data-testid="create-token-form">
                        <label for="token-name">{t!(i18n, token_name)}</label>
                        <input id="token-name" name="name" required maxlength=TOKEN_NAME_MAX autocomplete="off" />
                        <RoleSelect id="token-role" />
                        <button type="submit" class="btn btn-primary" disabled=move || create.pending().try_get().unwrap_or(false)>
                            {move || if create.pending().try_get().unwrap_or(false) { t_string!(i18n, working) } else { t_string!(i18n, create_token_submit) }}
                        </button>
                    </ActionForm>
                    <div aria-live="polite">
                        {move || create.value().try_get().flatten().map(|r| match r {
                            Ok(new) => view! {
                                <div class="alert alert-ok">
                                    <p>{t!(i18n, token_created_once)}</p>
                                    <code class="secret" data-testid="new-token">{new.token}</code>
                                </div>
                            }.into_any(),
                            Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        })}
                        {move || revoke.value().try_get().flatten().map(|r| match r {
                            Ok(()) => view! { <p class="alert alert-ok">{t!(i18n, token_revoked)}</p> }.into_any(),
                            Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        })}
                    </div>
                </Show>
            </Suspense>
        </section>
    }
}
