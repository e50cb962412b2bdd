//! Typed configuration, loaded once at start: built-in defaults, then an optional TOML file
//! (`--config FILE` or `CHARON_CONFIG`), then `CHARON_*` environment variables. Every key is
//! documented in the README with its default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
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

impl Config {
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
        if self.session_ttl_hours == 0 {
            return Err(ConfigError::Rule("session_ttl_hours must be at least 1"));
        }
        if self.login_max_failures == 0 || self.login_window_secs == 0 {
            return Err(ConfigError::Rule(
                "login_max_failures and login_window_secs must be at least 1",
            ));
        }
        Ok(())
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("charon.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_run_out_of_the_box() {
        Jail::expect_with(|_jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap());
            assert_eq!(c.data_dir, PathBuf::from("./data"));
            assert_eq!(c.log_format, LogFormat::Human);
            assert_eq!(c.database_path(), PathBuf::from("./data/charon.db"));
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "charon.toml",
                "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/charon\"\nsession_ttl_hours = 2\n",
            )?;
            jail.set_env("CHARON_LISTEN", "127.0.0.1:9100");
            jail.set_env("CHARON_LOG_FORMAT", "json");
            let c = Config::load(Some(Path::new("charon.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "127.0.0.1:9100".parse().unwrap());
            assert_eq!(c.data_dir, PathBuf::from("/srv/charon"));
            assert_eq!(c.session_ttl_hours, 2);
            assert_eq!(c.log_format, LogFormat::Json);
            Ok(())
        });
    }

    #[test]
    fn config_file_can_come_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.create_file("other.toml", "login_max_failures = 3\n")?;
            jail.set_env("CHARON_CONFIG", "other.toml");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.login_max_failures, 3);
            Ok(())
        });
    }

    #[test]
    fn bad_values_and_unknown_keys_are_rejected_with_the_key_named() {
        Jail::expect_with(|jail| {
            jail.set_env("CHARON_LISTEN", "not-an-address");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("listen"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "lisen = \"127.0.0.1:1\"\n")?;
            let err = Config::load(Some(Path::new("typo.toml"))).unwrap_err().to_string();
            assert!(err.contains("lisen"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("CHARON_LOG_FORMAT", "xml");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    fn a_named_config_file_must_exist() {
        Jail::expect_with(|_jail| {
            let err = Config::load(Some(Path::new("missing.toml"))).unwrap_err();
            assert!(matches!(err, ConfigError::MissingFile(_)));
            Ok(())
        });
    }
}
