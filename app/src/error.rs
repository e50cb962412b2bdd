//! The one error type server functions return. The browser receives `{kind, code}` and translates
//! it; internal details stay in the server log.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A machine-readable reason for a rejected input; each has a message in every locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    #[error("username_invalid")]
    UsernameInvalid,
    #[error("username_taken")]
    UsernameTaken,
    #[error("password_too_short")]
    PasswordTooShort,
    #[error("password_too_long")]
    PasswordTooLong,
    #[error("password_mismatch")]
    PasswordMismatch,
    #[error("setup_code_invalid")]
    SetupCodeInvalid,
    #[error("name_invalid")]
    NameInvalid,
    #[error("role_invalid")]
    RoleInvalid,
    #[error("value_invalid")]
    ValueInvalid,
    #[error("duration_invalid")]
    DurationInvalid,
    #[error("reason_invalid")]
    ReasonInvalid,
    #[error("type_invalid")]
    TypeInvalid,
    #[error("range_too_wide")]
    RangeTooWide,
    /// An operator's ban of a range wider than operators may ban (403).
    #[error("range_beyond_role")]
    RangeBeyondRole,
    /// Not the current code of the authenticator (nor an unused recovery code).
    #[error("totp_code_invalid")]
    TotpCodeInvalid,
    /// A second factor is already on (turn it off first).
    #[error("totp_already_on")]
    TotpAlreadyOn,
    /// A confirmation without a set-up begun.
    #[error("totp_not_started")]
    TotpNotStarted,
    /// The allowlist already has this value.
    #[error("duplicate")]
    Duplicate,
    /// Not an `author/name` of that type in the hub index.
    #[error("hub_item_invalid")]
    HubItemInvalid,
    #[error("domain_invalid")]
    DomainInvalid,
    /// Another proxy host already serves this domain.
    #[error("domain_taken")]
    DomainTaken,
    #[error("upstream_invalid")]
    UpstreamInvalid,
    /// A proxy host's `nodes`: not a list of node names.
    #[error("nodes_invalid")]
    NodesInvalid,
    #[error("enrollment_key_invalid")]
    EnrollmentKeyInvalid,
    #[error("agent_name_invalid")]
    AgentNameInvalid,
    #[error("tags_invalid")]
    TagsInvalid,
    #[error("origin_invalid")]
    OriginInvalid,
    /// An imported list that cannot be read at all (bad JSON, empty, too long).
    #[error("list_invalid")]
    ListInvalid,
    /// An export would hold more rows than one may (narrow the filter).
    #[error("export_too_large")]
    ExportTooLarge,
    /// `format` is neither `csv` nor `json`.
    #[error("format_invalid")]
    FormatInvalid,
    /// An Overview `range` other than `1h`, `24h`, `7d` or `30d`.
    #[error("period_invalid")]
    PeriodInvalid,
    /// A site that is not an enabled proxy host.
    #[error("site_unknown")]
    SiteUnknown,
    /// A path prefix that is not a canonical absolute path.
    #[error("path_prefix_invalid")]
    PathPrefixInvalid,    /// A channel kind Charon does not deliver to.
    #[error("kind_invalid")]
    KindInvalid,
    /// Not an http(s) URL with a host (and without user:password@).
    #[error("url_invalid")]
    UrlInvalid,
    /// A token or signing secret that is missing, too short (signing secrets: 16 characters) or has spaces.
    #[error("secret_invalid")]
    SecretInvalid,
    /// No events, or one a channel cannot subscribe to.
    #[error("events_invalid")]
    EventsInvalid,
    /// A filter, grouping window, hourly limit or quiet hours out of range.
    #[error("rules_invalid")]
    RulesInvalid,
    /// Another channel has this name.
    #[error("name_taken")]
    NameTaken,
    /// The provider's issuer URL: http(s), whose discovery document answers for exactly this issuer.
    #[error("issuer_invalid")]
    IssuerInvalid,
    /// The client ID, and the first time its secret.
    #[error("client_invalid")]
    ClientInvalid,
    /// Scopes: `openid` and others, separated by spaces.
    #[error("scopes_invalid")]
    ScopesInvalid,
    /// At least one `group=role` pair (admin, operator or viewer).
    #[error("role_map_invalid")]
    RoleMapInvalid,
    /// The button's label: 1 to 64 characters.
    #[error("label_invalid")]
    LabelInvalid,
    /// Password sign-in stays on until single sign-on is on and an administrator has signed in through it.
    #[error("password_login_needs_sso")]
    PasswordLoginNeedsSso,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UsernameInvalid => "username_invalid",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::PasswordTooShort => "password_too_short",
            ErrorCode::PasswordTooLong => "password_too_long",
            ErrorCode::PasswordMismatch => "password_mismatch",
            ErrorCode::SetupCodeInvalid => "setup_code_invalid",
            ErrorCode::NameInvalid => "name_invalid",
            ErrorCode::RoleInvalid => "role_invalid",
            ErrorCode::ValueInvalid => "value_invalid",
            ErrorCode::DurationInvalid => "duration_invalid",
            ErrorCode::ReasonInvalid => "reason_invalid",
            ErrorCode::TypeInvalid => "type_invalid",
            ErrorCode::RangeTooWide => "range_too_wide",
            ErrorCode::RangeBeyondRole => "range_beyond_role",
            ErrorCode::TotpCodeInvalid => "totp_code_invalid",
            ErrorCode::TotpAlreadyOn => "totp_already_on",
            ErrorCode::TotpNotStarted => "totp_not_started",
            ErrorCode::Duplicate => "duplicate",
            ErrorCode::HubItemInvalid => "hub_item_invalid",
            ErrorCode::DomainInvalid => "domain_invalid",
            ErrorCode::DomainTaken => "domain_taken",
            ErrorCode::UpstreamInvalid => "upstream_invalid",
            ErrorCode::NodesInvalid => "nodes_invalid",
            ErrorCode::EnrollmentKeyInvalid => "enrollment_key_invalid",
            ErrorCode::AgentNameInvalid => "agent_name_invalid",
            ErrorCode::TagsInvalid => "tags_invalid",
            ErrorCode::OriginInvalid => "origin_invalid",
            ErrorCode::ListInvalid => "list_invalid",
            ErrorCode::ExportTooLarge => "export_too_large",
            ErrorCode::FormatInvalid => "format_invalid",
            ErrorCode::PeriodInvalid => "period_invalid",
            ErrorCode::SiteUnknown => "site_unknown",
            ErrorCode::PathPrefixInvalid => "path_prefix_invalid",
            ErrorCode::KindInvalid => "kind_invalid",
            ErrorCode::UrlInvalid => "url_invalid",
            ErrorCode::SecretInvalid => "secret_invalid",
            ErrorCode::EventsInvalid => "events_invalid",
            ErrorCode::RulesInvalid => "rules_invalid",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::IssuerInvalid => "issuer_invalid",
            ErrorCode::ClientInvalid => "client_invalid",
            ErrorCode::ScopesInvalid => "scopes_invalid",
            ErrorCode::RoleMapInvalid => "role_map_invalid",
            ErrorCode::LabelInvalid => "label_invalid",
            ErrorCode::PasswordLoginNeedsSso => "password_login_needs_sso",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ErrorCode::UsernameInvalid,
            ErrorCode::UsernameTaken,
            ErrorCode::PasswordTooShort,
            ErrorCode::PasswordTooLong,
            ErrorCode::PasswordMismatch,
            ErrorCode::SetupCodeInvalid,
            ErrorCode::NameInvalid,
            ErrorCode::RoleInvalid,
            ErrorCode::ValueInvalid,
            ErrorCode::DurationInvalid,
            ErrorCode::ReasonInvalid,
            ErrorCode::TypeInvalid,
            ErrorCode::RangeTooWide,
            ErrorCode::RangeBeyondRole,
            ErrorCode::TotpCodeInvalid,
            ErrorCode::TotpAlreadyOn,
            ErrorCode::TotpNotStarted,
            ErrorCode::Duplicate,
            ErrorCode::HubItemInvalid,
            ErrorCode::DomainInvalid,
            ErrorCode::DomainTaken,
            ErrorCode::UpstreamInvalid,
            ErrorCode::NodesInvalid,
            ErrorCode::EnrollmentKeyInvalid,
            ErrorCode::AgentNameInvalid,
            ErrorCode::TagsInvalid,
            ErrorCode::OriginInvalid,
            ErrorCode::ListInvalid,
            ErrorCode::ExportTooLarge,
            ErrorCode::FormatInvalid,
            ErrorCode::PeriodInvalid,
            ErrorCode::SiteUnknown,
            ErrorCode::PathPrefixInvalid,
            ErrorCode::KindInvalid,
            ErrorCode::UrlInvalid,
            ErrorCode::SecretInvalid,
            ErrorCode::EventsInvalid,
            ErrorCode::RulesInvalid,
            ErrorCode::NameTaken,
            ErrorCode::IssuerInvalid,
            ErrorCode::ClientInvalid,
            ErrorCode::ScopesInvalid,
            ErrorCode::RoleMapInvalid,
            ErrorCode::LabelInvalid,
            ErrorCode::PasswordLoginNeedsSso,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineErrorCode {
    /// No `crowdsec`/`cscli` binary was found.
    NotInstalled,
    /// Another start or stop is in progress.
    Busy,
    /// The engine did not start or its LAPI did not become ready.
    StartFailed,
    /// The LAPI is not reachable (engine stopped or starting).
    LapiUnavailable,
    /// Registering or validating the bouncer key failed.
    BouncerFailed,
    /// The hub index is missing or unreadable.
    HubUnavailable,
    /// Another hub install or remove is in progress.
    HubBusy,
    /// The item is part of an installed collection; `detail` names it.
    HubItemInUse,
    /// An install or remove failed and was rolled back; `detail` says why.
    HubChangeFailed,
    /// Caddy refused the new configuration (the old one keeps running); `detail` has its message.
    ProxyRejected,
    /// The data plane is off or Caddy is not running.
    ProxyUnavailable,
    /// The Central API refused the enrollment key ("invalid enrollment key").
    EnrollKeyRejected,
    /// "token expired".
    EnrollTokenExpired,
    /// The Central API refused our watcher's login ("unauthorized").
    EnrollUnauthorized,
    /// "instance already enrolled" (the Central API answered 200 without overwrite).
    EnrollAlreadyEnrolled,
    /// "connection refused" reaching the Central API.
    CapiRefused,
    /// The Central API did not answer in time ("timeout").
    CapiTimeout,
    /// The Central API failed (5xx or a transport error); `detail` says how.
    CapiUnavailable,
    /// `capi_url = off`.
    CapiOff,
    /// No fleet listener (`fleet_listen` unset): nodes cannot join.
    FleetOff,
}

