//! "Unban and allow for …": one form, on each row of Live Decisions and on an alert's page.
//! Deletes every decision covering the address and allowlists it for the chosen time; "only on
//! …" narrows it to sites or a path (the decisions stay and apply elsewhere).

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::decisions::rpc::UnbanAndAllow;
use crate::i18n::*;

/// The choices offered; the server accepts any duration up to 365 days, or `forever`.
pub const PERIODS: [&str; 5] = ["15m", "1h", "24h", "7d", "forever"];

#[component]
pub fn UnbanAndAllowForm(
    value: String,
    action: ServerAction<UnbanAndAllow>,
    /// Tells forms for the same value apart (a row per decision: its id).
    #[prop(optional)]
    key: Option<i64>,
) -> impl IntoView {
    let i18n = use_i18n();
    // Unique on the page, for the label.
    let id = format!("allow-for-{}-{}", value.replace(|c: char| !c.is_ascii_alphanumeric(), "-"), key.unwrap_or(0));
    let label = move |p: &str| match p {
        "15m" => t_string!(i18n, allow_for_15m).to_string(),
        "1h" => t_string!(i18n, allow_for_1h).to_string(),
        "24h" => t_string!(i18n, allow_for_24h).to_string(),
        "7d" => t_string!(i18n, allow_for_7d).to_string(),
        _ => t_string!(i18n, allow_for_forever).to_string(),
    };
    view! {
        <ActionForm action=action attr:class="allow-for-form" attr:data-testid="unban-allow-form">
            <input type="hidden" name="value" value=value.clone() />
            <input type="hidden" name="reason" value=move || t_string!(i18n, allow_for_reason).to_string() />
            <label for=id.clone() class="visually-hidden">{t!(i18n, allow_for_label)}" "{value.clone()}</label>
            <select id=id.clone() name="duration" data-testid="allow-for">
                {PERIODS.into_iter().map(|p| view! { <option value=p selected=p == "1h">{label(p)}</option> }).collect_view()}
            </select>
            <button type="submit" class="btn btn-secondary" data-testid="unban-allow" disabled=move || action.pending().try_get().unwrap_or(false)>
                {t!(i18n, allow_for_submit)}
            </button>
            <details class="allow-scope" data-testid="allow-scope-choice">
                <summary>{t!(i18n, allow_for_scope)}</summary>
                <label for=format!("{id}-sites")>{t!(i18n, scope_sites_label)}</label>
                <input id=format!("{id}-sites") name="sites" maxlength="2000" autocomplete="off" data-testid="allow-sites" />
                <label for=format!("{id}-path")>{t!(i18n, scope_path_label)}</label>
                <input id=format!("{id}-path") name="path_prefix" maxlength="256" autocomplete="off" />
            </details>
        </ActionForm>
    }
}
