//! The hub index (`.index.json`) and enabling items offline: a collection pulls its parsers,
//! scenarios, postoverflows and sub-collections recursively, and each item is enabled the way
//! Debian's post-install does it — a symlink from the engine's config dir into the hub. This works
//! without the network, where `cscli collections install` on 1.4.6 does not.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemType {
    Collections,
    Parsers,
    Scenarios,
    Postoverflows,
}

impl ItemType {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Collections => "collections",
            ItemType::Parsers => "parsers",
            ItemType::Scenarios => "scenarios",
            ItemType::Postoverflows => "postoverflows",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct IndexItem {
    pub path: String,
    #[serde(default)]
    pub parsers: Option<Vec<String>>,
    #[serde(default)]
    pub scenarios: Option<Vec<String>>,
    #[serde(default)]
    pub postoverflows: Option<Vec<String>>,
    #[serde(default)]
    pub collections: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Index {
    #[serde(default)]
    pub collections: BTreeMap<String, IndexItem>,
    #[serde(default)]
    pub parsers: BTreeMap<String, IndexItem>,
    #[serde(default)]
    pub scenarios: BTreeMap<String, IndexItem>,
    #[serde(default)]
    pub postoverflows: BTreeMap<String, IndexItem>,
}

impl Index {
    pub fn load(hub_dir: &Path) -> anyhow::Result<Self> {
        let path = hub_dir.join(".index.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read hub index {}: {e}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    pub fn get(&self, kind: ItemType, name: &str) -> Option<&IndexItem> {
        match kind {
            ItemType::Collections => self.collections.get(name),
            ItemType::Parsers => self.parsers.get(name),
            ItemType::Scenarios => self.scenarios.get(name),
            ItemType::Postoverflows => self.postoverflows.get(name),
        }
    }
}

/// Enables items by linking `<config>/<type>/[<stage>/]<file>` to the item's file in the hub.
pub struct Enabler<'a> {
    index: &'a Index,
    hub_dir: &'a Path,
    config_dir: &'a Path,
}

/// An index path is relative and stays inside the hub: no `..`, no absolute parts.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| p.to_path_buf())
}

impl<'a> Enabler<'a> {
    pub fn new(index: &'a Index, hub_dir: &'a Path, config_dir: &'a Path) -> Self {
        Enabler { index, hub_dir, config_dir }
    }

    /// The item and everything it depends on; returns the (type, name) pairs that were enabled.
    pub fn enable(&self, kind: ItemType, name: &str) -> anyhow::Result<Vec<(ItemType, String)>> {
        let mut seen = HashSet::new();
        let mut done = Vec::new();
        self.enable_rec(kind, name, &mut seen, &mut done)?;
        Ok(done)
    }

    fn enable_rec(
        &self,
        kind: ItemType,
        name: &str,
        seen: &mut HashSet<(ItemType, String)>,
        done: &mut Vec<(ItemType, String)>,
    ) -> anyhow::Result<()> {
        if !seen.insert((kind, name.to_owned())) {
            return Ok(()); // cycles and diamonds in the dependency graph
        }
        let item = self
            .index
            .get(kind, name)
            .ok_or_else(|| anyhow::anyhow!("{} {name} is not in the hub index", kind.as_str()))?;
        let rel = safe_relative(&item.path)
            .ok_or_else(|| anyhow::anyhow!("hub index path {:?} is not a plain relative path", item.path))?;
        let source = self.hub_dir.join(&rel);
        if !source.is_file() {
            anyhow::bail!("{} {name}: {} is missing from the hub", kind.as_str(), source.display());
        }
        let link = self.link_path(&rel)?;
        if let Some(dir) = link.parent() {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::read_link(&link) {
            Ok(existing) if existing == source => {}
            Ok(_) => {
                std::fs::remove_file(&link)?;
                symlink(&source, &link)?;
            }
            // A regular file there is a local item of the user's: leave it.
            Err(_) if link.exists() => {}
            Err(_) => symlink(&source, &link)?,
        }
        done.push((kind, name.to_owned()));
        for (sub_kind, subs) in [
            (ItemType::Parsers, &item.parsers),
            (ItemType::Scenarios, &item.scenarios),
            (ItemType::Postoverflows, &item.postoverflows),
            (ItemType::Collections, &item.collections),
        ] {
            for sub in subs.iter().flatten() {
                self.enable_rec(sub_kind, sub, seen, done)?;
            }
        }
        Ok(())
    }

    /// `parsers/s01-parse/crowdsecurity/caddy-logs.yaml` → `<config>/parsers/s01-parse/caddy-logs.yaml`.
    fn link_path(&self, rel: &Path) -> anyhow::Result<PathBuf> {
        let parts: Vec<_> = rel.components().collect();
        let file = rel
            .file_name()
            .ok_or_else(|| anyhow::anyhow!("hub path {} has no file name", rel.display()))?;
        // type / [stage /] author / file
        let mut out = self.config_dir.to_path_buf();
        match parts.len() {
            3 => out.push(parts[0].as_os_str()),
            4 => {
                out.push(parts[0].as_os_str());
                out.push(parts[1].as_os_str());
            }
            _ => anyhow::bail!("unexpected hub path layout: {}", rel.display()),
        }
        out.push(file);
        Ok(out)
    }
}

/// A data file an item needs: `dest_file` in the engine's data dir, downloaded from `source_url`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DataFile {
    pub source_url: String,
    pub dest_file: String,
}

#[derive(Deserialize)]
struct ItemDoc {
    #[serde(default)]
    data: Vec<DataFile>,
}

/// The data files an item's YAML (possibly several documents) declares.
pub fn data_files(item_file: &Path) -> anyhow::Result<Vec<DataFile>> {
    let text = std::fs::read_to_string(item_file)?;
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        // Documents without a `data` list (or of another shape) need nothing.
        if let Ok(d) = ItemDoc::deserialize(doc) {
            out.extend(d.data);
        }
    }
    Ok(out)
}

