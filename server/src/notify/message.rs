//! What a notification says: one event (`Item`) or a burst of them grouped in one `Message`, as
//! JSON (the webhook's body, with at least `event`, `time` and, for alerts and manual actions,
//! `value`, `scenario` and `origin`) or as a title and lines of text (chat and push services).

use app::notify::model::{Digest, EventKind};
use serde::{Deserialize, Serialize};

/// At most this many events are listed in one message; `count` says how many there were.
pub const ITEMS_MAX: usize = 50;
/// Lines of text shown before "… and N more".
const LINES_MAX: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Manual actions: who (`alice`, `token:ci`) and what (`ban`, `unban`, `allow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Something that happened, before the rules pick the channels that get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub item: Item,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub event: EventKind,
    /// When the first event happened (RFC 3339).
    pub time: String,
    pub count: u32,
    /// The first event's, repeated at the top for simple receivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub items: Vec<Item>,
    /// Digests: the numbers (the text services get them as lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

impl Message {
    pub fn new(event: &Event) -> Message {
        let i = &event.item;
        Message { event: event.kind, time: i.time.clone(), count: 1, value: i.value.clone(), scenario: i.scenario.clone(), origin: i.origin.clone(), items: vec![i.clone()], digest: None }
    }

    pub fn digest(digest: Digest) -> Message {
        Message { event: EventKind::Digest, time: digest.to.clone(), count: 1, value: None, scenario: None, origin: None, items: Vec::new(), digest: Some(digest) }
    }

    /// Adds a later event of the same kind (a burst).
    pub fn add(&mut self, item: Item) {
        self.count += 1;
        if self.items.len() < ITEMS_MAX {
            self.items.push(item);
        }
    }

    pub fn title(&self) -> String {
        let n = self.count;
        match (self.event, n) {
            (EventKind::Alert, 1) => "CrowdSec alert".to_owned(),
            (EventKind::Alert, _) => format!("{n} CrowdSec alerts"),
            (EventKind::Manual, 1) => "Manual action in Charon".to_owned(),
            (EventKind::Manual, _) => format!("{n} manual actions in Charon"),
            (EventKind::EngineDown, _) => "CrowdSec engine down".to_owned(),
            (EventKind::BouncerDown, _) => "Bouncer down".to_owned(),
            (EventKind::CaddyDown, _) => "Caddy down".to_owned(),
            (EventKind::EnrollmentChanged, _) => "CrowdSec Console enrollment changed".to_owned(),
            (EventKind::Digest, _) => self.digest.as_ref().map(super::digest::title).unwrap_or_else(|| "Charon digest".to_owned()),
            (EventKind::SelfTestFailed, _) => "Enforcement self-test failed".to_owned(),
            (EventKind::Test, _) => "Test message from Charon".to_owned(),
        }
    }

    fn line(&self, i: &Item) -> String {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        match self.event {
            EventKind::Alert => {
                let mut l = format!("{} — {}", opt(&i.value), opt(&i.scenario));
                if let Some(c) = &i.country {
                    l.push_str(&format!(" [{c}]"));
                }
                l
            }
            EventKind::Manual => format!("{} {} {}{}", opt(&i.actor), opt(&i.action), opt(&i.value), i.detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default()),
            _ => opt(&i.detail),
        }
    }

    /// The body of text services: a line per event, the first ten.
    pub fn text(&self) -> String {
        if let Some(d) = &self.digest {
            return super::digest::text(d);
        }
        let mut lines: Vec<String> = self.items.iter().take(LINES_MAX).map(|i| self.line(i)).collect();
        let shown = lines.len() as u32;
        if self.count > shown {
            lines.push(format!("… and {} more", self.count - shown));
        }
        lines.join("\n")
    }

    /// One line for the history.
    pub fn summary(&self) -> String {
        if self.digest.is_some() {
            return self.title();
        }
        let first = self.items.first().map(|i| self.line(i)).unwrap_or_default();
        if self.count > 1 { format!("{}: {first} …", self.title()) } else { format!("{}: {first}", self.title()) }
    }

    /// Urgent events go out with a higher priority where the service has one.
    pub fn urgent(&self) -> bool {
        matches!(self.event, EventKind::EngineDown | EventKind::BouncerDown | EventKind::CaddyDown | EventKind::SelfTestFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(value: &str) -> Event {
        Event {
            kind: EventKind::Alert,
            item: Item { time: "2026-12-02T10:00:00Z".into(), value: Some(value.into()), scenario: Some("crowdsecurity/http-probing".into()), origin: Some("crowdsec".into()), ..Default::default() },
        }
    }

    #[test]
    fn a_burst_is_one_message_with_its_count_and_the_first_events_at_the_top() {
        let mut m = Message::new(&alert("203.0.113.1"));
        for n in 2..=60 {
            m.add(alert(&format!("203.0.113.{n}")).item);
        }
        assert_eq!((m.count, m.items.len(), m.value.as_deref()), (60, ITEMS_MAX, Some("203.0.113.1")));
        assert_eq!(m.title(), "60 CrowdSec alerts");
        assert!(m.text().ends_with("… and 50 more"), "{}", m.text());
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!((json["event"].as_str(), json["scenario"].as_str(), json["origin"].as_str()), (Some("alert"), Some("crowdsecurity/http-probing"), Some("crowdsec")));
    }
}
