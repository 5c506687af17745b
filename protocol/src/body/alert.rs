//! Anomaly alert (docs/ARCHITECTURE.md#thresholds-alerts): score, threat type, severity and the
//! recommended action; and the score of every assessed sample, alert or not, for dashboards.
//! and the score of every assessed sample, alert or not, for dashboards.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// What the alert is about: `rig` or an ASIC miner id.
    pub subject: String,
    /// Anomaly score in [0, 1].
    pub score: f32,
    pub threat_type: ThreatType,
    pub severity: Severity,
    pub action: RecommendedAction,
    /// Version of the model that raised it, e.g. `sentinel_asic_v1.0.0_20261122_040000`.
    pub model_version: String,
    pub message: String,
}

/// A sentinel's assessment of one telemetry sample (the rig's, or one ASIC's), sent for every
/// sample so the score is part of the telemetry record; [`Alert`]s are the subset worth acting on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// `rig` or an ASIC miner id, as in [`Alert::subject`].
    pub subject: String,
    /// Anomaly score in [0, 1].
    pub score: f32,
    /// The threat named by the feature that drives the score.
    pub threat_type: ThreatType,
    pub severity: Severity,
    pub model_version: String,
    /// `ts_ms` of the telemetry sample that was scored.
    pub sample_ts_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreatType {
    Overheat,
    FanFailure,
    BoardLoss,
    HashrateDrop,
    RejectionSurge,
    PoolChange,
    PowerAnomaly,
    Unknown,
}

/// Score > 0.9 critical, > 0.7 high, > 0.5 medium, else low
/// (docs/ARCHITECTURE.md#thresholds-alerts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn from_score(score: f32) -> Severity {
        if score > 0.9 {
            Severity::Critical
        } else if score > 0.7 {
            Severity::High
        } else if score > 0.5 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendedAction {
    /// `circuit_breaker`, `rate_limit`, `alert`, `log`.
    pub action: String,
    pub description: String,
    pub auto_execute: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_thresholds_follow_seed_000() {
        assert_eq!(Severity::from_score(0.95), Severity::Critical);
        assert_eq!(Severity::from_score(0.9), Severity::High);
        assert_eq!(Severity::from_score(0.71), Severity::High);
        assert_eq!(Severity::from_score(0.6), Severity::Medium);
        assert_eq!(Severity::from_score(0.5), Severity::Low);
    }
}
