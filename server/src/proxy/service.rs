//! Proxy hosts and the data plane's status as a service: the `ProxyService` REST and the server
//! functions both call. A change is stored, applied to Caddy and audited; when Caddy refuses it the
//! previous rows are restored.

use std::time::Duration;

use app::error::AppError;
use app::accounts::model::Admin;
use app::proxy::model::{DaemonStatus, DataPlaneStatus, ProxyHost, ProxyHostSpec};
use app::services::ProxyService;

use super::{hosts, internal, Proxy};
use crate::db::{audit, Db};

impl Proxy {
    /// A change is stored and applied; when Caddy refuses it (or cannot be reached) the previous
    /// rows are put back, so stored and running configuration never disagree.
    async fn change<T, F, Fut>(&self, actor: &Admin, action: &str, what: String, op: F) -> Result<T, AppError>
    where
        F: FnOnce(Db) -> Fut,
        Fut: std::future::Future<Output = Result<T, AppError>>,
    {
        let _guard = self.inner.change.lock().await;
        let snapshot = hosts::list(&self.inner.db).await.map_err(internal)?;
        let out = op(self.inner.db.clone()).await?;
        if let Err(e) = self.apply().await {
            tracing::warn!("[DATA_PLANE] {action} {what}: not applied ({e:?}); reverting");
            if let Err(e) = hosts::replace_all(&self.inner.db, &snapshot).await {
                tracing::error!("[DATA_PLANE] could not restore the previous proxy hosts: {e}");
            }
            return Err(e);
        }
        audit::by(&self.inner.db, actor, action, &what, "applied to Caddy").await;
        Ok(out)
    }

    /// The bouncer's counters, or `None` when it does not answer.
    pub(super) async fn bouncer_stats(&self) -> Option<app::proxy::model::BouncerStats> {
        let url = format!("http://{}/bouncer/stats", self.inner.daemon.listen);
        let res = self.inner.http.get(url).timeout(Duration::from_secs(2)).send().await.ok()?;
        res.error_for_status().ok()?.json().await.ok()
    }
}

#[async_trait::async_trait]
impl ProxyService for Proxy {
    async fn list(&self) -> Result<Vec<ProxyHost>, AppError> {
        hosts::list(&self.inner.db).await.map_err(internal)
    }

    async fn create(&self, actor: &Admin, spec: ProxyHostSpec) -> Result<ProxyHost, AppError> {
        let what = spec.domain.as_str().to_owned();
        self.change(actor, "proxy_host.create", what, |db| async move { hosts::insert(&db, &spec).await }).await
    }

    async fn update(&self, actor: &Admin, id: i64, spec: ProxyHostSpec) -> Result<ProxyHost, AppError> {
        let what = format!("{} ({id})", spec.domain.as_str());
        self.change(actor, "proxy_host.update", what, |db| async move { hosts::update(&db, id, &spec).await }).await
    }

    async fn delete(&self, actor: &Admin, id: i64) -> Result<(), AppError> {
        self.change(actor, "proxy_host.delete", id.to_string(), |db| async move { hosts::delete(&db, id).await }).await
    }

    async fn self_test(&self, actor: &Admin) -> Result<app::security::model::SelfTestReport, AppError> {
        let report = Proxy::self_test(self, actor).await?;
        if !report.ok {
            let failed = report.steps.iter().find(|s| !s.ok).map(|s| format!("{}: {}", s.name, s.detail)).unwrap_or_default();
            let detail = format!("The enforcement self-test run by {} failed at {failed}", actor.username());
            self.inner.events.emit(app::notify::model::EventKind::SelfTestFailed, crate::notify::Item { detail: Some(detail), ..Default::default() });
        }
        Ok(report)
    }

    async fn status(&self) -> DataPlaneStatus {
        let (caddy_err, bouncer_err) = self.inner.errors.lock().expect("errors lock").clone();
        let caddy_pid = self.inner.caddy.as_ref().and_then(|c| c.running());
        let bouncer_pid = self.inner.bouncer.running();
        let stats = match bouncer_pid {
            Some(_) => self.bouncer_stats().await,
            None => None,
        };
        let caddy_missing = self.inner.caddy.is_none().then(|| "caddy is not installed".to_owned());
        DataPlaneStatus {
            enabled: self.inner.enabled,
            listen: self.inner.settings.listen.clone(),
            fail_mode: self.inner.settings.fail_mode,
            caddy: DaemonStatus { running: caddy_pid.is_some(), pid: caddy_pid, last_error: caddy_err.or(caddy_missing) },
            bouncer: DaemonStatus { running: bouncer_pid.is_some(), pid: bouncer_pid, last_error: bouncer_err },
            stats,
        }
    }
}
