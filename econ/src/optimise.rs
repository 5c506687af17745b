//! Worker optimisation (seed 000 §7, for ASICs): from what a miner does (measured hashrate and
//! power), what the efficiency model expects of a healthy unit at its settings, and the agents'
//! power advice, suggestions with their effect in money at the current hashprice and tariff.
//!
//! Rules (each a suggestion; all figures per day):
//! - power_target (from the agent's `PowerAdvice`): current W -> advised W; hashrate gain =
//!   advised TH/s - measured TH/s; power saving = measured W - advised W; impact = gain x
//!   hashprice + saving x 24 / 1000 x tariff. Offered only when the impact is positive.
//!   Priority high above 2 % of the day's revenue, else medium. Risk: the advice's.
//! - inspect_hashrate: measured < 90 % of expected TH/s (board, chip or cooling fault); impact
//!   = missing TH/s x hashprice; high under 80 %, else medium.
//! - inspect_power: measured > 110 % of expected W (PSU, fans, a dying board drawing more);
//!   impact = excess W x 24 / 1000 x tariff; medium.
//! - risk: the advice's risk, raised to medium within 10 C of the chip limit and to high at or
//!   over it.
//! - efficiency in J/TH (the fleet's unit, not the seed's hash/W); optimised = after the power
//!   target, else the current one; improvement % = (current - optimised) / current x 100.
//!
//! Must never suggest a change whose effect it cannot price: no hashprice, no suggestion.

use crate::economics::{quantity, InputError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
}

