use leptos::prelude::*;

use crate::error::{AppError, EngineErrorCode, ErrorCode};
use crate::i18n::*;
use leptos_i18n::I18nContext;

/// The translated text for an error the server returned.
pub fn error_text(i18n: I18nContext<Locale>, err: &AppError) -> &'static str {
    match err {
        AppError::Unauthorized => t_string!(i18n, error_unauthorized),
        AppError::Forbidden => t_string!(i18n, error_forbidden),
        AppError::NotFound => t_string!(i18n, error_not_found),
        AppError::Invalid { code } => code_text(i18n, *code),
        AppError::Engine { code, .. } => engine_text(i18n, *code),
        AppError::LocksOut { .. } => t_string!(i18n, error_locks_out),
        AppError::Internal | AppError::Transport => t_string!(i18n, error_internal),
    }
}

pub fn engine_text(i18n: I18nContext<Locale>, code: EngineErrorCode) -> &'static str {
    match code {
        EngineErrorCode::NotInstalled => t_string!(i18n, engine_not_installed),
        EngineErrorCode::Busy => t_string!(i18n, engine_busy),
        EngineErrorCode::StartFailed => t_string!(i18n, engine_start_failed),
        EngineErrorCode::LapiUnavailable => t_string!(i18n, engine_lapi_unavailable),
        EngineErrorCode::BouncerFailed => t_string!(i18n, engine_bouncer_failed),
        EngineErrorCode::HubUnavailable => t_string!(i18n, hub_error_unavailable),
        EngineErrorCode::HubBusy => t_string!(i18n, hub_error_busy),
        EngineErrorCode::HubItemInUse => t_string!(i18n, hub_error_in_use),
        EngineErrorCode::HubChangeFailed => t_string!(i18n, hub_error_failed),
        EngineErrorCode::ProxyRejected => t_string!(i18n, proxy_error_rejected),
        EngineErrorCode::ProxyUnavailable => t_string!(i18n, proxy_error_unavailable),
        EngineErrorCode::EnrollKeyRejected => t_string!(i18n, console_error_key_rejected),
        EngineErrorCode::EnrollTokenExpired => t_string!(i18n, console_error_token_expired),
        EngineErrorCode::EnrollUnauthorized => t_string!(i18n, console_error_unauthorized),
        EngineErrorCode::EnrollAlreadyEnrolled => t_string!(i18n, console_error_already_enrolled),
        EngineErrorCode::CapiRefused => t_string!(i18n, console_error_refused),
        EngineErrorCode::CapiTimeout => t_string!(i18n, console_error_timeout),
        EngineErrorCode::CapiUnavailable => t_string!(i18n, console_error_capi_unavailable),
        EngineErrorCode::CapiOff => t_string!(i18n, console_error_capi_off),
        EngineErrorCode::FleetOff => t_string!(i18n, fleet_error_off),
    }
}

pub fn code_text(i18n: I18nContext<Locale>, code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::UsernameInvalid => t_string!(i18n, error_username_invalid),
        ErrorCode::UsernameTaken => t_string!(i18n, error_username_taken),
        ErrorCode::PasswordTooShort => t_string!(i18n, error_password_short),
        ErrorCode::PasswordTooLong => t_string!(i18n, error_password_long),
        ErrorCode::PasswordMismatch => t_string!(i18n, error_password_mismatch),
        ErrorCode::SetupCodeInvalid => t_string!(i18n, error_setup_code_invalid),
        ErrorCode::NameInvalid => t_string!(i18n, error_name_invalid),
        ErrorCode::RoleInvalid => t_string!(i18n, error_internal),
        ErrorCode::ValueInvalid => t_string!(i18n, error_value_invalid),
        ErrorCode::DurationInvalid => t_string!(i18n, error_duration_invalid),
        ErrorCode::ReasonInvalid => t_string!(i18n, error_reason_invalid),
        ErrorCode::TypeInvalid => t_string!(i18n, error_type_invalid),
        ErrorCode::RangeTooWide => t_string!(i18n, error_range_too_wide),
        ErrorCode::RangeBeyondRole => t_string!(i18n, error_range_beyond_role),
        ErrorCode::TotpCodeInvalid => t_string!(i18n, error_totp_code_invalid),
        ErrorCode::TotpAlreadyOn => t_string!(i18n, error_totp_already_on),
        ErrorCode::TotpNotStarted => t_string!(i18n, error_totp_not_started),
        ErrorCode::Duplicate => t_string!(i18n, error_duplicate),
        ErrorCode::HubItemInvalid => t_string!(i18n, hub_error_item_invalid),
        ErrorCode::DomainInvalid => t_string!(i18n, proxy_error_domain),
        ErrorCode::DomainTaken => t_string!(i18n, proxy_error_domain_taken),
        ErrorCode::UpstreamInvalid => t_string!(i18n, proxy_error_upstream),
        ErrorCode::NodesInvalid => t_string!(i18n, proxy_error_nodes),
        ErrorCode::EnrollmentKeyInvalid => t_string!(i18n, console_error_key_format),
        ErrorCode::AgentNameInvalid => t_string!(i18n, console_error_agent_name),
        ErrorCode::TagsInvalid => t_string!(i18n, console_error_tags),
        ErrorCode::OriginInvalid => t_string!(i18n, error_origin_invalid),
        ErrorCode::ListInvalid => t_string!(i18n, error_list_invalid),
        ErrorCode::ExportTooLarge => t_string!(i18n, error_export_too_large),
        ErrorCode::FormatInvalid => t_string!(i18n, error_format_invalid),
        ErrorCode::PeriodInvalid => t_string!(i18n, error_period_invalid),
        ErrorCode::SiteUnknown => t_string!(i18n, error_site_unknown),
        ErrorCode::PathPrefixInvalid => t_string!(i18n, error_path_prefix_invalid),
        ErrorCode::KindInvalid => t_string!(i18n, error_kind_invalid),
        ErrorCode::UrlInvalid => t_string!(i18n, error_url_invalid),
        ErrorCode::SecretInvalid => t_string!(i18n, error_secret_invalid),
        ErrorCode::EventsInvalid => t_string!(i18n, error_events_invalid),
        ErrorCode::RulesInvalid => t_string!(i18n, error_rules_invalid),
        ErrorCode::NameTaken => t_string!(i18n, error_name_taken),
        ErrorCode::IssuerInvalid => t_string!(i18n, error_issuer_invalid),
        ErrorCode::ClientInvalid => t_string!(i18n, error_client_invalid),
        ErrorCode::ScopesInvalid => t_string!(i18n, error_scopes_invalid),
        ErrorCode::RoleMapInvalid => t_string!(i18n, error_role_map_invalid),
        ErrorCode::LabelInvalid => t_string!(i18n, error_label_invalid),
        ErrorCode::PasswordLoginNeedsSso => t_string!(i18n, error_password_login_needs_sso),
    }
}

/// An error announced to screen readers as it appears.
#[component]
pub fn ErrorMessage(error: AppError) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <p class="alert alert-error" role="alert" data-testid="error-message">
            {
                let detail = match &error {
                    AppError::Engine { detail: Some(d), .. } => Some(format!(" ({d})")),
                    AppError::LocksOut { address } => Some(format!(" ({address})")),
                    _ => None,
                };
                move || format!("{}{}", error_text(i18n, &error), detail.clone().unwrap_or_default())
            }
        </p>
    }
}
