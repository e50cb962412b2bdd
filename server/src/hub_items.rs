//! Hub presets as a service: the catalogue with local state, item details, and install / remove
//! that change the engine's enabled items, restart the running engine, **verify from the engine's
//! own start-up report** that it loaded (or dropped) them, and roll everything back on any failure.
//! Changes are serialised: a second one while one runs is refused (409), never queued.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Instant, SystemTime};

use app::error::{AppError, EngineErrorCode, ErrorCode};
use app::hub_model::{HubChange, HubDependency, HubItem, HubItemDetail, HubItemName, HubItemRef, HubQuery};
use app::security_model::EngineState;

use crate::crowdsec::hub::{self, Enabler, Index, IndexItem, ItemType, Presence, Snapshot};
use crate::crowdsec::process::Loaded;
use crate::crowdsec::CrowdSec;
use crate::crowdsec::layout::DEFAULT_ITEMS;
use crate::db::{self, audit, settings, Db};

/// The items the user installed on their own (JSON list of `type:name`); a remove never takes
/// them away as someone else's dependency. Starts as the engine's default items.
const EXPLICIT_KEY: &str = "hub.explicit";

/// Dependency trees are shown to this depth (the hub's are 4 deep at most; cycles exist).
const MAX_TREE_DEPTH: usize = 8;

#[derive(Clone)]
pub struct HubItems {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    engine: CrowdSec,
    change: tokio::sync::Mutex<()>,
    /// The parsed index and the (mtime, size) it was read at.
    cache: StdMutex<Option<((SystemTime, u64), Arc<Index>)>>,
}

fn unavailable(e: impl std::fmt::Display) -> AppError {
    tracing::warn!("[HUB] index unavailable: {e}");
    AppError::Engine { code: EngineErrorCode::HubUnavailable, detail: None }
}

fn failed(detail: impl Into<String>) -> AppError {
    AppError::Engine { code: EngineErrorCode::HubChangeFailed, detail: Some(detail.into()) }
}

/// Which way a change goes, for messages and the audit log.
#[derive(Clone, Copy)]
enum Action {
    Install,
    Remove,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Install => "install",
            Action::Remove => "remove",
        }
    }
}

impl HubItems {
    pub fn new(db: Db, engine: CrowdSec) -> Self {
        HubItems {
            inner: Arc::new(Inner { db, engine, change: tokio::sync::Mutex::new(()), cache: StdMutex::new(None) }),
        }
    }

    fn layout(&self) -> &crate::crowdsec::layout::Layout {
        self.inner.engine.layout()
    }

