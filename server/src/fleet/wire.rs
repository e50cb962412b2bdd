//! What the central node and its edge nodes say to each other on the fleet listener, besides
//! the engine's own Local API calls the listener passes through. Secrets redact themselves in
//! `Debug`.

use serde::{Deserialize, Serialize};

/// Where Charon's own fleet calls live on the listener (the engine's are under `/v1/`).
pub const JOIN_PATH: &str = "/fleet/v1/join";
pub const CA_PATH: &str = "/fleet/v1/ca";
pub const CONFIG_PATH: &str = "/fleet/v1/config";
pub const REPORT_PATH: &str = "/fleet/v1/report";
pub const ROTATE_PATH: &str = "/fleet/v1/rotate-key";
/// Every decision the central node holds, shaped as the engine's complete stream answer: where a
/// node's bouncer starts from (`front::decisions`).
pub const DECISIONS_PATH: &str = "/fleet/v1/decisions";
/// A node's calls to Charon carry its bouncer key here, as its bouncer's calls to the engine do.
pub const KEY_HEADER: &str = "X-Api-Key";

#[derive(Serialize, Deserialize)]
pub struct JoinRequest {
    pub token: String,
    pub name: String,
    pub version: String,
}

impl std::fmt::Debug for JoinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinRequest").field("name", &self.name).field("version", &self.version).finish_non_exhaustive()
    }
}

/// The node's credentials, given once.
#[derive(Clone, Serialize, Deserialize)]
pub struct JoinAnswer {
    pub name: String,
    /// The engine's machine the node's log processor logs in as.
    pub machine_login: String,
    pub machine_password: String,
    /// The node's own bouncer key (for its bouncer and for its calls to Charon).
    pub bouncer_key: String,
}

impl std::fmt::Debug for JoinAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinAnswer").field("name", &self.name).field("machine_login", &self.machine_login).finish_non_exhaustive()
    }
}

/// A proxy host as a node serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHost {
    pub domain: String,
    pub upstream: String,
    pub protect: bool,
}

/// What a node applies: its proxy hosts; and whether it is asked to replace its key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    pub hosts: Vec<NodeHost>,
    #[serde(default)]
    pub rotate_key: bool,
}

/// A node's new bouncer key (the old one no longer works).
#[derive(Clone, Serialize, Deserialize)]
pub struct RotatedKey {
    pub bouncer_key: String,
}

impl std::fmt::Debug for RotatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RotatedKey(<redacted>)")
    }
}

/// What a node tells the central node every few seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    pub version: String,
    pub engine_version: Option<String>,
    /// Whether its log processor runs now, and since when it does not.
    pub agent_running: bool,
    pub agent_down_since: Option<i64>,
    /// Its bouncer: decisions held, requests refused since it started, last complete sync.
    pub decisions: Option<u64>,
    pub blocked: Option<u64>,
    pub last_sync: Option<i64>,
    /// Hosts it serves.
    pub hosts: usize,
}
