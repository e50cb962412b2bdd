//! A channel as an administrator describes it, checked: the kind, a name, where to deliver (its
//! secrets) and its rules. Creating needs every secret the kind uses; an update keeps what it
//! does not give. Secrets never reach `Debug` output.

use app::error::{AppError, ErrorCode};
use app::notify::model::{ChannelInput, ChannelKind, ChannelRules, DigestSchedule, EventKind, Filters, QuietHours, SmtpSettings};
use serde::{Deserialize, Serialize};

/// What is stored sealed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    pub url: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
    /// E-mail channels (`url` is then `smtp://host:port`, for listing).
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({}, token: {}, secret: {})", mask_url(&self.url), self.token.is_some(), self.secret.is_some())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub kind: ChannelKind,
    pub name: String,
    pub enabled: bool,
    pub secrets: Secrets,
    pub rules: ChannelRules,
}

/// Scheme and host (and port) only: what a listing may show of a URL.
pub fn mask_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}://{}{}/…", u.scheme(), u.host_str().unwrap_or(""), u.port().map(|p| format!(":{p}")).unwrap_or_default()),
        Err(_) => "…".to_owned(),
    }
}

fn invalid(code: ErrorCode) -> AppError {
    code.into()
}

fn name(raw: &str) -> Result<String, AppError> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > 64 || n.chars().any(char::is_control) {
        return Err(invalid(ErrorCode::NameInvalid));
    }
    Ok(n.to_owned())
}

fn url(raw: &str) -> Result<String, AppError> {
    let raw = raw.trim();
    let ok = raw.len() <= 2048
        && reqwest::Url::parse(raw).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) && u.username().is_empty() && u.password().is_none());
    if ok { Ok(raw.to_owned()) } else { Err(invalid(ErrorCode::UrlInvalid)) }
}

fn secret_text(raw: &str, min: usize) -> Result<String, AppError> {
    let s = raw.trim();
    if s.len() < min || s.len() > 512 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(ErrorCode::SecretInvalid));
    }
    Ok(s.to_owned())
}

/// An e-mail channel's server, sender and recipients, checked; the port defaulted.
fn smtp(s: &SmtpSettings) -> Result<SmtpSettings, AppError> {
    let host = s.host.trim().trim_end_matches('.').to_ascii_lowercase();
    let host_ok = !host.is_empty() && host.len() <= 253 && host.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    let security = s.security.as_deref().map(str::trim).filter(|x| !x.is_empty()).unwrap_or("starttls").to_owned();
    let port = match (s.port, security.as_str()) {
        (Some(0), _) => return Err(invalid(ErrorCode::UrlInvalid)),
        (Some(p), "starttls" | "tls" | "plain") => p,
        (None, "starttls") => 587,
        (None, "tls") => 465,
        (None, "plain") => 25,
        _ => return Err(invalid(ErrorCode::UrlInvalid)),
    };
    let address = |a: &str| a.trim().parse::<lettre::Address>().map(|_| a.trim().to_owned()).map_err(|_| invalid(ErrorCode::RulesInvalid));
    let to: Vec<String> = s.to.iter().filter(|t| !t.trim().is_empty()).map(|t| address(t)).collect::<Result<_, _>>()?;
    if !host_ok || to.is_empty() || to.len() > 20 {
        return Err(invalid(if host_ok { ErrorCode::RulesInvalid } else { ErrorCode::UrlInvalid }));
    }
    let username = s.username.as_deref().map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned);
    if username.as_ref().is_some_and(|u| u.len() > 256 || u.chars().any(char::is_control)) {
        return Err(invalid(ErrorCode::SecretInvalid));
    }
    Ok(SmtpSettings { host, port: Some(port), security: Some(security), username, from: address(&s.from)?, to })
}

fn smtp_url(s: &SmtpSettings) -> String {
    format!("smtp://{}:{}", s.host, s.port.unwrap_or(587))
}

fn events(raw: &[String]) -> Result<Vec<EventKind>, AppError> {
    let mut out = Vec::new();
    for e in raw {
        let kind = EventKind::parse(e).filter(|k| EventKind::SUBSCRIBABLE.contains(k)).ok_or(invalid(ErrorCode::EventsInvalid))?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    if out.is_empty() { Err(invalid(ErrorCode::EventsInvalid)) } else { Ok(out) }
}

fn list(raw: &[String], ok: impl Fn(&str) -> bool) -> Result<Vec<String>, AppError> {
    if raw.len() > 50 {
        return Err(invalid(ErrorCode::RulesInvalid));
    }
    raw.iter()
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .map(|v| if v.len() <= 200 && ok(&v) { Ok(v) } else { Err(invalid(ErrorCode::RulesInvalid)) })
        .collect()
}

fn filters(f: &Filters) -> Result<Filters, AppError> {
    let word = |v: &str| v.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@*".contains(c));
    Ok(Filters {
        scenarios: list(&f.scenarios, word)?,
        origins: list(&f.origins, word)?,
        sites: list(&f.sites, word)?,
        countries: list(&f.countries, |v| v.len() == 2 && v.chars().all(|c| c.is_ascii_alphabetic()))?,
    })
}

/// Minutes after midnight of `HH:MM`.
pub fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && hhmm.trim().len() == 5).then_some(h * 60 + m)
}

