//! Which channels get an event, and when a message may go out: the channel's events and filters,
//! its quiet hours (UTC) and its hourly limit.

use app::notify::model::{ChannelRules, Filters, QuietHours};

use super::message::Event;
use super::spec::minutes;

fn matches(list: &[String], value: Option<&str>) -> bool {
    if list.is_empty() {
        return true;
    }
    let Some(v) = value.map(str::to_ascii_lowercase) else { return false };
    list.iter().any(|f| match f.strip_suffix('*') {
        Some(prefix) => v.starts_with(prefix),
        None => *f == v,
    })
}

fn passes(f: &Filters, e: &Event) -> bool {
    let i = &e.item;
    matches(&f.scenarios, i.scenario.as_deref()) && matches(&f.origins, i.origin.as_deref()) && matches(&f.sites, i.site.as_deref()) && matches(&f.countries, i.country.as_deref())
}

/// Whether a channel with these rules gets the event. Filters narrow alerts and manual actions;
/// the engine going down or a failed self-test reach every channel that subscribed to them.
pub fn wants(rules: &ChannelRules, event: &Event) -> bool {
    rules.events.contains(&event.kind) && (!event.kind.groups() || passes(&rules.filters, event))
}

/// When quiet hours hold a message due at `now` (unix seconds): their end; else `None`.
pub fn quiet_until(quiet: Option<&QuietHours>, now: i64) -> Option<i64> {
    let q = quiet?;
    let (from, to) = (minutes(&q.from)? as i64, minutes(&q.to)? as i64);
    let day = now - now.rem_euclid(86_400);
    let m = now.rem_euclid(86_400) / 60;
    let inside = if from < to { m >= from && m < to } else { m >= from || m < to };
    if !inside {
        return None;
    }
    let end = day + to * 60;
    Some(if end > now { end } else { end + 86_400 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::message::Item;
    use app::notify::model::EventKind;

    fn alert(scenario: &str, country: Option<&str>) -> Event {
        Event { kind: EventKind::Alert, item: Item { scenario: Some(scenario.into()), origin: Some("crowdsec".into()), country: country.map(Into::into), ..Default::default() } }
    }

    #[test]
    fn events_and_filters_pick_the_channels() {
        let mut rules = ChannelRules::default();
        assert!(wants(&rules, &alert("crowdsecurity/http-probing", None)));
        rules.filters.scenarios = vec!["crowdsecurity/ssh-*".into()];
        assert!(!wants(&rules, &alert("crowdsecurity/http-probing", None)));
        assert!(wants(&rules, &alert("crowdsecurity/ssh-bf", None)));
        rules.filters.countries = vec!["fr".into()];
        assert!(!wants(&rules, &alert("crowdsecurity/ssh-bf", None)), "no country, no match");
        assert!(wants(&rules, &alert("crowdsecurity/ssh-bf", Some("FR"))));
        let down = Event { kind: EventKind::EngineDown, item: Item::default() };
        assert!(wants(&rules, &down), "filters do not hold back the engine going down");
        rules.events = vec![EventKind::Alert];
        assert!(!wants(&rules, &down));
    }

    #[test]
    fn quiet_hours_hold_until_they_end_also_across_midnight() {
        let q = QuietHours { from: "22:00".into(), to: "07:00".into() };
        let day = 1_796_169_600; // 2026-12-02T00:00:00Z
        assert_eq!(quiet_until(Some(&q), day + 23 * 3600), Some(day + 86_400 + 7 * 3600));
        assert_eq!(quiet_until(Some(&q), day + 3 * 3600), Some(day + 7 * 3600));
        assert_eq!(quiet_until(Some(&q), day + 12 * 3600), None);
        assert_eq!(quiet_until(None, day), None);
    }
}
