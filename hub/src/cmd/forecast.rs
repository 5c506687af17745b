//! `hashward-hub forecast difficulty|earnings`: the forecasts from history tables on disk, for
//! operators and for evaluation. `difficulty` reads a retarget table (btc_retargets.csv shape)
//! and runs the difficulty model; `earnings` reads a daily table (btc_daily.csv shape), with a
//! retarget table for the days it has no difficulty, and forecasts 24 h and 30 d.
//!
//! Must never read past the tables' last row, or print a forecast for a table it could not
//! read whole (the error names the line and column).

use crate::econ::DifficultyModel;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use hashward_econ::forecast::{forecast, RevenueSeries};
use hashward_econ::history::{parse_daily, parse_retargets, RetargetRow};
use hashward_econ::Coin;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Where the model is in a source checkout (run from the repository root).
pub const DEFAULT_MODEL_DIR: &str = "models/hub/difficulty_forecast";

#[derive(Debug, Args)]
pub struct ForecastArgs {
    #[command(subcommand)]
    pub what: Forecast,
}

#[derive(Debug, Subcommand)]
pub enum Forecast {
    /// The next N retargets with 80 % intervals.
    Difficulty(DifficultyArgs),
    /// A miner's revenue over the next 24 h and 30 d with 80 % intervals.
    Earnings(EarningsArgs),
}

#[derive(Debug, Args)]
pub struct DifficultyArgs {
    #[arg(long)]
    pub coin: String,
    /// A retarget table (height, unix_time, bits, difficulty columns).
    #[arg(long)]
    pub retargets: PathBuf,
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// The difficulty_forecast model directory.
    #[arg(long, default_value = DEFAULT_MODEL_DIR)]
    pub model_dir: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct EarningsArgs {
    #[arg(long)]
    pub coin: String,
    /// A daily table (date, price, difficulty, fees, block-count columns).
    #[arg(long)]
    pub daily: PathBuf,
    /// A retarget table for the days the daily table has no difficulty; with it, the
    /// difficulty model's growth drives the 30-day forecast (else the 84-day drift does).
    #[arg(long)]
    pub retargets: Option<PathBuf>,
    #[arg(long)]
    pub hashrate_ths: f64,
    #[arg(long, default_value = DEFAULT_MODEL_DIR)]
    pub model_dir: PathBuf,
    #[arg(long)]
    pub json: bool,
}

fn read(flag: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("--{flag} {}", path.display()))
}

fn retargets(path: &Path) -> anyhow::Result<Vec<RetargetRow>> {
    parse_retargets(&read("retargets", path)?).with_context(|| format!("--retargets {}", path.display()))
}

pub fn run(args: ForecastArgs) -> anyhow::Result<()> {
    match args.what {
        Forecast::Difficulty(a) => difficulty(a),
        Forecast::Earnings(a) => earnings(a),
    }
}

fn difficulty(a: DifficultyArgs) -> anyhow::Result<()> {
    let coin: Coin = a.coin.parse().context("--coin")?;
    if a.epochs == 0 || a.epochs > 100 {
        bail!("--epochs must be 1..100, got {}", a.epochs);
    }
    let rows = retargets(&a.retargets)?;
    let model = DifficultyModel::load(&a.model_dir).context("--model-dir")?;
    let epochs = model.forecast(coin, &rows, a.epochs)?;
    let last = rows.last().context("--retargets: no rows")?;
    if a.json {
        println!(
            "{}",
            json!({"coin": coin, "model_version": model.version, "from_height": last.height,
                   "from_difficulty": last.difficulty, "interval_pct": 80, "epochs": epochs})
        );
    } else {
        for e in epochs {
            println!(
                "{coin} height {}: {:.6e} (80 %: {:.6e} .. {:.6e})",
                e.height, e.difficulty, e.lower, e.upper
            );
        }
    }
    Ok(())
}

fn earnings(a: EarningsArgs) -> anyhow::Result<()> {
    let coin: Coin = a.coin.parse().context("--coin")?;
    if !(a.hashrate_ths.is_finite() && a.hashrate_ths > 0.0) {
        bail!("--hashrate-ths must be a number > 0, got {}", a.hashrate_ths);
    }
    let daily = parse_daily(coin, &read("daily", &a.daily)?)
        .with_context(|| format!("--daily {}", a.daily.display()))?;
    let rows = match &a.retargets {
        Some(p) => retargets(p)?,
        None => Vec::new(),
    };
    let series = RevenueSeries::build(coin, &daily, &rows)?;
    // The model's growth when a retarget table and the model are there; the drift otherwise,
    // said in the output.
    let (growth, source) = match (rows.is_empty(), DifficultyModel::load(&a.model_dir)) {
        (false, Ok(m)) => (
            Some(m.growth_per_day(coin, &rows)?),
            format!("model {}", m.version),
        ),
        (true, _) => (None, "84-day drift (no --retargets)".to_string()),
        (false, Err(e)) => {
            log::warn!("difficulty model not used: {e}");
            (None, format!("84-day drift (model not loaded: {e})"))
        }
    };
    let f = forecast(&series, a.hashrate_ths * 1e12, growth)?;
    if a.json {
        let mut v = serde_json::to_value(f)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("coin".into(), json!(coin));
            o.insert("hashrate_ths".into(), json!(a.hashrate_ths));
            o.insert("difficulty_growth_source".into(), json!(source));
            o.insert("interval_pct".into(), json!(80));
        }
        println!("{v}");
    } else {
        println!(
            "{coin} at {} TH/s: next 24 h {:.4} USD (80 %: {:.4} .. {:.4}), next 30 d {:.2} USD ({:.2} .. {:.2}), confidence {:.2}",
            a.hashrate_ths,
            f.next_24h.estimated_usd,
            f.next_24h.lower_usd,
            f.next_24h.upper_usd,
            f.next_30d.estimated_usd,
            f.next_30d.lower_usd,
            f.next_30d.upper_usd,
            f.confidence
        );
    }
    Ok(())
}
