//! Login throttling: at most `max_failures` failed sign-ins per client address (IPv6: per /64) and
//! per username within a sliding window. An attempt is counted *before* its password is checked
//! and given back when the password was right, so a user who signs in and out often is never
//! locked out, while a parallel burst of guesses gets no more verdicts than the limit.
//!
//! (`governor` was considered: its GCRA limiter has no way to give a cell back, which is what
//! "count failures only" needs when attempts are reserved up front.)

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many keys are tracked; beyond it (after forgetting expired ones) a new key is
/// refused rather than let the map grow without bound under a flood of addresses.
pub const MAX_KEYS: usize = 10_000;

pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Keys are namespaced so an IP and a username can never collide. IPv4 (and IPv4-mapped IPv6)
/// count per address; IPv6 per /64, which one host or one customer usually holds whole.
pub fn ip_key(ip: IpAddr) -> String {
    match app::decisions::model::normalise_ip(ip) {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("ip6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// `username` must be the canonical name the lookup uses (`Username::parse`, i.e. trimmed); case
/// is folded, so the bucket is never finer than the lookup.
pub fn user_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

/// An attempt counted before the password is checked; give it back with
/// [`LoginLimiter::refund`] when the password was right.
#[must_use]
pub struct Attempt {
    keys: Vec<String>,
    at: Instant,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginLimiter {
            max_failures: max_failures.max(1) as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt on every key at once, or `Err(retry_after)` when any key has used up its
    /// failures. Counting *before* the password is verified is what keeps a parallel burst from
    /// getting more guesses than the limit: the 6th request of a burst is refused while the first
    /// five are still being verified.
    pub fn reserve(&self, keys: &[String], now: Instant) -> Result<Attempt, Duration> {
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
        let new_keys = keys.iter().filter(|k| !map.contains_key(*k)).count();
        if wait.is_zero() && map.len() + new_keys > MAX_KEYS {
            map.retain(|_, q| q.back().is_some_and(|t| now - *t < self.window));
            if map.len() + new_keys > MAX_KEYS {
                tracing::warn!("sign-in limiter full ({MAX_KEYS} keys): refusing attempts from new clients");
                wait = self.window;
            }
        }
        if !wait.is_zero() {
            // Retry-After is in whole seconds; never tell a client to retry "now" while blocked.
            return Err(wait.max(Duration::from_secs(1)));
        }
        for key in keys {
            map.entry(key.clone()).or_default().push_back(now);
        }
        Ok(Attempt { keys: keys.to_vec(), at: now })
    }

    /// The attempt succeeded: it does not count as a failure.
    pub fn refund(&self, attempt: Attempt) {
        let mut map = self.failures.lock().expect("limiter lock");
        for key in &attempt.keys {
            if let Some(q) = map.get_mut(key) {
                if let Some(i) = q.iter().rposition(|t| *t == attempt.at) {
                    q.remove(i);
                }
                if q.is_empty() {
                    map.remove(key);
                }
            }
        }
    }

    fn expire(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
        while q.front().is_some_and(|t| now - *t >= window) {
            q.pop_front();
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.failures.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ip: &str, user: &str) -> Vec<String> {
        vec![ip_key(ip.parse().unwrap()), user_key(user)]
    }

    fn fail(l: &LoginLimiter, keys: &[String], at: Instant) {
        let _ = l.reserve(keys, at).expect("allowed");
    }

    #[test]
    fn blocks_after_max_failures_and_reports_the_wait() {
        let l = LoginLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..5 {
            fail(&l, &keys("10.0.0.1", "alice"), t0);
        }
        let wait = l.reserve(&keys("10.0.0.1", "alice"), t0 + Duration::from_secs(10)).err().unwrap();
        assert_eq!(wait, Duration::from_secs(50));
    }

    #[test]
    fn the_window_slides() {
        let l = LoginLimiter::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        fail(&l, &keys("10.0.0.1", "alice"), t0);
        fail(&l, &keys("10.0.0.1", "alice"), t0 + Duration::from_secs(30));
        assert!(l.reserve(&keys("10.0.0.1", "alice"), t0 + Duration::from_secs(59)).is_err());
        // The first failure left the window; one slot is free again.
        assert!(l.reserve(&keys("10.0.0.1", "alice"), t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn limits_apply_per_ip_and_per_username_independently() {
        let l = LoginLimiter::new(2, Duration::from_secs(60));
        let t = Instant::now();
        // One address guessing two different users...
        fail(&l, &keys("10.0.0.1", "alice"), t);
        fail(&l, &keys("10.0.0.1", "bob"), t);
        assert!(l.reserve(&keys("10.0.0.1", "carol"), t).is_err(), "the address is limited");
        assert!(l.reserve(&keys("10.0.0.2", "carol"), t).is_ok(), "others are not");
        // ...and many addresses guessing one user.
        fail(&l, &keys("10.0.0.3", "dave"), t);
        fail(&l, &keys("10.0.0.4", "DAVE"), t);
        assert!(l.reserve(&keys("10.0.0.5", "dave"), t).is_err(), "the username is limited");
    }

    #[test]
    fn a_right_password_gives_its_attempt_back() {
        let l = LoginLimiter::new(2, Duration::from_secs(60));
        let t = Instant::now();
        for _ in 0..10 {
            let a = l.reserve(&keys("10.0.0.1", "alice"), t).expect("never limited while every attempt succeeds");
            l.refund(a);
        }
        assert_eq!(l.tracked(), 0, "nothing is remembered of successful sign-ins");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_per_address() {
        assert_eq!(ip_key("2001:db8:1:2::1".parse().unwrap()), ip_key("2001:db8:1:2:ffff::9".parse().unwrap()));
        assert_ne!(ip_key("2001:db8:1:2::1".parse().unwrap()), ip_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(ip_key("::ffff:192.0.2.1".parse().unwrap()), ip_key("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn the_map_is_bounded_and_new_clients_are_refused_when_it_is_full() {
        let l = LoginLimiter::new(5, Duration::from_secs(60));
        let t = Instant::now();
        for i in 0..MAX_KEYS as u32 {
            fail(&l, &[ip_key(IpAddr::from(i.to_be_bytes()))], t);
        }
        assert_eq!(l.tracked(), MAX_KEYS);
        assert!(l.reserve(&[ip_key("198.51.100.1".parse().unwrap())], t).is_err(), "full: a new key is refused");
        // Once the window has passed, the old keys are forgotten and new clients get in.
        assert!(l.reserve(&[ip_key("198.51.100.1".parse().unwrap())], t + Duration::from_secs(61)).is_ok());
        assert_eq!(l.tracked(), 1);
    }
}
