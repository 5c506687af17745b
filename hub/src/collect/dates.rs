//! UTC calendar arithmetic for the collectors (RFC 3339 stamps, day buckets, `YYYY-MM` budget
//! months, `YYYY-MM-DD` in imported CSVs) without a date crate: Howard Hinnant's days-from-civil.
//!
//! Must never panic on a bad date: parsing returns `None`.

pub const DAY_MS: u64 = 86_400_000;
pub const HOUR_MS: u64 = 3_600_000;

/// (year, month 1..12, day 1..31) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-12-02T08:17:53Z` (millisecond precision dropped).
pub fn rfc3339(ms: u64) -> String {
    let s = ms / 1000;
    let (y, mo, d) = civil_from_days((s / 86_400) as i64);
    let r = s % 86_400;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        r / 60 % 60,
        r % 60
    )
}

/// `2026-12` of an instant.
pub fn month(ms: u64) -> String {
    let (y, m, _) = civil_from_days((ms / DAY_MS) as i64);
    format!("{y:04}-{m:02}")
}

/// 00:00 UTC of the day holding `ms`.
pub fn day_start(ms: u64) -> u64 {
    ms - ms % DAY_MS
}

/// `YYYY-MM-DD` as 00:00 UTC Unix ms; `None` for anything else or a date before 1970.
pub fn parse_day(s: &str) -> Option<u64> {
    let mut parts = s.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // 2026-02-31 would roll into March: refuse it.
    if civil_from_days(days) != (y, m, d) || days < 0 {
        return None;
    }
    Some(days as u64 * DAY_MS)
}

/// `2026-12-02T08:15:00.000Z` to Unix ms (the date and whole seconds; the zone must be `Z`).
pub fn parse_iso(s: &str) -> Option<u64> {
    let (date, time) = s.split_once('T')?;
    let day = parse_day(date)?;
    let time = time.strip_suffix('Z')?;
    let hms = time.split('.').next()?;
    let mut p = hms.splitn(3, ':').map(|x| x.parse::<u64>().ok());
    let (h, m, sec) = (p.next()??, p.next()??, p.next()??);
    (h < 24 && m < 60 && sec < 61).then(|| day + (h * 3600 + m * 60 + sec) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_bad_ones_are_refused() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_663_473_000), "2025-12-02T08:17:53Z");
        assert_eq!(parse_day("2009-01-03"), Some(1_230_940_800_000));
        assert_eq!(rfc3339(1_230_940_800_000), "2009-01-03T00:00:00Z");
        assert_eq!(month(1_709_251_199_000), "2024-02");
        assert_eq!(
            parse_day("2024-02-29").map(rfc3339).as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        assert_eq!(parse_day("2023-02-29"), None);
        assert_eq!(parse_day("2023-13-01"), None);
        assert_eq!(parse_day("yesterday"), None);
        assert_eq!(day_start(1_230_940_800_000 + 5), 1_230_940_800_000);
    }
}
