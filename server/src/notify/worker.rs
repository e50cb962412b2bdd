//! Delivery: takes due messages from the store and sends each in its own task, one message at a
//! time per channel (so one slow or broken channel never delays another), retrying with growing
//! pauses. Pending messages survive a restart; the worker picks them up at start.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::message::Message;
use super::rules::quiet_until;
use super::store::{Due, Store};
use crate::support::time::now;

/// Pauses after the 1st, 2nd, … failed attempt; after the last the message is `failed`.
pub const BACKOFF_SECS: [i64; 6] = [2, 5, 15, 60, 300, 1800];
pub const ATTEMPTS_MAX: i64 = BACKOFF_SECS.len() as i64 + 1;
/// Sent and failed messages are kept this long.
const HISTORY_DAYS: i64 = 30;

#[derive(Clone)]
pub struct Worker {
    store: Store,
    wake: Arc<tokio::sync::Notify>,
    busy: Arc<Mutex<HashSet<i64>>>,
    block_private: bool,
}

impl Worker {
    pub fn new(store: Store, block_private: bool) -> Self {
        Worker { store, wake: Arc::default(), busy: Arc::default(), block_private }
    }

    pub fn blocks_private(&self) -> bool {
        self.block_private
    }

    /// Something was queued: look now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn run(self) {
        let mut last_purge = 0;
        loop {
            if let Err(e) = self.round().await {
                tracing::warn!("[NOTIFY] delivery round failed: {e:?}");
            }
            if now() - last_purge > 3600 {
                last_purge = now();
                match self.store.purge(now() - HISTORY_DAYS * 86_400).await {
                    Ok(0) | Err(_) => {}
                    Ok(n) => tracing::info!(messages = n, "[NOTIFY] old history deleted"),
                }
            }
            // Until the next message is due (at most a second: a burst's window may close), or woken.
            let wait = match self.store.next_due().await {
                Ok(Some(t)) => Duration::from_millis(((t - now()).clamp(0, 1) * 1000) as u64).max(Duration::from_millis(200)),
                _ => Duration::from_secs(1),
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn round(&self) -> Result<(), app::error::AppError> {
        for due in self.store.due(200).await? {
            let free = self.busy.lock().expect("busy lock").insert(due.channel_id);
            if !free {
                continue;
            }
            let worker = self.clone();
            tokio::spawn(async move {
                let channel = due.channel_id;
                if let Err(e) = worker.deliver(due).await {
                    tracing::warn!("[NOTIFY] delivery bookkeeping failed: {e:?}");
                }
                worker.busy.lock().expect("busy lock").remove(&channel);
                worker.wake();
            });
        }
        Ok(())
    }

    async fn deliver(&self, due: Due) -> Result<(), app::error::AppError> {
        let channel = match self.store.channel(due.channel_id).await {
            Ok(c) => c,
            Err(app::error::AppError::NotFound) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !channel.spec.enabled {
            return self.store.failed(due.id, due.attempts, "the channel is disabled").await;
        }
        if let Some(until) = quiet_until(channel.spec.rules.quiet_hours.as_ref(), now()) {
            return self.store.postpone(due.id, until).await;
        }
        let limit = channel.spec.rules.rate_limit_per_hour as i64;
        if limit > 0 {
            let (sent, oldest) = self.store.sent_last_hour(channel.id).await?;
            if sent >= limit {
                return self.store.postpone(due.id, oldest.unwrap_or(now()) + 3600).await;
            }
        }
        let message: Message = match serde_json::from_str(&due.body) {
            Ok(m) => m,
            Err(e) => return self.store.failed(due.id, due.attempts, &format!("unreadable message: {e}")).await,
        };
        let outcome = super::send::deliver(channel.spec.kind, &channel.spec.secrets, &message, self.block_private).await;
        let attempts = due.attempts + 1;
        if outcome.ok {
            tracing::info!(channel = %channel.spec.name, event = message.event.as_str(), count = message.count, ms = outcome.ms, "[NOTIFY] delivered");
            return self.store.sent(due.id).await;
        }
        let error = outcome.error.unwrap_or_default();
        if attempts >= ATTEMPTS_MAX {
            tracing::warn!(channel = %channel.spec.name, attempts, error = %error, "[NOTIFY] delivery failed for good");
            return self.store.failed(due.id, attempts, &error).await;
        }
        let pause = BACKOFF_SECS[(attempts - 1) as usize];
        tracing::info!(channel = %channel.spec.name, attempts, retry_in_secs = pause, error = %error, "[NOTIFY] delivery failed; will retry");
        self.store.retry(due.id, attempts, now() + pause, &error).await
    }
}
