//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one step of clock skew either way) as a second factor for
//! local accounts (`TwoFactorService`), and the check the sign-in's second step makes.
//!
//! Set-up: `begin` makes a secret and keeps it sealed as *pending*; `confirm` with one code from
//! the authenticator turns it on and returns ten recovery codes, shown once (only their SHA-256 is
//! kept). A code's time step is accepted once per account (a code seen on a shoulder or replayed
//! is refused); a recovery code is used once. An administrator may require a second factor for
//! every local account (`auth.require_totp`): an account without one then signs in only to set it
//! up (the gate, `middleware`, keeps it on that page).

use crate::db::{on_db, on_tx};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rand::Rng;
use totp_rs::{Algorithm, Secret, TOTP};

use app::accounts::model::{Admin, Principal, TotpSetup, TwoFactorStatus};
use app::error::{AppError, ErrorCode};
use app::services::TwoFactorService;

use super::secret;
use crate::db::{audit, settings, Db};
use crate::support::sealed::Sealer;
use crate::support::time::now;

const STEP: u64 = 30;
const DIGITS: usize = 6;
const ISSUER: &str = "Charon";
const RECOVERY_CODES: usize = 10;
/// Letters and digits that cannot be mistaken for one another.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const REQUIRED_KEY: &str = "auth.require_totp";

#[derive(Clone)]
pub struct TwoFactor {
    db: Db,
    sealer: Sealer,
    /// `auth.require_totp`, read at start and kept current by `set_required`.
    required: Arc<AtomicBool>,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "two-factor failure");
    AppError::Internal
}

fn totp(secret: Vec<u8>, account: &str) -> Result<TOTP, AppError> {
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP, secret, Some(ISSUER.to_owned()), account.to_owned()).map_err(internal)
}

/// A code as typed: digits only for TOTP; lower-case letters and digits for a recovery code.
fn normalise(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// The time step `code` belongs to, if it is the code of one within the skew around `at`.
fn matching_step(t: &TOTP, code: &str, at: u64) -> Option<u64> {
    let current = at / STEP;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| secret::same(t.generate(step * STEP).as_bytes(), code.as_bytes()))
}

fn recovery_code() -> String {
    let mut rng = rand::thread_rng();
    let c: String = (0..10).map(|_| RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())] as char).collect();
    format!("{}-{}", &c[..5], &c[5..])
}

/// The QR code of `uri` as an SVG path of its dark modules (`M x y h1 v1 h-1 z` each), and its
/// size in modules including the quiet zone: the page draws it, no image and no inline style.
fn qr(uri: &str) -> Result<(u32, String), AppError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(internal)?;
    let width = code.width();
    let quiet = 4;
    let mut path = String::new();
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == qrcode::Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Ok(((width + 2 * quiet) as u32, path))
}

impl TwoFactor {
    pub async fn new(db: Db, sealer: Sealer) -> anyhow::Result<Self> {
        let required = settings::get(&db, REQUIRED_KEY).await?.is_some_and(|v| v == "true");
        Ok(TwoFactor { db, sealer, required: Arc::new(AtomicBool::new(required)) })
    }

    pub fn required(&self) -> bool {
        self.required.load(Ordering::Relaxed)
    }