fn quiet(q: &QuietHours) -> Result<QuietHours, AppError> {
    match (minutes(&q.from), minutes(&q.to)) {
        (Some(a), Some(b)) if a != b => Ok(QuietHours { from: q.from.trim().to_owned(), to: q.to.trim().to_owned() }),
        _ => Err(invalid(ErrorCode::RulesInvalid)),
    }
}

fn digest(d: &DigestSchedule) -> Result<DigestSchedule, AppError> {
    match minutes(&d.at) {
        Some(_) => Ok(DigestSchedule { period: d.period, at: d.at.trim().to_owned() }),
        None => Err(invalid(ErrorCode::RulesInvalid)),
    }
}

fn rules(input: &ChannelInput, mut current: ChannelRules) -> Result<ChannelRules, AppError> {
    if let Some(e) = &input.events {
        current.events = events(e)?;
    }
    if let Some(f) = &input.filters {
        current.filters = filters(f)?;
    }
    if let Some(w) = input.group_window_secs {
        if w > 86_400 {
            return Err(invalid(ErrorCode::RulesInvalid));
        }
        current.group_window_secs = w;
    }
    if let Some(r) = input.rate_limit_per_hour {
        if r > 3600 {
            return Err(invalid(ErrorCode::RulesInvalid));
        }
        current.rate_limit_per_hour = r;
    }
    if let Some(q) = &input.quiet_hours {
        current.quiet_hours = q.as_ref().map(quiet).transpose()?;
    }
    if let Some(d) = &input.digest {
        current.digest = d.as_ref().map(digest).transpose()?;
    }
    Ok(current)
}

/// A new channel; the signing secret Charon made for a webhook without one is returned apart.
pub fn create(input: &ChannelInput) -> Result<(Spec, Option<String>), AppError> {
    let kind = input.kind.as_deref().and_then(ChannelKind::parse).ok_or(invalid(ErrorCode::KindInvalid))?;
    let name = name(input.name.as_deref().unwrap_or(""))?;
    let smtp = match (kind, &input.smtp) {
        (ChannelKind::Email, Some(s)) => Some(smtp(s)?),
        (ChannelKind::Email, None) => return Err(invalid(ErrorCode::UrlInvalid)),
        (_, _) => None,
    };
    let url = match &smtp {
        Some(s) => smtp_url(s),
        None => url(input.url.as_deref().unwrap_or(""))?,
    };
    let token = input.token.as_deref().filter(|t| !t.trim().is_empty()).map(|t| secret_text(t, 1)).transpose()?;
    let needs_token = kind == ChannelKind::Gotify || smtp.as_ref().is_some_and(|s| s.username.is_some());
    if needs_token && token.is_none() {
        return Err(invalid(ErrorCode::SecretInvalid));
    }
    let (secret, generated) = match (kind, input.secret.as_deref().filter(|s| !s.trim().is_empty())) {
        (ChannelKind::Webhook, Some(s)) => (Some(secret_text(s, 16)?), None),
        (ChannelKind::Webhook, None) => {
            let s = crate::auth::secret::random_hex(32);
            (Some(s.clone()), Some(s))
        }
        (_, Some(_)) => return Err(invalid(ErrorCode::SecretInvalid)),
        (_, None) => (None, None),
    };
    let rules = rules(input, ChannelRules::default())?;
    Ok((Spec { kind, name, enabled: input.enabled.unwrap_or(true), secrets: Secrets { url, token, secret, smtp }, rules }, generated))
}

