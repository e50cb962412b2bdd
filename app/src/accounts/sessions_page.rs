//! `/settings/sessions`: where the signed-in user is signed in (browser, address, last use), each
//! with an "End" button; administrators can list and end everyone's. Plain forms: works without
//! JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::accounts::rpc::{list_sessions, EndSession};
use crate::components::error_message::ErrorMessage;
use crate::components::layout::{CurrentUser, Layout};
use crate::i18n::*;

#[component]
pub fn SessionsPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Layout>
            <h1>{t!(i18n, sessions_title)}</h1>
            <p class="lead">{t!(i18n, sessions_intro)}</p>
            <SessionsView />
        </Layout>
    }
}

#[component]
fn SessionsView() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    let everyone = move || is_admin() && query.try_with(|q| q.get("all").is_some_and(|v| v == "true")).unwrap_or(false);
    let end = ServerAction::<EndSession>::new();
    let sessions = Resource::new(move || (everyone(), end.version().try_get().unwrap_or_default()), |(all, _)| list_sessions(all));
    view! {
        <Show when=is_admin>
            <nav class="range-links" aria-label=move || t_string!(i18n, sessions_title)>
                <a href="/settings/sessions" aria-current=move || (!everyone()).then_some("page")>{t!(i18n, sessions_mine)}</a>
                <a href="/settings/sessions?all=true" aria-current=move || everyone().then_some("page") data-testid="sessions-all">{t!(i18n, sessions_everyone)}</a>
            </nav>
        </Show>
        <div aria-live="polite">
            {move || end.value().try_get().flatten().map(|r| match r {
                Ok(()) => view! { <p class="alert alert-ok" data-testid="session-ended">{t!(i18n, sessions_ended)}</p> }.into_any(),
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
            })}
        </div>
        <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
            {move || Suspend::new(async move {
                match sessions.await {
                    Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    Ok(list) => view! {
                        <div class="table-scroll"><table class="table" data-testid="sessions-table">
                            <thead><tr>
                                <th scope="col">{t!(i18n, col_username)}</th>
                                <th scope="col">{t!(i18n, sessions_device)}</th>
                                <th scope="col">{t!(i18n, sessions_address)}</th>
                                <th scope="col">{t!(i18n, col_created)}</th>
                                <th scope="col">{t!(i18n, sessions_last_seen)}</th>
                                <th scope="col"><span class="visually-hidden">{t!(i18n, col_actions)}</span></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|s| {
                                    let label = format!("{} {} ({})", t_string!(i18n, sessions_end), s.username, s.address);
                                    view! {
                                        <tr data-testid="session-row" data-current=s.current.to_string()>
                                            <td>{s.username.clone()}</td>
                                            <td class="wrap">{s.device.clone()}</td>
                                            <td><code>{s.address.clone()}</code></td>
                                            <td><time datetime=s.created_at.clone()>{s.created_at.clone()}</time></td>
                                            <td>{s.last_seen_at.clone().map(|t| { let shown = t.clone(); view! { <time datetime=t>{shown}</time> } })}</td>
                                            <td>
                                                {s.current.then(|| view! { <span class="badge">{t!(i18n, sessions_current)}</span> })}
                                                <ActionForm action=end attr:class="inline-form">
                                                    <input type="hidden" name="id" value=s.id.clone() />
                                                    <button type="submit" class="btn btn-danger" aria-label=label data-testid="session-end">{t!(i18n, sessions_end)}</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
