//! The earnings forecast (seed 000 §4): for a miner of a given hashrate, the revenue of the next
//! 24 h and the next 30 d, with an 80 % interval and a confidence, from the coin's daily history.
//!
//! Method (all per day, in USD, after no pool fee):
//! - the daily revenue per H/s, r(t) = 86400 x (subsidy + fees per block) / (D(t) x 2^32) x
//!   price(t): D(t) the difficulty in force that day, fees per block the day's total / blocks
//!   (trailing 7-day mean of the known days, since fee samples have gaps);
//! - 24 h point at origin t = H x r(t) (price and difficulty persist for a day);
//! - 30 d point = sum over k = 1..30 of H x r(t) x exp(-g x k), g the difficulty's growth per
//!   day (the caller's, from the difficulty forecast, else the trailing 84-day drift of D);
//!   price persists (a random walk has no better point forecast);
//! - bounds: the 10th and 90th percentiles of log(actual / point) over the previous 365 origins
//!   whose outcome is known by t, applied to the point (residual quantiles: an 80 % interval);
//! - confidence = max(0, 1 - (upper - lower) / point).
//!
//! Must never use data after the origin: every quantity at origin t reads rows <= t only.

use crate::coin::Coin;
use crate::history::{DailyRow, RetargetRow};
use serde::Serialize;

const WINDOW: usize = 365;
const DRIFT_DAYS: usize = 84;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    #[error("hashrate must be a finite number > 0, got {0}")]
    Hashrate(f64),
    #[error("no day with price, difficulty and block reward in the history")]
    NoUsableDay,
    #[error("not enough history: {have} usable days, need {need} before the origin")]
    TooShort { have: usize, need: usize },
}

/// Revenue per H/s per day on each usable day (price and difficulty known).
#[derive(Debug, Clone, PartialEq)]
pub struct RevenueSeries {
    pub coin: Coin,
    pub days: Vec<i64>,
    pub usd_per_hs_day: Vec<f64>,
    pub difficulty: Vec<f64>,
}

impl RevenueSeries {
    /// From the daily table and, where the table has no difficulty (Bitcoin after 2020-07, all
    /// of Litecoin's), the retarget table: the difficulty in force at the day's noon UTC, and
    /// the height there (for the subsidy) interpolated at the coin's spacing.
    pub fn build(
        coin: Coin,
        daily: &[DailyRow],
        retargets: &[RetargetRow],
    ) -> Result<RevenueSeries, ForecastError> {
        let timed: Vec<&RetargetRow> = retargets.iter().filter(|r| r.unix_time.is_some()).collect();
        let mut fees_per_block: Vec<f64> = Vec::new();
        let mut out = RevenueSeries {
            coin,
            days: vec![],
            usd_per_hs_day: vec![],
            difficulty: vec![],
        };
        for row in daily {
            if let (Some(f), Some(b)) = (row.fees_coin, row.blocks) {
                if b > 0.0 {
                    fees_per_block.push(f / b);
                }
            }
            let noon = row.day * 86_400 + 43_200;
            let epoch = timed
                .partition_point(|r| r.unix_time.unwrap_or(i64::MAX) <= noon)
                .checked_sub(1)
                .map(|i| timed[i]);
            // As-of join only inside the table's span: after its last timed row the epoch
            // in force is not known.
            let inside = timed
                .last()
                .is_some_and(|l| l.unix_time.unwrap_or(0) + 14 * 86_400 > noon);
            let (difficulty, height) = match (row.difficulty, epoch.filter(|_| inside)) {
                (_, Some(e)) => {
                    let since = (noon - e.unix_time.unwrap_or(noon)).max(0) as u64;
                    (
                        Some(e.difficulty),
                        Some(e.height + since / coin.block_spacing_s()),
                    )
                }
                (Some(d), None) => (Some(d), None),
                (None, None) => (None, None),
            };
            let (Some(price), Some(d)) = (row.price_usd, difficulty) else {
                continue;
            };
            let Some(height) = height.or_else(|| height_by_date(coin, row.day)) else {
                continue;
            };
            let recent = &fees_per_block[fees_per_block.len().saturating_sub(7)..];
            let fees = if recent.is_empty() {
                0.0
            } else {
                recent.iter().sum::<f64>() / recent.len() as f64
            };
            let reward = coin.block_subsidy(height) + fees;
            out.days.push(row.day);
            out.usd_per_hs_day
                .push(86_400.0 * reward / (d * 4_294_967_296.0) * price);
            out.difficulty.push(d);
        }
        if out.days.is_empty() {
            return Err(ForecastError::NoUsableDay);
        }
        Ok(out)
    }

    fn index_of(&self, day: i64) -> Option<usize> {
        self.days.binary_search(&day).ok()
    }
}

