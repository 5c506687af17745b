//! Tests of the optimiser with values worked by hand: seed 001's LP (fractions under the four
//! resource limits), one target per rig, site power caps, infeasible and zero-capacity cases.

use super::*;
use crate::alloc::target::{Market, Resources, Target, TargetKind};

fn side(name: &str, per_day: f64, res: Resources, lo: f64, hi: f64) -> (Target, (String, f64)) {
    (
        Target {
            name: name.into(),
            kind: TargetKind::Side,
            series: Some(name.into()),
            units: 1.0,
            power_w: 0.0,
            resources: res,
            min_allocation: lo,
            max_allocation: hi,
            restart_s: 60.0,
        },
        (name.to_string(), per_day),
    )
}

fn mine(name: &str, series: &str, ths: f64, w: f64) -> Target {
    Target {
        name: name.into(),
        kind: TargetKind::PowerPreset,
        series: Some(series.into()),
        units: ths,
        power_w: w,
        resources: Resources::default(),
        min_allocation: 0.0,
        max_allocation: 1.0,
        restart_s: 120.0,
    }
}

fn res(cpu: f64, mem: f64, bw: f64, sto: f64) -> Resources {
    Resources {
        cpu_cores: cpu,
        memory_gb: mem,
        bandwidth_mbps: bw,
        storage_gb: sto,
    }
}

fn site(tariff: f64, cap: Option<f64>) -> BTreeMap<String, SiteLimits> {
    BTreeMap::from([(
        "s".to_string(),
        SiteLimits {
            tariff_usd_kwh: tariff,
            power_cap_kw: cap,
        },
    )])
}

/// Seed 001's shape: four DePIN workloads on one host (8 cores, 16 GB, 100 Mbps, 1000 GB).
fn depin_host(capacity: Resources) -> (Rig, Market) {
    let ws = [
        // USD/h 0.5 (12/day): Golem, CPU-heavy.
        side("golem", 12.0, res(8.0, 8.0, 10.0, 0.0), 0.0, 1.0),
        // USD/h 0.2: Storj, storage-heavy, at least 10 %.
        side("storj", 4.8, res(1.0, 2.0, 40.0, 2000.0), 0.1, 1.0),
        // USD/h 0.1: Streamr, bandwidth.
        side("streamr", 2.4, res(1.0, 1.0, 80.0, 0.0), 0.0, 0.5),
    ];
    let market = ws.iter().map(|(_, kv)| kv.clone()).collect();
    let rig = Rig {
        id: "host".into(),
        site: "s".into(),
        capacity,
        targets: ws.into_iter().map(|(t, _)| t).collect(),
    };
    (rig, market)
}

#[test]
fn seed_lp_fills_the_binding_resources_by_value() {
    // Storage 1000 GB binds Storj at 0.5 (2000 GB x 0.5); then CPU: Golem takes 8 x a <= 8 - 0.5
    // (Storj's 1 core x 0.5) - Streamr's 1 core x s. Bandwidth: 10 g + 40 x 0.5 + 80 s <= 100.
    // Per core Golem earns 0.5/8 = 0.0625 USD/h, Streamr 0.1/1 = 0.1 but bandwidth-limited.
    // By hand: maximise 0.5 g + 0.1 s s.t. 8 g + s <= 7.5, 10 g + 80 s <= 80, s <= 0.5.
    // Vertex g = (7.5 - s) / 8, 10 (7.5 - s) / 8 + 80 s = 80 -> 9.375 - 1.25 s + 80 s = 80 ->
    // s = 70.625 / 78.75 = 0.896825 > 0.5, so s = 0.5 (its max), g = 7.0 / 8 = 0.875.
    // Bandwidth check: 8.75 + 20 + 40 = 68.75 <= 100. Objective 0.4375 + 0.1 x 0.5 + 0.2 x 0.5
    // = 0.5875 USD/h.
    let (rig, market) = depin_host(res(8.0, 16.0, 100.0, 1000.0));
    let s = optimise(
        std::slice::from_ref(&rig),
        &site(0.0, None),
        &BTreeMap::new(),
        &market,
        &Allocation::new(),
    )
    .expect("solve");
    let a = &s.allocation["host"];
    assert_eq!(a.target, "pause", "a DePIN-only host has no exclusive work");
    assert!((a.side["storj"] - 0.5).abs() < 1e-6, "{a:?}");
    assert!((a.side["streamr"] - 0.5).abs() < 1e-6, "{a:?}");
    assert!((a.side["golem"] - 0.875).abs() < 1e-6, "{a:?}");
    assert!(
        (s.expected_profit_usd_h - 0.5875).abs() < 1e-6,
        "{}",
        s.expected_profit_usd_h
    );
    let e = evaluate(&[rig], &site(0.0, None), &market, &s.allocation);
    // CPU 8 x 0.875 + 0.5 + 0.5 = 8 of 8 -> 100 %; storage 1000 of 1000 -> 100 %.
    assert!((e.utilisation_pct["host"]["cpu_cores"] - 100.0).abs() < 1e-6);
    assert!((e.utilisation_pct["host"]["storage_gb"] - 100.0).abs() < 1e-6);
}

