//! Fails the build when the locale files disagree: every key of the default locale (`en`) must exist,
//! non-empty, in every other locale, and no locale may carry keys the default does not know.
//! leptos_i18n only warns about a missing translation and falls back to English; the reference
//! product shipped raw keys on screen, so here a gap is a build error.
//!
//! Also stamps the build: `CHARON_VERSION_LINE` = "<version> (<commit>)", the commit from the
//! `CHARON_BUILD_COMMIT` the release build sets (`scripts/build_if_changed.sh`), `dev` otherwise
//! (so ordinary `cargo` runs do not rebuild at every commit).

use std::collections::BTreeSet;
use std::path::Path;

const DEFAULT: &str = "en";
const LOCALES: &[&str] = &["en", "de", "es", "fr", "zh"];

fn keys(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read locale file {}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("locale file {} is not valid JSON: {e}", path.display()));
    let map = value
        .as_object()
        .unwrap_or_else(|| panic!("locale file {} must be a JSON object", path.display()));
    for (k, v) in map {
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => {}
            _ => panic!("locale file {}: key `{k}` must be a non-empty string", path.display()),
        }
    }
    map.keys().cloned().collect()
}

fn main() {
    // Read when the script runs, not when it was compiled: checkouts at other paths share one
    // target directory (`.ci/run`), and cargo reuses the compiled script across them.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("locales");
    println!("cargo::rerun-if-changed={}", dir.display());
    let default = keys(&dir.join(format!("{DEFAULT}.json")));
    let mut problems = Vec::new();
    for locale in LOCALES.iter().filter(|l| **l != DEFAULT) {
        let path = dir.join(format!("{locale}.json"));
        println!("cargo::rerun-if-changed={}", path.display());
        let other = keys(&path);
        for missing in default.difference(&other) {
            problems.push(format!("{locale}.json lacks `{missing}`"));
        }
        for extra in other.difference(&default) {
            problems.push(format!("{locale}.json has `{extra}` which {DEFAULT}.json lacks"));
        }
    }
    if !problems.is_empty() {
        panic!("locale files disagree:\n  {}", problems.join("\n  "));
    }
    println!("cargo::rerun-if-env-changed=CHARON_BUILD_COMMIT");
    let commit = std::env::var("CHARON_BUILD_COMMIT").ok().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| "dev".into());
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    println!("cargo::rustc-env=CHARON_VERSION_LINE={version} ({})", commit.trim());
}
