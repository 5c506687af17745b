//! The economics and forecast commands as an operator runs them: the real binary, real files.
//! Golden values are the ones checked by hand in hashward-econ's tests; bad input must fail
//! naming the flag (or the table's line and column) and print no figure.

use std::path::PathBuf;
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

const DAY: [&str; 16] = [
    "economics",
    "--coin",
    "bitcoin",
    "--hashrate-ths",
    "100",
    "--power-w",
    "3250",
    "--tariff-usd-kwh",
    "0.06",
    "--difficulty",
    "52350439455487.47",
    "--price-usd",
    "25107.754695880594",
    "--height",
    "794500",
    "--json",
];

#[test]
fn economics_of_a_stated_day_and_bad_flags() {
    // 2023-06-15 with fees 0.277171 BTC per block: 6.29747 USD revenue, 4.68 cost (econ's
    // economics::tests::bitcoin_on_2023_06_15_golden, by hand there).
    let mut args = DAY.to_vec();
    args.extend(["--fees-per-block-coin", "0.27717091439189173"]);
    let (ok, out, err) = hub(&args);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(
        (v["revenue_usd_day"].as_f64().expect("rev") - 6.29747).abs() < 1e-4,
        "{v}"
    );
    assert_eq!(v["cost_usd_day"].as_f64(), Some(4.68));
    assert!((v["profit_usd_day"].as_f64().expect("p") - 1.61747).abs() < 1e-4);
    assert_eq!(v["subsidy_coin"].as_f64(), Some(6.25));

    for (flag, value, named) in [
        ("--pool-fee-pct", "120", "--pool-fee-pct"),
        ("--power-w", "-5", "--power-w"),
        ("--difficulty", "0", "--difficulty"),
        ("--coin", "monero", "--coin"),
        ("--fees-per-block-coin", "NaN", "--fees-per-block-coin"),
    ] {
        let mut args = DAY.to_vec();
        match args.iter().position(|a| *a == flag) {
            Some(i) => args[i + 1] = value,
            None => args.extend([flag, value]),
        }
        let (ok, out, err) = hub(&args);
        assert!(!ok && out.is_empty(), "{flag} {value}: {out}");
        assert!(
            err.contains(named) && !err.contains("Usage"),
            "{flag} {value}: {err}"
        );
    }
}

fn shared(file: &str) -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(file);
    if p.is_file() {
        Some(p.to_string_lossy().into_owned())
    } else {
        eprintln!("SKIPPED: {} absent", p.display());
        None
    }
}

#[test]
fn forecasts_from_the_real_tables() {
    let (Some(ret), Some(daily)) = (shared("btc_retargets.csv"), shared("btc_daily.csv")) else {
        return;
    };
    let (ok, out, err) = hub(&[
        "forecast",
        "difficulty",
        "--coin",
        "bitcoin",
        "--retargets",
        &ret,
        "--epochs",
        "5",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let epochs = v["epochs"].as_array().expect("epochs");
    assert_eq!(epochs.len(), 5);
    // The table ends at 822,528 (2023-12-31 cut-off): the next retargets are 2016 apart.
    assert_eq!(epochs[0]["height"].as_u64(), Some(824_544));
    assert_eq!(epochs[4]["height"].as_u64(), Some(822_528 + 5 * 2016));
    for e in epochs {
        let (d, lo, hi) = (e["difficulty"].as_f64(), e["lower"].as_f64(), e["upper"].as_f64());
        let (d, lo, hi) = (d.expect("d"), lo.expect("lo"), hi.expect("hi"));
        assert!(lo <= d && d <= hi && lo > 0.0, "{e}");
    }

    let (ok, out, err) = hub(&[
        "forecast",
        "earnings",
        "--coin",
        "bitcoin",
        "--daily",
        &daily,
        "--retargets",
        &ret,
        "--hashrate-ths",
        "100",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let e24 = v["next_24h"]["estimated_usd"].as_f64().expect("24h");
    // 100 TH/s at the end of 2023 earned 8-12 USD a day (hashprice ~0.09-0.12 USD/TH/day).
    assert!((8.0..12.0).contains(&e24), "{v}");
    assert!(
        v["next_30d"]["estimated_usd"].as_f64().expect("30d") > 20.0 * e24 * 0.8,
        "{v}"
    );
    assert!(
        v["difficulty_growth_source"]
            .as_str()
            .expect("src")
            .starts_with("model"),
        "{v}"
    );
}

#[test]
fn bad_tables_and_flags_name_what_is_wrong() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "height,unix_time,bits,difficulty\n0,1,0x1d00ffff,1\n2016,2,zz,1\n",
    )
    .expect("write");
    let bad = bad.to_string_lossy().into_owned();
    let (ok, _, err) = hub(&[
        "forecast",
        "difficulty",
        "--coin",
        "bitcoin",
        "--retargets",
        &bad,
        "--json",
    ]);
    assert!(!ok && err.contains("line 3") && err.contains("bits"), "{err}");
    let (ok, _, err) = hub(&[
        "forecast",
        "difficulty",
        "--coin",
        "bitcoin",
        "--retargets",
        &bad,
        "--epochs",
        "0",
    ]);
    assert!(!ok && err.contains("--epochs"), "{err}");
    let (ok, _, err) = hub(&[
        "forecast",
        "earnings",
        "--coin",
        "bitcoin",
        "--daily",
        &bad,
        "--hashrate-ths",
        "-1",
    ]);
    assert!(
        !ok && err.contains("--hashrate-ths must be") && err.contains("-1"),
        "{err}"
    );
    let (ok, _, err) = hub(&[
        "forecast",
        "earnings",
        "--coin",
        "bitcoin",
        "--daily",
        &bad,
        "--hashrate-ths",
        "1",
    ]);
    assert!(!ok && err.contains("--daily") && err.contains("date"), "{err}");
    let missing = dir.path().join("nope.csv").to_string_lossy().into_owned();
    let (ok, _, err) = hub(&[
        "forecast",
        "difficulty",
        "--coin",
        "bitcoin",
        "--retargets",
        &missing,
    ]);
    assert!(!ok && err.contains("--retargets"), "{err}");
}