#[test]
fn infeasible_bounds_are_an_error_not_an_allocation() {
    // Storj needs at least 10 % = 200 GB; the host has 100 GB.
    let (rig, market) = depin_host(res(8.0, 16.0, 100.0, 100.0));
    let e = optimise(
        &[rig],
        &site(0.0, None),
        &BTreeMap::new(),
        &market,
        &Allocation::new(),
    )
    .expect_err("infeasible");
    assert_eq!(e, SolveError::Infeasible);
}

#[test]
fn zero_capacity_allocates_nothing_that_needs_it() {
    // No storage: Storj (min 10 %) cannot run -> infeasible; without its minimum it is held at 0
    // and the rest share the CPU: Streamr (0.1 USD/h per core) at its max 0.5, Golem
    // (0.0625 per core) on the other 7.5 cores: g = 0.9375; 0.46875 + 0.05 = 0.51875 USD/h.
    let (mut rig, market) = depin_host(res(8.0, 16.0, 100.0, 0.0));
    let e = optimise(
        &[rig.clone()],
        &site(0.0, None),
        &BTreeMap::new(),
        &market,
        &Allocation::new(),
    );
    assert_eq!(e.expect_err("storj min"), SolveError::Infeasible);
    for t in &mut rig.targets {
        t.min_allocation = 0.0;
    }
    let s = optimise(
        &[rig.clone()],
        &site(0.0, None),
        &BTreeMap::new(),
        &market,
        &Allocation::new(),
    )
    .expect("solve");
    let a = &s.allocation["host"];
    assert_eq!(a.side.get("storj"), None);
    assert!((a.side["streamr"] - 0.5).abs() < 1e-6, "{a:?}");
    assert!((a.side["golem"] - 0.9375).abs() < 1e-6, "{a:?}");
    assert!((s.expected_profit_usd_h - 0.51875).abs() < 1e-6);
    // No bandwidth, which every workload uses: nothing runs, profit 0 (not an error).
    rig.capacity.bandwidth_mbps = 0.0;
    let s = optimise(
        &[rig],
        &site(0.0, None),
        &BTreeMap::new(),
        &market,
        &Allocation::new(),
    )
    .expect("solve");
    assert!(s.allocation["host"].side.is_empty(), "{:?}", s.allocation);
    assert_eq!(s.expected_profit_usd_h, 0.0);
}

fn asics() -> Vec<Rig> {
    // Two Vnish S19s with three presets each: 100 TH/s at 3,250 W, 85 at 2,500 W, 60 at 1,600 W.
    (1..=2)
        .map(|i| Rig {
            id: format!("s19-{i}"),
            site: "s".into(),
            capacity: Resources::default(),
            targets: vec![
                mine("full", "btc", 100.0, 3250.0),
                mine("eco", "btc", 85.0, 2500.0),
                mine("low", "btc", 60.0, 1600.0),
            ],
        })
        .collect()
}

