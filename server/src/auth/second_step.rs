//! Sign-ins waiting for their second factor: after a right password for an account with TOTP on,
//! `POST /login` gives the browser a short-lived challenge (cookie `charon_2fa`, five minutes, only
//! its hash kept, in memory: a restart asks for the password again) instead of a session, and
//! `POST /login/code` trades it and a code for the session. Five wrong codes end the challenge.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cookie::{Cookie, SameSite};

use super::secret;

pub const COOKIE_NAME: &str = "charon_2fa";
const TTL: Duration = Duration::from_secs(300);
const MAX_FAILURES: u32 = 5;
/// More open challenges than this (a flood of right passwords) drop the oldest.
const MAX_OPEN: usize = 1000;

#[derive(Debug, Clone)]
pub struct Challenge {
    pub user_id: i64,
    pub username: String,
    pub next: String,
    failures: u32,
    until: Instant,
}

#[derive(Default)]
pub struct Challenges {
    open: Mutex<HashMap<String, Challenge>>,
}

/// What a wrong code did to the challenge.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterFailure {
    TryAgain,
    /// Too many wrong codes: the sign-in starts over with the password.
    Ended,
}

impl Challenges {
    /// A new challenge for `user_id`; returns the cookie value.
    pub fn begin(&self, user_id: i64, username: &str, next: &str) -> String {
        let token = secret::random_hex(32);
        let now = Instant::now();
        let mut open = self.open.lock().expect("challenges lock");
        open.retain(|_, c| c.until > now);
        if open.len() >= MAX_OPEN {
            if let Some(oldest) = open.iter().min_by_key(|(_, c)| c.until).map(|(k, _)| k.clone()) {
                open.remove(&oldest);
            }
        }
        open.insert(secret::digest(&token), Challenge { user_id, username: username.to_owned(), next: next.to_owned(), failures: 0, until: now + TTL });
        token
    }

    /// The live challenge a cookie value names.
    pub fn get(&self, token: &str) -> Option<Challenge> {
        let open = self.open.lock().expect("challenges lock");
        open.get(&secret::digest(token)).filter(|c| c.until > Instant::now()).cloned()
    }

    pub fn finish(&self, token: &str) {
        self.open.lock().expect("challenges lock").remove(&secret::digest(token));
    }

    pub fn failed(&self, token: &str) -> AfterFailure {
        let mut open = self.open.lock().expect("challenges lock");
        let key = secret::digest(token);
        let Some(c) = open.get_mut(&key) else { return AfterFailure::Ended };
        c.failures += 1;
        if c.failures >= MAX_FAILURES {
            open.remove(&key);
            return AfterFailure::Ended;
        }
        AfterFailure::TryAgain
    }
}

pub fn cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, token))
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(TTL.as_secs() as i64))
        .build()
}

pub fn clear_cookie(secure: bool) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, "")).path("/login").http_only(true).same_site(SameSite::Strict).secure(secure).max_age(cookie::time::Duration::ZERO).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_wrong_codes_end_a_challenge() {
        let c = Challenges::default();
        let token = c.begin(7, "vera", "/overview");
        assert_eq!(c.get(&token).map(|c| (c.user_id, c.next)), Some((7, "/overview".to_owned())));
        assert!(c.get("not-the-token").is_none());
        for _ in 0..4 {
            assert_eq!(c.failed(&token), AfterFailure::TryAgain);
        }
        assert_eq!(c.failed(&token), AfterFailure::Ended);
        assert!(c.get(&token).is_none());
    }
}
