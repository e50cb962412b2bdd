//! Login throttling: at most `max_failures` failed sign-ins per client address and per username
//! within a sliding window. Only failures count, so a user who signs in and out often is never
//! locked out, while a guesser is stopped before the password is even checked.
//!
//! (`governor` was considered: its GCRA limiter consumes a cell on every check and has no way to
//! ask "is this key limited?" without consuming, which is what "count failures only" needs.)

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Keys are namespaced so an IP and a username can never collide.
pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

pub fn user_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginLimiter {
            max_failures: max_failures.max(1) as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when any of the keys has used up its failures.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        let mut map = self.failures.lock().expect("limiter lock");
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(q) = map.get_mut(key) {
                Self::expire(q, now, self.window);
                if q.len() >= self.max_failures {
                    let oldest = *q.front().expect("non-empty");
                    wait = wait.max(self.window.saturating_sub(now - oldest));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            // Retry-After is in whole seconds; never tell a client to retry "now" while blocked.
            Err(wait.max(Duration::from_secs(1)))
        }
    }

    pub fn record_failure(&self, keys: &[String], now: Instant) {
        let mut map = self.failures.lock().expect("limiter lock");
        // Bound memory under a flood of distinct keys: drop entries whose window has passed.
        if map.len() > 10_000 {
            map.retain(|_, q| q.back().is_some_and(|t| now - *t < self.window));
        }
        for key in keys {
            let q = map.entry(key.clone()).or_default();
            Self::expire(q, now, self.window);
            q.push_back(now);
        }
    }

    fn expire(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
        while q.front().is_some_and(|t| now - *t >= window) {
            q.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ip: &str, user: &str) -> Vec<String> {
        vec![ip_key(ip), user_key(user)]
    }

    #[test]
    fn blocks_after_max_failures_and_reports_the_wait() {
        let l = LoginLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(l.check(&keys("10.0.0.1", "alice"), t0).is_ok(), "attempt {i}");
            l.record_failure(&keys("10.0.0.1", "alice"), t0);
        }
        let wait = l.check(&keys("10.0.0.1", "alice"), t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
    }

    #[test]
    fn the_window_slides() {
        let l = LoginLimiter::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        l.record_failure(&keys("10.0.0.1", "alice"), t0);
        l.record_failure(&keys("10.0.0.1", "alice"), t0 + Duration::from_secs(30));
        assert!(l.check(&keys("10.0.0.1", "alice"), t0 + Duration::from_secs(59)).is_err());
        // The first failure left the window; one slot is free again.
        assert!(l.check(&keys("10.0.0.1", "alice"), t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn limits_apply_per_ip_and_per_username_independently() {
        let l = LoginLimiter::new(2, Duration::from_secs(60));
        let t = Instant::now();
        // One address guessing two different users...
        l.record_failure(&keys("10.0.0.1", "alice"), t);
        l.record_failure(&keys("10.0.0.1", "bob"), t);
        assert!(l.check(&keys("10.0.0.1", "carol"), t).is_err(), "the address is limited");
        assert!(l.check(&keys("10.0.0.2", "carol"), t).is_ok(), "others are not");
        // ...and many addresses guessing one user.
        l.record_failure(&keys("10.0.0.3", "dave"), t);
        l.record_failure(&keys("10.0.0.4", "DAVE"), t);
        assert!(l.check(&keys("10.0.0.5", "dave"), t).is_err(), "the username is limited");
    }
}
