//! A rig's derived operational metrics over a period (seed 002 §4.4 `operational_efficiency`
//! and `anomaly_scores`) from its stored telemetry and scores, with `hashward_econ::derived`'s
//! formulas. Pure: the records come in as values.
//!
//! Must never count a gap in telemetry as uptime: the expected sample count comes from the
//! period and the rig's own (median) sample interval.

use hashward_econ::derived::{anomaly_rollup, hashrate_stability, uptime_pct, AnomalyRollup};
use serde::Serialize;

/// The periods the seed names.
pub const PERIODS: [(&str, u64); 3] = [("1h", 3_600_000), ("24h", 86_400_000), ("7d", 604_800_000)];

pub fn period_ms(name: &str) -> Option<u64> {
    PERIODS.iter().find(|(n, _)| *n == name).map(|(_, ms)| *ms)
}

/// One telemetry sample as the metrics see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub ts_ms: u64,
    /// The miner's 60 s hashrate; None when no miner runs.
    pub hashrate_hs: Option<f64>,
    /// Mining: a miner, not paused, hashing.
    pub mining: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RigDerived {
    pub period: String,
    pub samples: usize,
    pub sample_interval_ms: Option<u64>,
    pub mean_hashrate_hs: Option<f64>,
    pub hashrate_stability: Option<f64>,
    pub uptime_percentage: Option<f64>,
    pub anomaly_scores: AnomalyRollup,
}

pub fn rig_derived(period: &str, period_ms: u64, samples: &[Sample], scores: &[(String, f32)]) -> RigDerived {
    let rates: Vec<f64> = samples.iter().filter_map(|s| s.hashrate_hs).collect();
    let mut gaps: Vec<u64> = samples
        .windows(2)
        .map(|w| w[1].ts_ms.saturating_sub(w[0].ts_ms))
        .collect();
    gaps.sort_unstable();
    let interval = gaps.get(gaps.len() / 2).copied().filter(|g| *g > 0);
    let up = samples.iter().filter(|s| s.mining).count() as u64;
    RigDerived {
        period: period.to_string(),
        samples: samples.len(),
        sample_interval_ms: interval,
        mean_hashrate_hs: (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64),
        hashrate_stability: hashrate_stability(&rates),
        uptime_percentage: interval
            .and_then(|i| uptime_pct(up, period_ms as f64 / 1000.0, i as f64 / 1000.0).ok()),
        anomaly_scores: anomaly_rollup(scores.iter().map(|(t, s)| (t.as_str(), *s))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ts_ms: u64, hs: Option<f64>) -> Sample {
        Sample {
            ts_ms,
            hashrate_hs: hs,
            mining: hs.is_some_and(|h| h > 0.0),
        }
    }

    #[test]
    fn an_hour_with_a_gap_golden() {
        // Samples every 10 s for the first 30 min (180 of them), then none: 360 expected, 180
        // mining -> 50 %. Hashrate alternates 90 and 110 MH/s: mean 100, sigma 10 -> 0.9.
        let samples: Vec<Sample> = (0..180)
            .map(|i| s(i * 10_000, Some(if i % 2 == 0 { 90e6 } else { 110e6 })))
            .collect();
        let scores = vec![
            ("overheat".to_string(), 0.7f32),
            ("hashrate_drop".to_string(), 0.2),
        ];
        let d = rig_derived("1h", 3_600_000, &samples, &scores);
        assert_eq!((d.samples, d.sample_interval_ms), (180, Some(10_000)));
        assert_eq!(d.uptime_percentage, Some(50.0));
        assert!((d.hashrate_stability.expect("s") - 0.9).abs() < 1e-12);
        assert_eq!(d.mean_hashrate_hs, Some(100e6));
        assert_eq!(
            (d.anomaly_scores.temperature, d.anomaly_scores.overall),
            (Some(0.7), Some(0.7))
        );
    }

    #[test]
    fn nothing_known_is_null_not_zero() {
        let d = rig_derived("24h", 86_400_000, &[s(5, None)], &[]);
        assert_eq!(
            (d.uptime_percentage, d.hashrate_stability, d.mean_hashrate_hs),
            (None, None, None)
        );
        assert_eq!(period_ms("7d"), Some(604_800_000));
        assert_eq!(period_ms("2w"), None);
    }
}
