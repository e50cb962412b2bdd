//! Console enrollment and diagnostics: the DTOs (the documented JSON shapes) and the input
//! newtypes of an enrollment, parsed at the edge so a bad key never leaves the server.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentState {
    NotEnrolled,
    Enrolling,
    PendingAcceptance,
    Enrolled,
    Failed,
}

impl EnrollmentState {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentState::NotEnrolled => "not_enrolled",
            EnrollmentState::Enrolling => "enrolling",
            EnrollmentState::PendingAcceptance => "pending_acceptance",
            EnrollmentState::Enrolled => "enrolled",
            EnrollmentState::Failed => "failed",
        }
    }
}

/// `GET …/console/status`: `{"status","agent_name","last_error","last_attempt_at",
/// "last_heartbeat_at","enrolled_at"}` (+ `tags`). Times are RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnrollmentStatus {
    pub status: EnrollmentState,
    pub agent_name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<String>,
    pub last_heartbeat_at: Option<String>,
    pub enrolled_at: Option<String>,
}

impl Default for EnrollmentStatus {
    fn default() -> Self {
        EnrollmentStatus {
            status: EnrollmentState::NotEnrolled,
            agent_name: None,
            tags: Vec::new(),
            last_error: None,
            last_attempt_at: None,
            last_heartbeat_at: None,
            enrolled_at: None,
        }
    }
}

/// `POST …/console/enroll` body.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnrollInput {
    pub enrollment_key: String,
    #[serde(default)]
    pub agent_name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub overwrite: bool,
}

impl std::fmt::Debug for EnrollInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollInput").field("agent_name", &self.agent_name).field("tags", &self.tags).finish_non_exhaustive()
    }
}

/// An enrollment key: 10–64 letters and digits. A pasted `sudo cscli console enroll <key>` line is
/// accepted and the key taken from it. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentKey(String);

impl std::fmt::Debug for EnrollmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrollmentKey(<redacted>)")
    }
}

fn key_shaped(s: &str) -> bool {
    (10..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

impl EnrollmentKey {
    pub fn parse(s: &str) -> Result<Self, ErrorCode> {
        let s = s.trim();
        if key_shaped(s) {
            return Ok(EnrollmentKey(s.to_owned()));
        }
        // `sudo cscli console enroll [flags] <key>`: the key-shaped word after `enroll`.
        let words: Vec<&str> = s.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "enroll") {
            if words[..i].contains(&"cscli") {
                if let Some(k) = words[i + 1..].iter().rev().find(|w| key_shaped(w)) {
                    return Ok(EnrollmentKey((*k).to_owned()));
                }
            }
        }
        Err(ErrorCode::EnrollmentKeyInvalid)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The engine's name on the console: 1–64 of letters, digits, `.`, `_`, `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentName(String);

impl AgentName {
    pub fn parse(s: &str) -> Result<Self, ErrorCode> {
        let s = s.trim();
        if (1..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
            Ok(AgentName(s.to_owned()))
        } else {
            Err(ErrorCode::AgentNameInvalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Up to 10 tags of 1–32 letters, digits, `.`, `_`, `-`, `:`.
pub fn parse_tags(tags: &[String]) -> Result<Vec<String>, ErrorCode> {
    let tags: Vec<String> = tags.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
    let ok = tags.len() <= 10
        && tags.iter().all(|t| t.len() <= 32 && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')));
    if ok {
        Ok(tags)
    } else {
        Err(ErrorCode::TagsInvalid)
    }
}

/// A validated enrollment.
#[derive(Debug, Clone)]
pub struct EnrollRequest {
    pub key: EnrollmentKey,
    pub agent_name: AgentName,
    pub tags: Vec<String>,
    pub overwrite: bool,
}

impl EnrollRequest {
    /// `default_name` (the host name) is used when the agent name is left empty.
    pub fn parse(input: &EnrollInput, default_name: &str) -> Result<Self, ErrorCode> {
        let name = if input.agent_name.trim().is_empty() { default_name } else { &input.agent_name };
        Ok(EnrollRequest {
            key: EnrollmentKey::parse(&input.enrollment_key)?,
            agent_name: AgentName::parse(name)?,
            tags: parse_tags(&input.tags)?,
            overwrite: input.overwrite,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LapiConnectivity {
    /// `healthy`, `unhealthy` or `stopped`.
    pub status: String,
    pub latency_ms: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CapiConnectivity {
    /// `reachable`, `unreachable` or `off`.
    pub status: String,
    pub latency_ms: Option<u64>,
    pub error: Option<String>,
    pub url: Option<String>,
}

/// `GET …/diagnostics/connectivity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Connectivity {
    pub lapi: LapiConnectivity,
    pub capi: CapiConnectivity,
    pub console: EnrollmentState,
}

/// One line of `GET …/diagnostics/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConfigCheck {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_alphanumeric_and_can_be_pasted_as_the_cscli_line() {
        let k = "cl5vt1v9v0000ml08ctq0uqyv";
        assert_eq!(EnrollmentKey::parse(k).unwrap().expose(), k);
        assert_eq!(EnrollmentKey::parse(&format!("  sudo cscli console enroll {k}\n")).unwrap().expose(), k);
        assert_eq!(EnrollmentKey::parse(&format!("cscli console enroll --name web1 {k}")).unwrap().expose(), k);
        for bad in ["short", "has space in it", "abc-def-ghi-jkl", &"x".repeat(65), "sudo rm -rf / cl5vt1v9v0000ml08ctq0uqyv", ""] {
            assert_eq!(EnrollmentKey::parse(bad), Err(ErrorCode::EnrollmentKeyInvalid), "{bad:?}");
        }
        assert!(!format!("{:?}", EnrollmentKey::parse(k).unwrap()).contains(k));
        let input = EnrollInput { enrollment_key: k.into(), agent_name: String::new(), tags: vec![], overwrite: false };
        assert!(!format!("{input:?}").contains(k));
    }

    #[test]
    fn names_and_tags() {
        assert_eq!(EnrollRequest::parse(&EnrollInput { enrollment_key: "a".repeat(20), agent_name: " ".into(), tags: vec![], overwrite: false }, "web-1").unwrap().agent_name.as_str(), "web-1");
        assert_eq!(AgentName::parse("bad name"), Err(ErrorCode::AgentNameInvalid));
        assert_eq!(parse_tags(&["prod".into(), " ".into(), "eu:west".into()]).unwrap(), ["prod", "eu:west"]);
        assert_eq!(parse_tags(&["no spaces allowed".into()]), Err(ErrorCode::TagsInvalid));
        assert_eq!(parse_tags(&vec!["t".to_owned(); 11]), Err(ErrorCode::TagsInvalid));
    }
}