/// Makes sure every data file the enabled items in `config_dir` declare exists in `data_dir`,
/// copied from the offline source. Debian stores them under the source URL's file name, which is
/// not always `dest_file` (`path_traversal.txt` → `http_path_traversal.txt`). Returns the files
/// still missing.
pub fn provide_data_files(config_dir: &Path, data_dir: &Path, source: &Path) -> anyhow::Result<Vec<String>> {
    let mut missing = Vec::new();
    for kind in ["parsers", "scenarios", "postoverflows"] {
        for file in yaml_files(&config_dir.join(kind)) {
            for df in data_files(&file)? {
                let Some(dest) = safe_relative(&df.dest_file).filter(|p| p.components().count() == 1) else {
                    continue;
                };
                let target = data_dir.join(&dest);
                if target.exists() {
                    continue;
                }
                let by_url = df.source_url.rsplit('/').next().unwrap_or_default();
                let candidates = [source.join(&dest), source.join(by_url)];
                match candidates.iter().find(|c| c.is_file()) {
                    Some(found) => {
                        std::fs::copy(found, &target)?;
                    }
                    None => missing.push(df.dest_file.clone()),
                }
            }
        }
    }
    Ok(missing)
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(yaml_files(&p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out
}

#[cfg(unix)]
fn symlink(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(src, dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_come_from_the_offline_source_even_under_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config/scenarios");
        let data = dir.path().join("data");
        let src = dir.path().join("src");
        for d in [&cfg, &data, &src] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(
            cfg.join("trav.yaml"),
            "name: a\ndata:\n  - source_url: https://x/web/path_traversal.txt\n    dest_file: http_path_traversal.txt\n    type: string\n---\nname: b\ndata:\n  - source_url: https://x/none.txt\n    dest_file: none.txt\n",
        )
        .unwrap();
        std::fs::write(src.join("path_traversal.txt"), "../\n").unwrap();
        let missing = provide_data_files(&dir.path().join("config"), &data, &src).unwrap();
        assert_eq!(std::fs::read_to_string(data.join("http_path_traversal.txt")).unwrap(), "../\n");
        assert_eq!(missing, vec!["none.txt".to_owned()]);
    }

    #[test]
    fn index_paths_must_stay_inside_the_hub() {
        assert!(safe_relative("parsers/s01-parse/crowdsecurity/x.yaml").is_some());
        assert!(safe_relative("../etc/passwd").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert!(safe_relative("scenarios/../../x").is_none());
    }

    #[test]
    fn a_collection_enables_its_dependencies_recursively_and_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let hub = dir.path().join("hub");
        let cfg = dir.path().join("config");
        for f in [
            "collections/me/web.yaml",
            "collections/me/base.yaml",
            "parsers/s01-parse/me/logs.yaml",
            "scenarios/me/probe.yaml",
        ] {
            std::fs::create_dir_all(hub.join(f).parent().unwrap()).unwrap();
            std::fs::write(hub.join(f), "x").unwrap();
        }
        let index: Index = serde_json::from_str(
            r#"{"collections":{
                 "me/web":{"path":"collections/me/web.yaml","parsers":["me/logs"],"collections":["me/base"]},
                 "me/base":{"path":"collections/me/base.yaml","scenarios":["me/probe"],"collections":["me/web"]}},
               "parsers":{"me/logs":{"path":"parsers/s01-parse/me/logs.yaml"}},
               "scenarios":{"me/probe":{"path":"scenarios/me/probe.yaml"}}}"#,
        )
        .unwrap();
        let enabler = Enabler::new(&index, &hub, &cfg);
        let done = enabler.enable(ItemType::Collections, "me/web").unwrap();
        assert_eq!(done.len(), 4, "{done:?}");
        assert_eq!(
            std::fs::read_link(cfg.join("parsers/s01-parse/logs.yaml")).unwrap(),
            hub.join("parsers/s01-parse/me/logs.yaml")
        );
        assert!(cfg.join("scenarios/probe.yaml").exists());
        assert!(enabler.enable(ItemType::Collections, "me/web").is_ok(), "idempotent");
        assert!(enabler.enable(ItemType::Scenarios, "me/unknown").is_err());
    }
}
