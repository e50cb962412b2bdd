//! The machine credentials file cscli writes (`url`, `login`, `password`).

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
pub struct MachineCredentials {
    pub url: String,
    pub login: String,
    password: String,
}

impl std::fmt::Debug for MachineCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineCredentials")
            .field("url", &self.url)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl MachineCredentials {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        Ok(serde_norway::from_str(&text)?)
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The LAPI address the engine's own agent logs in to (cscli writes `http://<listen>/`).
    pub fn url_for(listen: std::net::SocketAddr) -> String {
        format!("http://{listen}/")
    }

    /// Points the file at `listen` when it names another address (the configuration changed since
    /// the machine was registered); login and password stay. Returns whether it rewrote the file.
    pub fn follow_listen(path: &Path, listen: std::net::SocketAddr) -> anyhow::Result<bool> {
        let mut creds = Self::load(path)?;
        let url = Self::url_for(listen);
        if creds.url.trim_end_matches('/') == url.trim_end_matches('/') {
            return Ok(false);
        }
        creds.url = url;
        crate::support::files::write_private_file(path, serde_norway::to_string(&creds)?.as_bytes())?;
        Ok(true)
    }
}
