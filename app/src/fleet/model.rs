//! Nodes of the fleet as the API shows them, and the join token an administrator hands to a new
//! node.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

/// A node's name: 1–40 of `a-z`, `0-9` and `-`, not starting or ending with `-` (it becomes the
/// engine's machine and bouncer names, `node-<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeName(String);

impl NodeName {
    pub fn parse(s: &str) -> Result<Self, ErrorCode> {
        let s = s.trim();
        let ok = !s.is_empty()
            && s.len() <= 40
            && !s.starts_with('-')
            && !s.ends_with('-')
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(NodeName(s.to_owned()))
        } else {
            Err(ErrorCode::NameInvalid)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The engine's machine and bouncer of this node.
    pub fn engine_name(&self) -> String {
        format!("node-{}", self.0)
    }
}

/// A one-time join token: shown once, valid until `expires_at`, used by one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JoinToken {
    pub token: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// What to run on the new node (it carries the token and the pinned CA's fingerprint).
    pub command: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum NodeHealth {
    /// Reported within the last 30 s and its log processor runs.
    Ok,
    /// Reports, but its log processor is down, or its last report is 30 s – 2 min old.
    Stale,
    /// No report for 2 minutes.
    Down,
}

/// One edge node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Node {
    pub name: String,
    /// The address it last called from.
    pub address: String,
    pub version: String,
    pub engine_version: Option<String>,
    pub joined_at: String,
    /// Its last report (RFC 3339), and its bouncer's last decision pull at the engine.
    pub last_report_at: Option<String>,
    pub last_pull_at: Option<String>,
    /// The last time its log processor spoke to the engine.
    pub last_heartbeat_at: Option<String>,
    pub decisions: Option<u64>,
    pub blocked: Option<u64>,
    pub hosts: usize,
    pub health: NodeHealth,
    /// Since when it has had this health, when it is not `ok`.
    pub since: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_short_lowercase_labels() {
        for ok in ["edge1", "a", "eu-west-2", &"x".repeat(40)] {
            assert!(NodeName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "Edge", "a b", "a_b", "a.b", &"x".repeat(41), "é"] {
            assert_eq!(NodeName::parse(bad), Err(ErrorCode::NameInvalid), "{bad}");
        }
        assert_eq!(NodeName::parse("edge1").unwrap().engine_name(), "node-edge1");
    }
}
