//! `/settings/notifications`: the channels (secrets masked; admins add, test, enable or disable and
//! delete them) and the history of messages (admins send one again). Works without JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::components::error_message::ErrorMessage;
use crate::components::layout::{CurrentUser, Layout};
use crate::i18n::*;
use leptos_i18n::I18nContext;
use crate::notify::model::{Channel, ChannelKind, DigestPeriod, EventKind};
use crate::notify::rpc::{list_channels, notify_history, CreateChannel, DeleteChannel, EnableChannel, ResendMessage, SendDigest, TestChannel};

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Layout>
            <p><a href="/settings">"‹ "{t!(i18n, settings_title)}</a></p>
            <h1>{t!(i18n, notify_title)}</h1>
            <p class="lead">{t!(i18n, notify_intro)}</p>
            <NotificationsView />
        </Layout>
    }
}

fn event_label(i18n: I18nContext<Locale>, e: EventKind) -> String {
    match e {
        EventKind::Alert => t_string!(i18n, notify_event_alert).to_string(),
        EventKind::Manual => t_string!(i18n, notify_event_manual).to_string(),
        EventKind::EngineDown => t_string!(i18n, notify_event_engine_down).to_string(),
        EventKind::BouncerDown => t_string!(i18n, notify_event_bouncer_down).to_string(),
        EventKind::CaddyDown => t_string!(i18n, notify_event_caddy_down).to_string(),
        EventKind::EnrollmentChanged => t_string!(i18n, notify_event_enrollment_changed).to_string(),
        EventKind::SelfTestFailed => t_string!(i18n, notify_event_self_test_failed).to_string(),
        EventKind::Test => t_string!(i18n, notify_test).to_string(),
        EventKind::Digest => t_string!(i18n, notify_digest).to_string(),
    }
}

