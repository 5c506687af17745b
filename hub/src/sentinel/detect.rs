//! What the ensemble's answer means (seed 000 §6): an anomaly when at least two of the three
//! detectors vote, the threat the MLP names when it voted (else `unknown`: nothing the training
//! scenarios explain), the severity from the ensemble score with the seed's thresholds, and the
//! seed's recommended action for that severity. Plus [`pool_switch_hold`], the flag an allocation
//! reads before switching pools.
//!
//! Pure. Must never let a finding act by itself: every action has `auto_execute: false` (the
//! hub alerts; a critical finding holds pool switches only where the allocation asks).

use super::model::{ModelOutput, DETECTORS};
use crate::alerts::{Alert, Level};
use serde::Serialize;
use std::collections::BTreeMap;

/// Who raises the Sentinel's alerts (`AlertEvent::source`).
pub const SOURCE: &str = "sentinel";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreatType {
    HashrateHijacking,
    ShareManipulation,
    SuspiciousPayout,
    /// Never produced: no pool feed gives the hub connection counts. Kept so the seed's names
    /// are all known.
    DdosAttack,
    Unknown,
}

impl ThreatType {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreatType::HashrateHijacking => "hashrate_hijacking",
            ThreatType::ShareManipulation => "share_manipulation",
            ThreatType::SuspiciousPayout => "suspicious_payout",
            ThreatType::DdosAttack => "ddos_attack",
            ThreatType::Unknown => "unknown",
        }
    }

    /// The threat of an MLP class (`model::CLASSES`); the site class is `unknown` (a site
    /// problem is none of the seed's threats).
    fn of_class(index: usize) -> ThreatType {
        match index {
            1 => ThreatType::HashrateHijacking,
            2 => ThreatType::ShareManipulation,
            3 => ThreatType::SuspiciousPayout,
            _ => ThreatType::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The seed's thresholds on the ensemble score.
    pub fn of_score(score: f32) -> Severity {
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

    /// The alert level: critical is critical, high and medium warn, low is only logged.
    pub fn level(self) -> Option<Level> {
        match self {
            Severity::Critical => Some(Level::Critical),
            Severity::High | Severity::Medium => Some(Level::Warning),
            Severity::Low => None,
        }
    }
}

/// The seed's `recommended_action`, with what the hub does instead of acting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecommendedAction {
    /// The seed's name: `circuit_breaker`, `rate_limit`, `alert`, `log`.
    pub action: &'static str,
    pub description: &'static str,
    /// Always false: the hub never acts on a finding by itself.
    pub auto_execute: bool,
    /// A pool switch to or from the pool should wait while this finding's alert is active.
    pub hold_pool_switch: bool,
}

impl RecommendedAction {
    pub fn of(severity: Severity) -> RecommendedAction {
        let (action, description) = match severity {
            Severity::Critical => (
                "circuit_breaker",
                "critical: alerted; pool switches involving this pool are held while the alert is active; an operator decides",
            ),
            Severity::High => ("rate_limit", "high: alerted; an operator should limit or move the affected workers"),
            Severity::Medium => ("alert", "alerted for investigation"),
            Severity::Low => ("log", "logged for later analysis; no alert"),
        };
        RecommendedAction {
            action,
            description,
            auto_execute: false,
            hold_pool_switch: severity == Severity::Critical,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DetectorVote {
    pub is_anomaly: bool,
    pub score: f32,
}

/// The seed's detection result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub is_anomaly: bool,
    pub ensemble_score: f32,
    pub individual_predictions: BTreeMap<&'static str, DetectorVote>,
    /// None when not an anomaly (the seed's `Optional[str]`).
    pub threat_type: Option<ThreatType>,
    pub severity: Severity,
    pub recommended_action: RecommendedAction,
}

impl Detection {
    /// An anomaly of medium severity or above: what raises an alert.
    pub fn alerts(&self) -> bool {
        self.is_anomaly && self.severity >= Severity::Medium
    }
}

pub fn decide(out: &ModelOutput) -> Detection {
    let individual_predictions: BTreeMap<&'static str, DetectorVote> = DETECTORS
        .iter()
        .zip(out.detectors)
        .map(|(name, score)| {
            (
                *name,
                DetectorVote {
                    is_anomaly: score > 0.5,
                    score,
                },
            )
        })
        .collect();
    let votes = individual_predictions.values().filter(|v| v.is_anomaly).count();
    let is_anomaly = votes > DETECTORS.len() / 2;
    let mlp_voted = out.detectors[0] > 0.5;
    let threat_type = is_anomaly.then(|| {
        if !mlp_voted {
            return ThreatType::Unknown;
        }
        let best = (1..out.classes.len())
            .max_by(|a, b| out.classes[*a].total_cmp(&out.classes[*b]))
            .unwrap_or(0);
        ThreatType::of_class(best)
    });
    let severity = Severity::of_score(out.score);
    Detection {
        is_anomaly,
        ensemble_score: out.score,
        individual_predictions,
        threat_type,
        severity,
        recommended_action: RecommendedAction::of(severity),
    }
}

/// The active critical Sentinel alert that holds pool switches involving `pool`, if any: what an
/// allocation in `auto` mode checks before it moves hashrate to or from a pool.
pub fn pool_switch_hold<'a>(alerts: &'a [Alert], pool: &str) -> Option<&'a Alert> {
    alerts.iter().find(|a| {
        a.source == SOURCE
            && a.level == Level::Critical
            && a.state.is_active()
            && a.subject.pool.as_deref() == Some(pool)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(score: f32, detectors: [f32; 3], classes: [f32; 5]) -> ModelOutput {
        ModelOutput {
            score,
            detectors,
            classes,
        }
    }

    #[test]
    fn majority_vote_threat_and_severity() {
        let d = decide(&out(0.95, [0.99, 0.9, 0.96], [0.0, 0.9, 0.05, 0.03, 0.02]));
        assert!(d.is_anomaly && d.alerts());
        assert_eq!(d.threat_type, Some(ThreatType::HashrateHijacking));
        assert_eq!(d.severity, Severity::Critical);
        assert_eq!(d.recommended_action.action, "circuit_breaker");
        assert!(d.recommended_action.hold_pool_switch && !d.recommended_action.auto_execute);

        let d = decide(&out(0.6, [0.9, 0.4, 0.5], [0.1, 0.0, 0.9, 0.0, 0.0]));
        assert!(!d.is_anomaly, "one vote of three");
        assert_eq!((d.threat_type, d.alerts()), (None, false));

        let d = decide(&out(0.55, [0.1, 0.8, 0.75], [0.9, 0.0, 0.0, 0.1, 0.0]));
        assert_eq!(d.threat_type, Some(ThreatType::Unknown), "the MLP did not vote");
        assert_eq!(d.severity, Severity::Medium);

        let d = decide(&out(0.45, [0.1, 0.6, 0.65], [0.9, 0.0, 0.0, 0.1, 0.0]));
        assert!(d.is_anomaly && !d.alerts(), "low: logged only");
        assert_eq!(d.recommended_action.action, "log");

        let d = decide(&out(0.8, [0.9, 0.9, 0.6], [0.0, 0.1, 0.0, 0.0, 0.9]));
        assert_eq!(d.threat_type, Some(ThreatType::Unknown), "site class");
        let v = serde_json::to_value(&d).expect("json");
        assert_eq!(v["threat_type"], "unknown");
        assert_eq!(v["severity"], "high");
        assert_eq!(v["individual_predictions"]["mahalanobis"]["is_anomaly"], true);
    }
}