impl EngineErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineErrorCode::NotInstalled => "not_installed",
            EngineErrorCode::Busy => "busy",
            EngineErrorCode::StartFailed => "start_failed",
            EngineErrorCode::LapiUnavailable => "lapi_unavailable",
            EngineErrorCode::BouncerFailed => "bouncer_failed",
            EngineErrorCode::HubUnavailable => "hub_unavailable",
            EngineErrorCode::HubBusy => "hub_busy",
            EngineErrorCode::HubItemInUse => "hub_item_in_use",
            EngineErrorCode::HubChangeFailed => "hub_change_failed",
            EngineErrorCode::ProxyRejected => "proxy_rejected",
            EngineErrorCode::ProxyUnavailable => "proxy_unavailable",
            EngineErrorCode::EnrollKeyRejected => "enroll_key_rejected",
            EngineErrorCode::EnrollTokenExpired => "enroll_token_expired",
            EngineErrorCode::EnrollUnauthorized => "enroll_unauthorized",
            EngineErrorCode::EnrollAlreadyEnrolled => "enroll_already_enrolled",
            EngineErrorCode::CapiRefused => "capi_refused",
            EngineErrorCode::CapiTimeout => "capi_timeout",
            EngineErrorCode::CapiUnavailable => "capi_unavailable",
            EngineErrorCode::CapiOff => "capi_off",
            EngineErrorCode::FleetOff => "fleet_off",
        }
    }
}

