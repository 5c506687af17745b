//! Tests of the rebalancing rules with values: seed 001's decision examples and edge cases, the
//! switching cost, dwell, asymmetric confirmation, outlier rejection and the cycle trigger.

use super::*;
use crate::alloc::optimise::RigAllocation;

fn p() -> RebalancePolicy {
    RebalancePolicy::default()
}

#[test]
fn seed_decision_examples() {
    // 5.00 -> 6.00 USD/h, cost 0.20: +1.00 (20 %), net 0.80 > 0.50: switch.
    let c = should_reallocate(5.0, 6.0, 0.2, &p());
    assert!(c.passes);
    assert!((c.earnings_improvement_pct.expect("pct") - 20.0).abs() < 1e-9);
    assert!((c.net_benefit_usd_h - 0.8).abs() < 1e-9);
    // 5.00 -> 5.40: 8 % < 10 %: keep.
    assert!(!should_reallocate(5.0, 5.4, 0.0, &p()).passes);
    // 2.00 -> 2.40: 20 % but net 0.40 < 0.50: keep (small rigs need a site-level threshold).
    assert!(!should_reallocate(2.0, 2.4, 0.0, &p()).passes);
    // 5.00 -> 6.00 with cost 0.60: net 0.40: keep.
    assert!(!should_reallocate(5.0, 6.0, 0.6, &p()).passes);
    // Thresholds are settings: with 5 % and 0.10 USD/h, 5.00 -> 5.40 switches.
    let loose = RebalancePolicy {
        min_improvement_pct: 5.0,
        min_net_usd_h: 0.1,
        ..p()
    };
    assert!(should_reallocate(5.0, 5.4, 0.0, &loose).passes);
}

#[test]
fn zero_current_earnings_switch_on_net_alone() {
    // The seed's percentage is 0 at zero earnings, so it would never leave a dead target; here
    // the percentage is null and the net rule decides.
    let c = should_reallocate(0.0, 0.6, 0.0, &p());
    assert_eq!(c.earnings_improvement_pct, None);
    assert!(c.passes);
    assert!(!should_reallocate(0.0, 0.4, 0.0, &p()).passes);
    // Losing money (-1.00) -> +0.00 (pause): +1.00 net, switches.
    assert!(should_reallocate(-1.0, 0.0, 0.0, &p()).passes);
    // Nothing better: never.
    assert!(!should_reallocate(0.0, 0.0, 0.0, &p()).passes);
}

