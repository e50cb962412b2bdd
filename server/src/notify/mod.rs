//! Notifications: events (engine alerts from the engine's own http plugin, manual actions, the
//! engine, the bouncer or Caddy going down, enrollment changes, a failed self-test) are matched
//! against each channel's rules, stored as messages (bursts grouped per channel), and delivered
//! with retries by `worker`. Bans and the engine's state changes are also kept in `event_log`
//! for the daily or weekly `digest`. Channels' secrets are sealed at rest (`sealed`); a listing
//! masks them.
//!
//! `Events` is the cheap handle other services emit through; `Notifier` is the service the REST
//! handlers call.

mod digest;
pub use self::digest::Traffic;
pub mod engine_alerts;
mod email;
pub mod event_log;
mod message;
mod rules;
mod send;
mod spec;
mod store;
mod worker;

use std::sync::Arc;

use app::accounts::model::Admin;
use app::error::AppError;
use app::notify::model::{Channel, ChannelInput, ChannelSaved, DigestPeriod, DigestPreview, EventKind, HistoryPage, HistoryQuery, TestResult};
use app::security::model::{EngineState, EngineStatus};
use tokio::sync::mpsc;

pub use self::message::{Event, Item};
use self::event_log::{EngineMark, EventLog};
use self::message::Message;
use self::store::{Store, Stored};
use self::worker::Worker;
use crate::db::{audit, Db};
use crate::support::time::{now, rfc3339};

/// Where services report what happened; never blocks, never fails (a closed receiver — a test
/// without notifications — drops the event).
#[derive(Clone)]
pub struct Events {
    tx: mpsc::UnboundedSender<Event>,
}

impl Events {
    pub fn emit(&self, kind: EventKind, item: Item) {
        let item = Item { time: if item.time.is_empty() { rfc3339(now()) } else { item.time }, ..item };
        let _ = self.tx.send(Event { kind, item });
    }

    /// An administrator's action on an address (`ban`, `unban`, `allow`, `unban and allow`).
    pub fn manual(&self, actor: &Admin, action: &str, value: &str, detail: &str) {
        self.emit(
            EventKind::Manual,
            Item { value: Some(value.to_owned()), origin: Some(app::decisions::model::MANUAL_ORIGIN.to_owned()), actor: Some(actor.username().to_owned()), action: Some(action.to_owned()), detail: Some(detail.to_owned()), ..Default::default() },
        );
    }

    /// An administrator's ban: a `manual` event (action `banned`) that carries the decision's
    /// scenario, so the Overview and digests count it by scenario too.
    pub fn banned(&self, actor: &Admin, value: &str, scenario: &str, detail: &str) {
        self.emit(
            EventKind::Manual,
            Item {
                value: Some(value.to_owned()),
                scenario: Some(scenario.to_owned()),
                origin: Some(app::decisions::model::MANUAL_ORIGIN.to_owned()),
                actor: Some(actor.username().to_owned()),
                action: Some("banned".to_owned()),
                detail: Some(detail.to_owned()),
                ..Default::default()
            },
        );
    }

    /// A handle whose events go nowhere (tools that run without the console).
    pub fn disconnected() -> Events {
        Events { tx: mpsc::unbounded_channel().0 }
    }
}

#[derive(Clone)]
pub struct Notifier {
    db: Db,
    store: Store,
    worker: Worker,
    events: Events,
    log: EventLog,
    /// Where a digest counts requests seen and refused.
    traffic: Arc<dyn Traffic>,
    rx: Arc<std::sync::Mutex<Option<mpsc::UnboundedReceiver<Event>>>>,
    /// Set once the console's address is known (`listen_at`).
    hook: Arc<std::sync::OnceLock<engine_alerts::AlertHook>>,
    /// The channels, opened (unsealed) once and again after each change, not for every event.
    opened: Arc<tokio::sync::RwLock<Option<Arc<Vec<Stored>>>>>,
}

/// How often the digest schedule is looked at.
const DIGEST_TICK: std::time::Duration = std::time::Duration::from_secs(60);

