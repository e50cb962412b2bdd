//! Encryption at rest for the enrollment key (kept only so a re-enroll can reuse it): AES-256-GCM
//! with a random key generated into `<data>/secret.key` (mode 0600) on first use.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine as _;

pub struct SecretBox {
    path: PathBuf,
}

impl SecretBox {
    pub fn new(data_dir: &Path) -> Self {
        SecretBox { path: data_dir.join("secret.key") }
    }

    fn cipher(&self) -> anyhow::Result<Aes256Gcm> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) if b.len() == 32 => b,
            Ok(_) => anyhow::bail!("{} is not a 32-byte key", self.path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let key = Aes256Gcm::generate_key(OsRng);
                let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&self.path)?;
                f.write_all(&key)?;
                f.sync_all()?;
                key.to_vec()
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)))
    }

    /// `base64(nonce ‖ ciphertext)`.
    pub fn seal(&self, plain: &str) -> anyhow::Result<String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ct = self.cipher()?.encrypt(&nonce, plain.as_bytes()).map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend(ct);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
        let raw = base64::engine::general_purpose::STANDARD.decode(sealed)?;
        anyhow::ensure!(raw.len() > 12, "sealed value too short");
        let (nonce, ct) = raw.split_at(12);
        let plain = self.cipher()?.decrypt(Nonce::from_slice(nonce), ct).map_err(|_| anyhow::anyhow!("cannot decrypt (wrong secret.key?)"))?;
        Ok(String::from_utf8(plain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_again_and_do_not_contain_the_plain_text() {
        let dir = tempfile::tempdir().unwrap();
        let b = SecretBox::new(dir.path());
        let sealed = b.seal("abcdefghij0123456789").unwrap();
        assert!(!sealed.contains("abcdefghij"));
        assert_eq!(b.open(&sealed).unwrap(), "abcdefghij0123456789");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.path().join("secret.key")).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(SecretBox::new(tempfile::tempdir().unwrap().path()).open(&sealed).is_err(), "another key cannot open it");
    }
}
