//! `hashward-hub economics`: a miner's day in money from values given on the command line
//! (revenue, cost, profit, hashprice, J/TH), the block subsidy from the coin's schedule at the
//! given height. Command-line glue over `hashward_econ::MinerDay`.
//!
//! Must never print a figure for a bad input: the error names the flag.

use anyhow::bail;
use clap::Args;
use hashward_econ::{Coin, Difficulty, Hashrate, MinerDay, Usd, Watts};

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct EconomicsArgs {
    /// bitcoin, litecoin or dogecoin (or btc, ltc, doge).
    #[arg(long)]
    pub coin: String,
    #[arg(long)]
    pub hashrate_ths: f64,
    #[arg(long)]
    pub power_w: f64,
    #[arg(long)]
    pub tariff_usd_kwh: f64,
    /// The network difficulty (Bitcoin's definition).
    #[arg(long)]
    pub difficulty: f64,
    #[arg(long)]
    pub price_usd: f64,
    /// Block height: the subsidy is the coin's at this height.
    #[arg(long)]
    pub height: u64,
    /// Mean transaction fees per block, in coins [default: 0].
    #[arg(long, default_value_t = 0.0)]
    pub fees_per_block_coin: f64,
    /// Pool fee in percent [default: 0].
    #[arg(long, default_value_t = 0.0)]
    pub pool_fee_pct: f64,
    /// Print JSON (units in the field names) instead of sentences.
    #[arg(long)]
    pub json: bool,
}

/// The flag a unit error belongs to.
fn flag<T, E: std::fmt::Display>(name: &str, r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("--{name}: {e}"))
}

pub fn run(a: EconomicsArgs) -> anyhow::Result<()> {
    let coin: Coin = flag("coin", a.coin.parse())?;
    let day = MinerDay {
        coin,
        hashrate: flag("hashrate-ths", Hashrate::from_terahashes(a.hashrate_ths))?,
        power: flag("power-w", Watts::new(a.power_w))?,
        tariff_usd_kwh: flag("tariff-usd-kwh", Usd::new(a.tariff_usd_kwh))?,
        difficulty: flag("difficulty", Difficulty::new(a.difficulty))?,
        price_usd: flag("price-usd", Usd::new(a.price_usd))?,
        height: a.height,
        fees_per_block_coin: a.fees_per_block_coin,
        pool_fee_pct: a.pool_fee_pct,
    };
    let e = match day.economics() {
        Ok(e) => e,
        Err(e) => bail!("--{}: {}", e.field.replace('_', "-"), e.reason),
    };
    if a.json {
        let mut v = serde_json::to_value(e)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("hashrate_ths".into(), a.hashrate_ths.into());
            o.insert("power_w".into(), a.power_w.into());
            o.insert("height".into(), a.height.into());
        }
        println!("{v}");
    } else {
        println!(
            "{coin} at {} TH/s: revenue {:.4} USD/day ({:.8} {}), cost {:.4} USD/day ({:.2} kWh), profit {:.4} USD/day",
            a.hashrate_ths,
            e.revenue_usd_day,
            e.coins_per_day,
            coin.symbol(),
            e.cost_usd_day,
            e.energy_kwh_day,
            e.profit_usd_day
        );
        if let Some(h) = e.hashprice_usd_per_ths_day {
            println!("hashprice {h:.6} USD per TH/s per day");
        }
    }
    Ok(())
}
