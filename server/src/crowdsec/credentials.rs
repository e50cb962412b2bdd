//! The machine credentials file cscli writes (`url`, `login`, `password`).

use std::path::Path;

use serde::Deserialize;

#[derive(Deserialize)]
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
}
