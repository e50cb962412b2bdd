//! DTOs of the CrowdSec engine and its bouncer key, shared by the Security page, the server
//! functions and the REST API (same field names everywhere).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EngineState {
    Stopped,
    Starting,
    Running,
    Stopping,
    Crashed,
    NotInstalled,
    /// The process runs but its Local API stopped answering (frozen, overloaded); the supervisor
    /// restarts it when this lasts (`crowdsec_watchdog_secs`).
    Unresponsive,
}

/// What the supervisor knows about the engine right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EngineStatus {
    pub state: EngineState,
    /// Whether the user wants it running (persisted; reconciled at server start).
    pub enabled: bool,
    pub pid: Option<u32>,
    pub lapi_ready: bool,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// Automatic restarts after unexpected exits since the user last started it.
    pub restarts: u32,
    pub last_error: Option<String>,
    /// RFC 3339: since when the Local API has not answered its health check.
    #[serde(default)]
    pub unresponsive_since: Option<String>,
    /// Whether the engine's alerts reach Charon's notifications (false before a start, and when
    /// the engine's http notification plugin is missing).
    #[serde(default)]
    pub alerts_notified: bool,
}

impl EngineStatus {
    pub fn stopped(enabled: bool) -> Self {
        EngineStatus {
            state: EngineState::Stopped,
            enabled,
            pid: None,
            lapi_ready: false,
            started_at: None,
            restarts: 0,
            last_error: None,
            unresponsive_since: None,
            alerts_notified: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    Env,
    File,
    None,
}

/// The dedicated bouncer's registration, without the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BouncerInfo {
    pub name: String,
    /// First 4 characters, "…", last 3; `None` when there is no key.
    pub key_preview: Option<String>,
    pub key_source: KeySource,
    pub key_path: String,
    pub registered: bool,
    /// RFC 3339 of the bouncer's last pull, as the LAPI reports it.
    pub last_pull: Option<String>,
    /// Set when `CHARON_CROWDSEC_BOUNCER_KEY` was given but the LAPI rejected it.
    pub env_key_rejected: bool,
}

/// `abcd…xyz`: enough to recognise a key, never enough to use it.
pub fn key_preview(key: &str) -> Option<String> {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return (!chars.is_empty()).then(|| "…".to_owned());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    Some(format!("{head}…{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_show_four_and_three_characters_and_hide_short_keys() {
        assert_eq!(key_preview("0123456789abcdef0123456789abcdef").as_deref(), Some("0123…def"));
        assert_eq!(key_preview("short").as_deref(), Some("…"));
        assert_eq!(key_preview(""), None);
    }

    #[test]
    fn states_serialise_in_snake_case() {
        assert_eq!(serde_json::to_string(&EngineState::NotInstalled).unwrap(), "\"not_installed\"");
    }
}

/// The address the enforcement self-test bans for a moment (TEST-NET-1, RFC 5737: never a real
/// visitor).
pub const SELF_TEST_ADDRESS: &str = "192.0.2.254";

/// One step of the enforcement self-test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SelfTestStep {
    pub name: String,
    pub ok: bool,
    /// How long the step took.
    pub ms: u64,
    /// What was seen, and when it failed, what to do.
    pub detail: String,
}

/// The enforcement self-test's answer: every step in order (it stops at the first failure, then
/// cleans up), and the bouncer's last successful pull of the engine's decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SelfTestReport {
    pub ok: bool,
    pub steps: Vec<SelfTestStep>,
    /// RFC 3339.
    pub bouncer_last_pull: Option<String>,
}
