//! Domain types shared by the server and the browser: who is acting, and the account records the
//! Settings page shows. Input newtypes (`Username`, `Password`, `TokenName`) can only hold valid
//! values; they are parsed at the edge (forms, REST, CLI) and the rest of the code cannot see bad input.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    /// The daily false-positive work: ban (ranges up to a limit), unban, unban and allow, add
    /// allowlist entries ([`super::duties::OPERATOR_ACTIONS`]); reads like a viewer otherwise.
    Operator,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ErrorCode> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(ErrorCode::RoleInvalid)
    }

    /// Only administrators change the engine, hub, console, proxy hosts, users, tokens and
    /// settings.
    pub fn may_mutate(self) -> bool {
        self == Role::Admin
    }

    /// The lesser of two roles (a token acts with its own role, capped by its creator's).
    pub fn at_most(self, cap: Role) -> Role {
        let rank = |r: Role| match r {
            Role::Viewer => 0,
            Role::Operator => 1,
            Role::Admin => 2,
        };
        if rank(self) <= rank(cap) { self } else { cap }
    }

    /// Administrators and operators ban, unban and allow (what the pages offer them).
    pub fn may_unban(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    Session,
    Token,
    /// `charon admin …` on the server itself; never arrives over HTTP.
    Cli,
}

/// The authenticated caller of a request, placed in the request's extensions by the server's auth
/// layer and read by server functions and REST handlers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub method: AuthMethod,
    /// The API token's name, when a token acts for its creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    /// The address the request came from (the audit log records it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The session's handle when signed in with a session (the Sessions page marks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl Principal {
    /// Through what the caller acts, for the audit log: `web UI`, `API token "name"`, `CLI`.
    pub fn via(&self) -> String {
        match (self.method, &self.token_name) {
            (AuthMethod::Session, _) => "web UI".to_owned(),
            (AuthMethod::Token, Some(name)) => format!("API token \"{name}\""),
            (AuthMethod::Token, None) => "API token".to_owned(),
            (AuthMethod::Cli, _) => "CLI".to_owned(),
        }
    }
}

/// Proof that the caller may change things or read secrets. [`Admin::check`] (an administrator)
/// and [`Admin::for_request`] (an administrator, or an operator on one of the requests of
/// [`super::duties::OPERATOR_ACTIONS`]) are the only ways to make one; every mutating or
/// secret-revealing service method takes an `&Admin`, so a forgotten role check does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(Principal);

/// A principal was asked to act as an administrator but is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAdmin;

impl Admin {
    pub fn check(principal: Principal) -> Result<Admin, NotAdmin> {
        if principal.role.may_mutate() {
            Ok(Admin(principal))
        } else {
            Err(NotAdmin)
        }
    }

    /// The caller of `method path` as an `Admin`: an administrator, or an operator when the
    /// request is one of the operator's duties.
    pub fn for_request(principal: Principal, method: &str, path: &str) -> Result<Admin, NotAdmin> {
        match principal.role {
            Role::Admin => Ok(Admin(principal)),
            Role::Operator if super::duties::operator_may(method, path) => Ok(Admin(principal)),
            _ => Err(NotAdmin),
        }
    }

    /// The name recorded in the audit log.
    pub fn username(&self) -> &str {
        &self.0.username
    }

    pub fn principal(&self) -> &Principal {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// RFC 3339, UTC.
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiTokenSummary {
    pub id: i64,
    pub name: String,
    /// The first characters of the token, enough to recognise it, never enough to use it.
    pub prefix: String,
    pub role: Role,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A signed-in session as the Sessions page lists it (never its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// Names the session for `DELETE /api/v1/sessions/{id}`; it cannot sign anyone in.
    pub id: String,
    pub username: String,
    /// The address it signed in from.
    pub address: String,
    /// The browser's `User-Agent` at sign-in.
    pub device: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub last_seen_at: Option<String>,
    pub expires_at: String,
    /// The session this request came with.
    pub current: bool,
}

/// How people sign in (administrators' Settings → Sign-in, `GET /api/v1/settings/sign-in`): single
/// sign-on through an OpenID Connect provider, and whether local passwords still work. The client
/// secret is never shown again once stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SignInSettings {
    /// The provider's issuer URL; empty when single sign-on is off.
    pub issuer: String,
    pub client_id: String,
    /// A client secret is stored (sealed at rest).
    pub client_secret_stored: bool,
    pub scopes: String,
    /// The ID token's claim that lists the user's groups.
    pub groups_claim: String,
    /// `group=role` pairs, comma-separated (roles: admin, operator, viewer).
    pub role_map: String,
    /// The sign-in button says "Sign in with <label>".
    pub label: String,
    pub password_login: bool,
    /// `config`: from the configuration file (nothing saved here yet); `saved`: saved here, which
    /// overrides the file.
    pub source: String,
}

/// What `PUT /api/v1/settings/sign-in` takes. An empty `issuer` turns single sign-on off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SignInSettingsInput {
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub client_id: String,
    /// A new client secret; absent or empty keeps the stored one.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Default `openid profile email groups`; must include `openid`.
    #[serde(default)]
    pub scopes: String,
    /// Default `groups`.
    #[serde(default)]
    pub groups_claim: String,
    #[serde(default)]
    pub role_map: String,
    /// Default `single sign-on`.
    #[serde(default)]
    pub label: String,
    pub password_login: bool,
}

/// `group=role, …` as pairs; `None` when a pair is malformed or names no known role.
pub fn parse_role_map(map: &str) -> Option<Vec<(String, Role)>> {
    map.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (group, role) = p.rsplit_once('=')?;
            let role = Role::parse(role.trim()).ok()?;
            (!group.trim().is_empty()).then(|| (group.trim().to_owned(), role))
        })
        .collect()
}

