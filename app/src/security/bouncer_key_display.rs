use leptos::prelude::*;

use crate::components::error_message::error_text;
use crate::i18n::*;
use crate::security::rpc::{get_bouncer_info, get_bouncer_key};
use crate::security::model::{BouncerInfo, KeySource};

/// What the display shows; a pure function of the fetch result, so every state is testable by
/// rendering it on the server.
#[component]
pub fn BouncerKeyView(
    info: Option<Result<BouncerInfo, crate::error::AppError>>,
    #[prop(into)] on_retry: Callback<()>,
    #[prop(into)] on_copy: Callback<()>,
    #[prop(into)] can_copy: Signal<bool>,
) -> impl IntoView {
    let i18n = use_i18n();
    match info {
        None => view! {
            <div data-testid="bouncer-key-skeleton" aria-busy="true">
                <p class="skeleton" aria-hidden="true"></p>
                <p class="skeleton" aria-hidden="true"></p>
            </div>
        }
        .into_any(),
        Some(Err(e)) => view! {
            <div class="alert alert-error" role="alert" data-testid="bouncer-key-error">
                <p>{t!(i18n, bouncer_load_failed)}" "{move || error_text(i18n, &e)}</p>
                <button type="button" class="btn btn-secondary" on:click=move |_| on_retry.run(())>
                    {t!(i18n, retry)}
                </button>
            </div>
        }
        .into_any(),
        Some(Ok(info)) if info.key_preview.is_none() => view! {
            <p data-testid="bouncer-key-none">{t!(i18n, bouncer_no_key)}</p>
        }
        .into_any(),
        Some(Ok(info)) => {
            let registered = info.registered;
            let source = info.key_source;
            view! {
                <div class="bouncer-key">
                    <h3>{t!(i18n, bouncer_key_title)}</h3>
                    <div class="key-row">
                        <code data-testid="bouncer-key-preview">{info.key_preview.clone()}</code>
                        <Show when=move || can_copy.get()>
                            <button type="button" class="btn btn-secondary" data-testid="bouncer-key-copy"
                                on:click=move |_| on_copy.run(())>
                                {t!(i18n, copy)}
                            </button>
                        </Show>
                    </div>
                    <div class="badges">
                        <span class=if registered { "badge badge-ok" } else { "badge badge-warn" } data-testid="bouncer-registered">
                            {move || if registered { t_string!(i18n, bouncer_registered) } else { t_string!(i18n, bouncer_not_registered) }}
                        </span>
                        <span class="badge" data-testid="bouncer-key-source">
                            {move || match source {
                                KeySource::Env => t_string!(i18n, bouncer_from_env),
                                _ => t_string!(i18n, bouncer_from_file),
                            }}
                        </span>
                    </div>
                    {info.env_key_rejected.then(|| view! {
                        <p class="alert alert-error">{t!(i18n, bouncer_env_rejected)}</p>
                    })}
                    <p class="hint">{t!(i18n, bouncer_key_path)}" "<code data-testid="bouncer-key-path">{info.key_path.clone()}</code></p>
                </div>
            }
            .into_any()
        }
    }
}

/// The bouncer-key display of the Security page: fetches the registration, shows it masked, and
/// copies the full key to the clipboard on request (fetched only then, and audited).
#[component]
pub fn BouncerKeyDisplay(#[prop(into)] can_copy: Signal<bool>) -> impl IntoView {
    let i18n = use_i18n();
    let reload = RwSignal::new(0u32);
    let info = Resource::new(move || reload.try_get().unwrap_or_default(), |_| get_bouncer_info());
    let copied: RwSignal<Option<bool>> = RwSignal::new(None);
    let copy = move || {
        leptos::task::spawn_local(async move {
            let ok = match get_bouncer_key().await {
                Ok(key) => write_clipboard(&key).await,
                Err(_) => false,
            };
            copied.set(Some(ok));
        });
    };
    view! {
        <div data-testid="bouncer-key-display" class="bouncer-key-display">
            <Transition fallback=move || view! {
                <BouncerKeyView info=None on_retry=move |_| () on_copy=move |_| () can_copy=can_copy />
            }>
                {move || Suspend::new(async move {
                    let value = info.await;
                    view! {
                        <BouncerKeyView
                            info=Some(value)
                            on_retry=move |_| reload.update(|n| *n += 1)
                            on_copy=move |_| copy()
                            can_copy=can_copy
                        />
                    }
                })}
            </Transition>
            <div aria-live="polite">
                {move || copied.get().map(|ok| if ok {
                    view! { <p class="alert alert-ok toast" data-testid="bouncer-key-copied">{t!(i18n, key_copied)}</p> }.into_any()
                } else {
                    view! { <p class="alert alert-error toast" data-testid="bouncer-key-copy-failed">{t!(i18n, key_copy_failed)}</p> }.into_any()
                })}
            </div>
        </div>
    }
}