impl EngineErrorCode {
    /// The documented English message (the spec's troubleshooting section quotes some of them);
    /// REST answers and `last_error` carry it, the UI translates the code instead.
    pub fn message(self) -> &'static str {
        match self {
            EngineErrorCode::NotInstalled => "CrowdSec is not installed",
            EngineErrorCode::Busy => "a start or stop of CrowdSec is already in progress",
            EngineErrorCode::StartFailed => "CrowdSec failed to start",
            EngineErrorCode::LapiUnavailable => "LAPI not available",
            EngineErrorCode::BouncerFailed => "the bouncer key could not be registered",
            EngineErrorCode::HubUnavailable => "the hub index is not available",
            EngineErrorCode::HubBusy => "another hub install or remove is in progress",
            EngineErrorCode::HubItemInUse => "the item is part of an installed collection; remove the collection instead",
            EngineErrorCode::HubChangeFailed => "the change failed and was rolled back",
            EngineErrorCode::ProxyRejected => "Caddy refused the configuration; the previous one keeps running",
            EngineErrorCode::ProxyUnavailable => "the proxy is not running",
            EngineErrorCode::EnrollKeyRejected => "invalid enrollment key",
            EngineErrorCode::EnrollTokenExpired => "token expired",
            EngineErrorCode::EnrollUnauthorized => "unauthorized",
            EngineErrorCode::EnrollAlreadyEnrolled => "instance already enrolled",
            EngineErrorCode::CapiRefused => "connection refused",
            EngineErrorCode::CapiTimeout => "timeout",
            EngineErrorCode::CapiUnavailable => "CAPI unavailable",
            EngineErrorCode::CapiOff => "the Central API is turned off (capi_url = off)",
            EngineErrorCode::FleetOff => "the fleet listener is off (set fleet_listen)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("invalid input: {code}")]
    Invalid { code: ErrorCode },
    /// The CrowdSec engine could not do what was asked; `detail` is a safe, human-readable reason
    /// (never a secret).
    #[error("engine error: {code:?}")]
    Engine {
        code: EngineErrorCode,
        detail: Option<String>,
    },
    /// A ban would cover an address an administrator uses (a signed-in admin's, the caller's, or
    /// one listed in `admin_addresses`); it is made only when confirmed.
    #[error("would lock out an administrator: {address}")]
    LocksOut { address: String },
    #[error("internal error")]
    Internal,
    /// Transport-level failure (network, decoding) reported by the server-fn machinery.
    #[error("request failed")]
    Transport,
}

impl ErrorCode {
    /// The input field a code is about, for 400 answers that name it.
    pub fn field(self) -> &'static str {
        match self {
            ErrorCode::UsernameInvalid | ErrorCode::UsernameTaken => "username",
            ErrorCode::PasswordTooShort | ErrorCode::PasswordTooLong | ErrorCode::PasswordMismatch => "password",
            ErrorCode::SetupCodeInvalid => "setup_code",
            ErrorCode::NameInvalid => "name",
            ErrorCode::RoleInvalid => "role",
            ErrorCode::ValueInvalid | ErrorCode::Duplicate | ErrorCode::RangeTooWide | ErrorCode::RangeBeyondRole => "value",
            ErrorCode::HubItemInvalid => "name",
            ErrorCode::DomainInvalid | ErrorCode::DomainTaken => "domain",
            ErrorCode::UpstreamInvalid => "upstream",
            ErrorCode::NodesInvalid => "nodes",
            ErrorCode::EnrollmentKeyInvalid => "enrollment_key",
            ErrorCode::AgentNameInvalid => "agent_name",
            ErrorCode::TagsInvalid => "tags",
            ErrorCode::DurationInvalid => "duration",
            ErrorCode::ReasonInvalid => "reason",
            ErrorCode::TypeInvalid => "type",
            ErrorCode::OriginInvalid => "origin",
            ErrorCode::ListInvalid => "list",
            ErrorCode::ExportTooLarge | ErrorCode::FormatInvalid => "format",
            ErrorCode::PeriodInvalid => "range",
            ErrorCode::SiteUnknown => "sites",
            ErrorCode::PathPrefixInvalid => "path_prefix",
            ErrorCode::KindInvalid => "kind",
            ErrorCode::UrlInvalid => "url",
            ErrorCode::SecretInvalid => "secret",
            ErrorCode::EventsInvalid => "events",
            ErrorCode::RulesInvalid => "rules",
            ErrorCode::NameTaken => "name",
            ErrorCode::TotpCodeInvalid | ErrorCode::TotpAlreadyOn | ErrorCode::TotpNotStarted => "code",
            ErrorCode::IssuerInvalid => "issuer",
            ErrorCode::ClientInvalid => "client_id",
            ErrorCode::ScopesInvalid => "scopes",
            ErrorCode::RoleMapInvalid => "role_map",
            ErrorCode::LabelInvalid => "label",
            ErrorCode::PasswordLoginNeedsSso => "password_login",
        }
    }
}

