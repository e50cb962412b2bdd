//! The fleet: edge nodes on other machines that run Caddy, the bouncer and a CrowdSec log
//! processor against this node's Local API. This node (the central one) listens for them on
//! `fleet_listen` over TLS with its own CA (`pki`); the listener (`front`) passes through only the
//! Local API calls a node needs and serves Charon's join, configuration and report calls. A node
//! joins once with a one-time token (`store`), gets its own machine and bouncer key at the engine
//! (`crowdsec::node_accounts`), and from then on runs as `charon node` (`edge`). `wire` holds
//! what the two sides exchange. As `NodeService`: join tokens, the node list with health,
//! removal.

pub mod edge;
pub mod front;
pub mod pki;
pub mod store;
pub mod wire;

use std::sync::Arc;

use app::accounts::model::Admin;
use app::error::{AppError, EngineErrorCode};
use app::fleet::model::{JoinToken, Node, NodeHealth, NodeName};
use app::proxy::model::THIS_NODE;
use app::services::NodeService;

use crate::config::{Config, FleetAddress};
use crate::crowdsec::CrowdSec;
use crate::db::Db;
use crate::support::time::{now, parse_rfc3339, rfc3339};
use self::wire::{JoinAnswer, JoinRequest, NodeConfig, NodeHost, NodeReport};

/// A report younger than this is fresh; one older than `DOWN_AFTER` means the node is down.
const FRESH_FOR: i64 = 30;
const DOWN_AFTER: i64 = 120;

/// The join token's parts: a version tag, the secret, and the SHA-256 of the CA the node pins.
const TOKEN_TAG: &str = "CJ1";

#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    engine: CrowdSec,
    listen: Option<std::net::SocketAddr>,
    address: Option<FleetAddress>,
    pki: Option<pki::Pki>,
    token_ttl_secs: i64,
    lapi: std::net::SocketAddr,
    /// The console's decision cache, which seeds a node's bouncer (`front`).
    decisions: crate::bouncer::sync::Followed,
    /// One join at a time: two nodes joining under one name must not both reach the engine (the
    /// second registration would replace the first one's machine).
    joining: tokio::sync::Mutex<()>,
}

/// Why a join was refused (the node prints it).
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("the join token is not valid: it is unknown, already used or expired; ask for a new one")]
    Token,
    #[error("a node named {0} is already a member; remove it first or choose another name")]
    NameTaken(String),
    #[error("the node's name must be 1-40 of a-z, 0-9 and -, and not central (the central node's own name)")]
    Name,
    #[error("the central node could not register the node at its engine")]
    Engine,
}

/// A join token split into its secret and the CA fingerprint it pins.
pub struct ParsedToken<'a> {
    pub secret: &'a str,
    pub ca_sha256: &'a str,
}

pub fn parse_token(token: &str) -> Option<ParsedToken<'_>> {
    let mut parts = token.trim().split('.');
    let (Some(TOKEN_TAG), Some(secret), Some(ca), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(secret, 32) && hex(ca, 64)).then_some(ParsedToken { secret, ca_sha256: ca })
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "fleet failure");
    AppError::Internal
}

