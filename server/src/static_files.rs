//! The site's static files. A release build names `/pkg/…` files by their content
//! (`charon.<hash>.wasm`, the hashes listed in `hash.txt`) and writes a brotli and a gzip copy
//! beside each (cargo-leptos `hash-files`, `precompress`). They are sent as they are — the copy the
//! browser accepts, with `Content-Encoding` and `Vary: Accept-Encoding` — and, being hashed,
//! cached for a year as immutable; a new build has new names. Without a hash file (a plain
//! `cargo leptos build`) the same files are revalidated on every use instead.

use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use leptos::config::LeptosOptions;
use tower_http::services::ServeDir;

/// The build's list of file hashes (`js: …`, `wasm: …`, `css: …`).
pub const HASH_FILE: &str = "hash.txt";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Where the build's hash file is: the site root (`make build` copies it there so the site
/// directory is complete on its own) or next to the binary (where cargo-leptos writes it).
/// `None` when the files are not hashed.
pub fn hash_file(site_root: &Path) -> Option<PathBuf> {
    let beside_binary = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join(HASH_FILE)));
    [Some(site_root.join(HASH_FILE)), beside_binary]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .map(|p| std::path::absolute(&p).unwrap_or(p))
}

/// Leptos options naming the hashed files when there are any.
pub fn with_hashes(mut options: LeptosOptions, site_root: &Path) -> LeptosOptions {
    if let Some(file) = hash_file(site_root) {
        options.hash_files = true;
        options.hash_file = file.to_string_lossy().into();
    }
    options
}

/// `/pkg/<name>` of the stylesheet, for the few pages rendered outside Leptos.
pub fn stylesheet_href(options: &LeptosOptions) -> String {
    let hash = options
        .hash_files
        .then(|| std::fs::read_to_string(options.hash_file.as_ref()).ok())
        .flatten()
        .and_then(|list| list.lines().find_map(|l| l.strip_prefix("css:").map(|h| h.trim().to_owned())));
    match hash {
        Some(h) => format!("/{}/{}.{h}.css", options.site_pkg_dir, options.output_name),
        None => format!("/{}/{}.css", options.site_pkg_dir, options.output_name),
    }
}

/// `/pkg`: precompressed variants, long-lived caching for hashed names (never for a 404: the
/// file may exist after the next deployment).
pub fn pkg_service(options: &LeptosOptions) -> Router {
    let dir = Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let cache = if options.hash_files { IMMUTABLE } else { REVALIDATE };
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    Router::new().fallback_service(files).layer(axum::middleware::map_response(move |mut res: Response| async move {
        let h = res.headers_mut();
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        let cacheable = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(if cacheable { cache } else { "no-store" }));
        res
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_follows_the_hash_file() {
        let dir = tempfile::tempdir().unwrap();
        let options = LeptosOptions::builder().output_name("charon").site_root(dir.path().to_string_lossy().into_owned()).site_pkg_dir("pkg").build();
        let plain = with_hashes(options.clone(), dir.path());
        if !plain.hash_files {
            assert_eq!(stylesheet_href(&plain), "/pkg/charon.css");
        }
        std::fs::write(dir.path().join(HASH_FILE), "js: AAA\nwasm: BBB\ncss: CCC\n").unwrap();
        let hashed = with_hashes(options, dir.path());
        assert!(hashed.hash_files);
        assert_eq!(stylesheet_href(&hashed), "/pkg/charon.CCC.css");
    }
}
