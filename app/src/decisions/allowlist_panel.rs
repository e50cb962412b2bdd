//! The allowlist panel of Live Decisions: entries, add (offering to unban what the new entry
//! covers), remove.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::components::clock::{format_remaining, now_unix, parse_rfc3339_utc};
use crate::components::error_message::ErrorMessage;
use crate::components::layout::CurrentUser;
use crate::decisions::rpc::{list_allowlist, AddAllowlist, RemoveAllowlist, RemoveScopedException, UnbanAndAllow, UnbanValues};
use crate::i18n::*;

/// Settings → Allowlist, as a section of this page: entries, add (offering to unban what the new
/// entry covers), remove.
#[component]
pub fn AllowlistSection() -> impl IntoView {
    let i18n = use_i18n();
    let add = ServerAction::<AddAllowlist>::new();
    let remove = ServerAction::<RemoveAllowlist>::new();
    let remove_scoped = ServerAction::<RemoveScopedException>::new();
    let unban_covered = ServerAction::<UnbanValues>::new();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    // Operators add exceptions; removing one stays an administrator's.
    let may_add = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_unban());
    // "Unban and allow" on the same page adds entries too.
    let unban_allow = use_context::<ServerAction<UnbanAndAllow>>();
    let entries = Resource::new(
        move || {
            (
                add.version().try_get().unwrap_or_default(),
                remove.version().try_get().unwrap_or_default(),
                remove_scoped.version().try_get().unwrap_or_default(),
                unban_allow.and_then(|a| a.version().try_get()).unwrap_or_default(),
            )
        },
        |_| list_allowlist(),
    );
    view! {
        <section class="card" aria-labelledby="allowlist-title" data-testid="allowlist">
            <h2 id="allowlist-title">{t!(i18n, allowlist_title)}</h2>
            <p class="hint">{t!(i18n, allowlist_intro)}</p>
            <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match entries.await {
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p data-testid="allowlist-empty">{t!(i18n, allowlist_empty)}</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll"><table class="table" data-testid="allowlist-table">
                                <thead><tr>
                                    <th scope="col">{t!(i18n, col_value)}</th>
                                    <th scope="col">{t!(i18n, col_reason)}</th>
                                    <th scope="col">{t!(i18n, col_scope)}</th>
                                    <th scope="col">{t!(i18n, col_created)}</th>
                                    <th scope="col">{t!(i18n, col_expires)}</th>
                                    <th scope="col"><span class="visually-hidden">{t!(i18n, allowlist_remove)}</span></th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|e| {
                                        let value = StoredValue::new(e.value.clone());
                                        view! {
                                        <tr data-value=e.value.clone()>
                                            <td><code>{e.value.clone()}</code></td>
                                            <td>{e.reason.clone()}</td>
                                            <td data-testid="allow-scope">{
                                                let sites = if e.sites.is_empty() { t_string!(i18n, scope_all_sites).to_string() } else { e.sites.join(", ") };
                                                [Some(sites), e.path_prefix.clone(), e.scenario.clone()].into_iter().flatten().collect::<Vec<_>>().join(" · ")
                                            }</td>
                                            <td>{e.created_at.clone()}" · "{e.created_by.clone()}</td>
                                            <td data-testid="allow-expires">{match e.expires_at.clone() {
                                                Some(at) => {
                                                    let left = parse_rfc3339_utc(&at).unwrap_or(0) - now_unix();
                                                    view! { <time datetime=at>{format_remaining(left)}</time> }.into_any()
                                                }
                                                None => view! { {t!(i18n, allow_for_forever)} }.into_any(),
                                            }}</td>
                                            <td><Show when=is_admin>
                                                {if e.id < 0 {
                                                    view! {
                                                        <ActionForm action=remove_scoped>
                                                            <input type="hidden" name="id" value=e.id />
                                                            <button type="submit" class="btn btn-danger">{t!(i18n, allowlist_remove)}</button>
                                                        </ActionForm>
                                                    }.into_any()
                                                } else {
                                                    view! {
                                                        <ActionForm action=remove>
                                                            <input type="hidden" name="value" value=value.get_value() />
                                                            <button type="submit" class="btn btn-danger">{t!(i18n, allowlist_remove)}</button>
                                                        </ActionForm>
                                                    }.into_any()
                                                }}
                                            </Show></td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
            <Show when=may_add>
                <ActionForm action=add attr:class="stack" attr:data-testid="allowlist-form">
                    <label for="allow-value">{t!(i18n, decisions_ban_value)}</label>
                    <input id="allow-value" name="value" required maxlength="64" autocomplete="off" />
                    <label for="allow-reason">{t!(i18n, decisions_ban_reason)}</label>
                    <input id="allow-reason" name="reason" maxlength="256" />
                    <label for="allow-sites">{t!(i18n, scope_sites_label)}</label>
                    <input id="allow-sites" name="sites" maxlength="2000" autocomplete="off" />
                    <label for="allow-path">{t!(i18n, scope_path_label)}</label>
                    <input id="allow-path" name="path_prefix" maxlength="256" autocomplete="off" />
                    <label for="allow-scenario">{t!(i18n, scope_scenario_label)}</label>
                    <input id="allow-scenario" name="scenario" maxlength="200" autocomplete="off" />
                    <label class="check"><input type="checkbox" name="force" value="on" data-testid="allow-force" />{t!(i18n, decisions_force_wide)}</label>
                    <button type="submit" class="btn btn-primary" data-testid="allowlist-submit">{t!(i18n, allowlist_add)}</button>
                </ActionForm>
                <div aria-live="polite">
                    {move || add.value().try_get().flatten().map(|r| match r {
                        Ok(added) if added.covered.is_empty() => view! {
                            <p class="alert alert-ok">{t!(i18n, allowlist_added)}</p>
                        }.into_any(),
                        Ok(added) => {
                            let n = added.covered.len();
                            let values: Vec<String> = added.covered.iter().map(|d| d.value.clone()).collect();
                            view! {
                                <div class="alert alert-info" data-testid="allowlist-covered">
                                    <p>{t!(i18n, allowlist_covers, count = move || n)}</p>
                                    <ActionForm action=unban_covered>
                                        {values.into_iter().enumerate().map(|(i, v)| view! {
                                            <input type="hidden" name=format!("values[{i}]") value=v />
                                        }).collect_view()}
                                        <button type="submit" class="btn btn-danger" data-testid="unban-covered">{t!(i18n, allowlist_unban_covered)}</button>
                                    </ActionForm>
                                </div>
                            }.into_any()
                        }
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    })}
                    {move || unban_covered.value().try_get().flatten().map(|r| match r {
                        Ok(_) => view! { <p class="alert alert-ok" data-testid="covered-unbanned">{t!(i18n, decisions_unbanned)}</p> }.into_any(),
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    })}
                    {move || remove.value().try_get().flatten().and_then(|r| r.err()).map(|e| view! { <ErrorMessage error=e /> })}
                </div>
            </Show>
        </section>
    }
}
