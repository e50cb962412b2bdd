//! Installing and removing hub items: the dependency closure from the index, every file's digest
//! checked, links and data files changed, the running engine restarted, and the change **verified
//! from the engine's own start-up report**; any failure restores the snapshot. One change at a
//! time: a second one while one runs is refused (409), never queued.

use std::path::PathBuf;
use std::time::Instant;

use app::error::{AppError, EngineErrorCode};
use app::hub::model::HubChange;
use app::hub::model::{HubItemName, HubItemRef};
use app::accounts::model::Admin;
use app::security::model::EngineState;

use super::items::{failed, HubItems};
use super::{self as hub, Index, ItemType, Presence, Snapshot};
use crate::crowdsec::engine_log::Loaded;
use crate::db::audit;

/// Which way a change goes, for messages and the audit log.
#[derive(Clone, Copy)]
pub(super) enum Action {
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
    pub(super) async fn change(&self, actor: &Admin, r: HubItemRef, action: Action) -> Result<HubChange, AppError> {
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
                audit::by(&self.inner.db, actor, &format!("hub.{verb}"), &what, &format!("{} items changed: {}", change.changed.len(), change.changed.iter().take(20).map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "))).await;
                Ok(change)
            }
            Err(e) => {
                tracing::warn!("[HUB] {verb} {what} failed: {e:?}");
                audit::outcome(&self.inner.db, actor, &format!("hub.{verb}"), &what, "nothing changed", &Err::<(), _>(e.clone())).await;
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
