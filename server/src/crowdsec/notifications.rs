//! The engine's notification plugin, set up so that it works with Debian's package: Debian names
//! its plugin binaries `http`, `slack`, … while 1.4.6 insists on `<type>-<name>` and refuses to
//! start as soon as a profile lists a notification. Charon keeps its own plugin directory
//! (`<data>/crowdsec/plugins/notification-http`, a copy: the engine wants the file owned by the
//! user it runs as and writable by nobody else), one notification (`charon`) posting every alert
//! to the console's hook, and lists it in the profiles. Without the plugin the engine starts
//! without notifications (the status says so).

use std::path::{Path, PathBuf};

use crate::notify::engine_alerts::{AlertHook, TOKEN_ENV};

/// The notification's name, as profiles list it.
pub const NAME: &str = "charon";
const PLUGIN: &str = "notification-http";

/// Copies the http plugin into `own_dir` (when missing or changed); its path, or `None` when the
/// source directory has none under either name.
pub fn provide_http_plugin(source_dir: &Path, own_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let Some(source) = [source_dir.join(PLUGIN), source_dir.join("http")].into_iter().find(|p| p.is_file()) else {
        return Ok(None);
    };
    std::fs::create_dir_all(own_dir)?;
    let target = own_dir.join(PLUGIN);
    let same = match (std::fs::metadata(&source), std::fs::metadata(&target)) {
        (Ok(a), Ok(b)) => a.len() == b.len() && a.modified().ok() <= b.modified().ok(),
        _ => false,
    };
    if !same {
        let partial = own_dir.join(format!(".{PLUGIN}.partial"));
        std::fs::copy(&source, &partial)?;
        std::fs::set_permissions(&partial, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        std::fs::rename(&partial, &target)?;
    }
    Ok(Some(target))
}

/// The notification: every alert, as JSON, to the hook; the token comes from the engine's
/// environment (`${…}` is expanded by the engine), never from this file.
pub fn notification_yaml(hook: &AlertHook) -> String {
    format!(
        "# Written by Charon: the engine's alerts go to the console (its notifications).\n\
         type: http\n\
         name: {NAME}\n\
         log_level: info\n\
         format: |\n  {{{{ .|toJson }}}}\n\
         url: {url}\n\
         method: POST\n\
         headers:\n  Content-Type: application/json\n  Authorization: \"Bearer ${{{TOKEN_ENV}}}\"\n\
         timeout: 5s\n\
         max_retry: 5\n",
        url = hook.url
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debians_plugin_is_copied_under_the_name_the_engine_accepts() {
        let src = tempfile::tempdir().unwrap();
        let own = tempfile::tempdir().unwrap();
        assert_eq!(provide_http_plugin(src.path(), own.path()).unwrap(), None, "no plugin, no notification");
        std::fs::write(src.path().join("http"), b"#!/bin/sh\n").unwrap();
        let got = provide_http_plugin(src.path(), own.path()).unwrap().unwrap();
        assert_eq!(got, own.path().join("notification-http"));
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&got).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o755);
    }

    #[test]
    fn the_notification_names_the_token_variable_not_the_token() {
        let hook = AlertHook::new("127.0.0.1:8080".parse().unwrap());
        let yaml = notification_yaml(&hook);
        assert!(yaml.contains("url: http://127.0.0.1:8080/api/v1/internal/engine-alerts"), "{yaml}");
        assert!(yaml.contains("Bearer ${CHARON_ALERT_HOOK_TOKEN}") && !yaml.contains(&hook.token), "{yaml}");
        assert!(yaml.contains("{{ .|toJson }}"), "{yaml}");
        let doc: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(doc["name"], NAME);
    }
}
