//! `/security/enforcement` (a lazily loaded page, linked from the Security page): the enforcement
//! self-test and the decisions spared for administrators' addresses.

use leptos::prelude::*;

use crate::components::layout::Layout;
use crate::i18n::*;
use crate::security::self_test_card::SelfTestCard;
use crate::security::shielded_card::ShieldedCard;

#[component]
pub fn EnforcementPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Layout>
            <p><a href="/security">"‹ "{t!(i18n, security_title)}</a></p>
            <h1>{t!(i18n, selftest_page_title)}</h1>
            <div class="cards">
                <SelfTestCard />
                <ShieldedCard />
            </div>
        </Layout>
    }
}