/// `current` changed by what `input` gives; secrets not given are kept.
pub fn update(input: &ChannelInput, current: Spec) -> Result<Spec, AppError> {
    if input.kind.as_deref().is_some_and(|k| ChannelKind::parse(k) != Some(current.kind)) {
        return Err(invalid(ErrorCode::KindInvalid));
    }
    let mut next = current.clone();
    if let Some(n) = &input.name {
        next.name = name(n)?;
    }
    if let Some(e) = input.enabled {
        next.enabled = e;
    }
    match (&input.smtp, current.kind) {
        (Some(s), ChannelKind::Email) => {
            let s = smtp(s)?;
            next.secrets.url = smtp_url(&s);
            next.secrets.smtp = Some(s);
        }
        (Some(_), _) => return Err(invalid(ErrorCode::UrlInvalid)),
        (None, ChannelKind::Email) => {}
        (None, _) => {
            if let Some(u) = input.url.as_deref().filter(|u| !u.trim().is_empty()) {
                next.secrets.url = url(u)?;
            }
        }
    }
    if let Some(t) = input.token.as_deref().filter(|t| !t.trim().is_empty()) {
        next.secrets.token = Some(secret_text(t, 1)?);
    }
    if let Some(s) = input.secret.as_deref().filter(|s| !s.trim().is_empty()) {
        if current.kind != ChannelKind::Webhook {
            return Err(invalid(ErrorCode::SecretInvalid));
        }
        next.secrets.secret = Some(secret_text(s, 16)?);
    }
    next.rules = rules(input, current.rules)?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: &str, url: &str) -> ChannelInput {
        ChannelInput { kind: Some(kind.into()), name: Some("ops".into()), url: Some(url.into()), ..Default::default() }
    }

    #[test]
    fn a_webhook_gets_a_signing_secret_and_the_defaults() {
        let (spec, generated) = create(&input("webhook", "https://hooks.example.com/x?token=abc")).unwrap();
        assert_eq!(generated.as_deref().map(str::len), Some(64));
        assert_eq!(spec.secrets.secret, generated);
        assert_eq!(spec.rules, ChannelRules::default());
        assert!(!format!("{spec:?}").contains("token=abc"), "Debug never shows a secret");
        assert_eq!(mask_url(&spec.secrets.url), "https://hooks.example.com/…");
    }

    #[test]
    fn bad_input_names_its_field() {
        let code = |r: Result<(Spec, Option<String>), AppError>| match r {
            Err(AppError::Invalid { code }) => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(create(&input("pager", "https://x.example"))), ErrorCode::KindInvalid);
        for bad in ["ftp://x.example", "not a url", "https://user:pw@x.example/", "https://", ""] {
            assert_eq!(code(create(&input("slack", bad))), ErrorCode::UrlInvalid, "{bad}");
        }
        assert_eq!(code(create(&input("gotify", "https://gotify.example"))), ErrorCode::SecretInvalid, "gotify needs its token");
        assert_eq!(code(create(&ChannelInput { events: Some(vec!["everything".into()]), ..input("slack", "https://x.example") })), ErrorCode::EventsInvalid);
        assert_eq!(code(create(&ChannelInput { group_window_secs: Some(90_000), ..input("slack", "https://x.example") })), ErrorCode::RulesInvalid);
        let q = Some(Some(QuietHours { from: "25:00".into(), to: "07:00".into() }));
        assert_eq!(code(create(&ChannelInput { quiet_hours: q, ..input("slack", "https://x.example") })), ErrorCode::RulesInvalid);
        let d = Some(Some(DigestSchedule { period: app::notify::model::DigestPeriod::Daily, at: "8am".into() }));
        assert_eq!(code(create(&ChannelInput { digest: d, ..input("slack", "https://x.example") })), ErrorCode::RulesInvalid);
    }

    #[test]
    fn an_email_channel_needs_a_server_a_sender_and_recipients() {
        let smtp = |host: &str, to: &[&str]| SmtpSettings {
            host: host.into(),
            port: None,
            security: None,
            username: Some("alerts".into()),
            from: "charon@example.com".into(),
            to: to.iter().map(|t| t.to_string()).collect(),
        };
        let email = |s: SmtpSettings, token: Option<&str>| ChannelInput { kind: Some("email".into()), name: Some("mail".into()), smtp: Some(s), token: token.map(Into::into), ..Default::default() };
        let (spec, _) = create(&email(smtp("Mail.Example.com", &["ops@example.com"]), Some("pw"))).unwrap();
        let s = spec.secrets.smtp.clone().unwrap();
        assert_eq!((s.host.as_str(), s.port, s.security.as_deref()), ("mail.example.com", Some(587), Some("starttls")));
        assert_eq!(mask_url(&spec.secrets.url), "smtp://mail.example.com:587/…");
        assert!(create(&email(smtp("mail.example.com", &["ops@example.com"]), None)).is_err(), "a user needs a password");
        assert!(create(&email(smtp("mail.example.com", &["not an address"]), Some("pw"))).is_err());
        assert!(create(&email(smtp("mail example", &["ops@example.com"]), Some("pw"))).is_err());
        assert!(create(&email(smtp("mail.example.com", &[]), Some("pw"))).is_err());
    }

    #[test]
    fn an_update_keeps_the_secrets_it_does_not_give() {
        let (spec, _) = create(&ChannelInput { token: Some("tk_1".into()), ..input("ntfy", "https://ntfy.example/alerts") }).unwrap();
        let next = update(&ChannelInput { name: Some("night shift".into()), events: Some(vec!["manual".into()]), ..Default::default() }, spec.clone()).unwrap();
        assert_eq!((next.secrets.clone(), next.name.as_str(), next.rules.events.clone()), (spec.secrets.clone(), "night shift", vec![EventKind::Manual]));
        assert!(update(&ChannelInput { kind: Some("slack".into()), ..Default::default() }, spec).is_err(), "the kind stays");
    }
}
