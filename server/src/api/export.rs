//! Exports: what a list's filters select, as CSV or JSON, streamed to the client a chunk at a time
//! (the text of 100 000 rows is never held whole). CSV fields that a spreadsheet would run as a
//! formula (`=`, `+`, `-`, `@`, tab, carriage return first: a visitor's user agent or path can be
//! anything) are prefixed with `'`.

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde::Serialize;

use app::alerts::model::Alert;
use app::audit::model::AuditEntry;
use app::decisions::model::Decision;
use app::error::{AppError, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// `None`: not an export (the normal JSON page).
    pub fn parse(raw: Option<&str>) -> Result<Option<Format>, AppError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(f) if f.eq_ignore_ascii_case("csv") => Ok(Some(Format::Csv)),
            Some(f) if f.eq_ignore_ascii_case("json") => Ok(Some(Format::Json)),
            Some(_) => Err(ErrorCode::FormatInvalid.into()),
        }
    }
}

/// `?format=csv|json` beside a list's filters.
#[derive(Debug, Default, serde::Deserialize)]
pub struct FormatQuery {
    pub format: Option<String>,
}

/// A row as CSV: its header and its fields in that order.
pub trait CsvRow {
    const HEADER: &'static [&'static str];
    fn fields(&self) -> Vec<String>;
}

fn csv_field(raw: &str) -> String {
    let defused = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{raw}") } else { raw.to_owned() };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

fn csv_line(fields: impl IntoIterator<Item = String>) -> String {
    let mut line = fields.into_iter().map(|f| csv_field(&f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// The chunks as a download named `name.csv` or `name.json`. An error after the first chunk can
/// no longer change the status: the body then ends early (and a JSON body is left unclosed, so it
/// cannot be mistaken for a complete one).
pub fn download<T, S>(format: Format, name: &str, chunks: S) -> Response
where
    T: CsvRow + Serialize + Send + 'static,
    S: Stream<Item = Result<Vec<T>, AppError>> + Send + 'static,
{
    let mut first = true;
    let head = match format {
        Format::Csv => csv_line(T::HEADER.iter().map(|h| h.to_string())),
        Format::Json => "[".to_owned(),
    };
    let body = chunks
        .map(move |chunk| -> Result<String, std::io::Error> {
            let rows = chunk.map_err(|e| std::io::Error::other(e.message()))?;
            let mut out = String::new();
            for row in &rows {
                match format {
                    Format::Csv => out.push_str(&csv_line(row.fields())),
                    Format::Json => {
                        if !first {
                            out.push(',');
                        }
                        first = false;
                        out.push('\n');
                        out.push_str(&serde_json::to_string(row).map_err(std::io::Error::other)?);
                    }
                }
            }
            Ok(out)
        })
        .chain(futures_util::stream::once(async move { Ok(if format == Format::Json { "\n]\n".to_owned() } else { String::new() }) }));
    let body = futures_util::stream::once(async move { Ok(head) }).chain(body);
    let (mime, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
    };
    let stamp = crate::support::time::rfc3339(crate::support::time::now()).replace(':', "");
    let mut res = Body::from_stream(body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"charon-{name}-{stamp}.{ext}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Rows already selected, sent in chunks of 1 000.
pub fn chunked<T: Send + 'static>(rows: Vec<T>) -> impl Stream<Item = Result<Vec<T>, AppError>> + Send + 'static {
    let mut rows = rows.into_iter();
    futures_util::stream::iter(std::iter::from_fn(move || {
        let chunk: Vec<T> = rows.by_ref().take(1000).collect();
        (!chunk.is_empty()).then_some(Ok(chunk))
    }))
}

impl CsvRow for Decision {
    const HEADER: &'static [&'static str] = &["id", "value", "scope", "type", "origin", "scenario", "country", "until", "allowlisted", "enforced", "made_by", "via", "made_at"];
    fn fields(&self) -> Vec<String> {
        let by = self.made_by.as_ref();
        vec![
            self.id.to_string(),
            self.value.clone(),
            self.scope.clone(),
            self.kind.clone(),
            self.origin.clone(),
            self.scenario.clone(),
            self.country.clone().unwrap_or_default(),
            self.until.clone(),
            self.allowlisted.to_string(),
            (!self.not_enforced).to_string(),
            by.map(|m| m.actor.clone()).unwrap_or_default(),
            by.map(|m| m.via.clone()).unwrap_or_default(),
            by.map(|m| m.at.clone()).unwrap_or_default(),
        ]
    }
}

impl CsvRow for Alert {
    const HEADER: &'static [&'static str] = &[
        "id", "started_at", "stopped_at", "scenario", "source_scope", "source_value", "source_range", "country", "as_number", "as_name",
        "machine", "events_count", "decisions", "active_decisions", "message",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.started_at.clone(),
            self.stopped_at.clone(),
            self.scenario.clone(),
            self.source_scope.clone(),
            self.source_value.clone(),
            self.source_range.clone().unwrap_or_default(),
            self.country.clone().unwrap_or_default(),
            self.as_number.clone().unwrap_or_default(),
            self.as_name.clone().unwrap_or_default(),
            self.machine.clone(),
            self.events_count.to_string(),
            self.decisions.len().to_string(),
            self.active_decisions().to_string(),
            self.message.clone(),
        ]
    }
}

impl CsvRow for AuditEntry {
    const HEADER: &'static [&'static str] = &["id", "at", "actor", "via", "address", "action", "target", "detail", "result"];
    fn fields(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.at.clone(),
            self.actor.clone(),
            self.via.clone(),
            self.address.clone(),
            self.action.clone(),
            self.target.clone(),
            self.detail.clone(),
            self.result.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1+2"), "'-1+2");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_line(["a".to_owned(), "b c".to_owned()]), "a,b c\r\n");
        assert_eq!(Format::parse(Some("CSV")).unwrap(), Some(Format::Csv));
        assert_eq!(Format::parse(None).unwrap(), None);
        assert!(Format::parse(Some("xml")).is_err());
    }
}
