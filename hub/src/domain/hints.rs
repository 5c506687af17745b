//! Fleet tuning hints (network-wide telemetry, served by our own hub): the agents'
//! anonymised tuning snapshots folded, per class of hardware (CPU model, logical cores,
//! algorithm, profile), into an exponential moving average per configuration and rig; the best
//! configuration of each class becomes the hint a new rig starts its search from.
//!
//! Pure: the store persists a [`ClassAggregate`] per class, the summary loop publishes
//! [`hints`]. Must never: let one rig's many reports outweigh other rigs (each rig counts once
//! per configuration), or keep a snapshot that is not a measurement.

use hashward_protocol::{FleetHints, TuningHint, TuningSnapshot};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Weight of a new snapshot in a rig's moving average for one configuration.
const EMA_ALPHA: f64 = 0.3;
/// Snapshots (of all rigs) after which a configuration is fully trusted.
const FULL_CONFIDENCE_SAMPLES: f64 = 5.0;

/// The table key of a class of hardware.
pub fn class_key(s: &TuningSnapshot) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        s.cpu_model, s.logical_cores, s.pow_algo, s.profile
    )
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RigFigure {
    pub ema_hashrate_hs: f64,
    pub snapshots: u64,
    pub last_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigAggregate {
    pub threads: u32,
    pub batch_size: u32,
    /// Per rig id.
    pub rigs: BTreeMap<String, RigFigure>,
}

impl ConfigAggregate {
    fn mean(&self) -> f64 {
        if self.rigs.is_empty() {
            return 0.0;
        }
        self.rigs.values().map(|r| r.ema_hashrate_hs).sum::<f64>() / self.rigs.len() as f64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAggregate {
    pub cpu_model: String,
    pub logical_cores: u32,
    pub pow_algo: String,
    pub profile: String,
    pub configs: Vec<ConfigAggregate>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot hashrate {0} is not a measurement")]
    Hashrate(f64),
    #[error("snapshot has threads {0} / batch {1}; both must be at least 1")]
    Shape(u32, u32),
    #[error("snapshot has an empty cpu model, algorithm or profile")]
    Empty,
}

/// Folds one rig's snapshot into its class (None: the first of the class).
pub fn fold(
    class: Option<ClassAggregate>,
    rig: &str,
    s: &TuningSnapshot,
    now_ms: u64,
) -> Result<ClassAggregate, SnapshotError> {
    if !s.avg_hashrate_hs.is_finite() || s.avg_hashrate_hs < 0.0 {
        return Err(SnapshotError::Hashrate(s.avg_hashrate_hs));
    }
    if s.threads == 0 || s.batch_size == 0 {
        return Err(SnapshotError::Shape(s.threads, s.batch_size));
    }
    if s.cpu_model.is_empty() || s.pow_algo.is_empty() || s.profile.is_empty() {
        return Err(SnapshotError::Empty);
    }
    let mut class = class.unwrap_or_else(|| ClassAggregate {
        cpu_model: s.cpu_model.clone(),
        logical_cores: s.logical_cores,
        pow_algo: s.pow_algo.clone(),
        profile: s.profile.clone(),
        configs: Vec::new(),
    });
    let idx = match class
        .configs
        .iter()
        .position(|c| c.threads == s.threads && c.batch_size == s.batch_size)
    {
        Some(i) => i,
        None => {
            class.configs.push(ConfigAggregate {
                threads: s.threads,
                batch_size: s.batch_size,
                rigs: BTreeMap::new(),
            });
            class.configs.len() - 1
        }
    };
    let fig = class.configs[idx].rigs.entry(rig.to_string()).or_default();
    fig.ema_hashrate_hs = if fig.snapshots == 0 {
        s.avg_hashrate_hs
    } else {
        EMA_ALPHA * s.avg_hashrate_hs + (1.0 - EMA_ALPHA) * fig.ema_hashrate_hs
    };
    fig.snapshots += 1;
    fig.last_ms = now_ms;
    Ok(class)
}

/// The hint for a class: its best configuration by the mean of the rigs' averages.
pub fn best(class: &ClassAggregate) -> Option<TuningHint> {
    let c = class
        .configs
        .iter()
        .filter(|c| !c.rigs.is_empty())
        .max_by(|a, b| a.mean().total_cmp(&b.mean()))?;
    let rigs = c.rigs.len() as u32;
    let snapshots: u64 = c.rigs.values().map(|r| r.snapshots).sum();
    // More rigs agreeing and more snapshots both make the hint surer; one rig alone is a coin flip.
    let confidence =
        (f64::from(rigs) / (f64::from(rigs) + 1.0)) * (snapshots as f64 / FULL_CONFIDENCE_SAMPLES).min(1.0);
    Some(TuningHint {
        cpu_model: class.cpu_model.clone(),
        logical_cores: class.logical_cores,
        pow_algo: class.pow_algo.clone(),
        profile: class.profile.clone(),
        threads: c.threads,
        batch_size: c.batch_size,
        expected_hashrate_hs: c.mean(),
        confidence: confidence.max(f64::from(f32::MIN_POSITIVE)) as f32,
        rigs,
    })
}

/// Every class's hint.
pub fn hints(classes: &[ClassAggregate], now_ms: u64) -> FleetHints {
    FleetHints {
        generated_ms: now_ms,
        hints: classes.iter().filter_map(best).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(threads: u32, batch: u32, rate: f64) -> TuningSnapshot {
        TuningSnapshot {
            cpu_model: "amd ryzen 9 5900x".into(),
            logical_cores: 24,
            physical_cores: 12,
            pow_algo: "sha256d".into(),
            profile: "balanced".into(),
            threads,
            batch_size: batch,
            numa_layout: "unpinned".into(),
            avg_hashrate_hs: rate,
            sample_count: 1,
            client_version: "0.1.0".into(),
        }
    }

    #[test]
    fn best_configuration_by_rig_means_with_growing_confidence() {
        let mut c = fold(None, "r1", &snap(12, 8, 100.0), 1).expect("fold");
        c = fold(Some(c), "r2", &snap(24, 16, 150.0), 2).expect("fold");
        let h = best(&c).expect("hint");
        assert_eq!((h.threads, h.batch_size, h.rigs), (24, 16, 1));
        let one_rig = h.confidence;
        assert!(one_rig > 0.0 && one_rig <= 0.5, "{one_rig}");
        for (i, rig) in ["r3", "r4", "r5"].iter().enumerate() {
            c = fold(Some(c), rig, &snap(24, 16, 140.0), 3 + i as u64).expect("fold");
        }
        let h = best(&c).expect("hint");
        assert_eq!(h.rigs, 4);
        assert!(h.confidence > one_rig);
        assert!((h.expected_hashrate_hs - 142.5).abs() < 1e-9);
    }

    #[test]
    fn one_chatty_rig_counts_once() {
        let mut c = fold(None, "a", &snap(12, 8, 120.0), 1).expect("fold");
        c = fold(Some(c), "b", &snap(12, 8, 120.0), 1).expect("fold");
        for i in 0..50 {
            c = fold(Some(c), "noisy", &snap(24, 8, 130.0), i).expect("fold");
        }
        let h = best(&c).expect("hint");
        assert_eq!((h.threads, h.rigs), (24, 1), "faster wins, but it is one rig");
        assert_eq!(c.configs[1].rigs["noisy"].snapshots, 50);
    }

    #[test]
    fn bad_snapshots_are_refused() {
        assert!(matches!(
            fold(None, "r", &snap(1, 1, f64::NAN), 0),
            Err(SnapshotError::Hashrate(_))
        ));
        assert!(matches!(
            fold(None, "r", &snap(0, 1, 1.0), 0),
            Err(SnapshotError::Shape(0, 1))
        ));
        let mut s = snap(1, 1, 1.0);
        s.profile.clear();
        assert_eq!(fold(None, "r", &s, 0), Err(SnapshotError::Empty));
    }
}
