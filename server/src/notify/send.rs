//! Delivering one message to one channel: the request each kind of service expects, a timeout,
//! and errors that never carry the URL (it often holds a token). With `notify_block_private` the
//! target's addresses must all be public; the connection then goes to the address that was checked
//! while TLS still speaks to the host name (no bare-IP HTTPS, which breaks SNI and certificates).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use app::notify::model::ChannelKind;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::message::Message;
use super::spec::Secrets;

pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Discord refuses longer content.
const DISCORD_MAX: usize = 2000;

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub ms: u64,
}

/// `sha256=<hex>` of the body under the channel's signing secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64,
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80 || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// The address to connect to when private targets are forbidden: every address of the host must
/// be public; the first is used (so a second lookup cannot swap in a private one).
pub(super) async fn checked_address(host: &str, port: u16) -> Result<std::net::SocketAddr, String> {
    let addrs: Vec<std::net::SocketAddr> = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => vec![std::net::SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port)).await.map_err(|e| format!("cannot resolve the host: {e}"))?.collect(),
    };
    if addrs.is_empty() || addrs.iter().any(|a| is_private(a.ip())) {
        return Err("the target is in a private or local range, which notify_block_private forbids".to_owned());
    }
    Ok(addrs[0])
}

/// The client for one delivery: pinned to a checked public address when private targets are
/// forbidden.
async fn client_for(url: &reqwest::Url, block_private: bool) -> Result<reqwest::Client, String> {
    let builder = reqwest::Client::builder().timeout(TIMEOUT).redirect(reqwest::redirect::Policy::none());
    if !block_private {
        return builder.build().map_err(|e| e.without_url().to_string());
    }
    let host = url.host_str().ok_or("the URL has no host")?.to_owned();
    let addr = checked_address(&host, url.port_or_known_default().unwrap_or(443)).await?;
    builder.resolve(&host, addr).build().map_err(|e| e.without_url().to_string())
}

/// Sends `message` to the channel; never panics, never names the URL in its error.
pub async fn deliver(kind: ChannelKind, secrets: &Secrets, message: &Message, block_private: bool) -> Outcome {
    let started = Instant::now();
    if let (ChannelKind::Email, Some(smtp)) = (kind, &secrets.smtp) {
        let sent = super::email::send(smtp, secrets.token.as_deref(), &message.title(), &message.text(), block_private, TIMEOUT).await;
        let ms = started.elapsed().as_millis() as u64;
        return Outcome { ok: sent.is_ok(), status: None, error: sent.err(), ms };
    }
    let result = async {
        let mut url = reqwest::Url::parse(&secrets.url).map_err(|_| "the stored URL does not parse".to_owned())?;
        if kind == ChannelKind::Gotify {
            let path = format!("{}/message", url.path().trim_end_matches('/'));
            url.set_path(&path);
        }
        let client = client_for(&url, block_private).await?;
        let title = message.title();
        let text = message.text();
        let request = match kind {
            ChannelKind::Webhook => {
                let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
                let sig = signature(secrets.secret.as_deref().unwrap_or(""), &body);
                client.post(url).header("content-type", "application/json").header("x-charon-event", message.event.as_str()).header("x-charon-signature", sig).body(body)
            }
            ChannelKind::Ntfy => {
                let mut r = client.post(url).header("title", title).header("tags", "shield").header("priority", if message.urgent() { "high" } else { "default" }).body(text);
                if let Some(t) = &secrets.token {
                    r = r.bearer_auth(t);
                }
                r
            }
            ChannelKind::Discord => {
                let mut content = format!("**{title}**\n{text}");
                if content.len() > DISCORD_MAX {
                    let mut cut = DISCORD_MAX - 1;
                    while !content.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    content.truncate(cut);
                    content.push('…');
                }
                client.post(url).json(&json!({"username": "Charon", "content": content}))
            }
            ChannelKind::Gotify => client
                .post(url)
                .header("x-gotify-key", secrets.token.clone().unwrap_or_default())
                .json(&json!({"title": title, "message": text, "priority": if message.urgent() { 8 } else { 5 }})),
            ChannelKind::Slack => client.post(url).json(&json!({"text": format!("*{title}*\n{text}")})),
            ChannelKind::Email => return Err("an e-mail channel without its SMTP settings".to_owned()),
        };
        let res = request.send().await.map_err(|e| e.without_url().to_string())?;
        Ok::<u16, String>(res.status().as_u16())
    }
    .await;
    let ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(status) if (200..300).contains(&status) => Outcome { ok: true, status: Some(status), error: None, ms },
        Ok(status) => Outcome { ok: false, status: Some(status), error: Some(format!("the service answered HTTP {status}")), ms },
        Err(e) => Outcome { ok: false, status: None, error: Some(e), ms },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_of_the_body() {
        // RFC 4231 test case 2.
        let sig = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn private_and_local_ranges_are_recognised() {
        for ip in ["10.1.2.3", "192.168.1.1", "172.16.0.1", "127.0.0.1", "169.254.1.1", "100.64.0.1", "::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1"] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["203.0.113.9", "2001:db8::1", "8.8.8.8"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
