//! How people sign in, changeable while Charon runs (Settings → Sign-in, `…/settings/sign-in`):
//! single sign-on's provider and whether local passwords sign in. What is saved (the `settings`
//! table: `auth.sso` as JSON with the client secret sealed, `auth.password_login`) overrides the
//! configuration file. The sign-in handlers and pages read [`SignInMethods`], which a save swaps at
//! once; `auth.password_login` is read again every few seconds, so `charon admin reset-password`
//! (the way back in when passwords are off) takes effect without a restart.

use crate::db::on_db;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};

use app::accounts::model::{parse_role_map, Admin, SignInSettings, SignInSettingsInput};
use app::error::{AppError, ErrorCode};
use app::services::SignInService;

use super::oidc::{Oidc, OidcSettings};
use crate::config::Config;
use crate::db::{audit, settings, Db};
use crate::support::sealed::Sealer;

const SSO_KEY: &str = "auth.sso";
const PASSWORD_KEY: &str = "auth.password_login";
/// How often `auth.password_login` is read again (a change from the command line).
const REFRESH: Duration = Duration::from_secs(5);
const DEFAULT_SCOPES: &str = "openid profile email groups";
const DEFAULT_CLAIM: &str = "groups";
const DEFAULT_LABEL: &str = "single sign-on";

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "sign-in settings failure");
    AppError::Internal
}

/// What is in force now.
pub struct SignInMethods {
    oidc: RwLock<Option<Arc<Oidc>>>,
    password: AtomicBool,
}

impl SignInMethods {
    pub fn oidc(&self) -> Option<Arc<Oidc>> {
        self.oidc.read().expect("sign-in lock").clone()
    }

    pub fn password_login(&self) -> bool {
        self.password.load(Ordering::Relaxed)
    }

    /// What the sign-in page offers.
    pub fn options(&self) -> app::auth::SignInOptions {
        app::auth::SignInOptions { password: self.password_login(), oidc_label: self.oidc().map(|o| o.label.clone()) }
    }
}

/// `auth.sso` as stored.
#[derive(Serialize, Deserialize, Default)]
struct Stored {
    issuer: String,
    client_id: String,
    /// Base64 of the sealed secret; empty when none.
    client_secret_sealed: String,
    scopes: String,
    groups_claim: String,
    role_map: String,
    label: String,
}

/// Single sign-on as configured, with its role map as written.
#[derive(Clone)]
struct Sso {
    settings: OidcSettings,
    role_map: String,
}

#[derive(Clone)]
pub struct SignInConfig {
    db: Db,
    sealer: Sealer,
    methods: Arc<SignInMethods>,
    /// The configuration file's, in force until something is saved.
    file: Arc<Sso>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The saved password flag, if one is saved.
async fn password_saved(db: &Db) -> Result<Option<bool>, sqlx::Error> {
    Ok(settings::get(db, PASSWORD_KEY).await?.map(|v| v != "false"))
}

/// What is saved in Settings (`auth.sso`, its secret opened), if anything.
async fn saved(db: &Db, sealer: &Sealer) -> anyhow::Result<Option<Sso>> {
    let Some(json) = settings::get(db, SSO_KEY).await? else { return Ok(None) };
    let s: Stored = serde_json::from_str(&json)?;
    let client_secret = if s.client_secret_sealed.is_empty() {
        String::new()
    } else {
        String::from_utf8(sealer.open_sealed(&b64().decode(&s.client_secret_sealed)?)?)?
    };
    let settings = OidcSettings {
        roles: parse_role_map(&s.role_map).unwrap_or_default(),
        issuer: s.issuer,
        client_id: s.client_id,
        client_secret,
        scopes: s.scopes,
        groups_claim: s.groups_claim,
        label: s.label,
    };
    Ok(Some(Sso { settings, role_map: s.role_map }))
}

/// The way back in (`charon admin reset-password`): turns password sign-in on if it is off, saved
/// or in the file. Returns whether it was off.
pub async fn turn_passwords_on(db: &Db, config: &Config) -> anyhow::Result<bool> {
    let on = password_saved(db).await?.unwrap_or(config.password_login);
    if !on {
        settings::set(db, PASSWORD_KEY, "true", crate::support::time::now()).await?;
    }
    Ok(!on)
}

impl SignInConfig {
    /// Reads what is saved (else the file's) and starts following `auth.password_login`.
    pub async fn load(db: Db, sealer: Sealer, config: &Config) -> anyhow::Result<Self> {
        let file = Sso { settings: OidcSettings::from_config(config), role_map: config.oidc_role_map.clone() };
        let sso = saved(&db, &sealer).await?.unwrap_or_else(|| file.clone());
        let password = password_saved(&db).await?.unwrap_or(config.password_login);
        let methods = Arc::new(SignInMethods { oidc: RwLock::new(Oidc::new(sso.settings).map(Arc::new)), password: AtomicBool::new(password) });
        let this = SignInConfig { db, sealer, methods, file: Arc::new(file) };
        tokio::spawn(this.clone().follow_password_flag());
        Ok(this)
    }

