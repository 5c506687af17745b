//! Rebalancing rules: when a better allocation is worth the switch. Seed 001 §3.3's rule plus the
//! hysteresis a fleet needs, every threshold a per-site setting ([`RebalancePolicy`]):
//! - switching cost = sum over targets whose allocation changes by more than `change_threshold`
//!   (0.05) of the new target's hourly revenue x its restart seconds / 3600 (work lost while it
//!   warms up);
//! - switch only if improvement > `min_improvement_pct` (10 %) of the current earnings AND
//!   improvement - cost > `min_net_usd_h` ($0.50/h). With current earnings <= 0 the seed never
//!   switches (its percentage is 0); here any net gain over `min_net_usd_h` counts as an
//!   infinite percentage, so a rig losing money can move;
//! - minimum dwell: a site that switched less than `min_dwell_s` ago stays, unless it loses
//!   money;
//! - asymmetric confirmation: a switch because an alternative *rose* must hold for
//!   `rise_confirm_cycles` cycles in a row; a switch because the current allocation *fell*
//!   (by more than `min_improvement_pct` since the last cycle, or below zero) acts at once;
//! - outlier rejection ([`OutlierFilter`]): a market value more than `outlier_sigma` standard
//!   deviations off its recent window is held back (the last accepted value stands) until the
//!   next cycle confirms it;
//! - cycle every `cycle_s` (900 s) and at once when a market value moves more than
//!   `large_move_pct` since the last cycle ([`cycle_due`]).
//!
//! Must never hide why it kept or switched: every verdict carries its criteria in numbers.

use super::optimise::Allocation;
use super::target::Market;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Per-site thresholds (the defaults are the seed's and the peers' values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RebalancePolicy {
    pub min_improvement_pct: f64,
    pub min_net_usd_h: f64,
    pub change_threshold: f64,
    pub min_dwell_s: i64,
    pub rise_confirm_cycles: u32,
    pub outlier_sigma: f64,
    /// Values kept per series for the outlier test (16 x 15 min = 4 h, minerstat's window).
    pub outlier_window: usize,
    /// The deviation never counts as smaller than this fraction of the mean (a flat window
    /// would otherwise call every move an outlier).
    pub outlier_min_rel: f64,
    pub cycle_s: i64,
    pub large_move_pct: f64,
}

impl Default for RebalancePolicy {
    fn default() -> Self {
        RebalancePolicy {
            min_improvement_pct: 10.0,
            min_net_usd_h: 0.5,
            change_threshold: 0.05,
            min_dwell_s: 3600,
            rise_confirm_cycles: 2,
            outlier_sigma: 3.0,
            outlier_window: 16,
            outlier_min_rel: 0.02,
            cycle_s: 900,
            large_move_pct: 20.0,
        }
    }
}

/// Seed 001's `calculate_reallocation_cost` over the fleet's allocations: for each rig whose
/// exclusive target changes, the new target's revenue/h x restart_s / 3600; for side workloads
/// whose fraction moves by more than `change_threshold`, the same on their share.
/// `revenue_usd_h` and `restart_s` are per "rig/target".
pub fn switching_cost_usd(
    current: &Allocation,
    proposed: &Allocation,
    revenue_usd_h: &BTreeMap<String, f64>,
    restart_s: &BTreeMap<String, f64>,
    change_threshold: f64,
) -> f64 {
    let key = |rig: &str, t: &str| format!("{rig}/{t}");
    let lost = |k: &str| {
        revenue_usd_h.get(k).copied().unwrap_or(0.0) * restart_s.get(k).copied().unwrap_or(60.0) / 3600.0
    };
    let mut cost = 0.0;
    for (rig, new) in proposed {
        let old = current.get(rig);
        if old.map(|o| o.target.as_str()) != Some(new.target.as_str()) {
            cost += lost(&key(rig, &new.target));
        }
        let empty = BTreeMap::new();
        let old_side = old.map_or(&empty, |o| &o.side);
        for (name, a) in &new.side {
            if (a - old_side.get(name).copied().unwrap_or(0.0)).abs() > change_threshold {
                cost += lost(&key(rig, name)) * a;
            }
        }
    }
    cost
}

/// The seed's `should_reallocate` criteria, with its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Criteria {
    pub current_usd_h: f64,
    pub proposed_usd_h: f64,
    pub earnings_improvement_usd_h: f64,
    /// Null when the current earnings are <= 0 (no percentage of nothing).
    pub earnings_improvement_pct: Option<f64>,
    pub switching_cost_usd: f64,
    pub net_benefit_usd_h: f64,
    pub passes: bool,
}

/// Seed 001's rule: improvement % > min AND improvement - cost > min net (see the module doc
/// for current earnings <= 0).
pub fn should_reallocate(
    current_usd_h: f64,
    proposed_usd_h: f64,
    cost_usd: f64,
    p: &RebalancePolicy,
) -> Criteria {
    let improvement = proposed_usd_h - current_usd_h;
    let pct = (current_usd_h > 0.0).then(|| improvement / current_usd_h * 100.0);
    let net = improvement - cost_usd;
    let pct_ok = pct.map_or(improvement > 0.0, |v| v > p.min_improvement_pct);
    Criteria {
        current_usd_h,
        proposed_usd_h,
        earnings_improvement_usd_h: improvement,
        earnings_improvement_pct: pct,
        switching_cost_usd: cost_usd,
        net_benefit_usd_h: net,
        passes: pct_ok && net > p.min_net_usd_h,
    }
}

