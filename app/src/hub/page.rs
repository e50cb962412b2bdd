//! Hub presets: popular presets first, then the full catalogue (type filter, search as you type —
//! a plain GET form without JavaScript), and a detail page per item with its dependency tree, data
//! files and Install / Remove showing progress and then the engine-verified outcome.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::error_message::ErrorMessage;
use crate::components::layout::{CurrentUser, Layout};
use crate::hub::rpc::{get_hub_item, list_hub_items, InstallHubItem, RemoveHubItem};
use crate::hub::model::{HubChange, HubDependency, HubItem, HubItemType, HubQuery, PresetId, PRESETS};
use crate::i18n::*;
use crate::security::rpc::get_engine_status;

/// The page-wide install and remove actions; every view of an item shares them, so any change
/// refreshes the catalogue and the presets.
#[derive(Clone, Copy)]
struct HubActions {
    install: ServerAction<InstallHubItem>,
    remove: ServerAction<RemoveHubItem>,
}

impl HubActions {
    fn new() -> Self {
        HubActions { install: ServerAction::new(), remove: ServerAction::new() }
    }

    /// Changes on every finished install or remove.
    fn version(&self) -> (usize, usize) {
        (self.install.version().try_get().unwrap_or_default(), self.remove.version().try_get().unwrap_or_default())
    }
}

pub fn item_href(kind: HubItemType, name: &str) -> String {
    format!("/security/hub/{}/{}", kind.as_str(), name)
}

fn type_label(i18n: leptos_i18n::I18nContext<Locale>, kind: HubItemType) -> &'static str {
    match kind {
        HubItemType::Collections => t_string!(i18n, hub_type_collections),
        HubItemType::Parsers => t_string!(i18n, hub_type_parsers),
        HubItemType::Scenarios => t_string!(i18n, hub_type_scenarios),
        HubItemType::Postoverflows => t_string!(i18n, hub_type_postoverflows),
    }
}

fn preset_text(i18n: leptos_i18n::I18nContext<Locale>, id: PresetId) -> (&'static str, &'static str) {
    match id {
        PresetId::HttpProbing => (t_string!(i18n, preset_http_probing_title), t_string!(i18n, preset_http_probing_summary)),
        PresetId::BadUserAgents => (t_string!(i18n, preset_bad_ua_title), t_string!(i18n, preset_bad_ua_summary)),
        PresetId::CveExploits => (t_string!(i18n, preset_cve_title), t_string!(i18n, preset_cve_summary)),
        PresetId::BaseHttp => (t_string!(i18n, preset_base_http_title), t_string!(i18n, preset_base_http_summary)),
        PresetId::Caddy => (t_string!(i18n, preset_caddy_title), t_string!(i18n, preset_caddy_summary)),
        PresetId::GoodActors => (t_string!(i18n, preset_good_actors_title), t_string!(i18n, preset_good_actors_summary)),
    }
}

#[component]
fn StateBadges(item: HubItem) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <span class="badges">
            {item.installed.then(|| view! { <span class="badge badge-ok" data-testid="installed-badge">{t!(i18n, hub_badge_installed)}</span> })}
            {item.tainted.then(|| view! { <span class="badge badge-warn">{t!(i18n, hub_badge_tainted)}</span> })}
            {(item.installed && !item.tainted && !item.up_to_date).then(|| view! { <span class="badge">{t!(i18n, hub_badge_update)}</span> })}
        </span>
    }
}