    /// Whether a local account still lacks the second factor an administrator requires (accounts
    /// made by an identity provider sign in there, with its own factors).
    pub async fn missing(&self, user_id: i64) -> Result<bool, AppError> {
        let missing: Option<bool> = on_db!(self.db, cx => sqlx::query_scalar("SELECT totp_secret IS NULL AND password_hash != 'oidc' FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(cx).await)
            .map_err(internal)?;
        Ok(missing.unwrap_or(false))
    }

    /// Whether the account has a second factor.
    pub async fn enabled(&self, user_id: i64) -> Result<bool, AppError> {
        let on: Option<bool> = on_db!(self.db, cx => sqlx::query_scalar("SELECT totp_secret IS NOT NULL FROM users WHERE id = $1").bind(user_id).fetch_optional(cx).await).map_err(internal)?;
        Ok(on.unwrap_or(false))
    }

    /// Whether `code` is the account's current TOTP code (a step not used before) or one of its
    /// unused recovery codes, which is then used up.
    pub async fn verify(&self, user_id: i64, username: &str, code: &str) -> Result<bool, AppError> {
        let code = normalise(code);
        if code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
            let sealed: Option<Option<Vec<u8>>> =
                on_db!(self.db, cx => sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = $1").bind(user_id).fetch_optional(cx).await).map_err(internal)?;
            let Some(Some(sealed)) = sealed else { return Ok(false) };
            let t = totp(self.sealer.open_sealed(&sealed).map_err(internal)?, username)?;
            let Some(step) = matching_step(&t, &code, now().max(0) as u64) else { return Ok(false) };
            // Once per step: a replayed code (or one already used in this window) is refused.
            let taken = on_db!(self.db, cx => sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $3")
                .bind(step as i64)
                .bind(user_id)
                .bind(step as i64)
                .execute(cx).await.map(|r| r.rows_affected()))
                .map_err(internal)?;
            return Ok(taken == 1);
        }
        let used = on_db!(self.db, cx => sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
            .bind(now())
            .bind(user_id)
            .bind(secret::digest(&code))
            .execute(cx).await.map(|r| r.rows_affected()))
            .map_err(internal)?;
        Ok(used == 1)
    }
}

#[async_trait::async_trait]
impl TwoFactorService for TwoFactor {
    async fn status(&self, caller: &Principal) -> Result<TwoFactorStatus, AppError> {
        let left: i64 = on_db!(self.db, cx => sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(caller.user_id)
            .fetch_one(cx).await)
            .map_err(internal)?;
        Ok(TwoFactorStatus { enabled: self.enabled(caller.user_id).await?, required: self.required(), recovery_codes_left: left as u32 })
    }

    async fn begin(&self, caller: &Principal) -> Result<TotpSetup, AppError> {
        in_a_session(caller)?;
        if self.enabled(caller.user_id).await? {
            return Err(ErrorCode::TotpAlreadyOn.into());
        }
        let mut raw = vec![0u8; 20];
        rand::thread_rng().fill(&mut raw[..]);
        let t = totp(raw.clone(), &caller.username)?;
        on_db!(self.db, cx => sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
            .bind(self.sealer.seal(&raw))
            .bind(caller.user_id)
            .execute(cx).await.map(|r| r.rows_affected()))
            .map_err(internal)?;
        let Secret::Encoded(text) = Secret::Raw(raw).to_encoded() else { return Err(AppError::Internal) };
        let uri = t.get_url();
        let (qr_size, qr_path) = qr(&uri)?;
        Ok(TotpSetup { secret: text, uri, qr_size, qr_path })
    }

    async fn confirm(&self, caller: &Principal, code: &str) -> Result<Vec<String>, AppError> {
        in_a_session(caller)?;
        let pending: Option<Option<Vec<u8>>> =
            on_db!(self.db, cx => sqlx::query_scalar("SELECT totp_pending FROM users WHERE id = $1").bind(caller.user_id).fetch_optional(cx).await).map_err(internal)?;
        let Some(Some(sealed)) = pending else { return Err(ErrorCode::TotpNotStarted.into()) };
        let raw = self.sealer.open_sealed(&sealed).map_err(internal)?;
        let t = totp(raw, &caller.username)?;
        let Some(step) = matching_step(&t, &normalise(code), now().max(0) as u64) else { return Err(ErrorCode::TotpCodeInvalid.into()) };
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let mut tx = self.db.begin().await.map_err(internal)?;
        on_tx!(&mut tx, cx => sqlx::query("UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $1 WHERE id = $2")
            .bind(step as i64)
            .bind(caller.user_id)
            .execute(cx).await.map(|r| r.rows_affected()))
            .map_err(internal)?;
        on_tx!(&mut tx, cx => sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(caller.user_id).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?;
        for c in &codes {
            on_tx!(&mut tx, cx => sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(caller.user_id)
                .bind(secret::digest(&normalise(c)))
                .execute(cx).await.map(|r| r.rows_affected()))
                .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        audit::by_principal(&self.db, caller, "totp.enable", &caller.username, "second factor turned on, 10 recovery codes made").await;
        Ok(codes)
    }

    async fn disable(&self, caller: &Principal, code: &str) -> Result<(), AppError> {
        in_a_session(caller)?;
        if !self.verify(caller.user_id, &caller.username, code).await? {
            return Err(ErrorCode::TotpCodeInvalid.into());
        }
        let mut tx = self.db.begin().await.map_err(internal)?;
        on_tx!(&mut tx, cx => sqlx::query("UPDATE users SET totp_secret = NULL, totp_pending = NULL WHERE id = $1").bind(caller.user_id).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?;
        on_tx!(&mut tx, cx => sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(caller.user_id).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        audit::by_principal(&self.db, caller, "totp.disable", &caller.username, "second factor turned off").await;
        Ok(())
    }

    async fn set_required(&self, actor: &Admin, required: bool) -> Result<(), AppError> {
        settings::set(&self.db, REQUIRED_KEY, if required { "true" } else { "false" }, now()).await.map_err(internal)?;
        self.required.store(required, Ordering::Relaxed);
        let detail = if required { "every local account needs a second factor" } else { "a second factor is optional" };
        audit::by(&self.db, actor, "totp.require", if required { "on" } else { "off" }, detail).await;
        Ok(())
    }
}

/// A second factor is changed by its owner in a browser session only: an API token acting for its
/// creator must not set up (and so hold) or remove the creator's second factor.
fn in_a_session(caller: &Principal) -> Result<(), AppError> {
    if caller.method == app::accounts::model::AuthMethod::Session {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_the_neighbours_only() {
        let t = totp(b"12345678901234567890".to_vec(), "a").unwrap();
        // RFC 6238's SHA-1 test vector at T = 59 s: 94287082 (8 digits), so 287082 with 6.
        assert_eq!(t.generate(59), "287082");
        assert_eq!(matching_step(&t, "287082", 59), Some(1));
        assert_eq!(matching_step(&t, "287082", 59 + 30), Some(1), "one step late");
        assert_eq!(matching_step(&t, "287082", 59 + 60), None, "two steps late");
        assert_eq!(normalise(" 287 082 "), "287082");
    }

    #[test]
    fn recovery_codes_are_ten_unambiguous_characters_and_the_qr_code_is_a_path() {
        let c = recovery_code();
        assert_eq!(c.len(), 11);
        assert!(normalise(&c).bytes().all(|b| RECOVERY_ALPHABET.contains(&b)));
        let (size, path) = qr("otpauth://totp/Charon:admin?secret=ABC&issuer=Charon").unwrap();
        assert!(size >= 29 && path.starts_with('M') && path.contains("h1v1h-1z"));
    }
}
