//! `/nodes`: the fleet's edge nodes with their health, and (administrators) "Add node", which
//! shows the one-time join command, "Rotate key" and "Remove". Plain forms: works without
//! JavaScript, except that the join command is the answer of a server function and needs it (a
//! hint under the button says so and names the REST call).

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::components::error_message::ErrorMessage;
use crate::components::layout::{CurrentUser, Layout};
use crate::fleet::model::NodeHealth;
use crate::fleet::rpc::{list_nodes, CreateJoinToken, RemoveNode, RotateNodeKey};
use crate::i18n::*;

#[component]
pub fn NodesPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Layout>
            <h1>{t!(i18n, nodes_title)}</h1>
            <p class="lead">{t!(i18n, nodes_intro)}</p>
            <NodesView />
        </Layout>
    }
}

#[component]
fn NodesView() -> impl IntoView {
    let i18n = use_i18n();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    let add = ServerAction::<CreateJoinToken>::new();
    let remove = ServerAction::<RemoveNode>::new();
    let rotate = ServerAction::<RotateNodeKey>::new();
    let nodes = Resource::new(move || remove.version().try_get().unwrap_or_default(), |_| list_nodes());
    view! {
        <Show when=is_admin>
            <ActionForm action=add attr:class="inline-form">
                <button type="submit" class="btn btn-primary" data-testid="node-add">{t!(i18n, nodes_add)}</button>
            </ActionForm>
            <p class="hint" data-testid="node-add-hint">{t!(i18n, nodes_add_needs_js)}</p>
        </Show>
        <div aria-live="polite">
            {move || add.value().try_get().flatten().map(|r| match r {
                Ok(t) => view! {
                    <div class="alert alert-ok" data-testid="node-command">
                        <p>{t!(i18n, nodes_command)}" "<time datetime=t.expires_at.clone()>{t.expires_at.clone()}</time></p>
                        <pre><code>{t.command}</code></pre>
                    </div>
                }.into_any(),
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
            })}
            {move || remove.value().try_get().flatten().and_then(|r| r.err()).map(|e| view! { <ErrorMessage error=e /> })}
            {move || rotate.value().try_get().flatten().map(|r| match r {
                Ok(()) => view! { <p class="alert alert-ok" data-testid="node-rotated">{t!(i18n, nodes_rotated)}</p> }.into_any(),
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
            })}
        </div>
        <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
            {move || Suspend::new(async move {
                match nodes.await {
                    Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p data-testid="nodes-none">{t!(i18n, nodes_none)}</p> }.into_any(),
                    Ok(list) => { let admin = is_admin(); view! {
                        <div class="table-scroll"><table class="table" data-testid="nodes-table">
                            <thead><tr>
                                <th scope="col">{t!(i18n, col_name)}</th>
                                <th scope="col">{t!(i18n, nodes_health)}</th>
                                <th scope="col">{t!(i18n, nodes_last_report)}</th>
                                <th scope="col">{t!(i18n, nodes_numbers)}</th>
                                <th scope="col">{t!(i18n, nodes_version)}</th>
                                <th scope="col"><span class="visually-hidden">{t!(i18n, col_actions)}</span></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|n| {
                                    let health = match n.health {
                                        NodeHealth::Ok => t_string!(i18n, nodes_ok),
                                        NodeHealth::Stale => t_string!(i18n, nodes_stale),
                                        NodeHealth::Down => t_string!(i18n, nodes_down),
                                    };
                                    let class = match n.health { NodeHealth::Ok => "badge badge-ok", NodeHealth::Stale => "badge badge-warn", NodeHealth::Down => "badge badge-down" };
                                    let label = format!("{} {}", t_string!(i18n, nodes_remove), n.name);
                                    let rotate_label = format!("{} {}", t_string!(i18n, nodes_rotate), n.name);
                                    let (name, rotate_name) = (n.name.clone(), n.name.clone());
                                    let numbers = format!("{} / {} / {}", n.decisions.map_or("–".into(), |d| d.to_string()), n.blocked.map_or("–".into(), |b| b.to_string()), n.hosts);
                                    view! {
                                        <tr data-testid="node-row">
                                            <td><strong>{n.name.clone()}</strong><br /><code>{n.address.clone()}</code></td>
                                            <td><span class=class>{health}</span>{n.since.clone().map(|s| { let shown = s.clone(); view! { " "<time datetime=s>{shown}</time> } })}</td>
                                            <td>{n.last_report_at.clone().map(|t| { let shown = t.clone(); view! { <time datetime=t>{shown}</time> } })}</td>
                                            <td>{numbers}</td>
                                            <td class="wrap">{n.version.clone()}" · "{n.engine_version.clone().unwrap_or_default()}</td>
                                            <td>
                                                {admin.then(|| view! {
                                                    <ActionForm action=rotate attr:class="inline-form">
                                                        <input type="hidden" name="name" value=rotate_name />
                                                        <button type="submit" class="btn btn-secondary" aria-label=rotate_label data-testid="node-rotate">{t!(i18n, nodes_rotate)}</button>
                                                    </ActionForm>
                                                    <ActionForm action=remove attr:class="inline-form">
                                                        <input type="hidden" name="name" value=name />
                                                        <button type="submit" class="btn btn-danger" aria-label=label data-testid="node-remove">{t!(i18n, nodes_remove)}</button>
                                                    </ActionForm>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any() }
                }
            })}
        </Transition>
    }
}
