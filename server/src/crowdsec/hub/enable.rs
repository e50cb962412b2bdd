//! Enabling and disabling hub items offline, the way Debian's post-install does it: a symlink
//! from the engine's config dir into the hub. A collection pulls its parsers, scenarios,
//! postoverflows and sub-collections recursively. This works without the network, where
//! `cscli collections install` on 1.4.6 does not. A `Snapshot` of the links lets a failed change be
//! undone exactly.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};

use super::index::{Index, IndexItem, ItemType};

/// How an item is present in the engine's config dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Absent,
    /// A link to the item's file in the hub (what install creates).
    Linked,
    /// A regular file of the user's at the item's place; never touched.
    Local,
}

/// Enables items by linking `<config>/<type>/[<stage>/]<file>` to the item's file in the hub.
pub struct Enabler<'a> {
    index: &'a Index,
    hub_dir: &'a Path,
    config_dir: &'a Path,
}

/// An index path is relative and stays inside the hub: no `..`, no absolute parts.
pub(super) fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| p.to_path_buf())
}

impl<'a> Enabler<'a> {
    pub fn new(index: &'a Index, hub_dir: &'a Path, config_dir: &'a Path) -> Self {
        Enabler { index, hub_dir, config_dir }
    }

    fn item(&self, kind: ItemType, name: &str) -> anyhow::Result<&'a IndexItem> {
        self.index
            .get(kind, name)
            .ok_or_else(|| anyhow::anyhow!("{} {name} is not in the hub index", kind.as_str()))
    }

    /// The item's file in the hub (checked to stay inside it).
    pub fn source(&self, kind: ItemType, name: &str) -> anyhow::Result<PathBuf> {
        let item = self.item(kind, name)?;
        let rel = safe_relative(&item.path)
            .ok_or_else(|| anyhow::anyhow!("hub index path {:?} is not a plain relative path", item.path))?;
        Ok(self.hub_dir.join(rel))
    }

    /// Where the engine reads the item: `parsers/s01-parse/crowdsecurity/caddy-logs.yaml` →
    /// `<config>/parsers/s01-parse/caddy-logs.yaml`.
    pub fn link(&self, kind: ItemType, name: &str) -> anyhow::Result<PathBuf> {
        let item = self.item(kind, name)?;
        let rel = safe_relative(&item.path)
            .ok_or_else(|| anyhow::anyhow!("hub index path {:?} is not a plain relative path", item.path))?;
        self.link_path(&rel)
    }

    pub fn presence(&self, kind: ItemType, name: &str) -> Presence {
        let Ok(link) = self.link(kind, name) else { return Presence::Absent };
        match std::fs::symlink_metadata(&link) {
            Ok(m) if m.file_type().is_symlink() => match self.source(kind, name) {
                Ok(src) if std::fs::read_link(&link).is_ok_and(|t| t == src) => Presence::Linked,
                // A link to something else (another author's file of the same name, say).
                _ => Presence::Absent,
            },
            Ok(_) => Presence::Local,
            Err(_) => Presence::Absent,
        }
    }

    pub fn installed(&self, kind: ItemType, name: &str) -> bool {
        self.presence(kind, name) != Presence::Absent
    }

    /// The item and everything it depends on, each once, the item first.
    pub fn closure(&self, kind: ItemType, name: &str) -> anyhow::Result<Vec<(ItemType, String)>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        self.closure_rec(kind, name, &mut seen, &mut out)?;
        Ok(out)
    }

    fn closure_rec(
        &self,
        kind: ItemType,
        name: &str,
        seen: &mut HashSet<(ItemType, String)>,
        out: &mut Vec<(ItemType, String)>,
    ) -> anyhow::Result<()> {
        if !seen.insert((kind, name.to_owned())) {
            return Ok(()); // cycles and diamonds in the dependency graph
        }
        let item = self.item(kind, name)?;
        out.push((kind, name.to_owned()));
        for (k, n) in item.dependencies() {
            self.closure_rec(k, n, seen, out)?;
        }
        Ok(())
    }

    /// The item and everything it depends on; returns the (type, name) pairs now enabled.
    pub fn enable(&self, kind: ItemType, name: &str) -> anyhow::Result<Vec<(ItemType, String)>> {
        let all = self.closure(kind, name)?;
        for (k, n) in &all {
            self.enable_one(*k, n)?;
        }
        Ok(all)
    }

    fn enable_one(&self, kind: ItemType, name: &str) -> anyhow::Result<()> {
        let source = self.source(kind, name)?;
        if !source.is_file() {
            anyhow::bail!("{} {name}: {} is missing from the hub", kind.as_str(), source.display());
        }
        let link = self.link(kind, name)?;
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
        Ok(())
    }

    /// What removing an item takes away: the item, then each dependency that the user did not
    /// install on its own (`explicit`) and that no installed collection outside the removed set
    /// still lists. Returns (removed, kept).
    pub fn removal_plan(
        &self,
        kind: ItemType,
        name: &str,
        explicit: &BTreeSet<(ItemType, String)>,
    ) -> anyhow::Result<(Vec<(ItemType, String)>, Vec<(ItemType, String)>)> {
        let closure = self.closure(kind, name)?;
        let installed_collections: BTreeSet<&str> = self
            .index
            .collections
            .keys()
            .map(String::as_str)
            .filter(|c| self.installed(ItemType::Collections, c))
            .collect();
        let mut removed: BTreeSet<(ItemType, String)> = BTreeSet::from([(kind, name.to_owned())]);
        loop {
            let mut grew = false;
            for (k, n) in closure.iter().skip(1) {
                if removed.contains(&(*k, n.clone())) || explicit.contains(&(*k, n.clone())) {
                    continue;
                }
                let still_needed = self.index.parents(*k, n).any(|p| {
                    installed_collections.contains(p) && !removed.contains(&(ItemType::Collections, p.to_owned()))
                });
                if !still_needed {
                    removed.insert((*k, n.clone()));
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        let (removed, kept): (Vec<_>, Vec<_>) =
            closure.into_iter().partition(|item| removed.contains(item));
        Ok((removed, kept))
    }

    /// Removes the item's link; a local file of the user's is left alone.
    pub fn disable_one(&self, kind: ItemType, name: &str) -> anyhow::Result<bool> {
        if self.presence(kind, name) != Presence::Linked {
            return Ok(false);
        }
        std::fs::remove_file(self.link(kind, name)?)?;
        Ok(true)
    }

    /// `type / [stage /] author / file` → `<config>/type/[stage/]file`.
    fn link_path(&self, rel: &Path) -> anyhow::Result<PathBuf> {
        let parts: Vec<_> = rel.components().collect();
        let file = rel
            .file_name()
            .ok_or_else(|| anyhow::anyhow!("hub path {} has no file name", rel.display()))?;
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

/// The hub links under the config dir's item directories (link → target) and the files of the
/// engine's data dir: enough to put both back exactly after a failed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    links: BTreeMap<PathBuf, PathBuf>,
    data_files: BTreeSet<PathBuf>,
}

const ITEM_DIRS: [&str; 4] = ["collections", "parsers", "scenarios", "postoverflows"];

impl Snapshot {
    pub fn take(config_dir: &Path, data_dir: &Path) -> std::io::Result<Self> {
        let mut links = BTreeMap::new();
        for d in ITEM_DIRS {
            collect_links(&config_dir.join(d), &mut links)?;
        }
        let mut data_files = BTreeSet::new();
        if let Ok(entries) = std::fs::read_dir(data_dir) {
            for e in entries.flatten() {
                data_files.insert(e.path());
            }
        }
        Ok(Snapshot { links, data_files })
    }

    /// Puts the links back as they were and deletes data files copied since (never the engine's
    /// database, which existed when the snapshot was taken).
    pub fn restore(&self, config_dir: &Path, data_dir: &Path) -> std::io::Result<()> {
        let now = Snapshot::take(config_dir, data_dir)?;
        for (link, target) in &now.links {
            if self.links.get(link) != Some(target) {
                std::fs::remove_file(link)?;
            }
        }
        for (link, target) in &self.links {
            if now.links.get(link) != Some(target) {
                if let Some(dir) = link.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                symlink(target, link)?;
            }
        }
        for f in now.data_files.difference(&self.data_files) {
            if f.is_file() && f.extension().is_some_and(|x| x == "txt" || x == "regex" || x == "mmdb") {
                std::fs::remove_file(f)?;
            }
        }
        Ok(())
    }
}

fn collect_links(dir: &Path, out: &mut BTreeMap<PathBuf, PathBuf>) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries.flatten() {
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_symlink() {
            out.insert(p.clone(), std::fs::read_link(&p)?);
        } else if ft.is_dir() {
            collect_links(&p, out)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn symlink(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(src, dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hub with `me/web` → (`me/logs`, `me/base` → `me/probe`, `me/web`) and `me/other` → `me/base`.
    fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf, Index) {
        let dir = tempfile::tempdir().unwrap();
        let hub = dir.path().join("hub");
        let cfg = dir.path().join("config");
        for f in [
            "collections/me/web.yaml",
            "collections/me/base.yaml",
            "collections/me/other.yaml",
            "parsers/s01-parse/me/logs.yaml",
            "scenarios/me/probe.yaml",
        ] {
            std::fs::create_dir_all(hub.join(f).parent().unwrap()).unwrap();
            std::fs::write(hub.join(f), "x").unwrap();
        }
        let index = Index::parse(
            r#"{"collections":{
                 "me/web":{"path":"collections/me/web.yaml","parsers":["me/logs"],"collections":["me/base"]},
                 "me/base":{"path":"collections/me/base.yaml","scenarios":["me/probe"],"collections":["me/web"]},
                 "me/other":{"path":"collections/me/other.yaml","collections":["me/base"]}},
               "parsers":{"me/logs":{"path":"parsers/s01-parse/me/logs.yaml"}},
               "scenarios":{"me/probe":{"path":"scenarios/me/probe.yaml"}}}"#,
        )
        .unwrap();
        (dir, hub, cfg, index)
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
        let (_dir, hub, cfg, index) = fixture();
        let enabler = Enabler::new(&index, &hub, &cfg);
        let done = enabler.enable(ItemType::Collections, "me/web").unwrap();
        assert_eq!(done.len(), 4, "{done:?}");
        assert_eq!(
            std::fs::read_link(cfg.join("parsers/s01-parse/logs.yaml")).unwrap(),
            hub.join("parsers/s01-parse/me/logs.yaml")
        );
        assert!(cfg.join("scenarios/probe.yaml").exists());
        assert_eq!(enabler.presence(ItemType::Scenarios, "me/probe"), Presence::Linked);
        assert!(enabler.enable(ItemType::Collections, "me/web").is_ok(), "idempotent");
        assert!(enabler.enable(ItemType::Scenarios, "me/unknown").is_err());
    }

    #[test]
    fn removal_keeps_what_another_installed_collection_still_needs() {
        let (_dir, hub, cfg, index) = fixture();
        let enabler = Enabler::new(&index, &hub, &cfg);
        enabler.enable(ItemType::Collections, "me/web").unwrap();
        // Alone, web takes its whole tree with it (the web ↔ base cycle included).
        let none = BTreeSet::new();
        let (removed, kept) = enabler.removal_plan(ItemType::Collections, "me/web", &none).unwrap();
        assert_eq!(removed.len(), 4, "{removed:?}");
        assert!(kept.is_empty());
        // What the user installed on its own stays.
        let explicit = BTreeSet::from([(ItemType::Scenarios, "me/probe".to_owned())]);
        let (removed, kept) = enabler.removal_plan(ItemType::Collections, "me/web", &explicit).unwrap();
        assert_eq!(removed.len(), 3, "{removed:?}");
        assert_eq!(kept, [(ItemType::Scenarios, "me/probe".to_owned())]);
        // With `other` installed too, `base` and what it brings stay.
        enabler.enable(ItemType::Collections, "me/other").unwrap();
        let (removed, kept) = enabler.removal_plan(ItemType::Collections, "me/web", &none).unwrap();
        let names = |v: &[(ItemType, String)]| v.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&removed), ["me/web", "me/logs"]);
        assert_eq!(names(&kept), ["me/base", "me/probe"]);
        for (k, n) in &removed {
            enabler.disable_one(*k, n).unwrap();
        }
        assert!(!enabler.installed(ItemType::Parsers, "me/logs"));
        assert!(enabler.installed(ItemType::Scenarios, "me/probe"));
    }

    #[test]
    fn local_files_are_neither_replaced_nor_removed() {
        let (_dir, hub, cfg, index) = fixture();
        std::fs::create_dir_all(cfg.join("scenarios")).unwrap();
        std::fs::write(cfg.join("scenarios/probe.yaml"), "mine").unwrap();
        let enabler = Enabler::new(&index, &hub, &cfg);
        enabler.enable(ItemType::Collections, "me/base").unwrap();
        assert_eq!(enabler.presence(ItemType::Scenarios, "me/probe"), Presence::Local);
        assert!(!enabler.disable_one(ItemType::Scenarios, "me/probe").unwrap());
        assert_eq!(std::fs::read_to_string(cfg.join("scenarios/probe.yaml")).unwrap(), "mine");
    }

    #[test]
    fn a_snapshot_restores_links_and_removes_copied_data_files() {
        let (dir, hub, cfg, index) = fixture();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("crowdsec.db"), "db").unwrap();
        let enabler = Enabler::new(&index, &hub, &cfg);
        enabler.enable(ItemType::Collections, "me/base").unwrap();
        let before = Snapshot::take(&cfg, &data).unwrap();
        enabler.enable(ItemType::Collections, "me/web").unwrap();
        enabler.disable_one(ItemType::Scenarios, "me/probe").unwrap();
        std::fs::write(data.join("new.txt"), "x").unwrap();
        before.restore(&cfg, &data).unwrap();
        assert_eq!(Snapshot::take(&cfg, &data).unwrap(), before);
        assert!(data.join("crowdsec.db").exists());
    }
}
