//! Secrets at rest: a notification channel's URL, token and signing secret, and each account's
//! TOTP secret, are stored sealed with XChaCha20-Poly1305 under a key that lives in the data dir (`secrets.key`, 0600, made at first
//! use). A copy of the database alone reveals none of them; a backup holds the key too (it is the
//! data dir), which is why backups are private.

use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    /// Reads the key, or makes one.
    pub fn open(data_dir: &Path) -> anyhow::Result<Sealer> {
        let path: PathBuf = data_dir.join("secrets.key");
        let key = match std::fs::read(&path) {
            Ok(k) if k.len() == 32 => k,
            Ok(_) => anyhow::bail!("{} is not a 32-byte key", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut k = vec![0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut k);
                crate::support::files::write_private_file(&path, &k)?;
                k
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Sealer { cipher: XChaCha20Poly1305::new_from_slice(&key).map_err(|_| anyhow::anyhow!("bad key length"))? })
    }

    /// `nonce ‖ ciphertext`.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self.cipher.encrypt(XNonce::from_slice(&nonce), plain).expect("encryption does not fail");
        [nonce.as_slice(), &sealed].concat()
    }

    pub fn open_sealed(&self, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(sealed.len() > 24, "a sealed secret is too short");
        let (nonce, body) = sealed.split_at(24);
        self.cipher.decrypt(XNonce::from_slice(nonce), body).map_err(|_| anyhow::anyhow!("a sealed secret does not open with this data dir's key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_the_same_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::open(dir.path()).unwrap();
        let sealed = sealer.seal(b"https://discord.com/api/webhooks/1/token");
        assert!(!sealed.windows(5).any(|w| w == b"token"), "the plain text is not in the sealed bytes");
        assert_eq!(Sealer::open(dir.path()).unwrap().open_sealed(&sealed).unwrap(), b"https://discord.com/api/webhooks/1/token");
        let other = tempfile::tempdir().unwrap();
        assert!(Sealer::open(other.path()).unwrap().open_sealed(&sealed).is_err());
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir.path().join("secrets.key")).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
    }
}