impl From<ErrorCode> for AppError {
    fn from(code: ErrorCode) -> Self {
        AppError::Invalid { code }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(_value: ServerFnErrorErr) -> Self {
        AppError::Transport
    }
}

impl AppError {
    /// The documented English message with its detail, as REST answers and `last_error` show it.
    pub fn message(&self) -> String {
        match self {
            AppError::Engine { code, detail: Some(d) } => format!("{}: {d}", code.message()),
            AppError::Engine { code, detail: None } => code.message().to_owned(),
            other => other.to_string(),
        }
    }
}

/// The one table from an error to its HTTP status: server functions (`auth::guard::status_for`)
/// and the REST API answer with the same codes.
#[cfg(feature = "ssr")]
impl EngineErrorCode {
    pub fn http_status(self) -> http::StatusCode {
        use http::StatusCode as S;
        use EngineErrorCode as E;
        match self {
            E::Busy | E::HubBusy | E::HubItemInUse | E::EnrollAlreadyEnrolled => S::CONFLICT,
            E::NotInstalled | E::LapiUnavailable | E::HubUnavailable | E::ProxyUnavailable | E::CapiOff | E::FleetOff => {
                S::SERVICE_UNAVAILABLE
            }
            E::StartFailed
            | E::BouncerFailed
            | E::HubChangeFailed
            | E::ProxyRejected
            | E::CapiRefused
            | E::CapiUnavailable
            | E::EnrollUnauthorized => S::BAD_GATEWAY,
            E::EnrollKeyRejected | E::EnrollTokenExpired => S::UNPROCESSABLE_ENTITY,
            E::CapiTimeout => S::GATEWAY_TIMEOUT,
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    pub fn http_status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            AppError::Unauthorized => S::UNAUTHORIZED,
            AppError::Forbidden => S::FORBIDDEN,
            AppError::NotFound => S::NOT_FOUND,
            AppError::Invalid { code: ErrorCode::UsernameTaken | ErrorCode::Duplicate | ErrorCode::DomainTaken | ErrorCode::NameTaken | ErrorCode::TotpAlreadyOn } => {
                S::CONFLICT
            }
            AppError::Invalid { code: ErrorCode::RangeBeyondRole } => S::FORBIDDEN,
            AppError::Invalid { .. } => S::BAD_REQUEST,
            AppError::LocksOut { .. } => S::CONFLICT,
            AppError::Engine { code, .. } => code.http_status(),
            AppError::Internal | AppError::Transport => S::INTERNAL_SERVER_ERROR,
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod status_tests {
    use super::*;

    #[test]
    fn conflicts_are_409_and_other_bad_input_is_400() {
        assert_eq!(AppError::Invalid { code: ErrorCode::UsernameTaken }.http_status(), 409);
        assert_eq!(AppError::Invalid { code: ErrorCode::DomainTaken }.http_status(), 409);
        assert_eq!(AppError::Invalid { code: ErrorCode::ValueInvalid }.http_status(), 400);
        assert_eq!(AppError::Forbidden.http_status(), 403);
        assert_eq!(AppError::Engine { code: EngineErrorCode::HubBusy, detail: None }.http_status(), 409);
        assert_eq!(AppError::Engine { code: EngineErrorCode::CapiTimeout, detail: None }.http_status(), 504);
    }
}
