//! Allocation (issue 17, seed 001 §3.3): which target each rig and ASIC runs, from expected
//! profit per hour, under resource limits, site power caps and curtailment, with hysteresis so
//! the fleet does not chase spikes. Pure: [`decide`] takes the cycle's inputs, the state kept
//! between cycles and the policy, and returns a [`Decision`] (serialisable, units in the field
//! names) with the alternatives and the reasons; the hub stores it and applies it (or only shows
//! it in advise mode). The backtest replays history through the same function.
//!
//! Files: `target` (targets and their profit), `optimise` (the MILP), `rules` (rebalancing and
//! outlier rejection), `curtail` (the per-site curtailment state machine), `backtest` (replay and
//! the baselines), `fleet` (the backtest's fleet file shape), `series` (its market series from
//! history tables or an intraday feed).
//!
//! Must never do I/O or read a clock (the time is an input), and never switch a rig without a
//! verdict that says why.

pub mod backtest;
pub mod curtail;
pub mod fleet;
pub mod optimise;
pub mod rules;
pub mod series;
pub mod target;

pub use curtail::{CurtailPolicy, CurtailState, Stage};
pub use optimise::{evaluate, optimise, Allocation, Rig, RigAllocation, SiteLimits, SolveError};
pub use rules::{Criteria, OutlierFilter, RebalancePolicy, SiteRuleState, Verdict};
pub use target::{Market, Resources, Target, TargetKind, PAUSE};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One site's thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SitePolicy {
    pub rebalance: RebalancePolicy,
    pub curtail: CurtailPolicy,
}

/// The policy: per site, and a default for sites not named (whose rebalance settings also
/// drive the outlier filter, which is fleet-wide because the market is).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub default: SitePolicy,
    pub sites: BTreeMap<String, SitePolicy>,
}

impl Policy {
    pub fn site(&self, name: &str) -> &SitePolicy {
        self.sites.get(name).unwrap_or(&self.default)
    }
}

/// One cycle's inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    pub now_unix: i64,
    pub rigs: Vec<Rig>,
    /// Tariff (this window's electricity price) and configured cap per site.
    pub sites: BTreeMap<String, SiteLimits>,
    /// Raw market values (USD per unit per day) by series, before outlier rejection.
    pub market: Market,
    /// What each rig runs now (a rig missing here counts as paused).
    pub current: Allocation,
}

/// What the decision kept between cycles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub filter: OutlierFilter,
    pub sites: BTreeMap<String, SiteState>,
    pub last_cycle_unix: Option<i64>,
    pub last_market: Market,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteState {
    pub rules: SiteRuleState,
    pub curtail: CurtailState,
}

/// One option of one rig at this cycle's (filtered) market.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    pub target: String,
    /// Null when its series has no market value (it could not be chosen).
    pub profit_usd_h: Option<f64>,
    pub power_w: f64,
    pub chosen: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteDecision {
    pub verdict: Verdict,
    /// The seed's criteria: current vs proposed (absent when the solver failed).
    pub criteria: Option<Criteria>,
    pub curtail_stage: Stage,
    /// The cap the optimiser obeyed (configured cap, max power, curtailment, demand response).
    pub power_cap_kw: Option<f64>,
    pub current_power_kw: f64,
    pub decided_power_kw: f64,
    pub tariff_usd_kwh: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub now_unix: i64,
    /// The market the decision used (held-back outliers replaced by their last accepted value).
    pub market_used: Market,
    pub held_back: BTreeMap<String, f64>,
    /// What to run from now on: the proposal on sites whose verdict switches, else the current.
    pub allocation: Allocation,
    /// The optimiser's best, whether or not the rules let it through.
    pub proposed: Allocation,
    pub expected_profit_usd_h: f64,
    pub sites: BTreeMap<String, SiteDecision>,
    /// Per rig, every exclusive target priced.
    pub alternatives: BTreeMap<String, Vec<Alternative>>,
    pub utilisation_pct: BTreeMap<String, BTreeMap<&'static str, f64>>,
    /// Why the optimiser produced nothing, when it did not.
    pub solver_error: Option<String>,
}

/// Per "rig/target": revenue/h at `market` and restart seconds (for the switching cost).
pub(crate) fn cost_tables(rigs: &[Rig], market: &Market) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let mut revenue = BTreeMap::new();
    let mut restart = BTreeMap::new();
    for rig in rigs {
        for t in rig
            .exclusive()
            .iter()
            .chain(rig.targets.iter().filter(|t| !t.kind.is_exclusive()))
        {
            let k = format!("{}/{}", rig.id, t.name);
            revenue.insert(k.clone(), t.revenue_usd_h(market).unwrap_or(0.0));
            restart.insert(k, t.restart_s);
        }
    }
    (revenue, restart)
}

/// The site's draw with every rig on its lowest non-zero exclusive power (curtailment's
/// `reduced_power` stage).
fn reduced_kw(rigs: &[&Rig]) -> f64 {
    rigs.iter()
        .filter_map(|r| {
            r.exclusive()
                .iter()
                .map(|t| t.power_w)
                .filter(|w| *w > 0.0)
                .reduce(f64::min)
        })
        .sum::<f64>()
        / 1000.0
}

fn restrict(a: &Allocation, rigs: &[&Rig]) -> Allocation {
    rigs.iter()
        .filter_map(|r| a.get(&r.id).map(|x| (r.id.clone(), x.clone())))
        .collect()
}

