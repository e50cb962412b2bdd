//! Reading a blocklist: CSV (a `value` column, or the first column), JSON (an array of strings or
//! of objects with a `value`, as `cscli decisions list -o json`/`import` use) or plain lines (one
//! address or range per line, `#` comments). Pure: the result says which targets to ban, how many
//! rows were duplicates, and which were refused and why, before anything reaches the LAPI.

use std::collections::HashSet;

use app::decisions::model::{BanInputError, IpOrRange, ListFormat, RefusedRow};

/// At most this many rows are read; a longer list is refused as a whole.
pub const MAX_ROWS: usize = 1_000_000;
/// Refused rows named in the report (all are counted).
pub const EXAMPLES: usize = 20;

#[derive(Debug, Default, PartialEq)]
pub struct ParsedList {
    /// Distinct targets, in the order they first appear.
    pub targets: Vec<IpOrRange>,
    pub duplicates: usize,
    pub invalid: usize,
    pub refused: Vec<RefusedRow>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("the list is not valid JSON: {0}")]
    Json(String),
    #[error("a JSON list must be an array of addresses or of objects with a \"value\"")]
    JsonShape,
    #[error("the list has more than {MAX_ROWS} rows")]
    TooLong,
    #[error("the list is empty")]
    Empty,
}

/// Guesses the format of a pasted list: JSON when it starts with `[`, CSV when its first line has
/// a comma, else lines.
pub fn sniff(text: &str) -> ListFormat {
    let t = text.trim_start();
    if t.starts_with('[') {
        ListFormat::Json
    } else if t.lines().next().is_some_and(|l| l.contains(',')) {
        ListFormat::Csv
    } else {
        ListFormat::Lines
    }
}

/// `(line number, raw value)` of every row, from the format's own layout.
fn rows(text: &str, format: ListFormat) -> Result<Vec<(usize, String)>, ListError> {
    match format {
        ListFormat::Lines => Ok(text
            .lines()
            .enumerate()
            .filter_map(|(i, l)| {
                let l = l.split('#').next().unwrap_or("").trim();
                // "203.0.113.7 some comment": the first word.
                l.split_whitespace().next().map(|v| (i + 1, v.to_owned()))
            })
            .collect()),
        ListFormat::Csv => {
            let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
            let Some((first_no, first)) = lines.next() else { return Ok(Vec::new()) };
            let cells = |l: &str| l.split(',').map(|c| c.trim().trim_matches('"').trim().to_owned()).collect::<Vec<_>>();
            let head = cells(first);
            let column = head.iter().position(|c| c.eq_ignore_ascii_case("value") || c.eq_ignore_ascii_case("ip"));
            let (col, mut out) = match column {
                Some(c) => (c, Vec::new()),
                // No header: the first column of every row, this one included.
                None => (0, vec![(first_no + 1, head.into_iter().next().unwrap_or_default())]),
            };
            for (i, l) in lines {
                out.push((i + 1, cells(l).into_iter().nth(col).unwrap_or_default()));
            }
            Ok(out)
        }
        ListFormat::Json => {
            let v: serde_json::Value = serde_json::from_str(text).map_err(|e| ListError::Json(e.to_string()))?;
            let items = v.as_array().ok_or(ListError::JsonShape)?;
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    serde_json::Value::String(s) => Ok((i + 1, s.clone())),
                    serde_json::Value::Object(o) => match o.get("value") {
                        Some(serde_json::Value::String(s)) => Ok((i + 1, s.clone())),
                        _ => Err(ListError::JsonShape),
                    },
                    _ => Err(ListError::JsonShape),
                })
                .collect()
        }
    }
}