impl Fleet {
    /// Makes the CA and the listener's certificate when the fleet listener is on.
    pub fn new(db: Db, engine: CrowdSec, decisions: crate::bouncer::sync::Followed, config: &Config) -> anyhow::Result<Fleet> {
        let address = config.fleet_address();
        let pki = match &address {
            Some(a) => {
                let mut names = vec![a.host.clone(), "localhost".to_owned(), "127.0.0.1".to_owned()];
                if let Some(listen) = config.fleet_listen.filter(|l| !l.ip().is_unspecified()) {
                    names.push(listen.ip().to_string());
                }
                names.dedup();
                Some(pki::Pki::load_or_create(&config.data_dir.join("fleet"), &names)?)
            }
            None => None,
        };
        Ok(Fleet {
            inner: Arc::new(Inner {
                db,
                engine,
                listen: config.fleet_listen,
                address,
                pki,
                token_ttl_secs: config.fleet_join_token_minutes as i64 * 60,
                lapi: config.crowdsec_lapi_listen,
                decisions,
                joining: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn decisions(&self) -> &crate::bouncer::sync::Followed {
        &self.inner.decisions
    }

    pub fn listen(&self) -> Option<std::net::SocketAddr> {
        self.inner.listen
    }

    pub fn pki(&self) -> Option<&pki::Pki> {
        self.inner.pki.as_ref()
    }

    /// The engine's Local API on loopback, where the listener passes a node's engine calls.
    pub fn lapi(&self) -> std::net::SocketAddr {
        self.inner.lapi
    }

    /// A node presents its token once: the token is claimed, the node's machine and bouncer are
    /// made at the engine, and the node is recorded. A failure on this side gives the token back.
    pub async fn join(&self, request: &JoinRequest, peer: std::net::IpAddr) -> Result<JoinAnswer, JoinError> {
        let name = NodeName::parse(&request.name).map_err(|_| JoinError::Name)?;
        if name.as_str() == THIS_NODE {
            return Err(JoinError::Name);
        }
        let token = parse_token(&request.token).ok_or(JoinError::Token)?;
        let digest = crate::auth::secret::digest(token.secret);
        let _one_at_a_time = self.inner.joining.lock().await;
        let at = now();
        if store::node(&self.inner.db, name.as_str()).await.map_err(|_| JoinError::Engine)?.is_some() {
            return Err(JoinError::NameTaken(name.as_str().to_owned()));
        }
        if !store::claim_token(&self.inner.db, &digest, name.as_str(), at).await.map_err(|_| JoinError::Engine)? {
            tracing::warn!(node = name.as_str(), %peer, "[FLEET] refused a join: unknown, used or expired token");
            return Err(JoinError::Token);
        }
        let account = match self.inner.engine.register_node(&name.engine_name()).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(node = name.as_str(), "[FLEET] could not register the node at the engine: {e:#}");
                let _ = store::release_token(&self.inner.db, &digest).await;
                return Err(JoinError::Engine);
            }
        };
        let key_digest = crate::auth::secret::digest(&account.bouncer_key);
        let version: String = request.version.chars().take(40).collect();
        if let Err(e) = store::insert_node(&self.inner.db, name.as_str(), &peer.to_string(), &version, &key_digest, at).await {
            tracing::error!(node = name.as_str(), "[FLEET] could not record the node: {e}");
            let _ = self.inner.engine.remove_node(&name.engine_name()).await;
            let _ = store::release_token(&self.inner.db, &digest).await;
            return Err(JoinError::Engine);
        }
        crate::db::audit::record(&self.inner.db, at, "node", "node.joined", &format!("{} from {peer}", name.as_str())).await;
        tracing::info!(node = name.as_str(), %peer, "[FLEET] a node joined");
        Ok(JoinAnswer {
            name: name.as_str().to_owned(),
            machine_login: account.machine_login,
            machine_password: account.machine_password,
            bouncer_key: account.bouncer_key,
        })
    }

    /// The node whose bouncer key this is.
    pub async fn node_by_key(&self, key: &str) -> Option<store::NodeRow> {
        store::node_by_key(&self.inner.db, &crate::auth::secret::digest(key)).await.ok().flatten()
    }

    /// Replaces the node's bouncer key (asked for by an administrator, done when the node calls
    /// with its current key): the engine's bouncer is made again and the new key returned once.
    pub async fn rotate_key(&self, node: &store::NodeRow) -> Result<wire::RotatedKey, AppError> {
        let name = NodeName::parse(&node.name)?;
        let _one_at_a_time = self.inner.joining.lock().await;
        let key = self.inner.engine.rotate_node_key(&name.engine_name()).await.map_err(|e| {
            tracing::error!(node = name.as_str(), "[FLEET] could not replace the node's key: {e:#}");
            AppError::Engine { code: EngineErrorCode::BouncerFailed, detail: None }
        })?;
        store::key_rotated(&self.inner.db, name.as_str(), &crate::auth::secret::digest(&key)).await.map_err(internal)?;
        crate::db::audit::record(&self.inner.db, now(), "node", "node.key_rotated", name.as_str()).await;
        tracing::info!(node = name.as_str(), "[FLEET] the node's key was replaced");
        Ok(wire::RotatedKey { bouncer_key: key })
    }

    /// What a node serves: the enabled proxy hosts of every node and those assigned to it.
    pub async fn config_for(&self, node: &store::NodeRow) -> Result<NodeConfig, AppError> {
        let hosts = crate::proxy::hosts::list(&self.inner.db).await.map_err(internal)?;
        Ok(NodeConfig {
            hosts: hosts
                .into_iter()
                .filter(|h| h.enabled && h.served_by(&node.name))
                .map(|h| NodeHost { domain: h.domain, upstream: h.upstream, protect: h.protect })
                .collect(),
            rotate_key: node.rotate_requested,
        })
    }

    pub async fn save_report(&self, node: &store::NodeRow, peer: std::net::IpAddr, report: &NodeReport) -> Result<(), AppError> {
        let text = serde_json::to_string(report).map_err(internal)?;
        let version: String = report.version.chars().take(40).collect();
        store::save_report(&self.inner.db, &node.name, &peer.to_string(), &version, &text, now()).await.map_err(internal)
    }

    fn node_view(row: store::NodeRow, activity: Option<&crate::crowdsec::NodeActivity>, at: i64) -> Node {
        let report: Option<NodeReport> = row.report.as_deref().and_then(|r| serde_json::from_str(r).ok());
        let (health, since) = match (row.reported_at, &report) {
            (Some(t), Some(r)) if at - t <= FRESH_FOR => {
                if r.agent_running {
                    (NodeHealth::Ok, None)
                } else {
                    (NodeHealth::Stale, r.agent_down_since.or(Some(t)))
                }
            }
            (Some(t), _) if at - t <= DOWN_AFTER => (NodeHealth::Stale, Some(t)),
            (Some(t), _) => (NodeHealth::Down, Some(t)),
            (None, _) => (NodeHealth::Down, Some(row.joined_at)),
        };
        let time = |s: &Option<String>| s.as_deref().and_then(parse_rfc3339).map(rfc3339);
        Node {
            name: row.name,
            address: row.address,
            version: row.version,
            engine_version: report.as_ref().and_then(|r| r.engine_version.clone()).or_else(|| activity.and_then(|a| a.engine_version.clone())),
            joined_at: rfc3339(row.joined_at),
            last_report_at: row.reported_at.map(rfc3339),
            last_pull_at: activity.and_then(|a| time(&a.last_pull)),
            last_heartbeat_at: activity.and_then(|a| time(&a.last_heartbeat)),
            decisions: report.as_ref().and_then(|r| r.decisions),
            blocked: report.as_ref().and_then(|r| r.blocked),
            hosts: report.as_ref().map_or(0, |r| r.hosts),
            health,
            since: since.map(rfc3339),
        }
    }
}

#[async_trait::async_trait]
impl NodeService for Fleet {
    async fn create_join_token(&self, actor: &Admin) -> Result<JoinToken, AppError> {
        let (Some(address), Some(pki)) = (&self.inner.address, &self.inner.pki) else {
            return Err(AppError::Engine { code: EngineErrorCode::FleetOff, detail: None });
        };
        let secret = crate::auth::secret::random_hex(16);
        let at = now();
        let expires_at = at + self.inner.token_ttl_secs;
        store::insert_token(&self.inner.db, &crate::auth::secret::digest(&secret), &actor.principal().username, at, expires_at)
            .await
            .map_err(internal)?;
        let _ = store::forget_old_tokens(&self.inner.db, at).await;
        crate::db::audit::by(&self.inner.db, actor, "node.join_token", "", &format!("expires {}", rfc3339(expires_at))).await;
        let token = format!("{TOKEN_TAG}.{secret}.{}", pki.ca_sha256);
        Ok(JoinToken {
            command: format!("charon node --join {} --token {token}", address.url),
            token,
            expires_at: rfc3339(expires_at),
        })
    }

    async fn list(&self) -> Result<Vec<Node>, AppError> {
        let rows = store::nodes(&self.inner.db).await.map_err(internal)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let activity = match self.inner.engine.node_activity().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("[FLEET] the engine's machines and bouncers could not be listed: {e:#}");
                Default::default()
            }
        };
        let at = now();
        Ok(rows
            .into_iter()
            .map(|row| {
                let engine_name = NodeName::parse(&row.name).map(|n| n.engine_name()).unwrap_or_default();
                Fleet::node_view(row, activity.get(&engine_name), at)
            })
            .collect())
    }

    async fn request_key_rotation(&self, actor: &Admin, name: NodeName) -> Result<(), AppError> {
        if !store::request_rotation(&self.inner.db, name.as_str()).await.map_err(internal)? {
            return Err(AppError::NotFound);
        }
        crate::db::audit::by(&self.inner.db, actor, "node.rotate_key", name.as_str(), "asked; the node replaces its key at its next call").await;
        Ok(())
    }

    async fn remove(&self, actor: &Admin, name: NodeName) -> Result<(), AppError> {
        if store::node(&self.inner.db, name.as_str()).await.map_err(internal)?.is_none() {
            return Err(AppError::NotFound);
        }
        // The engine first: a node forgotten here but still accepted there would keep its access.
        self.inner.engine.remove_node(&name.engine_name()).await.map_err(|e| {
            tracing::error!(node = name.as_str(), "[FLEET] could not revoke the node at the engine: {e:#}");
            AppError::Engine { code: EngineErrorCode::BouncerFailed, detail: Some("the node's machine and key could not be revoked at the engine".into()) }
        })?;
        store::delete_node(&self.inner.db, name.as_str()).await.map_err(internal)?;
        crate::db::audit::by(&self.inner.db, actor, "node.removed", name.as_str(), "").await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_carries_a_secret_and_the_pinned_ca() {
        let t = format!("CJ1.{}.{}", "a".repeat(32), "b".repeat(64));
        let p = parse_token(&t).unwrap();
        assert_eq!(p.secret, "a".repeat(32));
        assert_eq!(p.ca_sha256, "b".repeat(64));
        for bad in ["", "CJ1", &format!("CJ2.{}.{}", "a".repeat(32), "b".repeat(64)), &format!("CJ1.{}.{}", "a".repeat(31), "b".repeat(64)),
            &format!("CJ1.{}.{}.x", "a".repeat(32), "b".repeat(64)), &format!("CJ1.{}.{}", "g".repeat(32), "b".repeat(64))]
        {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }

    fn row(reported_at: Option<i64>, report: Option<NodeReport>) -> store::NodeRow {
        store::NodeRow {
            name: "edge1".into(),
            address: "10.0.0.2".into(),
            version: "1".into(),
            key_digest: "d".into(),
            joined_at: 1_000,
            report: report.map(|r| serde_json::to_string(&r).unwrap()),
            reported_at,
            rotate_requested: false,
        }
    }

    #[test]
    fn health_follows_the_last_report_and_the_log_processor() {
        let up = NodeReport { agent_running: true, ..Default::default() };
        let agent_down = NodeReport { agent_running: false, agent_down_since: Some(1_900), ..Default::default() };
        assert_eq!(Fleet::node_view(row(Some(1_990), Some(up.clone())), None, 2_000).health, NodeHealth::Ok);
        let v = Fleet::node_view(row(Some(1_990), Some(agent_down)), None, 2_000);
        assert_eq!((v.health, v.since.as_deref()), (NodeHealth::Stale, Some(rfc3339(1_900).as_str())));
        assert_eq!(Fleet::node_view(row(Some(1_950), Some(up.clone())), None, 2_000).health, NodeHealth::Stale);
        let v = Fleet::node_view(row(Some(1_800), Some(up)), None, 2_000);
        assert_eq!((v.health, v.since.as_deref()), (NodeHealth::Down, Some(rfc3339(1_800).as_str())));
        let v = Fleet::node_view(row(None, None), None, 2_000);
        assert_eq!((v.health, v.since.as_deref()), (NodeHealth::Down, Some(rfc3339(1_000).as_str())));
    }
}
