//! Hub presets as a service: the catalogue with local state, item details, and install / remove
//! that change the engine's enabled items, restart the running engine, **verify from the engine's
//! own start-up report** that it loaded (or dropped) them, and roll everything back on any failure.
//! Changes are serialised: a second one while one runs is refused (409), never queued.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::SystemTime;

use app::error::{AppError, EngineErrorCode, ErrorCode};
use app::hub::model::{HubChange, HubDependency, HubItem, HubItemDetail, HubItemName, HubItemRef, HubQuery};
use app::accounts::model::Admin;

use super::change::Action;

use crate::crowdsec::hub::{self, Enabler, Index, IndexItem, ItemType, Presence};
use crate::crowdsec::CrowdSec;
use crate::crowdsec::layout::DEFAULT_ITEMS;
use crate::db::{settings, Db};

/// The items the user installed on their own (JSON list of `type:name`); a remove never takes
/// them away as someone else's dependency. Starts as the engine's default items.
const EXPLICIT_KEY: &str = "hub.explicit";

/// Dependency trees are shown to this depth (the hub's are 4 deep at most; cycles exist).
const MAX_TREE_DEPTH: usize = 8;

#[derive(Clone)]
pub struct HubItems {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) db: Db,
    pub(super) engine: CrowdSec,
    pub(super) change: tokio::sync::Mutex<()>,
    /// The parsed index and the (mtime, size) it was read at.
    cache: StdMutex<Option<((SystemTime, u64), Arc<Index>)>>,
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> AppError {
    tracing::warn!("[HUB] index unavailable: {e}");
    AppError::Engine { code: EngineErrorCode::HubUnavailable, detail: None }
}

pub(super) fn failed(detail: impl Into<String>) -> AppError {
    AppError::Engine { code: EngineErrorCode::HubChangeFailed, detail: Some(detail.into()) }
}

impl HubItems {
    pub fn new(db: Db, engine: CrowdSec) -> Self {
        HubItems {
            inner: Arc::new(Inner { db, engine, change: tokio::sync::Mutex::new(()), cache: StdMutex::new(None) }),
        }
    }

    pub(super) fn layout(&self) -> &crate::crowdsec::layout::Layout {
        self.inner.engine.layout()
    }

    pub(super) async fn explicit(&self) -> Result<BTreeSet<(ItemType, String)>, AppError> {
        let stored = settings::get(&self.inner.db, EXPLICIT_KEY).await.map_err(|e| {
            tracing::error!("cannot read {EXPLICIT_KEY}: {e}");
            AppError::Internal
        })?;
        let list: Vec<String> = match stored {
            Some(json) => serde_json::from_str(&json).unwrap_or_default(),
            None => DEFAULT_ITEMS.iter().map(|(k, n)| format!("{}:{n}", k.as_str())).collect(),
        };
        Ok(list
            .iter()
            .filter_map(|s| s.split_once(':'))
            .filter_map(|(k, n)| Some((ItemType::parse(k).ok()?, n.to_owned())))
            .collect())
    }

    pub(super) async fn set_explicit(&self, set: &BTreeSet<(ItemType, String)>) {
        let list: Vec<String> = set.iter().map(|(k, n)| format!("{}:{n}", k.as_str())).collect();
        let json = serde_json::to_string(&list).expect("strings serialise");
        if let Err(e) = settings::set(&self.inner.db, EXPLICIT_KEY, &json, crate::support::time::now()).await {
            tracing::error!("cannot store {EXPLICIT_KEY}: {e}");
        }
    }

    /// The index, re-read only when the file changed. The engine's files (hub included) are
    /// generated on first use, so the catalogue works before the engine ever ran.
    pub(super) async fn index(&self) -> Result<Arc<Index>, AppError> {
        let path = self.layout().hub_dir.join(".index.json");
        if !path.exists() {
            self.inner.engine.ensure_generated().await.map_err(unavailable)?;
        }
        let meta = std::fs::metadata(&path).map_err(unavailable)?;
        let stamp = (meta.modified().map_err(unavailable)?, meta.len());
        let mut cache = self.inner.cache.lock().expect("hub cache lock");
        if let Some((s, idx)) = cache.as_ref() {
            if *s == stamp {
                return Ok(idx.clone());
            }
        }
        let idx = Arc::new(Index::load(&self.layout().hub_dir).map_err(unavailable)?);
        *cache = Some((stamp, idx.clone()));
        Ok(idx)
    }

    pub(super) fn enabler<'a>(&'a self, index: &'a Index) -> Enabler<'a> {
        Enabler::new(index, &self.layout().hub_dir, &self.layout().config_dir)
    }

