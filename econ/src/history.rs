//! Parsers for the history tables the forecasts read (text in, rows out; the caller reads the
//! file): a retarget table in the shape of `btc_retargets.csv` (height, unix_time, bits,
//! difficulty) and a daily table in the shape of `btc_daily.csv` (date, prices, difficulty,
//! fees, block counts), columns found by header name.
//!
//! Must never skip a malformed row silently: the error names the line and the column. Empty
//! cells are "not known" (the tables leave them empty on purpose), never zero.

use crate::coin::Coin;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistoryError {
    #[error("missing column {0:?} in the header")]
    MissingColumn(&'static str),
    #[error("line {line}, column {column:?}: {reason}")]
    Cell {
        line: usize,
        column: &'static str,
        reason: String,
    },
    #[error("the table has no rows")]
    Empty,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetargetRow {
    pub height: u64,
    pub unix_time: Option<i64>,
    pub bits: u32,
    pub difficulty: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyRow {
    /// Days since 1970-01-01.
    pub day: i64,
    pub price_usd: Option<f64>,
    pub difficulty: Option<f64>,
    /// Total fees paid that day, in coins.
    pub fees_coin: Option<f64>,
    pub blocks: Option<f64>,
}

/// Splits a CSV line on commas outside double quotes (the tables quote their `source` text).
fn fields(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&line[start..]);
    out
}

struct Table<'a> {
    header: Vec<&'a str>,
    rows: Vec<(usize, Vec<&'a str>)>,
}

impl<'a> Table<'a> {
    fn parse(text: &'a str) -> Result<Table<'a>, HistoryError> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let header = lines
            .next()
            .map(|(_, l)| fields(l.trim_end()))
            .ok_or(HistoryError::Empty)?;
        let rows: Vec<_> = lines.map(|(i, l)| (i + 1, fields(l.trim_end()))).collect();
        if rows.is_empty() {
            return Err(HistoryError::Empty);
        }
        Ok(Table { header, rows })
    }

    fn col(&self, name: &'static str) -> Result<usize, HistoryError> {
        self.header
            .iter()
            .position(|h| *h == name)
            .ok_or(HistoryError::MissingColumn(name))
    }

    fn opt_col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| *h == name)
    }
}

fn cell<'a>(row: &[&'a str], i: usize) -> &'a str {
    row.get(i).copied().unwrap_or("").trim()
}

fn number(line: usize, column: &'static str, s: &str) -> Result<Option<f64>, HistoryError> {
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(HistoryError::Cell {
            line,
            column,
            reason: format!("not a non-negative number: {s:?}"),
        }),
    }
}

pub fn parse_retargets(text: &str) -> Result<Vec<RetargetRow>, HistoryError> {
    let t = Table::parse(text)?;
    let (h, u, b, d) = (
        t.col("height")?,
        t.col("unix_time")?,
        t.col("bits")?,
        t.col("difficulty")?,
    );
    let mut out = Vec::with_capacity(t.rows.len());
    for (line, row) in &t.rows {
        let bad = |column: &'static str, s: &str| HistoryError::Cell {
            line: *line,
            column,
            reason: format!("not valid: {s:?}"),
        };
        let height = cell(row, h)
            .parse::<u64>()
            .map_err(|_| bad("height", cell(row, h)))?;
        let unix_time = match cell(row, u) {
            "" => None,
            s => Some(s.parse::<i64>().map_err(|_| bad("unix_time", s))?),
        };
        let bits_s = cell(row, b);
        let bits =
            u32::from_str_radix(bits_s.trim_start_matches("0x"), 16).map_err(|_| bad("bits", bits_s))?;
        let difficulty = number(*line, "difficulty", cell(row, d))?.ok_or_else(|| bad("difficulty", ""))?;
        if out.last().is_some_and(|p: &RetargetRow| p.height >= height) {
            return Err(bad("height", "not increasing"));
        }
        out.push(RetargetRow {
            height,
            unix_time,
            bits,
            difficulty,
        });
    }
    Ok(out)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian).
