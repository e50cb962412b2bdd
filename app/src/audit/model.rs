//! Audit log entries and their filter, parsed at the edge.

use serde::{Deserialize, Serialize};

use crate::age::Age;
use crate::error::{AppError, ErrorCode};

pub const AUDIT_PER_PAGE: usize = 50;
pub const AUDIT_PER_PAGE_MAX: usize = 200;

/// The filter as it arrives (query string or server-function JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// The user or token that acted, exactly.
    pub actor: Option<String>,
    /// The action, or its prefix: `decision` matches `decision.ban`, `decision.unban`, ….
    pub action: Option<String>,
    /// Text in what was changed (an address, a domain, an item name).
    pub q: Option<String>,
    /// Only entries newer than this: `30m`, `24h`, `7d`.
    pub since: Option<String>,
    /// 1-based.
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

/// `AuditQuery`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub q: Option<String>,
    /// Seconds back from now.
    pub since_secs: Option<i64>,
    pub page: usize,
    pub per_page: usize,
}

fn field(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl AuditQuery {
    pub fn parse(&self) -> Result<AuditFilter, AppError> {
        let name = |v: &str, code: ErrorCode| -> Result<String, AppError> {
            let ok = v.len() <= 100 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c));
            if ok { Ok(v.to_owned()) } else { Err(code.into()) }
        };
        let q = field(&self.q).map(str::to_owned);
        if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
            return Err(ErrorCode::ValueInvalid.into());
        }
        Ok(AuditFilter {
            actor: field(&self.actor).map(|a| name(a, ErrorCode::UsernameInvalid)).transpose()?,
            action: field(&self.action).map(|a| name(a, ErrorCode::NameInvalid)).transpose()?,
            q,
            since_secs: field(&self.since).map(|v| Age::parse(v).map(|a| a.seconds())).transpose()?,
            page: self.page.unwrap_or(1).max(1),
            per_page: self.per_page.unwrap_or(AUDIT_PER_PAGE).clamp(1, AUDIT_PER_PAGE_MAX),
        })
    }
}

/// One change made through Charon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    /// The user (or `token:<name>` for a token without a creator, `charon` for Charon itself).
    pub actor: String,
    /// `web UI`, `API token "name"`, `CLI`, `expiry`; empty for the sign-in forms.
    pub via: String,
    /// The address the change came from.
    pub address: String,
    /// `decision.ban`, `allowlist.add`, `hub.install`, …
    pub action: String,
    /// What was acted on: an address, a domain, an item, a user.
    pub target: String,
    /// What changed, in words (never a secret).
    pub detail: String,
    /// `ok`, or the error.
    pub result: String,
}

/// A page of entries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub rows: Vec<AuditEntry>,
    pub total: i64,
    pub page: usize,
    pub per_page: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        let f = AuditQuery { action: Some("decision".into()), since: Some("7d".into()), ..Default::default() }.parse().unwrap();
        assert_eq!((f.action.as_deref(), f.since_secs, f.page, f.per_page), (Some("decision"), Some(7 * 86_400), 1, AUDIT_PER_PAGE));
        let bad = |q: AuditQuery| q.parse().unwrap_err();
        assert_eq!(bad(AuditQuery { since: Some("1w".into()), ..Default::default() }), ErrorCode::DurationInvalid.into());
        assert_eq!(bad(AuditQuery { since: Some("0h".into()), ..Default::default() }), ErrorCode::DurationInvalid.into());
        assert_eq!(bad(AuditQuery { actor: Some("a b".into()), ..Default::default() }), ErrorCode::UsernameInvalid.into());
        assert_eq!(bad(AuditQuery { action: Some("x;drop".into()), ..Default::default() }), ErrorCode::NameInvalid.into());
        assert_eq!(bad(AuditQuery { q: Some("x".repeat(201)), ..Default::default() }), ErrorCode::ValueInvalid.into());
        let deep = AuditQuery { per_page: Some(10_000), page: Some(0), ..Default::default() }.parse().unwrap();
        assert_eq!((deep.page, deep.per_page), (1, AUDIT_PER_PAGE_MAX));
    }
}
