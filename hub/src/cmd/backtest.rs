//! `hashward-hub backtest allocation`: replays history through the allocation policy and its
//! baselines (hashward_econ::alloc::backtest) and prints net profit after switching losses and
//! switch counts. Inputs anyone can supply: a fleet file (`--fleet`, TOML, unknown keys refused),
//! and either daily history in the `*_daily.csv` / `*_retargets.csv` shapes (`--data DIR`; the
//! value per TH/s per day comes from difficulty, subsidy, fees and price) or an intraday
//! profitability feed (`--intraday FILE.csv`: `timestamp_utc,target,usd_per_th_day`).
//!
//! Must never fill a gap: an intraday timestamp missing a target's value is an error naming
//! it, and a day without a value for every series is left out and counted.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use hashward_econ::alloc::backtest::{run, Report, Step};
use hashward_econ::alloc::fleet::{Fleet, FleetFile};
use hashward_econ::alloc::Market;
use hashward_econ::forecast::RevenueSeries;
use hashward_econ::history::{day_number, parse_daily, parse_retargets};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct BacktestArgs {
    #[command(subcommand)]
    pub what: Backtest,
}

#[derive(Debug, Subcommand)]
pub enum Backtest {
    /// The allocation policy against always-one-target, instantaneous-best and NemosMiner's
    /// 10 % rule: net profit after switching losses and switch counts.
    Allocation(AllocationArgs),
}

#[derive(Debug, Args)]
pub struct AllocationArgs {
    /// The fleet file (see packaging/examples/fleet-backtest.toml).
    #[arg(long)]
    pub fleet: PathBuf,
    /// A directory with `<coin>_daily.csv` and (optionally) `<coin>_retargets.csv` tables.
    #[arg(long, conflicts_with = "intraday")]
    pub data: Option<PathBuf>,
    /// An intraday profitability CSV: `timestamp_utc,target,usd_per_th_day`.
    #[arg(long)]
    pub intraday: Option<PathBuf>,
    /// First day replayed (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub from: String,
    /// Last day replayed, inclusive (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub to: String,
    #[arg(long)]
    pub json: bool,
}

pub fn run_cmd(args: BacktestArgs) -> anyhow::Result<()> {
    match args.what {
        Backtest::Allocation(a) => allocation(a),
    }
}

fn read(flag: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("--{flag} {}", path.display()))
}

/// Parses a fleet file; errors name the file, then the line/key (TOML) or the miner and field.
pub fn load_fleet(path: &Path) -> anyhow::Result<Fleet> {
    let text = read("fleet", path)?;
    let file: FleetFile = toml::from_str(&text).with_context(|| format!("--fleet {}", path.display()))?;
    file.into_fleet().with_context(|| format!("--fleet {}", path.display()))
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
            if p.next().is_some() || !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..61).contains(&sec) {
                return None;
            }
            h * 3600 + m * 60 + sec
        }
    };
    Some(day * 86_400 + secs)
}

/// Daily steps from `DIR/<coin>_daily.csv` (+ retargets): one per day that has every series.
fn daily_steps(fleet: &Fleet, dir: &Path, from: i64, to: i64) -> anyhow::Result<(Vec<Step>, usize)> {
    let needed: Vec<&String> = {
        let mut v: Vec<&String> = fleet.series_of.values().collect();
        v.sort();
        v.dedup();
        v
    };
    let mut by_series: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    for series in needed {
        let Some(coin) = fleet.coin_of_series.get(series) else {
            let target = fleet
                .series_of
                .iter()
                .find(|(_, s)| *s == series)
                .map_or(series.as_str(), |(t, _)| t.as_str());
            bail!("--fleet: target {target:?} has no coin for --data (add [targets.{target}] coin = \"btc\")");
        };
        let sym = coin.symbol().to_ascii_lowercase();
        let daily_path = dir.join(format!("{sym}_daily.csv"));
        let daily = parse_daily(*coin, &read("data", &daily_path)?).with_context(|| format!("{}", daily_path.display()))?;
        let rt_path = dir.join(format!("{sym}_retargets.csv"));
        let retargets = if rt_path.exists() {
            parse_retargets(&read("data", &rt_path)?).with_context(|| format!("{}", rt_path.display()))?
        } else {
            Vec::new()
        };
        let s = RevenueSeries::build(*coin, &daily, &retargets)?;
        let values = s
            .days
            .iter()
            .zip(&s.usd_per_hs_day)
            .map(|(d, v)| (*d, v * 1e12))
            .collect();
        by_series.insert(series.clone(), values);
    }
    let (first_day, last_day) = (from.div_euclid(86_400), to.div_euclid(86_400));
    let (mut steps, mut skipped) = (Vec::new(), 0);
    for day in first_day..=last_day {
        let market: Option<Market> = by_series
            .iter()
            .map(|(k, m)| m.get(&day).map(|v| (k.clone(), *v)))
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

/// Intraday steps; errors name the line and column.
fn intraday_steps(fleet: &Fleet, path: &Path, from: i64, to: i64) -> anyhow::Result<Vec<Step>> {
    let text = read("intraday", path)?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        bail!("--intraday {}: empty file", path.display());
    };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .with_context(|| format!("--intraday {}: missing column {name:?} in the header", path.display()))
    };
    let (ts, tg, val) = (col("timestamp_utc")?, col("target")?, col("usd_per_th_day")?);
    let mut by_time: BTreeMap<i64, Market> = BTreeMap::new();
    for (i, line) in lines {
        let n = i + 1;
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let cell = |c: usize| f.get(c).copied().unwrap_or("");
        let bad = |column: &str, why: String| anyhow::anyhow!("--intraday {} line {n}, column {column:?}: {why}", path.display());
        let t = parse_utc(cell(ts)).ok_or_else(|| bad("timestamp_utc", format!("not an ISO UTC timestamp: {:?}", cell(ts))))?;
        let target = cell(tg);
        let series = fleet
            .series_of
            .get(target)
            .ok_or_else(|| bad("target", format!("{target:?} is not a target of the fleet file")))?;
        let v: f64 = cell(val)
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| bad("usd_per_th_day", format!("not a number >= 0: {:?}", cell(val))))?;
        if t < from || t > to {
            continue;
        }
        let m = by_time.entry(t).or_default();
        if m.get(series).is_some_and(|old| *old != v) {
            return Err(bad("target", format!("a second, different value for series {series:?} at this time")));
        }
        m.insert(series.clone(), v);
    }
    let mut needed: Vec<&String> = fleet.series_of.values().collect();
    needed.sort();
    needed.dedup();
    for (t, m) in &by_time {
        if let Some(s) = needed.iter().find(|s| !m.contains_key(s.as_str())) {
            bail!(
                "--intraday {}: {} has no value for series {s:?}",
                path.display(),
                hashward_econ::history::iso_utc(*t)
            );
        }
    }
    Ok(by_time
        .into_iter()
        .map(|(unix, market)| Step { unix, market })
        .collect())
}

