//! A look-back filter as people type it: `30s`, `15m`, `24h`, `7d`, at most ten years. The Alerts
//! and Audit log filters (`since`, `until`) both take it.

use crate::error::{AppError, ErrorCode};

const MAX_SECONDS: u64 = 10 * 366 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Age {
    n: u64,
    unit: char,
}

impl Age {
    pub fn parse(v: &str) -> Result<Age, AppError> {
        let bad = || AppError::from(ErrorCode::DurationInvalid);
        let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
        let n: u64 = n.parse().map_err(|_| bad())?;
        let (unit, per) = match unit {
            "s" => ('s', 1),
            "m" => ('m', 60),
            "h" => ('h', 3600),
            "d" => ('d', 86_400),
            _ => return Err(bad()),
        };
        match n.checked_mul(per) {
            Some(s) if s > 0 && s <= MAX_SECONDS => Ok(Age { n, unit }),
            _ => Err(bad()),
        }
    }

    pub fn seconds(&self) -> i64 {
        let per = match self.unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => 86_400,
        };
        (self.n * per) as i64
    }

    /// As a Go duration, which is what the LAPI parses: days become hours (`7d` → `168h`).
    pub fn to_go(&self) -> String {
        match self.unit {
            'd' => format!("{}h", self.n * 24),
            u => format!("{}{u}", self.n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_in_four_units_up_to_ten_years() {
        let go = |v: &str| Age::parse(v).map(|a| a.to_go());
        assert_eq!(go("7d"), Ok("168h".into()));
        assert_eq!(go("30m"), Ok("30m".into()));
        assert_eq!(Age::parse("2h").unwrap().seconds(), 7200);
        assert_eq!(Age::parse("3660d").unwrap().seconds(), 3660 * 86_400);
        for bad in ["", "7", "d", "-1h", "1w", "0h", "3661d", "99999999h", "1h30m", "18446744073709551615d"] {
            assert_eq!(Age::parse(bad), Err(ErrorCode::DurationInvalid.into()), "{bad:?}");
        }
    }
}