/// Heights at known days, for days the retarget table does not cover (the daily table's
/// difficulty era before the retarget join): interpolated between halvings.
fn height_by_date(coin: Coin, day: i64) -> Option<u64> {
    let anchors: &[(&str, u64)] = match coin {
        Coin::Bitcoin => &[
            ("2009-01-03", 0),
            ("2012-11-28", 210_000),
            ("2016-07-09", 420_000),
            ("2020-05-11", 630_000),
            ("2024-04-20", 840_000),
        ],
        Coin::Litecoin => &[
            ("2011-10-07", 0),
            ("2015-08-25", 840_000),
            ("2019-08-05", 1_680_000),
        ],
        Coin::Dogecoin => &[("2013-12-06", 0), ("2015-02-26", 600_000)],
    };
    let pts: Vec<(i64, u64)> = anchors
        .iter()
        .filter_map(|(d, h)| crate::history::day_number(d).map(|d| (d, *h)))
        .collect();
    let i = pts.partition_point(|(d, _)| *d <= day);
    if i == 0 {
        return None;
    }
    let (d0, h0) = pts[i - 1];
    let per_day = 86_400 / coin.block_spacing_s();
    Some(h0 + (day - d0).max(0) as u64 * per_day)
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Horizon {
    pub estimated_usd: f64,
    pub lower_usd: f64,
    pub upper_usd: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EarningsForecast {
    pub origin_day: i64,
    pub hashrate_hs: f64,
    pub next_24h: Horizon,
    pub next_30d: Horizon,
    pub confidence: f64,
    pub difficulty_growth_per_day: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Per-H/s point forecasts for 1 and 30 days at every origin index, and their outcomes where
/// known (None past the series' end or where a day is missing).
struct Points {
    p1: Vec<f64>,
    p30: Vec<f64>,
    a1: Vec<Option<f64>>,
    a30: Vec<Option<f64>>,
    growth: Vec<f64>,
}

fn points(s: &RevenueSeries, growth_override: Option<f64>) -> Points {
    let n = s.days.len();
    let mut p = Points {
        p1: vec![0.0; n],
        p30: vec![0.0; n],
        a1: vec![None; n],
        a30: vec![None; n],
        growth: vec![0.0; n],
    };
    for i in 0..n {
        let g = growth_override.unwrap_or_else(|| {
            let back = s.index_of(s.days[i] - DRIFT_DAYS as i64);
            back.map_or(0.0, |j| {
                (s.difficulty[i] / s.difficulty[j]).ln() / DRIFT_DAYS as f64
            })
        });
        p.growth[i] = g;
        p.p1[i] = s.usd_per_hs_day[i];
        p.p30[i] = (1..=30)
            .map(|k| s.usd_per_hs_day[i] * (-g * k as f64).exp())
            .sum();
        p.a1[i] = s.index_of(s.days[i] + 1).map(|j| s.usd_per_hs_day[j]);
        p.a30[i] = (1..=30)
            .map(|k| s.index_of(s.days[i] + k).map(|j| s.usd_per_hs_day[j]))
            .sum::<Option<f64>>();
    }
    p
}

/// log(actual / point) of the origins whose outcome is known by origin `i` (horizon `h` days).
fn residuals(s: &RevenueSeries, pts: &[f64], acts: &[Option<f64>], i: usize, h: i64) -> Vec<f64> {
    let mut r: Vec<f64> = (i.saturating_sub(WINDOW + h as usize)..i)
        .filter(|&j| s.days[j] + h <= s.days[i])
        .filter_map(|j| acts[j].map(|a| (a / pts[j]).ln()))
        .filter(|x| x.is_finite())
        .collect();
    r.sort_by(f64::total_cmp);
    r
}

fn horizon(point: f64, res: &[f64], hashrate: f64) -> Horizon {
    let (q10, q90) = (percentile(res, 0.1), percentile(res, 0.9));
    Horizon {
        estimated_usd: point * hashrate,
        lower_usd: point * q10.exp().min(1.0) * hashrate,
        upper_usd: point * q90.exp().max(1.0) * hashrate,
    }
}

fn forecast_with(
    s: &RevenueSeries,
    p: &Points,
    i: usize,
    hashrate_hs: f64,
) -> Result<EarningsForecast, ForecastError> {
    let r1 = residuals(s, &p.p1, &p.a1, i, 1);
    let r30 = residuals(s, &p.p30, &p.a30, i, 30);
    if r1.len() < 30 || r30.len() < 30 {
        return Err(ForecastError::TooShort {
            have: r1.len().min(r30.len()),
            need: 30,
        });
    }
    let next_24h = horizon(p.p1[i], &r1, hashrate_hs);
    let next_30d = horizon(p.p30[i], &r30, hashrate_hs);
    let confidence = if next_24h.estimated_usd > 0.0 {
        (1.0 - (next_24h.upper_usd - next_24h.lower_usd) / next_24h.estimated_usd).max(0.0)
    } else {
        0.0
    };
    Ok(EarningsForecast {
        origin_day: s.days[i],
        hashrate_hs,
        next_24h,
        next_30d,
        confidence,
        difficulty_growth_per_day: p.growth[i],
    })
}

/// The forecast at the series' last day.
pub fn forecast(
    s: &RevenueSeries,
    hashrate_hs: f64,
    difficulty_growth_per_day: Option<f64>,
) -> Result<EarningsForecast, ForecastError> {
    if !(hashrate_hs.is_finite() && hashrate_hs > 0.0) {
        return Err(ForecastError::Hashrate(hashrate_hs));
    }
    let p = points(s, difficulty_growth_per_day);
    forecast_with(s, &p, s.days.len() - 1, hashrate_hs)
}

/// Rolling-origin backtest over origins in [from_day, to_day]: MAPE of each horizon and the
/// share of outcomes inside the 80 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Backtest {
    pub origins: usize,
    pub mape_24h_pct: f64,
    pub mape_30d_pct: f64,
    pub coverage_24h_pct: f64,
    pub coverage_30d_pct: f64,
}

/// `growth`: the difficulty growth per day to assume (None: the trailing drift, as
/// [`forecast`] without a model; Some(0.0): the flat reference, today's revenue x 30).
pub fn backtest(
    s: &RevenueSeries,
    hashrate_hs: f64,
    from_day: i64,
    to_day: i64,
    growth: Option<f64>,
) -> Result<Backtest, ForecastError> {
    let p = points(s, growth);
    let (mut n, mut e1, mut e30, mut c1, mut c30) = (0usize, 0.0, 0.0, 0usize, 0usize);
    for i in 0..s.days.len() {
        if s.days[i] < from_day || s.days[i] > to_day {
            continue;
        }
        let (Some(a1), Some(a30)) = (p.a1[i], p.a30[i]) else {
            continue;
        };
        let Ok(f) = forecast_with(s, &p, i, hashrate_hs) else {
            continue;
        };
        let (a1, a30) = (a1 * hashrate_hs, a30 * hashrate_hs);
        n += 1;
        e1 += ((f.next_24h.estimated_usd - a1) / a1).abs();
        e30 += ((f.next_30d.estimated_usd - a30) / a30).abs();
        c1 += usize::from((f.next_24h.lower_usd..=f.next_24h.upper_usd).contains(&a1));
        c30 += usize::from((f.next_30d.lower_usd..=f.next_30d.upper_usd).contains(&a30));
    }
    if n == 0 {
        return Err(ForecastError::TooShort { have: 0, need: 1 });
    }
    let pct = |x: f64| 100.0 * x / n as f64;
    Ok(Backtest {
        origins: n,
        mape_24h_pct: pct(e1),
        mape_30d_pct: pct(e30),
        coverage_24h_pct: pct(c1 as f64),
        coverage_30d_pct: pct(c30 as f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(days: i64, growth: f64) -> RevenueSeries {
        // A steady world: revenue falls by `growth` per day (difficulty rising), with a weekly
        // +-2 % wiggle so residuals are not all zero.
        let days_v: Vec<i64> = (0..days).collect();
        let d: Vec<f64> = days_v.iter().map(|&t| 1e13 * (growth * t as f64).exp()).collect();
        let r: Vec<f64> = days_v
            .iter()
            .map(|&t| 1e-12 * (-growth * t as f64).exp() * (1.0 + 0.02 * ((t % 7) as f64 - 3.0) / 3.0))
            .collect();
        RevenueSeries {
            coin: Coin::Bitcoin,
            days: days_v,
            usd_per_hs_day: r,
            difficulty: d,
        }
    }

    #[test]
    fn a_steady_world_is_forecast_closely_and_covered() {
        let s = synthetic(800, 0.001);
        let f = forecast(&s, 1e14, None).expect("forecast");
        // 24 h point = today's revenue x 1e14.
        assert!((f.next_24h.estimated_usd - s.usd_per_hs_day[799] * 1e14).abs() < 1e-9);
        assert!(
            (f.difficulty_growth_per_day - 0.001).abs() < 1e-9,
            "the drift recovered"
        );
        assert!(
            f.next_24h.lower_usd <= f.next_24h.estimated_usd
                && f.next_24h.estimated_usd <= f.next_24h.upper_usd
        );
        assert!(f.confidence > 0.9, "{}", f.confidence);
        let b = backtest(&s, 1e14, 450, 760, None).expect("backtest");
        assert!(b.mape_24h_pct < 3.0 && b.mape_30d_pct < 3.0, "{b:?}");
        assert!(b.coverage_24h_pct > 60.0, "{b:?}");
    }

    #[test]
    fn refuses_a_bad_hashrate_and_short_history() {
        let s = synthetic(800, 0.0);
        assert_eq!(forecast(&s, -1.0, None), Err(ForecastError::Hashrate(-1.0)));
        let short = synthetic(20, 0.0);
        assert!(matches!(
            forecast(&short, 1.0, None),
            Err(ForecastError::TooShort { .. })
        ));
    }
}
