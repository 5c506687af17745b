//! `ProcessingDate`: the UTC calendar day a score batch covers (`YYYY-MM-DD`), and the RFC 3339
//! timestamps the score API prints. Pure arithmetic on the proleptic Gregorian calendar (Howard
//! Hinnant's days-from-civil), so the hub needs no date crate.
//!
//! Must never accept anything but exactly `YYYY-MM-DD` of a real day (`2026-02-30`, `2026-1-05`
//! and `20260105` are errors): the API answers those with the seed's 422.

use std::fmt;

const MS_PER_DAY: u64 = 86_400_000;

/// A UTC day, stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessingDate(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {0:?}: use YYYY-MM-DD")]
pub struct BadDate(pub String);

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl ProcessingDate {
    pub fn from_days(days: u32) -> ProcessingDate {
        ProcessingDate(days)
    }

    pub fn days(self) -> u32 {
        self.0
    }

    /// The UTC day holding `ms` (milliseconds since the epoch).
    pub fn of_ms(ms: u64) -> ProcessingDate {
        ProcessingDate((ms / MS_PER_DAY) as u32)
    }

    pub fn parse(s: &str) -> Result<ProcessingDate, BadDate> {
        let bad = || BadDate(s.to_string());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let digits = |r: std::ops::Range<usize>| -> Result<u32, BadDate> {
            if b[r.clone()].iter().all(u8::is_ascii_digit) {
                s[r].parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
            return Err(bad());
        }
        let days = days_from_civil(y.into(), m, d);
        // A day past the month's end rolls into the next month: refuse it.
        if civil_from_days(days) != (y.into(), m, d) {
            return Err(bad());
        }
        Ok(ProcessingDate(days as u32))
    }

    /// `[start, end)` of the day in milliseconds since the epoch.
    pub fn bounds_ms(self) -> (u64, u64) {
        let start = u64::from(self.0) * MS_PER_DAY;
        (start, start + MS_PER_DAY)
    }

    pub fn minus_days(self, n: u32) -> ProcessingDate {
        ProcessingDate(self.0.saturating_sub(n))
    }

    pub fn plus_days(self, n: u32) -> ProcessingDate {
        ProcessingDate(self.0.saturating_add(n))
    }
}

impl fmt::Display for ProcessingDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(i64::from(self.0));
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// `2026-12-02T01:15:00Z` (whole seconds, UTC) for a time in milliseconds since the epoch.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let day = ProcessingDate::of_ms(ms);
    let s = secs % 86_400;
    format!("{day}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_a_day() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "2024-02-29",
            "2026-12-31",
            "2100-03-01",
        ] {
            assert_eq!(ProcessingDate::parse(s).expect(s).to_string(), s);
        }
        assert_eq!(ProcessingDate::parse("1970-01-02").expect("day").days(), 1);
        assert_eq!(ProcessingDate::parse("2025-10-30").expect("day").days(), 20_391);
        for s in [
            "2025-02-29",
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "2026-1-05",
            "20260105",
            "2026-01-0a",
            "latest",
            "",
            "2026-01-01T00",
            "1969-12-31",
            "+026-01-01",
        ] {
            assert_eq!(ProcessingDate::parse(s), Err(BadDate(s.to_string())), "{s}");
        }
    }

    #[test]
    fn bounds_and_timestamps_are_utc() {
        let d = ProcessingDate::parse("2025-10-30").expect("day");
        let (start, end) = d.bounds_ms();
        assert_eq!(end - start, 86_400_000);
        assert_eq!(ProcessingDate::of_ms(start), d);
        assert_eq!(ProcessingDate::of_ms(end - 1), d);
        assert_eq!(ProcessingDate::of_ms(end), d.plus_days(1));
        assert_eq!(rfc3339(start + 4_500_999), "2025-10-30T01:15:00Z");
        assert_eq!(d.minus_days(1).to_string(), "2025-10-29");
    }
}
