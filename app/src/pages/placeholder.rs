use leptos::prelude::*;

use crate::components::layout::Layout;
use crate::i18n::*;

/// Pages whose features arrive in later issues; they exist so navigation is complete and honest.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Console,
}

#[component]
pub fn PlaceholderPage(page: Placeholder) -> impl IntoView {
    let i18n = use_i18n();
    let title = move || match page {
        Placeholder::Console => t_string!(i18n, console_title),
    };
    let intro = move || match page {
        Placeholder::Console => t_string!(i18n, console_intro),
    };
    view! {
        <Layout>
            <h1>{title}</h1>
            <p class="lead">{intro}</p>
            <p class="alert alert-info">{t!(i18n, not_available_yet)}</p>
        </Layout>
    }
}
