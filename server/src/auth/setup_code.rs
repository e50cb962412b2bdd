//! The one-time setup code that guards `/setup` until the first administrator exists: whoever
//! reaches a fresh Charon first (it listens on all interfaces by default) must also be able to
//! read its log or its data directory. Generated at start while no administrator exists, printed
//! in a banner, kept in `<data>/setup-code` (0600), removed once the administrator is created.

use std::path::{Path, PathBuf};

use rand::Rng;

const FILE: &str = "setup-code";
/// No 0/O or 1/I/L: the code is copied by hand from a terminal.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The code for this data dir, generated (and logged) when there is none yet.
pub fn ensure(data_dir: &Path) -> anyhow::Result<String> {
    if let Some(code) = read(data_dir) {
        banner(data_dir, &code);
        return Ok(code);
    }
    let mut rng = rand::rngs::OsRng;
    let groups: Vec<String> = (0..4)
        .map(|_| (0..5).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect())
        .collect();
    let code = groups.join("-");
    crate::support::files::write_private_file(&path(data_dir), format!("{code}\n").as_bytes())?;
    banner(data_dir, &code);
    Ok(code)
}

fn banner(data_dir: &Path, code: &str) {
    let rule = "=".repeat(72);
    tracing::warn!(
        "\n{rule}\n  Charon has no administrator yet. Open /setup and enter this setup code:\n\n      {code}\n\n  (also in {}; it stops working once the administrator exists)\n{rule}",
        path(data_dir).display()
    );
}

fn read(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path(data_dir)).ok()?;
    let code = text.trim().to_owned();
    (!code.is_empty()).then_some(code)
}

/// Whether `presented` is the code (case, spaces and dashes do not matter; compared in constant
/// time). `false` when there is no code.
pub fn matches(data_dir: &Path, presented: &str) -> bool {
    let Some(code) = read(data_dir) else { return false };
    let canonical = |s: &str| -> Vec<u8> {
        s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase() as u8).collect()
    };
    let (a, b) = (canonical(&code), canonical(presented));
    super::secret::same(&a, &b)
}

/// The administrator exists: the code is spent.
pub fn remove(data_dir: &Path) {
    let _ = std::fs::remove_file(path(data_dir));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_private_reused_until_removed_and_matched_loosely() {
        let dir = tempfile::tempdir().unwrap();
        let code = ensure(dir.path()).unwrap();
        assert_eq!(code.len(), 23, "{code}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(path(dir.path())).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(ensure(dir.path()).unwrap(), code, "a restart keeps the code");
        assert!(matches(dir.path(), &code));
        assert!(matches(dir.path(), &format!(" {} ", code.to_lowercase().replace('-', " "))));
        assert!(!matches(dir.path(), "AAAAA-BBBBB-CCCCC-DDDDD"));
        assert!(!matches(dir.path(), ""));
        remove(dir.path());
        assert!(!matches(dir.path(), &code), "spent");
    }
}