impl Notifier {
    pub fn new(db: Db, sealer: crate::support::sealed::Sealer, block_private: bool, traffic: Arc<dyn Traffic>) -> anyhow::Result<Notifier> {
        let store = Store::new(db.clone(), sealer);
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Notifier {
            log: EventLog::new(db.clone()),
            db,
            worker: Worker::new(store.clone(), block_private),
            store,
            events: Events { tx },
            traffic,
            rx: Arc::new(std::sync::Mutex::new(Some(rx))),
            hook: Arc::default(),
            opened: Arc::default(),
        })
    }

    async fn opened_channels(&self) -> Result<Arc<Vec<Stored>>, AppError> {
        if let Some(c) = self.opened.read().await.clone() {
            return Ok(c);
        }
        let mut slot = self.opened.write().await;
        let channels = Arc::new(self.store.channels().await?);
        *slot = Some(channels.clone());
        Ok(channels)
    }

    async fn channels_changed(&self) {
        *self.opened.write().await = None;
    }

    /// The engine's alert hook for a console listening on `console`, made once per start.
    pub fn listen_at(&self, console: std::net::SocketAddr) -> engine_alerts::AlertHook {
        self.hook.get_or_init(|| engine_alerts::AlertHook::new(console)).clone()
    }

    pub fn events(&self) -> Events {
        self.events.clone()
    }

    /// Starts the dispatcher (events → messages), the delivery worker and the engine watch. Once.
    pub fn spawn(&self, engine: watch_engine::Status) {
        let Some(mut rx) = self.rx.lock().expect("rx lock").take() else { return };
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if let Err(e) = me.dispatch(&event).await {
                    tracing::warn!("[NOTIFY] event not queued: {e:?}");
                }
            }
        });
        tokio::spawn(self.worker.clone().run());
        tokio::spawn(watch_engine::run(engine, self.events(), self.log.clone()));
        tokio::spawn(self.clone().digests());
    }

    async fn dispatch(&self, event: &Event) -> Result<(), AppError> {
        let is_ban = event.kind == EventKind::Alert || (event.kind == EventKind::Manual && event.item.action.as_deref() == Some("banned"));
        if is_ban {
            self.log.ban(now(), event).await?;
        }
        let mut queued = false;
        for c in self.opened_channels().await?.iter() {
            if c.spec.enabled && rules::wants(&c.spec.rules, event) {
                self.store.enqueue(c.id, event, c.spec.rules.group_window_secs).await?;
                queued = true;
            }
        }
        if queued {
            self.worker.wake();
        }
        Ok(())
    }

    /// Queues each channel's scheduled digest when its time has come (one per period: a console
    /// that was down at that time sends it late, once), and keeps the event log to its 90 days.
    async fn digests(self) {
        let mut tick = tokio::time::interval(DIGEST_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_purge = 0;
        loop {
            tick.tick().await;
            if let Err(e) = self.due_digests().await {
                tracing::warn!("[NOTIFY] digests not queued yet: {e:?}");
            }
            if now() - last_purge >= 3600 {
                last_purge = now();
                if let Err(e) = self.log.purge(now() - event_log::KEEP_SECS).await {
                    tracing::warn!("[NOTIFY] old event log rows not deleted: {e:?}");
                }
            }
        }
    }

    async fn due_digests(&self) -> Result<(), AppError> {
        let t = now();
        for c in self.opened_channels().await?.iter() {
            let Some(schedule) = c.spec.rules.digest.as_ref().filter(|_| c.spec.enabled) else { continue };
            let due = digest::occurrence(schedule, t);
            match self.store.digest_done_at(c.id).await? {
                // Newly scheduled: the first digest is the next one.
                None => self.store.set_digest_done_at(c.id, due).await?,
                Some(done) if done < due => {
                    let d = digest::compute(&self.log, self.traffic.as_ref(), schedule.period, due).await?;
                    self.store.queue(c.id, &Message::digest(d)).await?;
                    self.store.set_digest_done_at(c.id, due).await?;
                    self.worker.wake();
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl app::services::NotificationService for Notifier {
    async fn channels(&self) -> Result<Vec<Channel>, AppError> {
        Ok(self.store.channels().await?.iter().map(store::Stored::view).collect())
    }

    async fn create_channel(&self, actor: &Admin, input: ChannelInput) -> Result<ChannelSaved, AppError> {
        let (spec, secret) = spec::create(&input)?;
        let stored = self.store.insert(&spec).await?;
        self.channels_changed().await;
        audit::by(&self.db, actor, "notify.channel.create", &stored.spec.name, &format!("{} to {}", spec.kind.as_str(), spec::mask_url(&spec.secrets.url))).await;
        Ok(ChannelSaved { channel: stored.view(), secret })
    }

    async fn update_channel(&self, actor: &Admin, id: i64, input: ChannelInput) -> Result<ChannelSaved, AppError> {
        let current = self.store.channel(id).await?;
        let spec = spec::update(&input, current.spec.clone())?;
        let stored = self.store.update(id, &spec).await?;
        if spec.rules.digest != current.spec.rules.digest {
            // A new schedule starts with its next time, not with a catch-up of the old one.
            self.store.reset_digest(id).await?;
        }
        self.channels_changed().await;
        let secrets = if spec.secrets != current.spec.secrets { "secrets replaced" } else { "secrets kept" };
        audit::by(&self.db, actor, "notify.channel.update", &stored.spec.name, &format!("{secrets}; enabled {}", spec.enabled)).await;
        Ok(ChannelSaved { channel: stored.view(), secret: None })
    }

    async fn delete_channel(&self, actor: &Admin, id: i64) -> Result<(), AppError> {
        let name = self.store.delete(id).await?;
        self.channels_changed().await;
        audit::by(&self.db, actor, "notify.channel.delete", &name, "with its history").await;
        Ok(())
    }

    async fn test_channel(&self, actor: &Admin, id: i64) -> Result<TestResult, AppError> {
        let c = self.store.channel(id).await?;
        let message = Message::new(&Event {
            kind: EventKind::Test,
            item: Item { time: rfc3339(now()), detail: Some(format!("Channel \"{}\" works; sent by {}.", c.spec.name, actor.username())), ..Default::default() },
        });
        let o = send::deliver(c.spec.kind, &c.spec.secrets, &message, self.worker.blocks_private()).await;
        self.store.record(c.id, &message, o.error.as_deref()).await?;
        audit::by(&self.db, actor, "notify.channel.test", &c.spec.name, &o.error.clone().unwrap_or_else(|| format!("delivered in {} ms", o.ms))).await;
        Ok(TestResult { ok: o.ok, ms: o.ms, status: o.status, error: o.error })
    }

    async fn send_digest(&self, actor: &Admin, id: i64) -> Result<DigestPreview, AppError> {
        let c = self.store.channel(id).await?;
        let period = c.spec.rules.digest.as_ref().map_or(DigestPeriod::Daily, |d| d.period);
        // Up to the end of this second: what happened in it counts.
        let d = digest::compute(&self.log, self.traffic.as_ref(), period, now() + 1).await?;
        let message = Message::digest(d.clone());
        let o = send::deliver(c.spec.kind, &c.spec.secrets, &message, self.worker.blocks_private()).await;
        self.store.record(c.id, &message, o.error.as_deref()).await?;
        audit::by(&self.db, actor, "notify.digest.send", &c.spec.name, &o.error.clone().unwrap_or_else(|| format!("{} digest delivered in {} ms", period.as_str(), o.ms))).await;
        Ok(DigestPreview { text: message.text(), digest: d, result: TestResult { ok: o.ok, ms: o.ms, status: o.status, error: o.error } })
    }

    async fn history(&self, query: &HistoryQuery) -> Result<HistoryPage, AppError> {
        self.store.history(query).await
    }

    async fn engine_alerts(&self, authorization: Option<&str>, body: &[u8]) -> Result<usize, AppError> {
        if !self.hook.get().is_some_and(|h| h.accepts(authorization)) {
            return Err(AppError::Unauthorized);
        }
        let items = engine_alerts::items(body).map_err(|e| {
            tracing::warn!("[NOTIFY] the engine's plugin sent what Charon cannot read: {e}");
            AppError::from(app::error::ErrorCode::ValueInvalid)
        })?;
        let n = items.len();
        for (kind, item) in items {
            self.events.emit(kind, item);
        }
        Ok(n)
    }

    async fn resend(&self, actor: &Admin, id: i64) -> Result<i64, AppError> {
        let new = self.store.resend(id).await?;
        audit::by(&self.db, actor, "notify.resend", &format!("message {id}"), &format!("queued again as {new}")).await;
        self.worker.wake();
        Ok(new)
    }
}

/// The engine going down while it was meant to run, or an administrator stopping it.
pub mod watch_engine {
    use super::*;

    pub type Status = tokio::sync::watch::Receiver<EngineStatus>;

    fn down(before: &EngineStatus, now: &EngineStatus) -> Option<String> {
        if before.state != EngineState::Running || now.state == EngineState::Running {
            return None;
        }
        let why = now.last_error.clone().map(|e| format!(": {e}")).unwrap_or_default();
        match now.state {
            EngineState::Crashed => Some(format!("The CrowdSec engine crashed{why}; Charon restarts it.")),
            EngineState::Unresponsive => Some("The CrowdSec engine's Local API stopped answering; Charon restarts it if this lasts.".to_owned()),
            // A console shutdown stops the engine too, but keeps it wanted: not worth a message.
            EngineState::Stopping | EngineState::Stopped if !now.enabled => Some("The CrowdSec engine was stopped by an administrator: nothing new is detected.".to_owned()),
            _ => None,
        }
    }

    /// What the event log keeps of a change from `before` to `now`, if anything.
    fn mark(before: Option<&EngineStatus>, now: &EngineStatus) -> Option<EngineMark> {
        let was_running = before.is_some_and(|b| b.state == EngineState::Running);
        match now.state {
            EngineState::Running if !was_running => Some(EngineMark::Running),
            EngineState::Crashed | EngineState::Unresponsive if was_running => Some(EngineMark::Failed),
            EngineState::Stopping | EngineState::Stopped if was_running || before.is_none() => Some(EngineMark::Stopped),
            _ => None,
        }
    }

    pub async fn run(mut status: Status, events: Events, log: EventLog) {
        let mut before = status.borrow_and_update().clone();
        if let Some(m) = mark(None, &before) {
            let _ = log.engine(crate::support::time::now(), m).await;
        }
        while status.changed().await.is_ok() {
            let now = status.borrow_and_update().clone();
            if let Some(detail) = down(&before, &now) {
                events.emit(EventKind::EngineDown, Item { detail: Some(detail), ..Default::default() });
            }
            if let Some(m) = mark(Some(&before), &now) {
                let _ = log.engine(crate::support::time::now(), m).await;
            }
            before = now;
        }
    }
}