    /// Parses a request into a known item: shape first (never touching the disk), then the index.
    pub(super) fn resolve(&self, index: &Index, r: &HubItemRef) -> Result<HubItemName, AppError> {
        let name = HubItemName::parse(&r.name)?;
        if index.get(r.kind, name.as_str()).is_none() {
            return Err(ErrorCode::HubItemInvalid.into());
        }
        Ok(name)
    }

    fn summary(&self, enabler: &Enabler, kind: ItemType, name: &str, item: &IndexItem) -> HubItem {
        let presence = enabler.presence(kind, name);
        let installed = presence != Presence::Absent;
        let local_version = match presence {
            Presence::Absent => None,
            Presence::Linked => enabler.source(kind, name).ok(),
            Presence::Local => enabler.link(kind, name).ok(),
        }
        .and_then(|f| hub::file_digest(&f).ok())
        .and_then(|d| item.version_of(&d).map(str::to_owned));
        HubItem {
            kind,
            name: name.to_owned(),
            author: item.author.clone(),
            version: item.version.clone(),
            description: item.description.clone().unwrap_or_default(),
            tags: item.tags.clone(),
            installed,
            tainted: installed && local_version.is_none(),
            up_to_date: installed && local_version.as_deref() == Some(item.version.as_str()),
            local_version,
        }
    }

    async fn catalogue(&self, query: &HubQuery) -> Result<Vec<HubItem>, AppError> {
        if query.q.as_ref().is_some_and(|q| q.len() > HubQuery::MAX_Q) {
            return Err(ErrorCode::ValueInvalid.into());
        }
        let index = self.index().await?;
        let enabler = self.enabler(&index);
        Ok(index
            .iter()
            .filter(|(k, _, _)| query.kind.is_none_or(|q| q == *k))
            .map(|(k, n, i)| self.summary(&enabler, k, n, i))
            .filter(|item| query.matches(item))
            .collect())
    }

    async fn item(&self, r: &HubItemRef) -> Result<HubItemDetail, AppError> {
        HubItemName::parse(&r.name).map_err(|_| AppError::NotFound)?;
        let index = self.index().await?;
        let name = self.resolve(&index, r).map_err(|_| AppError::NotFound)?;
        let enabler = self.enabler(&index);
        let item = index.get(r.kind, name.as_str()).expect("resolved");
        let mut path = vec![(r.kind, name.as_str().to_owned())];
        let dependencies = item
            .dependencies()
            .map(|(k, n)| self.tree(&index, &enabler, k, n, &mut path))
            .collect();
        let mut data_files = BTreeSet::new();
        for (k, n) in enabler.closure(r.kind, name.as_str()).unwrap_or_default() {
            if let Ok(src) = enabler.source(k, &n) {
                for df in hub::data_files(&src).unwrap_or_default() {
                    data_files.insert(df.dest_file);
                }
            }
        }
        Ok(HubItemDetail {
            item: self.summary(&enabler, r.kind, name.as_str(), item),
            long_description: item.long_description_text(),
            dependencies,
            data_files: data_files.into_iter().collect(),
            required_by: self.installed_parents(&index, &enabler, r.kind, name.as_str()),
            references: item.references.clone().unwrap_or_default(),
        })
    }

    fn tree(
        &self,
        index: &Index,
        enabler: &Enabler,
        kind: ItemType,
        name: &str,
        path: &mut Vec<(ItemType, String)>,
    ) -> HubDependency {
        let key = (kind, name.to_owned());
        let children = match index.get(kind, name) {
            // A cycle (base-http-scenarios ↔ …) or a runaway depth ends the branch.
            Some(item) if !path.contains(&key) && path.len() < MAX_TREE_DEPTH => {
                path.push(key);
                let c = item.dependencies().map(|(k, n)| self.tree(index, enabler, k, n, path)).collect();
                path.pop();
                c
            }
            _ => Vec::new(),
        };
        HubDependency { kind, name: name.to_owned(), installed: enabler.installed(kind, name), children }
    }

    pub(super) fn installed_parents(&self, index: &Index, enabler: &Enabler, kind: ItemType, name: &str) -> Vec<String> {
        index
            .parents(kind, name)
            .filter(|p| !(kind == ItemType::Collections && *p == name))
            .filter(|p| enabler.installed(ItemType::Collections, p))
            .map(str::to_owned)
            .collect()
    }
}

#[async_trait::async_trait]
impl app::services::HubService for HubItems {
    async fn list(&self, query: &HubQuery) -> Result<Vec<HubItem>, AppError> {
        self.catalogue(query).await
    }

    async fn detail(&self, item: &HubItemRef) -> Result<HubItemDetail, AppError> {
        self.item(item).await
    }

    async fn install(&self, actor: &Admin, item: HubItemRef) -> Result<HubChange, AppError> {
        self.change(actor, item, Action::Install).await
    }

    async fn remove(&self, actor: &Admin, item: HubItemRef) -> Result<HubChange, AppError> {
        self.change(actor, item, Action::Remove).await
    }
}
