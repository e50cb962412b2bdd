//! Lockout protection: the addresses administrators use — those their unexpired sessions signed in
//! from, those listed in `admin_addresses`, and the caller's own — are never banned without an
//! explicit confirmation, and decisions from the engine or the community lists that cover one are
//! not enforced for it (the bouncer is told the set; `shielded` lists what it spares).

use std::net::IpAddr;

use app::decisions::model::{normalise_ip, IpOrRange};
use app::error::AppError;

use super::allowlist::covers;
use crate::bouncer::cache::Subject;
use crate::db::{sessions, Db};

#[derive(Clone)]
pub struct Lockout {
    db: Db,
    configured: Vec<IpOrRange>,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "lockout protection: cannot read the sessions");
    AppError::Internal
}

impl Lockout {
    pub fn new(db: Db, configured: Vec<IpOrRange>) -> Self {
        Lockout { db, configured }
    }

    /// The configured addresses and ranges, then those of signed-in administrators, without
    /// repeats.
    pub async fn protected(&self) -> Result<Vec<IpOrRange>, AppError> {
        let mut out = self.configured.clone();
        for a in sessions::admin_addresses(&self.db, crate::support::time::now()).await.map_err(internal)? {
            if let Ok(ip) = a.parse::<IpAddr>() {
                let t = IpOrRange::Ip(normalise_ip(ip));
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        Ok(out)
    }

    /// The first protected address (the caller's first) a ban on `target` would cover.
    pub async fn would_lock_out(&self, target: &IpOrRange, caller: Option<&str>) -> Result<Option<String>, AppError> {
        let mut protected: Vec<IpOrRange> = caller.and_then(|c| c.parse::<IpAddr>().ok()).map(|ip| IpOrRange::Ip(normalise_ip(ip))).into_iter().collect();
        protected.extend(self.protected().await?);
        Ok(protected.iter().find(|p| covers(target, &Subject::Address(p))).map(IpOrRange::value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ban_locks_out_what_it_covers() {
        let office = IpOrRange::parse("192.0.2.10").unwrap();
        assert!(covers(&IpOrRange::parse("192.0.2.0/24").unwrap(), &Subject::Address(&office)), "a range holding it");
        assert!(covers(&office, &Subject::Address(&office)));
        assert!(!covers(&IpOrRange::parse("192.0.2.11").unwrap(), &Subject::Address(&office)));
        let net = IpOrRange::parse("2001:db8::/64").unwrap();
        assert!(covers(&IpOrRange::parse("2001:db8::5").unwrap(), &Subject::Address(&net)), "an address inside a protected range");
    }
}
