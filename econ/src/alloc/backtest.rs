//! Allocation backtest: replays a market series through the policy ([`super::decide`]) and the
//! baselines the issue names, and reports each one's net profit after switching losses and its
//! switch count. No look-ahead: the allocation chosen at step i (from values up to step i) earns
//! over [t_i, t_i+1) at step i+1's values; a switch loses the new target's revenue for its
//! restart seconds (capped at the step).
//!
//! Baselines: `instantaneous_best` (the optimiser's best every step, no hysteresis),
//! `nemosminer_10pct` (switch a site when its best beats the current by more than 10 %, one
//! cycle, no cost), and `always:<target>` for every target name (rigs without it, or over the
//! site cap in file order, pause).
//!
//! Must never let a strategy see a value from after its decision step.

use super::optimise::{evaluate, optimise, Allocation, Rig, RigAllocation, SiteLimits};
use super::target::Market;
use super::{decide, Inputs, Policy, State};
use serde::Serialize;
use std::collections::BTreeMap;

/// One step of the replay: a time and the market values then.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub unix: i64,
    pub market: Market,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyResult {
    pub strategy: String,
    pub net_profit_usd: f64,
    pub revenue_usd: f64,
    pub electricity_usd: f64,
    pub switching_loss_usd: f64,
    /// Rig-level target changes (a site moving 3 rigs counts 3).
    pub switches: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub steps: usize,
    pub from_unix: i64,
    pub to_unix: i64,
    pub rigs: usize,
    pub results: Vec<StrategyResult>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BacktestError {
    #[error("need at least 2 steps, got {0}")]
    TooShort(usize),
    #[error("steps must be in increasing time order (step {0})")]
    Order(usize),
    #[error("step {step}: {source}")]
    Solve { step: usize, source: super::SolveError },
}

#[derive(Debug, Clone)]
enum Strategy {
    Policy,
    InstantBest,
    Nemos,
    Always(String),
}

impl Strategy {
    fn name(&self) -> String {
        match self {
            Strategy::Policy => "policy".into(),
            Strategy::InstantBest => "instantaneous_best".into(),
            Strategy::Nemos => "nemosminer_10pct".into(),
            Strategy::Always(t) => format!("always:{t}"),
        }
    }
}

/// Every rig on `target` where it has it, paused where it has not or where the site's cap
/// would be exceeded (rigs taken in file order).
fn always(rigs: &[Rig], sites: &BTreeMap<String, SiteLimits>, target: &str) -> Allocation {
    let mut used_kw: BTreeMap<&str, f64> = BTreeMap::new();
    rigs.iter()
        .map(|r| {
            let t = r.targets.iter().find(|t| t.name == target);
            let cap = sites
                .get(&r.site)
                .and_then(|s| s.power_cap_kw)
                .unwrap_or(f64::INFINITY);
            let used = used_kw.entry(r.site.as_str()).or_default();
            let a = match t {
                Some(t) if *used + t.power_w / 1000.0 <= cap + 1e-9 => {
                    *used += t.power_w / 1000.0;
                    RigAllocation {
                        target: t.name.clone(),
                        side: BTreeMap::new(),
                    }
                }
                _ => RigAllocation::paused(),
            };
            (r.id.clone(), a)
        })
        .collect()
}

/// Per site: the best if it beats the current by more than 10 % (any gain from <= 0).
fn nemos(
    rigs: &[Rig],
    sites: &BTreeMap<String, SiteLimits>,
    market: &Market,
    cur: &Allocation,
    best: &Allocation,
) -> Allocation {
    let mut out = cur.clone();
    for site in sites.keys() {
        let site_rigs: Vec<Rig> = rigs.iter().filter(|r| &r.site == site).cloned().collect();
        let pick = |a: &Allocation| -> Allocation {
            site_rigs
                .iter()
                .filter_map(|r| a.get(&r.id).map(|x| (r.id.clone(), x.clone())))
                .collect()
        };
        let c = evaluate(&site_rigs, sites, market, &pick(cur)).profit_usd_h;
        let b = evaluate(&site_rigs, sites, market, &pick(best)).profit_usd_h;
        let better = if c > 0.0 { b > c * 1.10 } else { b > c };
        if better {
            out.extend(pick(best));
        }
    }
    out
}

/// Replays `steps` for the policy and the baselines.
pub fn run(
    rigs: &[Rig],
    sites: &BTreeMap<String, SiteLimits>,
    policy: &Policy,
    steps: &[Step],
) -> Result<Report, BacktestError> {
    if steps.len() < 2 {
        return Err(BacktestError::TooShort(steps.len()));
    }
    if let Some(i) = steps.windows(2).position(|w| w[1].unix <= w[0].unix) {
        return Err(BacktestError::Order(i + 1));
    }
    let mut names: Vec<String> = rigs
        .iter()
        .flat_map(|r| r.targets.iter().map(|t| t.name.clone()))
        .collect();
    names.sort();
    names.dedup();
    let mut strategies = vec![Strategy::Policy, Strategy::InstantBest, Strategy::Nemos];
    strategies.extend(names.into_iter().map(Strategy::Always));
    let mut results = Vec::new();
    for s in strategies {
        results.push(replay(rigs, sites, policy, steps, &s)?);
    }
    Ok(Report {
        steps: steps.len(),
        from_unix: steps[0].unix,
        to_unix: steps[steps.len() - 1].unix,
        rigs: rigs.len(),
        results,
    })
}

fn replay(
    rigs: &[Rig],
    sites: &BTreeMap<String, SiteLimits>,
    policy: &Policy,
    steps: &[Step],
    s: &Strategy,
) -> Result<StrategyResult, BacktestError> {
    let none = BTreeMap::new();
    let solve = |i: usize, cur: &Allocation| {
        optimise(rigs, sites, &none, &steps[i].market, cur)
            .map(|x| x.allocation)
            .map_err(|source| BacktestError::Solve { step: i, source })
    };
    // Every strategy starts where it would be at step 0 (the start is not a switch).
    let mut cur = match s {
        Strategy::Always(t) => always(rigs, sites, t),
        _ => solve(0, &Allocation::new())?,
    };
    let mut state = State::default();
    let mut r = StrategyResult {
        strategy: s.name(),
        net_profit_usd: 0.0,
        revenue_usd: 0.0,
        electricity_usd: 0.0,
        switching_loss_usd: 0.0,
        switches: 0,
    };
    for i in 0..steps.len() - 1 {
        let next = match s {
            Strategy::Always(_) => cur.clone(),
            Strategy::InstantBest => solve(i, &cur)?,
            Strategy::Nemos => {
                let best = solve(i, &cur)?;
                nemos(rigs, sites, &steps[i].market, &cur, &best)
            }
            Strategy::Policy => {
                let inputs = Inputs {
                    now_unix: steps[i].unix,
                    rigs: rigs.to_vec(),
                    sites: sites.clone(),
                    market: steps[i].market.clone(),
                    current: cur.clone(),
                };
                decide(&inputs, &mut state, policy).allocation
            }
        };
        let dt_h = (steps[i + 1].unix - steps[i].unix) as f64 / 3600.0;
        let realised = &steps[i + 1].market;
        let e = evaluate(rigs, sites, realised, &next);
        r.revenue_usd += e.revenue_usd_h * dt_h;
        r.electricity_usd += e.cost_usd_h * dt_h;
        for rig in rigs {
            let (Some(a), b) = (next.get(&rig.id), cur.get(&rig.id)) else {
                continue;
            };
            if b.map(|b| b.target.as_str()) == Some(a.target.as_str()) {
                continue;
            }
            r.switches += 1;
            if let Some(t) = rig.target(&a.target) {
                let lost_h = (t.restart_s / 3600.0).min(dt_h);
                r.switching_loss_usd += t.revenue_usd_h(realised).unwrap_or(0.0) * lost_h;
            }
        }
        cur = next;
    }
    r.net_profit_usd = r.revenue_usd - r.electricity_usd - r.switching_loss_usd;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::target::{Resources, Target, TargetKind};

    fn rig(id: &str) -> Rig {
        let t = |n: &str| Target {
            name: n.into(),
            kind: TargetKind::Mine,
            series: Some(n.into()),
            units: 1.0,
            power_w: 0.0,
            resources: Resources::default(),
            min_allocation: 0.0,
            max_allocation: 1.0,
            restart_s: 360.0,
        };
        Rig {
            id: id.into(),
            site: "s".into(),
            capacity: Resources::default(),
            targets: vec![t("a"), t("b")],
        }
    }

    fn steps(b_values: &[f64]) -> Vec<Step> {
        b_values
            .iter()
            .enumerate()
            .map(|(i, b)| Step {
                unix: i as i64 * 3600,
                market: Market::from([("a".to_string(), 240.0), ("b".to_string(), *b)]),
            })
            .collect()
    }

    #[test]
    fn a_one_step_spike_costs_the_chaser_and_not_the_policy() {
        // "a" pays 240 USD/day = 10 USD/h; "b" 9 USD/h except one hour at 24 USD/h.
        // Instantaneous best: at the spike's step it moves to b and earns b's *next* value (9),
        // then moves back: 2 switches, each losing 0.1 h of the new target's revenue.
        let rigs = vec![rig("r1")];
        let sites = BTreeMap::from([(
            "s".to_string(),
            SiteLimits {
                tariff_usd_kwh: 0.0,
                power_cap_kw: None,
            },
        )]);
        let mut policy = Policy::default();
        policy.default.rebalance.min_net_usd_h = 0.0;
        let mut b = vec![216.0; 12];
        b[6] = 576.0;
        let rep = run(&rigs, &sites, &policy, &steps(&b)).expect("run");
        let get = |n: &str| rep.results.iter().find(|r| r.strategy == n).expect(n).clone();
        let (p, ib) = (get("policy"), get("instantaneous_best"));
        assert_eq!(p.switches, 0, "{p:?}");
        assert_eq!(ib.switches, 2, "{ib:?}");
        // Policy: 11 h x 10 = 110. Instant: 10 h x 10 + 1 h on b at 9 = 109, minus losses
        // 0.1 h x 9 (moving to b) + 0.1 h x 10 (moving back) = 1.9 -> 107.1.
        assert!((p.net_profit_usd - 110.0).abs() < 1e-6, "{p:?}");
        assert!((ib.net_profit_usd - 107.1).abs() < 1e-6, "{ib:?}");
        assert!((get("always:a").net_profit_usd - 110.0).abs() < 1e-6);
        assert_eq!(
            run(&rigs, &sites, &policy, &steps(&[1.0])).expect_err("short"),
            BacktestError::TooShort(1)
        );
    }
}
