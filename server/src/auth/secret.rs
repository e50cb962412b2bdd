//! Random secrets (session ids, API tokens) and the SHA-256 digests under which they are stored.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the OS generator, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The stored form of a high-entropy secret. A fast hash is enough here: the secrets are 256-bit
/// random values, not passwords, so there is nothing to brute-force.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether two secrets are equal, in time that depends only on their length (which is public).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub const TOKEN_PREFIX: &str = "chr_";

/// A new API token: recognisable prefix + 256 random bits.
pub fn new_api_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_hex(32))
}

/// The part shown in lists: the prefix and 4 characters, never enough to use.
pub fn token_display_prefix(token: &str) -> String {
    token.chars().take(TOKEN_PREFIX.len() + 4).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_long_and_stored_only_as_digest() {
        let a = new_api_token();
        let b = new_api_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        let d = digest(&a);
        assert_eq!(d.len(), 64);
        assert!(!d.contains(&a[TOKEN_PREFIX.len()..]));
        assert_eq!(token_display_prefix(&a).len(), TOKEN_PREFIX.len() + 4);
    }

    #[test]
    fn secrets_are_equal_only_byte_for_byte() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(same(b"", b""));
    }
}
