//! Parsing the daily history CSVs (`btc_daily.csv`, `ltc_daily.csv`, `doge_daily.csv` shapes:
//! a header row with `date` and `cg_price_usd` and/or `cm_price_usd`, optional
//! `cg_market_cap_usd` and `cg_volume_usd`) into daily points for the store. Pure: text in, points
//! and a count of what was skipped out; `hashward-hub import` does the I/O.
//!
//! Must never invent a price: a day without one is skipped and counted, never a zero.

use super::dates::parse_day;
use hashward_protocol::market::DailyPoint;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    #[error("the file is empty")]
    Empty,
    #[error("header has no {0:?} column (found: {1})")]
    MissingColumn(&'static str, String),
    #[error("looks like a retarget file (height,time_utc,...,difficulty): only daily files (date,...,cg_price_usd or cm_price_usd) are imported into market history")]
    Retargets,
    #[error("line {line}: {why}")]
    Row { line: usize, why: String },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub points: Vec<DailyPoint>,
    /// Rows with no price in either price column (days before the coin traded).
    pub without_price: usize,
}

/// Splits one CSV line, honouring double quotes (`"a,b"` is one field, `""` a quote).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn number(v: Option<&String>, name: &str, line: usize) -> Result<Option<f64>, ImportError> {
    match v.map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(ImportError::Row {
                line,
                why: format!("{name} is not a non-negative number: {s:?}"),
            }),
        },
    }
}

/// Parses a daily CSV. The CoinGecko price is preferred where both are given (the same source
/// the collector uses); Coin Metrics' fills the days before it.
pub fn parse_daily(text: &str) -> Result<Parsed, ImportError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(ImportError::Empty)?;
    let cols: Vec<String> = fields(header).into_iter().map(|c| c.trim().to_string()).collect();
    let col = |name: &str| cols.iter().position(|c| c == name);
    if col("height").is_some() && col("difficulty").is_some() {
        return Err(ImportError::Retargets);
    }
    let date = col("date").ok_or_else(|| ImportError::MissingColumn("date", cols.join(",")))?;
    let (cg, cm) = (col("cg_price_usd"), col("cm_price_usd"));
    if cg.is_none() && cm.is_none() {
        return Err(ImportError::MissingColumn(
            "cg_price_usd or cm_price_usd",
            cols.join(","),
        ));
    }
    let (cap, vol) = (col("cg_market_cap_usd"), col("cg_volume_usd"));
    let mut parsed = Parsed::default();
    for (i, line) in lines {
        let n = i + 1;
        let f = fields(line);
        let get = |c: Option<usize>| c.and_then(|c| f.get(c));
        let day = get(Some(date))
            .and_then(|d| parse_day(d))
            .ok_or_else(|| ImportError::Row {
                line: n,
                why: format!(
                    "date is not YYYY-MM-DD: {:?}",
                    get(Some(date)).map_or("", |s| s.as_str())
                ),
            })?;
        let price = match number(get(cg), "cg_price_usd", n)? {
            Some(p) => Some(p),
            None => number(get(cm), "cm_price_usd", n)?,
        };
        let Some(price_usd) = price else {
            parsed.without_price += 1;
            continue;
        };
        parsed.points.push(DailyPoint {
            day_ms: day,
            price_usd,
            market_cap_usd: number(get(cap), "cg_market_cap_usd", n)?,
            volume_usd: number(get(vol), "cg_volume_usd", n)?,
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "date,cm_price_usd,cm_difficulty_mean,cg_price_usd,cg_snapshot_utc,cg_market_cap_usd,cg_volume_usd,bc_fees_src";

    #[test]
    fn prices_prefer_coingecko_and_days_without_one_are_skipped() {
        let text = format!(
            "{HEADER}\n2009-01-03,,,,,,,\n2013-04-28,135.3,1.0,,,,,\n2013-04-29,141.9,1.0,144.5,2013-04-29T00:00:00Z,1.6e9,0,\"a, b\"\n"
        );
        let p = parse_daily(&text).expect("parses");
        assert_eq!(p.without_price, 1);
        assert_eq!(p.points.len(), 2);
        assert_eq!((p.points[0].price_usd, p.points[0].market_cap_usd), (135.3, None));
        assert_eq!(
            (p.points[1].price_usd, p.points[1].market_cap_usd),
            (144.5, Some(1.6e9))
        );
        assert_eq!(p.points[1].day_ms, 1_367_193_600_000);
    }

    #[test]
    fn bad_rows_and_other_shapes_are_named() {
        let e = parse_daily(&format!("{HEADER}\n2013-02-30,1,,,,,,\n")).expect_err("bad date");
        assert_eq!(e.to_string(), "line 2: date is not YYYY-MM-DD: \"2013-02-30\"");
        let e = parse_daily(&format!("{HEADER}\n2013-02-03,-4,,,,,,\n")).expect_err("negative");
        assert!(e.to_string().contains("cm_price_usd"), "{e}");
        assert_eq!(
            parse_daily("height,time_utc,unix_time,block_hash,bits,difficulty\n0,x,0,h,b,1\n"),
            Err(ImportError::Retargets)
        );
        assert!(matches!(
            parse_daily("day,price\n"),
            Err(ImportError::MissingColumn("date", _))
        ));
        assert_eq!(parse_daily(""), Err(ImportError::Empty));
    }

    #[test]
    fn the_shared_daily_files_parse_when_present() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
        let Ok(text) = std::fs::read_to_string(dir.join("btc_daily.csv")) else {
            eprintln!("skipped: ../shared/data/btc_daily.csv is absent (CI keeps a copy beside the clone)");
            return;
        };
        let p = parse_daily(&text).expect("btc_daily.csv parses");
        assert!(p.points.len() > 4000, "{}", p.points.len());
        assert!(p.points.windows(2).all(|w| w[0].day_ms < w[1].day_ms));
    }
}
