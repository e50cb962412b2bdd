//! Typed configuration, loaded once at start: built-in defaults, then an optional TOML file
//! (`--config FILE` or `CHARON_CONFIG`), then `CHARON_*` environment variables. Every key is
//! documented in the README with its default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};

pub use app::proxy::model::FailMode;
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the web UI and REST API.
    pub listen: SocketAddr,
    /// Everything Charon writes lives here (`charon.db`, later CrowdSec's and Caddy's files).
    pub data_dir: PathBuf,
    /// The built site (`pkg/` with the WASM, JS and CSS) that cargo-leptos produced.
    pub site_root: PathBuf,
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `charon=debug,info`; `RUST_LOG` wins when set.
    pub log_level: String,
    /// How long a sign-in lasts.
    pub session_ttl_hours: u64,
    /// Failed sign-ins allowed per client address and per username within the window.
    pub login_max_failures: u32,
    pub login_window_secs: u64,
    /// A client must send a request's headers within this time (also the idle limit between
    /// requests of a kept-alive connection).
    pub http_header_timeout_secs: u64,
    /// Connections the console serves at once; more wait to be accepted.
    pub http_max_connections: usize,
    /// `crowdsec` binary; found on `PATH` when unset.
    pub crowdsec_bin: Option<PathBuf>,
    /// `cscli` binary; found on `PATH` when unset.
    pub cscli_bin: Option<PathBuf>,
    /// Where the engine's Local API listens (loopback; Charon itself uses 8080).
    pub crowdsec_lapi_listen: SocketAddr,
    /// The engine's Prometheus endpoint: an address on loopback, or `off`.
    pub crowdsec_prometheus: String,
    /// Overrides the bouncer key file when the LAPI accepts it.
    pub crowdsec_bouncer_key: Option<Secret>,
    /// Charon's own database on PostgreSQL (`postgres://user:password@host:5432/db`); unset: the
    /// SQLite file `charon.db` in the data dir.
    pub database_url: Option<Secret>,
    /// The engine's Local API on PostgreSQL (`postgres://user:password@host:5432/db`); unset: its
    /// own SQLite file under the data dir.
    pub crowdsec_database_url: Option<Secret>,
    /// Where edge nodes reach this node over TLS (the engine's Local API calls a node needs, and
    /// Charon's join and configuration calls), e.g. `0.0.0.0:8443`; unset: no fleet.
    pub fleet_listen: Option<SocketAddr>,
    /// The address nodes are told to use (`https://central.example.com:8443`); its host is named
    /// in the listener's certificate. Unset: `https://<host name>:<port of fleet_listen>`.
    pub fleet_url: Option<String>,
    /// How long a join token stays usable.
    pub fleet_join_token_minutes: u64,
    /// How long a start may take until the LAPI is ready.
    pub crowdsec_ready_timeout_secs: u64,
    /// How long the engine's Local API may fail its health check before the supervisor restarts it.
    pub crowdsec_watchdog_secs: u64,
    /// Read-only sources shipped by Debian's crowdsec package.
    pub crowdsec_hub_source: PathBuf,
    pub crowdsec_data_source: PathBuf,
    pub crowdsec_patterns_source: PathBuf,
    pub crowdsec_plugin_dir: PathBuf,
    /// How often the decision cache polls the LAPI's stream for changes.
    pub decision_sync_interval_ms: u64,
    /// How often the decision cache fetches the complete set (deltas can miss rows on 1.4.6).
    pub decision_full_resync_secs: u64,
    /// IP-to-country MMDB (`country_code` records); missing file → countries unknown.
    pub geoip_db: Option<PathBuf>,
    /// Run the data plane (Caddy and the forward-auth bouncer, processes of their own).
    pub proxy_enabled: bool,
    /// Where Caddy serves the proxy hosts: `:80`, `127.0.0.1:8088`, …
    pub proxy_listen: String,
    /// `caddy` binary; found on `PATH` when unset.
    pub caddy_bin: Option<PathBuf>,
    /// The forward-auth bouncer's listener (loopback only).
    pub bouncer_listen: SocketAddr,
    /// What visitors of protected sites get while the bouncer cannot decide (before its first
    /// sync, or when it is unreachable): `open` lets them through, `closed` answers 503.
    pub bouncer_fail_mode: FailMode,
    /// Comma-separated CIDRs whose `X-Forwarded-For` the bouncer believes (Caddy's own address).
    pub bouncer_trusted_proxies: String,
    /// The `charon` executable the bouncer process runs as; this executable when unset.
    pub bouncer_bin: Option<PathBuf>,
    /// CrowdSec's Central API (console enrollment, community blocklist), or `off`.
    pub capi_url: String,
    /// The address people open the console at (`https://charon.example.com`). When set, a
    /// browser's `Origin` must be exactly this (not merely match the request's own `Host`, which
    /// DNS rebinding controls).
    pub public_url: Option<String>,
    /// How often the heartbeat poller logs in to the Central API.
    pub heartbeat_interval_secs: u64,
    /// How long one Central-API request may take (enrollment retries it twice more).
    pub capi_timeout_secs: u64,
    /// Audit-log lines older than this are deleted (checked hourly).
    pub audit_retention_days: u64,
    /// Addresses or ranges administrators use (comma-separated), protected like a signed-in
    /// administrator's address: never banned without confirmation, not blocked by engine decisions.
    pub admin_addresses: String,
    /// How long the evidence index keeps the requests the protected sites saw.
    pub evidence_retention_days: u64,
    /// The most requests the evidence index keeps (the oldest go first).
    pub evidence_max_requests: u64,
    /// Notifications may not go to private, loopback or link-local addresses (checked after
    /// name resolution; the checked address is the one connected to).
    pub notify_block_private: bool,
    /// The widest ranges an operator may ban: the shortest prefix for IPv4 and for IPv6.
    pub operator_ban_max_prefix_v4: u8,
    pub operator_ban_max_prefix_v6: u8,
    /// OpenID Connect sign-in: the identity provider's issuer URL (its discovery document is
    /// `<issuer>/.well-known/openid-configuration`); unset: no OIDC.
    pub oidc_issuer: Option<String>,
    pub oidc_client_id: String,
    pub oidc_client_secret: Option<Secret>,
    /// Space-separated scopes asked for (`openid` is always among them).
    pub oidc_scopes: String,
    /// The ID-token claim that lists the user's groups.
    pub oidc_groups_claim: String,
    /// `group=role` pairs, comma-separated (`charon-admins=admin,oncall=operator,staff=viewer`);
    /// a user gets the strongest role any of their groups maps to, and none without one.
    pub oidc_role_map: String,
    /// The sign-in page's button: "Sign in with <label>".
    pub oidc_label: String,
    /// Local password sign-in; turn it off once OIDC works (`charon admin reset-password` and
    /// setting this back to `true` are the way back in).
    pub password_login: bool,
}