/// The caller's second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TwoFactorStatus {
    pub enabled: bool,
    /// An administrator requires one for every local account.
    pub required: bool,
    pub recovery_codes_left: u32,
}

/// A TOTP secret being set up: for the authenticator app, as text, as an `otpauth://` URI and as
/// a QR code (an SVG path of its dark modules, `qr_size` modules wide with the quiet zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TotpSetup {
    pub secret: String,
    pub uri: String,
    pub qr_size: u32,
    pub qr_path: String,
}

/// A freshly created token: the only moment its secret exists outside the caller's hands.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewApiToken {
    pub summary: ApiTokenSummary,
    pub token: String,
}

impl std::fmt::Debug for NewApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiToken")
            .field("summary", &self.summary)
            .field("token", &"<redacted>")
            .finish()
    }
}

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 12;
/// Bounds the work argon2 does for a single request.
pub const PASSWORD_MAX: usize = 1024;
pub const TOKEN_NAME_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let s = raw.trim();
        let ok_len = (USERNAME_MIN..=USERNAME_MAX).contains(&s.chars().count());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok_len && ok_chars {
            Ok(Username(s.to_owned()))
        } else {
            Err(ErrorCode::UsernameInvalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that satisfies the policy. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let n = raw.chars().count();
        if n < PASSWORD_MIN {
            Err(ErrorCode::PasswordTooShort)
        } else if n > PASSWORD_MAX {
            Err(ErrorCode::PasswordTooLong)
        } else {
            Ok(Password(raw.to_owned()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let s = raw.trim();
        let n = s.chars().count();
        if (1..=TOKEN_NAME_MAX).contains(&n) && !s.chars().any(char::is_control) {
            Ok(TokenName(s.to_owned()))
        } else {
            Err(ErrorCode::NameInvalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_limited_to_a_safe_alphabet() {
        assert_eq!(Username::parse("  alice ").unwrap().as_str(), "alice");
        assert_eq!(Username::parse("a.b_c-d").unwrap().as_str(), "a.b_c-d");
        assert_eq!(Username::parse("ab"), Err(ErrorCode::UsernameInvalid));
        assert_eq!(Username::parse(&"a".repeat(33)), Err(ErrorCode::UsernameInvalid));
        assert_eq!(Username::parse("al ice"), Err(ErrorCode::UsernameInvalid));
        assert_eq!(Username::parse("<script>"), Err(ErrorCode::UsernameInvalid));
    }

    #[test]
    fn password_policy_bounds_length_in_characters() {
        assert_eq!(Password::parse("short").unwrap_err(), ErrorCode::PasswordTooShort);
        assert!(Password::parse("twelve chars").is_ok());
        // 12 multi-byte characters are 12 characters, not 36 bytes.
        assert!(Password::parse(&"密".repeat(12)).is_ok());
        assert_eq!(Password::parse(&"密".repeat(11)).unwrap_err(), ErrorCode::PasswordTooShort);
        assert_eq!(Password::parse(&"x".repeat(1025)).unwrap_err(), ErrorCode::PasswordTooLong);
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let p = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn only_admins_may_mutate() {
        assert!(Role::Admin.may_mutate());
        assert!(!Role::Viewer.may_mutate());
        assert_eq!(Role::parse("viewer"), Ok(Role::Viewer));
        assert_eq!(Role::parse("root"), Err(ErrorCode::RoleInvalid));
    }

    #[test]
    fn token_names_reject_control_characters() {
        assert!(TokenName::parse("ci deploy").is_ok());
        assert_eq!(TokenName::parse(""), Err(ErrorCode::NameInvalid));
        assert_eq!(TokenName::parse("a\nb"), Err(ErrorCode::NameInvalid));
    }
}

impl From<NotAdmin> for AppError {
    fn from(_: NotAdmin) -> Self {
        AppError::Forbidden
    }
}
