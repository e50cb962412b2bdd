//! Loading the configuration: defaults, the TOML file, `CHARON_*` variables, refusals.

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
        assert!(err.to_lowercase().contains("listen"), "{err}");
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
fn the_bouncer_key_never_shows_in_debug_output() {
    Jail::expect_with(|jail| {
        jail.set_env("CHARON_CROWDSEC_BOUNCER_KEY", "supersecretkey123");
        jail.set_env("CHARON_CROWDSEC_PROMETHEUS", "off");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.crowdsec_bouncer_key.as_ref().unwrap().expose(), "supersecretkey123");
        assert!(!format!("{c:?}").contains("supersecretkey123"));
        assert_eq!(c.crowdsec().prometheus_addr(), None);
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("CHARON_CROWDSEC_PROMETHEUS", "0.0.0.0:6060");
        assert!(Config::load(None).is_err(), "metrics must stay on loopback");
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

#[test]
fn admin_addresses_are_a_list_of_addresses_and_ranges() {
    let mut c = Config::default();
    c.admin_addresses = " 192.0.2.10, 2001:db8::/64 ,".into();
    let list = c.admin_address_list().unwrap();
    assert_eq!(list.iter().map(|t| t.value()).collect::<Vec<_>>(), ["192.0.2.10", "2001:db8::/64"]);
    c.admin_addresses = "192.0.2.300".into();
    assert!(c.admin_address_list().is_err());
}
