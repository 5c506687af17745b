//! The allocation optimiser: seed 001 §3.3's linear program (maximise expected earnings subject
//! to CPU, memory, bandwidth and storage limits and per-target bounds) extended with what a
//! fleet needs: one exclusive target (algorithm, power preset or pause) per rig as binary
//! variables, side workloads as fractions, and a power cap per site in kW. Solved by good_lp's
//! microlp backend (pure Rust branch and bound over a simplex); nothing home-made.
//!
//! Model, per rig r with exclusive targets t (pause always among them) and side workloads s:
//!   maximise   sum profit_t x_rt + sum profit_s a_rs          (USD/h at full allocation)
//!   s.t.       sum_t x_rt = 1,  x_rt in {0, 1},  min_s <= a_rs <= max_s
//!              sum_t res_t x_rt + sum_s res_s a_rs <= capacity_r   (each of the 4 resources)
//!              sum over the site's rigs of power (same form) <= power_cap_kw x 1000
//! A target whose series has no market value is left out (reported), never priced at zero.
//!
//! Must never return an allocation it did not solve for: an infeasible or failed solve is an
//! error, and the caller keeps the current allocation (the seed's rule) and says why.

use super::target::{Market, Resources, Target, TargetKind, PAUSE};
use good_lp::{variable, variables, Expression, ResolutionError, Solution, SolverModel, Variable};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Tie-break in favour of the current target (USD/h): equal options never cause a switch.
const INCUMBENT_BONUS_USD_H: f64 = 1e-7;

/// A rig or ASIC (or a DePIN host) and its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rig {
    pub id: String,
    pub site: String,
    /// What the host has; a resource a target uses but the host lacks caps that target at 0.
    #[serde(default)]
    pub capacity: Resources,
    pub targets: Vec<Target>,
}

impl Rig {
    /// The rig's exclusive targets, pause included whether or not it was listed.
    pub fn exclusive(&self) -> Vec<Target> {
        let mut out: Vec<Target> = self
            .targets
            .iter()
            .filter(|t| t.kind.is_exclusive())
            .cloned()
            .collect();
        if !out.iter().any(|t| t.kind == TargetKind::Pause) {
            out.push(Target::pause());
        }
        out
    }

    pub fn target(&self, name: &str) -> Option<Target> {
        if name == PAUSE {
            return Some(
                self.exclusive()
                    .into_iter()
                    .find(|t| t.kind == TargetKind::Pause)
                    .unwrap_or_else(Target::pause),
            );
        }
        self.targets.iter().find(|t| t.name == name).cloned()
    }
}

/// A site's tariff and power cap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteLimits {
    pub tariff_usd_kwh: f64,
    #[serde(default)]
    pub power_cap_kw: Option<f64>,
}

/// One rig's allocation: its exclusive target and its side workloads' fractions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RigAllocation {
    pub target: String,
    #[serde(default)]
    pub side: BTreeMap<String, f64>,
}

impl RigAllocation {
    pub fn paused() -> RigAllocation {
        RigAllocation {
            target: PAUSE.to_string(),
            side: BTreeMap::new(),
        }
    }
}

/// Allocations by rig id.
pub type Allocation = BTreeMap<String, RigAllocation>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    #[error("infeasible: no allocation meets the resource limits, bounds and power caps")]
    Infeasible,
    #[error("solver failed: {0}")]
    Solver(String),
    #[error("rig {rig:?} names site {site:?}, which has no tariff")]
    UnknownSite { rig: String, site: String },
    #[error("rig {rig:?}: {source}")]
    Target {
        rig: String,
        source: crate::economics::InputError,
    },
}

/// What an allocation is worth and uses, per rig and per site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub revenue_usd_h: f64,
    pub cost_usd_h: f64,
    pub profit_usd_h: f64,
    pub power_kw_by_site: BTreeMap<String, f64>,
    /// Per rig: usage / capacity x 100 of each resource the host has.
    pub utilisation_pct: BTreeMap<String, BTreeMap<&'static str, f64>>,
    /// Targets left out because their series has no market value ("rig/target").
    pub unpriced: Vec<String>,
}

/// Per-target figures of one rig's allocation (revenue, power, resources), for evaluation.
fn rig_terms(rig: &Rig, alloc: &RigAllocation) -> Vec<(Target, f64)> {
    let mut out = Vec::new();
    if let Some(t) = rig.target(&alloc.target) {
        out.push((t, 1.0));
    }
    for (name, a) in &alloc.side {
        if let Some(t) = rig
            .targets
            .iter()
            .find(|t| &t.name == name && t.kind == TargetKind::Side)
        {
            out.push((t.clone(), *a));
        }
    }
    out
}