type Side<'a> = &'a [(&'a str, f64)];

fn alloc(items: &[(&str, &str, Side)]) -> Allocation {
    items
        .iter()
        .map(|(rig, t, side)| {
            (
                rig.to_string(),
                RigAllocation {
                    target: t.to_string(),
                    side: side.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                },
            )
        })
        .collect()
}

#[test]
fn switching_cost_counts_changed_targets_only() {
    // r1 a -> b: b earns 10 USD/h, restarts in 120 s: 10 x 120 / 3600 = 0.33333.
    // r2 new on a: 3.6 USD/h, no restart time given: the seed's 60 s: 0.06.
    // r1's Storj 0.50 -> 0.52: a 2 % change, under the 5 % threshold: free.
    // r3 Storj 0 -> 0.5: 2 USD/h at full x 0.5 x 300 s / 3600 = 0.083333.
    let cur = alloc(&[("r1", "a", &[("storj", 0.5)]), ("r3", "pause", &[])]);
    let new = alloc(&[
        ("r1", "b", &[("storj", 0.52)]),
        ("r2", "a", &[]),
        ("r3", "pause", &[("storj", 0.5)]),
    ]);
    let revenue = BTreeMap::from([
        ("r1/b".to_string(), 10.0),
        ("r2/a".to_string(), 3.6),
        ("r1/storj".to_string(), 2.0),
        ("r3/storj".to_string(), 2.0),
    ]);
    let restart = BTreeMap::from([
        ("r1/b".to_string(), 120.0),
        ("r1/storj".to_string(), 300.0),
        ("r3/storj".to_string(), 300.0),
    ]);
    let cost = switching_cost_usd(&cur, &new, &revenue, &restart, 0.05);
    assert!((cost - (1.0 / 3.0 + 0.06 + 1.0 / 12.0)).abs() < 1e-9, "{cost}");
}

#[test]
fn a_rise_waits_for_confirmation_a_fall_acts_at_once() {
    let p = p();
    let mut st = SiteRuleState::default();
    // Cycle 1: current 5.0, an alternative rose to 6.0: wait (needs 2 cycles).
    let c = should_reallocate(5.0, 6.0, 0.0, &p);
    assert_eq!(
        verdict(&c, false, false, 0, &mut st, &p),
        Verdict::AwaitingConfirmation
    );
    // Cycle 2: still better: switch.
    assert_eq!(
        verdict(&c, false, false, 900, &mut st, &p),
        Verdict::SwitchConfirmedRise
    );
    assert_eq!(st.last_switch_unix, Some(900));
    // The new allocation (6.0) falls to 4.0 half an hour later, 5.0 elsewhere: dwell would
    // holds it: a fall still respects the dwell time while the site earns money.
    let c = should_reallocate(4.0, 5.0, 0.0, &p);
    assert_eq!(verdict(&c, false, false, 2700, &mut st, &p), Verdict::Dwell);
    // Past the dwell time, a fall acts at once (no confirmation cycle).
    let c = should_reallocate(3.0, 5.0, 0.0, &p);
    assert_eq!(
        verdict(&c, false, false, 4600, &mut st, &p),
        Verdict::SwitchOnFall
    );
    // A rise that does not persist resets the count.
    let mut st = SiteRuleState::default();
    let up = should_reallocate(5.0, 6.0, 0.0, &p);
    let flat = should_reallocate(5.0, 5.1, 0.0, &p);
    assert_eq!(
        verdict(&up, false, false, 0, &mut st, &p),
        Verdict::AwaitingConfirmation
    );
    assert_eq!(
        verdict(&flat, false, false, 900, &mut st, &p),
        Verdict::BelowThresholds
    );
    assert_eq!(
        verdict(&up, false, false, 1800, &mut st, &p),
        Verdict::AwaitingConfirmation
    );
    // A site over its power cap switches at once, whatever the thresholds.
    let worse = should_reallocate(5.0, 4.0, 0.0, &p);
    assert_eq!(
        verdict(&worse, false, true, 1900, &mut st, &p),
        Verdict::SwitchForCap
    );
    // Losing money ignores the dwell time.
    let c = should_reallocate(-1.0, 0.0, 0.0, &p);
    assert_eq!(
        verdict(&c, false, false, 2000, &mut st, &p),
        Verdict::SwitchOnFall
    );
    assert_eq!(verdict(&c, true, false, 2000, &mut st, &p), Verdict::AlreadyBest);
}

fn m(v: f64) -> Market {
    Market::from([("btc".to_string(), v)])
}

#[test]
fn outliers_are_held_back_until_confirmed() {
    let p = p();
    let mut f = OutlierFilter::default();
    for v in [100.0, 101.0, 99.0, 100.0, 100.0] {
        assert_eq!(
            f.filter(&m(v), &p).market["btc"],
            v,
            "too few values to judge: accepted"
        );
    }
    // Mean 100, sd 0.632, floor 2 % x 100 = 2: 150 is 25 sigma off: held back, 100 stands.
    let r = f.filter(&m(150.0), &p);
    assert_eq!(r.market["btc"], 100.0);
    assert_eq!(r.held_back["btc"], 150.0);
    // The spike is gone: 100.5 accepted, nothing held.
    let r = f.filter(&m(100.5), &p);
    assert_eq!((r.market["btc"], r.held_back.len()), (100.5, 0));
    // A new level: 150 held once, 151 confirms it (same side): accepted and the window restarts.
    assert_eq!(f.filter(&m(150.0), &p).market["btc"], 100.5);
    assert_eq!(f.filter(&m(151.0), &p).market["btc"], 151.0);
    assert_eq!(
        f.filter(&m(152.0), &p).market["btc"],
        152.0,
        "window restarted: too short to judge"
    );
    // A drop is held back too (both directions), then confirmed.
    for v in [150.0, 151.0, 150.0] {
        f.filter(&m(v), &p);
    }
    assert_eq!(f.filter(&m(60.0), &p).market["btc"], 150.0);
    assert_eq!(f.filter(&m(61.0), &p).market["btc"], 61.0);
}

#[test]
fn cycles_run_on_time_or_on_a_large_move() {
    let p = p();
    assert!(cycle_due(0, None, &Market::new(), &m(1.0), &p), "first cycle");
    assert!(
        !cycle_due(600, Some(0), &m(100.0), &m(110.0), &p),
        "10 % < 20 % before 900 s"
    );
    assert!(cycle_due(600, Some(0), &m(100.0), &m(125.0), &p), "a 25 % move");
    assert!(cycle_due(600, Some(0), &m(100.0), &m(79.0), &p), "a 21 % fall");
    assert!(cycle_due(900, Some(0), &m(100.0), &m(100.0), &p), "900 s");
    assert!(
        cycle_due(600, Some(0), &Market::new(), &m(1.0), &p),
        "a new series"
    );
}
