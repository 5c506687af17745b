//! The backtest's market series from text: daily history tables (the `*_daily.csv` and
//! `*_retargets.csv` shapes; value per TH/s per day from difficulty, subsidy, fees and price via
//! [`RevenueSeries`]) or an intraday profitability feed (`timestamp_utc,target,usd_per_th_day`).
//! Text in, steps out; the caller reads the files.
//!
//! Must never fill a gap: an intraday step missing a series is an error naming it; a day
//! without every series is left out and counted.

use super::backtest::Step;
use super::fleet::Fleet;
use super::target::Market;
use crate::coin::Coin;
use crate::forecast::{ForecastError, RevenueSeries};
use crate::history::{day_number, iso_utc, parse_daily, parse_retargets, HistoryError};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeriesError {
    #[error("target {0:?} has no coin for daily history (add [targets.{0}] coin = \"btc\")")]
    NoCoin(String),
    #[error("no daily table for {0}")]
    NoTable(Coin),
    #[error("{coin} daily table: {source}")]
    Daily { coin: Coin, source: HistoryError },
    #[error("{coin} retarget table: {source}")]
    Retargets { coin: Coin, source: HistoryError },
    #[error("{coin}: {source}")]
    Revenue { coin: Coin, source: ForecastError },
    #[error("line {line}, column {column:?}: {reason}")]
    Cell {
        line: usize,
        column: &'static str,
        reason: String,
    },
    #[error("missing column {0:?} in the header")]
    MissingColumn(&'static str),
    #[error("the file is empty")]
    Empty,
    #[error("{time} has no value for series {series:?}")]
    Gap { time: String, series: String },
}

/// `YYYY-MM-DDTHH:MM:SSZ` (or a bare date, at 00:00) to Unix seconds.
pub fn parse_utc(s: &str) -> Option<i64> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z')?)),
        None => (s, None),
    };
    let day = day_number(date)?;
    let secs = match time {
        None => 0,
        Some(t) => {
            let mut p = t.split(':').map(|x| x.parse::<i64>().ok());
            let (h, m, sec) = (p.next()??, p.next()??, p.next().unwrap_or(Some(0))?);
            if p.next().is_some() || !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..61).contains(&sec)
            {
                return None;
            }
            h * 3600 + m * 60 + sec
        }
    };
    Some(day * 86_400 + secs)
}

fn needed(fleet: &Fleet) -> Vec<&String> {
    let mut v: Vec<&String> = fleet.series_of.values().collect();
    v.sort();
    v.dedup();
    v
}

/// The coins whose tables the fleet needs for daily steps, or the target that has none.
pub fn coins_needed(fleet: &Fleet) -> Result<Vec<Coin>, SeriesError> {
    let mut out = Vec::new();
    for series in needed(fleet) {
        let coin = fleet.coin_of_series.get(series).ok_or_else(|| {
            let target = fleet
                .series_of
                .iter()
                .find(|(_, s)| *s == series)
                .map_or(series.clone(), |(t, _)| t.clone());
            SeriesError::NoCoin(target)
        })?;
        if !out.contains(coin) {
            out.push(*coin);
        }
    }
    Ok(out)
}

/// Daily steps from `tables` (coin -> daily text, retarget text if any), one per day of
/// `from..=to` (Unix seconds) that has every series; returns the steps and the days left out.
pub fn daily_steps(
    fleet: &Fleet,
    tables: &HashMap<Coin, (String, Option<String>)>,
    from: i64,
    to: i64,
) -> Result<(Vec<Step>, usize), SeriesError> {
    let mut by_coin: HashMap<Coin, BTreeMap<i64, f64>> = HashMap::new();
    for coin in coins_needed(fleet)? {
        let (daily, retargets) = tables.get(&coin).ok_or(SeriesError::NoTable(coin))?;
        let daily = parse_daily(coin, daily).map_err(|source| SeriesError::Daily { coin, source })?;
        let retargets = match retargets {
            Some(t) => parse_retargets(t).map_err(|source| SeriesError::Retargets { coin, source })?,
            None => Vec::new(),
        };
        let s = RevenueSeries::build(coin, &daily, &retargets)
            .map_err(|source| SeriesError::Revenue { coin, source })?;
        let values = s
            .days
            .iter()
            .zip(&s.usd_per_hs_day)
            .map(|(d, v)| (*d, v * 1e12))
            .collect();
        by_coin.insert(coin, values);
    }
    let series: Vec<(&String, Coin)> = needed(fleet)
        .into_iter()
        .filter_map(|s| fleet.coin_of_series.get(s).map(|c| (s, *c)))
        .collect();
    let (mut steps, mut skipped) = (Vec::new(), 0);
    for day in from.div_euclid(86_400)..=to.div_euclid(86_400) {
        let market: Option<Market> = series
            .iter()
            .map(|(s, c)| {
                by_coin
                    .get(c)
                    .and_then(|m| m.get(&day))
                    .map(|v| ((*s).clone(), *v))
            })
            .collect();
        match market {
            Some(market) => steps.push(Step {
                unix: day * 86_400,
                market,
            }),
            None => skipped += 1,
        }
    }
    Ok((steps, skipped))
}

/// Intraday steps within `from..=to` (Unix seconds); errors name the line and column.
pub fn intraday_steps(fleet: &Fleet, text: &str, from: i64, to: i64) -> Result<Vec<Step>, SeriesError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(SeriesError::Empty)?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &'static str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or(SeriesError::MissingColumn(name))
    };
    let (ts, tg, val) = (col("timestamp_utc")?, col("target")?, col("usd_per_th_day")?);
    let mut by_time: BTreeMap<i64, Market> = BTreeMap::new();
    for (i, line) in lines {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let cell = |c: usize| f.get(c).copied().unwrap_or("");
        let bad = |column: &'static str, reason: String| SeriesError::Cell {
            line: i + 1,
            column,
            reason,
        };
        let t = parse_utc(cell(ts)).ok_or_else(|| {
            bad(
                "timestamp_utc",
                format!("not an ISO UTC timestamp: {:?}", cell(ts)),
            )
        })?;
        let target = cell(tg);
        let series = fleet
            .series_of
            .get(target)
            .ok_or_else(|| bad("target", format!("{target:?} is not a target of the fleet file")))?;
        let v = cell(val)
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| bad("usd_per_th_day", format!("not a number >= 0: {:?}", cell(val))))?;
        if t < from || t > to {
            continue;
        }
        let m = by_time.entry(t).or_default();
        if m.get(series).is_some_and(|old| *old != v) {
            return Err(bad(
                "target",
                format!("a second, different value for series {series:?} at this time"),
            ));
        }
        m.insert(series.clone(), v);
    }
    let needed = needed(fleet);
    for (t, m) in &by_time {
        if let Some(s) = needed.iter().find(|s| !m.contains_key(s.as_str())) {
            return Err(SeriesError::Gap {
                time: iso_utc(*t),
                series: (*s).clone(),
            });
        }
    }
    Ok(by_time
        .into_iter()
        .map(|(unix, market)| Step { unix, market })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        assert_eq!(parse_utc("1970-01-01"), Some(0));
        assert_eq!(parse_utc("2023-06-15T00:15:00Z"), Some(19_523 * 86_400 + 900));
        assert_eq!(parse_utc("2023-06-15T24:00:00Z"), None);
        assert_eq!(
            parse_utc("2023-06-15T10:00:00"),
            None,
            "UTC only: the Z is required"
        );
        assert_eq!(parse_utc("yesterday"), None);
    }
}
