//! Engine alerts reach Charon through the engine's own http notification plugin: it posts every
//! alert its profiles decide on to a loopback endpoint of the console, `HOOK_PATH`, with a bearer
//! token made at each console start and handed to the engine in its environment (`TOKEN_ENV`;
//! the plugin's configuration says `${CHARON_ALERT_HOOK_TOKEN}`, never the token itself).
//! The crowdsec module writes that configuration (`crowdsec::notifications`); this one checks the
//! token and turns the plugin's JSON (a list of the engine's alerts) into events.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use app::notify::model::EventKind;
use serde_json::Value;

use super::message::Item;

pub use crate::auth::middleware::ENGINE_HOOK_PATH as HOOK_PATH;
pub const TOKEN_ENV: &str = "CHARON_ALERT_HOOK_TOKEN";
/// The most alerts one post may carry (the plugin groups at most what one window gathered).
const ALERTS_MAX: usize = 10_000;

/// Where the engine posts alerts, and the token it must present.
#[derive(Clone)]
pub struct AlertHook {
    pub url: String,
    pub token: String,
}

impl std::fmt::Debug for AlertHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlertHook({}, token ****)", self.url)
    }
}

impl AlertHook {
    /// For a console listening on `console` (an unspecified address is reached over loopback).
    pub fn new(console: SocketAddr) -> AlertHook {
        let ip = match console.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        AlertHook { url: format!("http://{}{HOOK_PATH}", SocketAddr::new(ip, console.port())), token: crate::auth::secret::random_hex(32) }
    }

    /// Whether `authorization` is `Bearer <our token>` (compared in constant time).
    pub fn accepts(&self, authorization: Option<&str>) -> bool {
        authorization.and_then(|a| a.strip_prefix("Bearer ")).is_some_and(|t| crate::auth::secret::same(t.trim().as_bytes(), self.token.as_bytes()))
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The site an alert is about, when the parser recorded it (`target_fqdn` in an event's meta).
fn site(alert: &Value) -> Option<String> {
    alert["events"].as_array()?.iter().find_map(|e| {
        e["meta"].as_array()?.iter().find(|m| m["key"] == "target_fqdn").and_then(|m| text(&m["value"]))
    })
}

/// One event per alert of the plugin's body (a JSON list of alerts, or one alert), except the
/// alerts that carry bans made in Charon: it announces those itself (`manual` events, with who
/// made them). Imports never reach the plugin (their alerts' scope matches no profile).
pub fn items(body: &[u8]) -> Result<Vec<(EventKind, Item)>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let alerts: Vec<Value> = match v {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => return Err("expected a list of alerts".to_owned()),
    };
    if alerts.len() > ALERTS_MAX {
        return Err(format!("more than {ALERTS_MAX} alerts in one post"));
    }
    Ok(alerts
        .iter()
        .filter(|a| a["decisions"][0]["origin"].as_str() != Some(app::decisions::model::MANUAL_ORIGIN))
        .map(|a| {
            let decision = &a["decisions"][0];
            let item = Item {
                time: text(&a["created_at"]).or_else(|| text(&a["start_at"])).unwrap_or_default(),
                value: text(&decision["value"]).or_else(|| text(&a["source"]["value"])).or_else(|| text(&a["source"]["ip"])),
                scenario: text(&a["scenario"]).or_else(|| text(&decision["scenario"])),
                origin: text(&decision["origin"]).or_else(|| Some("crowdsec".to_owned())),
                site: site(a),
                country: text(&a["source"]["cn"]).map(|c| c.to_uppercase()),
                detail: text(&a["message"]),
                ..Default::default()
            };
            (EventKind::Alert, item)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugins_alerts_become_events_with_address_scenario_origin_and_site() {
        let body = br#"[{"scenario":"crowdsecurity/http-probing","message":"Ip 203.0.113.9 performed 'crowdsecurity/http-probing' (11 events)",
            "created_at":"2026-12-02T10:00:00Z","source":{"ip":"203.0.113.9","value":"203.0.113.9","scope":"Ip","cn":"fr"},
            "decisions":[{"origin":"crowdsec","scenario":"crowdsecurity/http-probing","value":"203.0.113.9","type":"ban","duration":"4h"}],
            "events":[{"meta":[{"key":"target_fqdn","value":"shop.example.com"}]}]}]"#;
        let got = items(body).unwrap();
        assert_eq!(got.len(), 1);
        let i = &got[0].1;
        assert_eq!(
            (i.value.as_deref(), i.scenario.as_deref(), i.origin.as_deref(), i.site.as_deref(), i.country.as_deref()),
            (Some("203.0.113.9"), Some("crowdsecurity/http-probing"), Some("crowdsec"), Some("shop.example.com"), Some("FR"))
        );
        let manual = br#"[{"scenario":"manual 'ban' from 'charon'","source":{"ip":"203.0.113.7","scope":"Ip"},"decisions":[{"origin":"charon","value":"203.0.113.7"}]}]"#;
        assert!(items(manual).unwrap().is_empty(), "Charon announces its own bans");
        assert!(items(b"{not json").is_err());
        assert!(items(b"42").is_err());
    }

    #[test]
    fn only_the_bearer_token_of_this_start_is_accepted() {
        let hook = AlertHook::new("0.0.0.0:8080".parse().unwrap());
        assert_eq!(hook.url, "http://127.0.0.1:8080/api/v1/internal/engine-alerts");
        assert!(hook.accepts(Some(&format!("Bearer {}", hook.token))));
        assert!(!hook.accepts(Some("Bearer nope")) && !hook.accepts(None) && !hook.accepts(Some(&hook.token)));
        assert!(!format!("{hook:?}").contains(&hook.token));
    }
}
