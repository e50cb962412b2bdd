//! Where the engine's Local API keeps alerts, decisions, machines and bouncers: its own SQLite file
//! under the data dir (the default), or a PostgreSQL database (`crowdsec_database_url`, the central
//! node of a fleet). The URL's password goes only into the generated `config.yaml` (0600), never
//! into argv, logs or error messages.

use std::path::Path;

use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use super::Secret;

#[derive(Clone, PartialEq, Eq)]
pub enum EngineDatabase {
    Sqlite,
    Postgres { user: String, password: Secret, host: String, port: u16, db_name: String, sslmode: String },
}

impl std::fmt::Debug for EngineDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// lib/pq's `sslmode` values.
const SSL_MODES: [&str; 6] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

impl EngineDatabase {
    /// `postgres://user:password@host[:port]/db_name[?sslmode=…]` (user and password
    /// percent-encoded as in any URL). Without `sslmode`, a loopback host means `disable` and any
    /// other host `require`. The error never repeats the URL (it holds a password).
    pub fn parse(url: Option<&Secret>) -> Result<EngineDatabase, &'static str> {
        let Some(url) = url.map(Secret::expose).filter(|u| !u.trim().is_empty()) else { return Ok(EngineDatabase::Sqlite) };
        const SHAPE: &str = "crowdsec_database_url must look like postgres://user:password@host:5432/dbname[?sslmode=disable|require|verify-full]";
        let u = reqwest::Url::parse(url.trim()).map_err(|_| SHAPE)?;
        if !matches!(u.scheme(), "postgres" | "postgresql") {
            return Err(SHAPE);
        }
        let decode = |s: &str| percent_decode_str(s).decode_utf8().map(|c| c.into_owned()).map_err(|_| SHAPE);
        let user = decode(u.username())?;
        let password = decode(u.password().unwrap_or(""))?;
        let host = u.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']').to_owned();
        let db_name = decode(u.path().trim_start_matches('/'))?;
        if user.is_empty() || host.is_empty() || db_name.is_empty() || db_name.contains('/') {
            return Err(SHAPE);
        }
        // 1.4.6 writes these into a libpq `key=value` string without quoting: a space cuts the
        // value there (and its error message then shows the rest of the password).
        if [&user, &password, &db_name].iter().any(|v| v.chars().any(|c| c.is_whitespace() || c == '\'' || c == '\\' || c == '"')) {
            return Err("crowdsec_database_url: the engine (CrowdSec 1.4.6) cannot use a user, password or database name with spaces, quotes or backslashes");
        }
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let mut sslmode = if loopback { "disable" } else { "require" }.to_owned();
        for (k, v) in u.query_pairs() {
            match &*k {
                "sslmode" if SSL_MODES.contains(&&*v) => sslmode = v.into_owned(),
                _ => return Err(SHAPE),
            }
        }
        Ok(EngineDatabase::Postgres { user, password: Secret::new(password), host, port: u.port().unwrap_or(5432), db_name, sslmode })
    }

    /// The engine's `db_config` section.
    pub fn db_config(&self, sqlite_file: &Path) -> Value {
        match self {
            EngineDatabase::Sqlite => json!({
                "log_level": "info",
                "type": "sqlite",
                "db_path": sqlite_file.to_string_lossy(),
                "use_wal": true,
                // One connection: the LAPI's own writers then queue in Go instead of meeting in
                // SQLite, where a transaction that read before another connection wrote fails at
                // once with "database is locked" whatever the busy timeout (a bulk `cscli decisions
                // import` against a bouncer's `last_pull` update, seen here with one poller).
                "max_open_conns": 1,
                "flush": { "max_items": 5000, "max_age": "7d" }
            }),
            EngineDatabase::Postgres { user, password, host, port, db_name, sslmode } => json!({
                "log_level": "info",
                "type": "postgresql",
                "user": user,
                "password": password.expose(),
                "host": host,
                "port": port,
                "db_name": db_name,
                // lib/pq reads an empty sslmode as `require`: always written out.
                "sslmode": sslmode,
                "max_open_conns": 20,
                "flush": { "max_items": 5000, "max_age": "7d" }
            }),
        }
    }

    /// `text` with the password replaced (an engine or cscli message that quotes its connection).
    pub fn redact(&self, text: &str) -> String {
        match self {
            EngineDatabase::Postgres { password, .. } if !password.expose().is_empty() => text.replace(password.expose(), "<redacted>"),
            _ => text.to_owned(),
        }
    }

    /// For logs and the diagnostics: where, without the password.
    pub fn describe(&self) -> String {
        match self {
            EngineDatabase::Sqlite => "SQLite (crowdsec/data/crowdsec.db)".to_owned(),
            EngineDatabase::Postgres { user, host, port, db_name, sslmode, .. } => format!("PostgreSQL {user}@{host}:{port}/{db_name} (sslmode {sslmode})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<EngineDatabase, &'static str> {
        EngineDatabase::parse(Some(&Secret::new(url)))
    }

    #[test]
    fn a_postgres_url_becomes_the_engines_db_config_and_its_password_is_never_printed() {
        let db = parse("postgres://crowd%40sec:p%40ss%3Aw0rd@127.0.0.1:15432/crowdsec").unwrap();
        let cfg = db.db_config(Path::new("/unused"));
        assert_eq!((cfg["type"].as_str(), cfg["user"].as_str(), cfg["password"].as_str()), (Some("postgresql"), Some("crowd@sec"), Some("p@ss:w0rd")));
        assert_eq!((cfg["host"].as_str(), cfg["port"].as_u64(), cfg["db_name"].as_str(), cfg["sslmode"].as_str()), (Some("127.0.0.1"), Some(15432), Some("crowdsec"), Some("disable")));
        assert!(!format!("{db:?} {}", db.describe()).contains("p@ss"), "{db:?}");
        let remote = parse("postgresql://u:p@db.example:5432/cs").unwrap().db_config(Path::new("/unused"));
        assert_eq!((remote["sslmode"].as_str(), remote["port"].as_u64()), (Some("require"), Some(5432)), "TLS unless said otherwise off loopback");
        assert_eq!(parse("postgres://u:p@db.example/cs?sslmode=verify-full").unwrap().db_config(Path::new("/x"))["sslmode"], "verify-full");
        assert_eq!(db.redact("dsn password=p@ss:w0rd sslmode=disable"), "dsn password=<redacted> sslmode=disable");
        assert!(parse("postgres://u:two%20words@h/db").unwrap_err().contains("spaces"), "1.4.6 cannot quote them");
        for bad in ["mysql://u:p@h/db", "postgres://h/db", "postgres://u:p@h/", "postgres://u:p@h/db?sslmode=maybe", "postgres://u:p@h/db?x=1", "not a url"] {
            let e = parse(bad).unwrap_err();
            assert!(!e.contains("u:p"), "{e}");
        }
        assert_eq!(EngineDatabase::parse(None).unwrap(), EngineDatabase::Sqlite);
        assert_eq!(parse(" ").unwrap(), EngineDatabase::Sqlite);
    }
}
