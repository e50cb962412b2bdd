//! Notifications as the API and the pages see them: channels (where messages go and which events
//! they get), and the history of messages. A channel's secrets — its URL (which often carries a
//! token), an access token, the webhook signing secret — are write-only: listed masked, kept when
//! an update does not give new ones.

use serde::{Deserialize, Serialize};

/// Where a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// `POST` of the message as JSON, signed: `X-Charon-Signature: sha256=<hex HMAC of the body>`.
    Webhook,
    /// An ntfy topic URL (`https://ntfy.sh/topic`), optionally with an access token.
    Ntfy,
    /// A Discord channel webhook URL.
    Discord,
    /// A Gotify server URL and an application token.
    Gotify,
    /// A Slack incoming-webhook URL.
    Slack,
    /// E-mail over SMTP (`smtp` settings; the password is the channel's `token`).
    Email,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 6] = [ChannelKind::Webhook, ChannelKind::Ntfy, ChannelKind::Discord, ChannelKind::Gotify, ChannelKind::Slack, ChannelKind::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Ntfy => "ntfy",
            ChannelKind::Discord => "discord",
            ChannelKind::Gotify => "gotify",
            ChannelKind::Slack => "slack",
            ChannelKind::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// What happened, as channels subscribe to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The engine decided on an alert (its own scenarios, from its notification plugin).
    Alert,
    /// An administrator banned, unbanned or allowed an address through Charon.
    Manual,
    /// The engine stopped or crashed while it was meant to run.
    EngineDown,
    /// The bouncer process stopped, or its decisions went stale (it cannot reach the engine).
    BouncerDown,
    /// Caddy, the proxy in front of the sites, stopped.
    CaddyDown,
    /// The CrowdSec Console enrollment changed state (enrolled, pending, failed, reset).
    EnrollmentChanged,
    /// The enforcement self-test failed.
    SelfTestFailed,
    /// "Send a test" on a channel (never subscribed to).
    Test,
    /// A channel's daily or weekly summary (scheduled by its `digest` rule, not subscribed to).
    Digest,
}

impl EventKind {
    /// The events a channel can subscribe to.
    pub const SUBSCRIBABLE: [EventKind; 7] = [
        EventKind::Alert,
        EventKind::Manual,
        EventKind::EngineDown,
        EventKind::BouncerDown,
        EventKind::CaddyDown,
        EventKind::EnrollmentChanged,
        EventKind::SelfTestFailed,
    ];
    /// A new channel's events when none are given.
    pub const DEFAULTS: [EventKind; 3] = [EventKind::EngineDown, EventKind::BouncerDown, EventKind::Alert];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Alert => "alert",
            EventKind::Manual => "manual",
            EventKind::EngineDown => "engine_down",
            EventKind::BouncerDown => "bouncer_down",
            EventKind::CaddyDown => "caddy_down",
            EventKind::EnrollmentChanged => "enrollment_changed",
            EventKind::SelfTestFailed => "self_test_failed",
            EventKind::Test => "test",
            EventKind::Digest => "digest",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::SUBSCRIBABLE.into_iter().chain([EventKind::Test, EventKind::Digest]).find(|k| k.as_str() == s.trim())
    }

    /// Bursts of these are grouped into one message per window; the others go out one by one.
    pub fn groups(self) -> bool {
        matches!(self, EventKind::Alert | EventKind::Manual)
    }
}

/// Which events of a subscribed kind a channel gets; an empty list lets everything through.
/// Values compare case-insensitively; a site is a proxy-host domain, a country a two-letter code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Filters {
    #[serde(default)]
    pub scenarios: Vec<String>,
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default)]
    pub sites: Vec<String>,
    #[serde(default)]
    pub countries: Vec<String>,
}

/// Messages due between `from` and `to` (UTC, `HH:MM`; may wrap midnight) wait until `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuietHours {
    pub from: String,
    pub to: String,
}

/// Where and how an e-mail channel sends (not secret; its password is the channel's `token`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SmtpSettings {
    pub host: String,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `plain`.
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (the default), `tls` (implicit TLS) or `plain` (no encryption: loopback or a
    /// trusted network only).
    #[serde(default)]
    pub security: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    pub from: String,
    pub to: Vec<String>,
}

/// How often a digest goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DigestPeriod {
    /// Every day, about the 24 hours before.
    Daily,
    /// Every Monday, about the 7 days before.
    Weekly,
}

impl DigestPeriod {
    pub fn seconds(self) -> i64 {
        match self {
            DigestPeriod::Daily => 86_400,
            DigestPeriod::Weekly => 7 * 86_400,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DigestPeriod::Daily => "daily",
            DigestPeriod::Weekly => "weekly",
        }
    }
}

/// A channel's summary: daily, or weekly on Mondays, at `at` (UTC, `HH:MM`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DigestSchedule {
    pub period: DigestPeriod,
    pub at: String,
}

