//! `hashward-hub backtest allocation` as an operator runs it: the real binary on a small fleet
//! file and CSVs written here, with figures worked by hand; bad input fails naming the field,
//! the line or the column, and prints no figure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn hub(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hashward-hub"))
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run hashward-hub");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const FLEET: &str = r#"
[sites.home]
tariff_usd_kwh = 0.0

[sites.home.rebalance]
min_net_usd_h = 0.0

[targets.a]
coin = "btc"
[targets.b]
series = "b"

[[miner]]
id = "r1"
site = "home"
targets = ["a", "b"]
hashrate_ths = 1.0
power_w = 0.0
restart_s = 360
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

/// 12 hourly steps: a pays 240 USD/TH/day (10 USD/h), b 216 (9 USD/h) but 576 for one hour.
fn intraday() -> String {
    let mut s = String::from("timestamp_utc,target,usd_per_th_day\n");
    for h in 0..12 {
        let b = if h == 6 { 576.0 } else { 216.0 };
        s.push_str(&format!(
            "2026-01-01T{h:02}:00:00Z,a,240\n2026-01-01T{h:02}:00:00Z,b,{b}\n"
        ));
    }
    s
}

fn result<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["strategy"] == name)
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

#[test]
fn intraday_spike_policy_against_baselines() {
    let dir = tempfile::tempdir().expect("dir");
    let fleet = write(dir.path(), "fleet.toml", FLEET);
    let csv = write(dir.path(), "intraday.csv", &intraday());
    let (ok, out, err) = hub(&[
        "backtest",
        "allocation",
        "--fleet",
        &fleet,
        "--intraday",
        &csv,
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-01",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["steps"], 12);
    // Policy stays on a: 11 intervals x 10 USD. Instantaneous best chases the spike: 10 x 10 +
    // 1 x 9 (b's next value) - 0.1 h x 9 - 0.1 h x 10 (two restarts) = 107.1; NemosMiner's
    // 10 % rule does the same (576 > 1.1 x 240).
    let p = result(&v, "policy");
    assert!(
        (p["net_profit_usd"].as_f64().expect("n") - 110.0).abs() < 1e-6,
        "{p}"
    );
    assert_eq!(p["switches"], 0);
    for name in ["instantaneous_best", "nemosminer_10pct"] {
        let r = result(&v, name);
        assert!(
            (r["net_profit_usd"].as_f64().expect("n") - 107.1).abs() < 1e-6,
            "{r}"
        );
        assert_eq!(r["switches"], 2);
        assert!(
            (r["switching_loss_usd"].as_f64().expect("l") - 1.9).abs() < 1e-6,
            "{r}"
        );
    }
    // Staying on b all day: 10 intervals x 9 + the spike hour at 576 / 24 = 24 -> 114 > 110.
    assert_eq!(v["best_single_target"], "always:b");
    // The window: only the first 6 hours.
    let (ok, out, err) = hub(&[
        "backtest",
        "allocation",
        "--fleet",
        &fleet,
        "--intraday",
        &csv,
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-01T05:00:00Z",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["steps"], 6);
}

#[test]
fn daily_history_prices_targets_from_difficulty_and_price() {
    // 2020-01-01..03, difficulty 1e13, price 10,000 USD, no fees, subsidy 12.5 (before the
    // 2020-05-11 halving): 86,400 x 12.5 x 1e12 / (1e13 x 2^32) x 10,000 = 0.251457 USD per
    // TH/s per day. One rig of 1 TH/s on a over two daily intervals: 0.502914 USD.
    let dir = tempfile::tempdir().expect("dir");
    let fleet = write(
        dir.path(),
        "fleet.toml",
        &FLEET.replace("[targets.b]\nseries = \"b\"", "[targets.b]\ncoin = \"btc\""),
    );
    let mut daily =
        String::from("date,cm_price_usd,cm_difficulty_mean,cm_block_count,cm_fees_btc,cg_price_usd\n");
    for d in 1..=3 {
        daily.push_str(&format!("2020-01-0{d},10000,1e13,144,0,10000\n"));
    }
    write(dir.path(), "btc_daily.csv", &daily);
    let data = dir.path().display().to_string();
    let (ok, out, err) = hub(&[
        "backtest",
        "allocation",
        "--fleet",
        &fleet,
        "--data",
        &data,
        "--from",
        "2019-12-01",
        "--to",
        "2020-01-31",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["steps"], 3);
    let a = result(&v, "always:a");
    assert!(
        (a["net_profit_usd"].as_f64().expect("n") - 0.502914).abs() < 1e-5,
        "{a}"
    );
    assert_eq!(
        v["days_skipped_missing_values"], 59,
        "62 days asked, 3 with values"
    );
    // A bad cell names its line and column.
    write(
        dir.path(),
        "btc_daily.csv",
        &daily.replace("2020-01-02,10000,1e13", "2020-01-02,10000,lots"),
    );
    let (ok, out, err) = hub(&[
        "backtest",
        "allocation",
        "--fleet",
        &fleet,
        "--data",
        &data,
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-03",
    ]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("line 3") && err.contains("cm_difficulty_mean"),
        "{err}"
    );
}

#[test]
fn bad_input_is_named_and_prints_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let csv = write(dir.path(), "intraday.csv", &intraday());
    let cases: Vec<(String, String, &str)> = vec![
        // Unknown key in the fleet file.
        (
            FLEET.replace("restart_s = 360", "restart_s = 360\nrestart_secs = 1"),
            intraday(),
            "restart_secs",
        ),
        // A miner without a value for one of its targets.
        (
            FLEET.replace("hashrate_ths = 1.0", "hashrate_ths = { a = 1.0 }"),
            intraday(),
            "hashrate_ths",
        ),
        // A site that is not defined.
        (
            FLEET.replace("site = \"home\"", "site = \"away\""),
            intraday(),
            "away",
        ),
        // Negative power.
        (
            FLEET.replace("power_w = 0.0", "power_w = -5.0"),
            intraday(),
            "power_w",
        ),
        // An intraday row naming a target the fleet does not have: the header is line 1, hour 0's
        // rows are lines 2 (a) and 3 (b).
        (
            FLEET.to_string(),
            intraday().replacen(",b,216", ",c,216", 1),
            "line 3, column \"target\"",
        ),
        // A value that is not a number.
        (
            FLEET.to_string(),
            intraday().replacen(",a,240", ",a,n/a", 1),
            "column \"usd_per_th_day\"",
        ),
        // A timestamp that is not UTC ISO.
        (
            FLEET.to_string(),
            intraday().replacen("2026-01-01T03:00:00Z", "2026-01-01 03:00", 1),
            "timestamp_utc",
        ),
        // A step missing one target's value.
        (
            FLEET.to_string(),
            intraday().replacen("2026-01-01T05:00:00Z,b,216\n", "", 1),
            "2026-01-01T05:00:00Z has no value for series \"b\"",
        ),
    ];
    for (fleet_text, csv_text, named) in cases {
        let fleet = write(dir.path(), "fleet.toml", &fleet_text);
        std::fs::write(&csv, csv_text).expect("csv");
        let (ok, out, err) = hub(&[
            "backtest",
            "allocation",
            "--fleet",
            &fleet,
            "--intraday",
            &csv,
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-01",
        ]);
        assert!(!ok, "accepted bad input naming {named}: {out}");
        assert!(out.is_empty(), "printed a figure: {out}");
        assert!(err.contains(named), "error does not name {named:?}: {err}");
    }
    // --data with a target that has no coin.
    let fleet = write(dir.path(), "fleet.toml", FLEET);
    let data = dir.path().display().to_string();
    let (ok, _, err) = hub(&[
        "backtest",
        "allocation",
        "--fleet",
        &fleet,
        "--data",
        &data,
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-03",
    ]);
    assert!(!ok && err.contains("target \"b\" has no coin"), "{err}");
    // Neither source, or both.
    let (ok, _, err) = hub(&[
        "backtest",
        "allocation",
        "--fleet",
        &fleet,
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-03",
    ]);
    assert!(!ok && err.contains("--data DIR or --intraday"), "{err}");
    let (ok, _, err) = hub(&[
        "backtest",
        "allocation",
        "--fleet",
        &fleet,
        "--from",
        "2020-01-02",
        "--to",
        "2020-01-01",
        "--intraday",
        &csv,
    ]);
    assert!(!ok && err.contains("before --from"), "{err}");
}
