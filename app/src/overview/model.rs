//! The Overview's numbers, as `GET /api/v1/overview?range=` and the page see them: what the
//! bouncer let through and refused (from Charon's access log, per site and per origin of the
//! blocking decision), the bans created (engine alerts and bans made in Charon), and the protection
//! state at a glance. Counted locally: no service outside the machine is asked.

use serde::{Deserialize, Serialize};

use crate::console::model::EnrollmentState;
use crate::security::model::EngineState;

/// The period shown, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Range {
    #[serde(rename = "1h")]
    Hour,
    #[default]
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl Range {
    pub const ALL: [Range; 4] = [Range::Hour, Range::Day, Range::Week, Range::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Range::Hour => "1h",
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
        }
    }

    pub fn parse(s: &str) -> Option<Range> {
        Range::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    pub fn seconds(self) -> i64 {
        match self {
            Range::Hour => 3600,
            Range::Day => 86_400,
            Range::Week => 7 * 86_400,
            Range::Month => 30 * 86_400,
        }
    }

    /// One bar of the charts: a minute, a quarter of an hour, an hour, six hours (60 to 120 bars).
    pub fn bucket_seconds(self) -> i64 {
        match self {
            Range::Hour => 60,
            Range::Day => 900,
            Range::Week => 3600,
            Range::Month => 6 * 3600,
        }
    }
}

/// A name and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NamedCount {
    pub name: String,
    pub count: u64,
}

/// One bar: requests let through, refused per origin (in the order of `Overview::origins`), bans
/// created (per scenario and per country in the order of `Overview::scenarios` and
/// `Overview::countries`), and the health of the protection in that time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Bucket {
    /// Its start (RFC 3339, UTC).
    pub at: String,
    pub allowed: u64,
    pub blocked: Vec<u64>,
    pub bans: u64,
    pub bans_by_scenario: Vec<u64>,
    pub bans_by_country: Vec<u64>,
    /// Per mille of the bar's known time the engine ran (`None`: nothing known, e.g. the console
    /// was not running yet).
    pub engine_up_permille: Option<u32>,
    /// The longest the bouncer went without pulling the engine's decisions, as sampled every 10 s
    /// while the engine ran (`None`: no sample).
    pub sync_lag_max_seconds: Option<u64>,
}

/// The protection state at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProtectionState {
    pub engine: EngineState,
    pub bouncer_running: bool,
    /// When the bouncer's decisions went stale (it cannot reach the engine), if they are.
    pub bouncer_stale_since: Option<String>,
    pub caddy_running: bool,
    /// `None` when it cannot be read.
    pub enrollment: Option<EnrollmentState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Overview {
    pub range: Range,
    pub from: String,
    pub to: String,
    pub bucket_seconds: i64,
    /// Requests the bouncer decided on (`allowed` + `blocked`); `unchecked` went to unprotected
    /// sites.
    pub checked: u64,
    pub allowed: u64,
    pub blocked: u64,
    pub unchecked: u64,
    /// Most first.
    pub blocked_by_origin: Vec<NamedCount>,
    pub blocked_by_site: Vec<NamedCount>,
    /// The addresses refused most (within the access-log index's retention).
    pub top_blocked_addresses: Vec<NamedCount>,
    pub bans: u64,
    pub bans_by_scenario: Vec<NamedCount>,
    pub bans_by_country: Vec<NamedCount>,
    /// Per mille of the range's known time the engine ran.
    pub engine_up_permille: Option<u32>,
    /// The bouncer's longest sync lag in the range (seconds).
    pub sync_lag_max_seconds: Option<u64>,
    /// The origins the bars stack, in order (the five largest, then `other`).
    pub origins: Vec<String>,
    /// The scenarios and countries the bans are counted by in each bar (the five with most bans,
    /// then `other`; bans without a country are left out of `bans_by_country`).
    pub scenarios: Vec<String>,
    pub countries: Vec<String>,
    pub series: Vec<Bucket>,
    pub state: ProtectionState,
}