pub fn day_number(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time in seconds (the inverse of [`day_number`] plus the
/// time of day), for timestamps in JSON.
pub fn iso_utc(unix_s: i64) -> String {
    let (days, secs) = (unix_s.div_euclid(86_400), unix_s.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Reads the daily table of `coin`: price from `cg_price_usd`, else `cm_price_usd`; difficulty
/// `cm_difficulty_mean`; fees `bc_fees_btc` (Bitcoin), else `cm_fees_<sym>`; blocks
/// `cm_block_count`, else (Bitcoin) `bv_block_subsidy_btc` / the subsidy of that day's era.
pub fn parse_daily(coin: Coin, text: &str) -> Result<Vec<DailyRow>, HistoryError> {
    let t = Table::parse(text)?;
    let date = t.col("date")?;
    let sym = coin.symbol().to_ascii_lowercase();
    let cg = t.opt_col("cg_price_usd");
    let cm = t.opt_col("cm_price_usd");
    if cg.is_none() && cm.is_none() {
        return Err(HistoryError::MissingColumn("cg_price_usd"));
    }
    let diff = t.opt_col("cm_difficulty_mean");
    let bc_fees = t.opt_col("bc_fees_btc");
    let cm_fees = t.opt_col(&format!("cm_fees_{sym}"));
    let cm_blocks = t.opt_col("cm_block_count");
    let bv_subsidy = t.opt_col("bv_block_subsidy_btc");
    let mut out = Vec::with_capacity(t.rows.len());
    for (line, row) in &t.rows {
        let get = |i: Option<usize>, name: &'static str| match i {
            Some(i) => number(*line, name, cell(row, i)),
            None => Ok(None),
        };
        let day = day_number(cell(row, date)).ok_or_else(|| HistoryError::Cell {
            line: *line,
            column: "date",
            reason: format!("not a YYYY-MM-DD date: {:?}", cell(row, date)),
        })?;
        let price_usd = get(cg, "cg_price_usd")?.or(get(cm, "cm_price_usd")?);
        let fees_coin = get(bc_fees, "bc_fees_btc")?.or(get(cm_fees, "cm_fees")?);
        let mut blocks = get(cm_blocks, "cm_block_count")?.filter(|b| *b > 0.0);
        if blocks.is_none() {
            // bv's subsidy per day / the era's subsidy; the era from the date is exact away
            // from a halving day, and a halving day's estimate is off by at most half its blocks.
            if let Some(s) = get(bv_subsidy, "bv_block_subsidy_btc")? {
                let per_block = bitcoin_subsidy_on_day(day);
                blocks = Some(s / per_block).filter(|b| *b > 0.0);
            }
        }
        out.push(DailyRow {
            day,
            price_usd,
            difficulty: get(diff, "cm_difficulty_mean")?.filter(|d| *d > 0.0),
            fees_coin,
            blocks,
        });
    }
    Ok(out)
}

/// Bitcoin's subsidy by date, from the halving days (blocks 210,000 x k).
fn bitcoin_subsidy_on_day(day: i64) -> f64 {
    const HALVINGS: [&str; 4] = ["2012-11-28", "2016-07-09", "2020-05-11", "2024-04-20"];
    let n = HALVINGS
        .iter()
        .filter(|d| day_number(d).is_some_and(|h| day > h))
        .count();
    50.0 / f64::from(1u32 << n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_retarget_rows() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2023-06-15"), Some(19_523));
        assert_eq!(day_number("2023-13-01"), None);
        // btc_retargets.csv genesis: 1231006505 = 2009-01-03T18:15:05Z.
        assert_eq!(iso_utc(1_231_006_505), "2009-01-03T18:15:05Z");
        assert_eq!(iso_utc(19_523 * 86_400), "2023-06-15T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        let text = "height,time_utc,unix_time,block_hash,bits,difficulty,epoch_mean_block_time_s,source\n\
            0,x,1231006505,h,0x1d00ffff,1.0,1020.35,\"a, b\"\n\
            2016,x,,h,0x1d00ffff,1.0,,c\n";
        let rows = parse_retargets(text).expect("rows");
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].unix_time, rows[1].unix_time, rows[1].bits),
            (Some(1_231_006_505), None, 0x1d00_ffff)
        );
        let bad = text.replace("0x1d00ffff,1.0,,c", "0xzz,1.0,,c");
        let e = parse_retargets(&bad).expect_err("bits");
        assert_eq!(e.to_string(), "line 3, column \"bits\": not valid: \"0xzz\"");
        assert_eq!(
            parse_retargets("height,bits\n").expect_err("empty"),
            HistoryError::Empty
        );
    }

    #[test]
    fn daily_rows_by_header() {
        let text = "date,cm_price_usd,cm_difficulty_mean,cm_block_count,cm_fees_btc,cg_price_usd,bv_block_subsidy_btc,bc_fees_btc\n\
            2020-01-01,7200,1.3e13,150,30,7195,,\n\
            2023-06-15,,,,,25107.75,925,41.02\n";
        let rows = parse_daily(Coin::Bitcoin, text).expect("rows");
        assert_eq!(rows[0].price_usd, Some(7195.0), "CoinGecko first");
        assert_eq!((rows[0].blocks, rows[0].fees_coin), (Some(150.0), Some(30.0)));
        assert_eq!(rows[1].blocks, Some(148.0), "925 / 6.25");
        assert_eq!(rows[1].difficulty, None);
        let e = parse_daily(Coin::Bitcoin, &text.replace("7195", "-1")).expect_err("neg");
        assert!(e.to_string().contains("cg_price_usd"), "{e}");
    }
}
