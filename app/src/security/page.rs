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
            <p><a href="/security/enforcement" class="btn btn-secondary" data-testid="enforcement-link">{t!(i18n, selftest_open)}</a></p>
            <p class="hint" data-testid="charon-version">"Charon "{crate::build_info::VERSION_LINE}</p>
        </Layout>
    }
}
