//! Calendar arithmetic the DePIN backends need and the agent has no date crate for: RFC 3339
//! timestamps (Storj's `startedAt`, Golem's invoice `timestamp`) to and from ms since the epoch,
//! and the start of the UTC month (Storj's earnings period).
//!
//! Pure. Must never panic on a node's text: a timestamp that does not parse is `None`.

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `2026-12-02T09:30:00.123456789+01:00` (or `Z`, or a space for `T`) to ms since the epoch.
/// Dates before 1970 are `None` (no node started then).
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.len() < 20 || !s.is_char_boundary(10) || !s.is_char_boundary(19) {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let sep = rest.as_bytes()[0];
    if !matches!(sep, b'T' | b't' | b' ') {
        return None;
    }
    let (time, zone) = rest[1..].split_at(8);
    let mut dp = date.split('-');
    let (y, mo, d) = (digits(dp.next()?)?, digits(dp.next()?)?, digits(dp.next()?)?);
    let mut tp = time.split(':');
    let (h, mi, se) = (digits(tp.next()?)?, digits(tp.next()?)?, digits(tp.next()?)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let (frac, offset) = match zone.strip_prefix('.') {
        Some(z) => {
            let end = z.find(|c: char| !c.is_ascii_digit()).unwrap_or(z.len());
            (&z[..end], &z[end..])
        }
        None => ("", zone),
    };
    let ms_frac = if frac.is_empty() {
        0
    } else {
        let f3: String = frac.chars().chain("000".chars()).take(3).collect();
        digits(&f3)?
    };
    let offset_min = match offset {
        "Z" | "z" => 0,
        o if o.len() == 6
            && o.is_ascii()
            && (o.starts_with('+') || o.starts_with('-'))
            && o.as_bytes()[3] == b':' =>
        {
            let v = digits(&o[1..3])? * 60 + digits(&o[4..6])?;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let ms = days_from_civil(y, mo, d) * MS_PER_DAY + ((h * 60 + mi - offset_min) * 60 + se) * 1000 + ms_frac;
    u64::try_from(ms).ok()
}

/// `ms` as `YYYY-MM-DDTHH:MM:SSZ` (whole seconds), for API query parameters.
pub fn format_rfc3339(ms: u64) -> String {
    let ms = ms as i64;
    let (y, m, d) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let s = ms.rem_euclid(MS_PER_DAY) / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Midnight UTC on the first day of the month `now_ms` is in.
pub fn month_start_ms(now_ms: u64) -> u64 {
    let (y, m, _) = civil_from_days((now_ms as i64).div_euclid(MS_PER_DAY));
    (days_from_civil(y, m, 1) * MS_PER_DAY) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_fractions_offsets_and_junk() {
        // 2026-12-02T00:00:00Z = 20_789 days after the epoch.
        let midnight = 20_789 * 86_400_000;
        assert_eq!(parse_rfc3339_ms("2026-12-02T00:00:00Z"), Some(midnight));
        assert_eq!(
            parse_rfc3339_ms("2026-12-02T01:30:00.123456789+01:30"),
            Some(midnight + 123)
        );
        assert_eq!(parse_rfc3339_ms("2026-12-01T23:00:00-01:00"), Some(midnight));
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01Z"), Some(1000));
        for bad in [
            "",
            "yesterday",
            "2026-13-02T00:00:00Z",
            "2026-12-02T00:00:00",
            "2026-12-02T00:00:00+0100",
            "2026-12-02X00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-12-02T00:00:00é",
            "2026-12-02T00:00:00+0é:0",
            "2026-12-02T00:00:00+é:00",
            "éééééééééééééééééééééé",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn format_round_trips_and_month_start_is_the_first() {
        for s in [
            "2026-12-02T09:05:07Z",
            "2024-02-29T23:59:59Z",
            "1970-01-01T00:00:00Z",
        ] {
            let ms = parse_rfc3339_ms(s).expect("parses");
            assert_eq!(format_rfc3339(ms), s);
        }
        let now = parse_rfc3339_ms("2024-03-15T12:00:00Z").expect("parses");
        assert_eq!(
            month_start_ms(now),
            parse_rfc3339_ms("2024-03-01T00:00:00Z").expect("parses")
        );
        let first = parse_rfc3339_ms("2024-03-01T00:00:00Z").expect("parses");
        assert_eq!(month_start_ms(first), first);
    }
}
