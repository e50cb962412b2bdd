//! The `notify_channels` and `notify_messages` tables. A message is stored before anything is
//! sent (so it survives a restart), gathers later events of its burst while its window is open,
//! and ends `sent` or, after the last retry, `failed` with the error.

use crate::db::on_db;
use app::error::{AppError, ErrorCode};
use app::notify::model::{Channel, ChannelKind, ChannelRules, EventKind, HistoryPage, HistoryQuery, HistoryRow, HISTORY_PER_PAGE};

use super::message::{Event, Message};
use crate::support::sealed::Sealer;
use super::spec::{mask_url, Secrets, Spec};
use crate::db::Db;
use crate::support::time::{now, rfc3339};

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "notifications store failure");
    AppError::Internal
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: i64,
    kind: String,
    name: String,
    enabled: bool,
    sealed: Vec<u8>,
    rules: String,
    created_at: i64,
    updated_at: i64,
}

/// A stored channel, opened.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: i64,
    pub spec: Spec,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Stored {
    pub fn view(&self) -> Channel {
        Channel {
            id: self.id,
            kind: self.spec.kind,
            name: self.spec.name.clone(),
            enabled: self.spec.enabled,
            url_masked: mask_url(&self.spec.secrets.url),
            has_token: self.spec.secrets.token.is_some(),
            has_secret: self.spec.secrets.secret.is_some(),
            smtp: self.spec.secrets.smtp.clone(),
            rules: self.spec.rules.clone(),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

/// A message due for delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub channel_id: i64,
    pub body: String,
    pub attempts: i64,
}

#[derive(Clone)]
pub struct Store {
    db: Db,
    sealer: Sealer,
    /// One burst-merging write at a time (read, add, write back).
    gather: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Store {
    pub fn new(db: Db, sealer: Sealer) -> Self {
        Store { db, sealer, gather: Default::default() }
    }

    fn open(&self, row: ChannelRow) -> Result<Stored, AppError> {
        let secrets: Secrets = serde_json::from_slice(&self.sealer.open_sealed(&row.sealed).map_err(internal)?).map_err(internal)?;
        let rules: ChannelRules = serde_json::from_str(&row.rules).map_err(internal)?;
        let kind = ChannelKind::parse(&row.kind).ok_or_else(|| internal(format!("unknown channel kind {}", row.kind)))?;
        Ok(Stored { id: row.id, spec: Spec { kind, name: row.name, enabled: row.enabled, secrets, rules }, created_at: row.created_at, updated_at: row.updated_at })
    }

    pub async fn channels(&self) -> Result<Vec<Stored>, AppError> {
        let rows: Vec<ChannelRow> = on_db!(self.db, cx => sqlx::query_as("SELECT * FROM notify_channels ORDER BY id").fetch_all(cx).await).map_err(internal)?;
        rows.into_iter().map(|r| self.open(r)).collect()
    }

    pub async fn channel(&self, id: i64) -> Result<Stored, AppError> {
        let row: Option<ChannelRow> = on_db!(self.db, cx => sqlx::query_as("SELECT * FROM notify_channels WHERE id = $1").bind(id).fetch_optional(cx).await).map_err(internal)?;
        self.open(row.ok_or(AppError::NotFound)?)
    }

    fn sealed(&self, spec: &Spec) -> Result<(Vec<u8>, String), AppError> {
        Ok((self.sealer.seal(&serde_json::to_vec(&spec.secrets).map_err(internal)?), serde_json::to_string(&spec.rules).map_err(internal)?))
    }

    fn taken(e: sqlx::Error) -> AppError {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => ErrorCode::NameTaken.into(),
            _ => internal(e),
        }
    }

    pub async fn insert(&self, spec: &Spec) -> Result<Stored, AppError> {
        let (sealed, rules) = self.sealed(spec)?;
        let t = now();
        let id: i64 = on_db!(self.db, cx => sqlx::query_scalar("INSERT INTO notify_channels (kind, name, enabled, sealed, rules, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(spec.kind.as_str())
            .bind(&spec.name)
            .bind(spec.enabled)
            .bind(sealed)
            .bind(rules)
            .bind(t)
            .bind(t)
            .fetch_one(cx).await)
            .map_err(Self::taken)?;
        self.channel(id).await
    }

    pub async fn update(&self, id: i64, spec: &Spec) -> Result<Stored, AppError> {
        let (sealed, rules) = self.sealed(spec)?;
        let n = on_db!(self.db, cx => sqlx::query("UPDATE notify_channels SET name = $1, enabled = $2, sealed = $3, rules = $4, updated_at = $5 WHERE id = $6")
            .bind(&spec.name)
            .bind(spec.enabled)
            .bind(sealed)
            .bind(rules)
            .bind(now())
            .bind(id)
            .execute(cx).await.map(|r| r.rows_affected()))
            .map_err(Self::taken)?;
        if n == 0 {
            return Err(AppError::NotFound);
        }
        self.channel(id).await
    }

    /// Deletes the channel and its history.
    pub async fn delete(&self, id: i64) -> Result<String, AppError> {
        let name: Option<String> = on_db!(self.db, cx => sqlx::query_scalar("DELETE FROM notify_channels WHERE id = $1 RETURNING name").bind(id).fetch_optional(cx).await).map_err(internal)?;
        name.ok_or(AppError::NotFound)
    }

    /// Stores the event for the channel: into the burst still gathering for it (same channel and
    /// kind, window open, never tried), or as a new message due when its window closes.
    pub async fn enqueue(&self, channel_id: i64, event: &Event, window_secs: u64) -> Result<i64, AppError> {
        let _one = self.gather.lock().await;
        let t = now();
        if event.kind.groups() && window_secs > 0 {
            let open: Option<(i64, String)> = on_db!(self.db, cx => sqlx::query_as(
                "SELECT id, body FROM notify_messages WHERE channel_id = $1 AND event = $2 AND status = 'pending' AND attempts = 0 AND open_until > $3 ORDER BY id DESC LIMIT 1",
            )
            .bind(channel_id)
            .bind(event.kind.as_str())
            .bind(t)
            .fetch_optional(cx).await)
            .map_err(internal)?;
            if let Some((id, body)) = open {
                let mut message: Message = serde_json::from_str(&body).map_err(internal)?;
                message.add(event.item.clone());
                on_db!(self.db, cx => sqlx::query("UPDATE notify_messages SET body = $1, count = $2 WHERE id = $3")
                    .bind(serde_json::to_string(&message).map_err(internal)?)
                    .bind(i64::from(message.count))
                    .bind(id)
                    .execute(cx).await.map(|r| r.rows_affected()))
                    .map_err(internal)?;
                return Ok(id);
            }
        }
        let window = if event.kind.groups() { window_secs as i64 } else { 0 };
        let open_until = (window > 0).then_some(t + window);
        self.insert_message(channel_id, &Message::new(event), open_until, t + window).await
    }

    async fn insert_message(&self, channel_id: i64, message: &Message, open_until: Option<i64>, due: i64) -> Result<i64, AppError> {
        on_db!(self.db, cx => sqlx::query_scalar(
            "INSERT INTO notify_messages (channel_id, event, body, count, status, created_at, open_until, next_attempt_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7) RETURNING id",
        )
        .bind(channel_id)
        .bind(message.event.as_str())
        .bind(serde_json::to_string(message).map_err(internal)?)
        .bind(i64::from(message.count))
        .bind(now())
        .bind(open_until)
        .bind(due)
        .fetch_one(cx).await)
        .map_err(internal)
    }

    /// A message of its own (a digest), due now.
    pub async fn queue(&self, channel_id: i64, message: &Message) -> Result<i64, AppError> {
        self.insert_message(channel_id, message, None, now()).await
    }

    /// The end of the period the channel's last scheduled digest was about.
    pub async fn digest_done_at(&self, channel_id: i64) -> Result<Option<i64>, AppError> {
        on_db!(self.db, cx => sqlx::query_scalar("SELECT digest_done_at FROM notify_channels WHERE id = $1").bind(channel_id).fetch_one(cx).await).map_err(internal)
    }

    pub async fn set_digest_done_at(&self, channel_id: i64, at: i64) -> Result<(), AppError> {
        on_db!(self.db, cx => sqlx::query("UPDATE notify_channels SET digest_done_at = $1 WHERE id = $2").bind(at).bind(channel_id).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?;
        Ok(())
    }

    pub async fn reset_digest(&self, channel_id: i64) -> Result<(), AppError> {
        on_db!(self.db, cx => sqlx::query("UPDATE notify_channels SET digest_done_at = NULL WHERE id = $1").bind(channel_id).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?;
        Ok(())
    }

    /// A message sent outside the queue ("send a test"), recorded as it ended.
    pub async fn record(&self, channel_id: i64, message: &Message, error: Option<&str>) -> Result<(), AppError> {
        let id = self.insert_message(channel_id, message, None, now()).await?;
        match error {
            None => self.sent(id).await,
            Some(e) => self.failed(id, 1, e).await,
        }
    }

    pub async fn due(&self, limit: i64) -> Result<Vec<Due>, AppError> {
        on_db!(self.db, cx => sqlx::query_as("SELECT id, channel_id, body, attempts FROM notify_messages WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2")
            .bind(now())
            .bind(limit)
            .fetch_all(cx).await)
            .map_err(internal)
    }

    /// The earliest time a pending message is due (the worker sleeps until then, or until woken).
    pub async fn next_due(&self) -> Result<Option<i64>, AppError> {
        on_db!(self.db, cx => sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM notify_messages WHERE status = 'pending'").fetch_one(cx).await).map_err(internal)
    }

    pub async fn sent(&self, id: i64) -> Result<(), AppError> {
        on_db!(self.db, cx => sqlx::query("UPDATE notify_messages SET status = 'sent', attempts = attempts + 1, sent_at = $1, open_until = NULL, last_error = '' WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(cx).await.map(|r| r.rows_affected()))
            .map_err(internal)?;
        Ok(())
    }

    pub async fn retry(&self, id: i64, attempts: i64, at: i64, error: &str) -> Result<(), AppError> {
        on_db!(self.db, cx => sqlx::query("UPDATE notify_messages SET attempts = $1, next_attempt_at = $2, last_error = $3, open_until = NULL WHERE id = $4")
            .bind(attempts)
            .bind(at)
            .bind(error)
            .bind(id)
            .execute(cx).await.map(|r| r.rows_affected()))
            .map_err(internal)?;
        Ok(())
    }

    /// Moves a message without counting an attempt (quiet hours, the hourly limit).
    pub async fn postpone(&self, id: i64, at: i64) -> Result<(), AppError> {
        on_db!(self.db, cx => sqlx::query("UPDATE notify_messages SET next_attempt_at = $1, open_until = NULL WHERE id = $2").bind(at).bind(id).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?;
        Ok(())
    }

    pub async fn failed(&self, id: i64, attempts: i64, error: &str) -> Result<(), AppError> {
        on_db!(self.db, cx => sqlx::query("UPDATE notify_messages SET status = 'failed', attempts = $1, last_error = $2, open_until = NULL WHERE id = $3")
            .bind(attempts)
            .bind(error)
            .bind(id)
            .execute(cx).await.map(|r| r.rows_affected()))
            .map_err(internal)?;
        Ok(())
    }

    /// How many messages the channel sent in the hour before `now`, and when the oldest of them went.
    pub async fn sent_last_hour(&self, channel_id: i64) -> Result<(i64, Option<i64>), AppError> {
        on_db!(self.db, cx => sqlx::query_as("SELECT COUNT(*), MIN(sent_at) FROM notify_messages WHERE channel_id = $1 AND status = 'sent' AND sent_at > $2")
            .bind(channel_id)
            .bind(now() - 3600)
            .fetch_one(cx).await)
            .map_err(internal)
    }

    /// A failed or sent message queued again as a new one (its history stays).
    pub async fn resend(&self, id: i64) -> Result<i64, AppError> {
        let row: Option<(i64, String)> = on_db!(self.db, cx => sqlx::query_as("SELECT channel_id, body FROM notify_messages WHERE id = $1 AND status != 'pending'").bind(id).fetch_optional(cx).await).map_err(internal)?;
        let (channel_id, body) = row.ok_or(AppError::NotFound)?;
        let message: Message = serde_json::from_str(&body).map_err(internal)?;
        self.insert_message(channel_id, &message, None, now()).await
    }

    pub async fn history(&self, q: &HistoryQuery) -> Result<HistoryPage, AppError> {
        let page = q.page.unwrap_or(1).max(1);
        let status = q.status.as_deref().filter(|s| ["pending", "sent", "failed"].contains(s));
        let mut filter = String::from(" WHERE 1 = 1");
        let mut n = 0;
        if q.channel.is_some() {
            n += 1;
            filter.push_str(&format!(" AND m.channel_id = ${n}"));
        }
        if status.is_some() {
            n += 1;
            filter.push_str(&format!(" AND m.status = ${n}"));
        }
        let count_sql = format!("SELECT COUNT(*) FROM notify_messages m{filter}");
        let rows_sql = format!(
            "SELECT m.id, m.channel_id, c.name, m.event, m.status, m.attempts, m.last_error, m.count, m.body, m.created_at, m.next_attempt_at, m.sent_at \
             FROM notify_messages m JOIN notify_channels c ON c.id = m.channel_id{filter} ORDER BY m.id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let (total, rows) = on_db!(self.db, cx => async {
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
            let mut rows = sqlx::query_as::<_, (i64, i64, String, String, String, i64, String, i64, String, i64, i64, Option<i64>)>(&rows_sql);
            if let Some(c) = q.channel {
                count = count.bind(c);
                rows = rows.bind(c);
            }
            if let Some(s) = status {
                count = count.bind(s);
                rows = rows.bind(s);
            }
            let total = count.fetch_one(cx).await?;
            let rows = rows.bind(HISTORY_PER_PAGE as i64).bind(((page - 1) * HISTORY_PER_PAGE) as i64).fetch_all(cx).await?;
            Ok::<_, sqlx::Error>((total, rows))
        }
        .await)
        .map_err(internal)?;
        let rows = rows
            .into_iter()
            .map(|(id, channel_id, channel, event, status, attempts, last_error, count, body, created_at, next, sent_at)| {
                let summary = serde_json::from_str::<Message>(&body).map(|m| m.summary()).unwrap_or_default();
                HistoryRow {
                    id,
                    channel_id,
                    channel,
                    event: EventKind::parse(&event).unwrap_or(EventKind::Test),
                    next_attempt_at: (status == "pending").then(|| rfc3339(next)),
                    status,
                    attempts: attempts as u32,
                    last_error,
                    count: count as u32,
                    summary,
                    created_at: rfc3339(created_at),
                    sent_at: sent_at.map(rfc3339),
                }
            })
            .collect();
        Ok(HistoryPage { rows, total: total as u64, page, per_page: HISTORY_PER_PAGE })
    }

    /// Deletes sent and failed messages older than `before`.
    pub async fn purge(&self, before: i64) -> Result<u64, AppError> {
        Ok(on_db!(self.db, cx => sqlx::query("DELETE FROM notify_messages WHERE status != 'pending' AND created_at < $1").bind(before).execute(cx).await.map(|r| r.rows_affected())).map_err(internal)?)
    }
}
