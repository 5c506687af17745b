//! Against the real history in `../shared/data` (beside the repository; skipped with a message
//! when absent): the retarget rules reproduce every recorded Bitcoin and Litecoin retarget, and
//! the earnings forecast's rolling-origin backtest over 2019-2023 meets its bar.

use hashward_econ::coin::Coin;
use hashward_econ::forecast::{backtest, RevenueSeries};
use hashward_econ::history::{day_number, parse_daily, parse_retargets, RetargetRow};
use hashward_econ::retarget::{next_epoch_bits, Target};
use std::path::PathBuf;

fn data(file: &str) -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(file);
    match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!(
                "SKIPPED: {} not readable ({e}); the history tests need ../shared/data",
                path.display()
            );
            None
        }
    }
}

/// Replays every retarget whose two first-block timestamps exist and returns (checked, worst
/// relative difficulty error, exact bit matches, epochs over 0.2 %).
///
/// The tables hold each epoch's FIRST block time. Consensus measures Bitcoin's timespan from
/// the epoch's first block to its LAST (2015 intervals) and Litecoin's from the previous
/// epoch's last block to this epoch's last (2016 intervals). Consecutive rows span 2016
/// intervals from first block to first block: for Bitcoin one block interval too long, for
/// Litecoin shifted by one block at both ends. One interval of ~600 s (150 s) in 1,209,600 s
/// (302,400 s) is ~0.05 %, and that is the typical error. But a header's time is the miner's
/// and may be off by up to ~2 h (the median-time-past and 2 h future rules), so where a first
/// block's clock was off by an hour the error reaches 0.3-0.4 %: measured on these tables,
/// 9 of 408 Bitcoin and 27 of 1,222 Litecoin epochs exceed 0.2 %, none exceeds 0.43 %. The test
/// bounds every epoch at 0.5 % and at most 3 % of epochs above 0.2 %; where the last block's
/// own time is known (Litecoin, the vendored fixture) the replay is bit-exact (the next test).
fn replay(coin: Coin, rows: &[RetargetRow]) -> (usize, f64, usize, usize) {
    let (mut checked, mut worst, mut exact, mut over) = (0, 0.0f64, 0, 0);
    for w in rows.windows(2) {
        let (prev, next) = (w[0], w[1]);
        let (Some(t0), Some(t1)) = (prev.unix_time, next.unix_time) else {
            continue;
        };
        let bits = next_epoch_bits(coin, next.height, prev.bits, t0, t1).expect("retarget");
        let got = Target::from_compact(bits).expect("bits").difficulty();
        let err = (got / next.difficulty - 1.0).abs();
        assert!(
            err < 0.005,
            "{coin} height {}: replayed {got}, recorded {} ({:.4} %)",
            next.height,
            next.difficulty,
            err * 100.0
        );
        over += usize::from(err > 0.002);
        checked += 1;
        worst = worst.max(err);
        exact += usize::from(bits == next.bits);
    }
    (checked, worst, exact, over)
}

#[test]
fn bitcoin_retargets_reproduce_the_recorded_history() {
    let Some(text) = data("btc_retargets.csv") else {
        return;
    };
    let rows = parse_retargets(&text).expect("table");
    let (checked, worst, exact, over) = replay(Coin::Bitcoin, &rows);
    println!(
        "bitcoin: {checked} retargets replayed, worst {:.4} %, {exact} bit-exact, {over} over 0.2 %",
        worst * 100.0
    );
    assert!(over * 100 <= checked * 3, "{over} of {checked} over 0.2 %");
    assert!(checked >= 400, "{checked}");
}

#[test]
fn litecoin_retargets_reproduce_the_recorded_history() {
    let Some(text) = data("ltc_retargets.csv") else {
        return;
    };
    let rows = parse_retargets(&text).expect("table");
    let (checked, worst, exact, over) = replay(Coin::Litecoin, &rows);
    println!(
        "litecoin: {checked} retargets replayed, worst {:.4} %, {exact} bit-exact, {over} over 0.2 %",
        worst * 100.0
    );
    assert!(over * 100 <= checked * 3, "{over} of {checked} over 0.2 %");
    assert!(checked >= 1200, "{checked}");
}

/// With each epoch's last block time (Litecoin's 2016k-1 headers, vendored from litecoinj,
/// Apache-2.0), the timespan is consensus' own, so every retarget must match bit for bit,
/// including the first one (2015 intervals from genesis) and the overflow shift of the early
/// easy targets.
#[test]
fn litecoin_retargets_are_bit_exact_from_the_last_blocks() {
    let text = include_str!("fixtures/ltc_epoch_last_blocks.csv");
    let rows: Vec<(u64, i64, u32, u32)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("last_height"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let hex = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex");
            (
                f[0].parse().expect("h"),
                f[1].parse().expect("t"),
                hex(f[2]),
                hex(f[3]),
            )
        })
        .collect();
    const GENESIS_TIME: i64 = 1_317_972_665;
    let mut prev_time = GENESIS_TIME;
    let mut mismatches = Vec::new();
    for &(last, time, bits, next_bits) in &rows {
        let got = next_epoch_bits(Coin::Litecoin, last + 1, bits, prev_time, time).expect("retarget");
        if got != next_bits {
            mismatches.push((last + 1, got, next_bits));
        }
        prev_time = time;
    }
    assert!(rows.len() >= 1200, "{}", rows.len());
    assert!(
        mismatches.is_empty(),
        "{} of {}: {:x?}",
        mismatches.len(),
        rows.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}

fn backtest_coin(coin: Coin, daily: &str, retargets: &str, hashrate_hs: f64, to: &str) {
    let (Some(d), Some(r)) = (data(daily), data(retargets)) else {
        return;
    };
    let daily = parse_daily(coin, &d).expect("daily");
    let retargets = parse_retargets(&r).expect("retargets");
    let s = RevenueSeries::build(coin, &daily, &retargets).expect("series");
    let from = day_number("2019-01-01").expect("day");
    let to = day_number(to).expect("day");
    let b = backtest(&s, hashrate_hs, from, to, None).expect("backtest");
    let flat = backtest(&s, hashrate_hs, from, to, Some(0.0)).expect("reference");
    println!(
        "{coin} reference (no difficulty growth): {}",
        serde_json::to_string(&flat).expect("json")
    );
    println!(
        "{coin} earnings backtest: {}",
        serde_json::to_string(&b).expect("json")
    );
    assert!(b.origins > 1000, "{b:?}");
    assert!(b.mape_24h_pct < 15.0, "24 h MAPE {b:?}");
    assert!((b.coverage_24h_pct - 80.0).abs() <= 5.0, "24 h coverage {b:?}");
    assert!((b.coverage_30d_pct - 80.0).abs() <= 5.0, "30 d coverage {b:?}");
}

#[test]
fn earnings_backtest_bitcoin_100_ths() {
    backtest_coin(
        Coin::Bitcoin,
        "btc_daily.csv",
        "btc_retargets.csv",
        100e12,
        "2023-12-31",
    );
}

#[test]
fn earnings_backtest_litecoin_1_ghs() {
    backtest_coin(
        Coin::Litecoin,
        "ltc_daily.csv",
        "ltc_retargets.csv",
        1e9,
        "2023-04-26",
    );
}