    pub fn methods(&self) -> Arc<SignInMethods> {
        self.methods.clone()
    }

    async fn follow_password_flag(self) {
        loop {
            tokio::time::sleep(REFRESH).await;
            if let Ok(Some(on)) = password_saved(&self.db).await {
                if self.methods.password.swap(on, Ordering::Relaxed) != on {
                    tracing::info!(on, "password sign-in changed from the command line");
                }
            }
        }
    }

    /// The settings in force, and whether they were saved here.
    async fn current(&self) -> Result<(Sso, bool), AppError> {
        Ok(match saved(&self.db, &self.sealer).await.map_err(internal)? {
            Some(sso) => (sso, true),
            None => ((*self.file).clone(), false),
        })
    }

    fn shown(s: &OidcSettings, role_map: String, saved: bool, password_login: bool) -> SignInSettings {
        SignInSettings {
            issuer: s.issuer.clone(),
            client_id: s.client_id.clone(),
            client_secret_stored: !s.client_secret.is_empty(),
            scopes: s.scopes.clone(),
            groups_claim: s.groups_claim.clone(),
            role_map,
            label: s.label.clone(),
            password_login,
            source: if saved { "saved" } else { "config" }.to_owned(),
        }
    }

    /// An administrator who has signed in through `issuer` (so it works, and they can again).
    async fn admin_signed_in_through(&self, issuer: &str) -> Result<bool, AppError> {
        let n: i64 = on_db!(self.db, cx => sqlx::query_scalar(
            "SELECT COUNT(*) FROM oidc_identities JOIN users ON users.id = oidc_identities.user_id WHERE users.role = 'admin' AND oidc_identities.issuer = $1",
        )
        .bind(issuer.trim_end_matches('/'))
        .fetch_one(cx).await)
        .map_err(internal)?;
        Ok(n > 0)
    }
}

/// `input` checked and filled with defaults; `kept` is the secret stored now.
fn settle(input: SignInSettingsInput, kept: &str) -> Result<(OidcSettings, String), ErrorCode> {
    let or = |v: &str, default: &str| if v.trim().is_empty() { default.to_owned() } else { v.trim().to_owned() };
    let issuer = input.issuer.trim().trim_end_matches('/').to_owned();
    let secret = input.client_secret.filter(|s| !s.is_empty()).unwrap_or_else(|| kept.to_owned());
    let settings = OidcSettings {
        issuer: issuer.clone(),
        client_id: input.client_id.trim().to_owned(),
        client_secret: secret,
        scopes: or(&input.scopes, DEFAULT_SCOPES),
        groups_claim: or(&input.groups_claim, DEFAULT_CLAIM),
        roles: Vec::new(),
        label: or(&input.label, DEFAULT_LABEL),
    };
    if issuer.is_empty() {
        return Ok((OidcSettings { issuer, ..settings }, input.role_map.trim().to_owned()));
    }
    let url = reqwest::Url::parse(&issuer).map_err(|_| ErrorCode::IssuerInvalid)?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !url.username().is_empty() || url.query().is_some() {
        return Err(ErrorCode::IssuerInvalid);
    }
    let visible = |s: &str, max: usize| !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control);
    if !visible(&settings.client_id, 256) || !visible(&settings.client_secret, 1024) {
        return Err(ErrorCode::ClientInvalid);
    }
    if !settings.scopes.split_whitespace().any(|s| s == "openid") || settings.scopes.len() > 512 || !visible(&settings.groups_claim, 128) {
        return Err(ErrorCode::ScopesInvalid);
    }
    if !visible(&settings.label, 64) {
        return Err(ErrorCode::LabelInvalid);
    }
    let roles = parse_role_map(&input.role_map).filter(|r| !r.is_empty() && input.role_map.len() <= 2048).ok_or(ErrorCode::RoleMapInvalid)?;
    Ok((OidcSettings { roles, ..settings }, input.role_map.trim().to_owned()))
}

#[async_trait::async_trait]
impl SignInService for SignInConfig {
    async fn settings(&self, _actor: &Admin) -> Result<SignInSettings, AppError> {
        let (sso, saved) = self.current().await?;
        Ok(Self::shown(&sso.settings, sso.role_map, saved, self.methods.password_login()))
    }

