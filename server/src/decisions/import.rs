//! Blocklist import: the list is read at once (`import_list`), then its new decisions go to the
//! LAPI in the background, `BATCH` per alert (as `cscli decisions import` does, but in pieces the
//! engine's SQLite can write between its other writers). A batch the LAPI fails with a server
//! error — on SQLite that is "database is locked" while another writer holds it — is retried with
//! growing pauses; each batch is enforced in the cache as soon as the engine has it. Progress is
//! kept per job for the page and `GET …/decisions/imports/{id}`. One import runs at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use app::accounts::model::Admin;
use app::decisions::model::{ImportProgress, ImportReport, ImportRequest, IpOrRange};
use app::error::{AppError, ErrorCode};

use super::import_list;
use crate::crowdsec::lapi::LapiError;
use crate::support::time::now;

/// Decisions per alert.
pub const BATCH: usize = 1000;
/// Pauses before the retries of a failed batch (then the import stops with an error).
const BACKOFF_MS: [u64; 6] = [200, 400, 800, 1600, 3200, 6400];
/// Finished jobs kept for their reports.
const KEEP_FINISHED: usize = 16;

#[derive(Default)]
pub struct Imports {
    next: AtomicU64,
    jobs: Mutex<HashMap<u64, ImportProgress>>,
    /// Held by the running import.
    running: tokio::sync::Mutex<()>,
}

impl Imports {
    pub fn progress(&self, id: u64) -> Option<ImportProgress> {
        self.jobs.lock().expect("imports lock").get(&id).cloned()
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut ImportProgress)) {
        if let Some(p) = self.jobs.lock().expect("imports lock").get_mut(&id) {
            f(p);
        }
    }

    fn register(&self, total: usize) -> ImportProgress {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let p = ImportProgress { id, done: 0, total, report: None, error: None };
        let mut jobs = self.jobs.lock().expect("imports lock");
        // Forget the oldest finished jobs beyond the few kept.
        let mut finished: Vec<u64> = jobs.iter().filter(|(_, j)| j.report.is_some()).map(|(k, _)| *k).collect();
        finished.sort_unstable();
        for k in finished.iter().take(finished.len().saturating_sub(KEEP_FINISHED)) {
            jobs.remove(k);
        }
        jobs.insert(id, p.clone());
        p
    }
}

fn scenario(req: &ImportRequest, actor: &str) -> String {
    if req.reason.as_str().is_empty() {
        format!("import by {actor}")
    } else {
        req.reason.as_str().to_owned()
    }
}

/// The alert one batch travels in.
fn alert(batch: &[IpOrRange], req: &ImportRequest, actor: &str) -> serde_json::Value {
    let scenario = scenario(req, actor);
    let decisions = batch
        .iter()
        .map(|t| {
            json!({"duration": req.duration.to_go(), "origin": req.origin, "scenario": scenario,
                   "scope": t.scope(), "type": req.kind.as_str(), "value": t.value()})
        })
        .collect();
    let message = format!("{} decisions imported by {actor}", batch.len());
    super::alert(&scenario, message, json!({"scope": "charon/import", "value": req.origin}), decisions)
}

impl super::Decisions {
    pub(super) async fn start_import(&self, actor: &Admin, req: ImportRequest) -> Result<ImportProgress, AppError> {
        let format = req.format.unwrap_or_else(|| import_list::sniff(&req.text));
        let list = import_list::parse(&req.text, format, req.force).map_err(|e| {
            tracing::info!("import refused: {e}");
            AppError::from(ErrorCode::ListInvalid)
        })?;
        // Nothing starts while the engine does not answer (this logs in).
        self.session.token().await?;
        let at = now();
        let (fresh, active): (Vec<IpOrRange>, Vec<IpOrRange>) =
            list.targets.into_iter().partition(|t| !self.cache.has_active(*t, req.kind.as_str(), at));
        let job = self.imports.register(fresh.len());
        let base = ImportReport {
            added: 0,
            duplicates: list.duplicates + active.len(),
            invalid: list.invalid,
            refused: list.refused,
            retries: 0,
        };
        let this = self.clone();
        let actor = actor.clone();
        let id = job.id;
        tokio::spawn(async move { this.run_import(id, actor, req, fresh, base).await });
        Ok(job)
    }

    async fn run_import(&self, id: u64, actor: Admin, req: ImportRequest, targets: Vec<IpOrRange>, mut report: ImportReport) {
        let _one_at_a_time = self.imports.running.lock().await;
        let mut error = None;
        for batch in targets.chunks(BATCH) {
            let body = alert(batch, &req, actor.username());
            let retries = AtomicUsize::new(0);
            let sent = self
                .session
                .call(|t| {
                    let (body, retries) = (&body, &retries);
                    async move {
                        let mut attempt = 0;
                        loop {
                            match self.session.engine().lapi().post_alerts(&t, body).await {
                                Err(LapiError::Status(s)) if (500..=504).contains(&s) && attempt < BACKOFF_MS.len() => {
                                    tokio::time::sleep(Duration::from_millis(BACKOFF_MS[attempt])).await;
                                    attempt += 1;
                                    retries.fetch_add(1, Ordering::Relaxed);
                                }
                                other => return other,
                            }
                        }
                    }
                })
                .await;
            report.retries += retries.load(Ordering::Relaxed);
            if let Err(e) = sent {
                tracing::warn!(import = id, "import stopped after {} decisions: {e}", report.added);
                error = Some(e.to_string());
                break;
            }
            // Enforced at once; the engine's ids arrive with the next poll (0 until then).
            let until = now() + req.duration.seconds();
            self.cache.insert_many(batch, req.kind.as_str(), &req.origin, &scenario(&req, actor.username()), until);
            report.added += batch.len();
            let done = report.added;
            self.imports.update(id, |p| p.done = done);
        }
        let summary = format!(
            "{} added, {} duplicates, {} invalid, origin {}, {} {}",
            report.added, report.duplicates, report.invalid, req.origin, req.kind.as_str(), req.duration.to_go()
        );
        self.health.lock().expect("health lock").full_requested = true;
        crate::db::audit::by(&self.db, &actor, "decision.import", &req.origin, &summary).await;
        tracing::info!(import = id, by = actor.username(), "{summary}");
        self.imports.update(id, |p| {
            p.report = Some(report);
            p.error = error;
        });
    }
}