/// Install or Remove for one item, with the progress of a change of this item.
#[component]
fn ItemButtons(kind: HubItemType, name: String, installed: bool) -> impl IntoView {
    let i18n = use_i18n();
    let actions = expect_context::<HubActions>();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    let n1 = name.clone();
    let n2 = name.clone();
    let installing = move || actions.install.pending().try_get().unwrap_or(false) && actions.install.input().try_with(|i| i.as_ref().is_some_and(|i| i.name == n1)).unwrap_or(false);
    let removing = move || actions.remove.pending().try_get().unwrap_or(false) && actions.remove.input().try_with(|i| i.as_ref().is_some_and(|i| i.name == n2)).unwrap_or(false);
    let busy = move || actions.install.pending().try_get().unwrap_or(false) || actions.remove.pending().try_get().unwrap_or(false);
    let label = if installed { format!("{} {name}", t_string!(i18n, hub_remove)) } else { format!("{} {name}", t_string!(i18n, hub_install)) };
    let name = StoredValue::new(name);
    let label = StoredValue::new(label);
    let installing = StoredValue::new(installing);
    let removing = StoredValue::new(removing);
    view! {
        <Show when=is_admin>
            {move || if installed {
                view! {
                    <ActionForm action=actions.remove attr:class="inline-form">
                        <input type="hidden" name="kind" value=kind.as_str() />
                        <input type="hidden" name="name" value=name.get_value() />
                        <button type="submit" class="btn btn-danger" data-testid="hub-remove" aria-label=label.get_value() disabled=busy>
                            {move || if removing.with_value(|f| f()) { t_string!(i18n, hub_removing_short) } else { t_string!(i18n, hub_remove) }}
                        </button>
                    </ActionForm>
                }.into_any()
            } else {
                view! {
                    <ActionForm action=actions.install attr:class="inline-form">
                        <input type="hidden" name="kind" value=kind.as_str() />
                        <input type="hidden" name="name" value=name.get_value() />
                        <button type="submit" class="btn btn-primary" data-testid="hub-install" aria-label=label.get_value() disabled=busy>
                            {move || if installing.with_value(|f| f()) { t_string!(i18n, hub_installing_short) } else { t_string!(i18n, hub_install) }}
                        </button>
                    </ActionForm>
                }.into_any()
            }}
        </Show>
    }
}

/// Progress while a change runs, then its real outcome; announced to screen readers.
#[component]
fn ChangeStatus() -> impl IntoView {
    let i18n = use_i18n();
    let actions = expect_context::<HubActions>();
    let outcome = move |r: Result<HubChange, crate::error::AppError>, installing: bool| match r {
        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
        Ok(c) if c.changed.is_empty() => view! { <p class="alert alert-info" data-testid="hub-outcome">{t!(i18n, hub_nothing_changed)}</p> }.into_any(),
        Ok(c) => {
            let n = c.changed.len();
            let loaded = c.loaded_scenarios;
            let secs = format!("{:.1}", c.duration_ms as f64 / 1000.0);
            let kept = c.kept.iter().map(|k| k.name.clone()).collect::<Vec<_>>().join(", ");
            let head = match (installing, c.engine_running) {
                (_, false) => t!(i18n, hub_pending_start).into_any(),
                (true, true) => t!(i18n, hub_installed_ok, count = move || n, loaded = move || loaded, secs = move || secs.clone()).into_any(),
                (false, true) => t!(i18n, hub_removed_ok, count = move || n, secs = move || secs.clone()).into_any(),
            };
            view! {
                <div class="alert alert-ok" data-testid="hub-outcome" data-verified=c.verified.to_string()>
                    <p>{head}</p>
                    {(!kept.is_empty()).then(|| view! { <p class="hint">{t!(i18n, hub_kept)}" "{kept.clone()}</p> })}
                </div>
            }
            .into_any()
        }
    };
    view! {
        <div aria-live="polite" role="status" class="hub-status">
            {move || actions.install.pending().try_get().unwrap_or(false).then(|| view! {
                <p class="alert alert-info progress" data-testid="hub-progress">{t!(i18n, hub_installing)}</p>
            })}
            {move || actions.remove.pending().try_get().unwrap_or(false).then(|| view! {
                <p class="alert alert-info progress" data-testid="hub-progress">{t!(i18n, hub_removing)}</p>
            })}
            {move || (!actions.install.pending().try_get().unwrap_or(false)).then(|| actions.install.value().try_get().flatten().map(|r| outcome(r, true))).flatten()}
            {move || (!actions.remove.pending().try_get().unwrap_or(false)).then(|| actions.remove.value().try_get().flatten().map(|r| outcome(r, false))).flatten()}
        </div>
    }
}

/// Says so when the engine is not running: changes are saved and apply at its next start.
#[component]
fn EngineNotice() -> impl IntoView {
    let i18n = use_i18n();
    let status = Resource::new(|| (), |_| get_engine_status());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                status.await.ok().filter(|s| !s.lapi_ready).map(|_| view! {
                    <p class="alert alert-info" data-testid="hub-engine-stopped">{t!(i18n, hub_engine_stopped)}</p>
                })
            })}
        </Suspense>
    }
}

