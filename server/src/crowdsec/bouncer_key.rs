//! The dedicated bouncer `charon-bouncer` and its API key — one lookup order, in one place:
//! `CHARON_CROWDSEC_BOUNCER_KEY` if the LAPI accepts it, else the key file
//! `<data>/crowdsec/bouncer_key` (0600) if the LAPI accepts it, else a new registration whose key
//! cscli generates. Rejections are logged without the key.

use std::path::{Path, PathBuf};

use app::security::model::KeySource;

use super::cscli::Cscli;
use super::lapi::{KeyCheck, Lapi};

pub const BOUNCER_NAME: &str = "charon-bouncer";

/// The key in use and where it came from.
#[derive(Clone)]
pub struct ActiveKey {
    pub key: String,
    pub source: KeySource,
}

impl std::fmt::Debug for ActiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveKey").field("source", &self.source).finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Clone)]
pub struct Resolution {
    pub active: Option<ActiveKey>,
    pub env_key_rejected: bool,
}

pub struct BouncerKeys<'a> {
    pub env_key: Option<&'a str>,
    pub key_file: PathBuf,
    pub lapi: &'a Lapi,
    pub cscli: &'a Cscli,
}

pub fn read_key_file(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

impl BouncerKeys<'_> {
    /// Finds a key the LAPI accepts, registering a new bouncer when none does.
    pub async fn ensure(&self) -> anyhow::Result<Resolution> {
        let mut res = Resolution::default();
        if let Some(env) = self.env_key.filter(|k| !k.is_empty()) {
            match self.lapi.check_bouncer_key(env).await? {
                KeyCheck::Valid => {
                    res.active = Some(ActiveKey { key: env.to_owned(), source: KeySource::Env });
                    return Ok(res);
                }
                KeyCheck::Rejected => {
                    tracing::warn!("CHARON_CROWDSEC_BOUNCER_KEY was rejected by the LAPI; using the key file instead");
                    res.env_key_rejected = true;
                }
            }
        }
        if let Some(file_key) = read_key_file(&self.key_file) {
            match self.lapi.check_bouncer_key(&file_key).await? {
                KeyCheck::Valid => {
                    res.active = Some(ActiveKey { key: file_key, source: KeySource::File });
                    return Ok(res);
                }
                KeyCheck::Rejected => tracing::warn!(
                    path = %self.key_file.display(),
                    "the stored bouncer key was rejected by the LAPI; registering {BOUNCER_NAME} again"
                ),
            }
        }
        res.active = Some(self.register().await?);
        Ok(res)
    }

    /// Replaces the bouncer's registration with a new key; the old key stops working at once.
    pub async fn register(&self) -> anyhow::Result<ActiveKey> {
        self.cscli.delete_bouncer(BOUNCER_NAME).await?;
        let key = self.cscli.add_bouncer(BOUNCER_NAME).await?;
        if key.is_empty() {
            anyhow::bail!("cscli returned an empty bouncer key");
        }
        crate::support::files::write_private_file(&self.key_file, key.as_bytes())?;
        tracing::info!(path = %self.key_file.display(), "registered bouncer {BOUNCER_NAME}; key stored");
        match self.lapi.check_bouncer_key(&key).await? {
            KeyCheck::Valid => Ok(ActiveKey { key, source: KeySource::File }),
            KeyCheck::Rejected => anyhow::bail!("the LAPI rejected the key it just registered"),
        }
    }
}
