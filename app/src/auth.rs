//! Who is calling: the `whoami` server function and, on the server, the guards every server
//! function uses before it touches a service.

use leptos::prelude::*;

use crate::error::AppError;
use crate::i18n::*;
use crate::accounts::model::Principal;
#[cfg(feature = "ssr")]
use crate::accounts::model::Admin;

/// The signed-in user, or `None` (the auth layer already turned anonymous callers away from every
/// protected route, so `None` only happens on public pages).
#[server(prefix = "/rpc", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Principal>, AppError> {
    Ok(guard::principal().ok())
}

/// How one may sign in here: with a password (unless turned off), and through an identity
/// provider when one is configured (`oidc_label` names it on the button).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignInOptions {
    pub password: bool,
    pub oidc_label: Option<String>,
}

impl SignInOptions {
    /// The server's options (it provides them to every render; the sign-in page writes them on
    /// its `<main>`); in the browser, what the server wrote there — so hydration renders the same.
    pub fn current() -> SignInOptions {
        #[cfg(feature = "ssr")]
        {
            use_context::<SignInOptions>().unwrap_or(SignInOptions { password: true, oidc_label: None })
        }
        #[cfg(not(feature = "ssr"))]
        {
            let main = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("main"));
            let attr = |name: &str| main.as_ref().and_then(|m| m.get_attribute(name));
            SignInOptions { password: attr("data-password").is_none_or(|p| p != "false"), oidc_label: attr("data-sso").filter(|l| !l.is_empty()) }
        }
    }
}

/// Where to go after signing in: only a path on this origin, never another site. Refused (and
/// replaced by `/overview`, the landing page): anything not starting with one `/`, scheme-relative forms (`//host`),
/// backslashes (browsers read `/\host` as `//host`) and control characters anywhere (browsers drop
/// tabs and newlines from URLs, so `/\t/host` becomes `//host`), and over-long values.
pub fn safe_next(raw: Option<String>) -> String {
    const FALLBACK: &str = "/overview";
    let Some(p) = raw else { return FALLBACK.to_owned() };
    let local = p.starts_with('/')
        && !p.starts_with("//")
        && p.len() <= 2048
        && !p.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    if local {
        p
    } else {
        FALLBACK.to_owned()
    }
}

/// Title and message of the server's plain "too many attempts" page (rendered outside Leptos).
pub fn rate_limited_texts(locale: Locale) -> (&'static str, &'static str) {
    (
        td_string!(locale, login_title),
        td_string!(locale, login_error_rate_limited),
    )
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_only_accepts_local_paths() {
        assert_eq!(safe_next(Some("/settings?x=1".into())), "/settings?x=1");
        assert_eq!(safe_next(Some("//evil.example/".into())), "/overview");
        assert_eq!(safe_next(Some("https://evil.example/".into())), "/overview");
        assert_eq!(safe_next(Some("/\\evil.example".into())), "/overview");
        assert_eq!(safe_next(None), "/overview");
    }

    #[test]
    fn next_refuses_what_a_browser_would_turn_into_another_site() {
        for evil in ["/\t/evil.example", "/\n/evil.example", "/\r//evil.example", "/ /evil.example", "\\evil.example", "/\u{0}x", "//", "evil.example", ""] {
            assert_eq!(safe_next(Some(evil.into())), "/overview", "{evil:?}");
        }
        assert_eq!(safe_next(Some("/security/hub?type=parsers&q=nginx%20logs".into())), "/security/hub?type=parsers&q=nginx%20logs");
        assert_eq!(safe_next(Some(format!("/{}", "a".repeat(3000)))), "/overview");
    }
}


#[cfg(feature = "ssr")]
pub mod guard {
    use http::StatusCode;
    use leptos::prelude::*;

    use super::*;
    use crate::services::Services;

    fn set_status(code: StatusCode) {
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(code);
        }
    }

    /// The caller, or 401.
    pub fn principal() -> Result<Principal, AppError> {
        let found = use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>().cloned());
        found.ok_or_else(|| {
            set_status(StatusCode::UNAUTHORIZED);
            AppError::Unauthorized
        })
    }

    /// The caller as an [`Admin`] (an administrator, or an operator on one of its duties), or
    /// 401/403. The only road to a mutating service method.
    pub fn admin() -> Result<Admin, AppError> {
        let principal = principal()?;
        let (method, path) = use_context::<http::request::Parts>()
            .map(|p| (p.method.to_string(), p.uri.path().to_owned()))
            .unwrap_or_default();
        Admin::for_request(principal, &method, &path).map_err(|e| {
            set_status(StatusCode::FORBIDDEN);
            e.into()
        })
    }

    pub fn services() -> Result<Services, AppError> {
        use_context::<Services>().ok_or(AppError::Internal)
    }

    /// Sets the response status from the one error table (`AppError::http_status`), so browsers
    /// and scripts see the same codes as REST.
    pub fn status_for<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(e) = &result {
            set_status(e.http_status());
        }
        result
    }
}