fn allocation(a: AllocationArgs) -> anyhow::Result<()> {
    let fleet = load_fleet(&a.fleet)?;
    let from = parse_utc(&a.from).with_context(|| format!("--from: not a YYYY-MM-DD date: {:?}", a.from))?;
    let to = parse_utc(&a.to).with_context(|| format!("--to: not a YYYY-MM-DD date: {:?}", a.to))?;
    // A bare --to date includes that whole day.
    let to = if a.to.contains('T') { to } else { to + 86_399 };
    if to < from {
        bail!("--to {} is before --from {}", a.to, a.from);
    }
    let (steps, skipped, source) = match (&a.data, &a.intraday) {
        (Some(dir), None) => {
            let (s, k) = daily_steps(&fleet, dir, from, to)?;
            (s, k, "daily")
        }
        (None, Some(p)) => (intraday_steps(&fleet, p, from, to)?, 0, "intraday"),
        _ => bail!("give one of --data DIR or --intraday FILE.csv"),
    };
    let report = run(&fleet.rigs, &fleet.sites, &fleet.policy, &steps)?;
    print(&a, &report, skipped, source)
}

fn print(a: &AllocationArgs, r: &Report, skipped: usize, source: &str) -> anyhow::Result<()> {
    let find = |n: &str| r.results.iter().find(|x| x.strategy == n);
    let best_single = r
        .results
        .iter()
        .filter(|x| x.strategy.starts_with("always:"))
        .max_by(|x, y| x.net_profit_usd.total_cmp(&y.net_profit_usd));
    let policy = find("policy").context("no policy result")?;
    let ib = find("instantaneous_best").context("no instantaneous_best result")?;
    let vs_ib_pct = (ib.net_profit_usd.abs() > 0.0)
        .then(|| (policy.net_profit_usd - ib.net_profit_usd) / ib.net_profit_usd.abs() * 100.0);
    if a.json {
        println!(
            "{}",
            json!({
                "source": source,
                "from": hashward_econ::history::iso_utc(r.from_unix),
                "to": hashward_econ::history::iso_utc(r.to_unix),
                "steps": r.steps,
                "days_skipped_missing_values": skipped,
                "rigs": r.rigs,
                "results": r.results,
                "best_single_target": best_single.map(|b| b.strategy.clone()),
                "policy_vs_instantaneous_best_pct": vs_ib_pct,
                "switch_ratio_instantaneous_best_to_policy": (policy.switches > 0)
                    .then(|| ib.switches as f64 / policy.switches as f64),
            })
        );
    } else {
        println!(
            "{} steps ({source}), {} .. {}, {} rigs",
            r.steps,
            hashward_econ::history::iso_utc(r.from_unix),
            hashward_econ::history::iso_utc(r.to_unix),
            r.rigs
        );
        println!(
            "{:<28} {:>14} {:>14} {:>14} {:>12} {:>9}",
            "strategy", "net_usd", "revenue_usd", "power_usd", "switch_loss", "switches"
        );
        for x in &r.results {
            println!(
                "{:<28} {:>14.2} {:>14.2} {:>14.2} {:>12.2} {:>9}",
                x.strategy, x.net_profit_usd, x.revenue_usd, x.electricity_usd, x.switching_loss_usd, x.switches
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        assert_eq!(parse_utc("1970-01-01"), Some(0));
        assert_eq!(parse_utc("2023-06-15T00:15:00Z"), Some(19_523 * 86_400 + 900));
        assert_eq!(parse_utc("2023-06-15T24:00:00Z"), None);
        assert_eq!(parse_utc("2023-06-15T10:00:00"), None, "UTC only: the Z is required");
        assert_eq!(parse_utc("yesterday"), None);
    }
}