/// A secret setting: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The engine's settings, gathered from the flat `crowdsec_*` keys.
#[derive(Debug, Clone)]
pub struct CrowdSecConfig {
    pub bin: Option<PathBuf>,
    pub cscli_bin: Option<PathBuf>,
    pub lapi_listen: SocketAddr,
    pub prometheus: String,
    pub bouncer_key: Option<Secret>,
    pub ready_timeout_secs: u64,
    pub watchdog_secs: u64,
    pub hub_source: PathBuf,
    pub data_source: PathBuf,
    pub patterns_source: PathBuf,
    pub plugin_dir: PathBuf,
    pub database: engine_database::EngineDatabase,
}

impl CrowdSecConfig {
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.prometheus.parse().ok()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "0.0.0.0:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./data"),
            site_root: PathBuf::from("target/site"),
            log_format: LogFormat::Human,
            log_level: "info".to_owned(),
            session_ttl_hours: 12,
            login_max_failures: 5,
            login_window_secs: 60,
            http_header_timeout_secs: 10,
            http_max_connections: 1024,
            crowdsec_bin: None,
            cscli_bin: None,
            crowdsec_lapi_listen: "127.0.0.1:8085".parse().expect("valid default address"),
            crowdsec_prometheus: "127.0.0.1:6060".to_owned(),
            crowdsec_bouncer_key: None,
            database_url: None,
            crowdsec_database_url: None,
            fleet_listen: None,
            fleet_url: None,
            fleet_join_token_minutes: 60,
            crowdsec_ready_timeout_secs: 60,
            crowdsec_watchdog_secs: 60,
            crowdsec_hub_source: PathBuf::from("/usr/share/crowdsec/hub"),
            crowdsec_data_source: PathBuf::from("/usr/share/crowdsec/data"),
            crowdsec_patterns_source: PathBuf::from("/etc/crowdsec/patterns"),
            crowdsec_plugin_dir: PathBuf::from("/usr/lib/crowdsec/plugins"),
            decision_sync_interval_ms: 1000,
            decision_full_resync_secs: 60,
            geoip_db: Some(PathBuf::from(
                "tools/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb",
            )),
            proxy_enabled: true,
            proxy_listen: ":80".to_owned(),
            caddy_bin: None,
            bouncer_listen: "127.0.0.1:8081".parse().expect("valid default address"),
            bouncer_fail_mode: FailMode::Open,
            bouncer_trusted_proxies: "127.0.0.1/32,::1/128".to_owned(),
            bouncer_bin: None,
            capi_url: "https://api.crowdsec.net/".to_owned(),
            public_url: None,
            heartbeat_interval_secs: 300,
            capi_timeout_secs: 10,
            audit_retention_days: 90,
            admin_addresses: String::new(),
            evidence_retention_days: 7,
            evidence_max_requests: 2_000_000,
            notify_block_private: false,
            operator_ban_max_prefix_v4: 24,
            operator_ban_max_prefix_v6: 64,
            oidc_issuer: None,
            oidc_client_id: String::new(),
            oidc_client_secret: None,
            oidc_scopes: "openid profile email groups".to_owned(),
            oidc_groups_claim: "groups".to_owned(),
            oidc_role_map: String::new(),
            oidc_label: "single sign-on".to_owned(),
            password_login: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Rule(&'static str),
}

