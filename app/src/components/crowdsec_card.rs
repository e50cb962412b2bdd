use leptos::prelude::*;

use crate::i18n::*;

/// The CrowdSec card of the Security page. The engine is not controlled yet, so the switch is
/// shown off and disabled, with the reason next to it.
#[component]
pub fn CrowdSecCard() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="card" aria-labelledby="crowdsec-title" data-testid="crowdsec-card">
            <div class="card-head">
                <div>
                    <h2 id="crowdsec-title">{t!(i18n, crowdsec_title)}</h2>
                    <p class="subtitle">{t!(i18n, crowdsec_subtitle)}</p>
                </div>
                <div class="badges">
                    <span class="badge">{t!(i18n, badge_layer1)}</span>
                    <span class="badge">{t!(i18n, badge_ids)}</span>
                </div>
            </div>
            <div class="toggle-row">
                <span id="crowdsec-toggle-label">{t!(i18n, crowdsec_toggle_label)}</span>
                <button
                    type="button"
                    class="switch"
                    role="switch"
                    aria-checked="false"
                    aria-labelledby="crowdsec-toggle-label"
                    aria-describedby="crowdsec-pending"
                    disabled=true
                    data-testid="toggle-crowdsec"
                >
                    <span class="switch-knob" aria-hidden="true"></span>
                </button>
                <span class="status status-off" data-testid="crowdsec-status">
                    {t!(i18n, crowdsec_status_disabled)}
                </span>
            </div>
            <p id="crowdsec-pending" class="hint">{t!(i18n, crowdsec_control_pending)}</p>
        </section>
    }
}
