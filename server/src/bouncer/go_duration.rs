//! Go duration strings as the LAPI writes them (`3h59m52.28204433s`, `-2.03s`, `150ms`).

/// Seconds (may be negative: deleted decisions carry negative remaining durations).
pub fn parse_seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += value * factor;
        rest = &rest[unit_end..];
    }
    Some(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    #[test]
    fn parses_what_the_lapi_sends() {
        assert_eq!(parse_seconds("4h"), Some(14400.0));
        assert!((parse_seconds("3h59m52.28204433s").unwrap() - 14392.28204433).abs() < 1e-6);
        assert!((parse_seconds("-2.030624789s").unwrap() + 2.030624789).abs() < 1e-9);
        assert_eq!(parse_seconds("150ms"), Some(0.15));
        assert_eq!(parse_seconds("0"), Some(0.0));
        assert_eq!(parse_seconds("1h30m"), Some(5400.0));
        for bad in ["", "h", "4x", "forever", "--1s"] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }
}