/// Where nodes reach the fleet listener: its URL and the host name its certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetAddress {
    /// `https://host:port`, no trailing slash.
    pub url: String,
    pub host: String,
}

impl Config {
    /// The fleet listener's public address (`fleet_url`, or this machine's host name and the
    /// listener's port); `None` without a listener or with a malformed `fleet_url`.
    pub fn fleet_address(&self) -> Option<FleetAddress> {
        let listen = self.fleet_listen?;
        let url = match &self.fleet_url {
            Some(u) => u.trim().trim_end_matches('/').to_owned(),
            None => {
                let host = if listen.ip().is_unspecified() {
                    crate::support::host_name()?
                } else {
                    match listen.ip() {
                        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                        v4 => v4.to_string(),
                    }
                };
                format!("https://{host}:{}", listen.port())
            }
        };
        let rest = url.strip_prefix("https://")?;
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
            return None;
        }
        let host = if let Some(v6) = rest.strip_prefix('[') {
            v6.split_once(']')?.0.to_owned()
        } else {
            rest.rsplit_once(':').map_or(rest, |(h, _)| h).to_owned()
        };
        if host.is_empty() {
            return None;
        }
        Some(FleetAddress { url, host: host.to_ascii_lowercase() })
    }

    /// Loads defaults ← file ← `CHARON_*` environment. `file` defaults to `CHARON_CONFIG`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env_file = std::env::var_os("CHARON_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed("CHARON_").ignore(&["config"]));
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        engine_database::EngineDatabase::parse(self.crowdsec_database_url.as_ref()).map_err(ConfigError::Rule)?;
        if let Some(url) = self.postgres_url() {
            database_url::parse(url).map_err(ConfigError::Rule)?;
        }
        if self.fleet_listen.is_some() && self.fleet_address().is_none() {
            return Err(ConfigError::Rule("fleet_url must be an https URL such as https://central.example.com:8443 (no path)"));
        }
        if !(1..=10_080).contains(&self.fleet_join_token_minutes) {
            return Err(ConfigError::Rule("fleet_join_token_minutes must be between 1 and 10080"));
        }
        if self.session_ttl_hours == 0 {
            return Err(ConfigError::Rule("session_ttl_hours must be at least 1"));
        }
        if self.public_url.is_some() && self.public_origin().is_none() {
            return Err(ConfigError::Rule("public_url must be an origin such as https://charon.example.com (no path)"));
        }
        if self.crowdsec_watchdog_secs < 5 {
            return Err(ConfigError::Rule("crowdsec_watchdog_secs must be at least 5"));
        }
        if self.http_header_timeout_secs == 0 || self.http_max_connections == 0 {
            return Err(ConfigError::Rule("http_header_timeout_secs and http_max_connections must be at least 1"));
        }
        if self.crowdsec_prometheus != "off" {
            match self.crowdsec_prometheus.parse::<SocketAddr>() {
                Ok(a) if a.ip().is_loopback() => {}
                _ => {
                    return Err(ConfigError::Rule(
                        "crowdsec_prometheus must be a loopback address such as 127.0.0.1:6060, or off",
                    ))
                }
            }
        }
        if self.decision_full_resync_secs == 0 {
            return Err(ConfigError::Rule("decision_full_resync_secs must be at least 1"));
        }
        if self.decision_sync_interval_ms < 100 {
            return Err(ConfigError::Rule("decision_sync_interval_ms must be at least 100"));
        }
        if !self.crowdsec_lapi_listen.ip().is_loopback() {
            return Err(ConfigError::Rule("crowdsec_lapi_listen must be a loopback address"));
        }
        if !self.bouncer_listen.ip().is_loopback() {
            return Err(ConfigError::Rule("bouncer_listen must be a loopback address"));
        }
        if self.trusted_proxies().is_err() {
            return Err(ConfigError::Rule("bouncer_trusted_proxies must be comma-separated CIDRs such as 127.0.0.1/32"));
        }
        if self.proxy_listen.trim().is_empty() || self.proxy_listen.contains(['/', ' ']) {
            return Err(ConfigError::Rule("proxy_listen must be an address such as :80 or 127.0.0.1:8088"));
        }
        if self.capi_url != "off" && !(self.capi_url.starts_with("https://") || self.capi_url.starts_with("http://")) {
            return Err(ConfigError::Rule("capi_url must be an http(s) URL such as https://api.crowdsec.net/, or off"));
        }
        if self.capi_timeout_secs == 0 {
            return Err(ConfigError::Rule("capi_timeout_secs must be at least 1"));
        }
        if !(1..=365).contains(&self.evidence_retention_days) {
            return Err(ConfigError::Rule("evidence_retention_days must be between 1 and 365"));
        }
        if !(10_000..=100_000_000).contains(&self.evidence_max_requests) {
            return Err(ConfigError::Rule("evidence_max_requests must be between 10000 and 100000000"));
        }
        if self.admin_address_list().is_err() {
            return Err(ConfigError::Rule("admin_addresses must be comma-separated addresses or CIDR ranges"));
        }
        if let Some(issuer) = &self.oidc_issuer {
            if !(issuer.starts_with("https://") || issuer.starts_with("http://")) || self.oidc_client_id.trim().is_empty() {
                return Err(ConfigError::Rule("oidc_issuer must be an http(s) URL, and oidc_client_id must be set with it"));
            }
            if self.oidc_roles().map_or(true, |m| m.is_empty()) {
                return Err(ConfigError::Rule("oidc_role_map must map at least one group to a role: group=admin|operator|viewer, comma-separated"));
            }
        }
        if !self.password_login && self.oidc_issuer.is_none() {
            return Err(ConfigError::Rule("password_login = false needs OIDC (oidc_issuer): nobody could sign in"));
        }
        if !(8..=32).contains(&self.operator_ban_max_prefix_v4) || !(16..=128).contains(&self.operator_ban_max_prefix_v6) {
            return Err(ConfigError::Rule("operator_ban_max_prefix_v4 must be between 8 and 32, operator_ban_max_prefix_v6 between 16 and 128"));
        }
        if !(1..=3650).contains(&self.audit_retention_days) {
            return Err(ConfigError::Rule("audit_retention_days must be between 1 and 3650"));
        }
        if self.heartbeat_interval_secs < 10 {
            return Err(ConfigError::Rule("heartbeat_interval_secs must be at least 10"));
        }
        if self.login_max_failures == 0 || self.login_window_secs == 0 {
            return Err(ConfigError::Rule(
                "login_max_failures and login_window_secs must be at least 1",
            ));
        }
        Ok(())
    }

    pub fn crowdsec(&self) -> CrowdSecConfig {
        CrowdSecConfig {
            bin: self.crowdsec_bin.clone(),
            cscli_bin: self.cscli_bin.clone(),
            lapi_listen: self.crowdsec_lapi_listen,
            prometheus: self.crowdsec_prometheus.clone(),
            bouncer_key: self.crowdsec_bouncer_key.clone(),
            // `validate` refused a malformed URL already.
            database: engine_database::EngineDatabase::parse(self.crowdsec_database_url.as_ref()).unwrap_or(engine_database::EngineDatabase::Sqlite),
            ready_timeout_secs: self.crowdsec_ready_timeout_secs,
            watchdog_secs: self.crowdsec_watchdog_secs,
            hub_source: self.crowdsec_hub_source.clone(),
            data_source: self.crowdsec_data_source.clone(),
            patterns_source: self.crowdsec_patterns_source.clone(),
            plugin_dir: self.crowdsec_plugin_dir.clone(),
        }
    }

    /// `admin_addresses` as addresses and ranges.
    pub fn admin_address_list(&self) -> Result<Vec<app::decisions::model::IpOrRange>, String> {
        self.admin_addresses
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| app::decisions::model::IpOrRange::parse(s).map_err(|_| format!("{s} is not an address or a CIDR range")))
            .collect()
    }

    /// The evidence index's file.
    pub fn evidence_path(&self) -> PathBuf {
        self.data_dir.join("evidence.db")
    }

    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ipnet::AddrParseError> {
        self.bouncer_trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect()
    }

    /// `scheme://host[:port]` of `public_url`, lower-cased; `None` when unset or not such a URL
    /// (`validate` refuses the latter).
    pub fn public_origin(&self) -> Option<String> {
        let url = self.public_url.as_deref()?.trim().trim_end_matches('/').to_ascii_lowercase();
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
        (!rest.is_empty() && !rest.contains('/') && !rest.contains('@') && !rest.contains('?')).then_some(url)
    }

    /// `oidc_role_map` as (group, role) pairs; `Err` when a pair is malformed.
    pub fn oidc_roles(&self) -> Result<Vec<(String, app::accounts::model::Role)>, ()> {
        app::accounts::model::parse_role_map(&self.oidc_role_map).ok_or(())
    }

    /// The Central API's base URL with a trailing slash, or `None` when turned off.
    pub fn capi_base(&self) -> Option<String> {
        (self.capi_url != "off").then(|| format!("{}/", self.capi_url.trim_end_matches('/')))
    }

    /// `database_url` when set (an empty value means unset: the SQLite file).
    pub fn postgres_url(&self) -> Option<&str> {
        self.database_url.as_ref().map(Secret::expose).filter(|u| !u.trim().is_empty())
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("charon.db")
    }
}

pub mod database_url;
pub mod engine_database;

#[cfg(test)]
mod tests;
