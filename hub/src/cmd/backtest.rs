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
use hashward_econ::alloc::series::{coins_needed, daily_steps as daily_steps_of, intraday_steps, parse_utc};
use serde_json::json;
use std::collections::HashMap;
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
    file.into_fleet()
        .with_context(|| format!("--fleet {}", path.display()))
}

/// Daily steps from `DIR/<coin>_daily.csv` (+ `<coin>_retargets.csv` when present).
fn daily_steps(fleet: &Fleet, dir: &Path, from: i64, to: i64) -> anyhow::Result<(Vec<Step>, usize)> {
    let mut tables = HashMap::new();
    for coin in coins_needed(fleet).context("--fleet")? {
        let sym = coin.symbol().to_ascii_lowercase();
        let daily = read("data", &dir.join(format!("{sym}_daily.csv")))?;
        let rt_path = dir.join(format!("{sym}_retargets.csv"));
        let retargets = if rt_path.exists() {
            Some(read("data", &rt_path)?)
        } else {
            None
        };
        tables.insert(coin, (daily, retargets));
    }
    daily_steps_of(fleet, &tables, from, to).with_context(|| format!("--data {}", dir.display()))
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
        (None, Some(p)) => {
            let text = read("intraday", p)?;
            let steps = intraday_steps(&fleet, &text, from, to)
                .with_context(|| format!("--intraday {}", p.display()))?;
            (steps, 0, "intraday")
        }
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
                x.strategy,
                x.net_profit_usd,
                x.revenue_usd,
                x.electricity_usd,
                x.switching_loss_usd,
                x.switches
            );
        }
    }
    Ok(())
}
