//! The engine's alert JSON (`GET /v1/alerts`, 1.4.6) as Charon's `Alert`. Missing fields become
//! empty values rather than errors: an alert is shown with what it has.

use serde_json::Value;

use app::alerts::model::{Alert, AlertDecision, AlertEvent};

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn opt(v: &Value) -> Option<String> {
    Some(text(v)).filter(|s| !s.is_empty())
}

/// 1.4.6 prints `start_at`/`stop_at` as Go's `time.String()`: `2026-11-25 14:54:22.123 +0000 UTC`.
/// UTC times become RFC 3339 (`2026-11-25T14:54:22Z`); anything else is kept as printed.
pub fn go_time(s: &str) -> String {
    let mut parts = s.split(' ');
    let (Some(date), Some(time), Some(offset)) = (parts.next(), parts.next(), parts.next()) else {
        return s.to_owned();
    };
    let time = time.split('.').next().unwrap_or(time);
    let shaped = date.len() == 10 && time.len() == 8 && date.as_bytes()[4] == b'-' && time.as_bytes()[2] == b':';
    if shaped && offset == "+0000" {
        format!("{date}T{time}Z")
    } else {
        s.to_owned()
    }
}

fn decision(d: &Value) -> AlertDecision {
    let duration = text(&d["duration"]);
    AlertDecision {
        id: d["id"].as_i64().unwrap_or(0),
        kind: text(&d["type"]),
        scope: text(&d["scope"]),
        value: text(&d["value"]),
        origin: text(&d["origin"]),
        active: !duration.is_empty() && !duration.starts_with('-'),
        duration,
    }
}

fn event(e: &Value) -> AlertEvent {
    let meta = e["meta"]
        .as_array()
        .map(|m| m.iter().map(|kv| (text(&kv["key"]), text(&kv["value"]))).collect())
        .unwrap_or_default();
    AlertEvent { timestamp: text(&e["timestamp"]), meta }
}

/// `with_events`: the detail carries each event; lists leave them out (an alert can hold many).
pub fn alert(v: &Value, with_events: bool) -> Alert {
    let source = &v["source"];
    let value = opt(&source["value"]).or_else(|| opt(&source["ip"])).unwrap_or_default();
    Alert {
        id: v["id"].as_i64().unwrap_or(0),
        scenario: text(&v["scenario"]),
        message: text(&v["message"]),
        source_scope: text(&source["scope"]),
        source_value: value,
        source_range: opt(&source["range"]),
        country: opt(&source["cn"]),
        as_name: opt(&source["as_name"]),
        as_number: opt(&source["as_number"]),
        machine: text(&v["machine_id"]),
        events_count: v["events_count"].as_i64().unwrap_or(0),
        started_at: go_time(&text(&v["start_at"])),
        stopped_at: go_time(&text(&v["stop_at"])),
        decisions: v["decisions"].as_array().map(|d| d.iter().map(decision).collect()).unwrap_or_default(),
        events: if with_events { v["events"].as_array().map(|e| e.iter().map(event).collect()).unwrap_or_default() } else { Vec::new() },
        evidence: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_alert_reads_as_charons() {
        let v = serde_json::json!({
            "id": 7, "scenario": "crowdsecurity/http-probing", "message": "Ip 203.0.113.9 performed …",
            "events_count": 11, "machine_id": "charon-abc",
            "start_at": "2026-11-25 14:54:22.123456 +0000 UTC", "stop_at": "2026-11-25 14:54:30 +0200 CEST",
            "source": {"scope": "Ip", "value": "203.0.113.9", "ip": "203.0.113.9", "range": "203.0.113.0/24", "cn": "FR", "as_name": "", "as_number": "64496"},
            "decisions": [{"id": 3, "type": "ban", "scope": "Ip", "value": "203.0.113.9", "origin": "crowdsec", "duration": "3h59m58s"},
                          {"id": 4, "type": "ban", "scope": "Ip", "value": "203.0.113.9", "origin": "crowdsec", "duration": "-2m1s"}],
            "events": [{"timestamp": "2026-11-25T14:54:22Z", "meta": [{"key": "http_path", "value": "/.env"}, {"key": "http_status", "value": "404"}]}]
        });
        let a = alert(&v, true);
        assert_eq!((a.id, a.events_count, a.machine.as_str()), (7, 11, "charon-abc"));
        assert_eq!((a.source_value.as_str(), a.source_range.as_deref(), a.country.as_deref()), ("203.0.113.9", Some("203.0.113.0/24"), Some("FR")));
        assert_eq!(a.as_name, None, "empty strings are absent");
        assert_eq!(a.started_at, "2026-11-25T14:54:22Z");
        assert_eq!(a.stopped_at, "2026-11-25 14:54:30 +0200 CEST", "not UTC: kept as printed");
        assert_eq!(a.active_decisions(), 1);
        assert_eq!(a.events[0].meta[0], ("http_path".to_owned(), "/.env".to_owned()));
        assert!(alert(&v, false).events.is_empty());
        let empty = alert(&serde_json::json!({}), true);
        assert_eq!((empty.id, empty.source_value.as_str(), empty.decisions.len()), (0, "", 0));
    }
}