/// One allocation cycle: filter the market, step curtailment, solve, and per site let the
/// rules decide between the current allocation and the proposal.
pub fn decide(inputs: &Inputs, state: &mut State, policy: &Policy) -> Decision {
    let filtered = state.filter.filter(&inputs.market, &policy.default.rebalance);
    let market = filtered.market;
    let now = inputs.now_unix;
    let mut by_site: BTreeMap<&str, Vec<&Rig>> = BTreeMap::new();
    for r in &inputs.rigs {
        by_site.entry(r.site.as_str()).or_default().push(r);
    }
    let mut caps = BTreeMap::new();
    let mut stages = BTreeMap::new();
    for (site, rigs) in &by_site {
        let p = policy.site(site);
        let st = state.sites.entry(site.to_string()).or_default();
        let limits = inputs.sites.get(*site);
        if let Some(l) = limits {
            st.curtail.step(l.tariff_usd_kwh, &p.curtail);
        }
        let cap = st.curtail.cap_kw(
            limits.and_then(|l| l.power_cap_kw),
            reduced_kw(rigs),
            now,
            &p.curtail,
        );
        if let Some(c) = cap {
            caps.insert(site.to_string(), c);
        }
        stages.insert(site.to_string(), st.curtail.stage);
    }
    let solved = optimise(&inputs.rigs, &inputs.sites, &caps, &market, &inputs.current);
    let (proposed, solver_error) = match solved {
        Ok(s) => (s.allocation, None),
        Err(e) => (inputs.current.clone(), Some(e.to_string())),
    };
    let (revenue, restart) = cost_tables(&inputs.rigs, &market);
    let mut allocation = Allocation::new();
    let mut sites = BTreeMap::new();
    for (site, rigs) in &by_site {
        let p = policy.site(site).rebalance;
        let cur = restrict(&inputs.current, rigs);
        let prop = restrict(&proposed, rigs);
        let site_rigs: Vec<Rig> = rigs.iter().map(|r| (*r).clone()).collect();
        let ce = evaluate(&site_rigs, &inputs.sites, &market, &cur);
        let pe = evaluate(&site_rigs, &inputs.sites, &market, &prop);
        let cap = caps.get(*site).copied();
        let cur_kw = ce.power_kw_by_site.get(*site).copied().unwrap_or(0.0);
        let st = state.sites.entry(site.to_string()).or_default();
        let (verdict, criteria) = if solver_error.is_some() {
            (Verdict::SolverFailed, None)
        } else {
            let cost = rules::switching_cost_usd(&cur, &prop, &revenue, &restart, p.change_threshold);
            let c = rules::should_reallocate(ce.profit_usd_h, pe.profit_usd_h, cost, &p);
            let same = rigs.iter().all(|r| {
                let paused = RigAllocation::paused();
                let a = cur.get(&r.id).unwrap_or(&paused);
                let b = prop.get(&r.id).unwrap_or(&paused);
                a.target == b.target
                    && a.side.keys().chain(b.side.keys()).all(|k| {
                        (a.side.get(k).unwrap_or(&0.0) - b.side.get(k).unwrap_or(&0.0)).abs()
                            <= p.change_threshold
                    })
            });
            let over = cap.is_some_and(|c| cur_kw > c + 1e-9);
            (rules::verdict(&c, same, over, now, &mut st.rules, &p), Some(c))
        };
        let chosen = if verdict.switches() { &prop } else { &cur };
        for r in rigs {
            allocation.insert(
                r.id.clone(),
                chosen.get(&r.id).cloned().unwrap_or_else(RigAllocation::paused),
            );
        }
        let decided_kw = if verdict.switches() {
            pe.power_kw_by_site.get(*site).copied().unwrap_or(0.0)
        } else {
            cur_kw
        };
        sites.insert(
            site.to_string(),
            SiteDecision {
                verdict,
                criteria,
                curtail_stage: stages.get(*site).copied().unwrap_or_default(),
                power_cap_kw: cap,
                current_power_kw: cur_kw,
                decided_power_kw: decided_kw,
                tariff_usd_kwh: inputs.sites.get(*site).map_or(0.0, |l| l.tariff_usd_kwh),
            },
        );
    }
    let alternatives = inputs
        .rigs
        .iter()
        .map(|r| {
            let tariff = inputs.sites.get(&r.site).map_or(0.0, |l| l.tariff_usd_kwh);
            let pick = allocation.get(&r.id).map(|a| a.target.clone());
            let alts = r
                .exclusive()
                .into_iter()
                .map(|t| Alternative {
                    profit_usd_h: t.profit_usd_h(&market, tariff),
                    power_w: t.power_w,
                    chosen: pick.as_deref() == Some(t.name.as_str()),
                    target: t.name,
                })
                .collect();
            (r.id.clone(), alts)
        })
        .collect();
    let e = evaluate(&inputs.rigs, &inputs.sites, &market, &allocation);
    state.last_cycle_unix = Some(now);
    state.last_market = inputs.market.clone();
    Decision {
        now_unix: now,
        market_used: market,
        held_back: filtered.held_back,
        allocation,
        proposed,
        expected_profit_usd_h: e.profit_usd_h,
        sites,
        alternatives,
        utilisation_pct: e.utilisation_pct,
        solver_error,
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
