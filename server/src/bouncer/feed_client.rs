//! Where the console's decision cache comes from: the bouncer process's change feed while the data
//! plane runs (one stream consumer per engine, see `feed`), the engine's stream with the console's
//! own bouncer key otherwise: no data plane configured, the bouncer not up or not synced yet, or
//! its feed failing. Switching back to the engine starts with a complete answer, since the
//! console's own key has not polled meanwhile.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::forward_auth::{AS_OF_HEADER, CURSOR_HEADER, FULL_HEADER, LIVE_HEADER, SYNC_HEADER};
use super::sync::{self, Fetched, StreamSource, Want};
use crate::crowdsec::CrowdSec;

/// The bouncer process's `GET /bouncer/changes`, and the cursor this console holds there.
pub struct Relay {
    http: reqwest::Client,
    url: String,
    token_file: PathBuf,
    cursor: Mutex<Option<String>>,
}

impl Relay {
    pub fn new(bouncer: std::net::SocketAddr, token_file: PathBuf) -> Self {
        Relay {
            http: reqwest::Client::builder().no_proxy().build().expect("http client"),
            url: format!("http://{bouncer}/bouncer/changes"),
            token_file,
            cursor: Mutex::new(None),
        }
    }

    async fn fetch(&self, want: Want) -> Result<Fetched, String> {
        if want == Want::Startup {
            *self.cursor.lock().expect("cursor lock") = None;
        }
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| format!("no sync token: {e}"))?;
        let since = self.cursor.lock().expect("cursor lock").clone();
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(c) = since {
            query.push(("since", c));
        }
        // A periodic refresh is the bouncer's own business; one asked for (after an import) is passed on.
        // At a periodic one, the bouncer also says how many decisions it holds (`live`).
        match want {
            Want::Refresh { requested: true } => query.push(("resync", "true".into())),
            Want::Refresh { requested: false } => query.push(("count", "true".into())),
            _ => {}
        }
        let res = self
            .http
            .get(&self.url)
            .query(&query)
            .header(SYNC_HEADER, token.trim())
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| format!("bouncer feed: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("bouncer feed: HTTP {}", res.status().as_u16()));
        }
        let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let cursor = header(CURSOR_HEADER).ok_or("bouncer feed: no cursor")?;
        let full = header(FULL_HEADER).as_deref() == Some("true");
        let live = header(LIVE_HEADER).and_then(|v| v.parse().ok());
        let as_of = header(AS_OF_HEADER).and_then(|v| v.parse().ok());
        let body = res.bytes().await.map_err(|e| format!("bouncer feed: {e}"))?;
        *self.cursor.lock().expect("cursor lock") = Some(cursor);
        Ok(Fetched { body, full, live, as_of })
    }
}

pub struct ConsoleSource {
    engine: CrowdSec,
    relay: Option<Relay>,
    /// The last answer came from the relay.
    on_relay: AtomicBool,
}

impl ConsoleSource {
    pub fn new(engine: CrowdSec, relay: Option<Relay>) -> Self {
        ConsoleSource { engine, relay, on_relay: AtomicBool::new(false) }
    }
}

impl StreamSource for ConsoleSource {
    async fn fetch(&self, want: Want) -> Option<Result<Fetched, String>> {
        if !self.engine.status().lapi_ready {
            return None;
        }
        if let Some(relay) = &self.relay {
            match relay.fetch(want).await {
                Ok(f) => {
                    if !self.on_relay.swap(true, Ordering::Relaxed) {
                        tracing::info!("following the bouncer's decisions (one stream consumer for the engine)");
                    }
                    return Some(Ok(f));
                }
                Err(e) => {
                    *relay.cursor.lock().expect("cursor lock") = None;
                    if self.on_relay.load(Ordering::Relaxed) {
                        tracing::info!("reading the engine's stream directly: {e}");
                    }
                }
            }
        }
        let want = if self.on_relay.swap(false, Ordering::Relaxed) { Want::Startup } else { want };
        sync::from_lapi(self.engine.lapi(), self.engine.active_bouncer_key(), want).await
    }
}
