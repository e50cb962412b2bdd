//! "Import a blocklist" on Live Decisions (administrators): paste a list or pick a file (plain
//! lines, CSV or JSON), choose duration, reason, origin label and type; the server sends it to the
//! engine in batches while this panel shows how far it got, then what was added, skipped as a
//! duplicate or refused as invalid (with the first refused rows).

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::components::error_message::ErrorMessage;
use crate::decisions::model::{ImportProgress, IMPORT_DURATION, IMPORT_ORIGIN};
use crate::decisions::rpc::StartImport;
use crate::i18n::*;

/// Reads the picked file into the list field (the browser does it; nothing is uploaded until the
/// form is sent).
#[cfg(feature = "hydrate")]
fn read_file(ev: leptos::ev::Event, list: RwSignal<String>) {
    use wasm_bindgen::JsCast;
    let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
    let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
    leptos::task::spawn_local(async move {
        if let Ok(text) = wasm_bindgen_futures::JsFuture::from(file.text()).await {
            list.set(text.as_string().unwrap_or_default());
        }
    });
}

#[component]
pub fn ImportPanel() -> impl IntoView {
    let i18n = use_i18n();
    let start = ServerAction::<StartImport>::new();
    let list = RwSignal::new(String::new());
    let progress = RwSignal::new(None::<ImportProgress>);
    Effect::new(move |_| {
        if let Some(Ok(p)) = start.value().try_get().flatten() {
            progress.set(Some(p));
        }
    });
    // Asks for the job's state twice a second until it has ended.
    Effect::new(move |_| {
        let tick = move || {
            let Some(p) = progress.get_untracked().filter(|p| p.report.is_none()) else { return };
            leptos::task::spawn_local(async move {
                if let Ok(now) = crate::decisions::rpc::import_progress(p.id).await {
                    let _ = progress.try_set(Some(now));
                }
            });
        };
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_millis(500)) {
            on_cleanup(move || handle.clear());
        }
    });
    let running = move || progress.get().is_some_and(|p| p.report.is_none());
    view! {
        <details class="card" data-testid="import">
            <summary class="btn">{t!(i18n, import_open)}</summary>
            <p class="hint">{t!(i18n, import_intro)}</p>
            <ActionForm action=start attr:class="stack" attr:data-testid="import-form">
                <label for="import-list">{t!(i18n, import_list)}</label>
                <textarea id="import-list" name="list" rows="8" required spellcheck="false" autocomplete="off"
                    placeholder="203.0.113.7\n198.51.100.0/24" prop:value=move || list.get()
                    on:input=move |ev| list.set(event_target_value(&ev))></textarea>
                <label for="import-file">{t!(i18n, import_file)}</label>
                <input id="import-file" type="file" accept=".txt,.csv,.json,.list,text/plain,text/csv,application/json"
                    on:change=move |ev| {
                        #[cfg(feature = "hydrate")]
                        read_file(ev, list);
                        #[cfg(not(feature = "hydrate"))]
                        let _ = ev;
                    } />
                <input type="hidden" name="format" value="" />
                <label for="import-duration">{t!(i18n, decisions_ban_duration)}</label>
                <input id="import-duration" name="duration" value=IMPORT_DURATION required maxlength="8" />
                <label for="import-reason">{t!(i18n, decisions_ban_reason)}</label>
                <input id="import-reason" name="reason" maxlength="256" />
                <label for="import-origin">{t!(i18n, import_origin)}</label>
                <input id="import-origin" name="origin" value=IMPORT_ORIGIN maxlength="32" pattern="[A-Za-z0-9._\\-]{1,32}" />
                <label for="import-kind">{t!(i18n, col_action)}</label>
                <select id="import-kind" name="kind">
                    <option value="ban" selected>"ban"</option>
                    <option value="captcha">"captcha"</option>
                    <option value="throttle">"throttle"</option>
                </select>
                <label class="check"><input type="checkbox" name="force" value="on" />{t!(i18n, decisions_force_wide)}</label>
                <button type="submit" class="btn btn-primary" data-testid="import-submit" disabled=running>{t!(i18n, import_submit)}</button>
            </ActionForm>
            <div aria-live="polite" data-testid="import-status">
                {move || start.value().try_get().flatten().and_then(|r| r.err()).map(|e| view! { <ErrorMessage error=e /> })}
                {move || progress.get().map(|p| match p.report.clone() {
                    None => {
                        let (done, total) = (p.done, p.total);
                        view! {
                            <p>
                                <progress max=total value=done aria-label=t_string!(i18n, import_progress_label)></progress>
                                " "{t!(i18n, import_running, done = move || done, total = move || total)}
                            </p>
                        }.into_any()
                    }
                    Some(r) => {
                        let (added, dup, bad) = (r.added, r.duplicates, r.invalid);
                        view! {
                            {p.error.clone().map(|e| view! { <p class="alert alert-error" role="alert">{t!(i18n, import_stopped)}" "{e}</p> })}
                            <p class="alert alert-ok" data-testid="import-report">
                                {t!(i18n, import_report, added = move || added, duplicates = move || dup, invalid = move || bad)}
                            </p>
                            {(!r.refused.is_empty()).then(|| view! {
                                <div class="table-scroll"><table class="table" data-testid="import-refused">
                                    <caption>{t!(i18n, import_refused)}</caption>
                                    <thead><tr><th scope="col">{t!(i18n, import_line)}</th><th scope="col">{t!(i18n, col_value)}</th><th scope="col">{t!(i18n, col_reason)}</th></tr></thead>
                                    <tbody>
                                        {r.refused.iter().map(|row| view! {
                                            <tr><td>{row.line}</td><td><code>{row.value.clone()}</code></td><td>{row.reason.clone()}</td></tr>
                                        }).collect_view()}
                                    </tbody>
                                </table></div>
                            })}
                        }.into_any()
                    }
                })}
            </div>
        </details>
    }
}
