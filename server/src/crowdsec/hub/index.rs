//! The hub index (`<hub>/.index.json`): every collection, parser, scenario and postoverflow the hub
//! offers, with versions and their sha256 digests, dependencies, descriptions and tags.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;

pub use app::hub::model::HubItemType as ItemType;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Version {
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub deprecated: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IndexItem {
    pub path: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub versions: BTreeMap<String, Version>,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Base64 Markdown.
    #[serde(default)]
    pub long_description: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub references: Option<Vec<String>>,
    /// The item's YAML, base64; only read for its `tags` at load time.
    #[serde(default, skip_serializing)]
    content: Option<String>,
    #[serde(default)]
    pub parsers: Option<Vec<String>>,
    #[serde(default)]
    pub scenarios: Option<Vec<String>>,
    #[serde(default)]
    pub postoverflows: Option<Vec<String>>,
    #[serde(default)]
    pub collections: Option<Vec<String>>,
    /// The YAML's own `tags` plus the labels' values, computed at load time.
    #[serde(skip)]
    pub tags: Vec<String>,
}

impl IndexItem {
    /// Direct dependencies, in the order the engine's tooling walks them.
    pub fn dependencies(&self) -> impl Iterator<Item = (ItemType, &str)> {
        [
            (ItemType::Parsers, &self.parsers),
            (ItemType::Scenarios, &self.scenarios),
            (ItemType::Postoverflows, &self.postoverflows),
            (ItemType::Collections, &self.collections),
        ]
        .into_iter()
        .flat_map(|(kind, list)| list.iter().flatten().map(move |n| (kind, n.as_str())))
    }

    /// The version whose digest is `sha256_hex`, if any.
    pub fn version_of(&self, sha256_hex: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, v)| v.digest.eq_ignore_ascii_case(sha256_hex))
            .map(|(k, _)| k.as_str())
    }

    pub fn long_description_text(&self) -> String {
        self.long_description
            .as_deref()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn compute_tags(&mut self) {
        #[derive(Deserialize)]
        struct Doc {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut tags: Vec<String> = self
            .content
            .take()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|yaml| {
                let text = String::from_utf8_lossy(&yaml).into_owned();
                let first = serde_norway::Deserializer::from_str(&text).next();
                first.and_then(|doc| Doc::deserialize(doc).ok()).and_then(|d| d.tags)
            })
            .unwrap_or_default();
        for v in self.labels.iter().flat_map(|l| l.values()) {
            if let Some(s) = v.as_str().filter(|s| *s != "true" && *s != "false") {
                tags.push(s.to_owned());
            }
        }
        tags.sort();
        tags.dedup();
        self.tags = tags;
    }
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
        Self::parse(&text).map_err(|e| anyhow::anyhow!("hub index {} is not valid: {e}", path.display()))
    }

    pub fn parse(text: &str) -> serde_json::Result<Self> {
        let mut index: Index = serde_json::from_str(text)?;
        for kind in ItemType::ALL {
            for item in index.map_mut(kind).values_mut() {
                item.compute_tags();
            }
        }
        Ok(index)
    }

    fn map_mut(&mut self, kind: ItemType) -> &mut BTreeMap<String, IndexItem> {
        match kind {
            ItemType::Collections => &mut self.collections,
            ItemType::Parsers => &mut self.parsers,
            ItemType::Scenarios => &mut self.scenarios,
            ItemType::Postoverflows => &mut self.postoverflows,
        }
    }

    pub fn map(&self, kind: ItemType) -> &BTreeMap<String, IndexItem> {
        match kind {
            ItemType::Collections => &self.collections,
            ItemType::Parsers => &self.parsers,
            ItemType::Scenarios => &self.scenarios,
            ItemType::Postoverflows => &self.postoverflows,
        }
    }

    pub fn get(&self, kind: ItemType, name: &str) -> Option<&IndexItem> {
        self.map(kind).get(name)
    }

    /// Every item, by type then name.
    pub fn iter(&self) -> impl Iterator<Item = (ItemType, &str, &IndexItem)> {
        ItemType::ALL
            .into_iter()
            .flat_map(move |k| self.map(k).iter().map(move |(n, i)| (k, n.as_str(), i)))
    }

    /// Collections that list (`kind`, `name`) as a direct dependency.
    pub fn parents<'a>(&'a self, kind: ItemType, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.collections
            .iter()
            .filter(move |(_, c)| c.dependencies().any(|(k, n)| k == kind && n == name))
            .map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_come_from_the_item_yaml_and_its_labels() {
        let content = base64::engine::general_purpose::STANDARD.encode("author: me\ntags:\n  - web\n  - cve\n");
        let text = format!(
            r#"{{"collections":{{"me/web":{{"path":"collections/me/web.yaml","version":"0.2",
                "versions":{{"0.1":{{"digest":"AA"}},"0.2":{{"digest":"bb"}}}},
                "content":"{content}","labels":{{"service":"http","remediation":"true"}},
                "scenarios":["me/a"],"collections":["me/b"]}}}}}}"#
        );
        let index = Index::parse(&text).unwrap();
        let item = index.get(ItemType::Collections, "me/web").unwrap();
        assert_eq!(item.tags, ["cve", "http", "web"]);
        assert_eq!(item.version_of("aa"), Some("0.1"));
        assert_eq!(item.version_of("cc"), None);
        let deps: Vec<_> = item.dependencies().collect();
        assert_eq!(deps, [(ItemType::Scenarios, "me/a"), (ItemType::Collections, "me/b")]);
        assert_eq!(index.parents(ItemType::Scenarios, "me/a").collect::<Vec<_>>(), ["me/web"]);
    }
}