    async fn explicit(&self) -> Result<BTreeSet<(ItemType, String)>, AppError> {
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

    async fn set_explicit(&self, set: &BTreeSet<(ItemType, String)>) {
        let list: Vec<String> = set.iter().map(|(k, n)| format!("{}:{n}", k.as_str())).collect();
        let json = serde_json::to_string(&list).expect("strings serialise");
        if let Err(e) = settings::set(&self.inner.db, EXPLICIT_KEY, &json, db::now()).await {
            tracing::error!("cannot store {EXPLICIT_KEY}: {e}");
        }
    }

    /// The index, re-read only when the file changed. The engine's files (hub included) are
    /// generated on first use, so the catalogue works before the engine ever ran.
    async fn index(&self) -> Result<Arc<Index>, AppError> {
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

    fn enabler<'a>(&'a self, index: &'a Index) -> Enabler<'a> {
        Enabler::new(index, &self.layout().hub_dir, &self.layout().config_dir)
    }

    /// Parses a request into a known item: shape first (never touching the disk), then the index.
    fn resolve(&self, index: &Index, r: &HubItemRef) -> Result<HubItemName, AppError> {
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

    pub async fn list(&self, query: &HubQuery) -> Result<Vec<HubItem>, AppError> {
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

    pub async fn detail(&self, r: &HubItemRef) -> Result<HubItemDetail, AppError> {
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

    fn installed_parents(&self, index: &Index, enabler: &Enabler, kind: ItemType, name: &str) -> Vec<String> {
        index
            .parents(kind, name)
            .filter(|p| !(kind == ItemType::Collections && *p == name))
            .filter(|p| enabler.installed(ItemType::Collections, p))
            .map(str::to_owned)
            .collect()
    }

    pub async fn install(&self, actor: &str, r: HubItemRef) -> Result<HubChange, AppError> {
        self.change(actor, r, Action::Install).await
    }

    pub async fn remove(&self, actor: &str, r: HubItemRef) -> Result<HubChange, AppError> {
        self.change(actor, r, Action::Remove).await
    }

    async fn change(&self, actor: &str, r: HubItemRef, action: Action) -> Result<HubChange, AppError> {
        // The name's shape is checked before anything else, the index before any change.
        HubItemName::parse(&r.name)?;
        let index = self.index().await?;
        let name = self.resolve(&index, &r)?;
        let _guard = self
            .inner
            .change
            .try_lock()
            .map_err(|_| AppError::Engine { code: EngineErrorCode::HubBusy, detail: None })?;
        let t0 = Instant::now();
        let what = format!("{} {}", r.kind.as_str(), name.as_str());
        let result = match action {
            Action::Install => self.do_install(&index, r.kind, name.as_str()).await,
            Action::Remove => self.do_remove(&index, r.kind, name.as_str()).await,
        };
        let verb = action.as_str();
        match result {
            Ok(mut change) => {
                let mut explicit = self.explicit().await?;
                let key = (r.kind, name.as_str().to_owned());
                match action {
                    Action::Install => explicit.insert(key),
                    Action::Remove => explicit.remove(&key),
                };
                self.set_explicit(&explicit).await;
                change.item = HubItemRef::new(r.kind, name.as_str());
                change.duration_ms = t0.elapsed().as_millis() as u64;
                tracing::info!(
                    changed = change.changed.len(),
                    verified = change.verified,
                    ms = change.duration_ms,
                    "[HUB] {verb} {what}: done"
                );
                audit::record(&self.inner.db, db::now(), actor, &format!("hub.{verb}"), &format!("{what} ({} items)", change.changed.len())).await;
                Ok(change)
            }
            Err(e) => {
                tracing::warn!("[HUB] {verb} {what} failed: {e:?}");
                if matches!(e, AppError::Engine { code: EngineErrorCode::HubChangeFailed, .. }) {
                    audit::record(&self.inner.db, db::now(), actor, &format!("hub.{verb}_failed"), &what).await;
                }
                Err(e)
            }
        }
    }

    async fn do_install(&self, index: &Index, kind: ItemType, name: &str) -> Result<HubChange, AppError> {
        let enabler = self.enabler(index);
        let closure = enabler.closure(kind, name).map_err(|e| failed(format!("{e:#}")))?;
        // Every file must be the one the index describes before anything is linked.
        let mut item_files = Vec::new();
        for (k, n) in &closure {
            let src = enabler.source(*k, n).map_err(|e| failed(format!("{e:#}")))?;
            let digest = hub::file_digest(&src).map_err(|e| failed(format!("{} {n}: {e}", k.as_str())))?;
            let item = index.get(*k, n).expect("in closure");
            if item.version_of(&digest).is_none() {
                return Err(failed(format!("{} {n}: the hub file does not match the index digest", k.as_str())));
            }
            if *k != ItemType::Collections {
                item_files.push(src);
            }
        }
        let changed: Vec<HubItemRef> = closure
            .iter()
            .filter(|(k, n)| !enabler.installed(*k, n))
            .map(|(k, n)| HubItemRef::new(*k, n.clone()))
            .collect();
        let layout = self.layout().clone();
        let snapshot = Snapshot::take(&layout.config_dir, &layout.data_dir).map_err(|e| failed(e.to_string()))?;
        let data_source = self.inner.engine.settings().data_source.clone();
        let files = async {
            enabler.enable(kind, name).map_err(|e| format!("{e:#}"))?;
            let missing = hub::provide_for(&item_files, &layout.data_dir, &data_source).map_err(|e| format!("{e:#}"))?;
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("data files not available offline: {}", missing.join(", ")))
            }
        }
        .await;
        if let Err(e) = files {
            self.roll_back(&snapshot, false).await;
            return Err(failed(e));
        }
        let expected: Vec<(ItemType, String, Option<PathBuf>)> = closure
            .iter()
            .map(|(k, n)| (*k, n.clone(), enabler.link(*k, n).ok()))
            .collect();
        self.reload_and_verify(&snapshot, changed, Vec::new(), |loaded| {
            let missing: Vec<String> = expected
                .iter()
                .filter(|(k, _, link)| *k != ItemType::Collections && link.as_ref().is_none_or(|l| !loaded.files.contains(l)))
                .map(|(k, n, _)| format!("{} {n}", k.as_str()))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("the engine did not load: {}", missing.join(", ")))
            }
        })
        .await
    }

    async fn do_remove(&self, index: &Index, kind: ItemType, name: &str) -> Result<HubChange, AppError> {
        let enabler = self.enabler(index);
        let parents = self.installed_parents(index, &enabler, kind, name);
        if !parents.is_empty() {
            return Err(AppError::Engine { code: EngineErrorCode::HubItemInUse, detail: Some(parents.join(", ")) });
        }
        let explicit = self.explicit().await?;
        let (removed, kept) = enabler.removal_plan(kind, name, &explicit).map_err(|e| failed(format!("{e:#}")))?;
        let removed: Vec<(ItemType, String)> =
            removed.into_iter().filter(|(k, n)| enabler.presence(*k, n) == Presence::Linked).collect();
        let refs = |v: &[(ItemType, String)]| v.iter().map(|(k, n)| HubItemRef::new(*k, n.clone())).collect::<Vec<_>>();
        if removed.is_empty() {
            // Not installed (or a local file of the user's): nothing to do, nothing to restart.
            return Ok(HubChange {
                item: HubItemRef::new(kind, name),
                changed: Vec::new(),
                kept: refs(&kept),
                verified: false,
                engine_running: self.inner.engine.status().state == EngineState::Running,
                loaded_scenarios: self.inner.engine.loaded().map(|l| l.scenarios.len()).unwrap_or(0),
                duration_ms: 0,
            });
        }
        let layout = self.layout().clone();
        let snapshot = Snapshot::take(&layout.config_dir, &layout.data_dir).map_err(|e| failed(e.to_string()))?;
        let gone: Vec<(ItemType, String, Option<PathBuf>)> =
            removed.iter().map(|(k, n)| (*k, n.clone(), enabler.link(*k, n).ok())).collect();
        for (k, n) in &removed {
            if let Err(e) = enabler.disable_one(*k, n) {
                self.roll_back(&snapshot, false).await;
                return Err(failed(format!("{} {n}: {e:#}", k.as_str())));
            }
        }
        self.reload_and_verify(&snapshot, refs(&removed), refs(&kept), |loaded| {
            let still: Vec<String> = gone
                .iter()
                .filter(|(k, _, link)| *k != ItemType::Collections && link.as_ref().is_some_and(|l| loaded.files.contains(l)))
                .map(|(k, n, _)| format!("{} {n}", k.as_str()))
                .collect();
            if still.is_empty() {
                Ok(())
            } else {
                Err(format!("the engine still loads: {}", still.join(", ")))
            }
        })
        .await
    }

    /// Restarts a running engine on the changed files and checks what it reports loading; on a
    /// failed start or check the files are restored and the engine is started on them again.
    async fn reload_and_verify(
        &self,
        snapshot: &Snapshot,
        changed: Vec<HubItemRef>,
        kept: Vec<HubItemRef>,
        check: impl Fn(&Loaded) -> Result<(), String>,
    ) -> Result<HubChange, AppError> {
        let engine = &self.inner.engine;
        let change = |verified: bool, running: bool, loaded: usize| HubChange {
            item: HubItemRef::new(ItemType::Collections, ""),
            changed: changed.clone(),
            kept: kept.clone(),
            verified,
            engine_running: running,
            loaded_scenarios: loaded,
            duration_ms: 0,
        };
        if engine.status().state != EngineState::Running {
            // Stopped (or between crash restarts): the files are in place for its next start.
            return Ok(change(false, false, 0));
        }
        tracing::info!("[HUB] restarting CrowdSec to load the change");
        engine.stop().await?;
        if let Err(e) = engine.start().await {
            let why = match e {
                AppError::Engine { detail: Some(d), .. } => d,
                other => other.to_string(),
            };
            self.roll_back(snapshot, true).await;
            return Err(failed(format!("CrowdSec did not start with the change: {why}")));
        }
        let loaded = engine.loaded().unwrap_or_default();
        if let Err(why) = check(&loaded) {
            self.roll_back(snapshot, true).await;
            return Err(failed(why));
        }
        Ok(change(true, true, loaded.scenarios.len()))
    }

    /// Restores the files and, when the engine ran before, brings it back on them.
    async fn roll_back(&self, snapshot: &Snapshot, restart: bool) {
        let layout = self.layout();
        if let Err(e) = snapshot.restore(&layout.config_dir, &layout.data_dir) {
            tracing::error!("[HUB] rollback could not restore the hub links: {e}");
        }
        if restart {
            let engine = &self.inner.engine;
            let _ = engine.stop().await;
            match engine.start().await {
                Ok(_) => tracing::info!("[HUB] rolled back; CrowdSec runs on the previous set"),
                Err(e) => tracing::error!("[HUB] rolled back, but CrowdSec did not start again: {e:?}"),
            }
        }
    }
}

#[async_trait::async_trait]
impl app::services::HubService for HubItems {
    async fn list(&self, query: &HubQuery) -> Result<Vec<HubItem>, AppError> {
        HubItems::list(self, query).await
    }

    async fn detail(&self, item: &HubItemRef) -> Result<HubItemDetail, AppError> {
        HubItems::detail(self, item).await
    }

    async fn install(&self, actor: &app::model::Principal, item: HubItemRef) -> Result<HubChange, AppError> {
        HubItems::install(self, &actor.username, item).await
    }

    async fn remove(&self, actor: &app::model::Principal, item: HubItemRef) -> Result<HubChange, AppError> {
        HubItems::remove(self, &actor.username, item).await
    }
}