/// A channel's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChannelRules {
    pub events: Vec<EventKind>,
    pub filters: Filters,
    /// Alerts and manual actions within this many seconds become one message (0: each its own).
    pub group_window_secs: u64,
    /// At most this many messages an hour; more wait for the next free slot (0: no limit).
    pub rate_limit_per_hour: u32,
    pub quiet_hours: Option<QuietHours>,
    /// A summary every day or week (off by default).
    #[serde(default)]
    pub digest: Option<DigestSchedule>,
}

impl Default for ChannelRules {
    fn default() -> Self {
        ChannelRules { events: EventKind::DEFAULTS.to_vec(), filters: Filters::default(), group_window_secs: 300, rate_limit_per_hour: 0, quiet_hours: None, digest: None }
    }
}

/// A channel to create (every secret it needs) or to change (absent fields keep their value; a
/// secret not given is kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChannelInput {
    /// `webhook`, `ntfy`, `discord`, `gotify` or `slack` (not changeable).
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Secret: the URL to deliver to (webhook URLs usually carry a token).
    #[serde(default)]
    pub url: Option<String>,
    /// Secret: an ntfy access token, the Gotify application token, or the SMTP password.
    #[serde(default)]
    pub token: Option<String>,
    /// E-mail channels: the server, the sender and the recipients (replaces them when given).
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
    /// Secret: the webhook's signing key (absent on create: Charon makes one and shows it once).
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub filters: Option<Filters>,
    #[serde(default)]
    pub group_window_secs: Option<u64>,
    #[serde(default)]
    pub rate_limit_per_hour: Option<u32>,
    /// `null` removes them.
    #[serde(default, deserialize_with = "some_or_null")]
    pub quiet_hours: Option<Option<QuietHours>>,
    /// `null` turns the digest off.
    #[serde(default, deserialize_with = "some_or_null")]
    pub digest: Option<Option<DigestSchedule>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn some_or_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A channel as listed: secrets masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Channel {
    pub id: i64,
    pub kind: ChannelKind,
    pub name: String,
    pub enabled: bool,
    /// Scheme and host only: `https://discord.com/…`.
    pub url_masked: String,
    pub has_token: bool,
    pub has_secret: bool,
    /// E-mail channels: where and to whom.
    pub smtp: Option<SmtpSettings>,
    pub rules: ChannelRules,
    pub created_at: String,
    pub updated_at: String,
}

/// A created or changed channel, and the signing secret when Charon made one (shown this once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChannelSaved {
    pub channel: Channel,
    pub secret: Option<String>,
}

/// "Send a test": what the channel's server answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TestResult {
    pub ok: bool,
    pub ms: u64,
    /// The HTTP status, when one came back.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// One message of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryRow {
    pub id: i64,
    pub channel_id: i64,
    pub channel: String,
    pub event: EventKind,
    /// `pending` (waiting for its window, a retry, quiet hours or the rate limit), `sent`, `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_error: String,
    /// Events in it (a grouped burst has several).
    pub count: u32,
    /// One line: what it says.
    pub summary: String,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub sent_at: Option<String>,
}

pub const HISTORY_PER_PAGE: usize = 50;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    pub channel: Option<i64>,
    pub status: Option<String>,
    pub page: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryPage {
    pub rows: Vec<HistoryRow>,
    pub total: u64,
    pub page: usize,
    pub per_page: usize,
}

/// A count by name, with the one of the period before (for "compared with the previous period").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DigestCount {
    pub name: String,
    pub count: u64,
    pub before: u64,
}

/// A summary of a period, and the same numbers for the period before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Digest {
    pub period: DigestPeriod,
    /// The period (RFC 3339, UTC); the one before it ends at `from`.
    pub from: String,
    pub to: String,
    /// Bans the engine decided on (its alerts) and administrators made in Charon.
    pub bans: u64,
    pub bans_before: u64,
    /// The top ten of each (most first).
    pub by_scenario: Vec<DigestCount>,
    pub by_origin: Vec<DigestCount>,
    pub by_country: Vec<DigestCount>,
    pub by_site: Vec<DigestCount>,
    pub top_addresses: Vec<DigestCount>,
    /// Requests the protected sites saw, and how many the bouncer refused (Charon's access log).
    pub requests: u64,
    pub requests_before: u64,
    pub blocked: u64,
    pub blocked_before: u64,
    pub blocked_by_site: Vec<DigestCount>,
    /// The engine's uptime over the part of the period Charon watched, in per mille (`None`: no
    /// record of the period).
    pub engine_uptime_permille: Option<u32>,
    /// Crashes and hangs that needed a restart.
    pub engine_restarts: u64,
    pub engine_restarts_before: u64,
}

/// "Send the digest now": the summary, as text and as numbers, and how the delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DigestPreview {
    pub digest: Digest,
    pub text: String,
    pub result: TestResult,
}
