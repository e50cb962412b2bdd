//! Notifications: events (engine alerts from the engine's own http plugin, manual actions, the
//! engine going down, a failed self-test) are matched against each channel's rules, stored as
//! messages (bursts grouped per channel), and delivered with retries by `worker`. Channels'
//! secrets are sealed at rest (`sealed`); a listing masks them.
//!
//! `Events` is the cheap handle other services emit through; `Notifier` is the service the REST
//! handlers call.

pub mod engine_alerts;
mod email;
mod message;
mod rules;
mod sealed;
mod send;
mod spec;
mod store;
mod worker;

use std::sync::Arc;

use app::accounts::model::Admin;
use app::error::AppError;
use app::notify::model::{Channel, ChannelInput, ChannelSaved, EventKind, HistoryPage, HistoryQuery, TestResult};
use app::security::model::{EngineState, EngineStatus};
use tokio::sync::mpsc;

pub use self::message::{Event, Item};
use self::message::Message;
use self::store::Store;
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
    rx: Arc<std::sync::Mutex<Option<mpsc::UnboundedReceiver<Event>>>>,
    /// Set once the console's address is known (`listen_at`).
    hook: Arc<std::sync::OnceLock<engine_alerts::AlertHook>>,
}

impl Notifier {
    pub fn new(db: Db, data_dir: &std::path::Path, block_private: bool) -> anyhow::Result<Notifier> {
        let store = Store::new(db.clone(), sealed::Sealer::open(data_dir)?);
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Notifier {
            db,
            worker: Worker::new(store.clone(), block_private),
            store,
            events: Events { tx },
            rx: Arc::new(std::sync::Mutex::new(Some(rx))),
            hook: Arc::default(),
        })
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
        tokio::spawn(watch_engine::run(engine, self.events()));
    }

    async fn dispatch(&self, event: &Event) -> Result<(), AppError> {
        let mut queued = false;
        for c in self.store.channels().await? {
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
}

#[async_trait::async_trait]
impl app::services::NotificationService for Notifier {
    async fn channels(&self) -> Result<Vec<Channel>, AppError> {
        Ok(self.store.channels().await?.iter().map(store::Stored::view).collect())
    }

    async fn create_channel(&self, actor: &Admin, input: ChannelInput) -> Result<ChannelSaved, AppError> {
        let (spec, secret) = spec::create(&input)?;
        let stored = self.store.insert(&spec).await?;
        audit::by(&self.db, actor, "notify.channel.create", &stored.spec.name, &format!("{} to {}", spec.kind.as_str(), spec::mask_url(&spec.secrets.url))).await;
        Ok(ChannelSaved { channel: stored.view(), secret })
    }

    async fn update_channel(&self, actor: &Admin, id: i64, input: ChannelInput) -> Result<ChannelSaved, AppError> {
        let current = self.store.channel(id).await?;
        let spec = spec::update(&input, current.spec.clone())?;
        let stored = self.store.update(id, &spec).await?;
        let secrets = if spec.secrets != current.spec.secrets { "secrets replaced" } else { "secrets kept" };
        audit::by(&self.db, actor, "notify.channel.update", &stored.spec.name, &format!("{secrets}; enabled {}", spec.enabled)).await;
        Ok(ChannelSaved { channel: stored.view(), secret: None })
    }

    async fn delete_channel(&self, actor: &Admin, id: i64) -> Result<(), AppError> {
        let name = self.store.delete(id).await?;
        audit::by(&self.db, actor, "notify.channel.delete", &name, "with its history").await;
        Ok(())
    }

    async fn test_channel(&self, actor: &Admin, id: i64) -> Result<TestResult, AppError> {
        let c = self.store.channel(id).await?;
        let message = Message::new(&Event {
            kind: EventKind::Test,
            item: Item { time: rfc3339(now()), detail: Some(format!("Channel \"{}\" works; sent by {}.", c.spec.name, actor.username())), ..Default::default() },
        });
        let o = send::deliver(c.spec.kind, &c.spec.secrets, &message, self.worker_blocks_private()).await;
        self.store.record(c.id, &message, o.error.as_deref()).await?;
        audit::by(&self.db, actor, "notify.channel.test", &c.spec.name, &o.error.clone().unwrap_or_else(|| format!("delivered in {} ms", o.ms))).await;
        Ok(TestResult { ok: o.ok, ms: o.ms, status: o.status, error: o.error })
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

impl Notifier {
    fn worker_blocks_private(&self) -> bool {
        self.worker.blocks_private()
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

    pub async fn run(mut status: Status, events: Events) {
        let mut before = status.borrow_and_update().clone();
        while status.changed().await.is_ok() {
            let now = status.borrow_and_update().clone();
            if let Some(detail) = down(&before, &now) {
                events.emit(EventKind::EngineDown, Item { detail: Some(detail), ..Default::default() });
            }
            before = now;
        }
    }
}