#[test]
fn one_preset_per_asic_under_a_site_cap() {
    // 0.06 USD/TH/day = 0.0025 USD/TH/h; tariff 0.04 USD/kWh.
    // full: 0.25 - 0.13 = 0.12; eco: 0.2125 - 0.10 = 0.1125; low: 0.15 - 0.064 = 0.086 USD/h.
    let market = Market::from([("btc".to_string(), 0.06)]);
    let rigs = asics();
    let s = optimise(
        &rigs,
        &site(0.04, None),
        &BTreeMap::new(),
        &market,
        &Allocation::new(),
    )
    .expect("no cap");
    assert!(s.allocation.values().all(|a| a.target == "full"));
    assert!((s.expected_profit_usd_h - 0.24).abs() < 1e-9);
    // Cap 5 kW: full+full 6.5, full+eco 5.75, eco+eco 5.0 (0.225), full+low 4.85 (0.206):
    // eco on both.
    let s = optimise(
        &rigs,
        &site(0.04, Some(5.0)),
        &BTreeMap::new(),
        &market,
        &Allocation::new(),
    )
    .expect("cap");
    assert!(
        s.allocation.values().all(|a| a.target == "eco"),
        "{:?}",
        s.allocation
    );
    assert!((s.expected_profit_usd_h - 0.225).abs() < 1e-9);
    // A curtailment cap of 2 kW (overriding the site's): one on low, the other paused.
    let caps = BTreeMap::from([("s".to_string(), 2.0)]);
    let s = optimise(&rigs, &site(0.04, Some(5.0)), &caps, &market, &Allocation::new()).expect("curtail");
    let mut got: Vec<&str> = s.allocation.values().map(|a| a.target.as_str()).collect();
    got.sort();
    assert_eq!(got, vec!["low", "pause"]);
    // At 0.10 USD/kWh every preset loses money (full 0.25 - 0.325): all paused.
    let s = optimise(
        &rigs,
        &site(0.10, None),
        &BTreeMap::new(),
        &market,
        &Allocation::new(),
    )
    .expect("loss");
    assert!(s.allocation.values().all(|a| a.target == "pause"));
    assert_eq!(s.expected_profit_usd_h, 0.0);
}

#[test]
fn unpriced_targets_are_left_out_and_unknown_sites_refused() {
    let mut rigs = asics();
    rigs[0].targets.push(mine("ltc", "ltc", 1.0, 100.0));
    let market = Market::from([("btc".to_string(), 0.06)]);
    let s = optimise(
        &rigs,
        &site(0.04, None),
        &BTreeMap::new(),
        &market,
        &Allocation::new(),
    )
    .expect("solve");
    assert_eq!(s.allocation["s19-1"].target, "full");
    let e = evaluate(&rigs, &site(0.04, None), &Market::new(), &s.allocation);
    assert_eq!(
        e.unpriced,
        vec!["s19-1/full".to_string(), "s19-2/full".to_string()]
    );
    rigs[1].site = "elsewhere".into();
    let e = optimise(
        &rigs,
        &site(0.04, None),
        &BTreeMap::new(),
        &market,
        &Allocation::new(),
    )
    .expect_err("site");
    assert!(e.to_string().contains("\"elsewhere\""), "{e}");
}

#[test]
fn ties_keep_the_current_target() {
    let mut rigs = asics();
    rigs.truncate(1);
    rigs[0].targets = vec![mine("a", "btc", 100.0, 0.0), mine("b", "btc", 100.0, 0.0)];
    let market = Market::from([("btc".to_string(), 0.06)]);
    for cur in ["a", "b"] {
        let current = Allocation::from([(
            "s19-1".to_string(),
            RigAllocation {
                target: cur.into(),
                side: BTreeMap::new(),
            },
        )]);
        let s = optimise(&rigs, &site(0.0, None), &BTreeMap::new(), &market, &current).expect("solve");
        assert_eq!(s.allocation["s19-1"].target, cur);
    }
}
