//! `GET /metrics`: Charon's own metrics in the Prometheus (OpenMetrics) text format. Gathered at
//! each scrape: the engine's state and restarts, live decisions by origin and type, requests the
//! bouncer checked per site, outcome and origin (the traffic history: counted once per request,
//! kept across restarts), the bouncer's decisions and the age of its last pull, notification
//! messages by status. Recorded as requests are served: the console's HTTP request durations.
//! Names follow Prometheus conventions: `charon_` prefix, `_total` counters, seconds.

use crate::db::on_db;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use app::error::AppError;
use app::services::{MetricsService, ProxyService};

use crate::bouncer::cache::DecisionCache;
use crate::crowdsec::CrowdSec;
use crate::db::Db;
use crate::evidence::traffic;
use crate::evidence::EvidenceIndex;
use crate::support::time::now;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    /// The route's pattern (`/api/v1/overview`, `/rpc/{*fn_name}`), never the raw path: bounded.
    route: String,
    status: String,
}

fn new_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The console's HTTP request durations, shared by the recording middleware and the scrape.
#[derive(Clone)]
pub struct HttpMetrics {
    durations: Family<HttpLabels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics { durations: Family::new_with_constructor(new_histogram) }
    }
}

/// Times each request (a `Router::layer`, so the matched route is known).
pub async fn record(State(m): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "other".to_owned());
    let method = req.method().as_str().to_owned();
    let t0 = Instant::now();
    let res = next.run(req).await;
    let labels = HttpLabels { method, route, status: res.status().as_u16().to_string() };
    m.durations.get_or_create(&labels).observe(t0.elapsed().as_secs_f64());
    res
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    origin: String,
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    site: String,
    outcome: String,
    origin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone)]
pub struct Metrics {
    http: HttpMetrics,
    engine: CrowdSec,
    decisions: Arc<DecisionCache>,
    evidence: EvidenceIndex,
    proxy: Arc<dyn ProxyService>,
    db: Db,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "metrics failure");
    AppError::Internal
}

impl Metrics {
    pub fn new(http: HttpMetrics, engine: CrowdSec, decisions: Arc<DecisionCache>, evidence: EvidenceIndex, proxy: Arc<dyn ProxyService>, db: Db) -> Self {
        Metrics { http, engine, decisions, evidence, proxy, db }
    }
}

#[async_trait::async_trait]
impl MetricsService for Metrics {
    async fn scrape(&self) -> Result<String, AppError> {
        let mut r = Registry::with_prefix("charon");
        let engine = self.engine.status();
        let up = Gauge::<i64>::default();
        up.set(i64::from(engine.state == app::security::model::EngineState::Running));
        r.register("engine_up", "1 while the CrowdSec engine runs and its Local API answers", up);
        let restarts = Counter::<u64>::default();
        restarts.inc_by(u64::from(engine.restarts));
        r.register("engine_restarts", "Restarts of the engine after a crash or hang since the console started", restarts);

        let decisions = Family::<DecisionLabels, Gauge>::default();
        for (origin, kind, n) in self.decisions.origin_kind_counts(now()) {
            decisions.get_or_create(&DecisionLabels { origin: origin.to_string(), r#type: kind.to_string() }).set(n as i64);
        }
        r.register("decisions", "Live decisions enforced, by origin and type", decisions);

        let requests = Family::<RequestLabels, Counter>::default();
        for row in traffic::totals(self.evidence.store().pool()).await.map_err(internal)? {
            let labels = RequestLabels { site: row.site, outcome: row.outcome.as_str().to_owned(), origin: row.origin };
            requests.get_or_create(&labels).inc_by(row.count);
        }
        r.register(
            "requests",
            "Requests to the sites behind Charon by site and outcome (allowed, blocked, unchecked) and, when blocked, the decision's origin; from the access log, kept 90 days",
            requests,
        );

        let plane = self.proxy.status().await;
        let bouncer_up = Gauge::<i64>::default();
        bouncer_up.set(i64::from(plane.bouncer.running));
        r.register("bouncer_up", "1 while the bouncer process runs", bouncer_up);
        let caddy_up = Gauge::<i64>::default();
        caddy_up.set(i64::from(plane.caddy.running));
        r.register("caddy_up", "1 while Caddy runs", caddy_up);
        if let Some(stats) = plane.stats {
            let cached = Gauge::<i64>::default();
            cached.set(stats.decisions as i64);
            r.register("bouncer_decisions", "Decisions the bouncer holds", cached);
            if let Some(last) = stats.last_pull {
                let age = Gauge::<f64, AtomicU64>::default();
                age.set((now() - last).max(0) as f64);
                r.register_with_unit("bouncer_sync_age", "Time since the bouncer last pulled the engine's decisions", Unit::Seconds, age);
            }
        }

        let rows: Vec<(String, i64)> = on_db!(self.db, cx => sqlx::query_as("SELECT status, COUNT(*) FROM notify_messages GROUP BY status").fetch_all(cx).await).map_err(internal)?;
        let messages = Family::<StatusLabels, Gauge>::default();
        for (status, n) in rows {
            messages.get_or_create(&StatusLabels { status }).set(n);
        }
        r.register("notification_messages", "Notification messages in the history by status (pending, sent, failed)", messages);

        r.register_with_unit("http_request_duration", "Time the console took to answer, by method, route and status", Unit::Seconds, self.http.durations.clone());
        let mut out = String::new();
        encode(&mut out, &r).map_err(internal)?;
        Ok(out)
    }
}