/// The agent's advice for this ASIC (protocol `PowerAdvice`'s suggestion, in these units).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerAdviceIn {
    pub target_power_w: f64,
    pub target_hashrate_ths: f64,
    pub risk_level: Risk,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerState {
    pub worker_id: String,
    pub current_hashrate_ths: f64,
    pub current_power_w: f64,
    #[serde(default)]
    pub current_temp_c: Option<f64>,
    #[serde(default)]
    pub max_temp_c: Option<f64>,
    #[serde(default)]
    pub expected_hashrate_ths: Option<f64>,
    #[serde(default)]
    pub expected_power_w: Option<f64>,
    #[serde(default)]
    pub advice: Option<PowerAdviceIn>,
    pub hashprice_usd_per_ths_day: f64,
    pub tariff_usd_kwh: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub current_value: f64,
    pub suggested_value: f64,
    pub expected_impact_usd_day: f64,
    pub priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptimizationResult {
    pub worker_id: String,
    pub current_efficiency_j_per_th: Option<f64>,
    pub optimized_efficiency_j_per_th: Option<f64>,
    pub improvement_pct: f64,
    pub suggestions: Vec<Suggestion>,
    pub risk_level: Risk,
    pub estimated_hashrate_gain_ths: f64,
    pub estimated_power_savings_w: f64,
    pub profit_change_usd_day: f64,
}

fn opt(field: &'static str, v: Option<f64>) -> Result<Option<f64>, InputError> {
    v.map(|x| quantity(field, x)).transpose()
}

pub fn optimise(w: &WorkerState) -> Result<OptimizationResult, InputError> {
    if w.worker_id.trim().is_empty() {
        return Err(InputError::new("worker_id", "must not be empty"));
    }
    let ths = quantity("current_hashrate_ths", w.current_hashrate_ths)?;
    let watts = quantity("current_power_w", w.current_power_w)?;
    let hashprice = quantity("hashprice_usd_per_ths_day", w.hashprice_usd_per_ths_day)?;
    let tariff = quantity("tariff_usd_kwh", w.tariff_usd_kwh)?;
    let expected_ths = opt("expected_hashrate_ths", w.expected_hashrate_ths)?;
    let expected_w = opt("expected_power_w", w.expected_power_w)?;
    let temp = w.current_temp_c.filter(|t| t.is_finite());
    let limit = opt("max_temp_c", w.max_temp_c)?;
    let revenue = ths * hashprice;
    let usd_per_w_day = 24.0 / 1000.0 * tariff;
    let j_per_th = |w: f64, t: f64| (t > 0.0).then(|| w / t);

    let mut suggestions = Vec::new();
    let (mut gain, mut saving, mut change) = (0.0, 0.0, 0.0);
    let mut optimized = j_per_th(watts, ths);
    let mut risk = Risk::Low;
    if let Some(a) = w.advice {
        let target_w = quantity("advice.target_power_w", a.target_power_w)?;
        let target_ths = quantity("advice.target_hashrate_ths", a.target_hashrate_ths)?;
        let impact = (target_ths - ths) * hashprice + (watts - target_w) * usd_per_w_day;
        if impact > 0.0 {
            gain = target_ths - ths;
            saving = watts - target_w;
            change = impact;
            optimized = j_per_th(target_w, target_ths);
            risk = risk.max(a.risk_level);
            suggestions.push(Suggestion {
                kind: "power_target",
                current_value: watts,
                suggested_value: target_w,
                expected_impact_usd_day: impact,
                priority: if impact > 0.02 * revenue {
                    Priority::High
                } else {
                    Priority::Medium
                },
            });
        }
    }
    if let Some(e) = expected_ths.filter(|e| *e > 0.0) {
        if ths < 0.9 * e {
            suggestions.push(Suggestion {
                kind: "inspect_hashrate",
                current_value: ths,
                suggested_value: e,
                expected_impact_usd_day: (e - ths) * hashprice,
                priority: if ths < 0.8 * e {
                    Priority::High
                } else {
                    Priority::Medium
                },
            });
        }
    }
    if let Some(e) = expected_w.filter(|e| *e > 0.0) {
        if watts > 1.1 * e {
            suggestions.push(Suggestion {
                kind: "inspect_power",
                current_value: watts,
                suggested_value: e,
                expected_impact_usd_day: (watts - e) * usd_per_w_day,
                priority: Priority::Medium,
            });
        }
    }
    if let (Some(t), Some(l)) = (temp, limit) {
        risk = risk.max(if t >= l {
            Risk::High
        } else if t >= l - 10.0 {
            Risk::Medium
        } else {
            Risk::Low
        });
    }
    let current = j_per_th(watts, ths);
    let improvement_pct = match (current, optimized) {
        (Some(c), Some(o)) if c > 0.0 => (c - o) / c * 100.0,
        _ => 0.0,
    };
    Ok(OptimizationResult {
        worker_id: w.worker_id.clone(),
        current_efficiency_j_per_th: current,
        optimized_efficiency_j_per_th: optimized,
        improvement_pct,
        suggestions,
        risk_level: risk,
        estimated_hashrate_gain_ths: gain,
        estimated_power_savings_w: saving,
        profit_change_usd_day: change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s19() -> WorkerState {
        WorkerState {
            worker_id: "rig1/asic0".into(),
            current_hashrate_ths: 100.0,
            current_power_w: 3250.0,
            current_temp_c: Some(70.0),
            max_temp_c: Some(90.0),
            expected_hashrate_ths: Some(104.0),
            expected_power_w: Some(3200.0),
            advice: Some(PowerAdviceIn {
                target_power_w: 2900.0,
                target_hashrate_ths: 96.0,
                risk_level: Risk::Low,
            }),
            hashprice_usd_per_ths_day: 0.0629747,
            tariff_usd_kwh: 0.06,
        }
    }

    #[test]
    fn power_target_golden() {
        // Advice 2,900 W / 96 TH/s: gain -4 TH/s x 0.0629747 = -0.251899; saving 350 W x 24 /
        // 1000 x 0.06 = 0.504; impact +0.252101 USD/day. Revenue 6.29747: 2 % = 0.125949 <
        // 0.252101 -> high. J/TH 32.5 -> 2900 / 96 = 30.208333: improvement 7.0513 %.
        // 100 >= 0.9 x 104 = 93.6 and 3,250 <= 1.1 x 3,200: no inspection. 70 C < 80 C: low.
        let r = optimise(&s19()).expect("result");
        assert_eq!(r.suggestions.len(), 1);
        let s = &r.suggestions[0];
        assert_eq!((s.kind, s.priority), ("power_target", Priority::High));
        assert!(
            (s.expected_impact_usd_day - 0.252101).abs() < 1e-6,
            "{}",
            s.expected_impact_usd_day
        );
        assert_eq!(
            (r.estimated_hashrate_gain_ths, r.estimated_power_savings_w),
            (-4.0, 350.0)
        );
        assert!((r.optimized_efficiency_j_per_th.expect("o") - 30.208333).abs() < 1e-6);
        assert!((r.improvement_pct - 7.0513).abs() < 1e-4, "{}", r.improvement_pct);
        assert_eq!(r.risk_level, Risk::Low);
    }

    #[test]
    fn inspections_risk_and_unprofitable_advice() {
        // 75 TH/s of 104 expected (< 80 %): inspect, high, 29 x 0.0629747 = 1.826266 USD/day.
        // 3,600 W > 3,520: inspect power, 400 W x 0.00144 = 0.576. Advice at a tariff of 0 and
        // fewer TH/s loses money: not offered. 85 C within 10 C of 90: medium.
        let mut w = s19();
        w.current_hashrate_ths = 75.0;
        w.current_power_w = 3600.0;
        w.current_temp_c = Some(85.0);
        w.tariff_usd_kwh = 0.06;
        w.advice = Some(PowerAdviceIn {
            target_power_w: 3600.0,
            target_hashrate_ths: 70.0,
            risk_level: Risk::Low,
        });
        let r = optimise(&w).expect("result");
        let kinds: Vec<_> = r.suggestions.iter().map(|s| (s.kind, s.priority)).collect();
        assert_eq!(
            kinds,
            vec![
                ("inspect_hashrate", Priority::High),
                ("inspect_power", Priority::Medium)
            ]
        );
        assert!((r.suggestions[0].expected_impact_usd_day - 1.826266).abs() < 1e-6);
        assert!((r.suggestions[1].expected_impact_usd_day - 0.576).abs() < 1e-9);
        assert_eq!((r.risk_level, r.profit_change_usd_day), (Risk::Medium, 0.0));
        w.current_temp_c = Some(95.0);
        assert_eq!(optimise(&w).expect("r").risk_level, Risk::High);
    }

    #[test]
    fn bad_fields_are_named() {
        let mut w = s19();
        w.current_power_w = f64::NAN;
        assert_eq!(optimise(&w).expect_err("nan").field, "current_power_w");
        let mut w = s19();
        w.advice = Some(PowerAdviceIn {
            target_power_w: -1.0,
            target_hashrate_ths: 1.0,
            risk_level: Risk::Low,
        });
        assert_eq!(optimise(&w).expect_err("neg").field, "advice.target_power_w");
        w.worker_id = " ".into();
        assert_eq!(optimise(&w).expect_err("id").field, "worker_id");
    }
}