#[allow(unused_variables)]
async fn write_clipboard(text: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let Some(window) = web_sys::window() else { return false };
        let promise = window.navigator().clipboard().write_text(text);
        return wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
    }
    #[cfg(not(feature = "hydrate"))]
    false
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::error::{AppError, EngineErrorCode};

    fn render(info: Option<Result<BouncerInfo, AppError>>, can_copy: bool) -> String {
        // The i18n provider spawns tasks; tests render inside a Tokio runtime.
        let _ = any_spawner::Executor::init_tokio();
        let owner = Owner::new();
        owner.set();
        view! {
            <I18nContextProvider>
                <BouncerKeyView info=info on_retry=|_| () on_copy=|_| () can_copy=Signal::derive(move || can_copy) />
            </I18nContextProvider>
        }
        .to_html()
        // Erased components leave `<!>` hydration markers between nodes; they are not content.
        .replace("<!>", "")
    }

    fn info(preview: Option<&str>, source: KeySource, registered: bool) -> BouncerInfo {
        BouncerInfo {
            name: "charon-bouncer".into(),
            key_preview: preview.map(str::to_owned),
            key_source: source,
            key_path: "/data/crowdsec/bouncer_key".into(),
            registered,
            last_pull: None,
            env_key_rejected: false,
        }
    }

    #[tokio::test]
    async fn loading_shows_skeletons() {
        let html = render(None, true);
        assert!(html.contains("data-testid=\"bouncer-key-skeleton\""), "{html}");
        assert!(html.contains("class=\"skeleton\""));
    }

    #[tokio::test]
    async fn an_error_shows_a_message_and_a_retry_button_not_a_blank() {
        let html = render(
            Some(Err(AppError::Engine { code: EngineErrorCode::LapiUnavailable, detail: None })),
            true,
        );
        assert!(html.contains("data-testid=\"bouncer-key-error\""), "{html}");
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("The bouncer key could not be loaded."));
        assert!(html.contains("LAPI not available"));
        assert!(html.contains(">Retry<"));
    }

    #[tokio::test]
    async fn no_key_explains_how_to_get_one() {
        let html = render(Some(Ok(info(None, KeySource::None, false))), true);
        assert!(html.contains("No bouncer key configured. Enable CrowdSec to auto-register."), "{html}");
        assert!(!html.contains("bouncer-key-copy"));
    }

    #[tokio::test]
    async fn a_key_from_file_is_masked_with_copy_badges_and_path() {
        let html = render(Some(Ok(info(Some("0123…def"), KeySource::File, true))), true);
        assert!(html.contains("Bouncer API Key"), "{html}");
        assert!(html.contains("<code data-testid=\"bouncer-key-preview\">0123…def</code>"), "{html}");
        assert!(html.contains("data-testid=\"bouncer-key-copy\""));
        assert!(html.contains(">Registered<"));
        assert!(html.contains(">From file<"));
        assert!(html.contains("Key stored at:"));
        assert!(html.contains("/data/crowdsec/bouncer_key"));
    }

    #[tokio::test]
    async fn an_unregistered_environment_key_says_so_and_viewers_get_no_copy_button() {
        let html = render(Some(Ok(info(Some("abcd…xyz"), KeySource::Env, false))), false);
        assert!(html.contains(">Not registered<"), "{html}");
        assert!(html.contains(">From environment variable<"));
        assert!(!html.contains("bouncer-key-copy"));
    }
}