#[component]
pub fn HubPage() -> impl IntoView {
    let i18n = use_i18n();
    let actions = HubActions::new();
    provide_context(actions);
    let query_map = use_query_map();
    let initial = move |k: &str| query_map.with_untracked(|m| m.get(k).unwrap_or_default());
    let q = RwSignal::new(initial("q"));
    let kind = RwSignal::new(initial("type"));
    let installed_only = RwSignal::new(initial("installed") == "true");

    let presets = Resource::new(move || actions.version(), |_| list_hub_items(HubQuery::default()));
    let catalogue = Resource::new(
        move || (q.try_get().unwrap_or_default(), kind.try_get().unwrap_or_default(), installed_only.try_get().unwrap_or_default(), actions.version()),
        |(q, kind, installed, _)| {
            list_hub_items(HubQuery {
                kind: HubItemType::parse(&kind).ok(),
                q: Some(q).filter(|q| !q.trim().is_empty()),
                installed: installed.then_some(true),
            })
        },
    );

    view! {
        <Layout>
            <h1>{t!(i18n, hub_title)}</h1>
            <p class="lead">{t!(i18n, hub_intro)}</p>
            <EngineNotice />
            <ChangeStatus />
            <section aria-labelledby="presets-title">
                <h2 id="presets-title">{t!(i18n, hub_popular)}</h2>
                <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                    {move || Suspend::new(async move {
                        match presets.await {
                            Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                            Ok(items) => view! {
                                <ul class="preset-grid" data-testid="presets">
                                    {PRESETS.iter().filter_map(|p| {
                                        let item = items.iter().find(|i| i.kind == p.kind && i.name == p.name)?.clone();
                                        let (title, summary) = preset_text(i18n, p.id);
                                        Some(view! {
                                            <li class="card preset" data-testid="preset" data-name=p.name>
                                                <h3><a href=item_href(p.kind, p.name)>{title}</a></h3>
                                                <p>{summary}</p>
                                                <p class="hint"><code>{p.name}</code></p>
                                                <StateBadges item=item.clone() />
                                                <ItemButtons kind=p.kind name=p.name.to_owned() installed=item.installed />
                                            </li>
                                        })
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </section>
            <section aria-labelledby="catalogue-title">
                <h2 id="catalogue-title">{t!(i18n, hub_catalogue)}</h2>
                <form method="get" class="filters" role="search" data-testid="hub-filters">
                    <label for="hub-q">{t!(i18n, hub_search_label)}</label>
                    <input id="hub-q" name="q" type="search" value=initial("q") maxlength="200"
                        placeholder=move || t_string!(i18n, hub_search_placeholder)
                        on:input=move |ev| q.set(event_target_value(&ev)) data-testid="hub-search" />
                    <label for="hub-type">{t!(i18n, hub_type_label)}</label>
                    <select id="hub-type" name="type" on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="">{t!(i18n, hub_type_all)}</option>
                        {HubItemType::ALL.into_iter().map(|k| view! {
                            <option value=k.as_str() selected=initial("type") == k.as_str()>{type_label(i18n, k)}</option>
                        }).collect_view()}
                    </select>
                    <label class="check">
                        <input type="checkbox" name="installed" value="true" checked=installed_only.get_untracked()
                            on:change=move |ev| installed_only.set(event_target_checked(&ev)) />
                        {t!(i18n, hub_installed_only)}
                    </label>
                    <noscript><button type="submit" class="btn btn-secondary">{t!(i18n, hub_filter_apply)}</button></noscript>
                </form>
                <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                    {move || Suspend::new(async move {
                        match catalogue.await {
                            Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                            Ok(items) if items.is_empty() => view! { <p class="empty" data-testid="hub-empty">{t!(i18n, hub_no_results)}</p> }.into_any(),
                            Ok(items) => {
                                let count = items.len();
                                view! {
                                    <p class="hint" aria-live="polite" data-testid="hub-count">{t!(i18n, hub_results, count = move || count)}</p>
                                    <div class="table-scroll"><table class="table" data-testid="hub-table">
                                        <thead><tr>
                                            <th scope="col">{t!(i18n, hub_col_name)}</th>
                                            <th scope="col">{t!(i18n, hub_type_label)}</th>
                                            <th scope="col">{t!(i18n, hub_col_description)}</th>
                                            <th scope="col">{t!(i18n, hub_col_status)}</th>
                                        </tr></thead>
                                        <tbody>
                                            {items.into_iter().map(|item| view! {
                                                <tr data-testid="hub-row" data-name=item.name.clone()>
                                                    <td><a href=item_href(item.kind, &item.name)>{item.name.clone()}</a></td>
                                                    <td>{type_label(i18n, item.kind)}</td>
                                                    <td>{item.description.clone()}</td>
                                                    <td><StateBadges item=item.clone() /></td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table></div>
                                }.into_any()
                            }
                        }
                    })}
                </Transition>
            </section>
        </Layout>
    }
}

#[component]
fn DependencyTree(deps: Vec<HubDependency>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <ul class="tree">
            {deps.into_iter().map(|d| {
                let children = d.children.clone();
                view! {
                    <li data-testid="dependency">
                        <a href=item_href(d.kind, &d.name)>{d.name.clone()}</a>
                        " "<span class="hint">"("{type_label(i18n, d.kind)}")"</span>
                        {d.installed.then(|| view! { " "<span class="badge badge-ok">{t!(i18n, hub_badge_installed)}</span> })}
                        {(!children.is_empty()).then(|| view! { <DependencyTree deps=children.clone() /> }.into_any())}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

#[component]
pub fn HubItemPage() -> impl IntoView {
    let i18n = use_i18n();
    let actions = HubActions::new();
    provide_context(actions);
    let params = use_params_map();
    let detail = Resource::new(
        move || {
            let p = params.try_get().unwrap_or_default();
            let name = format!("{}/{}", p.get("author").unwrap_or_default(), p.get("name").unwrap_or_default());
            (p.get("kind").unwrap_or_default(), name, actions.version())
        },
        |(kind, name, _)| get_hub_item(kind, name),
    );
    view! {
        <Layout>
            <p><a href="/security/hub">"‹ "{t!(i18n, hub_back)}</a></p>
            <EngineNotice />
            <ChangeStatus />
            <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Err(e) => view! { <h1>{t!(i18n, hub_title)}</h1><ErrorMessage error=e /> }.into_any(),
                        Ok(d) => {
                            let item = d.item.clone();
                            view! {
                                <article data-testid="hub-detail" data-name=item.name.clone()>
                                    <div class="card-head">
                                        <div>
                                            <h1>{item.name.clone()}</h1>
                                            <p class="hint">{type_label(i18n, item.kind)}" · "{t!(i18n, hub_version)}" "{item.version.clone()}
                                                " · "{t!(i18n, hub_author)}" "{item.author.clone()}</p>
                                            <StateBadges item=item.clone() />
                                        </div>
                                        <ItemButtons kind=item.kind name=item.name.clone() installed=item.installed />
                                    </div>
                                    <p class="lead">{item.description.clone()}</p>
                                    {(!d.required_by.is_empty()).then(|| view! {
                                        <p class="alert alert-info" data-testid="required-by">
                                            {t!(i18n, hub_required_by)}": "{d.required_by.join(", ")}". "{t!(i18n, hub_required_by_hint)}
                                        </p>
                                    })}
                                    // Markdown from the index, shown as text: never interpreted as HTML.
                                    {(!d.long_description.is_empty()).then(|| view! {
                                        <pre class="long-description" data-testid="long-description">{d.long_description.clone()}</pre>
                                    })}
                                    <h2>{t!(i18n, hub_dependencies)}</h2>
                                    {if d.dependencies.is_empty() {
                                        view! { <p>{t!(i18n, hub_no_dependencies)}</p> }.into_any()
                                    } else {
                                        view! { <DependencyTree deps=d.dependencies.clone() /> }.into_any()
                                    }}
                                    <h2>{t!(i18n, hub_data_files)}</h2>
                                    {if d.data_files.is_empty() {
                                        view! { <p>{t!(i18n, hub_no_data_files)}</p> }.into_any()
                                    } else {
                                        view! { <ul>{d.data_files.iter().map(|f| view! { <li><code>{f.clone()}</code></li> }).collect_view()}</ul> }.into_any()
                                    }}
                                    {(!d.references.is_empty()).then(|| view! {
                                        <h2>{t!(i18n, hub_references)}</h2>
                                        <ul>{d.references.iter().map(|r| view! { <li><code>{r.clone()}</code></li> }).collect_view()}</ul>
                                    })}
                                </article>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </Layout>
    }
}
