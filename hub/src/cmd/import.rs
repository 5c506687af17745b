//! `hashward-hub import --coin bitcoin --file btc_daily.csv`: loads a coin's daily history (the
//! `../shared/data/*_daily.csv` shape) into the hub store's daily market table, the one the
//! collectors fill. Idempotent: a day already stored with the same values is left alone, so a
//! re-import adds nothing.
//!
//! Must never run beside a serving hub on the same store (redb refuses the second opener; the
//! error says to stop the hub).

use crate::collect::{coins, import};
use crate::store::Store;
use anyhow::{bail, Context};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The coin (CoinGecko id, symbol or CoinMarketCap id): bitcoin, litecoin, dogecoin...
    #[arg(long)]
    pub coin: String,
    /// A daily history CSV (date, cg_price_usd and/or cm_price_usd, ...).
    #[arg(long)]
    pub file: PathBuf,
    /// The hub's data directory (holds hub.redb).
    #[arg(long, default_value = crate::cli::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let Some(coin) = coins::lookup(&args.coin) else {
        let known: Vec<&str> = coins::COINS.iter().map(|c| c.id).collect();
        bail!("unknown coin {:?} (known: {})", args.coin, known.join(", "));
    };
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let parsed = import::parse_daily(&text).with_context(|| format!("{}", args.file.display()))?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let path = args.data_dir.join("hub.redb");
    let store = Store::open(&path).with_context(|| {
        format!(
            "opening {} (stop the hub first: the store has one writer)",
            path.display()
        )
    })?;
    let w = store.store_daily(coin.id, &parsed.points, hashward_common::clock::now_ms())?;
    println!(
        "{}: {} days read, {} inserted, {} updated, {} unchanged, {} without a price skipped",
        coin.id,
        parsed.points.len(),
        w.inserted,
        w.updated,
        w.unchanged,
        parsed.without_price
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_re_import_adds_nothing_and_an_unknown_coin_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("ltc_daily.csv");
        std::fs::write(
            &csv,
            "date,cm_price_usd,cg_price_usd,cg_market_cap_usd,cg_volume_usd\n2013-04-28,4.3,,,\n2013-04-29,4.4,4.38,7.0e7,1.0e6\n2013-04-30,,,,\n",
        )
        .expect("write");
        let args = |coin: &str| ImportArgs {
            coin: coin.into(),
            file: csv.clone(),
            data_dir: dir.path().join("hub"),
        };
        run(args("LTC")).expect("import");
        run(args("litecoin")).expect("re-import");
        let store = Store::open(&dir.path().join("hub").join("hub.redb")).expect("open");
        let days = store.daily("litecoin", 0, u64::MAX, 100).expect("daily");
        assert_eq!(
            days.iter().map(|p| p.price_usd).collect::<Vec<_>>(),
            vec![4.3, 4.38]
        );
        drop(store);
        let e = run(args("monero")).expect_err("unknown").to_string();
        assert!(e.contains("\"monero\""), "{e}");
    }
}