/// Revenue, cost, profit, power and utilisation of `alloc` at this market (a rig missing from
/// `alloc` counts as paused; a target without a market value earns nothing and is listed).
pub fn evaluate(
    rigs: &[Rig],
    sites: &BTreeMap<String, SiteLimits>,
    market: &Market,
    alloc: &Allocation,
) -> Evaluation {
    let mut e = Evaluation {
        revenue_usd_h: 0.0,
        cost_usd_h: 0.0,
        profit_usd_h: 0.0,
        power_kw_by_site: BTreeMap::new(),
        utilisation_pct: BTreeMap::new(),
        unpriced: Vec::new(),
    };
    let paused = RigAllocation::paused();
    for rig in rigs {
        let ra = alloc.get(&rig.id).unwrap_or(&paused);
        let tariff = sites.get(&rig.site).map_or(0.0, |s| s.tariff_usd_kwh);
        let mut used = [0.0; 4];
        let mut power_w = 0.0;
        for (t, a) in rig_terms(rig, ra) {
            match t.revenue_usd_h(market) {
                Some(r) => e.revenue_usd_h += r * a,
                None => e.unpriced.push(format!("{}/{}", rig.id, t.name)),
            }
            e.cost_usd_h += t.cost_usd_h(tariff) * a;
            power_w += t.power_w * a;
            for (u, (_, v)) in used.iter_mut().zip(t.resources.as_array()) {
                *u += v * a;
            }
        }
        *e.power_kw_by_site.entry(rig.site.clone()).or_default() += power_w / 1000.0;
        let util = rig
            .capacity
            .as_array()
            .iter()
            .zip(used)
            .filter(|((_, cap), _)| *cap > 0.0)
            .map(|((name, cap), u)| (*name, u / cap * 100.0))
            .collect();
        e.utilisation_pct.insert(rig.id.clone(), util);
    }
    e.profit_usd_h = e.revenue_usd_h - e.cost_usd_h;
    e
}

/// The optimiser's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Solved {
    pub allocation: Allocation,
    /// The objective: expected profit in USD/h at this market and the sites' tariffs.
    pub expected_profit_usd_h: f64,
}

/// Variables by target name (a rig's exclusive ones, or its side workloads).
type Named = Vec<(String, Variable)>;

/// Solves the allocation for `rigs` at `market` under each site's power cap (`caps_kw` overrides
/// the sites' own, e.g. when curtailment or a demand-response request lowers it).
pub fn optimise(
    rigs: &[Rig],
    sites: &BTreeMap<String, SiteLimits>,
    caps_kw: &BTreeMap<String, f64>,
    market: &Market,
    current: &Allocation,
) -> Result<Solved, SolveError> {
    let mut vars = variables!();
    let mut objective = Expression::from(0.0);
    let mut constraints = Vec::new();
    let mut site_power: BTreeMap<&str, Expression> = BTreeMap::new();
    let mut layout: Vec<(&Rig, Named, Named)> = Vec::new();
    for rig in rigs {
        let site = sites.get(&rig.site).ok_or_else(|| SolveError::UnknownSite {
            rig: rig.id.clone(),
            site: rig.site.clone(),
        })?;
        let mut usage: [Expression; 4] = Default::default();
        let mut power = Expression::from(0.0);
        let mut one_of = Expression::from(0.0);
        let mut excl = Vec::new();
        let mut side = Vec::new();
        let incumbent = current.get(&rig.id).map(|c| c.target.as_str());
        for t in rig.exclusive() {
            t.validate().map_err(|source| SolveError::Target {
                rig: rig.id.clone(),
                source,
            })?;
            let Some(profit) = t.profit_usd_h(market, site.tariff_usd_kwh) else {
                continue;
            };
            let x = vars.add(variable().binary());
            let bonus = if incumbent == Some(t.name.as_str()) {
                INCUMBENT_BONUS_USD_H
            } else {
                0.0
            };
            objective += (profit + bonus) * x;
            one_of += x;
            power += t.power_w * x;
            for (u, (_, v)) in usage.iter_mut().zip(t.resources.as_array()) {
                *u += v * x;
            }
            excl.push((t.name.clone(), x));
        }
        for t in rig.targets.iter().filter(|t| t.kind == TargetKind::Side) {
            t.validate().map_err(|source| SolveError::Target {
                rig: rig.id.clone(),
                source,
            })?;
            let Some(profit) = t.profit_usd_h(market, site.tariff_usd_kwh) else {
                continue;
            };
            let a = vars.add(variable().min(t.min_allocation).max(t.max_allocation));
            objective += profit * a;
            power += t.power_w * a;
            for (u, (_, v)) in usage.iter_mut().zip(t.resources.as_array()) {
                *u += v * a;
            }
            side.push((t.name.clone(), a));
        }
        constraints.push(one_of.eq(1.0));
        for (u, (_, cap)) in usage.into_iter().zip(rig.capacity.as_array()) {
            constraints.push(u.leq(cap));
        }
        *site_power.entry(rig.site.as_str()).or_default() += power;
        layout.push((rig, excl, side));
    }
    for (site, power) in site_power {
        let cap_kw = caps_kw
            .get(site)
            .copied()
            .or_else(|| sites.get(site).and_then(|s| s.power_cap_kw));
        if let Some(cap) = cap_kw {
            constraints.push(power.leq(cap.max(0.0) * 1000.0));
        }
    }
    let mut model = vars.maximise(objective).using(good_lp::microlp);
    for c in constraints {
        model = model.with(c);
    }
    let sol = model.solve().map_err(|e| match e {
        ResolutionError::Infeasible => SolveError::Infeasible,
        other => SolveError::Solver(other.to_string()),
    })?;
    let mut allocation = Allocation::new();
    for (rig, excl, side) in layout {
        let target = excl
            .iter()
            .max_by(|a, b| sol.value(a.1).total_cmp(&sol.value(b.1)))
            .map_or_else(|| PAUSE.to_string(), |(n, _)| n.clone());
        let side = side
            .iter()
            .map(|(n, v)| (n.clone(), sol.value(*v).clamp(0.0, 1.0)))
            .filter(|(_, v)| *v > 1e-9)
            .collect();
        allocation.insert(rig.id.clone(), RigAllocation { target, side });
    }
    let expected_profit_usd_h = evaluate(rigs, sites, market, &allocation).profit_usd_h;
    Ok(Solved {
        allocation,
        expected_profit_usd_h,
    })
}

#[cfg(test)]
#[path = "optimise_tests.rs"]
mod tests;
