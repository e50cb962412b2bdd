//! The engine's Central-API credentials (`<config>/online_api_credentials.yaml`, mode 0600): the
//! watcher Charon registers automatically when the console or the community blocklist needs one.

use std::path::Path;

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineCredentials {
    pub url: String,
    pub login: String,
    pub password: String,
}

impl std::fmt::Debug for OnlineCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineCredentials").field("url", &self.url).field("login", &self.login).finish_non_exhaustive()
    }
}

fn random(n: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(n).map(char::from).collect()
}

impl OnlineCredentials {
    /// A new watcher: a 48-character alphanumeric machine id (like crowdsec's) and a password.
    pub fn generate(url: &str) -> Self {
        OnlineCredentials { url: url.to_owned(), login: random(48), password: random(64) }
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        Ok(serde_norway::from_str(&text)?)
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        crate::support::files::write_private_file(path, serde_norway::to_string(self)?.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_with_mode_0600_and_never_print_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online_api_credentials.yaml");
        let c = OnlineCredentials::generate("http://127.0.0.1:1/");
        assert_eq!(c.login.len(), 48);
        c.save(&path).unwrap();
        assert_eq!(OnlineCredentials::load(&path).unwrap(), c);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!format!("{c:?}").contains(&c.password));
    }
}