/// Inside `Layout`, which provides the signed-in user.
#[component]
fn NotificationsView() -> impl IntoView {
    let i18n = use_i18n();
    let create = ServerAction::<CreateChannel>::new();
    let enable = ServerAction::<EnableChannel>::new();
    let delete = ServerAction::<DeleteChannel>::new();
    let test = ServerAction::<TestChannel>::new();
    let resend = ServerAction::<ResendMessage>::new();
    let digest = ServerAction::<SendDigest>::new();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    let changed = move || {
        (
            create.version().try_get().unwrap_or_default(),
            enable.version().try_get().unwrap_or_default(),
            delete.version().try_get().unwrap_or_default(),
        )
    };
    let channels = Resource::new(changed, |_| list_channels());
    let history = Resource::new(
        move || (changed(), test.version().try_get().unwrap_or_default(), resend.version().try_get().unwrap_or_default(), digest.version().try_get().unwrap_or_default()),
        |_| notify_history(None),
    );
    view! {
        <div aria-live="polite">
            {move || create.value().try_get().flatten().map(|r| match r {
                Ok(saved) => view! {
                    <div class="alert alert-ok" data-testid="notify-created">
                        <p>{t!(i18n, notify_created)}" "<strong>{saved.channel.name.clone()}</strong></p>
                        {saved.secret.map(|s| view! { <p>{t!(i18n, notify_secret_once)}" "<code data-testid="notify-secret">{s}</code></p> })}
                    </div>
                }.into_any(),
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
            })}
            {move || test.value().try_get().flatten().map(|r| match r {
                Ok(t) if t.ok => view! { <p class="alert alert-ok" data-testid="notify-test-result">{t!(i18n, notify_test_ok)}" ("{t.ms}" ms)"</p> }.into_any(),
                Ok(t) => view! { <p class="alert alert-error" role="alert" data-testid="notify-test-result">{t!(i18n, notify_test_failed)}" "{t.error.unwrap_or_default()}</p> }.into_any(),
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
            })}
            {move || digest.value().try_get().flatten().map(|r| match r {
                Ok(d) => view! {
                    <div class=if d.result.ok { "alert alert-ok" } else { "alert alert-error" } data-testid="notify-digest-result">
                        <p>{if d.result.ok { t_string!(i18n, notify_test_ok).to_string() } else { format!("{} {}", t_string!(i18n, notify_test_failed), d.result.error.clone().unwrap_or_default()) }}</p>
                        <pre data-testid="notify-digest-text">{d.text}</pre>
                    </div>
                }.into_any(),
                Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
            })}
            {move || [enable.value().try_get().flatten().and_then(|r| r.err()), delete.value().try_get().flatten().and_then(|r| r.err()), resend.value().try_get().flatten().and_then(|r| r.err())]
                .into_iter().flatten().map(|e| view! { <ErrorMessage error=e /> }).collect_view()}
        </div>
        <section class="card" aria-labelledby="channels-title">
            <h2 id="channels-title">{t!(i18n, notify_channels)}</h2>
            <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match channels.await {
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p data-testid="notify-empty">{t!(i18n, notify_empty)}</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll"><table class="table" data-testid="notify-channels">
                                <thead><tr>
                                    <th scope="col">{t!(i18n, col_name)}</th>
                                    <th scope="col">{t!(i18n, notify_kind)}</th>
                                    <th scope="col">"URL"</th>
                                    <th scope="col">{t!(i18n, notify_events)}</th>
                                    <th scope="col">{t!(i18n, proxy_col_enabled)}</th>
                                    <th scope="col"><span class="visually-hidden">{t!(i18n, col_actions)}</span></th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|c| view! { <ChannelRow c=c enable=enable delete=delete test=test digest=digest is_admin=Signal::derive(is_admin) /> }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
            <Show when=is_admin>
                <details class="add-channel">
                    <summary class="btn btn-primary" data-testid="notify-add">{t!(i18n, notify_add)}</summary>
                    <ActionForm action=create attr:class="stack" attr:data-testid="notify-form">
                        <label for="notify-kind">{t!(i18n, notify_kind)}</label>
                        <select id="notify-kind" name="kind">
                            {ChannelKind::ALL.into_iter().map(|k| view! { <option value=k.as_str()>{k.as_str()}</option> }).collect_view()}
                        </select>
                        <label for="notify-name">{t!(i18n, col_name)}</label>
                        <input id="notify-name" name="name" required maxlength="64" autocomplete="off" />
                        <label for="notify-url">{t!(i18n, notify_url)}</label>
                        <input id="notify-url" name="url" type="url" maxlength="2048" autocomplete="off" placeholder="https://ntfy.sh/my-topic" />
                        <label for="notify-token">{t!(i18n, notify_token)}</label>
                        <input id="notify-token" name="token" type="password" maxlength="512" autocomplete="off" />
                        <label for="notify-secret">{t!(i18n, notify_secret)}</label>
                        <input id="notify-secret" name="secret" type="password" maxlength="512" autocomplete="new-password" />
                        <fieldset class="stack">
                            <legend>{t!(i18n, notify_smtp)}</legend>
                            <label for="smtp-host">{t!(i18n, notify_smtp_host)}</label>
                            <input id="smtp-host" name="smtp_host" maxlength="253" autocomplete="off" placeholder="mail.example.com" />
                            <label for="smtp-port">{t!(i18n, notify_smtp_port)}</label>
                            <input id="smtp-port" name="smtp_port" inputmode="numeric" maxlength="5" autocomplete="off" placeholder="587" />
                            <label for="smtp-security">{t!(i18n, notify_smtp_security)}</label>
                            <select id="smtp-security" name="smtp_security">
                                <option value="starttls">"STARTTLS"</option>
                                <option value="tls">"TLS"</option>
                                <option value="plain">{t!(i18n, notify_smtp_plain)}</option>
                            </select>
                            <label for="smtp-user">{t!(i18n, username)}</label>
                            <input id="smtp-user" name="smtp_username" maxlength="256" autocomplete="off" />
                            <label for="smtp-from">{t!(i18n, notify_smtp_from)}</label>
                            <input id="smtp-from" name="smtp_from" type="email" maxlength="254" autocomplete="off" />
                            <label for="smtp-to">{t!(i18n, notify_smtp_to)}</label>
                            <input id="smtp-to" name="smtp_to" maxlength="2000" autocomplete="off" />
                        </fieldset>
                        <fieldset>
                            <legend>{t!(i18n, notify_events)}</legend>
                            {EventKind::SUBSCRIBABLE.into_iter().map(|e| view! {
                                <label class="check"><input type="checkbox" name=e.as_str() value="on" checked=EventKind::DEFAULTS.contains(&e) />{event_label(i18n, e)}</label>
                            }).collect_view()}
                        </fieldset>
                        <label for="notify-group">{t!(i18n, notify_group)}</label>
                        <select id="notify-group" name="group_window_secs">
                            <option value="0">{t!(i18n, notify_group_none)}</option>
                            <option value="300" selected>{t!(i18n, notify_group_5m)}</option>
                            <option value="900">{t!(i18n, allow_for_15m)}</option>
                            <option value="3600">{t!(i18n, allow_for_1h)}</option>
                        </select>
                        <label for="notify-digest">{t!(i18n, notify_digest)}</label>
                        <select id="notify-digest" name="digest">
                            <option value="" selected>{t!(i18n, notify_digest_off)}</option>
                            <option value="daily">{t!(i18n, notify_digest_daily)}</option>
                            <option value="weekly">{t!(i18n, notify_digest_weekly)}</option>
                        </select>
                        <label for="notify-digest-at">{t!(i18n, notify_digest_at)}</label>
                        <input id="notify-digest-at" name="digest_at" type="time" value="08:00" />
                        <button type="submit" class="btn btn-primary" data-testid="notify-submit" disabled=move || create.pending().try_get().unwrap_or(false)>{t!(i18n, notify_add)}</button>
                    </ActionForm>
                </details>
            </Show>
        </section>
        <section class="card" aria-labelledby="history-title">
            <h2 id="history-title">{t!(i18n, notify_history)}</h2>
            <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        Ok(page) if page.rows.is_empty() => view! { <p>{t!(i18n, notify_history_empty)}</p> }.into_any(),
                        Ok(page) => view! {
                            <div class="table-scroll"><table class="table" data-testid="notify-history">
                                <thead><tr>
                                    <th scope="col">{t!(i18n, col_created)}</th>
                                    <th scope="col">{t!(i18n, col_name)}</th>
                                    <th scope="col">{t!(i18n, notify_events)}</th>
                                    <th scope="col">{t!(i18n, audit_result)}</th>
                                    <th scope="col">{t!(i18n, col_reason)}</th>
                                    <th scope="col"><span class="visually-hidden">{t!(i18n, col_actions)}</span></th>
                                </tr></thead>
                                <tbody>
                                    {page.rows.into_iter().map(|r| { let done = r.status != "pending"; view! {
                                        <tr data-testid="notify-history-row" data-status=r.status.clone()>
                                            <td><time datetime=r.created_at.clone()>{r.created_at.clone()}</time></td>
                                            <td>{r.channel.clone()}</td>
                                            <td>{event_label(i18n, r.event)}{(r.count > 1).then(|| format!(" ×{}", r.count))}</td>
                                            <td>{r.status.clone()}" ("{r.attempts}")"{(!r.last_error.is_empty()).then(|| view! { <br /><small class="hint">{r.last_error.clone()}</small> })}</td>
                                            <td>{r.summary.clone()}</td>
                                            <td><Show when=is_admin>
                                                {done.then(|| view! {
                                                    <ActionForm action=resend>
                                                        <input type="hidden" name="id" value=r.id />
                                                        <button type="submit" class="btn btn-secondary">{t!(i18n, notify_resend)}</button>
                                                    </ActionForm>
                                                })}
                                            </Show></td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ChannelRow(
    c: Channel,
    enable: ServerAction<EnableChannel>,
    delete: ServerAction<DeleteChannel>,
    test: ServerAction<TestChannel>,
    digest: ServerAction<SendDigest>,
    #[prop(into)] is_admin: Signal<bool>,
) -> impl IntoView {
    let i18n = use_i18n();
    let mut events = c.rules.events.iter().map(|e| event_label(i18n, *e)).collect::<Vec<_>>();
    if let Some(d) = &c.rules.digest {
        let period = if d.period == DigestPeriod::Daily { t_string!(i18n, notify_digest_daily).to_string() } else { t_string!(i18n, notify_digest_weekly).to_string() };
        events.push(format!("{}: {period} {} UTC", t_string!(i18n, notify_digest), d.at));
    }
    let events = events.join(", ");
    let (id, on) = (c.id, c.enabled);
    view! {
        <tr data-testid="notify-channel" data-name=c.name.clone()>
            <td>{c.name.clone()}</td>
            <td>{c.kind.as_str()}</td>
            <td><code>{c.url_masked.clone()}</code></td>
            <td>{events}</td>
            <td>{if on { t_string!(i18n, proxy_yes) } else { t_string!(i18n, proxy_no) }}</td>
            <td><Show when=move || is_admin.get()>
                <ActionForm action=test>
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="btn btn-secondary" data-testid="notify-test" disabled=move || test.pending().try_get().unwrap_or(false)>{t!(i18n, notify_test)}</button>
                </ActionForm>
                <ActionForm action=digest>
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="btn btn-secondary" data-testid="notify-digest" disabled=move || digest.pending().try_get().unwrap_or(false)>{t!(i18n, notify_digest_send)}</button>
                </ActionForm>
                <ActionForm action=enable>
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="enabled" value=(!on).to_string() />
                    <button type="submit" class="btn btn-secondary">{if on { t_string!(i18n, notify_disable) } else { t_string!(i18n, notify_enable) }}</button>
                </ActionForm>
                <ActionForm action=delete>
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="btn btn-danger">{t!(i18n, proxy_delete)}</button>
                </ActionForm>
            </Show></td>
        </tr>
    }
}
