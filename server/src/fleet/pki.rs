//! The fleet's own certificate authority: made at the first start with the fleet listener on, kept
//! in `<data>/fleet/` (the CA's key and the server's key 0600). The server certificate names the
//! host of `fleet_url` (and loopback); it is issued again when that name changes, by the same CA,
//! so nodes that pinned the CA keep trusting the central node. Nodes pin the CA by the SHA-256
//! of its DER, which the join command carries.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::support::files::{private, write_private_file};

const CA_NAME: &str = "Charon fleet CA";

/// The CA and the server certificate the fleet listener presents.
pub struct Pki {
    pub ca_pem: String,
    /// SHA-256 of the CA's DER, lowercase hex: what a node pins.
    pub ca_sha256: String,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }
    fn cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    fn key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    /// The names the server certificate was issued for, one per line.
    fn names(&self) -> PathBuf {
        self.dir.join("server.names")
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365 * 20);
    params
}

/// SHA-256 of the first certificate of a PEM text, lowercase hex.
pub fn fingerprint(pem: &str) -> anyhow::Result<String> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| anyhow::anyhow!("not a PEM certificate: {e}"))?;
    Ok(hex::encode(Sha256::digest(der.as_ref())))
}

impl Pki {
    /// Loads the CA and server certificate from `dir`, making what is missing; the server
    /// certificate is issued again when `names` differ from those it was made for.
    pub fn load_or_create(dir: &Path, names: &[String]) -> anyhow::Result<Pki> {
        let files = Files { dir: dir.to_path_buf() };
        std::fs::create_dir_all(dir)?;
        private(dir)?;
        if !files.ca_key().exists() || !files.ca_cert().exists() {
            let key = KeyPair::generate()?;
            let cert = ca_params().self_signed(&key)?;
            write_private_file(&files.ca_key(), key.serialize_pem().as_bytes())?;
            write_private_file(&files.ca_cert(), cert.pem().as_bytes())?;
            let _ = std::fs::remove_file(files.names());
            tracing::info!(dir = %dir.display(), "[FLEET] made the fleet's certificate authority");
        }
        let wanted = names.join("\n");
        let current = std::fs::read_to_string(files.names()).unwrap_or_default();
        if current != wanted || !files.cert().exists() || !files.key().exists() {
            let ca_key = KeyPair::from_pem(&std::fs::read_to_string(files.ca_key())?)?;
            let issuer = Issuer::new(ca_params(), ca_key);
            let mut params = CertificateParams::new(names.to_vec())?;
            params.distinguished_name = DistinguishedName::new();
            params.distinguished_name.push(DnType::CommonName, "Charon fleet");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
            let now = time::OffsetDateTime::now_utc();
            params.not_before = now - time::Duration::days(1);
            params.not_after = now + time::Duration::days(365 * 5);
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &issuer)?;
            write_private_file(&files.key(), key.serialize_pem().as_bytes())?;
            write_private_file(&files.cert(), cert.pem().as_bytes())?;
            write_private_file(&files.names(), wanted.as_bytes())?;
            tracing::info!(names = ?names, "[FLEET] issued the fleet listener's certificate");
        }
        let ca_pem = std::fs::read_to_string(files.ca_cert())?;
        let chain = CertificateDer::pem_file_iter(files.cert())
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", files.cert().display()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", files.cert().display()))?;
        let key = PrivateKeyDer::from_pem_file(files.key()).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", files.key().display()))?;
        Ok(Pki { ca_sha256: fingerprint(&ca_pem)?, ca_pem, chain, key })
    }

    /// The TLS server configuration of the fleet listener.
    pub fn server_config(&self) -> anyhow::Result<rustls::ServerConfig> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;

    #[test]
    fn the_ca_survives_a_new_name_and_its_fingerprint_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = Pki::load_or_create(dir.path(), &["central.example".into(), "127.0.0.1".into()]).unwrap();
        let again = Pki::load_or_create(dir.path(), &["central.example".into(), "127.0.0.1".into()]).unwrap();
        assert_eq!(a.chain, again.chain, "unchanged names keep the certificate");
        let b = Pki::load_or_create(dir.path(), &["other.example".into()]).unwrap();
        assert_eq!(a.ca_sha256, b.ca_sha256, "the CA stays");
        assert_ne!(a.chain, b.chain, "a new name gets a new certificate");
        assert_eq!(a.ca_sha256.len(), 64);
        for f in ["ca.key", "server.key"] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
        // The server certificate chains to the CA: rustls accepts it with the CA as only root.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(b.ca_pem.as_bytes()).unwrap()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let name = rustls::pki_types::ServerName::try_from("other.example").unwrap();
        verifier.verify_server_cert(&b.chain[0], &[], &name, &[], rustls::pki_types::UnixTime::now()).unwrap();
        let wrong = rustls::pki_types::ServerName::try_from("central.example").unwrap();
        assert!(verifier.verify_server_cert(&b.chain[0], &[], &wrong, &[], rustls::pki_types::UnixTime::now()).is_err());
    }
}
