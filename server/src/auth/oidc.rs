//! OpenID Connect sign-in (authorization-code flow with PKCE): the provider's discovery document,
//! its JWKS (refetched when a token names an unknown key), `state` and `nonce` per attempt, the
//! code exchanged with the client secret, and the ID token checked — signature, issuer, audience,
//! expiry, nonce — by `jsonwebtoken`. The groups claim maps to a role (`oidc_role_map`, the
//! strongest wins); a user in no mapped group is refused. Attempts wait in memory for ten minutes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use serde::Deserialize;
use sha2::Digest;

use app::accounts::model::{Role, Username};

use super::secret;
use crate::config::Config;

const ATTEMPT_TTL: Duration = Duration::from_secs(600);
const MAX_ATTEMPTS: usize = 1000;

/// Why a sign-in through the provider did not happen; the details go to the log only.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider, the exchange or the token failed a check (`login?error=oidc_failed`).
    #[error("{0}")]
    Failed(String),
    /// The token is fine but no group of the user maps to a role (`oidc_no_role`).
    #[error("no group of the user maps to a role")]
    NoRole,
}

fn failed(what: impl std::fmt::Display) -> OidcError {
    OidcError::Failed(what.to_string())
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

struct Attempt {
    nonce: String,
    verifier: String,
    next: String,
    until: Instant,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    /// `preferred_username` (or its part before an `@`), else the e-mail's local part.
    pub username: String,
    pub role: Role,
}

pub struct Oidc {
    issuer: String,
    client_id: String,
    client_secret: String,
    scopes: String,
    groups_claim: String,
    roles: Vec<(String, Role)>,
    pub label: String,
    http: reqwest::Client,
    discovery: tokio::sync::Mutex<Option<Discovery>>,
    keys: tokio::sync::Mutex<Option<JwkSet>>,
    attempts: Mutex<HashMap<String, Attempt>>,
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The strongest role any of `groups` maps to.
fn role_of(groups: &[String], roles: &[(String, Role)]) -> Option<Role> {
    let rank = |r: Role| match r {
        Role::Viewer => 0,
        Role::Operator => 1,
        Role::Admin => 2,
    };
    roles.iter().filter(|(g, _)| groups.contains(g)).map(|(_, r)| *r).max_by_key(|r| rank(*r))
}

/// The groups claim as a list (a single string counts as one group).
fn groups(claims: &serde_json::Value, claim: &str) -> Vec<String> {
    match &claims[claim] {
        serde_json::Value::Array(a) => a.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect(),
        serde_json::Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// What single sign-on needs to know: from the configuration file or saved in Settings.
#[derive(Clone, Default)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: String,
    pub groups_claim: String,
    pub roles: Vec<(String, Role)>,
    pub label: String,
}

impl OidcSettings {
    /// The configuration file's (`oidc_*`); `issuer` is empty when `oidc_issuer` is not set.
    pub fn from_config(config: &Config) -> Self {
        OidcSettings {
            issuer: config.oidc_issuer.clone().unwrap_or_default(),
            client_id: config.oidc_client_id.clone(),
            client_secret: config.oidc_client_secret.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default(),
            scopes: config.oidc_scopes.clone(),
            groups_claim: config.oidc_groups_claim.clone(),
            roles: config.oidc_roles().unwrap_or_default(),
            label: config.oidc_label.clone(),
        }
    }
}

impl Oidc {
    /// `None` when no issuer is set (single sign-on off).
    pub fn new(s: OidcSettings) -> Option<Oidc> {
        let issuer = s.issuer.trim().trim_end_matches('/').to_owned();
        if issuer.is_empty() {
            return None;
        }
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).redirect(reqwest::redirect::Policy::none()).build().ok()?;
        Some(Oidc {
            issuer,
            client_id: s.client_id,
            client_secret: s.client_secret,
            scopes: s.scopes,
            groups_claim: s.groups_claim,
            roles: s.roles,
            label: s.label,
            http,
            discovery: Default::default(),
            keys: Default::default(),
            attempts: Default::default(),
        })
    }

    /// Whether the provider answers: its discovery document is read and names this issuer.
    pub async fn check(&self) -> Result<(), OidcError> {
        self.discovery().await.map(|_| ())
    }

    async fn discovery(&self) -> Result<Discovery, OidcError> {
        let mut cached = self.discovery.lock().await;
        if let Some(d) = cached.as_ref() {
            return Ok(d.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let d: Discovery = self.http.get(&url).send().await.and_then(|r| r.error_for_status()).map_err(failed)?.json().await.map_err(failed)?;
        if d.issuer.trim_end_matches('/') != self.issuer {
            return Err(failed(format!("the discovery document names issuer {}, not {}", d.issuer, self.issuer)));
        }
        *cached = Some(d.clone());
        Ok(d)
    }

    /// The provider's URL to send the browser to, and the `state` that names this attempt (the
    /// browser keeps it in a cookie too, so a callback from another browser is refused).
    pub async fn begin(&self, redirect_uri: &str, next: &str) -> Result<(String, String), OidcError> {
        let d = self.discovery().await?;
        let (state, nonce, verifier) = (secret::random_hex(32), secret::random_hex(32), secret::random_hex(32));
        let challenge = b64url(&sha2::Sha256::digest(verifier.as_bytes()));
        let scopes = if self.scopes.split_whitespace().any(|s| s == "openid") { self.scopes.clone() } else { format!("openid {}", self.scopes) };
        let mut url = reqwest::Url::parse(&d.authorization_endpoint).map_err(failed)?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let now = Instant::now();
        let mut attempts = self.attempts.lock().expect("attempts lock");
        attempts.retain(|_, a| a.until > now);
        if attempts.len() >= MAX_ATTEMPTS {
            return Err(failed("too many sign-ins in progress"));
        }
        attempts.insert(secret::digest(&state), Attempt { nonce, verifier, next: next.to_owned(), until: now + ATTEMPT_TTL });
        Ok((url.to_string(), state))
    }

    /// Ends the attempt `state` names without signing in (the provider said no).
    pub fn forget(&self, state: &str) {
        self.attempts.lock().expect("attempts lock").remove(&secret::digest(state));
    }

    /// Where the attempt named by `state` wanted to go, without ending it.
    pub fn next_of(&self, state: &str) -> Option<String> {
        self.attempts.lock().expect("attempts lock").get(&secret::digest(state)).map(|a| a.next.clone())
    }

    /// Ends the attempt `state` names: exchanges `code`, checks the ID token, maps the groups.
    pub async fn finish(&self, state: &str, code: &str, redirect_uri: &str) -> Result<(Identity, String), OidcError> {
        let attempt = self.attempts.lock().expect("attempts lock").remove(&secret::digest(state));
        let attempt = attempt.filter(|a| a.until > Instant::now()).ok_or_else(|| failed("unknown or expired state"))?;
        let d = self.discovery().await?;
        #[derive(Deserialize)]
        struct Tokens {
            id_token: String,
        }
        let tokens: Tokens = self
            .http
            .post(&d.token_endpoint)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri), ("code_verifier", &attempt.verifier)])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| failed(format!("token exchange: {e}")))?
            .json()
            .await
            .map_err(|e| failed(format!("token answer: {e}")))?;
        let claims = self.verify(&d, &tokens.id_token, &attempt.nonce).await?;
        let subject = claims["sub"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| failed("no sub"))?.to_owned();
        // The first of these that is a valid username here: `preferred_username`, its part before
        // an `@`, the e-mail's local part.
        let local = |v: &serde_json::Value| v.as_str().and_then(|e| e.split('@').next()).map(str::to_owned);
        let username = [claims["preferred_username"].as_str().map(str::to_owned), local(&claims["preferred_username"]), local(&claims["email"])]
            .into_iter()
            .flatten()
            .find(|c| Username::parse(c).is_ok())
            .ok_or_else(|| failed("neither preferred_username nor email gives a valid username"))?;
        let role = role_of(&groups(&claims, &self.groups_claim), &self.roles).ok_or(OidcError::NoRole)?;
        Ok((Identity { issuer: self.issuer.clone(), subject, username, role }, attempt.next))
    }

    /// The ID token's claims once its signature (a key of the provider's JWKS), issuer, audience,
    /// expiry and nonce hold.
    async fn verify(&self, d: &Discovery, token: &str, nonce: &str) -> Result<serde_json::Value, OidcError> {
        let header = decode_header(token).map_err(|e| failed(format!("id token: {e}")))?;
        let key = self.key(d, header.kid.as_deref()).await?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[d.issuer.as_str()]);
        v.set_audience(&[self.client_id.as_str()]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 60;
        let data = decode::<serde_json::Value>(token, &key, &v).map_err(|e| failed(format!("id token: {e}")))?;
        let presented = data.claims["nonce"].as_str().unwrap_or("");
        if !secret::same(presented.as_bytes(), nonce.as_bytes()) {
            return Err(failed("id token: wrong nonce"));
        }
        Ok(data.claims)
    }

    /// The provider's key `kid` names (or its only key), fetching the JWKS again when unknown.
    async fn key(&self, d: &Discovery, kid: Option<&str>) -> Result<DecodingKey, OidcError> {
        let mut cached = self.keys.lock().await;
        for fresh in [false, true] {
            if fresh || cached.is_none() {
                let set: JwkSet = self.http.get(&d.jwks_uri).send().await.and_then(|r| r.error_for_status()).map_err(failed)?.json().await.map_err(failed)?;
                *cached = Some(set);
            }
            let set = cached.as_ref().expect("fetched");
            let found = match kid {
                Some(k) => set.find(k),
                None if set.keys.len() == 1 => set.keys.first(),
                None => None,
            };
            if let Some(jwk) = found {
                return DecodingKey::from_jwk(jwk).map_err(failed);
            }
        }
        Err(failed("id token: signed with a key the provider does not list"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strongest_mapped_group_wins_and_no_group_means_no_role() {
        let map = vec![("staff".to_owned(), Role::Viewer), ("oncall".to_owned(), Role::Operator), ("root".to_owned(), Role::Admin)];
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(role_of(&g(&["staff", "oncall"]), &map), Some(Role::Operator));
        assert_eq!(role_of(&g(&["root", "staff"]), &map), Some(Role::Admin));
        assert_eq!(role_of(&g(&["visitors"]), &map), None);
        assert_eq!(groups(&serde_json::json!({"groups": "staff"}), "groups"), g(&["staff"]));
        assert_eq!(groups(&serde_json::json!({}), "groups"), Vec::<String>::new());
    }
}
