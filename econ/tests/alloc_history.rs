//! The allocation backtest on the real daily history in `../shared/data` (beside the repository;
//! skipped with a message when absent), for the two fleets in `benches/alloc-fleet-*.toml`,
//! 2019-01-01 .. 2023-04-25 (where the tables have both Bitcoin and Litecoin difficulty). Bars
//! (issue 17): the policy earns at least instantaneous-best's net profit less 2 %, switches less,
//! and earns more than any single target. Prints the table BENCHMARKS.md quotes.

use hashward_econ::alloc::backtest::{run, Report};
use hashward_econ::alloc::fleet::{Fleet, FleetFile};
use hashward_econ::alloc::series::{coins_needed, daily_steps, parse_utc};
use std::collections::HashMap;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fleet(name: &str) -> Fleet {
    let text = std::fs::read_to_string(root().join("benches").join(name)).expect("fleet file");
    toml::from_str::<FleetFile>(&text)
        .expect("parse")
        .into_fleet()
        .expect("fleet")
}

fn backtest(name: &str) -> Option<Report> {
    let f = fleet(name);
    let dir = root().join("../shared/data");
    let mut tables = HashMap::new();
    for coin in coins_needed(&f).expect("coins") {
        let sym = coin.symbol().to_ascii_lowercase();
        let Ok(daily) = std::fs::read_to_string(dir.join(format!("{sym}_daily.csv"))) else {
            eprintln!(
                "SKIPPED: {} not readable; the allocation history test needs ../shared/data",
                dir.display()
            );
            return None;
        };
        let rt = std::fs::read_to_string(dir.join(format!("{sym}_retargets.csv"))).ok();
        tables.insert(coin, (daily, rt));
    }
    let from = parse_utc("2019-01-01").expect("from");
    let to = parse_utc("2023-04-25").expect("to");
    let (steps, skipped) = daily_steps(&f, &tables, from, to).expect("steps");
    let r = run(&f.rigs, &f.sites, &f.policy, &steps).expect("run");
    println!("{name}: {} days ({skipped} left out), {} rigs", r.steps, r.rigs);
    println!("| strategy | net profit USD | switching loss USD | switches |");
    for x in &r.results {
        println!(
            "| {} | {:.2} | {:.2} | {} |",
            x.strategy, x.net_profit_usd, x.switching_loss_usd, x.switches
        );
    }
    Some(r)
}

fn check(r: &Report) {
    let get = |n: &str| r.results.iter().find(|x| x.strategy == n).expect(n);
    let (p, ib) = (get("policy"), get("instantaneous_best"));
    let best_single = r
        .results
        .iter()
        .filter(|x| x.strategy.starts_with("always:"))
        .map(|x| x.net_profit_usd)
        .fold(f64::NEG_INFINITY, f64::max);
    println!(
        "policy / instantaneous best: {:.4}; switches {} vs {}; best single {:.2}",
        p.net_profit_usd / ib.net_profit_usd,
        p.switches,
        ib.switches,
        best_single
    );
    assert!(
        p.net_profit_usd >= ib.net_profit_usd - 0.02 * ib.net_profit_usd.abs(),
        "{p:?} vs {ib:?}"
    );
    assert!(p.switches < ib.switches, "{p:?} vs {ib:?}");
    assert!(p.net_profit_usd > best_single, "{p:?} vs {best_single}");
}

#[test]
fn cpu_fleet_sha256d_or_scrypt() {
    if let Some(r) = backtest("alloc-fleet-cpu.toml") {
        check(&r);
    }
}

#[test]
fn asic_fleet_power_presets_under_a_site_cap() {
    if let Some(r) = backtest("alloc-fleet-asic.toml") {
        check(&r);
    }
}
