//! The Security page's "would have blocked you" card (administrators): decisions from the engine or
//! the lists that cover an address an administrator uses, which the bouncer does not enforce for
//! it. Shown only when there is one.

use leptos::prelude::*;

use crate::components::layout::CurrentUser;
use crate::decisions::rpc::shielded_decisions;
use crate::i18n::*;

#[component]
pub fn ShieldedCard() -> impl IntoView {
    let i18n = use_i18n();
    let user = expect_context::<CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    let rows = Resource::new(|| (), |_| shielded_decisions());
    view! {
        <Show when=is_admin>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match rows.await {
                        Ok(list) if !list.is_empty() => Some(view! {
                            <section class="card card-warn" aria-labelledby="shielded-title" data-testid="shielded-card">
                                <h2 id="shielded-title">{t!(i18n, security_shielded_title)}</h2>
                                <p class="hint">{t!(i18n, security_shielded_intro)}</p>
                                <ul class="plain">
                                    {list.into_iter().map(|s| view! {
                                        <li data-testid="shielded">
                                            <code>{s.protected.clone()}</code>" ← "<code>{s.decision.value.clone()}</code>" · "
                                            {s.decision.scenario.clone()}" ("{s.decision.origin.clone()}")"
                                        </li>
                                    }).collect_view()}
                                </ul>
                            </section>
                        }),
                        // Nothing to flag, or the list is unavailable: the other cards say why.
                        _ => None,
                    }
                })}
            </Suspense>
        </Show>
    }
}
