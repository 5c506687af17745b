//! Operational metrics of a miner over a period (seed 002 §4.4 `operational_efficiency`), from
//! its samples. The seed names the fields; the formulas are ours:
//! - hashrate stability = max(0, 1 - sigma / mu) of the per-sample total hashrate (population
//!   standard deviation over reachable samples); 1 is perfectly steady, 0 is noise as large as
//!   the mean. None without samples or with a zero mean.
//! - power efficiency (J/TH) = sum(W x dt) / sum(TH hashed) = mean W / mean TH/s over the same
//!   samples (equal spacing).
//! - thermal margin = clamp((T_limit - mean max chip temperature) / (T_limit - ambient), 0, 1):
//!   the share of the headroom between ambient and the limit still unused; 0 at or over the
//!   limit. None when T_limit <= ambient (no headroom defined).
//! - uptime % = 100 x samples mining and reachable / samples expected (period / poll interval),
//!   so a gap in the samples counts as down; capped at 100.
//! - anomaly roll-up (seed 002 §4.4 `anomaly_scores`): the highest agent score in the period per
//!   group of threats: hashrate <- {hashrate_drop, board_loss}; temperature <- {overheat,
//!   fan_failure}; power <- power_anomaly; shares <- {rejection_surge, pool_change}; overall =
//!   the highest of all (`unknown` counts only there). None for a group without a score.
//!
//! Must never treat a gap in samples as uptime, or average over NaN.

use crate::economics::{quantity, InputError};

pub fn hashrate_stability(hashrates: &[f64]) -> Option<f64> {
    let n = hashrates.len();
    if n == 0 || hashrates.iter().any(|h| !h.is_finite()) {
        return None;
    }
    let mean = hashrates.iter().sum::<f64>() / n as f64;
    if mean <= 0.0 {
        return None;
    }
    let var = hashrates.iter().map(|h| (h - mean).powi(2)).sum::<f64>() / n as f64;
    Some((1.0 - var.sqrt() / mean).max(0.0))
}

/// J/TH from equally spaced samples of watts and TH/s; none when nothing was hashed.
pub fn power_efficiency_j_per_th(watts: &[f64], ths: &[f64]) -> Option<f64> {
    if watts.is_empty() || watts.len() != ths.len() {
        return None;
    }
    let w: f64 = watts.iter().sum();
    let t: f64 = ths.iter().sum();
    (w.is_finite() && t.is_finite() && t > 0.0).then(|| w / t)
}

pub fn thermal_margin(limit_c: f64, mean_max_chip_c: f64, ambient_c: f64) -> Option<f64> {
    if !(limit_c.is_finite() && mean_max_chip_c.is_finite() && ambient_c.is_finite()) || limit_c <= ambient_c
    {
        return None;
    }
    Some(((limit_c - mean_max_chip_c) / (limit_c - ambient_c)).clamp(0.0, 1.0))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct AnomalyRollup {
    pub hashrate: Option<f32>,
    pub temperature: Option<f32>,
    pub power: Option<f32>,
    pub shares: Option<f32>,
    pub overall: Option<f32>,
}

/// `scores`: (threat type as the protocol spells it, score in 0..1); non-finite scores ignored.
pub fn anomaly_rollup<'a>(scores: impl IntoIterator<Item = (&'a str, f32)>) -> AnomalyRollup {
    let mut r = AnomalyRollup::default();
    let bump = |slot: &mut Option<f32>, s: f32| *slot = Some(slot.map_or(s, |m| m.max(s)));
    for (threat, s) in scores.into_iter().filter(|(_, s)| s.is_finite()) {
        match threat {
            "hashrate_drop" | "board_loss" => bump(&mut r.hashrate, s),
            "overheat" | "fan_failure" => bump(&mut r.temperature, s),
            "power_anomaly" => bump(&mut r.power, s),
            "rejection_surge" | "pool_change" => bump(&mut r.shares, s),
            _ => {}
        }
        bump(&mut r.overall, s);
    }
    r
}

pub fn uptime_pct(samples_up: u64, period_s: f64, poll_interval_s: f64) -> Result<f64, InputError> {
    let period = quantity("period_s", period_s)?;
    let poll = quantity("poll_interval_s", poll_interval_s)?;
    if poll == 0.0 || period == 0.0 {
        return Err(InputError::new(
            "poll_interval_s",
            "period and poll interval must be > 0",
        ));
    }
    let expected = (period / poll).floor().max(1.0);
    Ok((100.0 * samples_up as f64 / expected).min(100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stability_golden() {
        // 90, 100, 110 TH/s: mean 100, population sigma sqrt((100+0+100)/3) = 8.16497;
        // stability 1 - 0.0816497 = 0.918350.
        let s = hashrate_stability(&[90.0, 100.0, 110.0]).expect("s");
        assert!((s - 0.918350).abs() < 1e-6, "{s}");
        assert_eq!(hashrate_stability(&[5.0, 5.0]), Some(1.0));
        // 0 and 200: mean 100, sigma 100 -> 0; noisier still clamps at 0.
        assert_eq!(hashrate_stability(&[0.0, 200.0]), Some(0.0));
        assert_eq!(hashrate_stability(&[0.0, 0.0, 300.0]), Some(0.0));
        assert_eq!(hashrate_stability(&[]), None);
        assert_eq!(hashrate_stability(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn anomaly_rollup_by_threat_group() {
        let r = anomaly_rollup([
            ("overheat", 0.4),
            ("fan_failure", 0.8),
            ("board_loss", 0.3),
            ("unknown", 0.95),
            ("pool_change", f32::NAN),
        ]);
        assert_eq!(
            (r.temperature, r.hashrate, r.power, r.shares),
            (Some(0.8), Some(0.3), None, None)
        );
        assert_eq!(r.overall, Some(0.95), "unknown counts in overall only");
        assert_eq!(anomaly_rollup([]), AnomalyRollup::default());
    }

    #[test]
    fn efficiency_thermal_and_uptime_golden() {
        // 3,200 and 3,300 W at 95 and 105 TH/s: 6,500 / 200 = 32.5 J/TH.
        assert_eq!(
            power_efficiency_j_per_th(&[3200.0, 3300.0], &[95.0, 105.0]),
            Some(32.5)
        );
        assert_eq!(power_efficiency_j_per_th(&[3200.0], &[0.0]), None);
        // Limit 90 C, chips 75 C, ambient 25 C: (90 - 75) / (90 - 25) = 15 / 65 = 0.230769.
        let m = thermal_margin(90.0, 75.0, 25.0).expect("m");
        assert!((m - 0.230769).abs() < 1e-6, "{m}");
        assert_eq!(thermal_margin(90.0, 95.0, 25.0), Some(0.0));
        assert_eq!(thermal_margin(20.0, 15.0, 25.0), None);
        // 1 h polled every 10 s: 360 expected; 342 up -> 95 %. A gap is down, not missing.
        assert_eq!(uptime_pct(342, 3600.0, 10.0), Ok(95.0));
        assert_eq!(uptime_pct(400, 3600.0, 10.0), Ok(100.0));
        assert_eq!(
            uptime_pct(1, 3600.0, 0.0).expect_err("zero").field,
            "poll_interval_s"
        );
        assert_eq!(uptime_pct(1, -1.0, 1.0).expect_err("neg").field, "period_s");
    }
}