/// Reads the list. `force` admits ranges shorter than /8 (IPv4) or /32 (IPv6); without it they
/// are refused like invalid rows.
pub fn parse(text: &str, format: ListFormat, force: bool) -> Result<ParsedList, ListError> {
    let rows = rows(text, format)?;
    if rows.len() > MAX_ROWS {
        return Err(ListError::TooLong);
    }
    if rows.is_empty() {
        return Err(ListError::Empty);
    }
    let mut seen = HashSet::with_capacity(rows.len());
    let mut out = ParsedList::default();
    for (line, raw) in rows {
        match IpOrRange::parse_guarded(&raw, force) {
            Ok(t) if seen.insert(t) => out.targets.push(t),
            Ok(_) => out.duplicates += 1,
            Err(e) => {
                out.invalid += 1;
                if out.refused.len() < EXAMPLES {
                    let reason = match e {
                        BanInputError::TooWide => "range shorter than /8 (IPv4) or /32 (IPv6); import with force",
                        _ => "not an IP address or CIDR range",
                    };
                    out.refused.push(RefusedRow { line, value: raw.chars().take(64).collect(), reason: reason.to_owned() });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(p: &ParsedList) -> Vec<String> {
        p.targets.iter().map(|t| t.value()).collect()
    }

    #[test]
    fn plain_lines_with_comments_blank_lines_and_duplicates() {
        let text = "# FireHOL-style list\n203.0.113.7\n\n198.51.100.0/24 # a comment\n203.0.113.7\n::ffff:203.0.113.7\nnot-an-ip\n2001:db8::/48\tthird column\n";
        assert_eq!(sniff(text), ListFormat::Lines);
        let p = parse(text, ListFormat::Lines, false).unwrap();
        assert_eq!(values(&p), ["203.0.113.7", "198.51.100.0/24", "2001:db8::/48"]);
        assert_eq!(p.duplicates, 2, "the same address, also IPv4-mapped");
        assert_eq!(p.invalid, 1);
        assert_eq!(p.refused[0].line, 7);
        assert_eq!(p.refused[0].value, "not-an-ip");
    }

    #[test]
    fn csv_with_a_value_column_or_without_a_header() {
        let cscli = "duration,scope,value,reason,type\n24h,Ip,203.0.113.9,bench,ban\n24h,Range,198.51.100.0/24,bench,ban\n";
        assert_eq!(sniff(cscli), ListFormat::Csv);
        assert_eq!(values(&parse(cscli, ListFormat::Csv, false).unwrap()), ["203.0.113.9", "198.51.100.0/24"]);
        let bare = "\"203.0.113.1\",first\n203.0.113.2,second\n";
        assert_eq!(values(&parse(bare, ListFormat::Csv, false).unwrap()), ["203.0.113.1", "203.0.113.2"]);
    }

    #[test]
    fn json_strings_or_objects() {
        let text = r#"["203.0.113.1", {"value": "198.51.100.0/24", "duration": "4h"}]"#;
        assert_eq!(sniff(text), ListFormat::Json);
        assert_eq!(values(&parse(text, ListFormat::Json, false).unwrap()), ["203.0.113.1", "198.51.100.0/24"]);
        assert_eq!(parse(r#"{"value": "203.0.113.1"}"#, ListFormat::Json, false), Err(ListError::JsonShape));
        assert_eq!(parse("[1, 2]", ListFormat::Json, false), Err(ListError::JsonShape));
        assert!(matches!(parse("[", ListFormat::Json, false), Err(ListError::Json(_))));
    }

    #[test]
    fn wide_ranges_need_force_and_empty_lists_are_refused() {
        let p = parse("0.0.0.0/0\n10.0.0.0/7\n", ListFormat::Lines, false).unwrap();
        assert!(p.targets.is_empty());
        assert_eq!(p.invalid, 2);
        assert!(p.refused[0].reason.contains("force"));
        assert_eq!(parse("0.0.0.0/0\n", ListFormat::Lines, true).unwrap().targets.len(), 1);
        assert_eq!(parse("# only a comment\n\n", ListFormat::Lines, false), Err(ListError::Empty));
    }

    #[test]
    fn only_the_first_refused_rows_are_named() {
        let text: String = (0..100).map(|i| format!("bad{i}\n")).collect();
        let p = parse(&text, ListFormat::Lines, false).unwrap();
        assert_eq!(p.invalid, 100);
        assert_eq!(p.refused.len(), EXAMPLES);
    }
}