    async fn save(&self, actor: &Admin, input: SignInSettingsInput) -> Result<SignInSettings, AppError> {
        let before = self.current().await?.0.settings;
        let password_login = input.password_login;
        let (sso, role_map) = settle(input, &before.client_secret)?;
        let oidc = Oidc::new(sso.clone()).map(Arc::new);
        if let Some(o) = &oidc {
            o.check().await.map_err(|e| {
                tracing::warn!(error = %e, "single sign-on settings refused: the provider did not answer as expected");
                AppError::from(ErrorCode::IssuerInvalid)
            })?;
        }
        if !password_login && (oidc.is_none() || !self.admin_signed_in_through(&sso.issuer).await?) {
            return Err(ErrorCode::PasswordLoginNeedsSso.into());
        }
        let stored = Stored {
            issuer: sso.issuer.clone(),
            client_id: sso.client_id.clone(),
            client_secret_sealed: if sso.client_secret.is_empty() { String::new() } else { b64().encode(self.sealer.seal(sso.client_secret.as_bytes())) },
            scopes: sso.scopes.clone(),
            groups_claim: sso.groups_claim.clone(),
            role_map: role_map.clone(),
            label: sso.label.clone(),
        };
        let now = crate::support::time::now();
        let mut tx = self.db.begin().await.map_err(internal)?;
        for (key, value) in [(SSO_KEY, serde_json::to_string(&stored).map_err(internal)?), (PASSWORD_KEY, password_login.to_string())] {
            settings::set_in(&mut tx, key, &value, now).await.map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        *self.methods.oidc.write().expect("sign-in lock") = oidc;
        self.methods.password.store(password_login, Ordering::Relaxed);
        let detail = format!(
            "single sign-on {}; client secret {}; password sign-in {}",
            if sso.issuer.is_empty() { "off".to_owned() } else { format!("through {} (client {}, roles {role_map})", sso.issuer, sso.client_id) },
            if sso.client_secret == before.client_secret { "kept" } else { "replaced" },
            if password_login { "on" } else { "off" },
        );
        audit::by(&self.db, actor, "settings.sign_in", "sign-in", &detail).await;
        Ok(Self::shown(&sso, role_map, true, password_login))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(issuer: &str) -> SignInSettingsInput {
        SignInSettingsInput {
            issuer: issuer.into(),
            client_id: "charon".into(),
            client_secret: Some("s3cret".into()),
            scopes: String::new(),
            groups_claim: String::new(),
            role_map: "ops=admin".into(),
            label: String::new(),
            password_login: true,
        }
    }

    #[test]
    fn bad_input_names_its_field_and_defaults_fill_the_rest() {
        let (ok, map) = settle(input("https://id.example.com/"), "").unwrap();
        assert_eq!((ok.issuer.as_str(), ok.scopes.as_str(), ok.groups_claim.as_str(), ok.label.as_str(), map.as_str()), ("https://id.example.com", DEFAULT_SCOPES, "groups", DEFAULT_LABEL, "ops=admin"));
        assert_eq!(settle(input("ftp://id.example.com"), "").err(), Some(ErrorCode::IssuerInvalid));
        assert_eq!(settle(input("not a url"), "").err(), Some(ErrorCode::IssuerInvalid));
        assert_eq!(settle(input("https://user:pw@id.example.com"), "").err(), Some(ErrorCode::IssuerInvalid));
        assert_eq!(settle(SignInSettingsInput { client_secret: None, ..input("https://id.example.com") }, "").err(), Some(ErrorCode::ClientInvalid));
        assert_eq!(settle(SignInSettingsInput { client_secret: None, ..input("https://id.example.com") }, "kept").unwrap().0.client_secret, "kept");
        assert_eq!(settle(SignInSettingsInput { scopes: "profile email".into(), ..input("https://id.example.com") }, "").err(), Some(ErrorCode::ScopesInvalid));
        assert_eq!(settle(SignInSettingsInput { role_map: "ops=root".into(), ..input("https://id.example.com") }, "").err(), Some(ErrorCode::RoleMapInvalid));
        assert_eq!(settle(SignInSettingsInput { role_map: " ".into(), ..input("https://id.example.com") }, "").err(), Some(ErrorCode::RoleMapInvalid));
        assert_eq!(settle(SignInSettingsInput { label: "x".repeat(65), ..input("https://id.example.com") }, "").err(), Some(ErrorCode::LabelInvalid));
        // Off: nothing else is checked.
        assert!(settle(SignInSettingsInput { client_id: String::new(), role_map: String::new(), ..input("") }, "").is_ok());
    }
}
