use leptos::prelude::*;

use crate::security::crowdsec_card::CrowdSecCard;
use crate::security::data_plane_card::DataPlaneCard;
use crate::components::layout::Layout;
use crate::i18n::*;

#[component]
pub fn SecurityPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Layout>
            <h1>{t!(i18n, security_title)}</h1>
            <p class="lead">{t!(i18n, security_intro)}</p>
            <div class="cards">
                <CrowdSecCard />
                <DataPlaneCard />
            </div>
            <ShieldedNotice />
            <p><a href="/security/enforcement" class="btn btn-secondary" data-testid="enforcement-link">{t!(i18n, selftest_open)}</a></p>
            <p class="hint" data-testid="charon-version">"Charon "{crate::build_info::VERSION_LINE}</p>
        </Layout>
    }
}

/// "Would have blocked you": how many decisions the bouncer spares for administrators' addresses,
/// linking to the list (administrators only; nothing when there are none).
#[component]
fn ShieldedNotice() -> impl IntoView {
    let i18n = use_i18n();
    let user = expect_context::<crate::components::layout::CurrentUser>().0;
    let is_admin = move || user.try_get().flatten().flatten().is_some_and(|p| p.role.may_mutate());
    let count = Resource::new(|| (), |_| crate::decisions::rpc::shielded_count());
    // The user is read inside the Suspense: read outside it, the server's render could wait
    // forever for a Suspense that appeared after the user arrived (seen as a rare hang of
    // `GET /security` under load).
    view! {
        <Suspense fallback=|| ()>
            <Show when=is_admin>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        count.await.ok().filter(|n| *n > 0).map(|n| view! {
                            <p class="alert alert-warn" role="status" data-testid="shielded-notice">
                                <a href="/security/enforcement">{t!(i18n, security_shielded_title)}": "{n}</a>
                            </p>
                        })
                    })}
                </Suspense>
            </Show>
        </Suspense>
    }
}
