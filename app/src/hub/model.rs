//! Hub presets: the DTOs of the catalogue (one set of field names for the REST API, the server
//! functions and the UI), the curated "popular presets", and the input newtypes of an install or
//! remove, parsed at the edge so a bad name never reaches the disk.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

/// The kinds of hub item the engine loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HubItemType {
    Collections,
    Parsers,
    Scenarios,
    Postoverflows,
}

impl HubItemType {
    pub const ALL: [HubItemType; 4] =
        [HubItemType::Collections, HubItemType::Parsers, HubItemType::Scenarios, HubItemType::Postoverflows];

    pub fn as_str(self) -> &'static str {
        match self {
            HubItemType::Collections => "collections",
            HubItemType::Parsers => "parsers",
            HubItemType::Scenarios => "scenarios",
            HubItemType::Postoverflows => "postoverflows",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ErrorCode> {
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or(ErrorCode::TypeInvalid)
    }
}

/// `author/name` as the hub spells it: two parts of letters, digits, `_`, `-` and `.`, neither
/// starting with a dot. Whether the item exists is the server's check against the index; this
/// shape alone already rules out paths (`../../etc/passwd`, `/etc/passwd`) and shell syntax.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HubItemName(String);

impl HubItemName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<Self, ErrorCode> {
        let part_ok = |p: &str| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        let ok = s.len() <= Self::MAX_LEN
            && matches!(s.split_once('/'), Some((author, name)) if part_ok(author) && part_ok(name));
        if ok {
            Ok(HubItemName(s.to_owned()))
        } else {
            Err(ErrorCode::HubItemInvalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An install or remove request: `{"type":"collections","name":"crowdsecurity/http-cve"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HubItemRef {
    #[serde(rename = "type")]
    pub kind: HubItemType,
    pub name: String,
}

impl HubItemRef {
    pub fn new(kind: HubItemType, name: impl Into<String>) -> Self {
        HubItemRef { kind, name: name.into() }
    }
}

/// One item of the catalogue with its local state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HubItem {
    #[serde(rename = "type")]
    pub kind: HubItemType,
    pub name: String,
    pub author: String,
    /// The index's current version.
    pub version: String,
    pub description: String,
    /// The item's own tags plus its labels' values (`service: http` → `http`).
    pub tags: Vec<String>,
    pub installed: bool,
    /// The installed file differs from every version the index knows.
    pub tainted: bool,
    /// Installed and identical to the index's current version.
    pub up_to_date: bool,
    /// The installed version, when it matches a known one.
    pub local_version: Option<String>,
}

/// A node of an item's dependency tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HubDependency {
    #[serde(rename = "type")]
    pub kind: HubItemType,
    pub name: String,
    pub installed: bool,
    // Recursive: the description refers to the schema instead of expanding it forever.
    #[cfg_attr(feature = "ssr", schema(no_recursion))]
    pub children: Vec<HubDependency>,
}

/// The detail view of one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HubItemDetail {
    pub item: HubItem,
    /// Markdown from the index, shown as text (never as HTML).
    pub long_description: String,
    pub dependencies: Vec<HubDependency>,
    /// Data files (in the engine's data dir) the item and its dependencies read.
    pub data_files: Vec<String>,
    /// Installed collections that include this item (it cannot be removed on its own while any is).
    pub required_by: Vec<String>,
    pub references: Vec<String>,
}

/// Catalogue filters; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HubQuery {
    #[serde(rename = "type", default)]
    pub kind: Option<HubItemType>,
    /// Case-insensitive words matched against name, description and tags.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub installed: Option<bool>,
}

impl HubQuery {
    pub const MAX_Q: usize = 200;

    /// Whether `item` passes the filters (all words of `q` must match).
    pub fn matches(&self, item: &HubItem) -> bool {
        if self.kind.is_some_and(|k| k != item.kind) || self.installed.is_some_and(|i| i != item.installed) {
            return false;
        }
        let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) else {
            return true;
        };
        let hay = format!("{} {} {}", item.name, item.description, item.tags.join(" ")).to_lowercase();
        q.to_lowercase().split_whitespace().all(|w| hay.contains(w))
    }
}

/// What an install or remove did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HubChange {
    pub item: HubItemRef,
    /// Items enabled (install) or disabled (remove), the requested one first.
    pub changed: Vec<HubItemRef>,
    /// Remove only: dependencies kept because another installed collection still needs them.
    pub kept: Vec<HubItemRef>,
    /// The running engine was restarted and reported loading (or no longer loading) the items.
    pub verified: bool,
    /// False when the engine is stopped: the change applies at its next start.
    pub engine_running: bool,
    /// Scenarios the engine reports loaded after the change.
    pub loaded_scenarios: usize,
    pub duration_ms: u64,
}

/// The curated entry points shown first on the Hub page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresetId {
    HttpProbing,
    BadUserAgents,
    CveExploits,
    BaseHttp,
    Caddy,
    GoodActors,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub id: PresetId,
    pub kind: HubItemType,
    pub name: &'static str,
}

pub const PRESETS: [Preset; 6] = [
    Preset { id: PresetId::HttpProbing, kind: HubItemType::Scenarios, name: "crowdsecurity/http-probing" },
    Preset { id: PresetId::BadUserAgents, kind: HubItemType::Scenarios, name: "crowdsecurity/http-bad-user-agent" },
    Preset { id: PresetId::CveExploits, kind: HubItemType::Collections, name: "crowdsecurity/http-cve" },
    Preset { id: PresetId::BaseHttp, kind: HubItemType::Collections, name: "crowdsecurity/base-http-scenarios" },
    Preset { id: PresetId::Caddy, kind: HubItemType::Collections, name: "crowdsecurity/caddy" },
    Preset { id: PresetId::GoodActors, kind: HubItemType::Collections, name: "crowdsecurity/whitelist-good-actors" },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_author_slash_name_and_nothing_else() {
        for ok in ["crowdsecurity/http-cve", "ltsich/http-w00tw00t", "a/b.c_d-e", "crowdsecurity/CVE-2022-26134"] {
            assert!(HubItemName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "crowdsecurity/../x",
            "crowdsecurity/.hidden",
            "crowdsecurity",
            "a/b/c",
            "a/b;rm -rf /",
            "a/$(id)",
            "a/b c",
            "a/b\n",
            "",
            "/",
        ] {
            assert_eq!(HubItemName::parse(bad), Err(ErrorCode::HubItemInvalid), "{bad:?}");
        }
        assert!(HubItemName::parse(&format!("a/{}", "x".repeat(200))).is_err());
    }

    #[test]
    fn types_parse_by_their_plural_name() {
        assert_eq!(HubItemType::parse("scenarios"), Ok(HubItemType::Scenarios));
        assert_eq!(HubItemType::parse("scenario"), Err(ErrorCode::TypeInvalid));
        let r: HubItemRef = serde_json::from_str(r#"{"type":"collections","name":"crowdsecurity/http-cve"}"#).unwrap();
        assert_eq!(r, HubItemRef::new(HubItemType::Collections, "crowdsecurity/http-cve"));
    }

    #[test]
    fn queries_match_every_word_in_name_description_or_tags() {
        let item = HubItem {
            kind: HubItemType::Scenarios,
            name: "crowdsecurity/http-probing".into(),
            author: "crowdsecurity".into(),
            version: "0.2".into(),
            description: "Detect site scanning/probing from a single ip".into(),
            tags: vec!["http".into(), "scan".into()],
            installed: true,
            tainted: false,
            up_to_date: true,
            local_version: Some("0.2".into()),
        };
        let q = |s: &str| HubQuery { q: Some(s.into()), ..Default::default() };
        assert!(q("PROBING").matches(&item));
        assert!(q("scan single").matches(&item));
        assert!(!q("probing nginx").matches(&item));
        assert!(HubQuery { kind: Some(HubItemType::Scenarios), installed: Some(true), q: None }.matches(&item));
        assert!(!HubQuery { kind: Some(HubItemType::Parsers), ..Default::default() }.matches(&item));
        assert!(!HubQuery { installed: Some(false), ..Default::default() }.matches(&item));
    }
}
