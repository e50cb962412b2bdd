//! Caddy's admin API, spoken over the Unix socket `<data>/caddy/admin.sock` (inside the 0700
//! `caddy/` directory): unlike `127.0.0.1:2019`, no other local user can reach it to load a
//! configuration without the bouncer or one that serves the data directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

#[derive(Debug, Clone)]
pub struct CaddyAdmin {
    socket: PathBuf,
}

/// One answer: the status and the body as text.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

const TIMEOUT: Duration = Duration::from_secs(10);

impl CaddyAdmin {
    pub fn new(socket: PathBuf) -> Self {
        CaddyAdmin { socket }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// How Caddy's configuration names this socket (`admin.listen`).
    pub fn listen(&self) -> String {
        format!("unix/{}", self.socket.display())
    }

    // Caddy accepts requests on its admin socket only with an empty `Host`.
    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.send(Request::get(path).header("host", "").body(Full::new(Bytes::new()))?).await
    }

    pub async fn post_json(&self, path: &str, body: String) -> anyhow::Result<Answer> {
        let req = Request::post(path)
            .header("host", "")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        self.send(req).await
    }

    async fn send(&self, req: Request<Full<Bytes>>) -> anyhow::Result<Answer> {
        tokio::time::timeout(TIMEOUT, async {
            let stream = tokio::net::UnixStream::connect(&self.socket).await?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let res = sender.send_request(req).await?;
            let status = res.status().as_u16();
            let body = res.into_body().collect().await?.to_bytes();
            Ok(Answer { status, body: String::from_utf8_lossy(&body).into_owned() })
        })
        .await
        .map_err(|_| anyhow::anyhow!("Caddy's admin API did not answer within {} s", TIMEOUT.as_secs()))?
    }
}