/// Why a site kept or switched, for the decision record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The proposal is the current allocation.
    AlreadyBest,
    /// The seed's thresholds were not met.
    BelowThresholds,
    /// Better, but the site switched less than `min_dwell_s` ago.
    Dwell,
    /// Better because an alternative rose: waiting for `rise_confirm_cycles`.
    AwaitingConfirmation,
    /// Switched: an alternative rose and stayed up for the confirmation cycles.
    SwitchConfirmedRise,
    /// Switched at once: the current allocation fell.
    SwitchOnFall,
    /// Switched at once: the current allocation breaks a power cap or curtailment.
    SwitchForCap,
    /// The optimiser found no allocation (infeasible or failed): the current one stays.
    SolverFailed,
}

impl Verdict {
    pub fn switches(self) -> bool {
        matches!(
            self,
            Verdict::SwitchConfirmedRise | Verdict::SwitchOnFall | Verdict::SwitchForCap
        )
    }
}

/// A site's memory between cycles for the hysteresis rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteRuleState {
    pub last_switch_unix: Option<i64>,
    /// Consecutive cycles the switch condition held without acting.
    pub pending_cycles: u32,
    /// The current allocation's profit at the last cycle (to tell a fall from a rise).
    pub last_current_usd_h: Option<f64>,
}

/// Applies dwell and asymmetric confirmation to the seed's criteria; updates `state`.
pub fn verdict(
    c: &Criteria,
    same: bool,
    over_cap: bool,
    now_unix: i64,
    state: &mut SiteRuleState,
    p: &RebalancePolicy,
) -> Verdict {
    let fell = state.last_current_usd_h.is_some_and(|prev| {
        c.current_usd_h < 0.0
            || (prev > 0.0 && c.current_usd_h < prev * (1.0 - p.min_improvement_pct / 100.0))
    });
    state.last_current_usd_h = Some(c.current_usd_h);
    let v = if same {
        Verdict::AlreadyBest
    } else if over_cap {
        Verdict::SwitchForCap
    } else if !c.passes {
        Verdict::BelowThresholds
    } else if c.current_usd_h >= 0.0
        && state
            .last_switch_unix
            .is_some_and(|t| now_unix - t < p.min_dwell_s)
    {
        Verdict::Dwell
    } else if fell {
        Verdict::SwitchOnFall
    } else if state.pending_cycles + 1 >= p.rise_confirm_cycles {
        Verdict::SwitchConfirmedRise
    } else {
        Verdict::AwaitingConfirmation
    };
    match v {
        Verdict::AwaitingConfirmation | Verdict::Dwell => state.pending_cycles += 1,
        _ => state.pending_cycles = 0,
    }
    if v.switches() {
        state.last_switch_unix = Some(now_unix);
        state.last_current_usd_h = Some(c.proposed_usd_h);
    }
    v
}

/// Outlier rejection per market series (minerstat's 3 sigma over the last 4 h).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutlierFilter {
    windows: BTreeMap<String, VecDeque<f64>>,
    held: BTreeMap<String, f64>,
}

/// What the filter let through and what it held back this cycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filtered {
    pub market: Market,
    /// Series -> the raw value held back (the accepted value stands in `market`).
    pub held_back: BTreeMap<String, f64>,
}

impl OutlierFilter {
    /// Filters one cycle's raw values. A value is an outlier when the window has at least 4
    /// values and |v - mean| > sigma x max(sd, min_rel x |mean|); it is accepted when the
    /// next cycle's value is also off on the same side of the mean (a regime change).
    pub fn filter(&mut self, raw: &Market, p: &RebalancePolicy) -> Filtered {
        let mut out = Filtered::default();
        for (series, &v) in raw {
            let w = self.windows.entry(series.clone()).or_default();
            let verdict_value = if w.len() >= 4 {
                let n = w.len() as f64;
                let mean = w.iter().sum::<f64>() / n;
                let sd = (w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
                let scale = sd.max(p.outlier_min_rel * mean.abs());
                let off = (v - mean).abs() > p.outlier_sigma * scale;
                let confirmed = self
                    .held
                    .get(series)
                    .is_some_and(|h| (h - mean).signum() == (v - mean).signum());
                if off && !confirmed {
                    self.held.insert(series.clone(), v);
                    out.held_back.insert(series.clone(), v);
                    w.back().copied()
                } else {
                    if off {
                        // A confirmed new level: the old window no longer describes it.
                        let h = self.held.get(series).copied();
                        w.clear();
                        w.extend(h);
                    }
                    self.held.remove(series);
                    None
                }
            } else {
                None
            };
            match verdict_value {
                Some(kept) => {
                    out.market.insert(series.clone(), kept);
                }
                None => {
                    w.push_back(v);
                    while w.len() > p.outlier_window.max(1) {
                        w.pop_front();
                    }
                    out.market.insert(series.clone(), v);
                }
            }
        }
        out
    }
}

/// Whether a cycle is due: `cycle_s` since the last one, or a value moved more than
/// `large_move_pct` (from the last cycle's value; a series new since then counts as a move).
pub fn cycle_due(
    now_unix: i64,
    last_cycle_unix: Option<i64>,
    last: &Market,
    now: &Market,
    p: &RebalancePolicy,
) -> bool {
    let Some(t) = last_cycle_unix else {
        return true;
    };
    if now_unix - t >= p.cycle_s {
        return true;
    }
    now.iter().any(|(k, v)| match last.get(k) {
        None => true,
        Some(prev) if *prev != 0.0 => ((v - prev) / prev).abs() * 100.0 > p.large_move_pct,
        Some(_) => *v != 0.0,
    })
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
